"""Property: whatever happens through the booking services, no slot is ever held twice.

Hypothesis draws sequences of creations (with and without a manager's override), cancellations,
approvals, rejections and check-ins by researchers of two organizations, an admin and a manager
of another lab, on two instruments of one lab — one with a buffer and approval, one without.
After every step the database must hold no two slot-holding bookings on one instrument whose
held times (booked time plus buffer) overlap, and every refusal must say why with a code.
There is no move/reschedule service yet; when one appears it belongs in ``OPERATIONS``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from labbook.booking import attendance, services
from labbook.booking.models import SLOT_HOLDING, Booking
from labbook.core.errors import DomainError
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    lab_time,
    next_weekday,
)

#: The booking rules' codes, as the README's "Booking" section lists them: a refused booking
#: names one or more of them.
RULE_CODES = frozenset({
    "invalid_interval", "naive_datetime", "not_aligned", "too_short", "too_long", "in_past",
    "too_soon", "too_far", "outside_hours", "instrument_unavailable", "blackout", "overlap",
    "not_qualified", "quota_exceeded", "org_suspended"})

actors = st.integers(min_value=0, max_value=3)  # researcher A, researcher B, admin, outsider
picks = st.integers(min_value=0, max_value=1_000)  # one of the bookings made so far

CREATE = st.tuples(st.just("create"), actors, st.integers(0, 1),  # instrument
                   st.integers(0, 1),  # Monday or Tuesday, so that requests collide
                   st.integers(1, 21),  # half-hours after 07:30: a few end after closing
                   st.sampled_from([0] * 7 + [15]),  # now and then off the 30-minute grid
                   st.sampled_from([2, 4, 3, 6, 1, 8, 2, 4, -1]),  # half-hours; -1 is malformed
                   st.sampled_from([False, False, False, True]))  # override (managers only)
OPERATIONS = st.one_of(
    CREATE, CREATE,
    st.tuples(st.just("cancel"), actors, picks),
    st.tuples(st.just("approve"), actors, picks),
    st.tuples(st.just("reject"), actors, picks),
    st.tuples(st.just("check_in"), actors, picks),
)


@dataclass
class Scene:
    actors: list
    instruments: list
    monday: dt.date
    now: dt.datetime


def _assert_no_double_holding() -> None:
    held = db.session.execute(
        select(Booking.id, Booking.instrument_id, Booking.start_at, Booking.blocked_until)
        .where(Booking.state.in_(SLOT_HOLDING))).all()
    for a, b in itertools.combinations(held, 2):
        if a.instrument_id == b.instrument_id:
            assert not (a.start_at < b.blocked_until and b.start_at < a.blocked_until), \
                f"bookings {a.id} and {b.id} hold overlapping time"


def _assert_explained(error: DomainError) -> None:
    assert error.code and error.code != "error", error
    if isinstance(error, services.BookingRefused):
        assert error.problems, error
        assert {problem.code for problem in error.problems} <= RULE_CODES, error.problems


def _run(scene: Scene, operation: tuple, made: list[int]) -> bool:
    """Apply ``operation``; False when there was nothing to apply it to."""
    kind, actor_index, *rest = operation
    actor = scene.actors[actor_index]
    if kind == "create":
        instrument_index, day, half_hours, minutes, length, override = rest
        start = lab_time(scene.monday + dt.timedelta(days=day), 7, 30) \
            + dt.timedelta(minutes=30 * half_hours + minutes)
        booking = services.create_booking(
            db.session, actor, instrument_id=scene.instruments[instrument_index].id,
            start=start, end=start + dt.timedelta(minutes=30 * length), purpose="性质测试",
            override=override, now=scene.now)
        made.append(booking.id)
        return True
    if not made:
        return False
    db.session.rollback()  # read the bookings as they are now
    booking = db.session.get(Booking, made[rest[0] % len(made)])
    if kind == "check_in":  # at the booking's start, as if time had passed
        attendance.check_in(db.session, actor, booking, now=booking.start_at)
    elif kind == "cancel":
        services.cancel_booking(db.session, actor, booking, now=scene.now)
    elif kind == "approve":
        services.approve_booking(db.session, actor, booking, now=scene.now)
    else:
        services.reject_booking(db.session, actor, booking, now=scene.now,
                                note="时段另有安排")
    db.session.commit()
    return True


def test_no_sequence_of_operations_double_books_a_slot():
    cast = [create_user(organization=create_organization()),
            create_user(organization=create_organization()),
            create_admin(), create_manager(create_lab())]

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(OPERATIONS, min_size=8, max_size=30))
    def check(operations: list[tuple]) -> None:
        # A lab of its own for every example: earlier examples' bookings stay out of the way.
        lab = create_lab()
        scene = Scene(actors=cast, monday=next_weekday(0), now=utcnow(), instruments=[
            create_instrument(lab=lab, buffer_minutes=15, requires_approval=True),
            create_instrument(lab=lab)])
        made: list[int] = []
        for operation in operations:
            try:
                if _run(scene, operation, made):
                    event(f"{operation[0]}: done")  # see --hypothesis-show-statistics
            except DomainError as error:
                db.session.rollback()
                _assert_explained(error)
                event(f"{operation[0]}: refused ({error.code})")
            _assert_no_double_holding()

    check()
