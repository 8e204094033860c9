"""The booking rules: one function that says everything wrong with a requested booking.

``check_booking`` returns every problem at once, each with a stable code, a message in the
current language and, where it applies, the interval at fault. The codes are the ones the
README's "Booking" section lists; the soft ones (``SOFT_CODES``) may be overridden by a manager
of the instrument's lab.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    Exists,
    Row,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

from labbook.accounts.models import Organization, User
from labbook.billing import receivables
from labbook.booking import schedule, timeline
from labbook.booking.models import (
    SLOT_HOLDING,
    Blackout,
    Booking,
    BookingState,
    BookingSuspension,
    Qualification,
    channel_mask,
    channel_numbers,
)
from labbook.catalogue.models import Instrument, InstrumentStatus
from labbook.core.errors import Conflict, Problem
from labbook.core.reads import fetch
from labbook.core.time import iso, to_lab_time
from labbook.i18n import duration

#: Rules a manager of the lab may override for a booking.
SOFT_CODES = frozenset({"too_soon", "too_far", "outside_hours", "quota_exceeded", "not_aligned",
                        "holiday_closed"})
#: Problems with the request itself rather than with the calendar: answered as 422.
MALFORMED_CODES = frozenset({"invalid_interval", "naive_datetime", "too_many_channels"})


@dataclass(frozen=True)
class BookingRequest:
    instrument: Instrument
    user: User
    organization: Organization
    start: dt.datetime
    end: dt.datetime
    #: The booking being moved, which must not count as its own conflict.
    exclude_booking_id: int | None = None
    #: How many of the instrument's channels (or places) the booking takes.
    channels: int = 1
    #: Who books, when not ``user`` themselves: a lab manager or a colleague.
    booked_by: User | None = None
    #: The organization's ``overdue_block_days``, where the caller read it with the
    #: organization (``receivables.overdue_block_days_of``).
    overdue_block_days: int | receivables.Unread | None = receivables.Unread.UNREAD
    #: Whether ``user`` holds a training record on the instrument valid until ``end``, where
    #: the caller read it with the organization (``training_record_exists``); None: unread.
    holds_training_record: bool | None = None


def problem(code: str, message: str, interval: tuple[dt.datetime, dt.datetime] | None = None
            ) -> Problem:
    extra = {}
    if interval is not None:
        extra = {"start": iso(interval[0]), "end": iso(interval[1])}
    return Problem(code, message, extra=extra)


def malformed(start: dt.datetime, end: dt.datetime) -> list[Problem]:
    """What is wrong with ``[start, end)`` itself, before any rule can weigh it: a time without
    a UTC offset, or an end not after the start (the span at fault)."""
    for moment in (start, end):
        if moment.tzinfo is None or moment.utcoffset() is None:
            return [problem("naive_datetime",
                            _("Times must carry a UTC offset, e.g. 2026-12-01T09:00:00+08:00."))]
    if end <= start:
        return [problem("invalid_interval", _("The end must be after the start."),
                        (start, end))]
    return []


def fmt(moment: dt.datetime) -> str:
    return to_lab_time(moment).strftime("%Y-%m-%d %H:%M")


# Statements run on every booking attempt or calendar read are built once, with bound
# parameters, and in Core where no ORM objects are wanted: building a statement, and the ORM's
# handling of it, cost more than running it.
_BLACKOUT = Blackout.__table__.c
_BOOKING = Booking.__table__.c


def _meeting_instruments(start: dt.datetime, end: dt.datetime, instruments: list[Instrument]
                         ) -> dict:
    return {"instrument_ids": [i.id for i in instruments],
            "lab_ids": sorted({i.lab_id for i in instruments}), "start": start, "end": end}


_BLACKOUTS_MEETING = (
    or_(_BLACKOUT.instrument_id.in_(bindparam("instrument_ids", expanding=True)),
        _BLACKOUT.lab_id.in_(bindparam("lab_ids", expanding=True))),
    _BLACKOUT.end_at > bindparam("start"), _BLACKOUT.start_at < bindparam("end"),
)


_BLACKOUTS = select(_BLACKOUT.instrument_id, _BLACKOUT.lab_id, _BLACKOUT.start_at,
                    _BLACKOUT.end_at, _BLACKOUT.reason).where(*_BLACKOUTS_MEETING)


def blackouts(session: Session, instruments: list[Instrument], start: dt.datetime,
              end: dt.datetime) -> Sequence[Row[tuple[int | None, int | None, dt.datetime,
                                                      dt.datetime, str]]]:
    """Blackouts of the instruments or of their labs that meet ``[start, end)``, as rows of
    ``instrument_id``, ``lab_id``, ``start_at``, ``end_at`` and ``reason``."""
    return session.execute(_BLACKOUTS, _meeting_instruments(start, end, instruments)).all()


def check_booking(session: Session, request: BookingRequest, *, now: dt.datetime,
                  skip_calendar: bool = False,
                  unsaved: Sequence[tuple[dt.datetime, dt.datetime]] = ()) -> list[Problem]:
    """Every problem with ``request``; an empty list means it may be booked.

    ``skip_calendar`` leaves out the checks against other bookings and blackouts, for callers
    that check those themselves against a calendar they already hold. ``unsaved`` are bookings
    of the same organization not yet in the database (the earlier dates of a series), which
    count against its weekly quota.
    """
    start, end = request.start, request.end
    faults = malformed(start, end)
    if faults:
        return faults
    instrument = request.instrument
    if not 1 <= request.channels <= instrument.channels:
        return [problem("too_many_channels", ngettext(
            "This instrument has %(num)d channel; ask for 1.",
            "This instrument has %(num)d channels; ask for 1 to %(num)d.",
            instrument.channels), (start, end))]
    lab_schedule = schedule.lab_schedule(session, instrument.lab_id)
    tz = lab_schedule.tz
    interval = (start, end)
    # A taken or closed slot is what the user most needs to know, so it comes first.
    problems = [] if skip_calendar else calendar_problems(session, request)
    minutes = (end - start) / dt.timedelta(minutes=1)

    if not (timeline.is_on_grid(start, instrument.slot_minutes, tz)
            and minutes % instrument.slot_minutes == 0):
        problems.append(problem("not_aligned", _(
            "Bookings on this instrument start and end on its %(n)d-minute grid, counted "
            "from midnight.", n=instrument.slot_minutes), interval))
    if minutes < instrument.min_minutes:
        problems.append(problem("too_short", _(
            "The shortest booking on this instrument is %(length)s.",
            length=duration(instrument.min_minutes)), interval))
    if minutes > instrument.max_minutes:
        problems.append(problem("too_long", _(
            "The longest booking on this instrument is %(length)s.",
            length=duration(instrument.max_minutes)), interval))
    if start < now:
        problems.append(problem("in_past", _("The start (%(start)s) has already passed.",
                                             start=fmt(start)), interval))
    elif start < now + dt.timedelta(minutes=instrument.min_notice_minutes):
        problems.append(problem("too_soon", _(
            "This instrument must be booked at least %(notice)s ahead.",
            notice=duration(instrument.min_notice_minutes)), interval))
    if start > now + dt.timedelta(days=instrument.horizon_days):
        problems.append(problem("too_far", _(
            "This instrument can be booked at most %(n)d days ahead.",
            n=instrument.horizon_days), interval))
    closed_day = _closed_holiday(lab_schedule, start, end)
    if closed_day is not None:
        problems.append(problem("holiday_closed", _(
            "The lab is closed on %(day)s, a public holiday; bookings may not start or end "
            "that day.", day=closed_day.isoformat()), interval))
    elif not timeline.is_within_opening_hours(lab_schedule.hours, tz, start, end):
        problems.append(problem("outside_hours", _(
            "%(start)s – %(end)s is outside the lab's opening hours.",
            start=fmt(start), end=fmt(end)), interval))
    if instrument.status != InstrumentStatus.AVAILABLE:
        problems.append(problem("instrument_unavailable", _(
            "The instrument is not available for booking (%(status)s).",
            status=_status_label(instrument.status)), interval))
    if request.organization.is_suspended:
        problems.append(problem("org_suspended", _(
            "%(org)s is suspended and cannot book at the moment.",
            org=request.organization.name)))
    if instrument.lab.no_show_limit is not None:
        problems += _suspension_problems(session, request, now)
    overdue = receivables.overdue_problem(session, request.organization.id, now,
                                          allowed=request.overdue_block_days)
    if overdue is not None:
        problems.append(overdue)
    if instrument.requires_qualification and not _is_qualified(session, request):
        problems.append(problem("not_qualified", _not_qualified_message(request)))
    if request.organization.weekly_quota_hours is not None:
        problems += _quota_problems(session, request, tz, unsaved)
    return problems


def _not_qualified_message(request: BookingRequest) -> str:
    """Whose training record is missing: one's own, or, booked on their behalf, the person's."""
    if request.booked_by is not None and request.booked_by.id != request.user.id:
        return _("%(name)s has no valid training record for this instrument.",
                 name=request.user.name)
    return _("You need a valid training record for this instrument; ask the lab's managers.")


def _closed_holiday(lab_schedule: schedule.LabSchedule, start: dt.datetime, end: dt.datetime
                    ) -> dt.date | None:
    """The public holiday the lab closes on that a booking starts or ends on, if any. A long run
    may go on through a holiday, as it goes on through the night: nobody needs to be there."""
    if not lab_schedule.closed_days:
        return None
    first = start.astimezone(lab_schedule.tz).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(lab_schedule.tz).date()
    return next((d for d in (first, last) if d in lab_schedule.closed_days), None)


@cache
def _calendar_statement():
    """What stands in the way of a booking of a single-channel instrument, in one statement:
    the slot-holding bookings of the instrument meeting its held time (as ``held_time`` reads
    them: id, start and end of held time), then the closures of it or its lab meeting the
    booked time (id NULL, with their reason). Built once every model is mapped."""
    bookings = select(_BOOKING.id, _BOOKING.start_at, _BOOKING.blocked_until.label("end_at"),
                      null().label("reason")).where(
        _BOOKING.instrument_id == bindparam("instrument_id"),
        HeldTimeMeets(bindparam("start"), bindparam("held_until")),
        _BOOKING.blocked_until < bindparam("held_bound"), _BOOKING.state.in_(_SLOT_HOLDING_SQL))
    closures = select(null(), _BLACKOUT.start_at, _BLACKOUT.end_at, _BLACKOUT.reason).where(
        or_(_BLACKOUT.instrument_id == bindparam("instrument_id"),
            _BLACKOUT.lab_id == bindparam("lab_id")),
        _BLACKOUT.end_at > bindparam("start"), _BLACKOUT.start_at < bindparam("end"))
    return union_all(bookings, closures)


_CLOSURES = select(_BLACKOUT.start_at, _BLACKOUT.end_at, _BLACKOUT.reason).where(
    or_(_BLACKOUT.instrument_id == bindparam("instrument_id"),
        _BLACKOUT.lab_id == bindparam("lab_id")),
    _BLACKOUT.end_at > bindparam("start"), _BLACKOUT.start_at < bindparam("end"),
).order_by(_BLACKOUT.start_at)


class HoldsTime(Protocol):
    """What the calendar reads need of an instrument: an ORM ``Instrument`` has it, and so has
    the plain snapshot the suggestions' search reads of each candidate."""

    @property
    def id(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def max_minutes(self) -> int: ...
    @property
    def buffer_minutes(self) -> int: ...
    @property
    def longest_held_minutes(self) -> int | None: ...


def held_bound(instrument: HoldsTime, end: dt.datetime) -> dt.datetime:
    """A moment after which no booking of ``instrument`` starting before ``end`` still holds
    it: ``end`` plus the longest time a booking of it holds (the database keeps that as
    ``longest_held_minutes``; the rules' own limit stands in for an instrument not yet read back
    from it) and a minute for the database's rounding to whole seconds.

    Calendar reads ask for bookings whose held time ends after a window starts and before this
    bound, so they seek a range of the (instrument, state, blocked_until) index instead of
    walking every later booking: their cost does not grow with the bookings made further
    ahead."""
    longest = max(instrument.longest_held_minutes or 0,
                  instrument.max_minutes + instrument.buffer_minutes)
    return end + dt.timedelta(minutes=longest + 1)


class HeldTimeMeets(ColumnElement[bool]):
    """A booking's held time ``[start_at, blocked_until)`` meets ``[start, end)``. PostgreSQL
    is asked for the overlap of the two ranges, which the exclusion constraint's GiST index
    answers without walking the instrument's later bookings (its planner prefers that index
    where the state is a slot-holding one); SQLite for the two comparisons."""

    type = Boolean()
    _is_implicitly_boolean = True  # a comparison already: SQLite needs no "= 1" after it
    _traverse_internals: ClassVar = [("start", InternalTraversal.dp_clauseelement),
                                     ("end", InternalTraversal.dp_clauseelement)]

    def __init__(self, start: ColumnElement, end: ColumnElement) -> None:
        self.start, self.end = start, end


@compiles(HeldTimeMeets)
def _compile_held_time_meets(element: HeldTimeMeets, compiler, **kw) -> str:
    return compiler.process(and_(_BOOKING.blocked_until > element.start,
                                 _BOOKING.start_at < element.end), **kw)


@compiles(HeldTimeMeets, "postgresql")
def _compile_held_range_overlap(element: HeldTimeMeets, compiler, **kw) -> str:
    held = func.tstzrange(_BOOKING.start_at, _BOOKING.blocked_until, literal_column("'[)'"))
    window = func.tstzrange(element.start, element.end, literal_column("'[)'"))
    return compiler.process(held.op("&&")(window), **kw)


#: The slot-holding states written into a statement's text, as the exclusion constraint's
#: predicate writes them: a bound list would be expanded anew at every run of the statement.
_SLOT_HOLDING_SQL = tuple(literal_column(f"'{state.value}'") for state in SLOT_HOLDING)


def held_meeting(bound: str = "held_bound") -> tuple:
    """The conditions of a slot-holding booking whose held time meets ``[start, end)`` (bound
    parameters of those names), its held time's end also before ``bound`` (``held_bound``)."""
    return (HeldTimeMeets(bindparam("start"), bindparam("end")),
            _BOOKING.blocked_until < bindparam(bound), _BOOKING.state.in_(_SLOT_HOLDING_SQL))


@cache
def _held_statement(count: int):
    """Held time of ``count`` instruments: one SELECT per instrument, joined by UNION ALL, so
    that SQLite seeks the (instrument_id, state, blocked_until) index for each instead of
    walking all instruments (as it would for ``instrument_id IN (…)``)."""
    selects = [select(_BOOKING.instrument_id, _BOOKING.id, _BOOKING.start_at,
                      _BOOKING.blocked_until)
               .where(_BOOKING.instrument_id == bindparam(f"instrument_{n}"),
                      *held_meeting(bound=f"held_bound_{n}"))
               for n in range(count)]
    return selects[0] if count == 1 else union_all(*selects)


def held_times(session: Session, instruments: Sequence[Instrument], start: dt.datetime,
               end: dt.datetime) -> dict[int, list[tuple[int, dt.datetime, dt.datetime]]]:
    """Per instrument id, (booking id, start, end of held time) of the slot-holding bookings
    meeting the window, read in one statement."""
    held: dict[int, list[tuple[int, dt.datetime, dt.datetime]]] = {i.id: [] for i in instruments}
    parameters = {"start": start, "end": end}
    for n, instrument in enumerate(instruments):
        parameters[f"instrument_{n}"] = instrument.id
        parameters[f"held_bound_{n}"] = held_bound(instrument, end)
    for instrument_id, booking_id, held_from, held_until in session.execute(
            _held_statement(len(instruments)), parameters):
        held[instrument_id].append((booking_id, held_from, held_until))
    return held


def held_time(session: Session, instrument: Instrument, start: dt.datetime, end: dt.datetime
              ) -> list[tuple[int, dt.datetime, dt.datetime]]:
    """(booking id, start, end of held time) of the slot-holding bookings meeting the window."""
    return held_times(session, [instrument], start, end)[instrument.id]


def calendar_problems(session: Session, request: BookingRequest,
                      held: list[tuple[dt.datetime, dt.datetime]] | None = None,
                      held_channels: Sequence[tuple[dt.datetime, dt.datetime, int]] = ()
                      ) -> list[Problem]:
    """Blackouts and other bookings in the way of ``request`` (its buffer included).

    ``held`` adds intervals not yet in the database (earlier occurrences of the same series);
    on an instrument with channels, ``held_channels`` adds them with their channel masks.
    """
    instrument = request.instrument
    start = request.start
    blocked_until = request.end + dt.timedelta(minutes=instrument.buffer_minutes)
    if instrument.channels > 1:
        return _closure_problems(session.execute(_CLOSURES, {
            "instrument_id": instrument.id, "lab_id": instrument.lab_id, "start": start,
            "end": request.end})) + _channel_problems(session, request, blocked_until,
                                                      held_channels)
    guard = calendar_guard(request)
    return calendar_problems_of(request, fetch(session, guard.statement, guard.parameters),
                                held)


def with_calendar_problems(session: Session, request: BookingRequest,
                           problems: list[Problem]) -> list[Problem]:
    """The ``problems`` ``check_booking`` found for ``request`` with ``skip_calendar``, with
    the calendar's own in front, as it finds them all: none of them where the request itself
    is malformed (and so could not be looked for)."""
    if any(p.code in MALFORMED_CODES for p in problems):
        return problems
    return calendar_problems(session, request) + problems


@dataclass(frozen=True)
class CalendarGuard:
    """The read of what may stand in the way of a booking of a single-channel instrument, with
    its parameters (``calendar_problems_of`` says what each row it reads means). For a new
    booking every row is in the way: it can be inserted unless the read finds one, in one
    statement (``audit.services.insert_recorded_unless``)."""

    statement: CompoundSelect
    parameters: dict[str, Any]


def calendar_guard(request: BookingRequest) -> CalendarGuard | None:
    """The ``CalendarGuard`` of ``request``; None for an instrument with channels, whose
    calendar depends on the channels each booking holds."""
    instrument = request.instrument
    if instrument.channels > 1:
        return None
    blocked_until = request.end + dt.timedelta(minutes=instrument.buffer_minutes)
    return CalendarGuard(_calendar_statement(), {
        "instrument_id": instrument.id, "lab_id": instrument.lab_id, "start": request.start,
        "end": request.end, "held_until": blocked_until,
        "held_bound": held_bound(instrument, blocked_until)})


def calendar_problems_of(request: BookingRequest, rows: Iterable[Row[Any]],
                         held: list[tuple[dt.datetime, dt.datetime]] | None = None
                         ) -> list[Problem]:
    """The problems of the rows a ``CalendarGuard`` read for ``request``: the closures, then
    the bookings in its way, but for the one it moves (and ``held``, as ``calendar_problems``
    takes it)."""
    start = request.start
    blocked_until = request.end + dt.timedelta(minutes=request.instrument.buffer_minutes)
    rows = list(rows)
    problems = _closure_problems(sorted((row for row in rows if row.id is None),
                                        key=lambda row: row.start_at))
    clashes = [(row.start_at, row.end_at) for row in rows
               if row.id is not None and row.id != request.exclude_booking_id]
    clashes += [h for h in held or [] if timeline.overlaps(h, (start, blocked_until))]
    for clash_start, clash_end in sorted(clashes):
        problems.append(problem("overlap", _(
            "The instrument is already booked %(start)s – %(end)s (cleaning and set-up time "
            "included).", start=fmt(clash_start), end=fmt(clash_end)), (clash_start, clash_end)))
    return problems


def _closure_problems(closures: Iterable[Row[Any]]) -> list[Problem]:
    """A ``blackout`` problem for each of ``closures`` (rows of start_at, end_at and reason)."""
    return [problem("blackout", _("Closed %(start)s – %(end)s: %(reason)s",
                                  start=fmt(row.start_at), end=fmt(row.end_at),
                                  reason=row.reason), (row.start_at, row.end_at))
            for row in closures]


_HELD_CHANNELS = select(_BOOKING.id, _BOOKING.channel_mask).where(
    _BOOKING.instrument_id == bindparam("instrument_id"), *held_meeting())


_CHANNEL_TIMES = select(_BOOKING.start_at, _BOOKING.blocked_until, _BOOKING.channel_mask).where(
    _BOOKING.instrument_id == bindparam("instrument_id"), *held_meeting())


def channel_busy(session: Session, instrument: HoldsTime, start: dt.datetime,
                 end: dt.datetime) -> list[list[tuple[dt.datetime, dt.datetime]]]:
    """Per channel (index 0 for channel 1), the held time of the slot-holding bookings that
    hold it and meet ``[start, end)``, read in one statement."""
    busy: list[list[tuple[dt.datetime, dt.datetime]]] = [[] for _n in
                                                         range(instrument.channels)]
    for held_from, held_until, mask in session.execute(_CHANNEL_TIMES, {
            "instrument_id": instrument.id, "start": start, "end": end,
            "held_bound": held_bound(instrument, end)}):
        for number in channel_numbers(mask):
            if number <= instrument.channels:
                busy[number - 1].append((held_from, held_until))
    return busy


def taken_channels(session: Session, instrument: Instrument, start: dt.datetime, end: dt.datetime,
                   *, exclude_booking_id: int | None = None,
                   held_channels: Sequence[tuple[dt.datetime, dt.datetime, int]] = ()) -> int:
    """The mask of the channels some slot-holding booking holds at some moment of
    ``[start, end)``: a booking keeps its channels for its whole time (the samples stay where
    they were put), so only the others are free for all of it."""
    taken = 0
    for booking_id, mask in session.execute(_HELD_CHANNELS, {
            "instrument_id": instrument.id, "start": start, "end": end,
            "held_bound": held_bound(instrument, end)}):
        if booking_id != exclude_booking_id:
            taken |= mask
    for held_from, held_until, mask in held_channels:
        if timeline.overlaps((held_from, held_until), (start, end)):
            taken |= mask
    return taken


def channels_after_move(session: Session, booking: Booking, start: dt.datetime,
                        blocked_until: dt.datetime) -> int:
    """The channels ``booking`` holds at its new time: its own where none is taken then (the
    samples stay where they are), else as many of the lowest free ones."""
    if booking.instrument.channels == 1:
        return booking.channel_mask
    taken = taken_channels(session, booking.instrument, start, blocked_until,
                           exclude_booking_id=booking.id)
    if not taken & booking.channel_mask:
        return booking.channel_mask
    return lowest_free_channels(booking.instrument, taken, len(booking.channel_numbers))


def free_channels(instrument: Instrument, taken: int) -> list[int]:
    """The instrument's channels (from 1) not in the mask ``taken``."""
    return [n for n in range(1, instrument.channels + 1) if not taken >> (n - 1) & 1]


def lowest_free_channels(instrument: Instrument, taken: int, count: int) -> int:
    """The mask of the ``count`` lowest-numbered channels of ``instrument`` not in ``taken``.

    Callers have checked, under the instrument's turn, that there are as many. Were there not
    (a write that did not take its turn), the booking is refused as taken rather than given
    fewer channels than it holds and is charged for.
    """
    free = free_channels(instrument, taken)
    if len(free) < count:
        raise Conflict(_("The instrument's channels were taken for this time meanwhile; please "
                         "choose another time."), code="overlap")
    return channel_mask(free[:count])


def choose_channels(session: Session, request: BookingRequest,
                    held_channels: Sequence[tuple[dt.datetime, dt.datetime, int]] = ()) -> int:
    """The mask of the lowest-numbered channels free for all of ``request``'s held time (the
    caller has checked there are enough, under the instrument's lock). A single-channel
    instrument's booking holds channel 1 without looking: bookings of it do not take turns,
    and the exclusion constraint, not a second read, settles a race for it."""
    instrument = request.instrument
    if instrument.channels == 1:
        return 1
    blocked_until = request.end + dt.timedelta(minutes=instrument.buffer_minutes)
    taken = taken_channels(session, instrument, request.start, blocked_until,
                           exclude_booking_id=request.exclude_booking_id,
                           held_channels=held_channels)
    return lowest_free_channels(instrument, taken, request.channels)


def _channel_problems(session: Session, request: BookingRequest, blocked_until: dt.datetime,
                      held_channels: Sequence[tuple[dt.datetime, dt.datetime, int]]
                      ) -> list[Problem]:
    instrument = request.instrument
    taken = taken_channels(session, instrument, request.start, blocked_until,
                           exclude_booking_id=request.exclude_booking_id,
                           held_channels=held_channels)
    free = len(free_channels(instrument, taken))
    if free >= request.channels:
        return []
    return [problem("overlap", _(
        "Only %(free)d of the instrument's %(n)d channels are free for all of %(start)s – "
        "%(end)s (cleaning and set-up time included); %(k)d asked for.", free=free,
        n=instrument.channels, k=request.channels, start=fmt(request.start),
        end=fmt(blocked_until)), (request.start, blocked_until))]
_SUSPENSION = select(BookingSuspension.ends_at, BookingSuspension.no_shows,
                     BookingSuspension.window_days).where(
    BookingSuspension.user_id == bindparam("user_id"),
    BookingSuspension.lab_id == bindparam("lab_id"),
    BookingSuspension.starts_at <= bindparam("now"), BookingSuspension.ends_at > bindparam("now"),
    BookingSuspension.lifted_at.is_(None)).order_by(BookingSuspension.ends_at.desc()).limit(1)


def _suspension_problems(session: Session, request: BookingRequest,
                         now: dt.datetime) -> list[Problem]:
    """The user's own booking is suspended in the lab (too many no-shows): only the lab's
    managers may book for them meanwhile."""
    lab_id = request.instrument.lab_id
    if request.booked_by is not None and request.booked_by.manages_lab_id(lab_id):
        return []
    rows = fetch(session, _SUSPENSION, {"user_id": request.user.id,
                                                     "lab_id": lab_id, "now": now})
    if not rows:
        return []
    row = rows[0]
    return [problem("suspended", _(
        "%(name)s may not book in this lab until %(until)s: %(n)d no-shows within %(days)d "
        "days. The lab's managers can lift the suspension or book on their behalf.",
        name=request.user.name, until=fmt(row.ends_at), n=row.no_shows, days=row.window_days))]


def _status_label(status: InstrumentStatus) -> str:
    return {InstrumentStatus.MAINTENANCE: _("under maintenance"),
            InstrumentStatus.RETIRED: _("retired")}.get(status, status.value)


def is_qualified(session: Session, user: User, instrument: Instrument,
                 until: dt.datetime) -> bool:
    """Whether ``user`` may use ``instrument`` until ``until`` (a booking's end) as far as
    training goes: a record that expires before then does not cover the booking. A booking is
    half-open, so a record that expires the moment it ends does ("valid through 1 March" covers
    a run ending at midnight).

    The lab's own managers need no training record.
    """
    if user.manages_lab_id(instrument.lab_id):
        return True
    return session.scalar(_QUALIFICATION, {"user_id": user.id, "instrument_id": instrument.id,
                                           "until": until}) is not None


def _valid_training_record(user_id: Any = None, instrument_id: Any = None, until: Any = None
                           ) -> tuple:
    """The conditions of a valid training record of ``user_id`` on ``instrument_id`` until
    ``until``: column expressions, or (left out) bound parameters of those names."""
    return (Qualification.user_id == (bindparam("user_id") if user_id is None else user_id),
            Qualification.instrument_id == (bindparam("instrument_id") if instrument_id is None
                                            else instrument_id),
            Qualification.revoked_at.is_(None),
            or_(Qualification.expires_at.is_(None),
                Qualification.expires_at >= (bindparam("until") if until is None else until)))


# Built once: every booking of an instrument that asks for training asks it.
_QUALIFICATION = select(Qualification.id).where(*_valid_training_record()).limit(1)


def training_record_exists(user_id: Any = None, instrument_id: Any = None,
                           until: Any = None) -> Exists:
    """Whether the user ``user_id`` holds a training record on the instrument
    ``instrument_id`` valid until ``until`` (column expressions, or bound parameters of those
    names), as a column of a statement that reads something else anyway: given to
    ``BookingRequest``, the rules need no statement of their own for it."""
    return exists().where(*_valid_training_record(user_id, instrument_id, until))


def _is_qualified(session: Session, request: BookingRequest) -> bool:
    if request.holds_training_record is not None:
        return request.holds_training_record \
            or request.user.manages_lab_id(request.instrument.lab_id)
    return is_qualified(session, request.user, request.instrument, request.end)


def week_start(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The start (Monday 00:00 in ``tz``, as UTC) of the quota week that holds ``moment``."""
    local = moment.astimezone(tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    return dt.datetime.combine(monday, dt.time(0), tz).astimezone(dt.UTC)


def hours_held(session: Session, organization: Organization, start: dt.datetime,
               end: dt.datetime, *, exclude_booking_id: int | None = None) -> dt.timedelta:
    """Time the organization's slot-holding bookings take up inside ``[start, end)``.

    This is what counts against the weekly quota. The bookings are sought between two starts,
    on the (organization, start) index: none that starts more than the longest time any
    booking holds before ``start`` reaches into it, so the organization's years of bookings
    cost nothing.
    """
    used = dt.timedelta(0)
    earliest = start - dt.timedelta(minutes=session.scalar(_LONGEST_HELD) + 1)
    for booking_id, start_at, end_at in session.execute(select(
            Booking.id, Booking.start_at, Booking.end_at).where(
            Booking.organization_id == organization.id,
            Booking.start_at > earliest, Booking.start_at < end, Booking.end_at > start,
            Booking.state.in_(SLOT_HOLDING))):
        if booking_id != exclude_booking_id:
            used += _time_within(start_at, end_at, start, end)
    return used


#: The longest time a booking of any instrument holds it, in minutes (as ``held_bound``).
_LONGEST_HELD = select(func.coalesce(func.max(Instrument.longest_held_minutes), 0))


def _time_within(start_at: dt.datetime, end_at: dt.datetime, start: dt.datetime,
                 end: dt.datetime) -> dt.timedelta:
    """How much of ``[start_at, end_at)`` lies inside ``[start, end)``."""
    return max(min(end_at, end) - max(start_at, start), dt.timedelta(0))


def _quota_problems(session: Session, request: BookingRequest, tz: ZoneInfo,
                    unsaved: Sequence[tuple[dt.datetime, dt.datetime]]) -> list[Problem]:
    """Hours the organization holds per week (Monday to Sunday, lab time), this one and the
    ``unsaved`` ones included."""
    quota = dt.timedelta(hours=request.organization.weekly_quota_hours or 0)
    problems = []
    week = week_start(request.start, tz)
    while week < request.end:
        week_end = week + dt.timedelta(days=7)
        used = hours_held(session, request.organization, week, week_end,
                          exclude_booking_id=request.exclude_booking_id) + sum(
            (_time_within(start, end, week, week_end) for start, end in unsaved), dt.timedelta(0))
        wanted = min(request.end, week_end) - max(request.start, week)
        if used + wanted > quota:
            problems.append(problem("quota_exceeded", _(
                "%(org)s may book %(quota)d hours in the week of %(week)s and already holds "
                "%(used).1f.", org=request.organization.name,
                quota=request.organization.weekly_quota_hours,
                week=to_lab_time(week).strftime("%Y-%m-%d"),
                used=used / dt.timedelta(hours=1)), (week, week_end)))
        week = week_end
    return problems


# -- approval and the cancellation window -------------------------------------------------------


def needs_approval(actor: User, instrument: Instrument) -> bool:
    """Whether a booking ``actor`` makes on ``instrument`` waits for the lab's approval: on an
    instrument that asks for it, unless ``actor`` manages its lab."""
    return instrument.requires_approval and not actor.manages_lab_id(instrument.lab_id)


def free_cancellation_until(instrument: Instrument, start: dt.datetime) -> dt.datetime:
    """The moment from which cancelling a booking of ``instrument`` that starts at ``start`` (or
    giving back some of its time) is late: ``start`` minus the instrument's cancellation
    window. Exactly at this moment it is already late."""
    return start - dt.timedelta(hours=instrument.cancellation_window_hours)


def is_late_cancellation(booking: Booking, actor: User, now: dt.datetime, *,
                         by_lab: bool = False) -> bool:
    """Whether ``actor`` cancelling ``booking`` at ``now`` is a late cancellation (billed at the
    rate card's late-cancellation share): the booking's own user cancels an approved booking
    inside its cancellation window. The lab's cancellations (``by_lab``) and requests still
    waiting for approval are never late."""
    return cancelling_is_late(booking.state, own=booking.user_id == actor.id,
                              instrument=booking.instrument, start=booking.start_at, now=now,
                              by_lab=by_lab)


def cancelling_is_late(state: BookingState, *, own: bool, instrument: Instrument,
                       start: dt.datetime, now: dt.datetime, by_lab: bool = False) -> bool:
    """``is_late_cancellation`` for a booking in ``state`` that starts at ``start``, cancelled
    by its own user (``own``) or someone else; also for a booking not made yet."""
    return (not by_lab and own and state == BookingState.APPROVED
            and now >= free_cancellation_until(instrument, start))
