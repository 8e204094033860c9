"""The booking rules on the national calendar: a lab closed on a holiday refuses bookings that
start or end on it (``holiday_closed``), one open on make-up days takes bookings on those
Saturdays and Sundays with its weekday hours; availability and suggestions agree."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from labbook.booking import schedule, services
from labbook.booking.services import BookingRefused
from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.holidays.services import set_lab_policy
from tests.factories import create_instrument, create_lab, create_manager, create_user, lab_time
from tests.holidays.conftest import NOW, follow

D = dt.date


@pytest.fixture
def instrument(calendar):
    schedule.invalidate()
    lab = create_lab()
    follow(lab)
    return create_instrument(lab=lab, horizon_days=365, max_minutes=60 * 24 * 14)


def book(instrument, start, end, *, user=None, override=False):
    return services.create_booking(db.session, user or create_user(),
                                   instrument_id=instrument.id, start=start, end=end,
                                   purpose="测试", override=override, now=NOW)


def codes(error: BookingRefused) -> list[str]:
    return [p.code for p in error.problems]


def test_a_booking_on_a_holiday_the_lab_closes_on_is_refused_with_its_own_code(instrument):
    start, end = lab_time(D(2026, 10, 2), 9), lab_time(D(2026, 10, 2), 10)
    with pytest.raises(BookingRefused) as refused, force_locale("en"):
        book(instrument, start, end)
    assert codes(refused.value) == ["holiday_closed"]
    [closed] = refused.value.problems
    assert closed.message == ("The lab is closed on 2026-10-02, a public holiday; bookings may "
                              "not start or end that day.")
    assert closed.extra == {"start": start.isoformat(), "end": end.isoformat()}


def test_the_day_after_the_holiday_is_bookable_from_its_first_minute_of_opening(instrument):
    booking = book(instrument, lab_time(D(2026, 10, 8), 8), lab_time(D(2026, 10, 8), 9))
    assert booking.id


@pytest.mark.parametrize(("start", "end"), [
    (lab_time(D(2026, 9, 30), 17), lab_time(D(2026, 10, 1), 9)),   # ends on the holiday
    (lab_time(D(2026, 10, 7), 17), lab_time(D(2026, 10, 8), 9)),    # starts on it
])
def test_a_run_may_not_start_or_end_on_a_closed_holiday(instrument, start, end):
    with pytest.raises(BookingRefused) as refused:
        book(instrument, start, end)
    assert codes(refused.value) == ["holiday_closed"]


def test_a_long_run_may_go_on_through_the_holiday_like_through_a_night(instrument):
    booking = book(instrument, lab_time(D(2026, 9, 30), 9), lab_time(D(2026, 10, 8), 17))
    assert booking.end_at == lab_time(D(2026, 10, 8), 17)


def test_a_run_ending_at_the_holidays_midnight_is_not_on_the_holiday(instrument):
    # Half-open: ending at 00:00 on 1 October uses none of it. (It ends outside opening hours.)
    with pytest.raises(BookingRefused) as refused:
        book(instrument, lab_time(D(2026, 9, 30), 17), lab_time(D(2026, 10, 1), 0))
    assert codes(refused.value) == ["outside_hours"]


def test_the_makeup_saturday_opens_with_the_weekday_hours(instrument):
    booking = book(instrument, lab_time(D(2026, 10, 10), 8), lab_time(D(2026, 10, 10), 18))
    assert booking.id
    with pytest.raises(BookingRefused) as refused:
        book(instrument, lab_time(D(2026, 10, 10), 18), lab_time(D(2026, 10, 10), 19))
    assert codes(refused.value) == ["outside_hours"]


def test_an_ordinary_saturday_stays_closed(instrument):
    with pytest.raises(BookingRefused) as refused:
        book(instrument, lab_time(D(2026, 10, 17), 9), lab_time(D(2026, 10, 17), 10))
    assert codes(refused.value) == ["outside_hours"]


def test_a_lab_that_does_not_follow_the_calendar_books_holidays_as_weekdays(calendar):
    schedule.invalidate()
    plain = create_instrument(lab=create_lab(), horizon_days=365)
    assert book(plain, lab_time(D(2026, 10, 2), 9), lab_time(D(2026, 10, 2), 10)).id
    with pytest.raises(BookingRefused) as refused:
        book(plain, lab_time(D(2026, 10, 10), 9), lab_time(D(2026, 10, 10), 10))
    assert codes(refused.value) == ["outside_hours"]


def test_the_labs_managers_may_override_the_holiday(instrument):
    manager = create_manager(instrument.lab)
    booking = book(instrument, lab_time(D(2026, 10, 2), 9), lab_time(D(2026, 10, 2), 10),
                   user=manager, override=True)
    assert booking.is_override


def test_suggestions_skip_the_holiday_and_offer_the_makeup_day(instrument):
    book(instrument, lab_time(D(2026, 9, 30), 8), lab_time(D(2026, 9, 30), 18))
    with pytest.raises(BookingRefused) as refused:
        book(instrument, lab_time(D(2026, 9, 30), 9), lab_time(D(2026, 9, 30), 10))
    assert codes(refused.value) == ["overlap"]
    first = refused.value.suggestions[0]
    assert first.start == lab_time(D(2026, 10, 8), 8)


def test_changing_the_policy_takes_effect_at_once(instrument):
    holiday = lab_time(D(2026, 10, 2), 9), lab_time(D(2026, 10, 2), 10)
    with pytest.raises(BookingRefused):
        book(instrument, *holiday)
    with write_transaction(db.session):
        set_lab_policy(db.session, create_manager(instrument.lab), instrument.lab,
                       closes_on_holidays=False, opens_on_makeup_days=True, now=NOW)
    assert book(instrument, *holiday).id
