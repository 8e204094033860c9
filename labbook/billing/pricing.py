"""The arithmetic of prices: minutes billed and amounts of a charge, and the quote of a test
request, in Decimal and rounded half-up to the fen per line.

A test request's quote:

* unit price = the service's price for the organization's tier
* subtotal   = unit price × samples
* surcharge  = subtotal × express surcharge percent / 100, rounded half-up (express only)
* total      = subtotal + surcharge
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from labbook.accounts.models import PriceTier
from labbook.billing.models import BillingBasis, Charge, RateCard
from labbook.catalogue.models import TestingService
from labbook.core.money import to_fen
from labbook.core.time import to_lab_time

MINUTE = dt.timedelta(minutes=1)


def whole_minutes(start: dt.datetime, end: dt.datetime) -> int:
    """Minutes from ``start`` to ``end``, a started minute counting in full."""
    return max(0, math.ceil((end - start) / MINUTE))


def billed_minutes(basis: BillingBasis, booked: int, actual: int | None, *,
                   rounding: int, minimum: int) -> int:
    """Minutes to bill: by ``basis``, rounded up to the ``rounding`` increment, at least
    ``minimum``. ``actual`` is None when the instrument was never used."""
    used = actual if actual is not None else 0
    if basis == BillingBasis.BOOKED:
        minutes = booked
    elif basis == BillingBasis.ACTUAL:
        minutes = used
    else:
        minutes = max(booked, used)
    if rounding > 1:
        minutes = math.ceil(minutes / rounding) * rounding
    return max(minutes, minimum)


def time_amount(minutes: int, hourly_rate: Decimal, share_percent: int = 100) -> Decimal:
    return to_fen(Decimal(minutes) * hourly_rate * share_percent / Decimal(6000))


@dataclass(frozen=True)
class TimePrice:
    """How a booking's charge was computed, kept on the charge line."""

    basis: BillingBasis
    booked_minutes: int
    actual_minutes: int | None
    rounding_minutes: int
    minimum_minutes: int
    billed_minutes: int
    hourly_rate: Decimal
    share_percent: int
    amount: Decimal


def _price(basis: BillingBasis, *, booked: int, actual: int | None, rounding: int,
           minimum: int, hourly_rate: Decimal, share_percent: int) -> TimePrice:
    minutes = billed_minutes(basis, booked, actual, rounding=rounding, minimum=minimum)
    return TimePrice(basis=basis, booked_minutes=booked, actual_minutes=actual,
                     rounding_minutes=rounding, minimum_minutes=minimum, billed_minutes=minutes,
                     hourly_rate=hourly_rate, share_percent=share_percent,
                     amount=time_amount(minutes, hourly_rate, share_percent))


def price_time(card: RateCard, *, booked: int, actual: int | None,
               basis: BillingBasis | None = None, share_percent: int = 100) -> TimePrice:
    """Price instrument time on ``card``; ``basis`` overrides the card's (no-shows and late
    cancellations are billed on the booked time)."""
    return _price(basis or card.billing_basis, booked=booked, actual=actual,
                  rounding=card.rounding_minutes, minimum=card.minimum_minutes,
                  hourly_rate=card.hourly_rate, share_percent=share_percent)


def booked_share_price(card: RateCard, booked: int, share_percent: int) -> TimePrice:
    """A no-show's or a late cancellation's price: ``share_percent`` of the ``booked`` minutes
    on ``card``, always on the booked time (there is no use to measure)."""
    return price_time(card, booked=booked, actual=None, basis=BillingBasis.BOOKED,
                      share_percent=share_percent)


def card_in_force(cards: Iterable[RateCard], start: dt.datetime) -> RateCard | None:
    """Of one instrument's ``cards`` for one tier, the one that prices a booking starting at
    ``start``: the latest to apply by then (a card applies from the start of its first day, or
    from the moment it was entered when it was made effective that same day). Should none
    apply yet, the first card that applied on the booked day (lab time) prices it."""
    cards = list(cards)
    in_force = [card for card in cards if card.applies_from <= start]
    if in_force:
        return max(in_force, key=lambda card: (card.effective_from, card.applies_from))
    booked_day = to_lab_time(start).date()
    return min((card for card in cards if card.effective_from == booked_day),
               key=lambda card: card.applies_from, default=None)


def reprice_time(charge: Charge, *, booked: int, actual: int | None) -> TimePrice:
    """Price ``charge``'s time again on the terms it was first priced with (basis, rate,
    increment, minimum, share), whatever rate cards were made or changed since."""
    return _price(charge.basis, booked=booked, actual=actual, rounding=charge.rounding_minutes,
                  minimum=charge.minimum_minutes, hourly_rate=charge.unit_price,
                  share_percent=charge.share_percent)


@dataclass(frozen=True)
class Quote:
    """What a test request costs: exact Decimals, each line rounded half-up to the fen."""

    tier: PriceTier
    unit_price: Decimal
    samples: int
    subtotal: Decimal
    is_express: bool
    express_surcharge_percent: int
    express_surcharge: Decimal
    total: Decimal


def quote(service: TestingService, tier: PriceTier, samples: int, express: bool) -> Quote:
    """The price of ``samples`` samples of ``service`` for ``tier`` (no validation)."""
    unit = to_fen(Decimal(service.price_for(tier)))
    subtotal = to_fen(unit * samples)
    percent = service.express_surcharge_percent if express else 0
    surcharge = to_fen(subtotal * percent / Decimal(100))
    return Quote(tier=tier, unit_price=unit, samples=samples, subtotal=subtotal,
                 is_express=express, express_surcharge_percent=percent,
                 express_surcharge=surcharge, total=subtotal + surcharge)
