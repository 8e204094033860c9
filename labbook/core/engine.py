"""Engine set-up that the ORM cannot express: SQLite pragmas and explicit transaction control."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event

#: Execution option that makes the next SQLite transaction take the write lock at BEGIN.
BEGIN_IMMEDIATE = "labbook_begin_immediate"


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave like a server database for our purposes.

    pysqlite's own transaction handling delays BEGIN until the first write, which makes a
    read-check-write sequence racy. We switch it off and emit BEGIN ourselves, so a booking
    transaction can take the write lock up front (``BEGIN IMMEDIATE``) and check for overlaps
    while no other writer can slip in between.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(BEGIN_IMMEDIATE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")
