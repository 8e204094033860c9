"""Offers of freed time to the waiting list.

When time of an instrument is freed (a booking cancelled, rejected, expired, shortened or
moved, a no-show) the entries waiting for that instrument are gone through in the order they
joined: the first whose window holds a slot of its length that its user could book now (every
booking rule checked) is offered that slot by email, with a claim link valid for the lab's
``waitlist_offer_minutes``. An offered slot is kept for that entry until the offer is claimed or
lapses; then the scheduler's job (``make_all_offers``) lets it lapse and offers the time to the
next in line. Entries whose window has passed leave the line. On an instrument with channels
a slot is free for an entry where as many channels as it waits for are, and an offer keeps
as many.

The entries of an instrument are locked (in id order) while offers are decided, so two frees
at once, or a free and the job, never offer one slot twice. The job is idempotent: run twice,
it finds nothing more to do.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import cache
from typing import NamedTuple

from sqlalchemy import ColumnElement, bindparam, exists, literal_column, select
from sqlalchemy.orm import Session

from labbook.audit.services import record
from labbook.booking import rules, schedule, timeline
from labbook.booking.models import IN_LINE, WaitlistEntry, WaitlistState
from labbook.catalogue.models import Instrument, InstrumentStatus
from labbook.notify import services as notify

#: Candidate slots tried per entry before giving up for now (each is checked by every rule).
MAX_CANDIDATES = 20


@cache
def _anyone_in_line():
    # Built once, in Core: every freed slot asks, and the answer is mostly no.
    table = WaitlistEntry.__table__
    return select(table.c.id).where(table.c.instrument_id == bindparam("instrument_id"),
                                    table.c.state.in_([s.value for s in IN_LINE])).limit(1)


def in_line(instrument_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether anyone is in line for the instrument ``instrument_id`` (a bound parameter; a
    column of an UPDATE's table may be rendered without its table's name, and would then name
    the entry's own column): for a writer that frees time to ask in a statement it runs
    anyway, and pass on as ``someone_waits``."""
    table = WaitlistEntry.__table__
    # The states as constants of the statement: a move runs it, and a list would be expanded
    # into it again on each execution.
    return exists().where(table.c.instrument_id == instrument_id,
                          table.c.state.in_([literal_column(f"'{s.value}'") for s in IN_LINE]))


def _line(session: Session, instrument_id: int, someone_waits: bool | None = None
          ) -> list[WaitlistEntry]:
    """The entries in line for the instrument, locked in id order, in the order they joined.
    ``someone_waits``: whether anyone is in line, when the caller has already asked."""
    if someone_waits is None:
        someone_waits = session.execute(_anyone_in_line(),
                                        {"instrument_id": instrument_id}).first() is not None
    if not someone_waits:
        return []
    entries = session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.instrument_id == instrument_id,
                                    WaitlistEntry.state.in_(IN_LINE))
        .order_by(WaitlistEntry.id).with_for_update()
        .execution_options(populate_existing=True)).all()
    return sorted((e for e in entries if e.state in IN_LINE), key=lambda e: (e.created_at, e.id))


class KeptOffer(NamedTuple):
    """The time an open offer keeps from the rest of the line (its buffer included), and how
    many channels."""

    held: timeline.Interval
    channels: int


def kept_offers(entries: list[WaitlistEntry], instrument: Instrument,
                now: dt.datetime) -> list[KeptOffer]:
    return [_kept(instrument, entry.offer_start, entry.offer_end, entry.channels)
            for entry in entries
            if entry.state == WaitlistState.OFFERED and entry.offer_expires_at > now]


def _kept(instrument: Instrument, start: dt.datetime, end: dt.datetime, channels: int
          ) -> KeptOffer:
    return KeptOffer((start, end + dt.timedelta(minutes=instrument.buffer_minutes)), channels)


def _candidates(session: Session, instrument: Instrument, entry: WaitlistEntry,
                kept: list[KeptOffer], now: dt.datetime) -> list[timeline.Interval]:
    """Free slots of the entry's length inside its window, earliest first: on an instrument
    with channels, those with as many channels free as the entry waits for."""
    earliest = max(entry.window_start, now + dt.timedelta(minutes=instrument.min_notice_minutes))
    if earliest >= entry.window_end:
        return []
    buffer = dt.timedelta(minutes=instrument.buffer_minutes)
    busy = [(start, end) for _i, _l, start, end, _r in
            rules.blackouts(session, [instrument], earliest, entry.window_end)]
    per_channel: list[list[timeline.Interval]] = []
    if instrument.channels > 1:
        per_channel = _channels_with_offers(session, instrument, kept, earliest,
                                            entry.window_end + buffer)
    else:
        held = rules.held_time(session, instrument, earliest, entry.window_end)
        busy += [(start, until) for _id, start, until in held] + [offer.held for offer in kept]
    lab_schedule = schedule.lab_schedule(session, instrument.lab_id)
    return timeline.first_free_slots(
        hours=lab_schedule.hours, tz=lab_schedule.tz, busy=busy,
        duration=dt.timedelta(minutes=entry.minutes), buffer=buffer,
        slot_minutes=instrument.slot_minutes, window_start=earliest,
        window_end=entry.window_end, limit=MAX_CANDIDATES, channel_busy=per_channel,
        channels_needed=entry.channels)


def _channels_with_offers(session: Session, instrument: Instrument, kept: list[KeptOffer],
                          start: dt.datetime, end: dt.datetime) -> list[list[timeline.Interval]]:
    """Per channel, its held time from ``start`` to ``end``, and each offer kept for someone
    in the lowest channels free for all of it, as claiming it will book (in as many as are
    free, where someone has booked some of them directly since)."""
    per_channel = rules.channel_busy(session, instrument, start, end)
    for offer in kept:
        free = [held for held in per_channel
                if not any(timeline.overlaps(offer.held, interval) for interval in held)]
        for held in free[:offer.channels]:
            held.append(offer.held)
    return per_channel


def _bookable_slot(session: Session, instrument: Instrument, entry: WaitlistEntry,
                   kept: list[KeptOffer], now: dt.datetime) -> timeline.Interval | None:
    """The first free slot for ``entry`` that its user could book now by every rule."""
    user = entry.user
    if user.organization is None or not user.is_active:
        return None
    for start, end in _candidates(session, instrument, entry, kept, now):
        request = rules.BookingRequest(instrument, user, user.organization, start, end,
                                       channels=entry.channels)
        if not rules.check_booking(session, request, now=now):
            return start, end
    return None


def free_slot_for(session: Session, instrument: Instrument, entry: WaitlistEntry,
                  now: dt.datetime) -> timeline.Interval | None:
    """A slot ``entry`` (new, not yet in line) could book right now, offers kept for others
    left out."""
    offered = session.scalars(select(WaitlistEntry).where(
        WaitlistEntry.instrument_id == instrument.id,
        WaitlistEntry.state == WaitlistState.OFFERED)).all()
    return _bookable_slot(session, instrument, entry, kept_offers(list(offered),
                                                                      instrument, now), now)


def _offer(session: Session, entry: WaitlistEntry, slot: timeline.Interval,
           now: dt.datetime) -> None:
    minutes = entry.instrument.lab.waitlist_offer_minutes
    entry.state = WaitlistState.OFFERED
    entry.offer_start, entry.offer_end = slot
    entry.offer_expires_at = now + dt.timedelta(minutes=minutes)
    entry.offer_token = secrets.token_urlsafe(32)
    entry.updated_at = now
    record(session, None, entry, "offer", at=now, from_state="waiting", to_state="offered",
           start=slot[0].isoformat(), end=slot[1].isoformat(),
           expires_at=entry.offer_expires_at.isoformat())
    notify.waitlist_offer(session, entry, now=now)


def _leave_line(session: Session, entry: WaitlistEntry, to: WaitlistState, action: str,
                now: dt.datetime) -> None:
    before = entry.state
    entry.state = to
    entry.offer_token = None
    entry.updated_at = now
    record(session, None, entry, action, at=now, from_state=before.value, to_state=to.value)


def make_offers(session: Session, instrument: Instrument, *, now: dt.datetime,
                someone_waits: bool | None = None) -> list[WaitlistEntry]:
    """Decide the offers of ``instrument``'s waiting line as it is now: lapse offers past their
    time, drop entries whose window passed, offer free slots in the order of the line. Returns
    the entries offered a slot now. ``someone_waits``: see ``_line``."""
    entries = _line(session, instrument.id, someone_waits)
    if not entries:
        return []
    offered: list[WaitlistEntry] = []
    for entry in entries:
        if entry.state == WaitlistState.OFFERED and entry.offer_expires_at <= now:
            _leave_line(session, entry, WaitlistState.LAPSED, "lapse", now)
        elif entry.state == WaitlistState.WAITING and entry.window_end <= now:
            _leave_line(session, entry, WaitlistState.EXPIRED, "expire", now)
    if instrument.status != InstrumentStatus.AVAILABLE:
        return []
    kept = kept_offers(entries, instrument, now)
    for entry in entries:
        if entry.state != WaitlistState.WAITING:
            continue
        slot = _bookable_slot(session, instrument, entry, kept, now)
        if slot is None:
            continue
        _offer(session, entry, slot, now)
        kept.append(_kept(instrument, *slot, entry.channels))
        offered.append(entry)
    return offered


def offer_freed_time(session: Session, instrument: Instrument, end: dt.datetime, *,
                     now: dt.datetime, someone_waits: bool | None = None
                     ) -> list[WaitlistEntry]:
    """Time of ``instrument`` until ``end`` was freed: offer what is free to the line, if any
    of that time is still to come (the offers look at the whole calendar, not at the freed
    span alone). ``someone_waits``: whether anyone is in line, asked (``in_line``) in the
    transaction after the time was freed, or None to ask now."""
    if end <= now:
        return []
    return make_offers(session, instrument, now=now, someone_waits=someone_waits)


def make_all_offers(session: Session, *, now: dt.datetime) -> list[WaitlistEntry]:
    """The scheduler's job: for every instrument with a waiting line, lapse offers past their
    time, drop windows that passed and offer what is free to the next in line. Idempotent."""
    instrument_ids = session.scalars(
        select(WaitlistEntry.instrument_id).where(WaitlistEntry.state.in_(IN_LINE))
        .distinct().order_by(WaitlistEntry.instrument_id)).all()
    offered: list[WaitlistEntry] = []
    for instrument_id in instrument_ids:
        instrument = session.get(Instrument, instrument_id)
        if instrument is not None:
            offered += make_offers(session, instrument, now=now)
    return offered


def active_offer(entry: WaitlistEntry, now: dt.datetime) -> bool:
    return entry.state == WaitlistState.OFFERED and entry.offer_expires_at is not None \
        and entry.offer_expires_at > now


