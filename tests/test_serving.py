"""gunicorn's workers open their database connection as they start (``labbook.serving``)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import psycopg
from sqlalchemy import URL, make_url

from labbook.extensions import db
from labbook.serving import post_worker_init
from tests.live import live_server, server_workers


def pooled_connections(app) -> int:
    with app.app_context():
        return db.engine.pool.checkedin()


def test_a_worker_has_its_connection_before_its_first_request(make_app):
    app = make_app()
    assert pooled_connections(app) == 0
    post_worker_init(SimpleNamespace(wsgi=app))
    assert pooled_connections(app) == 1
    assert app.test_client().get("/api/v1/labs").status_code == 200
    assert pooled_connections(app) == 1  # the request took the same connection, no new one


def test_a_database_that_does_not_answer_is_left_to_the_first_request(make_app, caplog):
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql://labbook@127.0.0.1:1/labbook")
    with caplog.at_level(logging.WARNING, logger="labbook.core.engine"):
        post_worker_init(SimpleNamespace(wsgi=app))  # the worker still starts
    assert "could not connect to the database ahead of the first request" in caplog.text
    assert pooled_connections(app) == 0


def test_every_worker_of_a_started_server_connects_before_it_serves(database_url):
    """Served as deployed with two workers and one request between them (the server's readiness
    check): both come to hold a connection to the database, the second without a request."""
    url = make_url(database_url)
    on_postgresql = url.get_backend_name() == "postgresql"
    if on_postgresql:
        url = url.update_query_dict({"application_name": "labbook_serving_test"})
    with live_server(url.render_as_string(hide_password=False), workers=2):
        workers = server_workers()
        assert len(workers) == 2
        connected = _connected_on_postgresql(url) if on_postgresql \
            else _connected_to_file(Path(url.database).resolve(), workers)
        deadline = time.monotonic() + 90  # the second worker may still be importing the app
        while connected() < 2:
            assert time.monotonic() < deadline, f"{connected()} of the 2 workers connected"
            time.sleep(0.1)


def _connected_on_postgresql(url: URL) -> Callable[[], int]:
    plain = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)

    def connected() -> int:
        with psycopg.connect(plain, autocommit=True) as connection:
            return connection.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'labbook_serving_test'").fetchone()[0]

    return connected


def _connected_to_file(database: Path, workers: list[int]) -> Callable[[], int]:
    def connected() -> int:
        return sum(database in {Path(f"/proc/{worker}/fd/{fd}").resolve()
                                for fd in os.listdir(f"/proc/{worker}/fd")}
                   for worker in workers)

    return connected
