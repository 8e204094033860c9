"""The calendar's check of a proposed time answers as booking it would: the same problems, the
same overrides for the lab's managers, the same suggestions; and it books nothing."""

import datetime as dt

import pytest
from sqlalchemy import func, select

from labbook.booking import services
from labbook.booking.models import Booking
from labbook.core.errors import PermissionDenied
from labbook.extensions import db
from tests.factories import create_booking, create_instrument, create_manager, create_user, lab_time

MONDAY = dt.date(2027, 3, 1)
NOW = lab_time(MONDAY - dt.timedelta(days=3), 12)  # the Friday before, noon


def preview(user, instrument, start, end, *, override=False):
    return services.preview_booking(db.session, user, instrument, start=start, end=end,
                                    override=override, now=NOW)


def book(user, instrument, start, end, *, override=False):
    return services.create_booking(db.session, user, instrument_id=instrument.id, start=start,
                                   end=end, purpose="XRD 物相分析", override=override, now=NOW)


def bookings() -> int:
    return db.session.scalar(select(func.count()).select_from(Booking))


@pytest.fixture
def instrument():
    return create_instrument(slot_minutes=30, min_minutes=30, max_minutes=240,
                             min_notice_minutes=120, horizon_days=30)


def test_a_free_time_is_possible_and_booked_alike(instrument):
    researcher = create_user()
    answer = preview(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    assert (answer.is_possible, answer.problems, answer.suggestions) == (True, [], [])
    assert bookings() == 0
    assert book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)).id


def test_a_taken_time_is_refused_alike_with_the_same_suggestions(instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 10))
    researcher = create_user()
    answer = preview(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    with pytest.raises(services.BookingRefused) as refused:
        book(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    assert not answer.is_possible
    assert [p.code for p in answer.problems] == [p.code for p in refused.value.problems] \
        == ["overlap"]
    assert answer.suggestions == refused.value.suggestions != []


def test_a_managers_override_passes_soft_rules_in_both_and_still_lists_them(instrument):
    manager = create_manager(instrument.lab)
    late = (lab_time(MONDAY, 19), lab_time(MONDAY, 20))
    assert not preview(manager, instrument, *late).is_possible
    answer = preview(manager, instrument, *late, override=True)
    assert answer.is_possible
    assert [p.code for p in answer.problems] == ["outside_hours"]
    assert book(manager, instrument, *late, override=True).is_override


def test_a_researchers_override_is_ignored_by_the_check_and_refused_by_booking(instrument):
    researcher = create_user()
    late = (lab_time(MONDAY, 19), lab_time(MONDAY, 20))
    answer = preview(researcher, instrument, *late, override=True)
    assert not answer.is_possible
    assert [p.code for p in answer.problems] == ["outside_hours"]
    with pytest.raises(PermissionDenied):
        book(researcher, instrument, *late, override=True)
