"""Declarative base, naming conventions and the column types every model uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from labbook.core.money import FEN

# Stable constraint names keep Alembic autogenerate and downgrades deterministic on every engine.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime.

    Naive values are refused rather than guessed at, because a naive time in this system could be
    Asia/Shanghai or UTC and an eight-hour mistake in a booking is worse than an error. SQLite has
    no time zone support, so values are stored there as naive UTC in a fixed-width format, which
    keeps string comparison equal to time comparison.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        value = _in_utc(value)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None,
                             dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)

    # On SQLite, process_bind_param and then SQLAlchemy's DATETIME text (a format filled from a
    # dict of the fields), or SQLAlchemy's parse of that text and then process_result_value,
    # come to several times what writing or reading the text in one step does; and every
    # statement binds times and most results hold some (a calendar, hundreds).

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], str | None] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(self, dialect: Dialect, coltype: Any
                         ) -> Callable[[Any], dt.datetime | None] | None:
        parse = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or parse is None:
            return parse
        return _sqlite_text_reader(parse)


#: The text SQLite holds of a time: naive UTC with microseconds, fixed width, as SQLAlchemy's
#: SQLite DATETIME writes it ("2026-03-01 01:30:00.000000").
SQLITE_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _in_utc(value: object) -> dt.datetime:
    """``value`` as an aware datetime in UTC; anything but an aware datetime is refused."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} refused: give a time zone")
    return value.astimezone(dt.UTC)


def _sqlite_text(value: dt.datetime | None) -> str | None:
    """What ``UTCDateTime`` stores on SQLite for ``value``."""
    if value is None:
        return None
    if value.__class__ is not dt.datetime or value.tzinfo is not dt.UTC:
        value = _in_utc(value)
    return SQLITE_TEXT % (value.year, value.month, value.day, value.hour, value.minute,
                          value.second, value.microsecond)


def _sqlite_text_reader(parse: Callable[[Any], dt.datetime | None]
                        ) -> Callable[[str | None], dt.datetime | None]:
    """What reads the aware UTC time of SQLite's text; text that ``fromisoformat`` does not
    read as a time in UTC (a date alone, written by hand: Python 3.11 reads it with the offset
    as a naive midnight) goes the way SQLAlchemy reads it (``parse``)."""
    from_text, utc = dt.datetime.fromisoformat, dt.UTC

    def read(value: str | None) -> dt.datetime | None:
        if value is None:
            return None
        try:
            moment = from_text(value + "+00:00")
        except (TypeError, ValueError):
            return parse(value)
        return moment if moment.tzinfo is utc else parse(value)

    return read


class Money(TypeDecorator[Decimal]):
    """An exact amount of CNY, stored as integer fen.

    SQLite's NUMERIC goes through float, so storing fen as an integer is the only way to keep
    amounts exact on both engines. Values with a fraction of a fen are refused: rounding is a
    business decision made (half-up, per line) where the amount is computed, never here.
    """

    impl = BigInteger
    cache_ok = True

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"money must be a Decimal, got {type(value).__name__}")
        fen = Decimal(value) * 100
        if fen != fen.to_integral_value():
            raise ValueError(f"{value} has a fraction of a fen; round it before storing")
        return int(fen)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / 100).quantize(FEN)
