"""The lab's day page (/manage/labs/<code>/today) on a phone: each booking is a card whose
time, instrument and person all show in full, in Chinese and in English; on a laptop it stays
a table."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.booking.models import Booking
from labbook.extensions import db
from tests.factories import create_booking, lab_time

MANAGER = "nem.manager@jzit.example.cn"
RESEARCHER = "chen@xincai.example.cn"
DAY = dt.date(2025, 9, 17)  # a day no other browser test books
PURPOSE = "日视图手机检查"


@pytest.fixture
def booking_of_the_day(site) -> Booking:
    booking = db.session.scalar(select(Booking).where(Booking.purpose == PURPOSE))
    if booking is None:
        booking = create_booking(instrument=site.instrument("NEM-006"),
                                 user=site.user(RESEARCHER), purpose=PURPOSE,
                                 start_at=lab_time(DAY, 14), end_at=lab_time(DAY, 16, 30))
    return booking


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_day_page_shows_each_booking_whole(visit_in, viewport, language,
                                               booking_of_the_day):
    visit = visit_in(viewport, MANAGER, language)
    page = visit.goto(f"/manage/labs/NEM/today?date={DAY.isoformat()}")
    row = page.locator(f"#booking-{booking_of_the_day.id}")
    width = page.viewport_size["width"]
    instrument = booking_of_the_day.instrument
    shown = {
        "time": row.locator("td").nth(0),
        "instrument": row.locator("td", has_text=instrument.code),
        "person": row.locator("td", has_text=booking_of_the_day.user.name),
    }
    for name, cell in shown.items():
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, \
            f"the {name} of a booking is cut off: {box}"
    if visit.is_phone:
        # A card: the instrument and the person under the time, each under its column's name.
        time_box, instrument_box = shown["time"].bounding_box(), shown["instrument"].bounding_box()
        assert time_box and instrument_box and instrument_box["y"] >= time_box["y"] + \
            time_box["height"] - 1
        label = "Instrument" if language == "en" else "仪器"
        assert shown["instrument"].get_attribute("data-label") == label
        assert page.locator("thead").first.is_hidden()
    else:
        assert page.locator("thead").first.is_visible()
    visit.shot(f"today-{language}")
