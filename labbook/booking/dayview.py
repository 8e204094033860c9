"""One day of a whole lab: every instrument side by side, hour by hour, in lab time.

Busy time is shown exactly as ``calendar.busy_entries`` shows it: other organizations'
bookings only as "booked".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import User
from labbook.booking import schedule, timeline
from labbook.booking.calendar import SHOWN_STATES, booking_entry
from labbook.booking.models import Booking
from labbook.booking.rules import blackouts
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab

#: Each hour column is drawn as this many equal parts.
PARTS_PER_HOUR = 4
HOUR = dt.timedelta(hours=1)


@dataclass
class Block:
    """A booking or closure as the viewer may see it, with lab-local times."""

    kind: str  # "booking" or "blackout"
    start: dt.datetime
    end: dt.datetime
    title: str
    entry: dict[str, Any]

    @property
    def is_own(self) -> bool:
        return bool(self.entry.get("own"))

    @property
    def booking_id(self) -> int | None:
        return self.entry.get("id") if "purpose" in self.entry else None


@dataclass
class Cell:
    hour: dt.datetime
    #: One state per part of the hour: ``free``, ``busy``, ``own``, ``blackout`` or ``closed``.
    parts: list[str]
    #: Blocks that begin in this hour (or before the first column, in the first one).
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Row:
    instrument: Instrument
    cells: list[Cell]
    blocks: list[Block]


@dataclass
class LabDay:
    lab: Lab
    day: dt.date
    hours: list[dt.datetime]
    rows: list[Row]

    @property
    def is_closed(self) -> bool:
        return not self.hours


def lab_day(session: Session, lab: Lab, day: dt.date, viewer: User | None) -> LabDay:
    tz = ZoneInfo(lab.timezone)
    day_start = dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tz).astimezone(dt.UTC)
    instruments = list(session.scalars(
        select(Instrument).where(Instrument.lab_id == lab.id,
                                 Instrument.status != InstrumentStatus.RETIRED)
        .order_by(Instrument.code)))
    blocks: dict[int, list[Block]] = {instrument.id: [] for instrument in instruments}
    bookings = session.scalars(
        select(Booking).where(Booking.instrument_id.in_(list(blocks)),
                              Booking.end_at > day_start, Booking.start_at < day_end,
                              Booking.state.in_(SHOWN_STATES))
        .options(selectinload(Booking.user), selectinload(Booking.organization),
                 selectinload(Booking.instrument))
        .order_by(Booking.start_at))
    for booking in bookings:
        entry = booking_entry(booking, viewer)
        blocks[booking.instrument_id].append(Block(
            "booking", booking.start_at.astimezone(tz), booking.end_at.astimezone(tz),
            entry["title"], entry))
    for blackout in blackouts(session, instruments, day_start, day_end):
        for instrument in instruments:
            if blackout.instrument_id == instrument.id or blackout.lab_id == instrument.lab_id:
                blocks[instrument.id].append(Block(
                    "blackout", blackout.start_at.astimezone(tz),
                    blackout.end_at.astimezone(tz), blackout.reason,
                    {"kind": "blackout", "title": blackout.reason}))
    open_time = [(start.astimezone(tz), end.astimezone(tz)) for start, end in
                 timeline.opening_intervals(schedule.lab_schedule(session, lab.id).hours, tz,
                                            day_start, day_end)]
    hours = _hour_columns(open_time, [b for bs in blocks.values() for b in bs
                                      if b.kind == "booking"], day_start.astimezone(tz),
                          day_end.astimezone(tz))
    rows = []
    for instrument in instruments:
        own = sorted(blocks[instrument.id], key=lambda b: (b.start, b.kind))
        rows.append(Row(instrument, _cells(hours, own, open_time), own))
    return LabDay(lab, day, hours, rows)


def _hour_columns(open_time: list[tuple[dt.datetime, dt.datetime]], bookings: list[Block],
                  day_start: dt.datetime, day_end: dt.datetime) -> list[dt.datetime]:
    """Whole hours from the earliest opening (or booking) to the latest closing (or end)."""
    spans = open_time + [(max(b.start, day_start), min(b.end, day_end)) for b in bookings]
    if not spans:
        return []
    first = min(start for start, _end in spans).replace(minute=0, second=0, microsecond=0)
    last = max(end for _start, end in spans)
    hours = []
    moment = first
    while moment < last:
        hours.append(moment)
        moment = (moment.astimezone(dt.UTC) + HOUR).astimezone(first.tzinfo)
    return hours


def _cells(hours: list[dt.datetime], blocks: list[Block],
           open_time: list[tuple[dt.datetime, dt.datetime]]) -> list[Cell]:
    part = HOUR / PARTS_PER_HOUR
    cells = []
    for index, hour in enumerate(hours):
        parts = []
        for n in range(PARTS_PER_HOUR):
            span = (hour + n * part, hour + (n + 1) * part)
            parts.append(_state(span, blocks, open_time))
        hour_end = hour + HOUR
        starting = [b for b in blocks if hour <= b.start < hour_end
                    or (index == 0 and b.start < hour < b.end)]
        cells.append(Cell(hour, parts, starting))
    return cells


def _state(span: tuple[dt.datetime, dt.datetime], blocks: list[Block],
           open_time: list[tuple[dt.datetime, dt.datetime]]) -> str:
    touching = [b for b in blocks if timeline.overlaps(span, (b.start, b.end))]
    if any(b.kind == "blackout" for b in touching):
        return "blackout"
    if touching:
        return "own" if any(b.is_own for b in touching) else "busy"
    if not any(timeline.overlaps(span, interval) for interval in open_time):
        return "closed"
    return "free"
