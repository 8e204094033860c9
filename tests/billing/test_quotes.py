"""Quotes of test requests, at the places where the rounding turns."""

from __future__ import annotations

from decimal import Decimal

import pytest

from labbook.accounts.models import PriceTier
from labbook.billing.pricing import Quote, quote
from labbook.catalogue.models import TestingService


def service(price: str = "100.00", *, surcharge: int = 0) -> TestingService:
    return TestingService(price_internal=Decimal("60.00"), price_partner=Decimal("80.00"),
                          price_external=Decimal(price), express_surcharge_percent=surcharge)


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
