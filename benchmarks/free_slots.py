"""The search for free slots that a refused booking offers, on an instrument booked solid.

A booking is refused most often where the instrument is busy, and its suggestions must then
search past the busy days for the first free slots: ``timeline.first_free_slots`` tries every
grid time of the opening hours against the busy time read for the search. This measures that
search alone (no database), for one-hour slots on a 30-minute grid in opening hours of
08:30–12:00 and 13:30–17:30, with the instrument booked solid for the next 0, 1, 3 and 7 days
(``--packed-days``) and the three first free slots wanted, as a refusal asks for them. The
packings are measured in alternation (0, 1, 3, 7, 0, 1 …). Prints JSON: wall-clock and CPU time
per search (p50/p95 in milliseconds), the grid times each search tried and the busy intervals
it was given.

    python benchmarks/free_slots.py --iterations 2000
    python benchmarks/free_slots.py --smoke   # does it still run? (fewer searches, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cli import Run, Timings, alternating
from labbook.booking import timeline

TZ = ZoneInfo("Asia/Shanghai")
HOURS = {weekday: [(dt.time(8, 30), dt.time(12)), (dt.time(13, 30), dt.time(17, 30))]
         for weekday in range(7)}
#: A Monday: the search starts at its opening.
FIRST_DAY = dt.date(2027, 3, 1)
SLOT_MINUTES = 30
LENGTH = dt.timedelta(hours=1)
#: Slots a refusal offers on the refused instrument (``suggestions.SAME_INSTRUMENT_LIMIT``).
WANTED = 3


def lab_time(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(FIRST_DAY + dt.timedelta(days=day), dt.time(hour, minute),
                               TZ).astimezone(dt.UTC)


def packed(days: int) -> list[timeline.Interval]:
    """Bookings of an hour, back to back, through the opening hours of ``days`` days."""
    busy = []
    for day in range(days):
        for opens, closes in ((lab_time(day, 8, 30), lab_time(day, 12)),
                              (lab_time(day, 13, 30), lab_time(day, 17, 30))):
            start = opens
            while start < closes:
                busy.append((start, min(start + LENGTH, closes)))
                start += LENGTH
    return busy


def search(busy: list[timeline.Interval], days: int) -> list[timeline.Interval]:
    return timeline.first_free_slots(
        hours=HOURS, tz=TZ, busy=busy, duration=LENGTH, buffer=dt.timedelta(0),
        slot_minutes=SLOT_MINUTES, window_start=lab_time(0, 8, 30),
        window_end=lab_time(days + 14, 0), limit=WANTED)


def measure(packings: list[int], iterations: int) -> dict:
    busy = {days: packed(days) for days in packings}
    timed = {days: Timings() for days in packings}
    for _round, days in alternating(iterations, packings):
        slots = timed[days](search, busy[days], days)
        assert slots and slots[0][0] == lab_time(days, 8, 30), slots
    return {"benchmark": "free_slots", "iterations": iterations, "by_packed_days": {
        str(days): {**timed[days].summary(skip=min(10, iterations // 10)),
                    "busy_intervals": len(busy[days]),
                    "grid_times_tried": _grid_times_tried(days)}
        for days in packings}}


def _grid_times_tried(days: int) -> int:
    """The grid times before the first free slot, and the slots found."""
    before = sum(1 for day in range(days)
                 for opens, closes in ((lab_time(day, 8, 30), lab_time(day, 12)),
                                       (lab_time(day, 13, 30), lab_time(day, 17, 30)))
                 for _ in timeline.grid_starts(opens, closes, SLOT_MINUTES, TZ))
    return before + WANTED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packed-days", type=int, action="append",
                        help="days booked solid before the first free slot (repeatable; "
                             "default 0, 1, 3 and 7)")
    parser.add_argument("--iterations", type=int, default=2000)
    run = Run(parser, database=False, smoke={"iterations": 200})
    args = run.args
    if args.iterations < 1 or any(days < 0 for days in args.packed_days or ()):
        parser.error("--iterations must be at least 1 and --packed-days at least 0")
    run.report(measure(args.packed_days or [0, 1, 3, 7], args.iterations))


if __name__ == "__main__":
    main()
