"""A new row and the audit event of its making, written together (labbook.audit.services)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import bindparam, event, select
from sqlalchemy.exc import IntegrityError

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent
from labbook.audit.services import insert_recorded, insert_recorded_unless
from labbook.booking.models import Booking, BookingState
from labbook.core.engine import write_transaction
from labbook.extensions import db
from tests.factories import create_instrument, create_user, lab_time
from tests.statements import Sent

NOW = lab_time(dt.date(2026, 12, 1), 0)


def _booking_row(instrument, user) -> dict:
    start = lab_time(dt.date(2026, 12, 3), 9)
    return {"instrument_id": instrument.id, "user_id": user.id,
            "organization_id": user.organization_id, "booked_by_id": None, "series_id": None,
            "start_at": start, "end_at": start + dt.timedelta(hours=1),
            "blocked_until": start + dt.timedelta(hours=1), "state": BookingState.PENDING,
            "channel_mask": 1, "purpose": "XRD", "project_ref": "", "is_override": False,
            "is_late_cancellation": False, "decision_note": "", "sequence": 0,
            "created_at": NOW, "updated_at": NOW, "decided_by_id": None, "decided_at": None}


def test_the_row_and_its_event_are_written_and_the_event_names_the_row(app):
    instrument, user = create_instrument(), create_user()
    db.session.commit()
    with Sent() as sent, write_transaction(db.session):
        booking_id = insert_recorded(
            db.session, Booking.__table__, _booking_row(instrument, user), user, "create",
            at=NOW, to_state="pending", overridden=["min_notice"], note_to_self="—")
    booking = db.session.get(Booking, booking_id)
    assert (booking.user_id, booking.purpose, booking.state) == (user.id, "XRD",
                                                                  BookingState.PENDING)
    [made] = db.session.scalars(select(AuditEvent).where(AuditEvent.object_id == booking_id))
    assert (made.object_type, made.action, made.actor_id, made.from_state, made.to_state,
            made.note, made.at, made.details) == (
        "bookings", "create", user.id, None, "pending", "", NOW,
        {"overridden": ["min_notice"], "note_to_self": "—"})
    writes = [sql for sql in sent if sql.startswith(("INSERT", "WITH"))]
    # On PostgreSQL one round trip to the server for both; SQLite has no data-modifying WITH.
    assert len(writes) == (1 if db.engine.dialect.name == "postgresql" else 2), writes


def test_a_refused_row_leaves_no_event_behind(app):
    """A row the database refuses (here a booking of no instrument) takes its event with it."""
    instrument, user = create_instrument(), create_user()
    db.session.commit()
    row = {**_booking_row(instrument, user), "instrument_id": instrument.id + 1000}
    with pytest.raises(IntegrityError), write_transaction(db.session):
        insert_recorded(db.session, Booking.__table__, row, user, "create", at=NOW)
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_a_refused_event_takes_its_row_with_it(app):
    """The other way round: an event the database refuses (an actor who does not exist)
    leaves no booking behind, one statement or two."""
    instrument, user = create_instrument(), create_user()
    db.session.commit()
    nobody = User(id=user.id + 1000, email="nobody@example.cn", name="nobody")
    with pytest.raises(IntegrityError), write_transaction(db.session):
        insert_recorded(db.session, Booking.__table__, _booking_row(instrument, user), nobody,
                        "create", at=NOW)
    assert db.session.scalars(select(Booking)).all() == []
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_the_driver_is_given_plain_values_it_needs_no_adapter_for(app):
    """SQLAlchemy names a table with its own kind of str; handed to the driver as an event's
    object type, it made sqlite3 look for an adapter (an exception raised and caught) on every
    new booking."""
    instrument, user = create_instrument(), create_user()
    db.session.commit()
    given: list = []

    def parameters(_connection, _cursor, _sql, arguments, *_args) -> None:
        given.extend(arguments.values() if isinstance(arguments, dict) else arguments)

    event.listen(db.engine, "before_cursor_execute", parameters)
    try:
        with write_transaction(db.session):
            insert_recorded(db.session, Booking.__table__, _booking_row(instrument, user),
                            user, "create", at=NOW)
    finally:
        event.remove(db.engine, "before_cursor_execute", parameters)
    assert "bookings" in given
    assert [value for value in given if isinstance(value, str) and type(value) is not str] \
        == []


# -- a row inserted unless a guard reads something ---------------------------------------------

#: A guard: the bookings of an instrument that start at a moment.
GUARD = select(Booking.__table__.c.id, Booking.__table__.c.purpose).where(
    Booking.__table__.c.instrument_id == bindparam("instrument_id"),
    Booking.__table__.c.start_at == bindparam("taken_at"))


def _guarded(instrument, user):
    row = _booking_row(instrument, user)
    return insert_recorded_unless(db.session, GUARD, {
        "instrument_id": instrument.id, "taken_at": row["start_at"]}, Booking.__table__, row,
        user, "create", at=NOW, to_state="pending", on_behalf_of=7)


def test_a_guard_that_reads_nothing_lets_the_row_and_its_event_be_written(app):
    instrument, user = create_instrument(), create_user()
    db.session.commit()
    with Sent() as sent, write_transaction(db.session):
        inserted = _guarded(instrument, user)
    assert inserted.blocking == []
    booking = db.session.get(Booking, inserted.row_id)
    assert (booking.instrument_id, booking.purpose) == (instrument.id, "XRD")
    [made] = db.session.scalars(select(AuditEvent))
    assert (made.object_type, made.object_id, made.action, made.to_state, made.details) == (
        "bookings", inserted.row_id, "create", "pending", {"on_behalf_of": 7})
    # On PostgreSQL the guard, the row and the event in one round trip to the server.
    statements = [sql for sql in sent if sql.startswith(("SELECT", "INSERT", "WITH"))]
    assert len(statements) == (1 if db.engine.dialect.name == "postgresql" else 3), statements


def test_a_guard_that_reads_a_row_stops_the_insert_and_says_what_it_read(app):
    instrument, user = create_instrument(), create_user()
    db.session.commit()
    with write_transaction(db.session):
        first = _guarded(instrument, user)
    with write_transaction(db.session):
        second = _guarded(instrument, user)
    assert second.row_id is None
    assert [(row.id, row.purpose) for row in second.blocking] == [(first.row_id, "XRD")]
    assert db.session.scalars(select(Booking.id)).all() == [first.row_id]
    assert len(db.session.scalars(select(AuditEvent)).all()) == 1
