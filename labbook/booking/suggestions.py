"""Next free slots of the same length, on the refused instrument and on its siblings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.booking import timeline
from labbook.booking.rules import blackouts_query, held_time, weekly_hours
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab

#: How far ahead suggestions look.
SEARCH_DAYS = 14
SAME_INSTRUMENT_LIMIT = 3
OTHER_INSTRUMENT_LIMIT = 3
#: Siblings tried at most, nearest (same lab) first.
MAX_SIBLINGS = 8


@dataclass(frozen=True)
class Suggestion:
    instrument: Instrument
    start: dt.datetime
    end: dt.datetime
    #: Taken from the instrument when the suggestion is made: a refusal rolls the transaction
    #: back, which expires the instrument, and the answer should not have to reload it.
    summary: dict = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, instrument: Instrument, start: dt.datetime, end: dt.datetime) -> Suggestion:
        return cls(instrument, start, end, {
            "instrument_id": instrument.id, "instrument_code": instrument.code,
            "instrument_name": instrument.name_zh, "instrument_name_en": instrument.name_en})

    def as_dict(self) -> dict:
        return {**self.summary, "start": self.start.isoformat(), "end": self.end.isoformat()}


class BusyTime:
    """Busy time of candidate instruments, each read when first needed: the search usually
    stops after the refused instrument and a few of its siblings."""

    def __init__(self, session: Session, instruments: list[Instrument], start: dt.datetime,
                 end: dt.datetime) -> None:
        self.session, self.start, self.end = session, start, end
        self.closures: dict[int, list[timeline.Interval]] = {i.id: [] for i in instruments}
        for blackout in session.scalars(blackouts_query(instruments, start, end)):
            for instrument in instruments:
                if blackout.instrument_id == instrument.id \
                        or blackout.lab_id == instrument.lab_id:
                    self.closures[instrument.id].append((blackout.start_at, blackout.end_at))

    def __getitem__(self, instrument_id: int) -> list[timeline.Interval]:
        held = [(held_from, held_until) for _id, held_from, held_until
                in held_time(self.session, instrument_id, self.start, self.end)]
        return held + self.closures[instrument_id]


def suggest(session: Session, instrument: Instrument, start: dt.datetime, end: dt.datetime,
            *, now: dt.datetime) -> list[Suggestion]:
    duration = end - start
    siblings = list(session.scalars(
        select(Instrument)
        .where(Instrument.category_id == instrument.category_id,
               Instrument.id != instrument.id,
               Instrument.status == InstrumentStatus.AVAILABLE)
        .options(selectinload(Instrument.lab).selectinload(Lab.opening_hours))
        .order_by(Instrument.lab_id != instrument.lab_id, Instrument.code)
        .limit(MAX_SIBLINGS)))
    window_end = max(start, now) + dt.timedelta(days=SEARCH_DAYS)
    busy = BusyTime(session, [instrument, *siblings], min(start, now), window_end + duration)
    results = _slots(instrument, busy, start, duration, now, window_end, SAME_INSTRUMENT_LIMIT)
    others: list[Suggestion] = []
    for sibling in siblings:
        if len(others) >= OTHER_INSTRUMENT_LIMIT:
            break
        others += _slots(sibling, busy, start, duration, now, window_end, 1)
    return results + others


def _slots(instrument: Instrument, busy: BusyTime,
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
    return [Suggestion.of(instrument, slot_start, slot_end) for slot_start, slot_end in slots]
