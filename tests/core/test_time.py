"""Reading moments that clients send: an offset is required, and the moment must be plausible;
writing them as ISO 8601 text."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from labbook.core import time
from labbook.core.time import (
    ImplausibleDatetimeError,
    NaiveDatetimeError,
    is_plausible_date,
    parse_aware_datetime,
)


def test_a_moment_with_an_offset_is_read_as_utc():
    assert parse_aware_datetime("2026-12-01T09:00:00+08:00") \
        == dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
    assert parse_aware_datetime(" 2026-12-01T01:00:00Z ") \
        == dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
    # In UTC itself, not merely at its offset: written back with +00:00 whatever the server's
    # own zone.
    assert parse_aware_datetime("2026-12-01T09:00:00+08:00").tzinfo is dt.UTC


def test_now_is_an_aware_moment_in_utc():
    before = dt.datetime.now(dt.UTC)
    now = time.utcnow()
    assert now.tzinfo is dt.UTC
    assert before <= now <= dt.datetime.now(dt.UTC)


def test_lab_time_is_shanghai_time_and_needs_an_offset():
    local = time.to_lab_time(dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC))
    assert local.isoformat() == "2027-01-01T00:00:00+08:00"  # midnight of the lab's new year
    assert local.tzinfo is time.LAB_TZ
    with pytest.raises(ValueError, match=r"^naive datetime cannot be converted to lab time$"):
        time.to_lab_time(dt.datetime(2026, 12, 31, 16, 0))  # noqa: DTZ001  (naive on purpose)


@pytest.mark.parametrize("text", [
    "2026-12-01T01:00:00z", "2026-12-01t01:00:00z", "2026-12-01t09:00:00+08:00",
])
def test_rfc_3339s_lower_case_t_and_z_are_read(text):
    assert parse_aware_datetime(text) == dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)


def test_a_moment_without_an_offset_is_refused():
    with pytest.raises(NaiveDatetimeError):
        parse_aware_datetime("2026-12-01T09:00:00")


@pytest.mark.parametrize("text", [
    # Near the ends of the calendar the conversion to UTC itself overflows.
    "0001-01-01T00:00:00+08:00", "9999-12-31T22:00:00-08:00",
    # Representable, but no booking, closure or record is from then.
    "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+08:00", "1999-12-31T23:59:59Z",
    "2100-01-01T00:00:01Z",
])
def test_a_moment_outside_the_years_2000_to_2099_is_refused_as_implausible(text):
    with pytest.raises(ImplausibleDatetimeError):
        parse_aware_datetime(text)


def test_the_first_and_last_plausible_moments_are_read():
    assert parse_aware_datetime("2000-01-01T00:00:00Z").year == 2000
    assert parse_aware_datetime("2099-12-31T23:59:59+08:00").year == 2099


def test_the_end_of_the_last_day_is_read_as_the_end_of_a_range():
    assert parse_aware_datetime("2100-01-01T00:00:00Z") \
        == dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    assert parse_aware_datetime("2100-01-01T08:00:00+08:00") \
        == dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(("day", "plausible"), [
    (dt.date(1999, 12, 31), False), (dt.date(2000, 1, 1), True),
    (dt.date(2099, 12, 31), True), (dt.date(2100, 1, 1), False),
    # The day of a moment from a date-and-time field.
    (dt.datetime(2099, 12, 31, 23, 59, tzinfo=dt.UTC), True),
    (dt.datetime(2100, 1, 1, 0, 0, tzinfo=dt.UTC), False),
])
def test_dates_from_2000_to_2099_are_plausible(day, plausible):
    assert is_plausible_date(day) is plausible


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00:00+08:00", ""])
def test_text_that_is_no_moment_is_a_value_error(text):
    with pytest.raises(ValueError):
        parse_aware_datetime(text)


def test_iso_writes_what_isoformat_writes():
    moment = dt.datetime(2026, 12, 1, 1, 30, 0, 250, tzinfo=dt.UTC)
    written = time.iso(moment)
    assert written == "2026-12-01T01:30:00.000250+00:00" == moment.isoformat()
    # Written again from what it kept: the same text, not a new one.
    assert time.iso(moment) is written
    assert time.iso(moment.replace()) is written


def test_iso_writes_equal_instants_in_their_own_zones():
    utc = dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC)
    shanghai = utc.astimezone(time.LAB_TZ)
    assert utc == shanghai
    assert time.iso(utc) == "2026-12-01T01:30:00+00:00"
    assert time.iso(shanghai) == "2026-12-01T09:30:00+08:00"


def test_iso_tells_the_two_readings_of_a_repeated_hour_apart():
    berlin = ZoneInfo("Europe/Berlin")
    first = dt.datetime(2026, 10, 25, 2, 30, tzinfo=berlin)
    second = first.replace(fold=1)
    assert first == second  # the same zone: compared by the clock, as Python does
    assert time.iso(first) == "2026-10-25T02:30:00+02:00"
    assert time.iso(second) == "2026-10-25T02:30:00+01:00"


def test_iso_keeps_no_more_than_its_limit(monkeypatch):
    monkeypatch.setattr(time, "ISO_TEXTS_KEPT", 3)
    monkeypatch.setattr(time, "_iso_texts", {})
    start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    for hours in range(7):
        assert time.iso(start + dt.timedelta(hours=hours)) == f"2026-12-01T{hours:02d}:00:00+00:00"
        assert len(time._iso_texts) <= 3
