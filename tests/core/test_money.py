"""The Money column: amounts come back exactly as stored, to the fen, and nothing else goes in."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy.exc import StatementError

from labbook.catalogue.models import Instrument
from labbook.extensions import db
from tests.factories import create_instrument


def stored(value: Decimal | int) -> Decimal:
    instrument = create_instrument(value_cny=value)
    db.session.expire_all()
    return db.session.get(Instrument, instrument.id).value_cny


@pytest.mark.parametrize(("value", "read"), [
    (Decimal("0.01"), "0.01"), (Decimal("12.5"), "12.50"), (5, "5.00"), (0, "0.00"),
    (Decimal("-12.34"), "-12.34"), (Decimal("9999999999.99"), "9999999999.99"),
])
def test_amounts_come_back_exact_with_two_decimals(value, read):
    amount = stored(value)
    assert amount == Decimal(read)
    assert str(amount) == read  # what exports and pages print


@pytest.mark.parametrize(("value", "message"), [
    (12.5, "money must be a Decimal, got float"),
    ("12.50", "money must be a Decimal, got str"),
    (True, "money must be a Decimal, got bool"),
    (Decimal("0.105"), "0.105 has a fraction of a fen; round it before storing"),
])
def test_what_is_not_a_whole_number_of_fen_is_refused_with_the_reason(value, message):
    with pytest.raises(StatementError, match=re.escape(message)):
        create_instrument(value_cny=value)
    db.session.rollback()
