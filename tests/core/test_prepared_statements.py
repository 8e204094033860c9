"""On PostgreSQL, transactions that only read end with COMMIT, so that the statements psycopg
has prepared on a connection stay prepared; anything that wrote, or waits to, still rolls back
whole."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from labbook.catalogue.models import Lab
from labbook.core.engine import (
    end_if_it_wrote_nothing,
    write_transaction,
    wrote_nothing_after_all,
)
from labbook.extensions import db
from tests.factories import (
    bearer,
    create_booking,
    create_instrument,
    create_user,
    lab_time,
    next_weekday,
)
from tests.postgresql import skip_unless_postgresql
from tests.server_sessions import end_sessions

MONDAY = next_weekday(0)


@pytest.fixture(autouse=True)
def _on_postgresql():
    skip_unless_postgresql("psycopg's prepared statements")


def prepared(app) -> list[str]:
    """The statements prepared on ``app``'s pooled connection (its requests came one at a
    time: there is one)."""
    with app.app_context(), db.engine.connect() as connection:
        return list(connection.scalars(text("SELECT statement FROM pg_prepared_statements")))


def labs() -> int:
    return db.session.scalar(select(func.count()).select_from(Lab))


def test_statements_stay_prepared_across_reads_and_refused_bookings(make_app):
    instrument = create_instrument()
    taken = lab_time(MONDAY, 10)
    create_booking(instrument=instrument, start_at=taken, end_at=taken + dt.timedelta(hours=1))
    headers = bearer(create_user())
    app = make_app()
    client = app.test_client()  # each request in an app context of its own, ended after it
    window = {"start": lab_time(MONDAY, 0).isoformat(),
              "end": lab_time(MONDAY + dt.timedelta(days=7), 0).isoformat()}
    for _ in range(6):
        assert client.get(f"/api/v1/instruments/{instrument.id}/availability",
                          query_string=window, headers=headers).status_code == 200
        assert client.post("/api/v1/bookings", headers=headers, json={
            "instrument_id": instrument.id, "start": taken.isoformat(),
            "end": (taken + dt.timedelta(hours=1)).isoformat(), "purpose": "XRD",
        }).status_code == 409
    statements = prepared(app)
    assert any("FROM bookings" in statement for statement in statements)
    assert any("FOR UPDATE OF organizations" in statement for statement in statements)


def test_a_write_transaction_that_fails_after_a_write_rolls_it_back():
    with pytest.raises(ZeroDivisionError), write_transaction(db.session):
        db.session.add(Lab(code="X1", name_zh="某实验室", name_en="Some lab"))
        db.session.flush()
        1 / 0  # noqa: B018  (fails after writing)
    assert labs() == 0


def test_a_write_transaction_that_fails_before_its_flush_writes_nothing():
    with pytest.raises(ZeroDivisionError), write_transaction(db.session):
        labs()
        db.session.add(Lab(code="X1", name_zh="某实验室", name_en="Some lab"))
        1 / 0  # noqa: B018  (fails with the lab waiting to be flushed)
    assert labs() == 0


def test_only_a_transaction_that_ran_nothing_but_selects_is_committed():
    labs()
    db.session.execute(text("SELECT 1 FROM labs FOR UPDATE"))
    assert end_if_it_wrote_nothing(db.session)
    db.session.execute(text("UPDATE labs SET name_en = name_en"))
    assert not end_if_it_wrote_nothing(db.session)
    db.session.rollback()


def test_a_statement_known_to_have_written_nothing_does_not_count_as_a_write():
    """A guarded insert whose guard found something wrote nothing (``wrote_nothing_after_all``);
    another statement of the transaction that wrote still counts."""
    labs()
    db.session.execute(text("UPDATE labs SET name_en = name_en WHERE false"))
    wrote_nothing_after_all(db.session.connection())
    assert end_if_it_wrote_nothing(db.session)
    db.session.execute(text("UPDATE labs SET name_en = name_en"))
    db.session.execute(text("UPDATE labs SET name_en = name_en WHERE false"))
    wrote_nothing_after_all(db.session.connection())
    assert not end_if_it_wrote_nothing(db.session)
    db.session.rollback()


def test_a_failed_transaction_is_left_to_be_rolled_back():
    with pytest.raises(Exception, match="division by zero"):
        db.session.execute(text("SELECT 1 / 0"))
    assert not end_if_it_wrote_nothing(db.session)
    db.session.rollback()
    assert labs() == 0


def test_a_reading_transaction_whose_connection_went_away_is_left_to_the_rollback(caplog):
    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
    end_sessions(db.engine, [pid])
    assert not end_if_it_wrote_nothing(db.session)
    assert "could not commit" in caplog.text
    db.session.rollback()
    assert labs() == 0
