"""SQL expressions the reports group and add up by, the same on SQLite and PostgreSQL.

Durations and lab days are computed in the database so that a year of bookings is summed there
instead of being loaded row by row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Integer, Select, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from labbook.core.engine import PLANNED_EACH_TIME
from labbook.core.time import LAB_TZ

DAY_SECONDS = 86400
# Asia/Shanghai has kept UTC+8 all year since 1991, so a lab day is a fixed 24-hour stretch of
# UTC and can be numbered with integer arithmetic that both engines share.
LAB_UTC_OFFSET_SECONDS = int(dt.datetime(2000, 1, 1, tzinfo=LAB_TZ).utcoffset().total_seconds())
#: Day 0 of the epoch, 1970-01-01, was a Thursday: 3 days after a Monday.
EPOCH_WEEKDAY = 3


#: The Julian day number of 1970-01-01 00:00 UTC.
JULIAN_EPOCH = 2440587.5


class epoch_seconds(FunctionElement[int]):
    """Whole seconds since 1970-01-01 UTC of an aware timestamp column."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_seconds"


class seconds_between(FunctionElement[int]):
    """Whole seconds from the first timestamp column to the second (NULL if either is)."""

    type = BigInteger()
    inherit_cache = True
    name = "seconds_between"


# UTCDateTime stores naive UTC text on SQLite, which its date functions read as UTC. julianday()
# parses that text faster than strftime('%s') does, which matters when a report reads a year of
# bookings; the seconds are rounded back to whole ones.

@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    return f"CAST(round((julianday({moment}) - {JULIAN_EPOCH}) * {DAY_SECONDS}) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(round((julianday({end}) - julianday({start})) * {DAY_SECONDS}) AS INTEGER)"


@compiles(seconds_between, "postgresql")
def _seconds_between_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS BIGINT)"


def lab_day_number(moment: Any) -> ColumnElement[int]:
    """The lab date of ``moment`` as days since 1970-01-01."""
    return (epoch_seconds(moment) + LAB_UTC_OFFSET_SECONDS) // DAY_SECONDS


def _weekdays_before(day_index: ColumnElement[int]) -> ColumnElement[int]:
    """How many Mondays-to-Fridays come before ``day_index``, counting days from a Monday."""
    rest = day_index % 7
    return (day_index // 7) * 5 + case((rest > 5, literal(5, Integer)), else_=rest)


def working_days_between(start: Any, end: Any) -> ColumnElement[int]:
    """Mondays to Fridays after the lab date of ``start`` up to and including that of ``end``,
    as ``testing.services.add_working_days`` counts them when it sets a due date."""
    shift = EPOCH_WEEKDAY + 1
    return (_weekdays_before(lab_day_number(end) + shift)
            - _weekdays_before(lab_day_number(start) + shift))


def month_of(moment: Any, months: Sequence[tuple[str, dt.datetime]]) -> ColumnElement[str]:
    """The key of the month ``moment`` falls in, given each month's key and end (UTC), in order.

    A CASE over the month ends is correct in any time zone and needs no date functions, which
    SQLite and PostgreSQL spell differently. ``moment`` must lie before the last end.
    """
    return case(*[(moment < end, literal(key)) for key, end in months])


def planned_each_time(query: Select[Any]) -> Select[Any]:
    """``query``, a sum over a period, planned by PostgreSQL for its own values every time it
    runs (``core.engine.PLANNED_EACH_TIME``): its cost depends on them."""
    return query.execution_options(**PLANNED_EACH_TIME)
