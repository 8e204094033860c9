"""Recurring bookings: expanding a daily or weekly rule into occurrences, in lab time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from labbook.core.errors import Problem, ValidationError

MAX_OCCURRENCES = 200


@dataclass(frozen=True)
class Recurrence:
    frequency: str  # "daily" or "weekly"
    interval: int = 1
    weekdays: tuple[int, ...] = ()  # 0 = Monday; weekly only; empty = the first one's weekday
    count: int | None = None
    until: dt.date | None = None  # last day (lab time) an occurrence may fall on

    def validate(self) -> None:
        def fail(field: str, message: str) -> ValidationError:
            return ValidationError(message, problems=[Problem("invalid_recurrence", message,
                                                              field=f"recurrence.{field}")])

        if self.frequency not in ("daily", "weekly"):
            raise fail("frequency", _("Repeat daily or weekly."))
        if not 1 <= self.interval <= 52:
            raise fail("interval", _("The repeat interval must be from 1 to 52."))
        if any(not 0 <= day <= 6 for day in self.weekdays):
            raise fail("weekdays", _("Weekdays are numbered 0 (Monday) to 6 (Sunday)."))
        if self.weekdays and self.frequency != "weekly":
            raise fail("weekdays", _("Weekdays can only be chosen for weekly repeats."))
        if (self.count is None) == (self.until is None):
            raise fail("count", _("Give either a number of occurrences or an end date."))
        if self.count is not None and not 1 <= self.count <= MAX_OCCURRENCES:
            raise fail("count", _("A series has from 1 to %(n)d occurrences.",
                                  n=MAX_OCCURRENCES))

    def occurrences(self, start: dt.datetime, end: dt.datetime,
                    tz: ZoneInfo) -> list[tuple[dt.datetime, dt.datetime]]:
        """Start and end of every occurrence, the first one included, at the same lab time."""
        self.validate()
        local_start = start.astimezone(tz)
        duration = end - start
        first_day = local_start.date()
        weekdays = set(self.weekdays or (first_day.weekday(),))
        result: list[tuple[dt.datetime, dt.datetime]] = []
        day = first_day
        while True:
            if self.until is not None and day > self.until:
                break
            if self._matches(day, first_day, weekdays):
                occurrence = dt.datetime.combine(day, local_start.timetz().replace(tzinfo=None),
                                                 tz).astimezone(dt.UTC)
                result.append((occurrence, occurrence + duration))
                if self.count is not None and len(result) >= self.count:
                    break
                if len(result) > MAX_OCCURRENCES:
                    message = _("A series has from 1 to %(n)d occurrences.", n=MAX_OCCURRENCES)
                    raise ValidationError(message, problems=[Problem(
                        "invalid_recurrence", message, field="recurrence.until")])
            day += dt.timedelta(days=1)
        return result

    def _matches(self, day: dt.date, first_day: dt.date, weekdays: set[int]) -> bool:
        elapsed = (day - first_day).days
        if self.frequency == "daily":
            return elapsed % self.interval == 0
        first_monday = first_day - dt.timedelta(days=first_day.weekday())
        week_number = (day - first_monday).days // 7
        return day.weekday() in weekdays and week_number % self.interval == 0
