"""What a refused booking says, rule by rule: the message the user reads, with the instrument's
own figures and the times in lab time (Asia/Shanghai), and the interval at fault."""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from labbook.accounts.models import OrganizationStatus
from labbook.booking import services
from labbook.booking.models import Blackout
from labbook.catalogue.models import InstrumentStatus
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_organization,
    create_user,
    lab_time,
)

MONDAY = dt.date(2027, 3, 1)
FRIDAY = MONDAY - dt.timedelta(days=3)
NOW = lab_time(FRIDAY, 12)

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def instrument():
    return create_instrument(slot_minutes=30, min_minutes=60, max_minutes=240,
                             min_notice_minutes=120, horizon_days=30, buffer_minutes=30)


def refused(user, instrument, start, end):
    """(code, message, start, end of the interval at fault) of each problem."""
    with pytest.raises(services.BookingRefused) as refusal:
        services.create_booking(db.session, user, instrument_id=instrument.id, start=start,
                                end=end, purpose="XRD 物相分析", now=NOW)
    return [(p.code, p.message, p.extra.get("start"), p.extra.get("end"))
            for p in refusal.value.problems]


def at_fault(start, end):
    return start.isoformat(), end.isoformat()


def test_off_the_grid_names_the_grid(researcher, instrument):
    start, end = lab_time(MONDAY, 9, 10), lab_time(MONDAY, 10, 10)
    assert refused(researcher, instrument, start, end) == [(
        "not_aligned", "Bookings on this instrument start and end on its 30-minute grid, "
        "counted from midnight.", *at_fault(start, end))]


def test_too_short_and_too_long_name_the_limits(researcher, instrument):
    start = lab_time(MONDAY, 9)
    short, long = start + dt.timedelta(minutes=30), start + dt.timedelta(minutes=270)
    assert refused(researcher, instrument, start, short) == [(
        "too_short", "The shortest booking on this instrument is 1 hour.",
        *at_fault(start, short))]
    assert refused(researcher, instrument, start, long) == [(
        "too_long", "The longest booking on this instrument is 4 hours.",
        *at_fault(start, long))]


def test_past_soon_and_far_name_the_start_and_the_limits(researcher, instrument):
    start, end = lab_time(FRIDAY, 10), lab_time(FRIDAY, 11)
    assert refused(researcher, instrument, start, end) == [(
        "in_past", "The start (2027-02-26 10:00) has already passed.", *at_fault(start, end))]
    start, end = lab_time(FRIDAY, 13), lab_time(FRIDAY, 14)
    assert refused(researcher, instrument, start, end) == [(
        "too_soon", "This instrument must be booked at least 2 hours ahead.",
        *at_fault(start, end))]
    far = MONDAY + dt.timedelta(days=35)
    start, end = lab_time(far, 9), lab_time(far, 10)
    assert refused(researcher, instrument, start, end) == [(
        "too_far", "This instrument can be booked at most 30 days ahead.",
        *at_fault(start, end))]


def test_outside_the_opening_hours_names_the_times_in_lab_time(researcher, instrument):
    start, end = lab_time(MONDAY, 17), lab_time(MONDAY, 19)
    assert refused(researcher, instrument, start, end) == [(
        "outside_hours", "2027-03-01 17:00 – 2027-03-01 19:00 is outside the lab's opening "
        "hours.", *at_fault(start, end))]


@pytest.mark.parametrize(("status", "label"), [(InstrumentStatus.MAINTENANCE,
                                                "under maintenance"),
                                               (InstrumentStatus.RETIRED, "retired")])
def test_an_unavailable_instrument_says_why(researcher, status, label):
    instrument = create_instrument(status=status)
    start, end = lab_time(MONDAY, 9), lab_time(MONDAY, 10)
    assert refused(researcher, instrument, start, end) == [(
        "instrument_unavailable", f"The instrument is not available for booking ({label}).",
        *at_fault(start, end))]


def test_a_suspended_organization_is_named(instrument):
    organization = create_organization(status=OrganizationStatus.SUSPENDED)
    user = create_user(organization=organization)
    assert refused(user, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)) == [(
        "org_suspended", f"{organization.name} is suspended and cannot book at the moment.",
        None, None)]


def test_a_missing_training_record_says_whom_to_ask(researcher):
    instrument = create_instrument(requires_qualification=True)
    assert refused(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)) == [(
        "not_qualified", "You need a valid training record for this instrument; ask the lab's "
        "managers.", None, None)]


def test_the_quota_names_the_organization_the_week_and_the_hours_held(instrument):
    organization = create_organization(weekly_quota_hours=3)
    user = create_user(organization=organization)
    create_booking(instrument=instrument, user=user, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 11))
    start, end = lab_time(MONDAY, 13), lab_time(MONDAY, 15)
    assert refused(user, instrument, start, end) == [(
        "quota_exceeded", f"{organization.name} may book 3 hours in the week of 2027-03-01 and "
        "already holds 2.0.", *at_fault(lab_time(MONDAY, 0), lab_time(MONDAY, 0)
                                         + dt.timedelta(days=7)))]


def test_a_closure_names_its_times_and_reason(researcher, instrument):
    closed_from, closed_until = lab_time(MONDAY, 8), lab_time(MONDAY, 12)
    db.session.add(Blackout(instrument=instrument, start_at=closed_from, end_at=closed_until,
                            reason="年度保养"))
    db.session.commit()
    assert refused(researcher, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 13)) == [(
        "blackout", "Closed 2027-03-01 08:00 – 2027-03-01 12:00: 年度保养",
        *at_fault(closed_from, closed_until))]


def test_an_overlap_names_the_time_held_with_its_buffer(researcher, instrument):
    create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                   end_at=lab_time(MONDAY, 11))
    assert refused(researcher, instrument, lab_time(MONDAY, 11), lab_time(MONDAY, 12)) == [(
        "overlap", "The instrument is already booked 2027-03-01 10:00 – 2027-03-01 11:30 "
        "(cleaning and set-up time included).",
        *at_fault(lab_time(MONDAY, 10), lab_time(MONDAY, 11, 30)))]


def test_times_without_an_offset_show_an_example(researcher, instrument):
    naive = dt.datetime(2027, 3, 1, 9)  # noqa: DTZ001
    assert refused(researcher, instrument, naive, naive + dt.timedelta(hours=1)) == [(
        "naive_datetime", "Times must carry a UTC offset, e.g. 2026-12-01T09:00:00+08:00.",
        None, None)]


@pytest.mark.parametrize("length", [dt.timedelta(0), -dt.timedelta(hours=1)])
def test_an_end_not_after_the_start_is_an_invalid_interval(researcher, instrument, length):
    start = lab_time(MONDAY, 10)
    assert refused(researcher, instrument, start, start + length) == [(
        "invalid_interval", "The end must be after the start.",
        *at_fault(start, start + length))]


def test_the_messages_are_in_chinese_too(instrument):
    organization = create_organization(name="华东材料", weekly_quota_hours=1)
    user = create_user(organization=organization)
    with force_locale("zh_CN"):
        problems = refused(user, instrument, lab_time(MONDAY, 17), lab_time(MONDAY, 19))
    assert [(code, message) for code, message, _start, _end in problems] == [
        ("outside_hours", "2027-03-01 17:00 – 2027-03-01 19:00 不在实验室开放时间内。"),
        ("quota_exceeded", "华东材料 在 2027-03-01 这一周最多可预约 1 小时，已预约 0.0 小时。"),
    ]
