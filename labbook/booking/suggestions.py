"""Free slots of the same length, on the refused instrument and on its siblings: the next ones
after a taken or closed time, the nearest ones where the time broke a rule of the clock
(opening hours, notice, a holiday). Other instruments are offered only where the person may book
them: trained on them (where they need it) and not suspended in their lab."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Integer, bindparam, cast, exists, null, or_, select, union_all
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.booking import schedule, timeline
from labbook.booking.models import Blackout, Booking, BookingSuspension, Qualification
from labbook.booking.rules import channel_busy, held_bound, held_meeting
from labbook.catalogue.models import Instrument, InstrumentStatus
from labbook.core.reads import fetch
from labbook.core.time import iso

#: How far ahead suggestions look.
SEARCH_DAYS = 14
#: How far ahead the held time is read first: the slots are nearly always found by then (a
#: weekend and a day), and only when they are not is the rest of the search's window read.
NEAR_DAYS = 3
SAME_INSTRUMENT_LIMIT = 3
OTHER_INSTRUMENT_LIMIT = 3
#: Siblings tried at most, nearest (same lab) first.
MAX_SIBLINGS = 8

_BLACKOUT = Blackout.__table__.c
_BOOKING = Booking.__table__.c
_INSTRUMENT = Instrument.__table__.c


class Candidate(NamedTuple):
    """What the search needs of an instrument, and what a suggestion says of it, as plain values:
    the siblings are read as rows (no ORM objects to build), and a refusal's rollback, which
    expires the instruments the session holds, takes nothing from a suggestion made before it."""

    id: int
    code: str
    name_zh: str
    name_en: str
    lab_id: int
    category_id: int
    slot_minutes: int
    min_minutes: int
    max_minutes: int
    min_notice_minutes: int
    horizon_days: int
    buffer_minutes: int
    channels: int
    longest_held_minutes: int
    requires_qualification: bool

    @classmethod
    def of(cls, instrument: Instrument) -> Candidate:
        return cls(*(getattr(instrument, name) for name in cls._fields))


@dataclass(frozen=True, eq=False)
class Suggestion:
    instrument: Candidate
    start: dt.datetime
    end: dt.datetime
    #: The instrument's lab's time zone, in which pages show the slot.
    tz: ZoneInfo

    def _key(self) -> tuple[int, dt.datetime, dt.datetime]:
        # The same slot of the same instrument, whenever its rules were read.
        return self.instrument.id, self.start, self.end

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Suggestion) and self._key() == other._key()

    def as_dict(self) -> dict:
        instrument = self.instrument
        return {"instrument_id": instrument.id, "instrument_code": instrument.code,
                "instrument_name": instrument.name_zh, "instrument_name_en": instrument.name_en,
                "start": iso(self.start), "end": iso(self.end)}


class BusyTime:
    """Busy time (held time and closures) of candidate instruments from ``start`` until
    ``near_end`` or ``end``, read a group at a time when first needed: the search usually stops
    after the refused instrument and a few of its siblings, and within ``near_end``. ``groups``
    are the candidates in the order they are tried; one statement reads a group's busy time
    until one of the two."""

    def __init__(self, reads: Connection, groups: list[list[Candidate]], start: dt.datetime,
                 near_end: dt.datetime, end: dt.datetime) -> None:
        self.reads, self.start, self.near_end, self.end = reads, start, min(near_end, end), end
        self.group_of = {i.id: group for group in groups for i in group}
        self.held: dict[tuple[int, dt.datetime], list[timeline.Interval]] = {}
        self.closures: dict[tuple[int, dt.datetime], list[timeline.Interval]] = {}

    def until(self, instrument_id: int, end: dt.datetime) -> list[timeline.Interval]:
        """The instrument's held time of the bookings starting before ``end`` (``near_end`` or
        ``end``), and its closures starting before then."""
        self._read(instrument_id, end)
        return self.held[instrument_id, end] + self.closures[instrument_id, end]

    def closures_of(self, instrument_id: int) -> list[timeline.Interval]:
        self._read(instrument_id, self.end)
        return self.closures[instrument_id, self.end]

    def _read(self, instrument_id: int, end: dt.datetime) -> None:
        if (instrument_id, end) in self.held:
            return
        group = self.group_of[instrument_id]
        parameters = {"start": self.start, "end": end}
        for n, instrument in enumerate(group):
            parameters[f"instrument_{n}"] = instrument.id
            parameters[f"lab_{n}"] = instrument.lab_id
            parameters[f"held_bound_{n}"] = held_bound(instrument, end)
            self.held[instrument.id, end], self.closures[instrument.id, end] = [], []
        for owner_id, lab_id, booking_id, busy_from, busy_until in fetch(
                self.reads, _busy_statement(len(group)), parameters):
            if booking_id is not None:
                self.held[owner_id, end].append((busy_from, busy_until))
                continue
            for instrument in group:
                if owner_id == instrument.id or lab_id == instrument.lab_id:
                    self.closures[instrument.id, end].append((busy_from, busy_until))


@cache
def _busy_statement(count: int):
    """The closures of ``count`` instruments and of their labs (rows without a booking id), and
    the held time of each one's slot-holding bookings (rows without a lab, read on the rules'
    own conditions, as ``rules.held_times`` reads it), that meet ``[start, end)``: one round
    trip, not two. The instruments and labs are bound one by one, as the held time's are:
    a list bound at once (``expanding``) makes the statement's text anew at every run."""
    closures = select(_BLACKOUT.instrument_id, _BLACKOUT.lab_id, cast(null(), Integer),
                      _BLACKOUT.start_at, _BLACKOUT.end_at).where(
        or_(_BLACKOUT.instrument_id.in_([bindparam(f"instrument_{n}") for n in range(count)]),
            _BLACKOUT.lab_id.in_([bindparam(f"lab_{n}") for n in range(count)])),
        _BLACKOUT.end_at > bindparam("start"), _BLACKOUT.start_at < bindparam("end"))
    held = [select(_BOOKING.instrument_id, cast(null(), Integer), _BOOKING.id, _BOOKING.start_at,
                   _BOOKING.blocked_until)
            .where(_BOOKING.instrument_id == bindparam(f"instrument_{n}"),
                   *held_meeting(bound=f"held_bound_{n}"))
            for n in range(count)]
    return union_all(closures, *held)


@cache
def _siblings():
    # Built once: every refusal for a taken slot runs it. Rows, not ORM objects: the search
    # only reads them.
    return (select(*(_INSTRUMENT[name] for name in Candidate._fields))
            .where(_INSTRUMENT.category_id == bindparam("category_id"),
                   _INSTRUMENT.id != bindparam("instrument_id"),
                   _INSTRUMENT.status == InstrumentStatus.AVAILABLE)
            .order_by(_INSTRUMENT.lab_id != bindparam("lab_id"), _INSTRUMENT.code)
            .limit(MAX_SIBLINGS))


@cache
def _siblings_for_user():
    """The siblings, each with whether the person (``user_id``) holds a training record for it
    valid until ``until`` and whether they are suspended in its lab at ``now``: read with the
    siblings, rather than in two more statements."""
    trained = exists().where(
        Qualification.user_id == bindparam("user_id"),
        Qualification.instrument_id == _INSTRUMENT.id, Qualification.revoked_at.is_(None),
        or_(Qualification.expires_at.is_(None), Qualification.expires_at >= bindparam("until")))
    suspended = exists().where(
        BookingSuspension.user_id == bindparam("user_id"),
        BookingSuspension.lab_id == _INSTRUMENT.lab_id,
        BookingSuspension.starts_at <= bindparam("now"),
        BookingSuspension.ends_at > bindparam("now"), BookingSuspension.lifted_at.is_(None))
    return _siblings().add_columns(trained, suspended)


def _siblings_bookable_by(reads: Connection, instrument: Candidate, user: User | None,
                          until: dt.datetime, now: dt.datetime) -> list[Candidate]:
    """Up to MAX_SIBLINGS instruments of ``instrument``'s kind in service, nearest first; with
    a ``user``, those of them the person may book for themselves until ``until``: trained
    where it needs training (unless they manage its lab) and not suspended in its lab."""
    parameters = {"category_id": instrument.category_id, "instrument_id": instrument.id,
                  "lab_id": instrument.lab_id}
    if user is None:
        return [Candidate(*row) for row in fetch(reads, _siblings(), parameters)]
    siblings = []
    for *values, trained, suspended in fetch(
            reads, _siblings_for_user(), {**parameters, "user_id": user.id, "until": until,
                                          "now": now}):
        sibling = Candidate(*values)
        if not suspended and (trained or not sibling.requires_qualification
                              or user.manages_lab_id(sibling.lab_id)):
            siblings.append(sibling)
    return siblings


def suggest(session: Session, refused: Instrument, start: dt.datetime, end: dt.datetime,
            *, now: dt.datetime, channels: int = 1, user: User | None = None,
            on_instrument: bool = True, nearest: bool = False) -> list[Suggestion]:
    """Free slots like ``[start, end)``: up to three on the ``refused`` instrument (unless not
    ``on_instrument``), then one on each of a few instruments of its kind that ``user`` may
    book; with ``channels`` free channels where it has them. The slots come from the requested
    start on, or, ``nearest``, those nearest to it from the start of its lab day on."""
    instrument = Candidate.of(refused)
    duration = end - start
    window_end = max(start, now) + dt.timedelta(days=SEARCH_DAYS)
    # The search's two statements are Core: run on the session's connection, they skip the
    # session's dispatch of ORM statements.
    reads = session.connection()
    siblings = _siblings_bookable_by(reads, instrument, user, window_end + duration, now)
    # Each sibling offers at most one slot, so the search always goes on to at least
    # OTHER_INSTRUMENT_LIMIT siblings: those are read with the refused instrument, any further
    # ones as many at a time.
    candidates, first = [instrument, *siblings], 1 + OTHER_INSTRUMENT_LIMIT
    groups = [candidates[:first]] + [candidates[n:n + OTHER_INSTRUMENT_LIMIT]
                                     for n in range(first, len(candidates), OTHER_INSTRUMENT_LIMIT)]
    # No slot starts before the request's start, or before its lab day's in search of the
    # nearest ones: bookings that end before then do not matter, however soon they are.
    since = start - dt.timedelta(days=2) if nearest else start
    near_end = max(start, now) + dt.timedelta(days=NEAR_DAYS) + duration
    # The last slot may end at window_end + duration: a booking starting within its buffer
    # after that keeps it from being offered.
    longest_buffer = dt.timedelta(minutes=max(c.buffer_minutes for c in candidates))
    busy = BusyTime(reads, groups, max(min(start, now), since), near_end,
                    window_end + duration + longest_buffer)
    results = _slots(session, instrument, busy, start, duration, now, window_end,
                     SAME_INSTRUMENT_LIMIT, channels, nearest) if on_instrument else []
    others: list[Suggestion] = []
    for sibling in siblings:
        if len(others) >= OTHER_INSTRUMENT_LIMIT:
            break
        others += _slots(session, sibling, busy, start, duration, now, window_end, 1, channels,
                         nearest)
    return results + others


def _slots(session: Session, instrument: Candidate, busy: BusyTime,
           start: dt.datetime, duration: dt.timedelta, now: dt.datetime,
           window_end: dt.datetime, limit: int, channels: int,
           nearest: bool = False) -> list[Suggestion]:
    if not instrument.min_minutes <= duration / dt.timedelta(minutes=1) <= instrument.max_minutes:
        return []
    if channels > instrument.channels:
        return []
    lab_schedule = schedule.lab_schedule(session, instrument.lab_id)
    notice = now + dt.timedelta(minutes=instrument.min_notice_minutes)
    earliest = max(start, notice)
    wanted = limit
    if nearest:
        day_start = dt.datetime.combine(start.astimezone(lab_schedule.tz).date(), dt.time(0),
                                        lab_schedule.tz)
        earliest = max(day_start, notice)
        # Enough slots to hold every one that starts before ``start`` and ``wanted`` after it:
        # rounded up, for a ``start`` off the grid has one more grid time before it.
        limit += max(0, -(-(start - earliest) // dt.timedelta(minutes=instrument.slot_minutes)))
    latest = min(window_end, now + dt.timedelta(days=instrument.horizon_days)) + duration
    buffer = dt.timedelta(minutes=instrument.buffer_minutes)
    per_channel = channel_busy(session, instrument, min(earliest, latest), latest + buffer) \
        if instrument.channels > 1 else []
    search = partial(
        timeline.first_free_slots, hours=lab_schedule.hours, tz=lab_schedule.tz,
        duration=duration, buffer=buffer, slot_minutes=instrument.slot_minutes,
        window_start=earliest, limit=limit, channel_busy=per_channel, channels_needed=channels)
    if per_channel:
        slots = search(busy=busy.closures_of(instrument.id), window_end=latest)
    else:
        slots = _first_free_slots(search, busy, instrument.id, buffer, latest, limit)
    if nearest:
        slots = _nearest(slots, start, wanted)
    tz = lab_schedule.tz
    return [Suggestion(instrument, slot_start, slot_end, tz) for slot_start, slot_end in slots]


def _first_free_slots(search: Callable[..., list[timeline.Interval]], busy: BusyTime,
                      instrument_id: int, buffer: dt.timedelta, latest: dt.datetime,
                      limit: int) -> list[timeline.Interval]:
    """``search``'s first ``limit`` slots ending by ``latest``, looked for in the held time until
    ``busy.near_end`` first: it holds every booking that can meet a slot (its buffer included)
    ending by ``busy.near_end - buffer``. Where the slots found by then are too few, the search
    is made again over the held time until ``busy.end``, as if the near one had not been read;
    where they are enough, the whole search would have found the same, earliest first."""
    near_latest = busy.near_end - buffer
    if near_latest >= latest:
        return search(busy=busy.until(instrument_id, busy.near_end), window_end=latest)
    slots = search(busy=busy.until(instrument_id, busy.near_end), window_end=near_latest)
    if len(slots) >= limit:
        return slots
    return search(busy=busy.until(instrument_id, busy.end), window_end=latest)


def _nearest(slots: list[timeline.Interval], start: dt.datetime, wanted: int
             ) -> list[timeline.Interval]:
    """The ``wanted`` slots nearest to ``start`` among the last one before it and the first
    ones from it on (rather than three slots in a row just before it), earliest first."""
    before = [slot for slot in slots if slot[0] < start][-1:]
    after = [slot for slot in slots if slot[0] >= start][:wanted]
    return sorted(sorted(before + after, key=lambda slot: abs(slot[0] - start))[:wanted])
