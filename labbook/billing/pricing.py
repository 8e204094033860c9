"""The arithmetic of a charge: minutes billed and amounts, rounded half-up to the fen per line."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from labbook.billing.models import BillingBasis, Charge, RateCard
from labbook.core.money import to_fen

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


def reprice_time(charge: Charge, *, booked: int, actual: int | None) -> TimePrice:
    """Price ``charge``'s time again on the terms it was first priced with (basis, rate,
    increment, minimum, share), whatever rate cards were made or changed since."""
    return _price(charge.basis, booked=booked, actual=actual, rounding=charge.rounding_minutes,
                  minimum=charge.minimum_minutes, hourly_rate=charge.unit_price,
                  share_percent=charge.share_percent)
