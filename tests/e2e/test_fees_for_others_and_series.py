"""Money said before it is owed, when booking for someone else and when cancelling a series
(issue 17).

(a) A lab manager books for a researcher: once the researcher's email is in the form, the live
    check and the chosen time in the calendar show the researcher's price (their
    organization's tier), which the charge will use, not the manager's.
(b) A researcher cancels what is left of a series inside the cancellation window: the series'
    card and the cancel button's question name the total fee and the bookings that cost it;
    the "from this day on" question follows the day chosen; the message after names the fee.
In Chinese and English, on a desktop and on a phone-sized screen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from labbook.billing import estimates
from labbook.billing.models import Charge
from labbook.booking import services as booking_services
from labbook.booking.models import Booking, BookingState
from labbook.booking.recurrence import Recurrence
from labbook.core.money import format_money
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.e2e.pages import drag_in_calendar
from tests.e2e.test_booking_journey import next_monday, show_day

INSTRUMENT = "NEM-018"  # no approval, no training, 15-minute grid
MANAGER = "nem.manager@jzit.example.cn"
RESEARCHER = "chen@xincai.example.cn"
LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}
#: Times of the week after next, lab time, one per viewport and language: no two runs collide,
#: nor with the other browser tests of NEM-018 (next week's mornings).
ON_BEHALF_SLOTS = {("desktop", "zh-CN"): (3, "09:00", "10:00"),
                   ("desktop", "en"): (3, "11:00", "12:00"),
                   ("phone", "zh-CN"): (4, "09:00", "10:00"),
                   ("phone", "en"): (4, "11:00", "12:00")}
#: Afternoons of next week, where each series begins: its third booking, two weeks on, is at
#: most 25 days away (when today is a Monday), inside the instrument's 30-day booking horizon.
SERIES_SLOTS = {("desktop", "zh-CN"): (3, 14), ("desktop", "en"): (3, 16),
                ("phone", "zh-CN"): (4, 14), ("phone", "en"): (4, 16)}
#: The longest cancellation window there is: every booking of the tests is inside it.
WINDOW_HOURS = 720


@contextmanager
def speaking(site, email: str, language: str) -> Iterator[None]:
    """The account's own language (what its pages speak) for the test, given back after."""
    user = site.user(email)
    before, user.locale = user.locale, LANGUAGES[language]
    db.session.commit()
    try:
        yield
    finally:
        user = site.user(email)
        user.locale = before
        db.session.commit()


def instrument_with_long_window(site):
    instrument = site.instrument(INSTRUMENT)
    instrument.cancellation_window_hours = WINDOW_HOURS
    db.session.commit()
    return instrument


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_booking_for_someone_shows_their_price(open_visit, viewport, language, site, today):
    instrument = instrument_with_long_window(site)
    manager, researcher = site.user(MANAGER), site.user(RESEARCHER)
    weekday, start, end = ON_BEHALF_SLOTS[(viewport, language)]
    day = next_monday(today) + dt.timedelta(days=7 + weekday)
    starts_at = dt.datetime.fromisoformat(f"{day}T{start}:00+08:00")
    ends_at = dt.datetime.fromisoformat(f"{day}T{end}:00+08:00")
    theirs = estimates.slot_price(db.session, manager, researcher.organization, instrument,
                                  starts_at, ends_at, now=utcnow()).estimate
    mine = estimates.slot_price(db.session, manager, manager.organization, instrument,
                                starts_at, ends_at, now=utcnow()).estimate
    assert theirs.amount != mine.amount

    with speaking(site, MANAGER, language):
        visit = open_visit(viewport, MANAGER, locale=language)
        page = visit.page
        visit.goto(f"/instruments/{instrument.id}/calendar")
        page.wait_for_selector("#booking-calendar[aria-busy=false] .fc-timegrid-col[data-date]")
        show_day(page, day, visit.is_phone)
        drag_in_calendar(page, day.isoformat(), start, end, instrument.slot_minutes)
        estimate = page.locator("#check-result [data-estimate]")
        estimate.wait_for()
        assert f" {format_money(mine.amount)}" in estimate.inner_text()
        # The person booked for: their organization's tier prices the time.
        page.fill("#for_user", RESEARCHER)
        page.locator("#for_user").press("Tab")
        page.wait_for_function(
            "amount => ((document.querySelector('#check-result [data-estimate]') || {})"
            ".textContent || '').indexOf(' ' + amount) !== -1", arg=format_money(theirs.amount))
        assert page.locator(".fc-event-mirror .lb-selection-price").inner_text() == \
            format_money(theirs.amount)
        visit.shot("price-of-the-person-booked-for")


WORDS = {"zh-CN": {"all": "取消该系列中所有尚未开始的预约？", "from": "从该日起取消该系列预约？",
                   "charged": "按逾时取消共收费"},
         "en": {"all": "Cancel every booking of the series that is still to come?",
                "from": "Cancel the series from this day on?",
                "charged": "late-cancellation fees of"}}


def lab_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.timezone(dt.timedelta(hours=8))).date()


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_cancelling_a_series_names_the_fees(open_visit, viewport, language, site, today):
    instrument = instrument_with_long_window(site)
    researcher = site.user(RESEARCHER)
    words = WORDS[language]
    weekday, hour = SERIES_SLOTS[(viewport, language)]
    day = next_monday(today) + dt.timedelta(days=weekday)
    start = dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00")
    first, second, third = booking_services.create_series(
        db.session, researcher, instrument_id=instrument.id, start=start,
        end=start + dt.timedelta(hours=1), purpose="粉体电阻率 / powder resistivity",
        recurrence=Recurrence(frequency="weekly", count=3), skip_conflicts=False,
        now=utcnow()).created
    db.session.commit()
    late_fee = estimates.booking_price(db.session, first, researcher,
                                       now=utcnow()).cancellation.late_fee
    total, from_second = format_money(3 * late_fee), format_money(2 * late_fee)

    with speaking(site, RESEARCHER, language):
        visit = open_visit(viewport, RESEARCHER, locale=language)
        page = visit.page
        visit.goto(f"/bookings/{first.id}")
        terms = page.locator("[data-series-cancellation-fee]").inner_text()
        assert total in terms and f"{lab_day(first.start_at)} {hour:02d}:00" in terms
        visit.shot("series-cancel-terms")
        questions: list[str] = []
        # Asked, and answered No: nothing is cancelled.
        page.once("dialog", lambda dialog: (questions.append(dialog.message),
                                            dialog.dismiss()))
        page.locator("form.mb-3[action$='/cancel'] [type=submit]").click()
        page.wait_for_timeout(200)
        assert questions[0].startswith(words["all"]) and total in questions[0]
        # From the second booking's day on: the question names only what that costs.
        page.fill("#series-from-date", lab_day(second.start_at).isoformat())
        page.once("dialog", lambda dialog: (questions.append(dialog.message),
                                            dialog.accept()))
        with page.expect_navigation():
            page.locator("#series-from-form [type=submit]").click()
        assert questions[1].startswith(words["from"]) and from_second in questions[1]
        assert total not in questions[1]
        assert from_second in page.locator(".alert-warning", has_text=words["charged"]).inner_text()
        visit.shot("series-cancelled-with-the-fees-named")

    db.session.rollback()
    db.session.expire_all()  # the bookings were read before the browser cancelled them
    states = [db.session.get(Booking, b.id).state for b in (first, second, third)]
    assert states == [BookingState.APPROVED, BookingState.CANCELLED, BookingState.CANCELLED]
    charged = db.session.scalars(select(Charge.amount).where(
        Charge.booking_id.in_([second.id, third.id]))).all()
    assert [format_money(amount) for amount in charged] == [format_money(late_fee)] * 2
