"""Actual use of a booking: check-in, check-out, corrections of the actual times, no-shows,
and the scheduler's jobs that close forgotten check-outs, record no-shows and expire requests
nobody decided in time.

Each change is decided on the booking's row read afresh under a lock (``lock``), as every
booking state change is (see ``labbook.booking.services``); the jobs lock the bookings they
work through in id order and re-check each on its locked row. Callers run every service here
inside ``write_transaction``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from labbook.accounts.models import User
from labbook.audit.services import record
from labbook.billing import services as billing
from labbook.booking import discipline, offers
from labbook.booking.models import SLOT_HOLDING, Booking, BookingState
from labbook.booking.services import (
    MAX_NOTE,
    can_view,
    clean_text,
    locked_bookings,
    release_slot,
    transition,
)
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import lock
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.notify import services as notify

#: A booking may be checked in this many minutes before its start (and until its end).
CHECK_IN_EARLY_MINUTES = 15
#: An ``in_use`` booking still open this many minutes after its end is closed automatically.
AUTO_CLOSE_GRACE_MINUTES = 30
#: An approved booking not checked in this many minutes after its start (or by its end, if
#: that comes first) is a no-show.
NO_SHOW_GRACE_MINUTES = 30
#: Corrected actual times must lie within the booked interval widened by this much each side.
CORRECTION_MARGIN = dt.timedelta(hours=12)
#: States whose actual times a manager may correct.
CORRECTABLE = (BookingState.IN_USE, BookingState.COMPLETED)


def _locked_in_state(session: Session, state: BookingState, *conditions,
                     key: Callable[[Booking], Any] = lambda b: (b.start_at, b.id)
                     ) -> list[Booking]:
    """The bookings in ``state`` meeting ``conditions``, locked (``locked_bookings``) and
    still in ``state`` on the locked row, ordered by ``key`` (by default by start): what a
    scheduled job works through. A row a request is changing is waited for, not skipped, so the
    job never misses it."""
    bookings = locked_bookings(session, Booking.state == state, *conditions)
    return sorted((b for b in bookings if b.state == state), key=key)



def _lab_clock(booking: Booking, moment: dt.datetime) -> str:
    return moment.astimezone(ZoneInfo(booking.instrument.lab.timezone)).strftime(
        "%Y-%m-%d %H:%M")


def check_in_opens_at(booking: Booking) -> dt.datetime:
    return booking.start_at - dt.timedelta(minutes=CHECK_IN_EARLY_MINUTES)


def can_check_in(actor: User, booking: Booking, *, now: dt.datetime) -> bool:
    """Whether ``check_in`` would succeed now."""
    return can_view(actor, booking) and booking.state == BookingState.APPROVED \
        and check_in_opens_at(booking) <= now < booking.end_at


def can_check_out(actor: User, booking: Booking) -> bool:
    return can_view(actor, booking) and booking.state == BookingState.IN_USE


def can_correct_actual_times(actor: User, booking: Booking) -> bool:
    return actor.manages(booking.instrument.lab) and booking.state in CORRECTABLE


def check_in(session: Session, actor: User, booking: Booking, *, now: dt.datetime) -> Booking:
    """The booking's user (or one of the lab's managers) starts using the instrument.

    Allowed for an approved booking from ``CHECK_IN_EARLY_MINUTES`` before its start until its
    end; the moment is recorded as it is, early or late. Decided on the booking's row read
    afresh under a lock: of two check-ins at once, the second is ``already_checked_in``.
    """
    lock(session, booking)
    if not can_view(actor, booking):
        raise NotFound(_("No booking with id %(id)d.", id=booking.id))
    if booking.state == BookingState.IN_USE:
        raise Conflict(_("This booking is already checked in."), code="already_checked_in")
    if booking.state != BookingState.APPROVED:
        raise Conflict(_("Only an approved booking can be checked in."), code="invalid_state")
    opens = check_in_opens_at(booking)
    if now < opens:
        raise Conflict(_("Too early to check in: check-in opens %(n)d minutes before the "
                         "start, at %(time)s (lab time).", n=CHECK_IN_EARLY_MINUTES,
                         time=_lab_clock(booking, opens)), code="too_early_to_check_in")
    if now >= booking.end_at:
        raise Conflict(_("The booked time ended at %(time)s (lab time); it can no longer be "
                         "checked in.", time=_lab_clock(booking, booking.end_at)),
                       code="booking_over")
    booking.checked_in_at = now
    transition(session, actor, booking, BookingState.IN_USE, "check_in", now=now,
                checked_in_at=now.isoformat())
    return booking


def check_out(session: Session, actor: User, booking: Booking, *, now: dt.datetime) -> Booking:
    """The use of the instrument ends: ``in_use`` → ``completed``, checked out now (never
    before the check-in). Decided on the booking's row read afresh under a lock: of two
    check-outs at once, the second is ``already_checked_out``."""
    lock(session, booking)
    if not can_view(actor, booking):
        raise NotFound(_("No booking with id %(id)d.", id=booking.id))
    if booking.state == BookingState.COMPLETED:
        raise Conflict(_("This booking is already checked out."), code="already_checked_out")
    if booking.state != BookingState.IN_USE:
        raise Conflict(_("Only a booking that is checked in can be checked out."),
                       code="not_checked_in")
    checked_out_at = max(now, booking.checked_in_at) if booking.checked_in_at else now
    booking.checked_out_at = checked_out_at
    transition(session, actor, booking, BookingState.COMPLETED, "check_out", now=now,
                checked_out_at=checked_out_at.isoformat())
    billing.charge_completed_booking(session, booking, now=now)
    return booking


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _actual_time_problems(booking: Booking, checked_in_at: dt.datetime | None,
                          checked_out_at: dt.datetime | None,
                          now: dt.datetime) -> list[Problem]:
    problems: list[Problem] = []
    earliest = booking.start_at - CORRECTION_MARGIN
    latest = booking.end_at + CORRECTION_MARGIN
    moments = {"checked_in_at": checked_in_at, "checked_out_at": checked_out_at}
    for name, moment in moments.items():
        if moment is None:
            if name == "checked_in_at" or booking.state == BookingState.COMPLETED:
                message = _("Give the time of the check-in.") if name == "checked_in_at" \
                    else _("Give the time of the check-out.")
                problems.append(Problem("required", message, field=name))
        elif moment.tzinfo is None or moment.utcoffset() is None:
            problems.append(Problem("naive_datetime", _(
                "A time without a UTC offset is ambiguous; give e.g. 2026-12-01T09:00:00+08:00."),
                field=name))
        elif not earliest <= moment <= latest:
            problems.append(Problem("out_of_range", _(
                "Actual times must lie between %(earliest)s and %(latest)s (lab time), within "
                "12 hours of the booked time.", earliest=_lab_clock(booking, earliest),
                latest=_lab_clock(booking, latest)), field=name))
        elif moment > now:
            problems.append(Problem("in_future", _("Actual times cannot be in the future."),
                                    field=name))
    if not problems and checked_in_at and checked_out_at and checked_out_at <= checked_in_at:
        problems.append(Problem("invalid_interval", _(
            "The check-out must be after the check-in."), field="checked_out_at"))
    return problems


def correct_actual_times(session: Session, actor: User, booking: Booking, *,
                         checked_in_at: dt.datetime | None, checked_out_at: dt.datetime | None,
                         reason: str, now: dt.datetime) -> Booking:
    """A lab manager sets the actual times of a booking in use or completed, with a reason.

    Both times must be aware, the check-out after the check-in, both within 12 hours of the
    booked interval and not in the future. A completed booking stays completed (it needs both
    times); one in use with a check-out time becomes completed; one in use without stays in use.
    The audit event keeps the old and the new values. A correction that changes nothing is not
    recorded. Decided on the booking's row read afresh under a lock.
    """
    lock(session, booking)
    if not actor.manages(booking.instrument.lab):
        if can_view(actor, booking):
            raise PermissionDenied(_("Only the lab's managers correct actual times."),
                                   code="not_lab_manager")
        raise NotFound(_("No booking with id %(id)d.", id=booking.id))
    reason = clean_text(reason, "reason", MAX_NOTE, required=True)
    if booking.state not in CORRECTABLE:
        raise Conflict(_("Only a booking that is in use or completed has actual times to "
                         "correct."), code="invalid_state")
    problems = _actual_time_problems(booking, checked_in_at, checked_out_at, now)
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    assert checked_in_at is not None
    checked_in_at = checked_in_at.astimezone(dt.UTC)
    checked_out_at = checked_out_at.astimezone(dt.UTC) if checked_out_at else None
    old = {"checked_in_at": _iso(booking.checked_in_at),
           "checked_out_at": _iso(booking.checked_out_at)}
    new = {"checked_in_at": _iso(checked_in_at), "checked_out_at": _iso(checked_out_at)}
    if old == new:
        return booking
    booking.checked_in_at = checked_in_at
    booking.checked_out_at = checked_out_at
    if booking.state == BookingState.IN_USE and checked_out_at is not None:
        transition(session, actor, booking, BookingState.COMPLETED, "correct_actual_times",
                    now=now, note=reason, old=old, new=new)
    else:
        # Calendars show nothing of the actual times: the SEQUENCE stays.
        booking.updated_at = now
        record(session, actor, booking, "correct_actual_times", at=now, note=reason, old=old,
               new=new)
    if booking.state == BookingState.COMPLETED:
        billing.charge_completed_booking(session, booking, now=now)
    return booking


def auto_close(session: Session, *, now: dt.datetime) -> list[Booking]:
    """Complete the bookings still in use ``AUTO_CLOSE_GRACE_MINUTES`` after their end.

    A forgotten check-out counts as leaving at the booked end: ``checked_out_at`` becomes the
    booking's end (never before its check-in). Recorded as the system's ``auto_close``.
    Idempotent: a closed booking is no longer in use. The caller commits (a scheduled job runs
    it inside ``write_transaction``). The bookings are locked, so a check-out in flight is
    waited for and its booking left alone.
    """
    cutoff = now - dt.timedelta(minutes=AUTO_CLOSE_GRACE_MINUTES)
    bookings = _locked_in_state(session, BookingState.IN_USE, Booking.end_at < cutoff,
                                key=lambda b: (b.end_at, b.id))
    for booking in bookings:
        checked_out_at = max(booking.end_at, booking.checked_in_at) \
            if booking.checked_in_at else booking.end_at
        booking.checked_out_at = checked_out_at
        transition(session, None, booking, BookingState.COMPLETED, "auto_close", now=now,
                    checked_out_at=checked_out_at.isoformat(),
                    grace_minutes=AUTO_CLOSE_GRACE_MINUTES)
        billing.charge_completed_booking(session, booking, now=now)
    return bookings


def no_show_at(booking: Booking) -> dt.datetime:
    """When an approved booking that nobody checked in becomes a no-show."""
    return min(booking.start_at + dt.timedelta(minutes=NO_SHOW_GRACE_MINUTES), booking.end_at)


def can_mark_no_show(actor: User, booking: Booking, *, now: dt.datetime) -> bool:
    return actor.manages(booking.instrument.lab) and booking.state == BookingState.APPROVED \
        and now >= no_show_at(booking)


def _mark_no_show(session: Session, actor: User | None, booking: Booking, *,
                  now: dt.datetime) -> None:
    transition(session, actor, booking, BookingState.NO_SHOW, "no_show", now=now,
                grace_minutes=NO_SHOW_GRACE_MINUTES)
    billing.charge_no_show(session, booking, now=now)
    notify.booking_no_show(session, booking, now=now)
    discipline.after_no_show(session, booking, now=now)
    # What is left of the booked time is free again: the waiting list may take it.
    offers.offer_freed_time(session, booking.instrument, booking.blocked_until, now=now)


def mark_no_show(session: Session, actor: User, booking: Booking, *,
                 now: dt.datetime) -> Booking:
    """A lab manager records that nobody came: ``approved`` → ``no_show``, charged at the
    rate card's no-show share. Only once the grace period after the start has passed. Decided
    on the booking's row read afresh under a lock, so a check-in in flight wins or loses whole.
    """
    lock(session, booking)
    if not actor.manages(booking.instrument.lab):
        if can_view(actor, booking):
            raise PermissionDenied(_("Only the lab's managers record no-shows."),
                                   code="not_lab_manager")
        raise NotFound(_("No booking with id %(id)d.", id=booking.id))
    if booking.state != BookingState.APPROVED:
        raise Conflict(_("Only an approved booking that was not checked in can be a no-show."),
                       code="invalid_state")
    if now < no_show_at(booking):
        raise Conflict(_("Too early: a booking becomes a no-show %(n)d minutes after its start "
                         "without a check-in, at %(time)s (lab time).",
                         n=NO_SHOW_GRACE_MINUTES, time=_lab_clock(booking, no_show_at(booking))),
                       code="too_early_for_no_show")
    _mark_no_show(session, actor, booking, now=now)
    return booking


def mark_no_shows(session: Session, *, now: dt.datetime) -> list[Booking]:
    """Mark every approved booking whose grace period passed without a check-in as a no-show
    (the scheduler's job; idempotent). The caller commits. The bookings are locked, so a
    check-in or cancellation in flight is waited for and its booking left alone."""
    cutoff = now - dt.timedelta(minutes=NO_SHOW_GRACE_MINUTES)
    candidates = _locked_in_state(session, BookingState.APPROVED,
                                  or_(Booking.start_at <= cutoff, Booking.end_at <= now))
    bookings = [booking for booking in candidates if now >= no_show_at(booking)]
    for booking in bookings:
        _mark_no_show(session, None, booking, now=now)
    return bookings


def expire_pending(session: Session, *, now: dt.datetime) -> list[Booking]:
    """Expire the requests still pending at their start: nobody decided in time, and the slot
    is given up. The requester is told. The scheduler's job (idempotent); the caller commits.
    The bookings are locked, so a decision or cancellation in flight is waited for and its
    booking left alone."""
    bookings = _locked_in_state(session, BookingState.PENDING, Booking.start_at <= now)
    for booking in bookings:
        transition(session, None, booking, BookingState.EXPIRED, "expire", now=now)
        notify.booking_expired(session, booking, now=now)
        release_slot(session, None, booking, was_holding=True, now=now)
    return bookings


def bookings_of_day(session: Session, lab: Lab, day: dt.date) -> list[Booking]:
    """The bookings of ``lab`` that hold their slot or are completed and run during ``day``
    (lab time), by start."""
    tz = ZoneInfo(lab.timezone)
    start = dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).astimezone(dt.UTC)
    return list(session.scalars(
        select(Booking).join(Booking.instrument)
        .where(Instrument.lab_id == lab.id,
               Booking.state.in_([*SLOT_HOLDING, BookingState.COMPLETED]),
               Booking.start_at < end, Booking.end_at > start)
        .options(joinedload(Booking.instrument), joinedload(Booking.user),
                 joinedload(Booking.organization))
        .order_by(Booking.start_at, Booking.id)))
