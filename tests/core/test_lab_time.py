"""Lab time and UTC: the day a moment falls on, and the same instant after a round trip."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from labbook.accounts.models import Organization
from labbook.core.time import (
    LAB_TZ,
    NaiveDatetimeError,
    parse_aware_datetime,
    to_lab_time,
    utcnow,
)
from labbook.extensions import db
from tests.factories import create_organization, make_uscc

# Midnight on 1 March in the lab is still the last day of February in UTC.
LAB_MIDNIGHT_UTC = dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC)


def test_midnight_lab_time_on_the_first_of_the_month_is_the_first():
    at_midnight = to_lab_time(LAB_MIDNIGHT_UTC)
    assert (at_midnight.date(), at_midnight.hour, at_midnight.utcoffset()) \
        == (dt.date(2026, 3, 1), 0, dt.timedelta(hours=8))
    assert to_lab_time(LAB_MIDNIGHT_UTC - dt.timedelta(microseconds=1)).date() \
        == dt.date(2026, 2, 28)


def test_lab_time_of_a_moment_given_in_another_zone_is_the_same_instant():
    new_york = dt.datetime(2026, 2, 28, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert to_lab_time(new_york) == LAB_MIDNIGHT_UTC
    assert to_lab_time(new_york).tzinfo is LAB_TZ


def test_a_naive_moment_has_no_lab_time():
    with pytest.raises(ValueError, match=r"^naive datetime cannot be converted to lab time$"):
        to_lab_time(dt.datetime(2026, 3, 1))  # noqa: DTZ001


def test_now_is_aware_utc():
    before = dt.datetime.now(dt.UTC)
    now = utcnow()
    assert now.utcoffset() == dt.timedelta(0)
    assert before <= now <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("text", [
    "2026-03-01T00:00:00+08:00", "2026-02-28T16:00:00Z", "2026-02-28T11:00:00-05:00",
])
def test_midnight_on_the_first_sent_with_any_offset_is_the_same_utc_moment(text):
    parsed = parse_aware_datetime(text)
    assert parsed == LAB_MIDNIGHT_UTC
    assert parsed.tzinfo is dt.UTC


def test_a_date_without_a_time_is_refused_as_naive():
    with pytest.raises(NaiveDatetimeError):
        parse_aware_datetime("2026-03-01")


@pytest.mark.parametrize("text", ["", "2026-02-30T00:00:00+08:00"])
def test_unreadable_timestamps_are_not_mistaken_for_naive_ones(text):
    with pytest.raises(ValueError) as refused:
        parse_aware_datetime(text)
    assert not isinstance(refused.value, NaiveDatetimeError)


# -- the UTCDateTime column type --------------------------------------------------------------

SHANGHAI_MORNING = dt.datetime(2026, 3, 1, 9, 30, tzinfo=LAB_TZ)  # 01:30 UTC


def _stored_created_at(organization_id: int) -> str:
    return db.session.scalar(text("SELECT created_at FROM organizations WHERE id = :id"),
                             {"id": organization_id})


def test_a_server_clock_on_china_time_stores_and_reads_the_same_instant(
        server_clock_in_shanghai):
    organization = create_organization(created_at=SHANGHAI_MORNING)
    db.session.expire_all()

    read = db.session.get(Organization, organization.id).created_at
    assert read == SHANGHAI_MORNING
    assert (read.hour, read.utcoffset()) == (1, dt.timedelta(0))
    if db.engine.dialect.name == "sqlite":
        # Fixed-width naive UTC, so that comparing the text compares the times.
        assert _stored_created_at(organization.id) == "2026-03-01 01:30:00.000000"


def test_a_postgresql_session_and_server_clock_on_china_time_read_the_same_instant(
        server_clock_in_shanghai):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no session time zone")
    db.session.execute(text("SET LOCAL TIME ZONE 'Asia/Shanghai'"))
    organization = Organization(name="时区测试", uscc=make_uscc(9001), tier="external",
                                created_at=SHANGHAI_MORNING)
    db.session.add(organization)
    db.session.flush()
    read = db.session.scalar(select(Organization.created_at)
                             .where(Organization.id == organization.id)
                             .execution_options(populate_existing=True))
    db.session.rollback()
    assert read == SHANGHAI_MORNING
    assert read.utcoffset() == dt.timedelta(0)


class _NoOffset(dt.tzinfo):
    """A time zone that knows no offset: Python counts such a datetime as naive."""

    def utcoffset(self, moment: dt.datetime | None) -> None:
        return None

    def dst(self, moment: dt.datetime | None) -> None:
        return None


@pytest.mark.parametrize("moment", [
    dt.datetime(2026, 3, 1, 9, 30),  # noqa: DTZ001
    dt.datetime(2026, 3, 1, 9, 30, tzinfo=_NoOffset()),
])
def test_a_datetime_without_an_offset_is_refused_by_the_column(moment):
    with pytest.raises(StatementError, match="naive datetime 2026-03-01T09:30:00 refused"):
        create_organization(created_at=moment)
    db.session.rollback()


@pytest.mark.parametrize("value", ["2026-03-01T09:30:00+08:00", dt.date(2026, 3, 1)])
def test_a_column_of_time_refuses_what_is_not_a_datetime(value):
    with pytest.raises(StatementError, match=r"expected a datetime, got (str|date)"):
        create_organization(created_at=value)
    db.session.rollback()
