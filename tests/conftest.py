"""Shared fixtures: one app and schema per run, a clean database for every test.

The suite runs on a temporary SQLite file, or on PostgreSQL when LABBOOK_TEST_DATABASE_URL is
set. The schema is built by the real migrations, so what the tests see is what production gets.
Rows are deleted after each test instead of rolling back a wrapping transaction, because the
booking engine controls its own transactions (BEGIN IMMEDIATE on SQLite) and some tests talk to
a server in another process, which could not see uncommitted rows.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, text

from labbook import create_app
from labbook.accounts.models import User
from labbook.config import TestingConfig
from labbook.extensions import db, limiter
from tests.factories import session_id


def _database_url(tmp_dir: str) -> str:
    url = os.environ.get("LABBOOK_TEST_DATABASE_URL")
    if url:
        url = url.replace("postgresql://", "postgresql+psycopg://", 1) \
            if url.startswith("postgresql://") else url
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        return _worker_database(url, worker) if worker else url
    return f"sqlite:///{tmp_dir}/labbook-test.sqlite"


def _worker_database(url: str, worker: str) -> str:
    """A database of its own for each pytest-xdist worker, beside the one the URL names.

    Workers empty their database after every test, so two of them cannot share one. The
    worker's database is created on first use and rebuilt by the migrations like the main one.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    main = make_url(url)
    name = f"{main.database}_{worker}"
    admin = create_engine(main, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                       {"name": name})
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return main.set(database=name).render_as_string(hide_password=False)


class IsolatedClient(FlaskClient):
    """A test client whose requests do not share the test's app context.

    Flask reuses an app context that is already pushed, so without this every request of a test
    would share one ``g`` — and with it Flask-Login's cached user and Flask-Babel's locale.
    Running each request in an empty ``contextvars`` context gives it a fresh app context, as a
    real server would.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # The test's own session must not keep an old read snapshot across the request: it would
        # not see what the request wrote, and on SQLite could not write after it.
        _end_test_transaction()
        try:
            return contextvars.Context().run(super().open, *args, **kwargs)
        finally:
            _end_test_transaction()


def _end_test_transaction() -> None:
    if has_app_context():
        db.session.rollback()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _database_url(str(tmp_path_factory.mktemp("db")))


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    from flask_migrate import upgrade

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    application = create_app(Config)
    application.test_client_class = IsolatedClient
    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


#: PostgreSQL: every sequence of the schema starts again at 1, as SQLite's ids do once their
#: table is empty.
_RESTART_SEQUENCES = ("SELECT setval(oid, 1, false) FROM pg_class "
                      "WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace")


def _delete_all_rows() -> None:
    """Empty every table, each one's rows deleted after those that refer to them.

    Not TRUNCATE on PostgreSQL: it gives every table and index a new file, some four hundred
    a test, which the next checkpoint must sync one by one (hundreds of thousands by the end
    of the suite); a CREATE DATABASE then waits for that checkpoint, minutes at a time."""
    db.session.remove()
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # One round trip: the statements as one text, which psycopg sends as it is.
            deletes = [str(table.delete().compile(dialect=connection.dialect))
                       for table in tables]
            connection.exec_driver_sql("; ".join([*deletes, _RESTART_SEQUENCES]))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    """Every test runs inside an app context and leaves an empty database behind."""
    with app.app_context():
        yield
        _delete_all_rows()
        limiter.reset()  # what one test counted must not limit the next


@pytest.fixture(scope="session")
def _statements_binding_a_partial_index_state(app: Flask) -> Iterator[list[str]]:
    """The statements sent that compare the state of a table with a partial index on a state
    (``WHERE state = 'pending'``) to a bound parameter: SQLite prepares such a statement again
    at every run. Each such question writes its state (``labbook.core.enums.equals_literal``)."""
    tables = sorted({table.name for table in db.metadata.tables.values()
                     for index in table.indexes
                     if "state =" in str(index.dialect_options["sqlite"]["where"])})
    binding = re.compile(rf"\b(?:{'|'.join(tables)})(?:_\d+)?\.state = (?:\?|%\(\w+\)s)")
    found: list[str] = []

    def note(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if binding.search(statement):
            found.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    yield found
    event.remove(Engine, "before_cursor_execute", note)


@pytest.fixture(autouse=True)
def _partial_index_states_written(_statements_binding_a_partial_index_state: list[str]
                                  ) -> Iterator[None]:
    yield
    found = list(_statements_binding_a_partial_index_state)
    _statements_binding_a_partial_index_state.clear()
    assert not found, f"a partial index's state bound as a parameter: {found}"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_app(app: Flask, database_url: str) -> Iterator[Callable[..., Flask]]:
    """Builds another app on the test database: production ``Config`` plus the given settings.

    The extensions are shared objects, so Flask-Limiter is bound back to ``app`` afterwards.
    """
    built: list[Flask] = []

    def make(**settings: Any) -> Flask:
        other = create_app({"SECRET_KEY": "another-app-secret-key-0123456789abcdef",
                            "SQLALCHEMY_DATABASE_URI": database_url, **settings})
        other.test_client_class = IsolatedClient
        built.append(other)
        return other

    yield make
    for other in built:
        with other.app_context():
            db.engine.dispose()
    limiter.init_app(app)
    # init_app keeps a "storage is down" verdict from an app whose storage was unreachable;
    # it would send this app's counts to a fallback store that nothing resets between tests.
    limiter._storage_dead = False


@pytest.fixture
def login_as(client: FlaskClient) -> Callable[[User], FlaskClient]:
    def login(user: User) -> FlaskClient:
        signed_in = session_id(user)
        with client.session_transaction() as session:
            session["_user_id"] = signed_in
            session["_fresh"] = True
        return client

    return login
