"""Each lab's schedule (time zone and weekly opening hours), cached per process.

The booking rules, suggestions and availability need a lab's schedule on every request, and it
changes rarely (the catalogue loader, an administrator). Reading it from the cache saves the
lab and opening-hours queries. Any flush that touches a lab, its opening hours, its holiday
policy or the national calendar of holidays and make-up days empties the
cache (again when that transaction ends, so nothing uncommitted stays cached); the short TTL
bounds how long another process's change can go unseen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from labbook.booking import timeline
from labbook.catalogue.models import Lab, OpeningHours
from labbook.holidays import services as holidays
from labbook.holidays.models import LabHolidayPolicy, StatutoryDay

#: Seconds a cached schedule is trusted.
TTL_SECONDS = 60.0


@dataclass(frozen=True)
class LabSchedule:
    timezone: str
    tz: ZoneInfo
    #: Weekly hours with the lab's holidays (closed) and make-up days (open) on their dates.
    hours: timeline.WeeklyHours
    #: Statutory holidays the lab closes on (local dates).
    closed_days: frozenset = frozenset()


_cache: dict[int, tuple[float, LabSchedule]] = {}


@cache
def _schedule_query():
    # Built once: it runs whenever a schedule is not cached.
    return (select(Lab.timezone, OpeningHours.weekday, OpeningHours.opens_at,
                   OpeningHours.closes_at)
            .outerjoin(OpeningHours, OpeningHours.lab_id == Lab.id)
            .where(Lab.id == bindparam("lab_id"))
            .order_by(OpeningHours.weekday, OpeningHours.opens_at))


def weekly_hours(intervals: Any) -> timeline.WeeklyHours:
    """Opening hours per weekday from (weekday, opens_at, closes_at) triples."""
    hours: timeline.WeeklyHours = {}
    for weekday, opens_at, closes_at in intervals:
        hours.setdefault(weekday, []).append((opens_at, closes_at))
    return hours


def working_day_hours(weekly: timeline.WeeklyHours) -> list:
    """The hours a make-up working day opens with: those of the lab's first weekday that has
    any (Monday's, for nearly every lab)."""
    return next((weekly[d] for d in range(5) if weekly.get(d)), [])


def dated_hours(weekly: timeline.WeeklyHours, overrides: holidays.DayOverrides
                ) -> timeline.WeeklyHours:
    if not overrides.closed and not overrides.opened:
        return weekly
    on_dates = {day: [] for day in overrides.closed}
    workday = working_day_hours(weekly)
    on_dates.update({day: workday for day in overrides.opened})
    return timeline.DatedHours(weekly, on_dates)


def lab_schedule(session: Session, lab_id: int) -> LabSchedule:
    """The schedule of lab ``lab_id``, from the cache when it is fresh."""
    now = time.monotonic()
    cached = _cache.get(lab_id)
    if cached is not None and now - cached[0] < TTL_SECONDS:
        return cached[1]
    rows = session.execute(_schedule_query(), {"lab_id": lab_id}).all()
    if not rows:
        raise LookupError(f"no lab with id {lab_id}")
    timezone = rows[0][0]
    weekly = weekly_hours(row[1:] for row in rows if row[1] is not None)
    overrides = holidays.day_overrides(session, lab_id)
    schedule = LabSchedule(timezone, ZoneInfo(timezone), dated_hours(weekly, overrides),
                           overrides.closed)
    _cache[lab_id] = (now, schedule)
    return schedule


def invalidate() -> None:
    """Forget every cached schedule."""
    _cache.clear()


_DIRTY = "labbook_schedules_changed"


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, (Lab, OpeningHours, StatutoryDay, LabHolidayPolicy))
           for obj in touched):
        session.info[_DIRTY] = True
        invalidate()


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _after_transaction(session: Session, *_args: Any) -> None:
    if session.info.pop(_DIRTY, False):
        invalidate()
