"""Shared helpers of the pages (labbook.web): how a span of lab time is shown."""

from __future__ import annotations

import datetime as dt

import pytest

from labbook.web import lab_span
from tests.factories import lab_time

DAY = dt.date(2027, 3, 8)
NEXT = DAY + dt.timedelta(days=1)
BEFORE = DAY - dt.timedelta(days=1)


def shown(span) -> str:
    """The span's text, without its <time> elements."""
    return span.striptags()


@pytest.mark.parametrize(("start", "end", "text"), [
    (lab_time(DAY, 9), lab_time(DAY, 10, 30), "2027-03-08 09:00–10:30"),
    (lab_time(DAY, 22), lab_time(NEXT, 2), "2027-03-08 22:00–2027-03-09 02:00"),
    (lab_time(DAY, 23), lab_time(NEXT, 0), "2027-03-08 23:00–24:00"),
    (lab_time(DAY, 0), lab_time(NEXT, 0), "2027-03-08 00:00–24:00"),
], ids=["within a day", "into the next", "to midnight", "the whole day"])
def test_a_span_gives_its_start_date_and_the_ends_only_on_another_day(start, end, text):
    assert shown(lab_span(start, end)) == text


@pytest.mark.parametrize(("start", "end", "text"), [
    (lab_time(DAY, 9), lab_time(DAY, 10), "09:00–10:00"),
    (lab_time(DAY, 23), lab_time(NEXT, 0), "23:00–24:00"),
    (lab_time(DAY, 22), lab_time(NEXT, 2), "22:00–2027-03-09 02:00"),
    (lab_time(DAY, 22), lab_time(NEXT + dt.timedelta(days=1), 0), "22:00–2027-03-10 00:00"),
    (lab_time(BEFORE, 22), lab_time(DAY, 2), "2027-03-07 22:00–02:00"),
    (lab_time(BEFORE, 22), lab_time(NEXT, 2), "2027-03-07 22:00–2027-03-09 02:00"),
    (lab_time(NEXT, 0, 5), lab_time(NEXT, 1, 5), "2027-03-09 00:05–01:05"),
], ids=["within the day", "to its midnight", "into the next", "to the next midnight",
        "begun the evening before", "across the day", "tomorrow's, checked in tonight"])
def test_on_a_page_of_one_day_only_a_time_on_another_day_carries_its_date(start, end, text):
    assert shown(lab_span(start, end, DAY)) == text


def test_the_times_are_machine_readable_and_in_lab_time_whatever_zone_they_come_in():
    start = lab_time(DAY, 9)
    span = lab_span(start.astimezone(dt.timezone(dt.timedelta(hours=-5))), lab_time(DAY, 10))
    assert str(span) == ('<time datetime="2027-03-07T20:00:00-05:00">2027-03-08 09:00</time>–'
                         '<time datetime="2027-03-08T02:00:00+00:00">10:00</time>')
