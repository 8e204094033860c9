"""Helpers for the calendar tests: subscribing, fetching, and checking RFC 5545 by hand."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream
from sqlalchemy import event

from labbook.accounts.models import User
from labbook.calendars import services as feed_services
from labbook.core.time import utcnow
from labbook.extensions import db


def subscribe(user: User, scope: str) -> str:
    """A new feed token of ``user`` for ``scope``; returns the feed's path."""
    _token, secret = feed_services.create_feed_token(
        db.session, user, feed_services.Scope.parse(scope), now=utcnow())
    db.session.commit()
    return f"/ical/{secret}.ics"


def unfold(body: bytes) -> list[str]:
    """The content lines of an iCalendar body, unfolded and decoded."""
    return body.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")[:-1]


def check_rfc5545(body: bytes) -> list[dict[str, list[str]]]:
    """Assert the RFC 5545 rules that do not need a parser; returns each VEVENT's lines by name.

    Parsing with two independent libraries follows, in ``parse``.
    """
    # 3.1: lines end with CRLF, none longer than 75 octets, continuations start with a blank.
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in body.replace(b"\r\n", b""), "bare CR"
    physical = body.split(b"\r\n")[:-1]
    for line in physical:
        assert len(line) <= 75, f"line of {len(line)} octets: {line!r}"
        line.decode("utf-8")  # folding never splits a character
    lines = unfold(body)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert any(line.startswith("PRODID:") for line in lines)
    timezones = {line.removeprefix("TZID:") for line in lines if line.startswith("TZID:")}
    events: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] | None = None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            events.append(current)
            current = None
        elif current is not None:
            name = re.split(r"[;:]", line, maxsplit=1)[0]
            current.setdefault(name, []).append(line)
    for properties in events:
        for required in ("UID", "DTSTAMP", "DTSTART"):
            assert len(properties.get(required, [])) == 1, f"{required} in {properties}"
        for name in ("DTSTAMP", "DTSTART", "DTEND", "LAST-MODIFIED", "CREATED"):
            for line in properties.get(name, []):
                match = re.fullmatch(rf"{name}(;TZID=([^:;]+))?:(\d{{8}}T\d{{6}})(Z?)", line)
                assert match, line
                tzid, utc = match.group(2), match.group(4)
                assert utc or (tzid and tzid in timezones), f"floating or undeclared: {line}"
                if name in ("DTSTAMP", "LAST-MODIFIED", "CREATED"):
                    assert utc, f"{name} must be UTC: {line}"
        assert properties.get("STATUS", ["STATUS:CONFIRMED"])[0] in (
            "STATUS:TENTATIVE", "STATUS:CONFIRMED", "STATUS:CANCELLED")
    return events


def parse(body: bytes) -> tuple[icalendar.Calendar, object]:
    """The body checked by hand and parsed by icalendar and by ical; both must agree."""
    events = check_rfc5545(body)
    first = icalendar.Calendar.from_ical(body)
    second = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    first_uids = [str(e["UID"]) for e in first.walk("VEVENT")]
    second_uids = [e.uid for e in second.events]
    assert first_uids == second_uids == [e["UID"][0].removeprefix("UID:") for e in events]
    assert len(set(first_uids)) == len(first_uids), "duplicate UID"
    for a, b in zip(first.walk("VEVENT"), second.events, strict=True):
        assert a.decoded("DTSTART") == b.dtstart
        assert a.decoded("DTEND") == b.dtend
        assert str(a["SUMMARY"]) == b.summary
        assert int(a["SEQUENCE"]) == b.sequence
    return first, second


def events_by_uid(body: bytes) -> dict[str, icalendar.Event]:
    calendar, _second = parse(body)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def uid(booking) -> str:
    return f"booking-{booking.id}@labbook.jzit.example.cn"


@contextmanager
def count_statements() -> Iterator[list[str]]:
    """The SQL statements run while the block runs (transaction control left out)."""
    statements: list[str] = []

    def before(_conn, _cursor, statement, _params, _context, _many) -> None:
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK",
                                                        "SAVEPOINT", "RELEASE"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


@pytest.fixture
def ago():
    """``ago(days=…)``: an aware UTC moment in the past."""
    def moment(**delta: float) -> dt.datetime:
        return utcnow() - dt.timedelta(**delta)

    return moment
