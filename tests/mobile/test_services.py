"""The phone page's day and check-in at the edges of the lab day (labbook.mobile.services)."""

from __future__ import annotations

import datetime as dt

import pytest

from labbook.booking.attendance import CHECK_IN_EARLY_MINUTES
from labbook.booking.models import BookingState
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict
from labbook.extensions import db
from labbook.mobile import services
from tests.factories import create_booking, create_instrument, create_user, lab_time, reload

#: Any day: the page reads bookings as they are, whatever the lab's opening hours.
DAY = dt.date(2027, 3, 8)
#: Five past midnight, lab time, the night after DAY.
AFTER_MIDNIGHT = lab_time(DAY + dt.timedelta(days=1), 0, 5)


@pytest.fixture
def night_booking():
    """A researcher's approved booking of 00:05–01:05 lab time the night after DAY."""
    return create_booking(instrument=create_instrument(), user=create_user(),
                          start_at=AFTER_MIDNIGHT,
                          end_at=AFTER_MIDNIGHT + dt.timedelta(hours=1))


def check_in_opens(booking) -> dt.datetime:
    return booking.start_at - dt.timedelta(minutes=CHECK_IN_EARLY_MINUTES)


def test_before_midnight_the_booking_just_after_it_may_be_checked_in_once_check_in_opens(
        night_booking):
    instrument, user = night_booking.instrument, night_booking.user
    opens = check_in_opens(night_booking)  # 23:50 lab time, on DAY
    assert services.today(db.session, instrument, user, now=opens).current == night_booking
    with write_transaction(db.session):
        services.check_in_here(db.session, user, instrument, now=opens)
    assert reload(night_booking).state == BookingState.IN_USE


def test_a_second_before_check_in_opens_the_booking_after_midnight_cannot_be_checked_in(
        night_booking):
    instrument, user = night_booking.instrument, night_booking.user
    early = check_in_opens(night_booking) - dt.timedelta(seconds=1)
    assert services.today(db.session, instrument, user, now=early).current is None
    with pytest.raises(Conflict) as refused, write_transaction(db.session):
        services.check_in_here(db.session, user, instrument, now=early)
    assert refused.value.code == "no_current_booking"
    # In the default language; it says when check-in opens.
    assert refused.value.message == \
        f"您现在没有可签到的该仪器预约：签到在开始前 {CHECK_IN_EARLY_MINUTES} 分钟开放。"
    assert reload(night_booking).state == BookingState.APPROVED


def test_the_day_lists_only_its_own_bookings_not_one_from_midnight_it_may_check_in():
    instrument, user = create_instrument(), create_user()
    evening = create_booking(instrument=instrument, user=user, start_at=lab_time(DAY, 21),
                             end_at=lab_time(DAY, 22))
    midnight = lab_time(DAY + dt.timedelta(days=1), 0)
    tomorrows = create_booking(instrument=instrument, user=user, start_at=midnight,
                               end_at=midnight + dt.timedelta(hours=1))
    today = services.today(db.session, instrument, user, now=lab_time(DAY, 23, 50))
    assert [entry["id"] for entry in today.entries] == [evening.id]
    assert today.current == tomorrows


def test_checking_out_with_no_booking_in_use_is_refused_with_what_to_do(night_booking):
    instrument, user = night_booking.instrument, night_booking.user
    with pytest.raises(Conflict) as refused, write_transaction(db.session):
        services.check_out_here(db.session, user, instrument,
                                now=check_in_opens(night_booking))
    assert refused.value.code == "no_current_booking"
    assert reload(night_booking).state == BookingState.APPROVED


def test_the_days_list_gives_lab_times_and_marks_ones_own_booking():
    instrument, user = create_instrument(), create_user()
    own = create_booking(instrument=instrument, user=user, start_at=lab_time(DAY, 9),
                         end_at=lab_time(DAY, 10, 30))
    create_booking(instrument=instrument, user=create_user(), start_at=lab_time(DAY, 14),
                   end_at=lab_time(DAY, 15))
    today = services.today(db.session, instrument, user, now=lab_time(DAY, 8))
    shown = [(entry["start_local"].strftime("%H:%M"), entry["end_local"].strftime("%H:%M"),
              entry["own"]) for entry in today.entries]
    assert shown == [("09:00", "10:30", True), ("14:00", "15:00", False)]
    assert today.entries[0]["id"] == own.id and "id" not in today.entries[1]  # only "booked"
    assert today.day == DAY


def test_after_midnight_the_day_is_the_new_one_and_lists_the_session_begun_the_evening_before():
    instrument, user = create_instrument(), create_user()
    yesterday = DAY - dt.timedelta(days=1)
    overnight = create_booking(instrument=instrument, user=user,
                               start_at=lab_time(yesterday, 22), end_at=lab_time(DAY, 2))
    with write_transaction(db.session):
        services.check_in_here(db.session, user, instrument, now=lab_time(yesterday, 22))
    today = services.today(db.session, instrument, user, now=lab_time(DAY, 0, 30))
    assert today.day == DAY
    assert [entry["id"] for entry in today.entries] == [overnight.id]
    assert today.current == overnight and today.current.state == BookingState.IN_USE


def test_before_midnight_the_day_is_still_the_evenings_with_tomorrows_booking_current(
        night_booking):
    today = services.today(db.session, night_booking.instrument, night_booking.user,
                           now=check_in_opens(night_booking))
    assert today.day == DAY and today.current == night_booking and today.entries == []
