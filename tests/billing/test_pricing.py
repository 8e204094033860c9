"""The arithmetic of a charge line, pinned with worked examples."""

from __future__ import annotations

from decimal import Decimal

import pytest

from labbook.billing.models import BillingBasis, RateCard
from labbook.billing.pricing import billed_minutes, price_time, time_amount


def card(rate: str, *, basis: BillingBasis = BillingBasis.BOOKED, rounding: int = 15,
         minimum: int = 0) -> RateCard:
    return RateCard(hourly_rate=Decimal(rate), billing_basis=basis, rounding_minutes=rounding,
                    minimum_minutes=minimum, no_show_percent=100, late_cancel_percent=50)


def test_31_minutes_at_37_50_in_15_minute_increments_is_28_13():
    price = price_time(card("37.50"), booked=31, actual=None)
    assert price.billed_minutes == 45
    # 45/60 × 37.50 = 28.125: half-up gives 28.13 where banker's rounding would give 28.12.
    assert price.amount == Decimal("28.13")


@pytest.mark.parametrize(("minutes", "rounding", "billed"), [
    (0, 15, 0), (1, 15, 15), (15, 15, 15), (16, 15, 30), (59, 30, 60), (61, 60, 120),
    (7, 1, 7),
])
def test_minutes_are_rounded_up_to_the_increment(minutes, rounding, billed):
    assert billed_minutes(BillingBasis.BOOKED, minutes, None, rounding=rounding,
                          minimum=0) == billed


def test_the_minimum_applies_after_rounding():
    assert billed_minutes(BillingBasis.BOOKED, 10, None, rounding=15, minimum=30) == 30
    assert billed_minutes(BillingBasis.BOOKED, 50, None, rounding=15, minimum=30) == 60
    assert price_time(card("60.00", minimum=30), booked=10, actual=None).amount \
        == Decimal("30.00")


@pytest.mark.parametrize(("basis", "actual", "billed"), [
    (BillingBasis.BOOKED, 75, 60), (BillingBasis.ACTUAL, 75, 75),
    (BillingBasis.LARGER, 75, 75), (BillingBasis.BOOKED, 40, 60),
    (BillingBasis.ACTUAL, 40, 45), (BillingBasis.LARGER, 40, 60),
    (BillingBasis.ACTUAL, None, 0), (BillingBasis.LARGER, None, 60),
])
def test_booked_actual_or_the_larger(basis, actual, billed):
    assert billed_minutes(basis, 60, actual, rounding=15, minimum=0) == billed


def test_shares_are_taken_before_rounding_to_the_fen():
    # 45 min at ¥37.50/h = 28.125; a third of it is 9.28125 → 9.28 (not a third of 28.13).
    assert time_amount(45, Decimal("37.50"), 33) == Decimal("9.28")
    assert time_amount(60, Decimal("200.00"), 50) == Decimal("100.00")


def test_half_a_fen_rounds_up():
    assert time_amount(1, Decimal("0.30")) == Decimal("0.01")  # 0.005
    assert time_amount(1, Decimal("0.29")) == Decimal("0.00")  # 0.00483…
    assert time_amount(20, Decimal("10.01")) == Decimal("3.34")  # 3.3366…
