"""Pure interval arithmetic for opening hours, busy time and free slots (no database).

All intervals are half-open ``[start, end)`` aware UTC datetimes; opening hours are given in the
lab's own time zone and converted day by day, so the arithmetic stays right across DST changes
for labs in zones that have them.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

Interval = tuple[dt.datetime, dt.datetime]
#: Opening hours per weekday (0 = Monday): a list of (opens, closes) local times.
WeeklyHours = dict[int, list[tuple[dt.time, dt.time]]]


class DatedHours(WeeklyHours):
    """Weekly opening hours with the dates that depart from them: statutory holidays a lab
    closes on (no hours) and make-up working days it opens on (a working day's hours)."""

    def __init__(self, weekly: Mapping[int, list[tuple[dt.time, dt.time]]],
                 on_dates: Mapping[dt.date, list[tuple[dt.time, dt.time]]]) -> None:
        super().__init__(weekly)
        self.on_dates = dict(on_dates)


def hours_on(hours: WeeklyHours, day: dt.date) -> list[tuple[dt.time, dt.time]]:
    """The opening hours of ``day`` (local date)."""
    on_dates = getattr(hours, "on_dates", None)
    if on_dates and day in on_dates:
        return on_dates[day]
    return hours.get(day.weekday(), [])


def overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def iter_opening_intervals(hours: WeeklyHours, tz: ZoneInfo, start: dt.datetime,
                           end: dt.datetime) -> Iterator[Interval]:
    """The lab's opening intervals that touch ``[start, end)``, in UTC, clipped to it, earliest
    first and worked out a day at a time, as they are asked for."""
    day = start.astimezone(tz).date()
    last_day = end.astimezone(tz).date()
    while day <= last_day:
        for opens, closes in hours_on(hours, day):
            interval = (dt.datetime.combine(day, opens, tz).astimezone(dt.UTC),
                        dt.datetime.combine(day, closes, tz).astimezone(dt.UTC))
            if overlaps(interval, (start, end)):
                yield max(interval[0], start), min(interval[1], end)
        day += dt.timedelta(days=1)


def opening_intervals(hours: WeeklyHours, tz: ZoneInfo, start: dt.datetime,
                      end: dt.datetime) -> list[Interval]:
    """The lab's opening intervals that touch ``[start, end)``, in UTC, clipped to it."""
    return list(iter_opening_intervals(hours, tz, start, end))


def is_within_opening_hours(hours: WeeklyHours, tz: ZoneInfo, start: dt.datetime,
                            end: dt.datetime) -> bool:
    """Whether a booking fits the lab's opening hours.

    A booking within one day must lie inside one opening interval. A longer one (an overnight
    battery test, a week in a salt-spray chamber) may run through closed hours, but must start
    and end while the lab is open, because someone has to set it up and take it down: it starts
    in ``[opens, closes)`` of some opening interval and ends in ``[opens, closes]`` of one. A
    run that ends the moment the lab opens is taken down at opening and uses no closed time at
    its end; one that starts the moment the lab closes would be set up in closed time.
    """
    day = dt.timedelta(days=1)
    return _fits(opening_intervals(hours, tz, start - day, end + day), tz, start, end)


def _is_same_day(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> bool:
    return start.astimezone(tz).date() == (end - dt.timedelta(microseconds=1)).astimezone(tz).date()


def _fits(open_intervals: Sequence[Interval], tz: ZoneInfo, start: dt.datetime,
          end: dt.datetime) -> bool:
    if _is_same_day(start, end, tz):
        return any(opens <= start and end <= closes for opens, closes in open_intervals)
    return (any(opens <= start < closes for opens, closes in open_intervals)
            and any(opens <= end <= closes for opens, closes in open_intervals))


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """The time ``intervals`` cover, as intervals that neither overlap nor touch, earliest first
    (their ends, too, in order)."""
    covered: list[Interval] = []
    for start, end in sorted(intervals):
        if covered and start <= covered[-1][1]:
            if end > covered[-1][1]:
                covered[-1] = (covered[-1][0], end)
        else:
            covered.append((start, end))
    return covered


def subtract(intervals: Iterable[Interval], busy: Sequence[Interval]) -> list[Interval]:
    """``intervals`` with every busy interval cut out."""
    ordered_busy = sorted(busy)
    free: list[Interval] = []
    for start, end in intervals:
        cursor = start
        for busy_start, busy_end in ordered_busy:
            if busy_end <= cursor or busy_start >= end:
                continue
            if busy_start > cursor:
                free.append((cursor, busy_start))
            cursor = max(cursor, busy_end)
            if cursor >= end:
                break
        if cursor < end:
            free.append((cursor, end))
    return free


def grid_starts(window_start: dt.datetime, window_end: dt.datetime, slot_minutes: int,
                tz: ZoneInfo) -> Iterator[dt.datetime]:
    """Moments on the instrument's slot grid (counted from local midnight) in the window."""
    local = window_start.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    step = dt.timedelta(minutes=slot_minutes)
    elapsed = local - midnight
    steps = -(-elapsed // step)  # round up to the next grid line
    moment = (midnight + steps * step).astimezone(dt.UTC)
    while moment < window_end:
        yield moment
        moment += step


def is_on_grid(moment: dt.datetime, slot_minutes: int, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    minutes = local.hour * 60 + local.minute
    return local.second == 0 and local.microsecond == 0 and minutes % slot_minutes == 0


def free_in_channels(held: Interval, channel_busy: Sequence[Sequence[Interval]]) -> int:
    """In how many channels nothing busy meets ``held``."""
    return sum(not any(overlaps(held, b) for b in busy) for busy in channel_busy)


def first_free_slots(*, hours: WeeklyHours, tz: ZoneInfo, busy: Sequence[Interval],
                     duration: dt.timedelta, buffer: dt.timedelta, slot_minutes: int,
                     window_start: dt.datetime, window_end: dt.datetime,
                     limit: int, channel_busy: Sequence[Sequence[Interval]] = (),
                     channels_needed: int = 1) -> list[Interval]:
    """Up to ``limit`` bookable slots of ``duration`` on the grid, earliest first.

    ``busy`` are the intervals others hold (their buffer included); a slot keeps its own buffer
    clear as well, exactly as the overlap rule demands. Only starts inside opening hours are
    tried, since no booking may start while the lab is closed. On an instrument with channels,
    ``busy`` holds its closures only and ``channel_busy`` each channel's busy time: a slot
    needs ``channels_needed`` channels free for all of it.
    """
    busy_time = union(busy)
    busy_ends = [end for _start, end in busy_time]
    day = dt.timedelta(days=1)
    found: list[Interval] = []
    # Opening hours are worked out as the search reaches them: it mostly ends on the first day.
    for opens, closes in iter_opening_intervals(hours, tz, window_start, window_end):
        for start in grid_starts(opens, closes, slot_minutes, tz):
            end = start + duration
            if end > window_end:
                return found
            held = (start, end + buffer)
            # The first stretch of busy time that ends after the slot starts is the only one
            # that can meet it: the others end sooner or start later still.
            first = bisect_right(busy_ends, start)
            if first < len(busy_time) and busy_time[first][0] < held[1]:
                continue
            if channel_busy and free_in_channels(held, channel_busy) < channels_needed:
                continue
            # The start lies in [opens, closes): a booking within the day fits if it ends by
            # ``closes``; a longer one must end while the lab is open on its last day.
            fits = end <= closes if _is_same_day(start, end, tz) else _fits(
                opening_intervals(hours, tz, start - day, end + day), tz, start, end)
            if not fits:
                continue
            found.append((start, end))
            if len(found) >= limit:
                return found
    return found


def free_capacity(open_time: Sequence[Interval], closed: Sequence[Interval],
                  held: Sequence[tuple[dt.datetime, dt.datetime, int]], channels: int
                  ) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """The open time not closed, cut where the number of free channels changes, with that
    number: ``held`` are bookings' held time with the number of channels each holds. Spans
    with no free channel are left out. One sweep over the sorted change points."""
    changes: dict[dt.datetime, int] = {}
    for start, end, count in held:
        changes[start] = changes.get(start, 0) + count
        changes[end] = changes.get(end, 0) - count
    moments = sorted(changes)
    spans: list[tuple[dt.datetime, dt.datetime, int]] = []
    for start, end in subtract(open_time, closed):
        in_use = sum(changes[m] for m in moments if m <= start)
        cursor = start
        for moment in moments:
            if moment <= start:
                continue
            if moment >= end:
                break
            spans.append((cursor, moment, channels - in_use))
            in_use += changes[moment]
            cursor = moment
        spans.append((cursor, end, channels - in_use))
    merged: list[tuple[dt.datetime, dt.datetime, int]] = []
    for start, end, free in spans:
        if free <= 0 or start >= end:
            continue
        if merged and merged[-1][1] == start and merged[-1][2] == free:
            merged[-1] = (merged[-1][0], end, free)
        else:
            merged.append((start, end, free))
    return merged
