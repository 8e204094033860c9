"""What the public open-sharing page (开放共享公示) shows of a lab: its instruments with their
free time in the coming week, the year's sharing figures, and its testing services.

**Free time** of an instrument: its lab's opening hours in the next seven days (from now) less
the time its bookings hold (with their buffers) and the closures of it or its lab; none for an
instrument under maintenance or retired. The year's sharing figures are those of
``labbook.reports.sharing``, recomputed at most every ``FIGURES_TTL_SECONDS`` per process: a
year of bookings is summed once, not on every visit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from labbook.booking import rules, schedule, timeline
from labbook.booking.models import SLOT_HOLDING, Blackout, Booking
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab, TestingService
from labbook.reports.sharing import SharingFigures, sharing_statistics

WEEK = dt.timedelta(days=7)
FIGURES_TTL_SECONDS = 900.0

@dataclasses.dataclass(frozen=True)
class YearFigures:
    """The year's sharing figures of the large instruments, by lab and instrument id (plain
    values, no database objects, so that they outlive the request that computed them)."""

    year: int
    labs: dict[int, SharingFigures]
    large_instruments: dict[int, int]
    instruments: dict[int, SharingFigures]


_figures: dict[tuple[int, Decimal], tuple[float, YearFigures]] = {}
_figures_lock = threading.Lock()


def yearly_figures(session: Session, year: int, threshold: Decimal, *,
                   now: dt.datetime) -> YearFigures:
    """The year's statistics of every lab, from this process's cache while fresh."""
    key = (year, threshold)
    moment = time.monotonic()
    cached = _figures.get(key)
    if cached is not None and moment - cached[0] < FIGURES_TTL_SECONDS:
        return cached[1]
    labs = list(session.scalars(select(Lab).order_by(Lab.code)))
    statistics = sharing_statistics(session, labs, year, threshold=threshold, now=now)
    figures = YearFigures(
        year, {lab.lab.id: lab.totals for lab in statistics.labs},
        {lab.lab.id: len(lab.instruments) for lab in statistics.labs},
        {instrument.id: instrument_figures for lab in statistics.labs
         for instrument, instrument_figures in lab.instruments})
    with _figures_lock:
        _figures[key] = (moment, figures)
    return figures


def forget_figures() -> None:
    with _figures_lock:
        _figures.clear()


@dataclasses.dataclass(frozen=True)
class PublicInstrument:
    instrument: Instrument
    free_seconds: int


def free_time(session: Session, lab: Lab, instruments: Sequence[Instrument], *,
              now: dt.datetime) -> dict[int, int]:
    """Seconds each instrument is free in the next seven days (see the module's text)."""
    end = now + WEEK
    lab_schedule = schedule.lab_schedule(session, lab.id)
    opening = timeline.opening_intervals(lab_schedule.hours, lab_schedule.tz, now, end)
    busy: dict[int | None, list[timeline.Interval]] = defaultdict(list)
    ids = [instrument.id for instrument in instruments]
    # Bounded on both sides (as every calendar read, ``rules.held_bound``): the bookings
    # further ahead than the week cost nothing.
    bound = max((rules.held_bound(instrument, end) for instrument in instruments), default=end)
    for instrument_id, start, until in session.execute(
            select(Booking.instrument_id, Booking.start_at, Booking.blocked_until)
            .where(Booking.instrument_id.in_(ids), Booking.state.in_(SLOT_HOLDING),
                   Booking.blocked_until > now, Booking.blocked_until < bound,
                   Booking.start_at < end)):
        busy[instrument_id].append((start, until))
    for instrument_id, start, until in session.execute(
            select(Blackout.instrument_id, Blackout.start_at, Blackout.end_at)
            .where(or_(Blackout.instrument_id.in_(ids), Blackout.lab_id == lab.id),
                   Blackout.end_at > now, Blackout.start_at < end)):
        busy[instrument_id].append((start, until))  # None: the whole lab
    free = {}
    for instrument in instruments:
        if instrument.status != InstrumentStatus.AVAILABLE:
            free[instrument.id] = 0
            continue
        intervals = timeline.subtract(opening, busy[instrument.id] + busy[None])
        free[instrument.id] = sum(int((b - a).total_seconds()) for a, b in intervals)
    return free


@dataclasses.dataclass
class PublicLab:
    lab: Lab
    instruments: list[PublicInstrument]
    services: list[TestingService]


def public_lab(session: Session, lab: Lab, *, now: dt.datetime) -> PublicLab:
    instruments = list(session.scalars(
        select(Instrument).where(Instrument.lab_id == lab.id,
                                 Instrument.status != InstrumentStatus.RETIRED)
        .options(selectinload(Instrument.category), selectinload(Instrument.owner))
        .order_by(Instrument.code)))
    free = free_time(session, lab, instruments, now=now)
    services = list(session.scalars(
        select(TestingService).where(TestingService.lab_id == lab.id,
                                     TestingService.is_active.is_(True))
        .order_by(TestingService.code)))
    return PublicLab(lab, [PublicInstrument(instrument, free[instrument.id])
                           for instrument in instruments], services)
