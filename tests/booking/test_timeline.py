import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from labbook.booking import timeline

TZ = ZoneInfo("Asia/Shanghai")
HOURS = {day: [(dt.time(8, 30), dt.time(12)), (dt.time(13, 30), dt.time(17, 30))]
         for day in range(5)}


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2027, 3, day, hour, minute, tzinfo=TZ).astimezone(dt.UTC)


def test_a_booking_must_fit_one_opening_interval_on_its_day():
    assert timeline.is_within_opening_hours(HOURS, TZ, at(1, 8, 30), at(1, 12))
    assert not timeline.is_within_opening_hours(HOURS, TZ, at(1, 11), at(1, 14))  # lunch
    assert not timeline.is_within_opening_hours(HOURS, TZ, at(6, 9), at(6, 10))  # Saturday


def test_multi_day_runs_start_and_end_while_open():
    assert timeline.is_within_opening_hours(HOURS, TZ, at(1, 16), at(3, 9))
    assert not timeline.is_within_opening_hours(HOURS, TZ, at(1, 16), at(3, 12, 30))


def test_subtract_cuts_busy_time_out():
    free = timeline.subtract([(at(1, 8), at(1, 18))],
                             [(at(1, 9), at(1, 10)), (at(1, 9, 30), at(1, 11)),
                              (at(1, 17), at(1, 19))])
    assert free == [(at(1, 8), at(1, 9)), (at(1, 11), at(1, 17))]


def _minutes(intervals):
    return {moment for start, end in intervals
            for moment in range(int(start.timestamp()) // 60, int(end.timestamp()) // 60)}


def _half_hours(offset: int, length: int) -> timeline.Interval:
    return (at(1, 0) + dt.timedelta(minutes=30 * offset),
            at(1, 0) + dt.timedelta(minutes=30 * (offset + length)))


@settings(max_examples=150, deadline=None)
@given(gaps_and_lengths=st.lists(st.tuples(st.integers(0, 8), st.integers(1, 16)), max_size=4),
       busy_spans=st.lists(st.tuples(st.integers(0, 48), st.integers(1, 24)), max_size=8))
def test_subtract_leaves_the_time_of_the_intervals_that_nothing_busy_covers(gaps_and_lengths,
                                                                            busy_spans):
    opening, offset = [], 0
    for gap, length in gaps_and_lengths:
        opening.append(_half_hours(offset + gap, length))
        offset += gap + length
    busy = [_half_hours(*span) for span in busy_spans]
    free = timeline.subtract(opening, busy)
    assert _minutes(free) == _minutes(opening) - _minutes(busy)
    assert all(start < end for start, end in free)
    assert free == sorted(free)


def test_union_joins_busy_time_that_overlaps_touches_or_lies_within():
    """A long run holding the instrument over shorter bookings that end sooner: the slots after
    those bookings are still taken until the run ends."""
    assert timeline.union([(at(1, 13), at(1, 14)), (at(1, 9), at(1, 12)),
                           (at(1, 10), at(1, 11)), (at(1, 12), at(1, 12, 30)),
                           (at(1, 15), at(1, 16))]) == [
        (at(1, 9), at(1, 12, 30)), (at(1, 13), at(1, 14)), (at(1, 15), at(1, 16))]
    assert timeline.union([]) == []


def test_first_free_slots_skip_time_a_long_run_holds_over_shorter_bookings():
    busy = [(at(1, 8, 30), at(1, 9, 30)), (at(1, 8, 30), at(1, 15)), (at(1, 9, 30), at(1, 10))]
    slots = timeline.first_free_slots(
        hours=HOURS, tz=TZ, busy=busy, duration=dt.timedelta(hours=1), buffer=dt.timedelta(0),
        slot_minutes=30, window_start=at(1, 8), window_end=at(1, 18), limit=2)
    assert slots == [(at(1, 15), at(1, 16)), (at(1, 15, 30), at(1, 16, 30))]


def test_a_run_past_the_lab_s_midnight_is_a_run_of_two_days_where_utc_s_day_goes_on():
    """Kolkata's midnight is 18:30 UTC: a run from 22:00 to 00:30 spans two lab days, and starts
    and ends while the lab is open (00:00–23:30), though in UTC it lies within one day."""
    kolkata = ZoneInfo("Asia/Kolkata")
    hours = {day: [(dt.time(0), dt.time(23, 30))] for day in range(7)}
    start = dt.datetime(2027, 3, 1, 22, tzinfo=kolkata).astimezone(dt.UTC)
    end = start + dt.timedelta(hours=2, minutes=30)
    assert start.date() == end.date()
    assert timeline.first_free_slots(
        hours=hours, tz=kolkata, busy=[], duration=end - start, buffer=dt.timedelta(0),
        slot_minutes=30, window_start=start, window_end=end, limit=1) == [(start, end)]


def test_first_free_slots_need_one_free_channel_unless_told_more():
    taken = [(at(1, 8, 30), at(1, 12))]
    slots = timeline.first_free_slots(
        hours=HOURS, tz=TZ, busy=[], duration=dt.timedelta(hours=1), buffer=dt.timedelta(0),
        slot_minutes=30, window_start=at(1, 8), window_end=at(1, 18), limit=1,
        channel_busy=[taken, []])
    assert slots == [(at(1, 8, 30), at(1, 9, 30))]


def test_grid_starts_round_up_to_the_grid_in_lab_time():
    starts = list(timeline.grid_starts(at(1, 8, 40), at(1, 10), 30, TZ))
    assert starts == [at(1, 9), at(1, 9, 30)]


def test_first_free_slots_respect_buffer_and_opening_hours():
    busy = [(at(1, 8, 30), at(1, 10, 15))]
    slots = timeline.first_free_slots(
        hours=HOURS, tz=TZ, busy=busy, duration=dt.timedelta(hours=1),
        buffer=dt.timedelta(minutes=15), slot_minutes=30, window_start=at(1, 8),
        window_end=at(2, 18), limit=3)
    # Busy until 10:15, so 10:30 is the first free grid line; 11:00–12:00 fits although its
    # buffer runs past noon, and 11:30 would run into lunch, so the afternoon comes next.
    assert slots == [(at(1, 10, 30), at(1, 11, 30)), (at(1, 11), at(1, 12)),
                     (at(1, 13, 30), at(1, 14, 30))]


def test_first_free_slots_finds_a_multi_day_run_that_ends_while_open():
    slots = timeline.first_free_slots(
        hours=HOURS, tz=TZ, busy=[], duration=dt.timedelta(hours=41), buffer=dt.timedelta(0),
        slot_minutes=30, window_start=at(1, 15), window_end=at(5, 18), limit=2)
    # 15:00 Monday + 41 h would end 08:00 Wednesday, before the lab opens; 15:30 ends as it
    # opens at 08:30, and 16:00 at 09:00.
    assert slots == [(at(1, 15, 30), at(3, 8, 30)), (at(1, 16), at(3, 9))]


def _suggestible(hours, tz, busy, duration, buffer, slot_minutes, window_start, window_end,
                 limit):
    """Every grid start the booking rules would accept, earliest first: the definition that
    ``first_free_slots`` finds quickly."""
    found = []
    for start in timeline.grid_starts(window_start, window_end, slot_minutes, tz):
        end = start + duration
        if end > window_end:
            break
        if (timeline.is_within_opening_hours(hours, tz, start, end)
                and not any(timeline.overlaps((start, end + buffer), b) for b in busy)):
            found.append((start, end))
            if len(found) == limit:
                break
    return found


def _weekly_hours():
    half_hours = st.integers(min_value=0, max_value=47)
    interval = st.tuples(half_hours, half_hours).filter(lambda pair: pair[0] < pair[1]).map(
        lambda pair: (dt.time(pair[0] // 2, pair[0] % 2 * 30), dt.time(pair[1] // 2,
                                                                        pair[1] % 2 * 30)))
    day = st.lists(interval, max_size=2).map(sorted).filter(
        lambda intervals: all(a[1] < b[0] for a, b in itertools.pairwise(intervals)))
    return st.dictionaries(st.integers(min_value=0, max_value=6), day)


@settings(max_examples=150, deadline=None)
@given(hours=_weekly_hours(),
       zone=st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "Asia/Kolkata"]),
       first_day=st.integers(min_value=20, max_value=31),
       busy_hours=st.lists(st.tuples(st.integers(0, 5 * 24), st.integers(1, 30)), max_size=6),
       duration_minutes=st.sampled_from([30, 60, 90, 240, 24 * 60, 41 * 60]),
       buffer_minutes=st.sampled_from([0, 15, 30]),
       slot_minutes=st.sampled_from([15, 30, 60]),
       window_hours=st.integers(min_value=1, max_value=6 * 24),
       limit=st.integers(min_value=1, max_value=4))
def test_first_free_slots_are_the_earliest_slots_the_rules_accept(
        hours, zone, first_day, busy_hours, duration_minutes, buffer_minutes, slot_minutes,
        window_hours, limit):
    tz = ZoneInfo(zone)
    # March 2027 ends with Europe's change to summer time (28 March); India's lab days and
    # grid lines fall on the half hour of UTC.
    window_start = dt.datetime(2027, 3, first_day, 7, 10, tzinfo=tz).astimezone(dt.UTC)
    window_end = window_start + dt.timedelta(hours=window_hours)
    busy = [(window_start + dt.timedelta(hours=offset),
             window_start + dt.timedelta(hours=offset + length)) for offset, length in busy_hours]
    arguments = {"hours": hours, "tz": tz, "busy": busy,
                 "duration": dt.timedelta(minutes=duration_minutes),
                 "buffer": dt.timedelta(minutes=buffer_minutes), "slot_minutes": slot_minutes,
                 "window_start": window_start, "window_end": window_end, "limit": limit}
    assert timeline.first_free_slots(**arguments) == _suggestible(**arguments)


def test_a_run_through_the_night_may_end_the_moment_the_lab_opens():
    """The lab opens 08:30; the run is taken down then, so it uses no closed time at its end."""
    assert timeline.is_within_opening_hours(HOURS, TZ, at(1, 9), at(2, 8, 30))
    assert timeline.is_within_opening_hours(HOURS, TZ, at(1, 9), at(2, 8, 31))
    assert not timeline.is_within_opening_hours(HOURS, TZ, at(1, 9), at(2, 8, 29))


def test_a_run_through_the_night_starts_while_the_lab_is_open():
    """The lab closes 17:30; a run set up at that moment or later would start in closed time."""
    assert timeline.is_within_opening_hours(HOURS, TZ, at(1, 17, 29), at(2, 9))
    assert not timeline.is_within_opening_hours(HOURS, TZ, at(1, 17, 30), at(2, 9))
