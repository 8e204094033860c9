import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from labbook.accounts.models import Organization
from labbook.catalogue.models import Instrument
from labbook.extensions import db
from tests.factories import create_instrument, create_organization


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
