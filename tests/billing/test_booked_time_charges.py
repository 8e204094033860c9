"""No-shows and late cancellations are charged on the booked time, whatever the card's basis.

Worked examples on a card that bills actual use, ¥60/h (¥1 a minute) in 15-minute steps with
a 60-minute minimum, 50 % for a no-show and 30 % for a late cancellation. Nobody used the
instrument, so its actual time would be nothing (billed as the minimum); the booked time is
what is charged instead, rounded up to the increment and at least the minimum, before the share
is taken.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from labbook.accounts.models import PriceTier
from labbook.billing.models import BillingBasis, Charge, ChargeKind
from labbook.booking import attendance
from labbook.booking import services as bookings
from labbook.booking.models import BookingState
from labbook.core.engine import write_transaction
from labbook.extensions import db
from tests.factories import create_booking, create_instrument, lab_time

MONDAY = dt.date(2026, 10, 12)
START = lab_time(MONDAY, 9)


@pytest.fixture
def instrument():
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("60.00")},
                                   cancellation_window_hours=24)
    [card] = instrument.rate_cards
    card.billing_basis = BillingBasis.ACTUAL
    card.rounding_minutes = 15
    card.minimum_minutes = 60
    card.no_show_percent = 50
    card.late_cancel_percent = 30
    db.session.commit()
    return instrument


def the_charge() -> Charge:
    db.session.rollback()
    return db.session.scalars(select(Charge)).one()


@pytest.mark.parametrize(("booked", "billed", "amount"), [
    (150, 150, "75.00"),  # 2½ booked hours, not the 60-minute minimum (¥30.00)
    (100, 105, "52.50"),  # rounded up to the 15-minute step first
    (30, 60, "30.00"),  # shorter than the minimum: the minimum, as a use of it would be
])
def test_a_no_show_on_a_card_billing_actual_use_is_charged_the_booked_time(
        instrument, booked, billed, amount):
    booking = create_booking(instrument=instrument, start_at=START,
                             end_at=START + dt.timedelta(minutes=booked))
    with write_transaction(db.session):
        [marked] = attendance.mark_no_shows(db.session, now=START + dt.timedelta(hours=3))
    assert marked.id == booking.id and marked.state == BookingState.NO_SHOW

    charge = the_charge()
    assert (charge.kind, charge.basis, charge.booked_minutes, charge.actual_minutes) == \
        (ChargeKind.NO_SHOW, BillingBasis.BOOKED, booked, None)
    assert (charge.billed_minutes, charge.share_percent, charge.amount) == \
        (billed, 50, Decimal(amount))


def test_a_late_cancellation_on_a_card_billing_actual_use_is_charged_the_booked_time(
        instrument):
    booking = create_booking(instrument=instrument, start_at=START,
                             end_at=START + dt.timedelta(minutes=150))
    with write_transaction(db.session):
        bookings.cancel_booking(db.session, booking.user, booking,
                                now=START - dt.timedelta(hours=2))

    charge = the_charge()
    assert (charge.kind, charge.basis, charge.billed_minutes, charge.share_percent) == \
        (ChargeKind.LATE_CANCELLATION, BillingBasis.BOOKED, 150, 30)
    assert charge.amount == Decimal("45.00")  # not 30 % of the minimum's ¥60 (¥18.00)
