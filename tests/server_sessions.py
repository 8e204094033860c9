"""Ending PostgreSQL sessions as a server restart does, for tests of what the app does next."""

from __future__ import annotations

import time

import psycopg
from sqlalchemy import Engine


def end_sessions(engine: Engine, pids: list[int] | None = None) -> None:
    """End the sessions ``pids`` (every other session of ``engine``'s database when None), and
    return once the server has let them go, as it has when it answers again after a restart."""
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        if pids is None:
            pids = [pid for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")]
        for pid in pids:
            connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while connection.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                                 (pids,)).fetchone()[0]:
            assert time.monotonic() < deadline, "the sessions did not end"
            time.sleep(0.01)
