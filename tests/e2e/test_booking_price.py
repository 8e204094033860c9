"""Money before commitment, and no trap when cancelling (issue 17, items 1 and 2).

A researcher drags over a time on the instrument's calendar: the form and the selection itself
show the price (tier, hourly rate, amount), and the selection keeps it when the calendar
redraws; the time lies inside the cancellation window, so the form says what cancelling will
cost before anything is booked. The confirmation and the booking page repeat both; the cancel
button's question names the fee, and cancelling charges exactly that and says so. In Chinese
and English, on a desktop and on a phone-sized screen.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from labbook.billing import estimates
from labbook.billing.models import Charge
from labbook.booking.models import Booking
from labbook.core.money import format_money
from labbook.extensions import db
from tests.e2e.pages import drag_in_calendar, submit
from tests.e2e.test_booking_journey import next_monday, show_day

#: A researcher per language: the signed-in person's own language is what pages speak.
RESEARCHERS = {"zh-CN": "liu@jinggong.example.cn", "en": "owner@hpu.example.cn"}
INSTRUMENT = "NEM-018"  # no approval, no training, 15-minute grid; other tests book other times
#: Long enough that every time of next week is inside it (the catalogue allows up to 720 h).
WINDOW_HOURS = 720
#: A slot per viewport and language (weekday of next week, lab time), so no two runs collide.
SLOTS = {("desktop", "zh-CN"): (1, "09:00", "10:30"), ("desktop", "en"): (1, "11:00", "12:30"),
         ("phone", "zh-CN"): (2, "09:00", "10:30"), ("phone", "en"): (2, "11:00", "12:30")}
WORDS = {"zh-CN": {"estimate": "预计费用", "fee": "取消将收费", "confirm": "确定取消此预约？",
                   "charged": "按逾时取消收费 {fee}。"},
         "en": {"estimate": "Estimated price", "fee": "Cancelling will cost",
                "confirm": "Cancel this booking?",
                "charged": "so the late-cancellation fee of {fee} is charged."}}


@pytest.fixture
def instrument(site):
    instrument = site.instrument(INSTRUMENT)
    instrument.cancellation_window_hours = WINDOW_HOURS
    db.session.commit()
    return instrument


@pytest.fixture(params=["zh-CN", "en"])
def locale(request, site):
    """The language, and the researcher who reads it (their profile's language)."""
    user = site.user(RESEARCHERS[request.param])
    before, user.locale = user.locale, request.param.replace("-", "_")
    db.session.commit()
    yield request.param
    user = site.user(RESEARCHERS[request.param])
    user.locale = before
    db.session.commit()


def test_the_price_and_the_fee_are_shown_before_booking_and_before_cancelling(
        open_visit, viewport, locale, site, today, instrument):
    words = WORDS[locale]
    weekday, start, end = SLOTS[(viewport, locale)]
    day = next_monday(today) + dt.timedelta(days=weekday)
    user = site.user(RESEARCHERS[locale])
    starts_at = dt.datetime.fromisoformat(f"{day}T{start}:00+08:00")
    ends_at = dt.datetime.fromisoformat(f"{day}T{end}:00+08:00")
    expected = estimates.slot_price(db.session, user, user.organization, instrument, starts_at,
                                    ends_at, now=dt.datetime.now(dt.UTC))
    amount, fee = format_money(expected.estimate.amount), format_money(
        expected.cancellation.late_fee)

    visit = open_visit(viewport, RESEARCHERS[locale], locale=locale)
    page = visit.page
    visit.goto(f"/instruments/{instrument.id}/calendar")
    page.wait_for_selector("#booking-calendar[aria-busy=false] .fc-timegrid-col[data-date]")

    # Drag over the time: the form, and the selection in the calendar, show the price.
    show_day(page, day, visit.is_phone)
    drag_in_calendar(page, day.isoformat(), start, end, instrument.slot_minutes)
    estimate = page.locator("#check-result [data-estimate]")
    estimate.wait_for()
    assert estimate.inner_text().startswith(f"{words['estimate']} {amount}")
    assert expected.estimate.hourly_rate is not None
    assert format_money(expected.estimate.hourly_rate) in estimate.inner_text()
    assert page.locator(".fc-event-mirror .lb-selection-price").inner_text() == amount
    # The calendar redraws the selection (to another week or day and back): its price stays.
    for button in (".fc-next-button", ".fc-prev-button"):
        page.locator(button).click()
        page.wait_for_selector("#booking-calendar[aria-busy=false]")
    assert page.locator(".fc-event-mirror .lb-selection-price").inner_text() == amount
    # Inside the cancellation window: said before anything is booked.
    warning = page.locator("#check-result [data-cancellation-fee].alert-warning")
    assert warning.inner_text().startswith(f"{words['fee']} {fee}")
    visit.shot("price-in-the-form")

    page.fill("#purpose", "ICP-OES 元素分析 / elemental analysis")
    page.locator("#booking-form [type=submit]").click()
    page.wait_for_url(re.compile(r"/bookings/\d+$"))
    booking_id = int(page.url.rsplit("/", 1)[1])
    # The confirmation and the booking page repeat the price and the fee.
    flashed = page.locator(".alert-warning", has_text=words["estimate"]).inner_text()
    assert amount in flashed and f"{words['fee']} {fee}" in flashed
    assert page.locator("dd[data-estimate]").inner_text().startswith(
        f"{words['estimate']} {amount}")
    visit.shot("price-on-the-booking-page")

    # The cancel button asks with the fee; cancelling charges exactly that.
    questions: list[str] = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    submit(page, "form[action$='/cancel'] [type=submit]")
    assert questions and questions[0].startswith(words["confirm"])
    assert f"{words['fee']} {fee}" in questions[0]
    # Once cancelled, the message names the fee charged.
    assert words["charged"].format(fee=fee) in page.locator(".alert-warning").first.inner_text()
    db.session.rollback()
    booking = db.session.get(Booking, booking_id)
    assert booking.is_late_cancellation
    charge = db.session.scalar(select(Charge).where(Charge.booking_id == booking_id))
    assert charge is not None and format_money(charge.amount) == fee
    visit.shot("cancelled-with-the-fee-named")
