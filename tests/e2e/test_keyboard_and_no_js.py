"""Booking without a mouse, and booking without JavaScript.

The booking form below the calendar is the way in for keyboard users and for browsers without
JavaScript: it must be reachable and usable with Tab, typing and Enter alone, and the refusal it
answers with (suggested free slots included) must work without scripts.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from labbook.booking.models import Booking, BookingState
from labbook.extensions import db
from tests.e2e.pages import submit
from tests.e2e.test_booking_journey import next_monday
from tests.factories import create_booking, lab_time


def focused_id(page) -> str:
    return page.evaluate("document.activeElement ? document.activeElement.id : ''")


def tab_to(page, element_id: str, *, limit: int = 40) -> int:
    """Press Tab until ``element_id`` has the focus; how many presses it took."""
    for presses in range(limit + 1):
        if focused_id(page) == element_id:
            return presses
        if presses < limit:
            page.keyboard.press("Tab")
    trail = page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
    raise AssertionError(f"#{element_id} is not reachable with {limit} presses of Tab "
                         f"(ended on {trail})")


def type_time(page, hhmm: str) -> None:
    """Type a time into the focused time field, in a 12- or 24-hour browser alike."""
    hours = int(hhmm[:2])
    page.keyboard.type(hhmm.replace(":", "") + ("A" if hours < 12 else "P"))


def test_booking_with_the_keyboard_only(open_visit, site, today):
    instrument = site.instrument("NEM-012")  # FTIR: no approval, no training needed
    day = next_monday(today) + dt.timedelta(days=3)  # Thursday of next week
    visit = open_visit("desktop", "chen@xincai.example.cn")
    page = visit.page
    visit.goto(f"/instruments/{instrument.id}/calendar")
    page.wait_for_selector(".fc-timegrid-col[data-date]")

    # From the top of the page: the skip link jumps over the calendar to the form.
    for _ in range(25):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == "#book-title":
            break
    else:
        raise AssertionError("the link to the booking form is not reachable with Tab")
    page.keyboard.press("Enter")
    assert tab_to(page, "date", limit=3) <= 2

    page.keyboard.type(f"{day:%m%d%Y}")
    assert page.input_value("#date") == day.isoformat(), \
        "typing the date in month-day-year order did not fill it in"
    tab_to(page, "start_time", limit=3)
    type_time(page, "10:00")
    tab_to(page, "end_time", limit=3)
    type_time(page, "11:30")
    assert (page.input_value("#start_time"), page.input_value("#end_time")) == \
        ("10:00", "11:30")
    page.locator("#check-result .alert-success").wait_for()  # checked while typing
    tab_to(page, "purpose", limit=6)  # through the end date's fields
    page.keyboard.type("红外光谱测试，PVDF 粘结剂 3 个样品")
    tab_to(page, "project_ref", limit=2)
    page.keyboard.type("KB-042")
    visit.shot("keyboard-form")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # sends the form from a text field
    page.wait_for_url(re.compile(r"/bookings/\d+$"))
    assert page.locator(".alert-success").count() == 1
    visit.shot("keyboard-booked")

    db.session.rollback()
    booking = db.session.get(Booking, int(page.url.rsplit("/", 1)[1]))
    assert booking.state == BookingState.APPROVED
    assert booking.start_at == lab_time(day, 10) and booking.end_at == lab_time(day, 11, 30)
    assert booking.project_ref == "KB-042"


def test_booking_without_javascript_with_a_suggested_slot(open_visit, site, today):
    instrument = site.instrument("FOOD-043")  # UV-Vis: no approval, no training needed
    day = next_monday(today) + dt.timedelta(days=4)  # Friday of next week
    create_booking(instrument=instrument, user=site.user("liu@jinggong.example.cn"),
                   start_at=lab_time(day, 9), end_at=lab_time(day, 10), purpose="别人的实验")
    visit = open_visit("phone", "zhou@huaichuan.example.cn", javascript=False)
    page = visit.page
    visit.goto(f"/instruments/{instrument.id}/calendar")
    assert page.locator("#booking-calendar .fc-view").count() == 0  # no calendar widget
    visit.shot("no-js-calendar")

    page.fill("#date", day.isoformat())
    page.fill("#start_time", "09:00")
    page.fill("#end_time", "10:00")
    page.fill("#purpose", "果汁中维生素 C 测定")
    submit(page, "#booking-form [type=submit]")
    summary = page.locator("#error-summary")
    assert summary.locator("[data-code=overlap]").count() == 1
    assert "别人的实验" not in page.inner_text("main")  # others' purposes stay private
    visit.shot("no-js-refused")

    # A suggested slot of the same length opens the form filled in; send it.
    suggestion = page.locator(".js-suggestion[data-same-instrument=true]").first
    start = suggestion.get_attribute("data-start-time")
    suggested_day = suggestion.get_attribute("data-date")
    submit(page, ".js-suggestion[data-same-instrument=true] >> nth=0")
    assert page.input_value("#start_time") == start
    assert page.input_value("#purpose") == "果汁中维生素 C 测定"
    submit(page, "#booking-form [type=submit]")
    page.wait_for_url(re.compile(r"/bookings/\d+$"))
    visit.shot("no-js-booked")

    db.session.rollback()
    booking = db.session.get(Booking, int(page.url.rsplit("/", 1)[1]))
    assert booking.start_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime(
        "%Y-%m-%d %H:%M") == f"{suggested_day} {start}"
    assert db.session.scalar(select(Booking.id).where(
        Booking.instrument_id == instrument.id, Booking.start_at == lab_time(day, 9),
        Booking.user_id == site.user("zhou@huaichuan.example.cn").id)) is None
