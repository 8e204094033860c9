"""The booking JSON carries its estimate and what cancelling it costs the token's owner; a list
reads its rate cards once, whatever its length."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from labbook.api.openapi import document
from labbook.booking.models import BookingState
from labbook.extensions import db
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
)

MONDAY = next_weekday(0)


@contextmanager
def rate_card_reads() -> Iterator[list[str]]:
    statements: list[str] = []

    def keep(_conn, _cursor, statement, *_args):
        if "FROM rate_cards" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)


def test_a_booking_carries_its_estimate_and_cancellation_fee(client):
    instrument = create_instrument(cancellation_window_hours=24)
    booking = create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10),
                             end_at=lab_time(MONDAY, 11, 30))
    data = client.get(f"/api/v1/bookings/{booking.id}", headers=bearer(booking.user)).json

    assert data["estimate"] == {"tier": "external", "currency": "CNY", "hourly_rate": "100.00",
                                "amount": "150.00", "basis": "booked", "billed_minutes": 90}
    assert data["cancellation_fee"] == {
        "amount": "0.00", "currency": "CNY", "late_amount": "75.00",
        "free_until": (lab_time(MONDAY, 10) - dt.timedelta(hours=24)).isoformat()}


def test_inside_the_window_the_fee_is_due_and_the_cancel_charges_it(client):
    instrument = create_instrument(cancellation_window_hours=24 * 15)
    booking = create_booking(instrument=instrument, start_at=lab_time(MONDAY, 10))
    headers = bearer(booking.user)
    fee = client.get(f"/api/v1/bookings/{booking.id}", headers=headers).json["cancellation_fee"]
    assert fee["amount"] == "50.00"

    cancelled = client.post(f"/api/v1/bookings/{booking.id}/cancel", headers=headers).json
    assert cancelled["is_late_cancellation"] is True
    assert cancelled["cancellation_fee"] is None
    charges = client.get("/api/v1/charges", headers=bearer(create_manager(instrument.lab)))
    assert [c["amount"] for c in charges.json["items"]] == ["50.00"]


def test_the_lab_cancels_someone_elses_booking_free(client):
    booking = create_booking(start_at=lab_time(MONDAY, 10))
    manager = create_manager(booking.instrument.lab)
    data = client.get(f"/api/v1/bookings/{booking.id}", headers=bearer(manager)).json
    assert data["cancellation_fee"] == {"amount": "0.00", "currency": "CNY",
                                        "free_until": None, "late_amount": "50.00"}


def test_no_rate_card_is_no_price(client):
    booking = create_booking(instrument=create_instrument(rates={}),
                             start_at=lab_time(MONDAY, 10))
    data = client.get(f"/api/v1/bookings/{booking.id}", headers=bearer(booking.user)).json
    assert data["estimate"] == {"tier": "external", "currency": "CNY", "hourly_rate": None,
                                "amount": None, "basis": None, "billed_minutes": None}
    assert data["cancellation_fee"]["free_until"] is None


def test_a_list_reads_rate_cards_once(client):
    user = create_user()
    instruments = [create_instrument() for _ in range(3)]
    for day in range(6):
        create_booking(instrument=instruments[day % 3], user=user,
                       start_at=lab_time(MONDAY + dt.timedelta(days=day), 10),
                       state=BookingState.PENDING if day % 2 else BookingState.APPROVED)
    headers = bearer(user)
    with rate_card_reads() as reads:
        items = client.get("/api/v1/bookings", headers=headers).json["items"]
    assert len(items) == 6 and len(reads) == 1
    assert {item["estimate"]["amount"] for item in items} == {"100.00"}


def test_the_openapi_document_describes_both():
    schemas = document()["components"]["schemas"]
    booking = schemas["Booking"]["properties"]
    assert booking["estimate"] == {"$ref": "#/components/schemas/BookingEstimate"}
    assert {"amount", "free_until", "late_amount"} <= set(
        schemas["CancellationFee"]["properties"])
