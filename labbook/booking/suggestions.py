"""Next free slots of the same length, on the refused instrument and on its siblings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.booking import timeline
from labbook.booking.rules import blackouts_query, holding_bookings_query, weekly_hours
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab

#: How far ahead suggestions look.
SEARCH_DAYS = 14
SAME_INSTRUMENT_LIMIT = 3
OTHER_INSTRUMENT_LIMIT = 3


@dataclass(frozen=True)
class Suggestion:
    instrument: Instrument
    start: dt.datetime
    end: dt.datetime

    def as_dict(self) -> dict:
        return {"instrument_id": self.instrument.id, "instrument_code": self.instrument.code,
                "instrument_name": self.instrument.name_zh,
                "instrument_name_en": self.instrument.name_en,
                "start": self.start.isoformat(), "end": self.end.isoformat()}


def busy_intervals(session: Session, instruments: list[Instrument], start: dt.datetime,
                   end: dt.datetime) -> dict[int, list[timeline.Interval]]:
    """Time each instrument cannot be booked in ``[start, end)``: bookings and blackouts."""
    busy: dict[int, list[timeline.Interval]] = {i.id: [] for i in instruments}
    for booking in session.scalars(holding_bookings_query(list(busy), start, end)):
        busy[booking.instrument_id].append((booking.start_at, booking.blocked_until))
    for blackout in session.scalars(blackouts_query(instruments, start, end)):
        for instrument in instruments:
            if blackout.instrument_id == instrument.id or blackout.lab_id == instrument.lab_id:
                busy[instrument.id].append((blackout.start_at, blackout.end_at))
    return busy


def suggest(session: Session, instrument: Instrument, start: dt.datetime, end: dt.datetime,
            *, now: dt.datetime) -> list[Suggestion]:
    duration = end - start
    siblings = list(session.scalars(
        select(Instrument)
        .where(Instrument.category_id == instrument.category_id,
               Instrument.id != instrument.id,
               Instrument.status == InstrumentStatus.AVAILABLE)
        .options(selectinload(Instrument.lab).selectinload(Lab.opening_hours))
        .order_by(Instrument.lab_id != instrument.lab_id, Instrument.code)))
    candidates = [instrument, *siblings]
    window_end = max(start, now) + dt.timedelta(days=SEARCH_DAYS)
    busy = busy_intervals(session, candidates, min(start, now), window_end + duration)
    results = _slots(instrument, busy, start, duration, now, window_end, SAME_INSTRUMENT_LIMIT)
    others: list[Suggestion] = []
    for sibling in siblings:
        if len(others) >= OTHER_INSTRUMENT_LIMIT:
            break
        others += _slots(sibling, busy, start, duration, now, window_end, 1)
    return results + others


def _slots(instrument: Instrument, busy: dict[int, list[timeline.Interval]],
           start: dt.datetime, duration: dt.timedelta, now: dt.datetime,
           window_end: dt.datetime, limit: int) -> list[Suggestion]:
    if not instrument.min_minutes <= duration / dt.timedelta(minutes=1) <= instrument.max_minutes:
        return []
    earliest = max(start, now + dt.timedelta(minutes=instrument.min_notice_minutes))
    latest = min(window_end, now + dt.timedelta(days=instrument.horizon_days)) + duration
    slots = timeline.first_free_slots(
        hours=weekly_hours(instrument.lab), tz=ZoneInfo(instrument.lab.timezone),
        busy=busy[instrument.id], duration=duration,
        buffer=dt.timedelta(minutes=instrument.buffer_minutes),
        slot_minutes=instrument.slot_minutes, window_start=earliest, window_end=latest,
        limit=limit)
    return [Suggestion(instrument, slot_start, slot_end) for slot_start, slot_end in slots]
