"""Actual use of booked time: check-in, check-out, managers' corrections, forgotten check-outs.

The services are called with an explicit ``now``; the booking runs 10:00–12:00 lab time.
"""

import datetime as dt
import time

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge, ChargeKind
from labbook.booking import attendance
from labbook.booking.models import Booking, BookingState
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.factories import (
    create_admin,
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
)

MONDAY = next_weekday(0)
START = lab_time(MONDAY, 10)
END = lab_time(MONDAY, 12)
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def lab():
    return create_lab(code="NEM")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab)


@pytest.fixture
def researcher():
    return create_user(name="Researcher Zhao")


@pytest.fixture
def manager(lab):
    return create_manager(lab, name="Manager Wang")


@pytest.fixture
def booking(instrument, researcher):
    return create_booking(instrument=instrument, user=researcher, start_at=START, end_at=END)


@pytest.fixture
def english():
    with force_locale("en"):
        yield


def events(booking, action=None):
    query = select(AuditEvent).where(AuditEvent.object_type == "bookings",
                                     AuditEvent.object_id == booking.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def in_use(booking, checked_in_at=START):
    booking.state = BookingState.IN_USE
    booking.checked_in_at = checked_in_at
    db.session.commit()
    return booking


def completed(booking, checked_in_at=START, checked_out_at=END - 30 * MINUTE):
    booking.state = BookingState.COMPLETED
    booking.checked_in_at = checked_in_at
    booking.checked_out_at = checked_out_at
    db.session.commit()
    return booking


# -- check-in ---------------------------------------------------------------------------------


def test_check_in_by_the_booking_user(booking, researcher):
    now = START - 5 * MINUTE
    sequence = booking.sequence

    attendance.check_in(db.session, researcher, booking, now=now)
    db.session.commit()

    assert booking.state == BookingState.IN_USE
    assert booking.checked_in_at == now
    assert booking.checked_out_at is None
    assert booking.sequence == sequence + 1 and booking.updated_at == now
    [event] = events(booking, "check_in")
    assert (event.actor_id, event.from_state, event.to_state) == (researcher.id, "approved",
                                                                   "in_use")
    assert event.at == now
    assert event.details["checked_in_at"] == now.isoformat()


@pytest.mark.parametrize("now", [START - attendance.CHECK_IN_EARLY_MINUTES * MINUTE, START,
                                 START + 90 * MINUTE, END - MINUTE])
def test_check_in_is_open_from_15_minutes_before_until_the_end(booking, researcher, now):
    assert attendance.can_check_in(researcher, booking, now=now)
    attendance.check_in(db.session, researcher, booking, now=now)
    assert booking.state == BookingState.IN_USE and booking.checked_in_at == now


@pytest.mark.parametrize("early", [16 * MINUTE, 15 * MINUTE + dt.timedelta(microseconds=1)])
def test_check_in_too_early(booking, researcher, english, early):
    now = START - early
    assert not attendance.can_check_in(researcher, booking, now=now)
    with pytest.raises(Conflict) as refused:
        attendance.check_in(db.session, researcher, booking, now=now)
    assert refused.value.code == "too_early_to_check_in"
    assert refused.value.message == (
        f"Too early to check in: check-in opens 15 minutes before the start, at "
        f"{MONDAY:%Y-%m-%d} 09:45 (lab time).")
    assert booking.state == BookingState.APPROVED and booking.checked_in_at is None
    assert events(booking) == []


@pytest.mark.parametrize("now", [END, END + MINUTE, END + dt.timedelta(days=1)])
def test_check_in_after_the_end(booking, researcher, now, english):
    assert not attendance.can_check_in(researcher, booking, now=now)
    with pytest.raises(Conflict) as refused:
        attendance.check_in(db.session, researcher, booking, now=now)
    assert (refused.value.code, refused.value.message) == (
        "booking_over", f"The booked time ended at {MONDAY:%Y-%m-%d} 12:00 (lab time); it can "
        "no longer be checked in.")
    assert booking.state == BookingState.APPROVED


NOT_APPROVED = "Only an approved booking can be checked in."


@pytest.mark.parametrize(("state", "code", "message"), [
    (BookingState.PENDING, "invalid_state", NOT_APPROVED),
    (BookingState.CANCELLED, "invalid_state", NOT_APPROVED),
    (BookingState.REJECTED, "invalid_state", NOT_APPROVED),
    (BookingState.NO_SHOW, "invalid_state", NOT_APPROVED),
    (BookingState.COMPLETED, "invalid_state", NOT_APPROVED),
    (BookingState.IN_USE, "already_checked_in", "This booking is already checked in."),
])
def test_check_in_needs_an_approved_booking(instrument, researcher, state, code, message,
                                            english):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=END, state=state)
    with pytest.raises(Conflict) as refused:
        attendance.check_in(db.session, researcher, booking, now=START)
    assert (refused.value.code, refused.value.message) == (code, message)
    assert booking.state == state


def test_a_manager_of_the_lab_checks_someone_in(booking, manager):
    assert attendance.can_check_in(manager, booking, now=START)
    attendance.check_in(db.session, manager, booking, now=START)
    assert booking.state == BookingState.IN_USE
    assert events(booking, "check_in")[0].actor_id == manager.id


def test_admins_may_check_in_too(booking):
    attendance.check_in(db.session, create_admin(), booking, now=START)
    assert booking.state == BookingState.IN_USE


@pytest.mark.parametrize("who", ["stranger", "colleague", "other_manager"])
def test_nobody_else_checks_in_or_out(booking, researcher, who, english):
    actor = {"stranger": lambda: create_user(),
             "colleague": lambda: create_user(organization=researcher.organization),
             "other_manager": lambda: create_manager(create_lab())}[who]()
    assert not attendance.can_check_in(actor, booking, now=START)
    with pytest.raises(NotFound) as refused:
        attendance.check_in(db.session, actor, booking, now=START)
    assert refused.value.message == f"No booking with id {booking.id}."
    in_use(booking)
    assert not attendance.can_check_out(actor, booking)
    with pytest.raises(NotFound) as refused:
        attendance.check_out(db.session, actor, booking, now=START + MINUTE)
    assert refused.value.message == f"No booking with id {booking.id}."
    assert booking.state == BookingState.IN_USE


# -- check-out --------------------------------------------------------------------------------


def test_check_out(booking, researcher):
    attendance.check_in(db.session, researcher, booking, now=START)
    db.session.commit()
    sequence = booking.sequence
    now = START + 95 * MINUTE

    assert attendance.can_check_out(researcher, booking)
    attendance.check_out(db.session, researcher, booking, now=now)
    db.session.commit()

    assert booking.state == BookingState.COMPLETED
    assert (booking.checked_in_at, booking.checked_out_at) == (START, now)
    assert booking.sequence == sequence + 1 and booking.updated_at == now
    [event] = events(booking, "check_out")
    assert (event.actor_id, event.from_state, event.to_state) == (researcher.id, "in_use",
                                                                   "completed")
    assert event.details["checked_out_at"] == now.isoformat()


def test_check_out_after_the_end_is_recorded_as_it_is(booking, researcher):
    in_use(booking)
    attendance.check_out(db.session, researcher, booking, now=END + 20 * MINUTE)
    assert booking.checked_out_at == END + 20 * MINUTE


def test_check_out_is_never_before_the_check_in(booking, manager):
    in_use(booking, checked_in_at=START + 10 * MINUTE)
    attendance.check_out(db.session, manager, booking, now=START + 5 * MINUTE)
    assert booking.checked_out_at == booking.checked_in_at == START + 10 * MINUTE


NOT_CHECKED_IN = "Only a booking that is checked in can be checked out."


@pytest.mark.parametrize(("state", "code", "message"), [
    (BookingState.APPROVED, "not_checked_in", NOT_CHECKED_IN),
    (BookingState.PENDING, "not_checked_in", NOT_CHECKED_IN),
    (BookingState.CANCELLED, "not_checked_in", NOT_CHECKED_IN),
    (BookingState.COMPLETED, "already_checked_out", "This booking is already checked out."),
])
def test_check_out_needs_a_booking_in_use(instrument, researcher, state, code, message,
                                          english):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=END, state=state)
    assert not attendance.can_check_out(researcher, booking)
    with pytest.raises(Conflict) as refused:
        attendance.check_out(db.session, researcher, booking, now=START + MINUTE)
    assert (refused.value.code, refused.value.message) == (code, message)
    assert booking.state == state and booking.checked_out_at is None


# -- corrections by the lab's managers --------------------------------------------------------


def test_a_manager_corrects_a_completed_booking(booking, manager):
    completed(booking)
    sequence = booking.sequence
    now = END + dt.timedelta(hours=2)
    new_in, new_out = START + 5 * MINUTE, END + 10 * MINUTE

    attendance.correct_actual_times(db.session, manager, booking, checked_in_at=new_in,
                                    checked_out_at=new_out, reason="  Sample ran long  ", now=now)
    db.session.commit()

    assert booking.state == BookingState.COMPLETED
    assert (booking.checked_in_at, booking.checked_out_at) == (new_in, new_out)
    # Calendars show nothing of the actual times: the SEQUENCE stays.
    assert booking.sequence == sequence and booking.updated_at == now
    [event] = events(booking, "correct_actual_times")
    assert event.actor_id == manager.id and event.note == "Sample ran long"
    assert event.from_state is None and event.to_state is None
    assert event.details == {
        "old": {"checked_in_at": START.isoformat(),
                "checked_out_at": (END - 30 * MINUTE).isoformat()},
        "new": {"checked_in_at": new_in.isoformat(), "checked_out_at": new_out.isoformat()}}


def test_a_correction_with_a_check_out_completes_a_booking_in_use(booking, manager):
    in_use(booking)
    sequence = booking.sequence
    attendance.correct_actual_times(db.session, manager, booking, checked_in_at=START,
                                    checked_out_at=END, reason="Forgot to check out",
                                    now=END + MINUTE)
    assert booking.state == BookingState.COMPLETED
    assert booking.checked_out_at == END and booking.sequence == sequence + 1
    [event] = events(booking, "correct_actual_times")
    assert (event.actor_id, event.note) == (manager.id, "Forgot to check out")
    assert (event.from_state, event.to_state) == ("in_use", "completed")
    assert event.details["old"]["checked_out_at"] is None
    assert event.details["new"]["checked_out_at"] == END.isoformat()


def test_a_correction_without_a_check_out_keeps_the_booking_in_use(booking, manager):
    in_use(booking, checked_in_at=START + 20 * MINUTE)
    attendance.correct_actual_times(db.session, manager, booking, checked_in_at=START,
                                    checked_out_at=None, reason="Was there at 10",
                                    now=START + 30 * MINUTE)
    assert booking.state == BookingState.IN_USE
    assert (booking.checked_in_at, booking.checked_out_at) == (START, None)


def test_times_in_any_offset_are_stored_in_utc(booking, manager):
    completed(booking)
    beijing = dt.timezone(dt.timedelta(hours=8))
    attendance.correct_actual_times(
        db.session, manager, booking, checked_in_at=START.astimezone(beijing),
        checked_out_at=END.astimezone(beijing), reason="Clock", now=END + MINUTE)
    assert booking.checked_in_at.utcoffset() == dt.timedelta(0)
    assert booking.checked_in_at == START


def test_a_correction_that_changes_nothing_is_not_recorded(booking, manager):
    completed(booking)
    attendance.correct_actual_times(db.session, manager, booking, checked_in_at=START,
                                    checked_out_at=END - 30 * MINUTE, reason="Checked",
                                    now=END + MINUTE)
    assert events(booking, "correct_actual_times") == []


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_correction_needs_a_reason(booking, manager, reason):
    completed(booking)
    with pytest.raises(ValidationError) as refused:
        attendance.correct_actual_times(db.session, manager, booking, checked_in_at=START,
                                        checked_out_at=END, reason=reason, now=END + MINUTE)
    assert refused.value.problems[0].field == "reason"
    assert booking.checked_out_at == END - 30 * MINUTE
    assert events(booking) == []


def test_the_researcher_may_not_correct_their_own_times(booking, researcher, english):
    completed(booking)
    with pytest.raises(PermissionDenied) as refused:
        attendance.correct_actual_times(db.session, researcher, booking, checked_in_at=START,
                                        checked_out_at=END, reason="I stayed", now=END + MINUTE)
    assert (refused.value.code, refused.value.message) == (
        "not_lab_manager", "Only the lab's managers correct actual times.")
    assert booking.checked_out_at == END - 30 * MINUTE
    assert not attendance.can_correct_actual_times(researcher, booking)


def test_strangers_and_other_labs_managers_do_not_even_see_the_booking(booking, english):
    completed(booking)
    for actor in (create_user(), create_manager(create_lab())):
        with pytest.raises(NotFound) as refused:
            attendance.correct_actual_times(db.session, actor, booking, checked_in_at=START,
                                            checked_out_at=END, reason="x", now=END + MINUTE)
        assert refused.value.message == f"No booking with id {booking.id}."


@pytest.mark.parametrize("state", [BookingState.APPROVED, BookingState.PENDING,
                                   BookingState.CANCELLED, BookingState.NO_SHOW])
def test_only_bookings_in_use_or_completed_have_times_to_correct(instrument, manager, state,
                                                                english):
    booking = create_booking(instrument=instrument, start_at=START, end_at=END, state=state)
    assert not attendance.can_correct_actual_times(manager, booking)
    with pytest.raises(Conflict) as refused:
        attendance.correct_actual_times(db.session, manager, booking, checked_in_at=START,
                                        checked_out_at=END, reason="x", now=END + MINUTE)
    assert (refused.value.code, refused.value.message) == (
        "invalid_state", "Only a booking that is in use or completed has actual times to "
        "correct.")
    assert booking.state == state and booking.checked_in_at is None


class NoOffset(dt.tzinfo):
    """A time zone that knows no offset: its times are as ambiguous as naive ones."""

    def utcoffset(self, moment):
        return None


OUT_OF_RANGE = (f"Actual times must lie between {MONDAY - dt.timedelta(days=1):%Y-%m-%d} 22:00 "
                f"and {MONDAY + dt.timedelta(days=1):%Y-%m-%d} 00:00 (lab time), within 12 "
                "hours of the booked time.")
NAIVE = "A time without a UTC offset is ambiguous; give e.g. 2026-12-01T09:00:00+08:00."


@pytest.mark.parametrize(("checked_in_at", "checked_out_at", "code", "field", "message"), [
    (START, START, "invalid_interval", "checked_out_at",
     "The check-out must be after the check-in."),
    (START + MINUTE, START, "invalid_interval", "checked_out_at",
     "The check-out must be after the check-in."),
    (START.replace(tzinfo=None), END, "naive_datetime", "checked_in_at", NAIVE),
    (START, END.replace(tzinfo=None), "naive_datetime", "checked_out_at", NAIVE),
    (START.replace(tzinfo=NoOffset()), END, "naive_datetime", "checked_in_at", NAIVE),
    (START - dt.timedelta(hours=12, minutes=1), END, "out_of_range", "checked_in_at",
     OUT_OF_RANGE),
    (START, END + dt.timedelta(hours=12, minutes=1), "out_of_range", "checked_out_at",
     OUT_OF_RANGE),
    (START, END + dt.timedelta(hours=2, microseconds=1), "in_future", "checked_out_at",
     "Actual times cannot be in the future."),
    (None, END, "required", "checked_in_at", "Give the time of the check-in."),
    # A completed booking keeps a check-out.
    (START, None, "required", "checked_out_at", "Give the time of the check-out."),
])
def test_bad_times_are_refused_and_change_nothing(booking, manager, english, checked_in_at,
                                                  checked_out_at, code, field, message):
    completed(booking)
    with pytest.raises(ValidationError) as refused:
        attendance.correct_actual_times(db.session, manager, booking,
                                        checked_in_at=checked_in_at,
                                        checked_out_at=checked_out_at, reason="Fix",
                                        now=END + dt.timedelta(hours=2))
    assert [(p.code, p.field, p.message) for p in refused.value.problems] == [
        (code, field, message)]
    assert (refused.value.code, refused.value.message) == (code, message)
    assert refused.value.status == 422
    assert (booking.checked_in_at, booking.checked_out_at) == (START, END - 30 * MINUTE)
    assert events(booking) == []


def test_the_widest_correction_allowed(booking, manager):
    completed(booking)
    attendance.correct_actual_times(
        db.session, manager, booking, checked_in_at=START - dt.timedelta(hours=12),
        checked_out_at=END + dt.timedelta(hours=12), reason="Overnight run",
        now=END + dt.timedelta(days=1))
    assert booking.checked_out_at == END + dt.timedelta(hours=12)


def test_a_correction_may_end_at_this_very_moment(booking, manager):
    in_use(booking)
    now = START + 50 * MINUTE
    attendance.correct_actual_times(db.session, manager, booking, checked_in_at=START,
                                    checked_out_at=now, reason="Left just now", now=now)
    assert (booking.state, booking.checked_out_at) == (BookingState.COMPLETED, now)


def test_a_booking_in_use_without_a_check_in_time_needs_one_and_no_check_out(
        instrument, researcher, manager, english):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=END, state=BookingState.IN_USE)
    with pytest.raises(ValidationError) as refused:
        attendance.correct_actual_times(db.session, manager, booking, checked_in_at=None,
                                        checked_out_at=None, reason="Fix", now=END)
    assert [(p.code, p.field) for p in refused.value.problems] == [("required",
                                                                     "checked_in_at")]


def test_corrections_are_kept_in_utc_on_a_server_on_china_time(booking, manager, monkeypatch):
    completed(booking)
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        attendance.correct_actual_times(db.session, manager, booking,
                                        checked_in_at=START + MINUTE, checked_out_at=END,
                                        reason="Clock", now=END + MINUTE)
    finally:
        monkeypatch.undo()
        time.tzset()
    db.session.commit()
    [event] = events(booking, "correct_actual_times")
    assert event.details["new"] == {"checked_in_at": (START + MINUTE).isoformat(),
                                    "checked_out_at": END.isoformat()}
    assert event.details["new"]["checked_in_at"].endswith("+00:00")


# -- forgotten check-outs ---------------------------------------------------------------------


def test_auto_close_completes_forgotten_check_outs_at_the_booked_end(booking):
    in_use(booking, checked_in_at=START + 3 * MINUTE)
    sequence = booking.sequence
    now = END + (attendance.AUTO_CLOSE_GRACE_MINUTES + 1) * MINUTE

    closed = attendance.auto_close(db.session, now=now)
    db.session.commit()

    assert closed == [booking]
    assert booking.state == BookingState.COMPLETED
    assert (booking.checked_in_at, booking.checked_out_at) == (START + 3 * MINUTE, END)
    assert booking.sequence == sequence + 1 and booking.updated_at == now
    [event] = events(booking, "auto_close")
    assert event.actor_id is None and event.at == now
    assert (event.from_state, event.to_state) == ("in_use", "completed")
    assert event.details["checked_out_at"] == END.isoformat()


def test_auto_close_is_idempotent(booking):
    in_use(booking)
    now = END + dt.timedelta(hours=1)
    assert attendance.auto_close(db.session, now=now) == [booking]
    db.session.commit()
    assert attendance.auto_close(db.session, now=now) == []
    assert attendance.auto_close(db.session, now=now + dt.timedelta(days=1)) == []
    db.session.commit()
    assert len(events(booking, "auto_close")) == 1
    assert booking.checked_out_at == END


def test_auto_close_leaves_everything_else_alone(lab, researcher):
    grace = attendance.AUTO_CLOSE_GRACE_MINUTES * MINUTE
    now = END + dt.timedelta(hours=3)

    def make(state, end, **extra):
        # One instrument each: PostgreSQL refuses overlapping slot-holding bookings.
        return create_booking(instrument=create_instrument(lab=lab), user=researcher,
                              state=state,
                              start_at=end - dt.timedelta(hours=1), end_at=end, **extra)

    within_grace = make(BookingState.IN_USE, now - grace, checked_in_at=now - grace - 2 * MINUTE)
    still_running = make(BookingState.IN_USE, now + dt.timedelta(hours=1),
                         checked_in_at=now - MINUTE)
    never_checked_in = make(BookingState.APPROVED, END)
    pending = make(BookingState.PENDING, END - dt.timedelta(hours=1))
    done = make(BookingState.COMPLETED, END - dt.timedelta(hours=2),
                checked_in_at=START - dt.timedelta(hours=3),
                checked_out_at=END - dt.timedelta(hours=2, minutes=10))
    forgotten = make(BookingState.IN_USE, now - grace - MINUTE,
                     checked_in_at=now - dt.timedelta(hours=2))
    other_lab = create_booking(instrument=create_instrument(), state=BookingState.IN_USE,
                               start_at=START, end_at=END, checked_in_at=START)

    closed = attendance.auto_close(db.session, now=now)
    db.session.commit()

    # Every lab's, the longest forgotten first.
    assert [b.id for b in closed] == [other_lab.id, forgotten.id]
    assert all(b.state == BookingState.COMPLETED for b in closed)
    for untouched, state in [(within_grace, BookingState.IN_USE),
                             (still_running, BookingState.IN_USE),
                             (never_checked_in, BookingState.APPROVED),
                             (pending, BookingState.PENDING)]:
        db.session.refresh(untouched)
        assert untouched.state == state and untouched.checked_out_at is None
        assert events(untouched) == []
    db.session.refresh(done)
    assert done.checked_out_at == END - dt.timedelta(hours=2, minutes=10)
    assert events(done) == []


def test_auto_close_keeps_the_check_out_after_a_late_check_in(booking, manager):
    # A correction may put the check-in after the booked end (within 12 hours).
    in_use(booking, checked_in_at=END + 10 * MINUTE)
    attendance.auto_close(db.session, now=END + dt.timedelta(hours=1))
    assert booking.checked_out_at == booking.checked_in_at == END + 10 * MINUTE


def test_auto_close_takes_the_longest_forgotten_first_and_records_its_grace(lab, researcher):
    def forgotten(start, end):
        return create_booking(instrument=create_instrument(lab=lab), user=researcher,
                              state=BookingState.IN_USE, start_at=start, end_at=end,
                              checked_in_at=start)

    long_run = forgotten(START - dt.timedelta(hours=3), END)
    short_run = forgotten(START, END - HOUR)
    now = END + dt.timedelta(hours=1)

    assert attendance.auto_close(db.session, now=now) == [short_run, long_run]
    db.session.commit()
    [event] = events(long_run, "auto_close")
    assert event.details["grace_minutes"] == 30
    charge = db.session.scalars(select(Charge).where(Charge.booking_id == long_run.id)).one()
    assert (charge.kind, charge.created_at) == (ChargeKind.USAGE, now)


def test_auto_close_of_a_booking_in_use_without_a_check_in_time_ends_it_at_its_end(
        instrument, researcher):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=END, state=BookingState.IN_USE)
    attendance.auto_close(db.session, now=END + HOUR)
    assert (booking.state, booking.checked_out_at) == (BookingState.COMPLETED, END)


def test_check_out_of_a_booking_in_use_without_a_check_in_time_is_now(instrument, researcher):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=END, state=BookingState.IN_USE)
    attendance.check_out(db.session, researcher, booking, now=START + MINUTE)
    assert (booking.state, booking.checked_out_at) == (BookingState.COMPLETED, START + MINUTE)


# -- no-shows and requests nobody decided ---------------------------------------------------------


def outbox(kind):
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


@pytest.mark.parametrize(("minutes", "no_show_at"), [
    (120, START + 30 * MINUTE),  # half an hour after the start
    (30, START + 30 * MINUTE),
    (20, START + 20 * MINUTE),  # or at the end, if that comes first
])
def test_a_booking_becomes_a_no_show_half_an_hour_after_its_start_or_at_its_end(
        instrument, researcher, manager, minutes, no_show_at):
    booking = create_booking(instrument=instrument, user=researcher, start_at=START,
                             end_at=START + minutes * MINUTE)
    assert attendance.no_show_at(booking) == no_show_at
    before = no_show_at - dt.timedelta(microseconds=1)
    assert not attendance.can_mark_no_show(manager, booking, now=before)
    assert attendance.mark_no_shows(db.session, now=before) == []
    assert attendance.can_mark_no_show(manager, booking, now=no_show_at)
    assert attendance.mark_no_shows(db.session, now=no_show_at) == [booking]
    assert booking.state == BookingState.NO_SHOW


def test_a_manager_records_a_no_show(booking, manager, researcher):
    now = START + 30 * MINUTE
    attendance.mark_no_show(db.session, manager, booking, now=now)
    db.session.commit()

    assert booking.state == BookingState.NO_SHOW
    [event] = events(booking, "no_show")
    assert (event.actor_id, event.at, event.from_state, event.to_state) == (
        manager.id, now, "approved", "no_show")
    assert event.details["grace_minutes"] == 30
    charge = db.session.scalars(select(Charge).where(Charge.booking_id == booking.id)).one()
    assert (charge.kind, charge.created_at) == (ChargeKind.NO_SHOW, now)
    [message] = outbox("booking_no_show")
    assert (message.recipient, message.created_at) == (researcher.email, now)


def test_what_refusing_a_no_show_says(booking, manager, researcher, english):
    with pytest.raises(Conflict) as early:
        attendance.mark_no_show(db.session, manager, booking, now=START + 29 * MINUTE)
    assert (early.value.code, early.value.message) == (
        "too_early_for_no_show", "Too early: a booking becomes a no-show 30 minutes after its "
        f"start without a check-in, at {MONDAY:%Y-%m-%d} 10:30 (lab time).")
    with pytest.raises(PermissionDenied) as own:
        attendance.mark_no_show(db.session, researcher, booking, now=END)
    assert (own.value.code, own.value.message) == ("not_lab_manager",
                                                   "Only the lab's managers record no-shows.")
    with pytest.raises(NotFound) as hidden:
        attendance.mark_no_show(db.session, create_manager(create_lab()), booking, now=END)
    assert hidden.value.message == f"No booking with id {booking.id}."
    assert booking.state == BookingState.APPROVED and events(booking) == []
    in_use(booking)
    with pytest.raises(Conflict) as checked_in:
        attendance.mark_no_show(db.session, manager, booking, now=END)
    assert (checked_in.value.code, checked_in.value.message) == (
        "invalid_state", "Only an approved booking that was not checked in can be a no-show.")


def test_the_no_show_job_marks_the_earliest_first(lab, researcher):
    later = create_booking(instrument=create_instrument(lab=lab), user=researcher,
                           start_at=START + HOUR, end_at=END)
    earlier = create_booking(instrument=create_instrument(lab=lab), user=researcher,
                             start_at=START, end_at=END)
    assert attendance.mark_no_shows(db.session, now=END) == [earlier, later]
    assert [e.actor_id for e in events(earlier, "no_show")] == [None]


def test_requests_nobody_decided_expire_at_their_start(lab, researcher):
    later = create_booking(instrument=create_instrument(lab=lab), user=researcher,
                           start_at=START + HOUR, end_at=END, state=BookingState.PENDING)
    earlier = create_booking(instrument=create_instrument(lab=lab), user=researcher,
                             start_at=START, end_at=END, state=BookingState.PENDING)
    assert attendance.expire_pending(db.session, now=START - MINUTE) == []
    assert attendance.expire_pending(db.session, now=START + HOUR) == [earlier, later]
    db.session.commit()
    [event] = events(earlier, "expire")
    assert (event.actor_id, event.at, event.to_state) == (None, START + HOUR, "expired")
    assert {m.created_at for m in outbox("booking_expired")} == {START + HOUR}


# -- the lab's day ------------------------------------------------------------------------------


def test_bookings_of_day_lists_slot_holding_and_completed_bookings_by_start(lab, instrument):
    other = create_instrument(lab=lab)

    def make(instrument, hour, state, day=MONDAY):
        return create_booking(instrument=instrument, state=state,
                              start_at=lab_time(day, hour),
                              end_at=lab_time(day, hour) + dt.timedelta(hours=1))

    late = make(instrument, 16, BookingState.COMPLETED)
    early = make(other, 8, BookingState.PENDING)
    middle = make(instrument, 11, BookingState.IN_USE)
    approved = make(other, 13, BookingState.APPROVED)
    make(instrument, 9, BookingState.CANCELLED)
    make(instrument, 10, BookingState.NO_SHOW)
    make(instrument, 12, BookingState.REJECTED)
    make(instrument, 10, BookingState.APPROVED, day=MONDAY + dt.timedelta(days=1))
    make(create_instrument(), 10, BookingState.APPROVED)  # another lab
    overnight = create_booking(instrument=other, state=BookingState.APPROVED,
                               start_at=lab_time(MONDAY - dt.timedelta(days=1), 20),
                               end_at=lab_time(MONDAY, 6))
    # At the day's edges, midnight lab time: the first half hour is the day's, the booking
    # ending at midnight before it and the one starting at midnight after it are not.
    first_half_hour = create_booking(instrument=instrument, state=BookingState.APPROVED,
                                     start_at=lab_time(MONDAY, 0),
                                     end_at=lab_time(MONDAY, 0, 30))
    create_booking(instrument=instrument, state=BookingState.APPROVED,
                   start_at=lab_time(MONDAY - dt.timedelta(days=1), 23),
                   end_at=lab_time(MONDAY, 0))
    create_booking(instrument=instrument, state=BookingState.APPROVED,
                   start_at=lab_time(MONDAY + dt.timedelta(days=1), 0),
                   end_at=lab_time(MONDAY + dt.timedelta(days=1), 1))

    listed = attendance.bookings_of_day(db.session, lab, MONDAY)

    assert listed == [overnight, first_half_hour, early, middle, approved, late]
    assert all(isinstance(b, Booking) for b in listed)
