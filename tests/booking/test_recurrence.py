import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from labbook.booking.recurrence import MAX_OCCURRENCES, Recurrence
from labbook.core.errors import ValidationError

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2027, 3, 1, 9, tzinfo=TZ)
HOUR = dt.timedelta(hours=1)


def starts(recurrence, first=MONDAY):
    return [s.astimezone(TZ) for s, _e in recurrence.occurrences(first, first + HOUR, TZ)]


def test_daily_with_count_keeps_the_lab_time():
    result = starts(Recurrence("daily", count=3))
    assert result == [MONDAY, MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=2)]
    assert all(s.hour == 9 for s in result)


def test_every_other_day_until_a_date_inclusive():
    result = starts(Recurrence("daily", interval=2, until=dt.date(2027, 3, 5)))
    assert [s.day for s in result] == [1, 3, 5]


def test_weekly_on_chosen_weekdays():
    result = starts(Recurrence("weekly", weekdays=(1, 3), count=4))
    assert [s.strftime("%a %d") for s in result] == ["Tue 02", "Thu 04", "Tue 09", "Thu 11"]


def test_fortnightly_counts_whole_weeks_from_the_first():
    result = starts(Recurrence("weekly", interval=2, weekdays=(0, 4), count=4))
    assert [s.day for s in result] == [1, 5, 15, 19]


def test_weekly_without_weekdays_repeats_the_first_day():
    thursday = MONDAY + dt.timedelta(days=3)
    assert [s.day for s in starts(Recurrence("weekly", count=3), thursday)] == [4, 11, 18]


def test_occurrences_are_in_utc_and_keep_their_length():
    [(start, end)] = Recurrence("daily", count=1).occurrences(MONDAY, MONDAY + HOUR, TZ)
    assert start.utcoffset() == dt.timedelta(0) and start.hour == 1
    assert end - start == HOUR


def test_an_until_before_the_first_day_gives_nothing():
    assert starts(Recurrence("daily", until=dt.date(2027, 2, 1))) == []


@pytest.mark.parametrize("recurrence", [
    Recurrence("hourly", count=2),
    Recurrence("daily", interval=0, count=2),
    Recurrence("daily", weekdays=(1,), count=2),
    Recurrence("weekly", weekdays=(7,), count=2),
    Recurrence("daily"),
    Recurrence("daily", count=2, until=dt.date(2027, 4, 1)),
    Recurrence("daily", count=MAX_OCCURRENCES + 1),
    Recurrence("daily", until=dt.date(2029, 1, 1)),
])
def test_bad_rules_are_refused(recurrence):
    with pytest.raises(ValidationError) as refused:
        recurrence.occurrences(MONDAY, MONDAY + HOUR, TZ)
    assert refused.value.problems[0].field.startswith("recurrence.")
