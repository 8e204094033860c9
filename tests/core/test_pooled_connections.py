"""Pooled PostgreSQL connections that the server has dropped are replaced before they are lent
out, and a connection back from a request a moment ago is lent without a round trip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from labbook.core import engine as engine_module
from labbook.core.engine import check_pooled_connections
from tests.postgresql import skip_unless_postgresql
from tests.server_sessions import end_sessions


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    skip_unless_postgresql("a PostgreSQL server's pooled connections")
    engine = create_engine(database_url, pool_size=2)
    check_pooled_connections(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch) -> list[object]:
    """The pings the pool sends, in order."""
    sent: list[object] = []
    real_ping = engine.dialect.do_ping

    def ping(dbapi_connection) -> bool:
        sent.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return sent


def backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_back_a_moment_ago_is_lent_without_a_round_trip(engine, pings):
    first = backend(engine)
    assert backend(engine) == first
    assert pings == []


def test_a_connection_the_server_ended_is_replaced_with_every_other_pooled_one(engine):
    with engine.connect() as one, engine.connect() as other:
        pids = [connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                for connection in (one, other)]
    end_sessions(engine, pids)
    with engine.connect() as one, engine.connect() as other:
        assert {connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                for connection in (one, other)}.isdisjoint(pids)


def test_a_rested_connection_is_pinged_and_replaced_when_no_answer_comes(engine, pings,
                                                                          monkeypatch):
    pid = backend(engine)
    # A path that drops the connection without a word (a firewall forgetting it): the socket
    # says nothing, only the ping can tell.
    monkeypatch.setattr(engine_module, "_hung_up", lambda _descriptor: False)
    monkeypatch.setattr(engine_module, "RESTED_SECONDS", 0.0)
    end_sessions(engine, [pid])
    assert backend(engine) != pid
    assert len(pings) == 1


def test_a_rested_connection_that_answers_the_ping_is_lent(engine, pings, monkeypatch):
    pid = backend(engine)
    monkeypatch.setattr(engine_module, "RESTED_SECONDS", 0.0)
    assert backend(engine) == pid
    assert len(pings) == 1
