"""On PostgreSQL a transaction's plain reads run before its BEGIN, which comes with its first
write or lock: a request that only reads sends neither BEGIN nor COMMIT, and everything from
the first write or lock on is still one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors
from psycopg.pq import TransactionStatus
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from labbook.catalogue.models import Lab
from labbook.core.engine import reads_only
from labbook.extensions import db
from tests.factories import bearer, create_instrument, create_user, lab_time, next_weekday
from tests.postgresql import skip_unless_postgresql
from tests.server_sessions import end_sessions


@pytest.mark.parametrize("statement", [
    "SELECT labs.id FROM labs WHERE labs.code = %(code)s",
    "\n  SELECT count(*) FROM bookings",
    "SELECT wait_for_update FROM notes",  # a column's name, not a locking clause
])
def test_a_select_without_locks_or_lasting_effects_only_reads(statement):
    assert reads_only(statement)


@pytest.mark.parametrize("statement", [
    "SELECT labs.id FROM labs WHERE labs.id = %(id)s FOR UPDATE",
    "SELECT organizations.id FROM organizations FOR UPDATE OF organizations",
    "select id from labs for share",
    "SELECT id FROM labs FOR NO KEY UPDATE",
    "SELECT id FROM labs FOR\n KEY SHARE SKIP LOCKED",
    "SELECT pg_advisory_xact_lock(%(namespace)s, %(key)s)",
    "SELECT set_config('statement_timeout', '1s', true)",
    "SELECT nextval('labs_id_seq')",
    "SELECT txid_current()",
    "WITH new_row AS (INSERT INTO labs (code) VALUES ('X') RETURNING id) SELECT id FROM new_row",
    "INSERT INTO labs (code) VALUES ('X')",
    "UPDATE labs SET name_en = name_en",
    "DELETE FROM labs",
    "SAVEPOINT sa_savepoint_1",
])
def test_a_write_a_lock_or_a_lasting_effect_is_not_taken_for_a_read(statement):
    assert not reads_only(statement)


@pytest.fixture
def postgresql() -> None:
    skip_unless_postgresql("psycopg's transactions and autocommit mode")


@pytest.fixture
def other_connection(postgresql) -> psycopg.Connection:
    """A connection of another client of the same database."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def seen(postgresql) -> Iterator[list[tuple[str, bool]]]:
    """(statement, whether a transaction was open on the server once it had run), as run."""
    statements: list[tuple[str, bool]] = []

    def note(connection, _cursor, statement, *_args) -> None:
        status = connection.connection.driver_connection.info.transaction_status
        statements.append((statement, status == TransactionStatus.INTRANS))

    event.listen(db.engine, "after_cursor_execute", note)
    yield statements
    event.remove(db.engine, "after_cursor_execute", note)


def labs() -> int:
    return db.session.scalar(select(func.count()).select_from(Lab))


def test_a_request_that_only_reads_opens_no_transaction(client, seen):
    instrument = create_instrument()
    headers = bearer(create_user())
    monday = next_weekday(0)
    window = {"start": lab_time(monday, 0).isoformat(), "end": lab_time(monday, 23).isoformat()}
    path = f"/api/v1/instruments/{instrument.id}/availability"
    client.get(path, query_string=window, headers=headers)  # notes the token's first use
    seen.clear()
    assert client.get(path, query_string=window, headers=headers).status_code == 200
    assert seen and not any(open_ for _statement, open_ in seen), seen


def test_a_booking_begins_its_transaction_at_the_instruments_lock(client, seen):
    instrument = create_instrument()
    headers = bearer(create_user())
    start = lab_time(next_weekday(0), 10)
    client.get(f"/api/v1/instruments/{instrument.id}/availability", headers=headers,
               query_string={"start": start.isoformat(), "end": start.isoformat()})  # first use
    seen.clear()
    response = client.post("/api/v1/bookings", headers=headers, json={
        "instrument_id": instrument.id, "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=1)).isoformat(), "purpose": "XRD"})
    assert response.status_code == 201
    opened = [open_ for _statement, open_ in seen]
    first_lock = next(n for n, (statement, _open) in enumerate(seen) if " FOR " in statement)
    assert not any(opened[:first_lock]) and all(opened[first_lock:]), seen


def test_a_locked_row_stays_locked_until_the_transaction_ends(other_connection):
    db.session.add(Lab(code="X1", name_zh="某实验室", name_en="Some lab"))
    db.session.commit()
    assert labs() == 1  # a plain read first, outside any transaction
    db.session.execute(select(Lab).where(Lab.code == "X1").with_for_update())
    with pytest.raises(errors.LockNotAvailable):
        other_connection.execute("SELECT id FROM labs FOR UPDATE NOWAIT")
    db.session.commit()
    assert other_connection.execute("SELECT id FROM labs FOR UPDATE NOWAIT").fetchall()


def test_an_advisory_lock_is_held_until_the_transaction_ends(other_connection):
    labs()
    db.session.execute(text("SELECT pg_advisory_xact_lock(4242)"))
    taken = "SELECT pg_try_advisory_xact_lock(4242)"
    assert other_connection.execute(taken).fetchone() == (False,)
    db.session.rollback()
    assert other_connection.execute(taken).fetchone() == (True,)


def test_reads_after_a_write_see_it_and_a_rollback_undoes_it_whole(postgresql):
    assert labs() == 0
    db.session.add(Lab(code="X1", name_zh="某实验室", name_en="Some lab"))
    db.session.flush()
    db.session.add(Lab(code="X2", name_zh="另一实验室", name_en="Another lab"))
    assert labs() == 2  # flushed, in the transaction the first write began
    db.session.rollback()
    assert labs() == 0


def test_another_isolation_level_reads_in_its_transaction_from_the_first_read(postgresql):
    db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    assert labs() == 0
    with Session(db.engine) as other:  # another client, on a connection of its own
        other.add(Lab(code="X1", name_zh="某实验室", name_en="Some lab"))
        other.commit()
    assert labs() == 0  # the transaction's snapshot, taken at its first read
    db.session.commit()
    assert labs() == 1


def test_a_write_after_the_server_ended_the_session_fails_as_a_lost_connection(postgresql):
    labs()  # a plain read: no transaction open on the server
    end_sessions(db.engine, [db.session.connection().connection.driver_connection.info
                             .backend_pid])
    with pytest.raises(OperationalError) as lost:
        db.session.execute(text("UPDATE labs SET name_en = name_en"))
    assert lost.value.connection_invalidated
    db.session.rollback()
    assert labs() == 0  # a new connection


def test_a_connection_taken_in_autocommit_mode_after_reads_stays_in_it(postgresql):
    """VACUUM runs in no transaction block: a connection whose last transaction only read (and
    so ran outside one) is lent out in autocommit mode, as asked, for it."""
    with db.engine.connect() as connection:
        connection.execute(select(func.count()).select_from(Lab))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM labs"))
