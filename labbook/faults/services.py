"""The instrument log: a user reports a problem from a booking or an instrument's page; the
lab's managers answer it, put the instrument into maintenance from it, record cause, fix and
the time it was down, and close it. Managers also log breakdowns and maintenance directly.

Every entry that has ``down_from`` adds its time out of use to the instrument's downtime
(``downtime_intervals``, read by the open-sharing statistics).

A state change reads the entry under a lock first (``locked``), then decides; the instrument's
status is changed through ``catalogue.services.change_instrument_status``, which locks the
instrument. Callers run every change here inside ``write_transaction``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from labbook import links
from labbook.accounts.models import User, lab_managers
from labbook.accounts.services import managed_labs
from labbook.audit.services import record
from labbook.booking.models import Blackout, Booking
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab
from labbook.catalogue.services import change_instrument_status
from labbook.core.engine import locked
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.faults.models import FaultKind, FaultState, InstrumentFault
from labbook.i18n import localized
from labbook.notify.models import OutboxMessage
from labbook.notify.services import enqueue, lab_staff, post_to_lab_robot

MAX_DESCRIPTION = 2000
MAX_DETAIL = 2000
MAX_ANSWER = 2000
#: Kinds a manager files an entry under (a user's report starts as a problem).
LOGGED_KINDS = (FaultKind.BREAKDOWN, FaultKind.MAINTENANCE)


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError(message, problems=[Problem(code, message, field=field)])


def _text(value: str | None, field: str, limit: int, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise _invalid(field, _("This field is required."), "required")
    if len(text) > limit:
        raise _invalid(field, _("At most %(n)d characters.", n=limit), "too_long_text")
    return text


def _kind(value: FaultKind | str | None, allowed: Sequence[FaultKind]) -> FaultKind:
    try:
        kind = FaultKind(value)
    except ValueError:
        kind = None
    if kind not in allowed:
        raise _invalid("kind", _("Choose breakdown or maintenance."))
    return kind


def can_manage(actor: User, instrument: Instrument) -> bool:
    return actor.manages_lab_id(instrument.lab_id)


def _require_manager(actor: User, instrument: Instrument) -> None:
    if not can_manage(actor, instrument):
        raise PermissionDenied(_("Only the lab's managers handle its instruments' faults."))


# -- reading ----------------------------------------------------------------------------------


def get_fault(session: Session, actor: User, fault_id: int) -> InstrumentFault:
    """The entry, for the managers of its lab (a 404 for anyone else)."""
    fault = session.get(InstrumentFault, fault_id)
    if fault is None or not can_manage(actor, fault.instrument):
        raise NotFound(_("No fault report with id %(id)d.", id=fault_id))
    return fault


def visible_fault(session: Session, actor: User, fault_id: int) -> InstrumentFault:
    """The entry, for the managers of its lab and the person who reported it."""
    fault = session.get(InstrumentFault, fault_id)
    if fault is None or not (can_manage(actor, fault.instrument)
                             or fault.reported_by_id == actor.id):
        raise NotFound(_("No fault report with id %(id)d.", id=fault_id))
    return fault


def visible_faults(actor: User, state: FaultState | None):
    """A query of the entries ``actor`` may see (the labs they manage, and what they
    reported), newest first."""
    lab_ids = select(Lab.id) if actor.is_admin else \
        select(lab_managers.c.lab_id).where(lab_managers.c.user_id == actor.id) \
        if actor.is_lab_manager else None
    seen = InstrumentFault.reported_by_id == actor.id
    if lab_ids is not None:
        seen = or_(seen, InstrumentFault.instrument_id.in_(
            select(Instrument.id).where(Instrument.lab_id.in_(lab_ids))))
    query = (select(InstrumentFault).where(seen)
             .options(selectinload(InstrumentFault.instrument))
             .order_by(InstrumentFault.reported_at.desc(), InstrumentFault.id.desc()))
    if state is not None:
        query = query.where(InstrumentFault.state == state)
    return query


def managed_faults(session: Session, actor: User, *, state: FaultState | None = FaultState.OPEN,
                   limit: int = 200) -> list[InstrumentFault]:
    """Entries of the instruments of the labs ``actor`` manages, newest first."""
    lab_ids = [lab.id for lab in managed_labs(session, actor)]
    if not lab_ids:
        return []
    query = (select(InstrumentFault).join(InstrumentFault.instrument)
             .where(Instrument.lab_id.in_(lab_ids))
             .options(selectinload(InstrumentFault.instrument),
                      selectinload(InstrumentFault.reported_by))
             .order_by(InstrumentFault.reported_at.desc(), InstrumentFault.id.desc())
             .limit(limit))
    if state is not None:
        query = query.where(InstrumentFault.state == state)
    return list(session.scalars(query))


def instrument_log(session: Session, instrument: Instrument, *,
                   limit: int = 100) -> list[InstrumentFault]:
    """The instrument's log, newest first."""
    return list(session.scalars(
        select(InstrumentFault).where(InstrumentFault.instrument_id == instrument.id)
        .options(selectinload(InstrumentFault.reported_by))
        .order_by(InstrumentFault.reported_at.desc(), InstrumentFault.id.desc())
        .limit(limit)))


def own_reports(session: Session, actor: User, instrument: Instrument, *,
                limit: int = 20) -> list[InstrumentFault]:
    """What ``actor`` reported about the instrument, with the lab's answers, newest first."""
    return list(session.scalars(
        select(InstrumentFault).where(InstrumentFault.instrument_id == instrument.id,
                                      InstrumentFault.reported_by_id == actor.id)
        .order_by(InstrumentFault.reported_at.desc(), InstrumentFault.id.desc())
        .limit(limit)))


def reportable_booking(session: Session, actor: User, instrument: Instrument,
                       booking_id: int | None) -> Booking | None:
    """The booking a report is made from: one of ``actor``'s own on this instrument."""
    if booking_id is None:
        return None
    booking = session.get(Booking, booking_id)
    if booking is None or booking.user_id != actor.id or \
            booking.instrument_id != instrument.id:
        raise _invalid("booking_id", _("That is none of your bookings of this instrument."))
    return booking


# -- downtime ---------------------------------------------------------------------------------

Interval = tuple[dt.datetime, dt.datetime]


def downtime_intervals(session: Session, instrument_ids: Sequence[int], start: dt.datetime,
                       end: dt.datetime, *, now: dt.datetime) -> dict[int, list[Interval]]:
    """Per instrument, the time in [start, end) it was out of use, as disjoint intervals
    sorted by start: log entries with a ``down_from`` (still down: until ``now``) and closures
    (blackouts) of the instrument itself, overlaps counted once."""
    raw: dict[int, list[Interval]] = {}
    if not instrument_ids:
        return raw
    down_until = InstrumentFault.down_until
    rows = session.execute(
        select(InstrumentFault.instrument_id, InstrumentFault.down_from, down_until)
        .where(InstrumentFault.instrument_id.in_(instrument_ids),
               InstrumentFault.down_from.is_not(None), InstrumentFault.down_from < end,
               or_(down_until.is_(None), down_until > start)))
    for instrument_id, down_from, until in rows:
        raw.setdefault(instrument_id, []).append((down_from, until or max(now, down_from)))
    closures = session.execute(
        select(Blackout.instrument_id, Blackout.start_at, Blackout.end_at)
        .where(Blackout.instrument_id.in_(instrument_ids),
               and_(Blackout.start_at < end, Blackout.end_at > start)))
    for instrument_id, closure_start, closure_end in closures:
        raw.setdefault(instrument_id, []).append((closure_start, closure_end))
    return {instrument_id: merged(intervals, start, end)
            for instrument_id, intervals in raw.items()}


def merged(intervals: Sequence[Interval], start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """``intervals`` cut to [start, end), overlapping and touching ones joined."""
    result: list[Interval] = []
    for first, last in sorted((max(a, start), min(b, end)) for a, b in intervals):
        if last <= first:
            continue
        if result and first <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], last))
        else:
            result.append((first, last))
    return result


# -- changes ----------------------------------------------------------------------------------


def report_problem(session: Session, actor: User, instrument: Instrument, *, description: str,
                   now: dt.datetime, booking: Booking | None = None) -> InstrumentFault:
    """A signed-in user tells the lab something is wrong with the instrument; its managers
    are told by email."""
    description = _text(description, "description", MAX_DESCRIPTION, required=True)
    if booking is not None and (booking.user_id != actor.id
                                or booking.instrument_id != instrument.id):
        raise _invalid("booking_id", _("That is none of your bookings of this instrument."))
    fault = InstrumentFault(instrument=instrument, kind=FaultKind.PROBLEM, state=FaultState.OPEN,
                            booking=booking, reported_by_id=actor.id, reported_at=now,
                            description=description)
    session.add(fault)
    session.flush()
    record(session, actor, fault, "report", at=now, to_state=FaultState.OPEN.value,
           note=description, instrument_id=instrument.id)
    _tell_staff(session, fault, now=now)
    return fault


def _interval(down_from: dt.datetime | None, down_until: dt.datetime | None, *,
              now: dt.datetime) -> None:
    if down_until is not None and down_from is None:
        raise _invalid("down_from", _("Say since when the instrument was down."))
    if down_from is not None and down_until is not None and down_until <= down_from:
        raise _invalid("down_until", _("The end must be after the start."))
    if down_from is not None and down_from > now:
        raise _invalid("down_from", _("Downtime is recorded once it has begun."))


def log_entry(session: Session, actor: User, instrument: Instrument, *, kind: FaultKind | str,
              description: str, down_from: dt.datetime | None, down_until: dt.datetime | None,
              cause: str, fix: str, now: dt.datetime) -> InstrumentFault:
    """A manager logs a breakdown or maintenance with its downtime; an entry whose end is
    given is closed at once, one without stays open until the instrument is back."""
    _require_manager(actor, instrument)
    kind = _kind(kind, LOGGED_KINDS)
    description = _text(description, "description", MAX_DESCRIPTION, required=True)
    cause = _text(cause, "cause", MAX_DETAIL, required=False)
    fix = _text(fix, "fix", MAX_DETAIL, required=False)
    _interval(down_from, down_until, now=now)
    closed = down_until is not None
    fault = InstrumentFault(
        instrument=instrument, kind=kind, state=FaultState.CLOSED if closed else FaultState.OPEN,
        reported_by_id=actor.id, reported_at=now, description=description, down_from=down_from,
        down_until=down_until, cause=cause, fix=fix,
        closed_by_id=actor.id if closed else None, closed_at=now if closed else None)
    session.add(fault)
    session.flush()
    record(session, actor, fault, "create", at=now, to_state=fault.state.value,
           note=description, instrument_id=instrument.id, fault_kind=kind.value)
    return fault


def _locked_open(session: Session, actor: User, fault_id: int) -> InstrumentFault:
    fault = locked(session, InstrumentFault, fault_id)
    if fault is None or not can_manage(actor, fault.instrument):
        raise NotFound(_("No fault report with id %(id)d.", id=fault_id))
    if fault.state != FaultState.OPEN:
        raise Conflict(_("This report is closed already."), code="invalid_state")
    return fault


def answer_fault(session: Session, actor: User, fault_id: int, *, answer: str,
                 now: dt.datetime) -> InstrumentFault:
    """A manager answers the reporter (by email); the report stays open."""
    fault = _locked_open(session, actor, fault_id)
    fault.answer = _text(answer, "answer", MAX_ANSWER, required=True)
    fault.answered_by_id, fault.answered_at = actor.id, now
    record(session, actor, fault, "answer", at=now, note=fault.answer)
    _tell_reporter(session, fault, actor, now=now)
    return fault


def start_maintenance(session: Session, actor: User, fault_id: int, *, kind: FaultKind | str,
                      reason: str, now: dt.datetime) -> InstrumentFault:
    """Put the instrument into maintenance because of this entry: its status becomes
    maintenance (with ``reason`` shown on its page) and its downtime starts now, unless an
    earlier start was recorded. The bookings it still holds are the closures' business
    (``labbook.booking.closures.bookings_ahead``)."""
    fault = _locked_open(session, actor, fault_id)
    fault.kind = _kind(kind, LOGGED_KINDS)
    change_instrument_status(session, actor, fault.instrument, InstrumentStatus.MAINTENANCE,
                             reason, now=now)
    if fault.down_from is None:
        fault.down_from = now
    record(session, actor, fault, "status", at=now, note=reason,
           to_state=InstrumentStatus.MAINTENANCE.value, fault_kind=fault.kind.value)
    return fault


def close_fault(session: Session, actor: User, fault_id: int, *, kind: FaultKind | str,
                cause: str, fix: str, back_in_service: bool, now: dt.datetime,
                down_until: dt.datetime | None = None) -> InstrumentFault:
    """Close the entry with its cause and fix. Downtime still running ends at ``down_until``
    (default now); ``back_in_service`` makes an instrument under maintenance available again.
    The reporter is told."""
    fault = _locked_open(session, actor, fault_id)
    allowed = (FaultKind.PROBLEM, *LOGGED_KINDS) if fault.down_from is None else LOGGED_KINDS
    fault.kind = _kind(kind, allowed)
    fault.cause = _text(cause, "cause", MAX_DETAIL, required=False)
    fault.fix = _text(fix, "fix", MAX_DETAIL, required=fault.kind != FaultKind.PROBLEM)
    if fault.down_from is not None and fault.down_until is None:
        end = down_until or now
        _interval(fault.down_from, end, now=now)
        if end > now:
            raise _invalid("down_until", _("The downtime cannot end in the future."))
        fault.down_until = end
    if back_in_service and fault.instrument.status == InstrumentStatus.MAINTENANCE:
        change_instrument_status(session, actor, fault.instrument, InstrumentStatus.AVAILABLE,
                                 fault.fix or _("Fault report closed"), now=now)
    fault.state, fault.closed_by_id, fault.closed_at = FaultState.CLOSED, actor.id, now
    record(session, actor, fault, "close", at=now, from_state=FaultState.OPEN.value,
           to_state=FaultState.CLOSED.value, note=fault.fix, cause=fault.cause,
           fault_kind=fault.kind.value)
    _tell_reporter(session, fault, actor, now=now)
    return fault


# -- emails -----------------------------------------------------------------------------------


def _subject(fault: InstrumentFault, text: Callable[..., str]) -> Callable[[], str]:
    return lambda: text(id=fault.id, code=fault.instrument.code,
                        name=localized(fault.instrument, "name"))


def _tell_staff(session: Session, fault: InstrumentFault, *,
                now: dt.datetime) -> list[OutboxMessage]:
    subject = _subject(fault, lambda **kw: _("Problem report #%(id)d: %(code)s %(name)s", **kw))
    messages = []
    for manager in lab_staff(session, fault.instrument.lab):
        if manager.id == fault.reported_by_id:
            continue
        message = enqueue(session, manager, kind="fault_reported", template="fault_reported",
                          subject=subject, context={"fault": fault}, now=now)
        if message is not None:
            messages.append(message)
    post_to_lab_robot(session, fault.instrument.lab, "faults", kind="fault_reported",
                      title=subject, lines=[fault.description[:200]],
                      link=links.external_url("faults.detail", fault_id=fault.id), now=now)
    return messages


def _tell_reporter(session: Session, fault: InstrumentFault, actor: User, *,
                   now: dt.datetime) -> OutboxMessage | None:
    reporter = fault.reported_by
    if reporter is None or reporter.id == actor.id:
        return None
    subject = _subject(fault, lambda **kw: _("Your problem report #%(id)d: %(code)s %(name)s",
                                             **kw))
    return enqueue(session, reporter, kind=f"fault_{fault.state.value}",
                   template="fault_answered", subject=subject, context={"fault": fault},
                   now=now)
