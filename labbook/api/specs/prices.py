"""OpenAPI of what a booking costs (issue 17: 1, 2): its estimate and what cancelling it costs
the token's owner, both on every booking (``Booking.estimate``, ``Booking.cancellation_fee``)."""

from __future__ import annotations

from typing import Any

from labbook.accounts.models import PriceTier
from labbook.api.specs import enum_values
from labbook.billing.models import BillingBasis

_MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$",
          "description": "Yuan, two decimals, rounded half-up to the fen."}
_MONEY_OR_NULL = {**_MONEY, "type": ["string", "null"]}

PATHS: dict[str, Any] = {}

SCHEMAS: dict[str, Any] = {
    "BookingEstimate": {
        "type": "object",
        "required": ["tier", "currency", "hourly_rate", "amount"],
        "description": "What the booked time costs if it is used as booked: the rate card of "
                       "the paying organization's tier in force at the booked start, its "
                       "increment and minimum — priced as the charge of the completed booking "
                       "is. `hourly_rate`, `amount`, `basis` and `billed_minutes` are null "
                       "when the tier has no rate card on the instrument (nothing is charged); "
                       "`amount` \"0.00\" is free of charge.",
        "properties": {
            "tier": {"type": "string", "enum": enum_values(PriceTier)},
            "currency": {"type": "string", "const": "CNY"},
            "hourly_rate": _MONEY_OR_NULL, "amount": _MONEY_OR_NULL,
            "basis": {"type": ["string", "null"], "enum": [*enum_values(BillingBasis), None],
                      "description": "What the card bills: the booked time, the actual use "
                                     "(the estimate assumes the booked time is used) or the "
                                     "larger."},
            "billed_minutes": {"type": ["integer", "null"], "minimum": 0}}},
    "CancellationFee": {
        "type": "object",
        "required": ["amount", "currency", "free_until", "late_amount"],
        "description": "What cancelling the booking costs the token's owner. Null on the "
                       "booking once it can no longer be cancelled.",
        "properties": {
            "amount": {**_MONEY, "description": "What cancelling now costs: \"0.00\" before "
                                                "`free_until`, while the booking waits for "
                                                "approval, or when cancelling never costs."},
            "currency": {"type": "string", "const": "CNY"},
            "free_until": {"type": ["string", "null"], "format": "date-time",
                           "description": "Until this moment cancelling is free; from it on "
                                          "(the instrument's cancellation window before the "
                                          "start) an approved booking cancelled by its own user "
                                          "costs `late_amount`. Null when cancelling never "
                                          "costs the token's owner anything: a booking of "
                                          "someone else's (the lab cancels free), or no "
                                          "late-cancellation fee on the rate card."},
            "late_amount": {**_MONEY, "description": "What a late cancellation costs: the "
                                                     "card's late-cancellation share of the "
                                                     "booked time's price."}}},
}
