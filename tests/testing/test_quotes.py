"""Quotes and due dates of test requests, at the places where the rounding turns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from labbook.accounts.models import PriceTier
from labbook.catalogue.models import TestingService
from labbook.core.time import LAB_TZ
from labbook.testing.models import ServiceRequest
from labbook.testing.services import (
    Quote,
    add_working_days,
    default_due_date,
    offers_express,
    quote,
    turnaround_working_days,
)


def service(price: str = "100.00", *, surcharge: int = 0, turnaround: int = 5) -> TestingService:
    return TestingService(price_internal=Decimal("60.00"), price_partner=Decimal("80.00"),
                          price_external=Decimal(price), express_surcharge_percent=surcharge,
                          turnaround_days=turnaround)


def test_the_express_surcharge_is_rounded_on_the_subtotal_not_per_sample():
    # 3 × ¥10.01 = 30.03; half of it is 15.015 → 15.02. Per sample, 5.005 → 5.01, × 3 = 15.03.
    assert quote(service("10.01", surcharge=50), PriceTier.EXTERNAL, 3, True) == Quote(
        tier=PriceTier.EXTERNAL, unit_price=Decimal("10.01"), samples=3,
        subtotal=Decimal("30.03"), is_express=True, express_surcharge_percent=50,
        express_surcharge=Decimal("15.02"), total=Decimal("45.05"))


def test_half_a_fen_of_surcharge_rounds_up():
    # 10 % of ¥12.25 is 1.225: half-up 1.23, where banker's rounding would give 1.22.
    priced = quote(service("12.25", surcharge=10), PriceTier.EXTERNAL, 1, True)
    assert (priced.express_surcharge, priced.total) == (Decimal("1.23"), Decimal("13.48"))


def test_a_request_without_express_pays_no_surcharge_where_express_is_offered():
    assert quote(service("33.33", surcharge=50), PriceTier.EXTERNAL, 3, False) == Quote(
        tier=PriceTier.EXTERNAL, unit_price=Decimal("33.33"), samples=3,
        subtotal=Decimal("99.99"), is_express=False, express_surcharge_percent=0,
        express_surcharge=Decimal("0.00"), total=Decimal("99.99"))


@pytest.mark.parametrize(("tier", "unit", "total"), [
    (PriceTier.INTERNAL, "60.00", "120.00"), (PriceTier.PARTNER, "80.00", "160.00"),
    (PriceTier.EXTERNAL, "100.00", "200.00"),
])
def test_the_organizations_tier_sets_the_unit_price(tier, unit, total):
    priced = quote(service(), tier, 2, False)
    assert (priced.tier, priced.unit_price, priced.total) == (tier, Decimal(unit), Decimal(total))


@pytest.mark.parametrize(("percent", "offered"), [(0, False), (1, True), (50, True)])
def test_express_is_offered_from_a_surcharge_of_one_percent(percent, offered):
    assert offers_express(service(surcharge=percent)) is offered


@pytest.mark.parametrize(("days", "express", "working_days"), [
    (5, False, 5), (5, True, 3), (4, True, 2), (3, True, 2), (1, True, 1), (10, True, 5),
])
def test_express_halves_the_turnaround_rounding_up(days, express, working_days):
    assert turnaround_working_days(service(turnaround=days), express) == working_days


@pytest.mark.parametrize(("start", "days", "due"), [
    (dt.date(2026, 5, 1), 0, dt.date(2026, 5, 1)),   # Friday, no days
    (dt.date(2026, 5, 1), 1, dt.date(2026, 5, 4)),   # Friday + 1 → Monday
    (dt.date(2026, 5, 2), 1, dt.date(2026, 5, 4)),   # Saturday + 1 → Monday
    (dt.date(2026, 5, 3), 5, dt.date(2026, 5, 8)),   # Sunday + 5 → Friday
    (dt.date(2026, 5, 1), 5, dt.date(2026, 5, 8)),   # Friday + 5 → next Friday
])
def test_working_days_skip_the_weekend(start, days, due):
    assert add_working_days(start, days) == due


@pytest.mark.parametrize(("express", "due"), [
    (False, dt.date(2026, 5, 8)),  # 5 working days from Friday 1 May (lab time)
    (True, dt.date(2026, 5, 6)),   # 3 working days
])
def test_the_due_date_counts_from_today_in_lab_time(express, due):
    # Accepted at 00:30 on Friday 1 May in the lab: still Thursday 30 April in UTC.
    now = dt.datetime(2026, 5, 1, 0, 30, tzinfo=LAB_TZ).astimezone(dt.UTC)
    request = ServiceRequest(service=service(turnaround=5), is_express=express)
    assert default_due_date(request, now=now) == due
