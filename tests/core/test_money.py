"""Money: the column gives amounts back exactly as stored, to the fen, and takes nothing else;
amounts are rounded half-up, printed with the sign before the currency, and read strictly."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

import pytest
from flask import render_template_string
from flask_babel import force_locale
from sqlalchemy.exc import StatementError

from labbook.catalogue.models import Instrument
from labbook.core.money import AmountError, AmountFault, format_money, read_amount, to_fen
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


@pytest.mark.parametrize(("amount", "fen"), [
    ("0.005", "0.01"), ("0.0049", "0.00"), ("2.675", "2.68"), ("2.665", "2.67"),
    ("14.0625", "14.06"), ("100", "100.00"), ("-0.005", "-0.01"),
])
def test_to_fen_rounds_half_up(amount, fen):
    rounded = to_fen(Decimal(amount))
    assert rounded == Decimal(fen) and rounded.as_tuple().exponent == -2


@pytest.mark.parametrize(("amount", "text"), [
    (Decimal("1234.5"), "¥1,234.50"), (Decimal("0"), "¥0.00"), (Decimal("-0.01"), "-¥0.01"),
    (Decimal("-1234567.8"), "-¥1,234,567.80"), (None, "—"),
])
def test_money_is_printed_with_the_sign_before_the_currency(amount, text):
    assert format_money(amount) == text


def test_money_reads_the_same_in_both_languages(app):
    with app.test_request_context():
        for locale in ("zh_CN", "en"):
            with force_locale(locale):
                assert render_template_string("{{ amount|money }}",
                                              amount=Decimal("-1234.5")) == "-¥1,234.50"


@pytest.mark.parametrize(("value", "amount"), [
    ("1200", "1200.00"), (" -120.50 ", "-120.50"), ("+.5", "0.50"), ("7.", "7.00"),
    (12, "12.00"), (12.5, "12.50"), (Decimal("3.10"), "3.10"),
])
def test_plain_amounts_are_read_to_the_fen(value, amount):
    read = read_amount(value)
    assert read == Decimal(amount) and read.as_tuple().exponent == -2


@pytest.mark.parametrize(("value", "fault"), [
    ("1_000", AmountFault.MALFORMED), ("1e3", AmountFault.MALFORMED),
    ("１２", AmountFault.MALFORMED), ("NaN", AmountFault.MALFORMED),
    ("Infinity", AmountFault.MALFORMED), ("1,000", AmountFault.MALFORMED),
    ("", AmountFault.MALFORMED), (None, AmountFault.MALFORMED), (True, AmountFault.MALFORMED),
    (1e16, AmountFault.MALFORMED), ("1" * 40, AmountFault.MALFORMED),
    (Fraction(12), AmountFault.MALFORMED), ([12], AmountFault.MALFORMED),
    ("0.105", AmountFault.SUB_FEN), ("-1.001", AmountFault.SUB_FEN),
])
def test_anything_else_is_refused_with_the_reason(value, fault):
    with pytest.raises(AmountError) as refused:
        read_amount(value)
    assert refused.value.fault == fault
