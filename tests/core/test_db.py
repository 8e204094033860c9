import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.types import TypeDecorator

from labbook.accounts.models import Organization
from labbook.catalogue.models import Instrument
from labbook.core.db import UTCDateTime
from labbook.extensions import db
from tests.factories import create_instrument, create_organization

NEW_YORK = ZoneInfo("America/New_York")


def test_aware_datetimes_come_back_in_utc():
    shanghai = dt.datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    organization = create_organization(created_at=shanghai)
    db.session.expire_all()

    stored = db.session.get(Organization, organization.id).created_at
    assert stored == shanghai
    assert stored.utcoffset() == dt.timedelta(0)
    assert stored.hour == 1


def test_naive_datetimes_are_refused():
    with pytest.raises(StatementError, match="naive datetime"):
        create_organization(created_at=dt.datetime(2026, 3, 1, 9, 30))  # noqa: DTZ001
    db.session.rollback()


# SQLite's text of a time is written and read in one step rather than through process_bind_param
# and SQLAlchemy's own DATETIME: the same text, the same instants, for every time there is.

SQLITE = sqlite.dialect()
#: SQLAlchemy's way, which UTCDateTime's own bind and result processors stand in for.
SQLALCHEMYS = UTCDateTime().dialect_impl(SQLITE)
MOMENTS = [
    dt.datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
    dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2027, 1, 1, tzinfo=dt.UTC),  # no microseconds: still written out
    dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NEW_YORK),  # the second 01:30 that night
    dt.datetime(2026, 3, 8, 3, 0, tzinfo=NEW_YORK),
    dt.datetime(999, 6, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
    dt.datetime(2026, 6, 1, 8, tzinfo=ZoneInfo("UTC")),  # UTC, but not datetime.UTC
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_sqlite_stores_the_text_sqlalchemy_would_and_reads_back_the_instant(moment):
    write = UTCDateTime()._cached_bind_processor(SQLITE)
    read = UTCDateTime()._cached_result_processor(SQLITE, None)
    stored = write(moment)

    assert stored == TypeDecorator.bind_processor(SQLALCHEMYS, SQLITE)(moment)
    assert len(stored) == len("2026-03-01 01:30:00.000000")
    # The same instant (Python's == says False for any time that a fold makes ambiguous).
    assert read(stored).timestamp() == moment.timestamp()
    assert read(stored).tzinfo is dt.UTC
    assert read(stored) == TypeDecorator.result_processor(SQLALCHEMYS, SQLITE, None)(stored)


@pytest.mark.parametrize(("stored", "instant"), [
    ("2026-03-01 01:30:00", dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC)),  # CURRENT_TIMESTAMP
    # Written by hand: a date alone, a time with its offset.
    ("2026-03-01", dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
    ("2026-03-01 09:30:00+08:00", dt.datetime(2026, 3, 1, 1, 30, tzinfo=dt.UTC)),
    (None, None),
])
def test_sqlite_text_of_other_shapes_reads_as_sqlalchemy_reads_it(stored, instant,
                                                                  server_clock_in_shanghai):
    read = UTCDateTime()._cached_result_processor(SQLITE, None)
    assert read(stored) == instant
    assert read(stored) == TypeDecorator.result_processor(SQLALCHEMYS, SQLITE, None)(stored)
    if instant is not None:
        assert read(stored).tzinfo is dt.UTC


def _refuse(value):
    raise AssertionError(f"SQLAlchemy's DATETIME processing ran for {value!r}")


def test_sqlite_times_are_written_and_read_in_one_step(monkeypatch):
    monkeypatch.setattr(sqlite.DATETIME, "bind_processor", lambda self, dialect: _refuse)
    monkeypatch.setattr(sqlite.DATETIME, "result_processor",
                        lambda self, dialect, coltype: _refuse)
    dialect = sqlite.dialect()  # a new one: each dialect keeps the processors it was given
    write = UTCDateTime()._cached_bind_processor(dialect)
    read = UTCDateTime()._cached_result_processor(dialect, None)
    for moment in MOMENTS:
        assert read(write(moment)).timestamp() == moment.timestamp()


def test_a_time_written_by_the_database_itself_reads_as_utc():
    organization = create_organization()
    moment = db.session.scalar(text(
        "SELECT CURRENT_TIMESTAMP" if db.engine.dialect.name == "sqlite" else "SELECT now()"))
    db.session.execute(text("UPDATE organizations SET created_at = :at WHERE id = :id"),
                       {"at": moment, "id": organization.id})
    db.session.expire_all()
    read = db.session.get(Organization, organization.id).created_at
    assert read.utcoffset() == dt.timedelta(0)
    assert abs(read - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_money_is_exact_to_the_fen_and_sums_exactly():
    for value in ("0.10", "0.20", "1234567.89"):
        create_instrument(value_cny=Decimal(value))
    db.session.expire_all()

    values = sorted(db.session.scalars(select(Instrument.value_cny)))
    assert values == [Decimal("0.10"), Decimal("0.20"), Decimal("1234567.89")]
    assert db.session.scalar(select(func.sum(Instrument.value_cny))) == Decimal("1234568.19")


@pytest.mark.parametrize("value", [0.1, "0.10", Decimal("0.105")])
def test_money_refuses_floats_strings_and_fractions_of_a_fen(value):
    with pytest.raises(StatementError):
        create_instrument(value_cny=value)
    db.session.rollback()
