"""Changing a booking without cancelling it: moving it, extending it, shortening it.

The booker changes their own booking within the rules: the new time is checked as a new
request that excludes the booking itself (every rule of ``rules.check_booking``; the weekly
quota counts the new length instead of the old one; the booking is no overlap of itself). The
lab's managers may change any booking of their lab and override the soft rules, as when they
book.

On an instrument that needs approval, a change by the booker that takes time the booking does
not already hold waits for the lab's decision as a pending ``BookingChange``; the booking keeps
its old time until then. Approving applies it (the calendar checked again), rejecting drops it.
A shortening applies at once.

Time given back inside the instrument's cancellation window by the booking's own user is
charged like a late cancellation of that much time (``billing.charge_late_change``). Every
applied change raises the booking's iCal SEQUENCE, is audited and tells the user when someone
else made it; freed time goes to the waiting list.

Locks follow the architecture's order: the instrument and its lab shared, the paying
organization, the instrument's channels' turn, then the booking and its change records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import (
    CompoundSelect,
    Select,
    Table,
    Update,
    bindparam,
    case,
    exists,
    false,
    func,
    select,
    true,
)
from sqlalchemy import Sequence as SqlSequence
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from labbook.accounts.models import Organization, User
from labbook.audit.services import (
    event_insert,
    event_of_rows,
    event_parameters,
    guard_rows_then,
    record,
)
from labbook.billing import estimates, receivables
from labbook.billing import services as billing
from labbook.booking import offers, rules
from labbook.booking.models import (
    CHANGE_IS_PENDING,
    Booking,
    BookingChange,
    BookingState,
    ChangeState,
)
from labbook.booking.refusals import with_training_help
from labbook.booking.services import (
    MAX_NOTE,
    BookingRefused,
    PayingOrganization,
    _check_override,
    _effective_problems,
    _is_overlap_violation,
    _lock_channels,
    _lost_race,
    _suggestions,
    attach_known,
    can_view,
    clean_text,
    instrument_and_paying_of_booking,
    withdraw_pending_changes,
)
from labbook.catalogue.models import Instrument
from labbook.core.engine import (
    lock,
    on_postgresql,
    write_transaction,
    wrote_nothing_after_all,
)
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.reads import FetchedRow, fetch
from labbook.core.rows import columns_of, loaded
from labbook.core.time import iso
from labbook.notify import services as notify

#: States in which a booking can still change; one in use only changes its end.
CHANGEABLE = (BookingState.PENDING, BookingState.APPROVED, BookingState.IN_USE)
#: Rules about the start that do not apply when the start stays where it already passed.
START_RULES = frozenset({"in_past", "too_soon", "too_far"})


@dataclass(frozen=True)
class ChangeResult:
    booking: Booking
    change: BookingChange
    #: The booking's price and cancellation terms for the one who changed it, where asked for.
    price: estimates.BookingPrice | None = None

    @property
    def is_pending(self) -> bool:
        return self.change.state == ChangeState.PENDING


def can_change(actor: User, booking: Booking, now: dt.datetime) -> bool:
    """Whether ``actor`` may ask to change ``booking`` now (its end, at least)."""
    return can_view(actor, booking) and booking.state in CHANGEABLE and booking.end_at > now


def _minutes(start: dt.datetime, end: dt.datetime) -> int:
    return max(0, int((end - start) / dt.timedelta(minutes=1)))


def given_back_minutes(old: tuple[dt.datetime, dt.datetime],
                       new: tuple[dt.datetime, dt.datetime]) -> int:
    """Booked minutes of ``old`` that ``new`` no longer covers."""
    kept = _minutes(max(old[0], new[0]), min(old[1], new[1]))
    return _minutes(*old) - kept


def _malformed(start: dt.datetime, end: dt.datetime) -> None:
    faults = rules.malformed(start, end)
    if faults:
        raise BookingRefused(faults)


def _locked_subject(session: Session, booking_id: int, *, until: dt.datetime | None,
                    rate_cards: bool, draws_change_id: bool = True
                    ) -> tuple[Instrument, PayingOrganization, LockedBooking]:
    """What a change of booking ``booking_id`` decides on, each read afresh under its lock: the
    booking's instrument with its lab, the organization that pays (with the instrument's
    ``rate_cards`` where asked for), and the booking itself with whether its person holds a
    training record on the instrument valid until ``until`` (None: the end on the locked row)
    where the instrument needs one, and whether a change of it waits where the instrument needs
    approval; with the id of the change record to write (``draws_change_id``, PostgreSQL).
    Raises NotFound for no such booking."""
    # The instrument and the organization are locked first (in one statement), then the
    # channels' turn taken (the architecture's order); the booking itself is read once, under
    # its lock, after them.
    subject = instrument_and_paying_of_booking(session, booking_id, rate_cards=rate_cards)
    if subject is None:
        raise _no_booking(booking_id)
    instrument, paying = subject
    _lock_channels(session, instrument)
    rows = fetch(session, _locked_booking_row(instrument.requires_qualification,
                                              instrument.requires_approval,
                                              draws_change_id and on_postgresql(session)),
                 {"id": booking_id, "until": until})
    if not rows:
        raise _no_booking(booking_id)
    return instrument, paying, _booking_read(session, rows[0])


def _no_booking(booking_id: int) -> NotFound:
    return NotFound(_("No booking with id %(id)d.", id=booking_id))


@cache
def _locked_booking_row(needs_training: bool, needs_approval: bool, draws_change_id: bool
                        ) -> Select[Any]:
    # The instrument read already: what it needs is a constant of the statement, which the
    # database folds away. Where ``draws_change_id`` (PostgreSQL), with them the id the change
    # record will have, drawn from its table's sequence: the record and its audit event can
    # then be written with the booking's new time in one statement (``_apply``). A move refused
    # after this leaves the id unused, as a rolled-back insert would. SQLite has no sequences
    # and no row locks (its writers take turns for the whole transaction).
    bookings = Booking.__table__
    query = select(*_booking_columns(true() if needs_training else false(),
                                     true() if needs_approval else false()))
    if draws_change_id:
        query = query.add_columns(_CHANGE_IDS.next_value())
    return query.where(bookings.c.id == bindparam("id")).with_for_update(of=bookings)


#: The sequence of ``booking_changes.id`` (PostgreSQL's name for a serial column's).
_CHANGE_IDS = SqlSequence(f"{BookingChange.__tablename__}_id_seq")


def _booking_columns(needs_training: Any, needs_approval: Any) -> tuple[Any, ...]:
    """The booking's columns, then whether its person holds a training record on its
    instrument valid until the ``until`` parameter (None: its end) and whether a change of it
    waits, each asked only where the instrument needs it (``needs_training``,
    ``needs_approval``: constants of the statement), NULL where it does not."""
    bookings, changes = Booking.__table__, BookingChange.__table__
    until = func.coalesce(bindparam("until", type_=bookings.c.end_at.type), bookings.c.end_at)
    holds_training = rules.training_record_exists(bookings.c.user_id, bookings.c.instrument_id,
                                                  until)
    # Every change record is written under its booking's row lock (here, on a decision, on a
    # withdrawal), so under that lock this answer stands until the commit: the change records
    # need no lock of their own to be asked.
    change_waits = exists().where(changes.c.booking_id == bookings.c.id, CHANGE_IS_PENDING)
    return (*columns_of(Booking), case((needs_training, holds_training)),
            case((needs_approval, change_waits)))


@dataclass(frozen=True)
class LockedBooking:
    """A booking read afresh under its row lock, with what was asked of it in the same
    statement (None where its instrument does not need it)."""

    booking: Booking
    #: Whether its person holds a training record on its instrument valid until the new end.
    holds_training_record: bool | None
    #: Whether a change of it waits for approval.
    has_pending_change: bool | None
    #: The id its change record is to have (PostgreSQL), None where the database assigns it.
    change_id: int | None


def _booking_read(session: Session, values: Sequence[Any]) -> LockedBooking:
    """The booking of ``values`` (``_booking_columns``' order, then the change record's id
    where drawn)."""
    split = len(columns_of(Booking))
    holds_training, change_waits, *change_id = values[split:]
    return LockedBooking(loaded(session, Booking, values[:split]),
                         None if holds_training is None else bool(holds_training),
                         None if change_waits is None else bool(change_waits),
                         change_id[0] if change_id else None)


def _check_transition(booking: Booking, start: dt.datetime, end: dt.datetime,
                      now: dt.datetime) -> None:
    if booking.state not in CHANGEABLE or booking.end_at <= now:
        raise Conflict(_("A booking that is over, cancelled or decided against cannot be "
                         "changed."), code="invalid_state")
    started = booking.start_at <= now or booking.state == BookingState.IN_USE
    if started and start != booking.start_at:
        raise Conflict(_("This booking has started: only its end can change."),
                       code="already_started")
    if end <= now:
        raise BookingRefused([rules.problem("in_past", _(
            "The new end (%(end)s) has already passed.", end=rules.fmt(end)), (start, end))])
    if (start, end) == (booking.start_at, booking.end_at):
        message = _("The booking already has this time: there is nothing to change.")
        raise ValidationError(message, code="no_change",
                              problems=[Problem("no_change", message, field="start")])


def _request(actor: User, booking: Booking, organization: Organization, start: dt.datetime,
             end: dt.datetime, *,
             overdue_block_days: int | receivables.Unread | None = receivables.Unread.UNREAD,
             holds_training_record: bool | None = None) -> rules.BookingRequest:
    """The new time of ``booking`` as a new request that excludes the booking itself
    (``overdue_block_days`` and ``holds_training_record`` as ``services.book_locked`` takes
    them)."""
    return rules.BookingRequest(booking.instrument, booking.user, organization, start, end,
                                exclude_booking_id=booking.id, booked_by=actor,
                                channels=len(booking.channel_numbers),
                                overdue_block_days=overdue_block_days,
                                holds_training_record=holds_training_record)


def _problems(session: Session, request: rules.BookingRequest, booking: Booking,
              now: dt.datetime, *, skip_calendar: bool = False) -> list[Problem]:
    """Every rule's problem with the new time of ``booking`` (``request``), but the calendar's
    where ``skip_calendar``; the rules about the start leave out a start that stays where it
    already passed."""
    problems = rules.check_booking(session, request, now=now, skip_calendar=skip_calendar)
    if request.start == booking.start_at and request.start <= now:
        problems = [p for p in problems if p.code not in START_RULES]
    return problems


def _refused(session: Session, booking: Booking, blocking: list[Problem],
             request: rules.BookingRequest, now: dt.datetime) -> BookingRefused:
    return BookingRefused(
        with_training_help(session, request.booked_by or booking.user, booking.user,
                           request.instrument, blocking),
        _suggestions(session, request.instrument, blocking, request.start, request.end, now,
                     len(booking.channel_numbers), booking.user))


def change_booking(session: Session, actor: User, booking_id: int, *,
                   start: dt.datetime | None, end: dt.datetime | None, note: str = "",
                   override: bool = False, now: dt.datetime,
                   priced: bool = False) -> ChangeResult:
    """Move, extend or shorten a booking to ``[start, end)`` (None: as it is now); ``priced``
    reads the booking's price for ``actor`` as it is then in the same transaction (what the API
    answers with: read after the commit it would be a transaction of its own).

    Raises NotFound for a booking ``actor`` may not see, BookingRefused listing every rule the
    new time breaks, Conflict when the booking can no longer change that way.
    """
    note = clean_text(note, "note", MAX_NOTE, required=False)
    for moment in (start, end):
        if moment is not None:
            _malformed(moment, moment + dt.timedelta(minutes=1))
    try:
        with write_transaction(session):
            instrument, paying, read = _locked_subject(session, booking_id, until=end,
                                                       rate_cards=priced)
            instrument_id = instrument.id
            booking = read.booking
            attach_known(booking, actor, instrument, paying.organization)
            if not can_view(actor, booking):
                raise _no_booking(booking_id)
            _check_override(actor, instrument, override)
            # What is left out stays as the booking has it now, on its locked row.
            start, end = start or booking.start_at, end or booking.end_at
            _malformed(start, end)
            _check_transition(booking, start, end, now)
            old = (booking.start_at, booking.end_at)
            given_back = given_back_minutes(old, (start, end))
            takes_new_time = start < old[0] or end > old[1]
            waits = instrument.requires_approval and takes_new_time \
                and not actor.manages_lab_id(instrument.lab_id) \
                and booking.state == BookingState.APPROVED
            is_late = not waits and _is_late(booking, actor, given_back, now, old[0])
            request = _request(actor, booking, paying.organization, start, end,
                               overdue_block_days=paying.overdue_block_days,
                               holds_training_record=read.holds_training_record)
            # A change applied at once whose record can be written with the new time (its id
            # drawn: PostgreSQL; not a late one, whose charge names the record before the
            # booking moves) has the calendar of a single-channel instrument read by the
            # statement that moves it, the other rules checked first: a round trip fewer.
            guard = None if waits or is_late or read.change_id is None \
                else rules.calendar_guard(request)
            problems = _problems(session, request, booking, now, skip_calendar=guard is not None)
            blocking = _effective_problems(problems, override=override)
            if blocking:
                if guard is not None:
                    problems = rules.with_calendar_problems(session, request, problems)
                    blocking = _effective_problems(problems, override=override)
                raise _refused(session, booking, blocking, request, now)
            if read.has_pending_change:
                # Only on an instrument that needs approval can one wait; this one takes its
                # place.
                withdraw_pending_changes(session, actor, booking, now=now)
            values = {
                "booking_id": booking.id, "requested_by_id": actor.id, "old_start_at": old[0],
                "old_end_at": old[1], "new_start_at": start, "new_end_at": end, "note": note,
                "is_override": bool(problems), "requested_at": now, "decision_note": "",
                "given_back_minutes": given_back, "is_late": False,
                "state": ChangeState.PENDING, "decided_by_id": None, "decided_at": None}
            if read.change_id is not None:
                values["id"] = read.change_id
            if waits:
                change = _insert_change(session, values)
                record(session, actor, booking, "request_change", at=now, note=note,
                       change_id=change.id, **_times(old, (start, end)))
                notify.booking_change_requested(session, change, now=now)
            else:
                values.update(state=ChangeState.APPLIED, decided_at=now, is_late=is_late)
                # Written once and never changed again: the row is inserted in Core and the
                # object kept only to report it (a move costs no more than a new booking). Its
                # id known (PostgreSQL), it is written with the booking's new time, but for a
                # late one: its charge names it before the booking moves.
                written = read.change_id is None or is_late
                if written:
                    [(values["id"],)] = fetch(session, _insert_applied_change(), values)
                change = _reported_change(values)
                in_the_way = _apply(session, actor, booking, change, now=now,
                                    overridden=problems,
                                    unwritten=None if written else values, guard=guard)
                if in_the_way:
                    problems = rules.calendar_problems_of(request, in_the_way) + problems
                    raise _refused(session, booking,
                                   _effective_problems(problems, override=override),
                                   request, now)
            price = estimates.booking_price(session, booking, actor, now=now,
                                            cards=paying.rate_cards) if priced else None
    except (IntegrityError, OperationalError) as error:
        if not _is_overlap_violation(error):
            raise
        raise _lost_race(session, instrument_id, start, end, now) from None
    return ChangeResult(booking, change, price)


def _times(old: tuple[dt.datetime, dt.datetime], new: tuple[dt.datetime, dt.datetime]) -> dict:
    return {"old_start": iso(old[0]), "old_end": iso(old[1]),
            "new_start": iso(new[0]), "new_end": iso(new[1])}


@cache
def _insert_change_statement():
    # Built once; a Core INSERT … RETURNING read back as the ORM object: a move should cost no
    # more than a new booking, which is inserted the same way.
    table = BookingChange.__table__
    return select(BookingChange).from_statement(table.insert().returning(*table.c))


@cache
def _insert_applied_change():
    table = BookingChange.__table__
    return table.insert().returning(table.c.id)


def _reported_change(values: dict) -> BookingChange:
    """The applied change of ``values`` (its id among them), as an object outside the session
    that only reports them: filled without the attribute events of
    ``BookingChange(**values)``, which would only record history that nothing flushes."""
    change = BookingChange.__mapper__.class_manager.new_instance()
    instance_state(change).dict.update(values)
    return change


def _insert_change(session: Session, values: dict) -> BookingChange:
    return session.scalars(_insert_change_statement(), values).one()


def _moving(table: Table) -> Update:
    """An UPDATE of ``table`` (bookings) that gives the booking of the ``booking_id`` parameter
    its new time, returning its new sequence and whether anyone waits for the time it frees
    (``someone_waits``), asked in the same round trip."""
    return (table.update().where(table.c.id == bindparam("booking_id"))
            .values(start_at=bindparam("start_at"), end_at=bindparam("end_at"),
                    blocked_until=bindparam("blocked_until"), sequence=table.c.sequence + 1,
                    updated_at=bindparam("updated_at"), is_override=bindparam("is_override"),
                    channel_mask=bindparam("channel_mask", type_=Booking.channel_mask.type))
            .returning(table.c.sequence,
                       offers.in_line(bindparam("waiting_for_id")).label("someone_waits")))


@cache
def _move_statement():
    return _moving(Booking.__table__)


@cache
def _move_recorded_statement():
    """PostgreSQL: ``_move_statement`` with the change record (its parameters named
    ``change_<column>``) and the audit event of the move (``audit.event_insert``) written by
    the same statement, a round trip for each fewer."""
    changes = BookingChange.__table__
    change = changes.insert().values(_change_parameters()).cte("change_record")
    return _move_statement().add_cte(change, event_insert())


@cache
def _move_unless_in_the_way_statement(guard: CompoundSelect) -> CompoundSelect:
    """PostgreSQL: ``_move_recorded_statement`` unless ``guard`` (``rules.calendar_guard`` of
    the new time) reads a row in the way, one other than the booking itself: ``WITH guard AS
    (…), moved AS (UPDATE bookings … WHERE id = … AND NOT EXISTS (…) RETURNING …),
    change_record AS (INSERT … SELECT … FROM moved), audit_event AS (INSERT … SELECT … FROM
    moved) SELECT guard.*, NULL, NULL FROM guard UNION ALL SELECT NULL, …, sequence,
    someone_waits FROM moved``: the guard's rows (the booking itself among them where its new
    time meets its old), then the moved booking's, if it moved. Built once per guard."""
    bookings, changes = Booking.__table__, BookingChange.__table__
    found = guard.cte("guard")
    in_the_way = exists().select_from(found).where(
        found.c.id.is_distinct_from(bindparam("booking_id")))
    moved = _moving(bookings).where(~in_the_way).returning(bookings.c.id).cte("moved")
    change = changes.insert().from_select(
        list(changes.c.keys()),
        select(*_change_parameters().values()).select_from(moved)).cte("change_record")
    event = event_of_rows(bookings, moved).cte("audit_event")
    return guard_rows_then(found, {"sequence": moved.c.sequence,
                                   "someone_waits": moved.c.someone_waits}).add_cte(change, event)


def _change_parameters() -> dict[str, Any]:
    """A change record's column values as parameters named ``change_<column>``."""
    return {name: bindparam(_CHANGE_PREFIX + name, type_=column.type)
            for name, column in BookingChange.__table__.c.items()}


_CHANGE_PREFIX = "change_"


def _is_late(booking: Booking, requested_by: User, given_back: int, requested_at: dt.datetime,
             old_start: dt.datetime) -> bool:
    """Time given back by the booking's own user inside the cancellation window (from the old
    start, at the moment the change was asked for); the lab's changes are never late."""
    return (given_back > 0
            and booking.state in (BookingState.APPROVED, BookingState.IN_USE)
            and requested_by.id == booking.user_id
            and not requested_by.manages_lab_id(booking.instrument.lab_id)
            and requested_at >= rules.free_cancellation_until(booking.instrument, old_start))


def _apply(session: Session, actor: User, booking: Booking, change: BookingChange, *,
           now: dt.datetime, overridden: list[Problem], unwritten: dict | None = None,
           guard: rules.CalendarGuard | None = None) -> list[FetchedRow]:
    """Give ``booking`` (locked by the caller) the new time of the applied ``change``; charge
    time given back late, audit, tell the user, offer freed time to the waiting list. The
    change record is written already, or it is ``unwritten`` (its values, id among them; not
    a late one) and written here with the new time: then, with the ``guard`` of the new time
    on a single-channel instrument, unless the calendar has something in its way, whose rows
    are returned (the booking unchanged, nothing written); an empty list where it moved."""
    if change.is_late:
        # Priced on the card in force at the booking's start before it moves.
        billing.charge_late_change(session, booking, change, now=now)
    old = (booking.start_at, booking.end_at)
    freed_until = booking.blocked_until
    new = {"start_at": change.new_start_at, "end_at": change.new_end_at,
           "blocked_until": change.new_end_at + dt.timedelta(
               minutes=booking.instrument.buffer_minutes),
           "updated_at": now, "is_override": booking.is_override or bool(overridden)}
    new["channel_mask"] = rules.channels_after_move(session, booking, change.new_start_at,
                                                    new["blocked_until"])
    details = {"change_id": change.id, **_times(old, (new["start_at"], new["end_at"]))}
    if change.given_back_minutes:
        details["given_back_minutes"] = change.given_back_minutes
    if change.is_late:
        details["late"] = True
    if overridden:
        details["overridden"] = [p.code for p in overridden]
    moving = {"booking_id": booking.id, "waiting_for_id": booking.instrument_id, **new}
    # The exclusion constraint (PostgreSQL) judges the new time here, inside the transaction.
    if unwritten is None:
        [(sequence, someone_waits)] = fetch(session, _move_statement(), moving)
        record(session, actor, booking, "move", at=now, note=change.note, **details)
    else:
        parameters = {
            **moving, **{_CHANGE_PREFIX + name: value for name, value in unwritten.items()},
            **event_parameters(actor, Booking.__tablename__, booking.id, "move", at=now,
                               note=change.note, **details)}
        if guard is None:
            [(sequence, someone_waits)] = fetch(session, _move_recorded_statement(),
                                                parameters)
        else:
            rows = fetch(session, _move_unless_in_the_way_statement(guard.statement),
                         {**guard.parameters, **parameters})
            moved = [row for row in rows if row.sequence is not None]
            if not moved:
                wrote_nothing_after_all(session.connection())
                return rows
            sequence, someone_waits = moved[0].sequence, moved[0].someone_waits
    for name, value in {**new, "sequence": sequence}.items():
        set_committed_value(booking, name, value)
    notify.booking_changed(session, booking, change, actor, now=now)
    offers.offer_freed_time(session, booking.instrument, freed_until, now=now,
                            someone_waits=bool(someone_waits))
    return []


def get_change(session: Session, actor: User, change_id: int) -> BookingChange:
    change = session.get(BookingChange, change_id)
    if change is None or not can_view(actor, change.booking):
        raise NotFound(_("No change with id %(id)d.", id=change_id))
    return change


def pending_change(session: Session, booking: Booking) -> BookingChange | None:
    return session.scalar(select(BookingChange).where(
        BookingChange.booking_id == booking.id, CHANGE_IS_PENDING))


def decide_change(session: Session, actor: User, change_id: int, *, approve: bool,
                  note: str = "", now: dt.datetime) -> BookingChange:
    """A manager of the lab approves (applies, the calendar checked again with the soft rules
    overridden) or rejects (with a note) a change waiting for approval."""
    change = get_change(session, actor, change_id)
    instrument_id = change.booking.instrument_id
    try:
        with write_transaction(session):
            # The booking's subject read as a change of it reads it (the training record asked
            # until the new end), then the change record under its lock, after its booking's.
            instrument, paying, read = _locked_subject(
                session, change.booking_id, until=change.new_end_at, rate_cards=False,
                draws_change_id=False)
            organization, booking = paying.organization, read.booking
            attach_known(booking, actor, instrument, organization)
            lock(session, change)
            if not actor.manages_lab_id(instrument.lab_id):
                raise PermissionDenied(_("Only the lab's managers decide on changes."),
                                       code="not_lab_manager")
            note = clean_text(note, "note", MAX_NOTE, required=not approve)
            if change.state != ChangeState.PENDING:
                raise Conflict(_("This change is no longer waiting for a decision."),
                               code="invalid_state")
            change.decided_by_id = actor.id
            change.decided_at = now
            change.decision_note = note
            if not approve:
                change.state = ChangeState.REJECTED
                record(session, actor, change, "reject", at=now, from_state="pending",
                       to_state="rejected", note=note, booking_id=booking.id)
                notify.booking_change_rejected(session, booking, change, actor, now=now)
                return change
            start, end = change.new_start_at, change.new_end_at
            _check_transition(booking, start, end, now)
            request = _request(actor, booking, organization, start, end,
                               overdue_block_days=paying.overdue_block_days,
                               holds_training_record=read.holds_training_record)
            problems = _problems(session, request, booking, now)
            blocking = _effective_problems(problems, override=True)
            if blocking:
                raise _refused(session, booking, blocking, request, now)
            change.state = ChangeState.APPLIED
            change.is_late = _is_late(booking, change.requested_by, change.given_back_minutes,
                                      change.requested_at, change.old_start_at)
            record(session, actor, change, "approve", at=now, from_state="pending",
                   to_state="applied", note=note, booking_id=booking.id)
            _apply(session, actor, booking, change, now=now, overridden=problems)
    except (IntegrityError, OperationalError) as error:
        if not _is_overlap_violation(error):
            raise
        raise _lost_race(session, instrument_id, change.new_start_at, change.new_end_at,
                         now) from None
    return change


def pending_changes(session: Session, lab_ids: list[int]) -> list[BookingChange]:
    """Changes waiting for the decision of the managers of ``lab_ids``, oldest first."""
    if not lab_ids:
        return []
    return list(session.scalars(
        select(BookingChange).join(BookingChange.booking).join(Booking.instrument)
        .where(CHANGE_IS_PENDING, Instrument.lab_id.in_(lab_ids))
        .order_by(BookingChange.requested_at, BookingChange.id)))
