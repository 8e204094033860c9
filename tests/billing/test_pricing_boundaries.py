"""Where a charge's arithmetic turns: the increment, the minimum, the share, the started minute.

Each case is a worked example whose answer changes if the rule is applied in another order.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from labbook.billing.models import BillingBasis, RateCard
from labbook.billing.pricing import (
    TimePrice,
    billed_minutes,
    price_time,
    time_amount,
    whole_minutes,
)


def card(rate: str, basis: BillingBasis, *, rounding: int = 15, minimum: int = 0) -> RateCard:
    return RateCard(hourly_rate=Decimal(rate), billing_basis=basis, rounding_minutes=rounding,
                    minimum_minutes=minimum, no_show_percent=100, late_cancel_percent=50)


def test_a_charge_keeps_every_term_it_was_priced_on():
    price = price_time(card("37.50", BillingBasis.LARGER, minimum=20), booked=60, actual=61,
                       share_percent=50)
    assert price == TimePrice(basis=BillingBasis.LARGER, booked_minutes=60, actual_minutes=61,
                              rounding_minutes=15, minimum_minutes=20, billed_minutes=75,
                              hourly_rate=Decimal("37.50"), share_percent=50,
                              amount=Decimal("23.44"))  # 75/60 × 37.50 × 50 % = 23.4375


def test_the_cards_basis_applies_when_the_charge_names_none():
    price = price_time(card("60.00", BillingBasis.ACTUAL), booked=60, actual=40)
    assert (price.basis, price.billed_minutes, price.amount) \
        == (BillingBasis.ACTUAL, 45, Decimal("45.00"))


def test_a_no_show_on_a_card_that_bills_actual_time_is_charged_the_booked_time():
    no_show = price_time(card("60.00", BillingBasis.ACTUAL, minimum=30), booked=120, actual=None,
                         basis=BillingBasis.BOOKED)
    assert (no_show.basis, no_show.billed_minutes, no_show.amount) \
        == (BillingBasis.BOOKED, 120, Decimal("120.00"))


@pytest.mark.parametrize(("booked", "billed", "amount"), [
    (10, 20, "12.50"),  # rounded to 15, then raised to the minimum of 20 (not rounded to 30)
    (20, 30, "18.75"),  # rounded to 30, already above the minimum
    (0, 20, "12.50"),
])
def test_a_minimum_that_is_not_a_multiple_of_the_increment_is_billed_as_it_stands(
        booked, billed, amount):
    price = price_time(card("37.50", BillingBasis.BOOKED, minimum=20), booked=booked,
                       actual=None)
    assert (price.billed_minutes, price.amount) == (billed, Decimal(amount))


@pytest.mark.parametrize(("minutes", "rounding", "billed"), [
    (7, 2, 8), (8, 2, 8), (1, 5, 5), (29, 30, 30), (31, 30, 60),
])
def test_small_and_large_increments_round_up(minutes, rounding, billed):
    assert billed_minutes(BillingBasis.BOOKED, minutes, None, rounding=rounding,
                          minimum=0) == billed


def test_actual_time_counts_only_on_cards_that_bill_it():
    assert billed_minutes(BillingBasis.BOOKED, 30, 90, rounding=1, minimum=0) == 30
    assert billed_minutes(BillingBasis.ACTUAL, 30, 90, rounding=1, minimum=0) == 90
    assert billed_minutes(BillingBasis.LARGER, 90, 30, rounding=1, minimum=0) == 90


def test_a_late_cancellation_share_is_taken_before_rounding_to_the_fen():
    # 45 min at ¥37.50/h = 28.125; half of it is 14.0625 → 14.06. Halving the rounded 28.13
    # would give 14.065 → 14.07.
    price = price_time(card("37.50", BillingBasis.BOOKED), booked=31, actual=None,
                       share_percent=50)
    assert (price.billed_minutes, price.amount) == (45, Decimal("14.06"))
    assert time_amount(45, Decimal("37.50"), 50) == Decimal("14.06")


def test_the_full_share_is_the_default():
    assert time_amount(31, Decimal("37.50")) == Decimal("19.38")  # 19.375 half-up
    assert price_time(card("37.50", BillingBasis.BOOKED, rounding=1), booked=31,
                      actual=None).amount == Decimal("19.38")


START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("end", "minutes"), [
    (START, 0),
    (START + dt.timedelta(seconds=1), 1),  # a started minute counts in full
    (START + dt.timedelta(minutes=30), 30),
    (START + dt.timedelta(minutes=30, seconds=1), 31),
    (START + dt.timedelta(minutes=30, microseconds=1), 31),
    (START - dt.timedelta(minutes=5), 0),  # an end before the start is no time, not a credit
])
def test_whole_minutes_count_every_started_minute(end, minutes):
    assert whole_minutes(START, end) == minutes
