import datetime as dt
from zoneinfo import ZoneInfo

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
