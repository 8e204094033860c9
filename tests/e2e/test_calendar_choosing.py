"""Choosing a time in the instrument calendar by a tap on a phone, and with the keyboard alone.

A tap chooses an hour (or the instrument's shortest booking) from where it lands, cut short by
the next busy time, and fills the booking form.
With the keyboard the calendar's grid takes the focus: the arrow keys move a highlighted time,
each move announced in a live region with whether it is free; Enter chooses, Escape clears.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from labbook.booking.models import Booking, BookingState
from labbook.extensions import db
from tests.e2e.conftest import Visit
from tests.e2e.test_booking_journey import next_monday
from tests.factories import create_booking, lab_time

INSTRUMENT = "NEM-012"  # FTIR: no approval, no training needed
RESEARCHER = "zhou@huaichuan.example.cn"
OTHER = "liu@jinggong.example.cn"
ANNOUNCED = {"zh": {"chosen": "已选择", "free": "空闲，可预约", "booked": "已被预约",
                    "cleared": "未选择时间。"},
             "en": {"chosen": "Chosen:", "free": "free to book", "booked": "already booked",
                    "cleared": "No time is chosen."}}


@pytest.fixture
def busy_afternoon(site, today):
    """Someone else's booking on Tuesday and Wednesday of next week, 14:00–15:00."""
    instrument = site.instrument(INSTRUMENT)
    days = [next_monday(today) + dt.timedelta(days=n) for n in (1, 2)]
    for day in days:
        if db.session.scalar(select(Booking.id).where(
                Booking.instrument_id == instrument.id, Booking.start_at == lab_time(day, 14))):
            continue  # made for an earlier test
        create_booking(instrument=instrument, user=site.user(OTHER), state=BookingState.APPROVED,
                       start_at=lab_time(day, 14), end_at=lab_time(day, 15), purpose="别人的实验")
    return instrument, days


def open_calendar(visit: Visit, instrument_id: int, day: dt.date) -> Page:
    """The instrument's calendar on ``day``, its bookings loaded."""
    visit.goto(f"/instruments/{instrument_id}/calendar?date={day.isoformat()}")
    visit.page.wait_for_selector(f".fc-timegrid-col[data-date='{day.isoformat()}']")
    visit.page.wait_for_selector("#booking-calendar[aria-busy=false]")
    return visit.page


def form_times(page) -> tuple[str, str, str]:
    return page.input_value("#date"), page.input_value("#start_time"), \
        page.input_value("#end_time")


def lane_point(page, day: dt.date, time: str) -> tuple[float, float]:
    """The middle of ``day``'s column at ``time`` ("HH:MM"), on the screen."""
    lane = page.locator(f"td.fc-timegrid-slot-lane[data-time='{time}:00']")
    lane.scroll_into_view_if_needed()
    column = page.locator(f"td.fc-timegrid-col[data-date='{day.isoformat()}']").bounding_box()
    box = lane.bounding_box()
    assert column and box
    return column["x"] + column["width"] / 2, box["y"] + box["height"] / 2


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_tap_chooses_a_time_on_a_phone(visit_in, busy_afternoon, language):
    instrument, (day, _) = busy_afternoon
    visit = visit_in("phone", RESEARCHER, language)
    page, said = open_calendar(visit, instrument.id, day), ANNOUNCED[language]
    assert page.locator("#calendar-keys").is_visible()  # the gesture is said on the page

    page.touchscreen.tap(*lane_point(page, day, "10:00"))
    page.locator("#calendar-cursor", has_text=said["chosen"]).wait_for()
    assert form_times(page) == (day.isoformat(), "10:00", "11:00")
    page.locator("#check-result .alert-success").wait_for()

    # An hour from 13:30 would run into the booking at 14:00: the choice ends there.
    page.touchscreen.tap(*lane_point(page, day, "13:30"))
    page.locator("#calendar-cursor", has_text="13:30").wait_for()
    assert form_times(page) == (day.isoformat(), "13:30", "14:00")

    visit.shot(f"tapped-{language}", full_page=False)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_keyboard_chooses_a_time_and_hears_it(visit_in, busy_afternoon, language):
    instrument, (_, day) = busy_afternoon
    visit = visit_in("desktop", RESEARCHER, language)
    page, said = open_calendar(visit, instrument.id, day), ANNOUNCED[language]
    page.wait_for_selector(".fc-event.lb-busy")
    # Bookings are read with their day, not only their times.
    assert page.locator(".fc-event.lb-busy .visually-hidden").first.inner_text().strip()

    for _ in range(60):  # Tab from the top reaches the grid
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('fc-view')"):
            break
    else:
        raise AssertionError("the calendar's grid is not reachable with Tab")
    grid = page.locator(".fc-view")
    assert grid.get_attribute("role") == "application" and grid.get_attribute("aria-label")

    # The highlight starts on the week's first open slot (next week: Monday's first).
    config = json.loads(page.locator("#booking-calendar").get_attribute("data-config"))
    first_hour, first_minute = map(int, config["slotMinTime"].split(":")[:2])
    slots_to_ten = (10 * 60 - first_hour * 60 - first_minute) // config["slotMinutes"]
    for _ in range(day.weekday()):
        page.keyboard.press("ArrowRight")
    for _ in range(slots_to_ten):
        page.keyboard.press("ArrowDown")
    assert said["free"] in page.inner_text("#calendar-cursor")
    assert page.locator(f".fc-timegrid-col[data-date='{day.isoformat()}'] .lb-cursor"
                        ).count() == 1
    page.keyboard.press("Enter")
    page.locator("#calendar-cursor", has_text=said["chosen"]).wait_for()
    assert form_times(page) == (day.isoformat(), "10:00", "11:00")
    page.locator("#check-result .alert-success").wait_for()
    visit.shot(f"keyboard-chosen-{language}", full_page=False)

    # Down to 14:00, someone else's booking: announced as booked.
    for _ in range(4 * 60 // config["slotMinutes"]):
        page.keyboard.press("ArrowDown")
    assert said["booked"] in page.inner_text("#calendar-cursor")
    page.keyboard.press("Enter")  # does not choose busy time
    assert form_times(page) == (day.isoformat(), "10:00", "11:00")

    page.keyboard.press("Escape")
    assert page.inner_text("#calendar-cursor").strip() == said["cleared"]
    assert page.locator(".fc-highlight, .lb-cursor").count() == 0
