"""A booking's estimate and its cancellation terms, priced by the code that charges it: the
estimate is the charge of the booking used as booked, the fee is the late-cancellation charge,
and both choose the rate card as the charge does (tier, the card in force at the start)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import event, select

from labbook.accounts.models import PriceTier
from labbook.billing import estimates
from labbook.billing.models import BillingBasis, Charge, ChargeKind, RateCard
from labbook.booking import attendance
from labbook.booking import services as bookings
from labbook.booking.models import BookingState
from labbook.core.engine import write_transaction
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_instrument,
    create_manager,
    create_organization,
    create_user,
    lab_time,
)

MONDAY = dt.date(2026, 10, 12)
START = lab_time(MONDAY, 9)
WINDOW = dt.timedelta(hours=24)
SECOND = dt.timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _in_english(app):
    with app.test_request_context(), force_locale("en"):
        yield


def price_of(booking, viewer=None, *, now):
    return estimates.booking_price(db.session, booking, viewer or booking.user, now=now)


def the_charge() -> Charge:
    db.session.rollback()
    return db.session.scalars(select(Charge)).one()


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def keep(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)


@pytest.mark.parametrize(("basis", "minutes", "amount"), [
    (BillingBasis.BOOKED, 31, "28.13"),  # 31 min → 45 min at ¥37.50/h, the README's example
    (BillingBasis.ACTUAL, 31, "28.13"),
    (BillingBasis.LARGER, 10, "12.50"),  # below the 20-minute minimum
])
def test_the_estimate_is_what_the_completed_booking_is_charged(basis, minutes, amount):
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("37.50")})
    [card] = instrument.rate_cards
    card.billing_basis, card.rounding_minutes, card.minimum_minutes = basis, 15, 20
    db.session.commit()
    end = START + dt.timedelta(minutes=minutes)
    booking = create_booking(instrument=instrument, start_at=START, end_at=end)

    estimate = price_of(booking, now=START - dt.timedelta(days=2)).estimate
    with write_transaction(db.session):
        attendance.check_in(db.session, booking.user, booking, now=START)
    with write_transaction(db.session):
        attendance.check_out(db.session, booking.user, booking, now=end)

    charge = the_charge()
    assert estimate.amount == charge.amount == Decimal(amount)
    assert (estimate.hourly_rate, estimate.tier) == (charge.unit_price, charge.tier)
    assert estimate.price.billed_minutes == charge.billed_minutes


def test_cancelling_one_second_before_the_window_is_free():
    booking = create_booking(instrument=create_instrument(cancellation_window_hours=24),
                             start_at=START, end_at=START + dt.timedelta(hours=2))
    now = START - WINDOW - SECOND

    terms = price_of(booking, now=now).cancellation
    assert (terms.fee_now, terms.late_fee, terms.free_until) == \
        (Decimal("0.00"), Decimal("100.00"), START - WINDOW)
    assert "free until 2026-10-11 09:00 (lab time)" in terms.text

    with write_transaction(db.session):
        bookings.cancel_booking(db.session, booking.user, booking, now=now)
    db.session.rollback()
    assert db.session.scalars(select(Charge)).all() == []


def test_cancelling_exactly_at_the_window_costs_the_fee_the_charge_says():
    # ¥100/h external, two hours, the card's default 50 %.
    booking = create_booking(instrument=create_instrument(cancellation_window_hours=24),
                             start_at=START, end_at=START + dt.timedelta(hours=2))
    now = START - WINDOW

    terms = price_of(booking, now=now).cancellation
    assert terms.fee_now == terms.late_fee == Decimal("100.00")
    assert "will cost ¥100.00" in terms.text

    with write_transaction(db.session):
        bookings.cancel_booking(db.session, booking.user, booking, now=now)
    charge = the_charge()
    assert (charge.kind, charge.amount) == (ChargeKind.LATE_CANCELLATION, terms.fee_now)


def test_a_card_effective_tomorrow_prices_tomorrows_bookings_only():
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("60.00")})
    db.session.add(RateCard(instrument=instrument, tier=PriceTier.EXTERNAL,
                            effective_from=MONDAY + dt.timedelta(days=1),
                            hourly_rate=Decimal("90.00")))
    db.session.commit()
    user = create_user()
    now = lab_time(MONDAY, 8)

    today = estimates.slot_price(db.session, user, user.organization, instrument,
                                 lab_time(MONDAY, 23), lab_time(MONDAY, 23, 59), now=now)
    tomorrow = estimates.slot_price(db.session, user, user.organization, instrument,
                                    lab_time(MONDAY + dt.timedelta(days=1), 0),
                                    lab_time(MONDAY + dt.timedelta(days=1), 1), now=now)
    assert today.estimate.hourly_rate == Decimal("60.00")
    assert tomorrow.estimate.hourly_rate == Decimal("90.00")
    assert tomorrow.estimate.amount == Decimal("90.00")


@pytest.mark.parametrize(("tier", "rate", "amount"), [
    (PriceTier.INTERNAL, "60.00", "90.00"), (PriceTier.PARTNER, "80.00", "120.00"),
    (PriceTier.EXTERNAL, "100.00", "150.00"),
])
def test_the_paying_organizations_tier_chooses_the_rate(tier, rate, amount):
    instrument = create_instrument()
    user = create_user(organization=create_organization(tier=tier))
    price = estimates.slot_price(db.session, user, user.organization, instrument, START,
                                 START + dt.timedelta(minutes=90),
                                 now=START - dt.timedelta(days=3))
    assert (price.estimate.tier, price.estimate.hourly_rate) == (tier, Decimal(rate))
    assert price.estimate.as_json() == {
        "tier": tier.value, "currency": "CNY", "hourly_rate": rate, "amount": amount,
        "basis": "booked",
        "billed_minutes": 90}


def test_no_card_for_the_tier_is_no_price_and_never_a_fee():
    instrument = create_instrument(rates={PriceTier.INTERNAL: Decimal("60.00")})
    booking = create_booking(instrument=instrument, start_at=START)  # an external user

    price = price_of(booking, now=START - dt.timedelta(hours=1))
    assert price.estimate.price is None and price.estimate.amount is None
    assert "No price is set" in price.estimate.text
    assert price.estimate.as_json()["amount"] is None
    assert (price.cancellation.fee_now, price.cancellation.free_until) == (Decimal("0.00"), None)
    assert price.cancellation.as_json() == {"amount": "0.00", "currency": "CNY",
                                            "free_until": None, "late_amount": "0.00"}


def test_a_free_card_is_free_and_cancelling_costs_nothing():
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("0.00")})
    booking = create_booking(instrument=instrument, start_at=START)

    price = price_of(booking, now=START - dt.timedelta(hours=1))
    assert price.estimate.is_free and price.estimate.amount == Decimal("0.00")
    assert price.estimate.text == "Free of charge for the External tier."
    assert price.cancellation.free_until is None
    assert price.cancellation.text == "Cancelling is free of charge."


def test_a_request_waiting_for_approval_is_free_to_cancel_until_approved():
    instrument = create_instrument(requires_approval=True)
    booking = create_booking(instrument=instrument, start_at=START, state=BookingState.PENDING)

    terms = price_of(booking, now=START - dt.timedelta(hours=2)).cancellation
    assert terms.fee_now == Decimal("0.00") and terms.in_window
    assert terms.text.startswith("Once the lab approves it, cancelling will cost ¥50.00")


def test_a_slot_inside_the_window_warns_before_booking():
    instrument = create_instrument(cancellation_window_hours=24)
    user = create_user()
    price = estimates.slot_price(db.session, user, user.organization, instrument, START,
                                 START + dt.timedelta(hours=1), now=START - dt.timedelta(hours=3))
    assert price.cancellation.fee_now == Decimal("50.00")
    assert price.cancellation.text.startswith("Cancelling will cost ¥50.00")


def test_the_lab_cancelling_someone_elses_booking_pays_nothing():
    booking = create_booking(start_at=START)
    manager = create_manager(booking.instrument.lab)

    terms = price_of(booking, manager, now=START - dt.timedelta(hours=1)).cancellation
    assert (terms.fee_now, terms.free_until) == (Decimal("0.00"), None)


def test_a_booking_that_cannot_be_cancelled_any_more_has_no_terms():
    booking = create_booking(start_at=START, state=BookingState.COMPLETED)
    assert price_of(booking, now=START + WINDOW).cancellation is None


def test_a_list_of_bookings_is_priced_with_one_query():
    instruments = [create_instrument() for _ in range(3)]
    user = create_user()
    listed = [create_booking(instrument=instrument, user=user,
                             start_at=START + dt.timedelta(days=day))
              for day, instrument in enumerate(instruments * 2)]
    for booking in listed:
        booking.instrument, booking.organization  # noqa: B018 - what a list page loads anyway

    with counted_queries() as statements:
        prices = estimates.booking_prices(db.session, listed, user,
                                          now=START - dt.timedelta(days=3))
    assert len(statements) == 1
    assert {price.estimate.amount for price in prices.values()} == {Decimal("100.00")}


def test_a_slot_that_will_wait_for_approval_warns_of_the_fee_once_approved():
    instrument = create_instrument(requires_approval=True, cancellation_window_hours=24)
    user = create_user()
    price = estimates.slot_price(db.session, user, user.organization, instrument, START,
                                 START + dt.timedelta(hours=1), now=START - dt.timedelta(hours=3))
    assert price.cancellation.fee_now == Decimal("0.00") and price.cancellation.in_window
    assert price.cancellation.text.startswith("Once the lab approves it, cancelling will cost "
                                              "¥50.00")


def test_a_request_is_in_the_window_from_its_exact_edge():
    instrument = create_instrument(requires_approval=True, cancellation_window_hours=24)
    booking = create_booking(instrument=instrument, start_at=START, state=BookingState.PENDING)
    assert not price_of(booking, now=START - WINDOW - SECOND).cancellation.in_window
    assert price_of(booking, now=START - WINDOW).cancellation.in_window


def test_the_live_check_of_a_booking_that_cannot_be_cancelled_names_no_fee():
    booking = create_booking(start_at=START, state=BookingState.COMPLETED)
    answer = price_of(booking, now=START + WINDOW).check_json()
    assert answer["cancellation_fee"] is None and answer["estimate"]["amount"] == "100.00"


def test_no_card_chosen_from_no_cards():
    assert estimates.card_for({}, 1, PriceTier.EXTERNAL, START) is None


def test_cards_of_a_tier_asked_for_on_another_instrument_are_read_and_left_aside():
    """Two bookings of two tiers on two instruments: the one query also finds the first
    instrument's card of the second tier, which prices neither."""
    first, second = create_instrument(), create_instrument()
    partner = create_user(organization=create_organization(tier=PriceTier.PARTNER))
    external = create_user(organization=create_organization(tier=PriceTier.EXTERNAL))
    listed = [create_booking(instrument=first, user=partner, start_at=START),
              create_booking(instrument=second, user=external, start_at=START)]
    cards = estimates.rate_cards(db.session, {(first.id, PriceTier.PARTNER),
                                              (second.id, PriceTier.EXTERNAL)})
    assert set(cards) == {(first.id, PriceTier.PARTNER), (second.id, PriceTier.EXTERNAL)}
    prices = estimates.booking_prices(db.session, listed, partner, now=START - 3 * WINDOW)
    assert prices[listed[1].id].estimate.amount == Decimal("100.00")


def test_no_late_cancellation_costs_nothing_in_fen():
    assert str(estimates.late_cancellation_fee(db.session, [])) == "0.00"
