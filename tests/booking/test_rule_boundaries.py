"""The booking rules at their edges: the quota week, the training record's expiry and the
cancellation window, each with worked examples on either side of the exact edge.

Lab time is Asia/Shanghai (UTC+8): Monday 00:00 in the lab is Sunday 16:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from labbook.accounts.models import PriceTier
from labbook.billing.models import Charge, ChargeKind
from labbook.booking import rules, services, training
from labbook.booking.models import BookingState
from labbook.core.engine import write_transaction
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
)

MONDAY = dt.date(2027, 3, 1)
SUNDAY = MONDAY - dt.timedelta(days=1)
NOW = lab_time(MONDAY - dt.timedelta(days=4), 12)  # the Thursday before, noon
SECOND = dt.timedelta(seconds=1)


def book(user, instrument, start, end, **kwargs):
    kwargs.setdefault("now", NOW)
    return services.create_booking(db.session, user, instrument_id=instrument.id, start=start,
                                   end=end, purpose="XRD 物相分析", **kwargs)


def refusal(user, instrument, start, end):
    with pytest.raises(services.BookingRefused) as refused:
        book(user, instrument, start, end)
    return refused.value.problems


def codes(problems) -> list[str]:
    return [p.code for p in problems]


# -- the weekly quota: Monday 00:00 to Monday 00:00, lab time -----------------------------------

@pytest.fixture
def round_the_clock():
    """An instrument in a lab open every day from 00:00 to 23:59."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    return create_instrument(lab=lab, slot_minutes=30, min_minutes=30, max_minutes=600,
                             min_notice_minutes=60, horizon_days=30)


@pytest.fixture
def member():
    """A researcher of an organization that may hold 3 hours a week."""
    return create_user(organization=create_organization(weekly_quota_hours=3))


def test_the_quota_week_starts_at_monday_midnight_lab_time(round_the_clock, member):
    """2 hours late on Sunday are last week's: 2 hours from 00:30 on Monday fit this week's 3
    (in UTC, both fall on Sunday, which would make 4)."""
    book(member, round_the_clock, lab_time(SUNDAY, 21), lab_time(SUNDAY, 23))
    monday = book(member, round_the_clock, lab_time(MONDAY, 0, 30), lab_time(MONDAY, 2, 30))
    assert monday.state == BookingState.APPROVED

    [problem] = refusal(member, round_the_clock, lab_time(MONDAY, 3), lab_time(MONDAY, 4, 30))
    assert problem.code == "quota_exceeded"
    assert (problem.extra["start"], problem.extra["end"]) == (
        lab_time(MONDAY, 0).isoformat(), lab_time(MONDAY + dt.timedelta(days=7), 0).isoformat())
    assert "2027-03-01" in problem.message and "2.0" in problem.message


def test_a_booking_across_the_week_boundary_counts_its_part_in_each_week(round_the_clock,
                                                                         member):
    """Sunday 22:00 to Monday 02:00 is 4 hours, 2 in each week: it fits a 3-hour quota, and
    leaves 1 hour in each week (not none, as counting it whole would)."""
    across = book(member, round_the_clock, lab_time(SUNDAY, 22), lab_time(MONDAY, 2))
    assert across.state == BookingState.APPROVED

    assert codes(refusal(member, round_the_clock, lab_time(MONDAY, 9),
                         lab_time(MONDAY, 10, 30))) == ["quota_exceeded"]
    assert book(member, round_the_clock, lab_time(MONDAY, 9), lab_time(MONDAY, 10))
    assert codes(refusal(member, round_the_clock, lab_time(SUNDAY, 9),
                         lab_time(SUNDAY, 10, 30))) == ["quota_exceeded"]
    assert book(member, round_the_clock, lab_time(SUNDAY, 9), lab_time(SUNDAY, 10))


def test_a_booking_across_the_week_boundary_must_fit_the_next_weeks_quota_too(round_the_clock,
                                                                            member):
    """The new week already holds 2½ hours: Sunday 23:00 to Monday 01:00 brings it to 3½."""
    book(member, round_the_clock, lab_time(MONDAY, 9), lab_time(MONDAY, 11, 30))
    [problem] = refusal(member, round_the_clock, lab_time(SUNDAY, 23), lab_time(MONDAY, 1))
    assert (problem.code, problem.extra["start"]) == \
        ("quota_exceeded", lab_time(MONDAY, 0).isoformat())
    assert book(member, round_the_clock, lab_time(SUNDAY, 23), lab_time(MONDAY, 0, 30))


def test_the_approval_queue_shows_the_weeks_hours_counting_only_their_part_in_the_week(
        round_the_clock, member):
    """A request for 02:00 on Monday (18:00 on Sunday, UTC) is in the week from Monday 00:00,
    which holds 2 hours of the run from Sunday 22:00 and its own half hour."""
    manager = create_manager(round_the_clock.lab)
    book(member, round_the_clock, lab_time(SUNDAY, 22), lab_time(MONDAY, 2))
    create_booking(instrument=round_the_clock, user=member, state=BookingState.PENDING,
                   start_at=lab_time(MONDAY, 2), end_at=lab_time(MONDAY, 2, 30))
    [entry] = services.approval_overview(db.session, manager)
    assert entry.week.week_start == lab_time(MONDAY, 0)
    assert entry.week.held_hours == 2.5 and not entry.week.is_over


# -- training records: valid until the booking's end --------------------------------------------

@pytest.fixture
def trained():
    """Record a researcher's training on an instrument that needs it, in a lab open round the
    clock, with the expiry given; answers the manager, the researcher and the instrument."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    manager = create_manager(lab)
    instrument = create_instrument(lab=lab, requires_qualification=True, max_minutes=3000)
    researcher = create_user()

    def until(expires_at):
        training.grant_qualification(db.session, manager, researcher, instrument, now=NOW,
                                     expires_at=expires_at)
        db.session.commit()
        return manager, researcher, instrument

    return until


@pytest.mark.parametrize(("expires_at", "accepted"), [
    (lab_time(MONDAY, 10), False),  # expires as the booking starts
    (lab_time(MONDAY, 11), False),  # expires during the booking: valid at its start only
    (lab_time(MONDAY, 12) - SECOND, False),
    (lab_time(MONDAY, 12), True),  # expires the moment the booking ends: covers all of it
    (lab_time(MONDAY, 12) + SECOND, True),
])
def test_a_training_record_must_be_valid_until_the_booking_ends(trained, expires_at, accepted):
    _manager, researcher, instrument = trained(expires_at)
    start, end = lab_time(MONDAY, 10), lab_time(MONDAY, 12)
    if accepted:
        assert book(researcher, instrument, start, end).state == BookingState.APPROVED
    else:
        assert codes(refusal(researcher, instrument, start, end)) == ["not_qualified"]


def test_a_record_valid_through_a_day_covers_a_run_ending_at_its_midnight(trained):
    """"Valid through 1 March" on the training page expires at 00:00 on 2 March, lab time: it
    covers a run from Sunday evening until that midnight."""
    _manager, researcher, instrument = trained(lab_time(MONDAY + dt.timedelta(days=1), 0))
    run = book(researcher, instrument, lab_time(SUNDAY, 20),
               lab_time(MONDAY + dt.timedelta(days=1), 0))
    assert run.state == BookingState.APPROVED


@pytest.mark.parametrize(("expires_at", "qualified"), [
    (lab_time(MONDAY, 11), False),
    (lab_time(MONDAY, 12), True),
])
def test_the_approval_queue_checks_the_record_at_the_bookings_end(trained, expires_at,
                                                                  qualified):
    manager, researcher, instrument = trained(expires_at)
    create_booking(instrument=instrument, user=researcher, state=BookingState.PENDING,
                   start_at=lab_time(MONDAY, 10), end_at=lab_time(MONDAY, 12))
    [entry] = services.approval_overview(db.session, manager)
    assert entry.is_qualified is qualified


# -- the cancellation window: late from start − window on ---------------------------------------

@pytest.fixture
def hour_booked():
    """An approved hour at ¥100/h on an instrument with a 24-hour cancellation window and a
    50 % late-cancellation share: a late cancellation costs ¥50.00."""
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("100.00")},
                                   cancellation_window_hours=24)
    start = lab_time(MONDAY, 10)
    return create_booking(instrument=instrument, start_at=start,
                          end_at=start + dt.timedelta(hours=1))


def cancel(booking, actor, now):
    with write_transaction(db.session):
        services.cancel_booking(db.session, actor, booking, now=now)
    db.session.rollback()
    charges = db.session.scalars(select(Charge)).all()
    return booking, charges


@pytest.mark.parametrize(("offset", "late"), [
    (-SECOND, False),  # a second before the window opens
    (dt.timedelta(0), True),  # exactly 24 hours before the start
    (SECOND, True),
])
def test_a_cancellation_is_late_from_exactly_the_window_before_the_start(hour_booked, offset,
                                                                         late):
    edge = hour_booked.start_at - dt.timedelta(hours=24)
    booking, charges = cancel(hour_booked, hour_booked.user, edge + offset)
    assert booking.state == BookingState.CANCELLED
    assert booking.is_late_cancellation is late
    if late:
        [charge] = charges
        assert (charge.kind, charge.amount, charge.created_at) == \
            (ChargeKind.LATE_CANCELLATION, Decimal("50.00"), edge + offset)
    else:
        assert charges == []


def test_a_manager_cancelling_someone_elses_booking_inside_the_window_is_not_late(hour_booked):
    manager = create_manager(hour_booked.instrument.lab)
    booking, charges = cancel(hour_booked, manager, hour_booked.start_at - dt.timedelta(hours=1))
    assert (booking.state, booking.is_late_cancellation, charges) == \
        (BookingState.CANCELLED, False, [])


def test_a_request_still_pending_withdrawn_inside_the_window_is_not_late(hour_booked):
    hour_booked.state = BookingState.PENDING
    db.session.commit()
    booking, charges = cancel(hour_booked, hour_booked.user,
                              hour_booked.start_at - dt.timedelta(hours=1))
    assert (booking.state, booking.is_late_cancellation, charges) == \
        (BookingState.CANCELLED, False, [])


# -- what counts against the quota, and what a request may be --------------------------------

def test_an_organization_with_no_hours_a_week_cannot_book_even_half_an_hour(round_the_clock):
    nobody = create_user(organization=create_organization(weekly_quota_hours=0))
    assert codes(refusal(nobody, round_the_clock, lab_time(MONDAY, 9),
                         lab_time(MONDAY, 9, 30))) == ["quota_exceeded"]


def test_a_booking_ending_at_monday_midnight_takes_nothing_from_the_next_week():
    """The next week holds 31 hours, over a quota lowered to 30 since: a 26-hour run ending the
    moment that week starts fits this week's 30 and is none of the next week's business."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    chamber = create_instrument(lab=lab, slot_minutes=60, min_minutes=60, max_minutes=3000)
    member = create_user(organization=create_organization(weekly_quota_hours=30))
    create_booking(instrument=chamber, user=member, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY + dt.timedelta(days=1), 16))
    assert book(member, chamber, lab_time(SUNDAY - dt.timedelta(days=1), 22),
                lab_time(MONDAY, 0))


def test_only_the_organizations_slot_holding_bookings_count_against_its_quota(round_the_clock,
                                                                             member):
    stranger = create_user(organization=create_organization(weekly_quota_hours=3))
    create_booking(instrument=round_the_clock, user=stranger, start_at=lab_time(MONDAY, 9),
                   end_at=lab_time(MONDAY, 12))
    create_booking(instrument=round_the_clock, user=member, start_at=lab_time(MONDAY, 13),
                   end_at=lab_time(MONDAY, 16), state=BookingState.CANCELLED)
    assert book(member, round_the_clock, lab_time(MONDAY, 18), lab_time(MONDAY, 21))


def test_a_booking_being_moved_counts_neither_as_its_own_overlap_nor_twice_in_the_quota(
        round_the_clock, member):
    moved = create_booking(instrument=round_the_clock, user=member,
                           start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 11))
    request = dict(instrument=round_the_clock, user=member, organization=member.organization,
                   start=lab_time(MONDAY, 10), end=lab_time(MONDAY, 12))
    assert codes(rules.check_booking(db.session, rules.BookingRequest(**request),
                                     now=NOW)) == ["overlap", "quota_exceeded"]
    assert rules.check_booking(db.session, rules.BookingRequest(
        **request, exclude_booking_id=moved.id), now=NOW) == []


class _NoOffset(dt.tzinfo):
    """A time zone that knows no offset: a time in it is as naive as one without any."""

    def utcoffset(self, moment):
        return None

    def dst(self, moment):
        return None


def test_a_time_zone_without_an_offset_is_refused_as_naive(round_the_clock, member):
    start = dt.datetime(2027, 3, 1, 9, tzinfo=_NoOffset())
    assert codes(refusal(member, round_the_clock, start, start + dt.timedelta(hours=1))) == \
        ["naive_datetime"]


def test_the_grid_is_counted_from_midnight_lab_time(member):
    """On a 90-minute grid 09:00 in the lab is a slot start (6 × 90 minutes after midnight);
    it is 01:00 UTC, which is not on a grid counted from midnight UTC."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    grid = create_instrument(lab=lab, slot_minutes=90, min_minutes=90, max_minutes=180)
    assert book(member, grid, lab_time(MONDAY, 9), lab_time(MONDAY, 10, 30))
    assert codes(refusal(member, grid, lab_time(MONDAY, 11), lab_time(MONDAY, 12, 30))) == \
        ["not_aligned"]


# -- who needs which training record ------------------------------------------------------------

def test_the_labs_own_managers_book_without_a_training_record():
    lab = create_lab()
    instrument = create_instrument(lab=lab, requires_qualification=True)
    manager = create_manager(lab)
    assert book(manager, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10)).state == \
        BookingState.APPROVED


def test_a_record_counts_only_for_its_own_person_and_instrument(trained):
    _manager, colleague, instrument = trained(None)
    researcher = create_user(organization=colleague.organization)
    sibling = create_instrument(lab=instrument.lab, requires_qualification=True)
    assert codes(refusal(researcher, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))) \
        == ["not_qualified"]
    assert codes(refusal(colleague, sibling, lab_time(MONDAY, 9), lab_time(MONDAY, 10))) == \
        ["not_qualified"]
    assert book(colleague, instrument, lab_time(MONDAY, 9), lab_time(MONDAY, 10))


# -- the instrument's limits are inclusive --------------------------------------------------------

@pytest.fixture
def limited():
    """Bookings of 1 to 3 hours, at least 2 hours and at most 30 days ahead, round the clock."""
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    return create_instrument(lab=lab, slot_minutes=30, min_minutes=60, max_minutes=180,
                             min_notice_minutes=120, horizon_days=30)


def test_the_shortest_and_longest_bookings_are_allowed_and_no_further(limited, member):
    start = lab_time(MONDAY, 9)
    assert book(member, limited, start, start + dt.timedelta(minutes=60))
    assert codes(refusal(member, limited, start, start + dt.timedelta(minutes=30))) == \
        ["overlap", "too_short"]
    later = lab_time(MONDAY + dt.timedelta(days=7), 9)  # a week with the whole quota free
    assert codes(refusal(member, limited, later, later + dt.timedelta(minutes=210))) == \
        ["too_long", "quota_exceeded"]
    assert book(member, limited, later, later + dt.timedelta(minutes=180))


def test_a_booking_may_start_exactly_the_notice_ahead_and_no_sooner(limited, member):
    now = lab_time(MONDAY, 9)
    with pytest.raises(services.BookingRefused) as refused:
        book(member, limited, lab_time(MONDAY, 10, 30), lab_time(MONDAY, 11, 30), now=now)
    assert codes(refused.value.problems) == ["too_soon"]
    assert book(member, limited, lab_time(MONDAY, 11), lab_time(MONDAY, 12), now=now)


def test_a_booking_may_start_the_very_moment_it_is_made_without_notice(member):
    lab = create_lab(hours={day: [(dt.time(0), dt.time(23, 59))] for day in range(7)})
    walk_in = create_instrument(lab=lab, min_notice_minutes=0)
    now = lab_time(MONDAY, 9)
    assert book(member, walk_in, now, now + dt.timedelta(hours=1), now=now)
    with pytest.raises(services.BookingRefused) as refused:
        book(member, walk_in, now - dt.timedelta(minutes=30), now + dt.timedelta(hours=2),
             now=now)
    assert "in_past" in codes(refused.value.problems)


def test_a_booking_may_start_exactly_the_horizon_ahead_and_no_later(limited, member):
    horizon = NOW + dt.timedelta(days=30)  # Saturday noon, lab time
    assert book(member, limited, horizon, horizon + dt.timedelta(hours=1))
    later = horizon + dt.timedelta(minutes=90)
    assert codes(refusal(member, limited, later, later + dt.timedelta(hours=1))) == \
        ["too_far"]
