"""Two changes that meet: the second starts while the first has done its work but not yet
committed, each in its own connection.

On PostgreSQL the second reads the rows as they were before the first (READ COMMITTED) and must
wait for the first's row locks to decide on what it wrote; on SQLite it waits for the write
lock. Either way the outcome must be one the two changes could have had one after the other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from labbook.core.engine import write_transaction
from labbook.extensions import db

#: How long the second change gets to reach the lock the first one holds.
HEAD_START = 0.5


def overlap(app, first: Callable[[Any], Any], second: Callable[[Any], Any]) -> tuple[Any, Any]:
    """Run ``first`` and ``second``, each given a session of its own and run inside a write
    transaction, the second starting while the first has done its work but not committed.
    Returns what each returned, or the error it raised."""
    return race(app, _in_write_transaction(first), _in_write_transaction(second))


def _in_write_transaction(work: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def run(session: Any) -> Any:
        with write_transaction(session):
            return work(session)

    return run


def race(app, first: Callable[[Any], Any], second: Callable[[Any], Any]) -> tuple[Any, Any]:
    """Run ``first`` and ``second``, each given a session of its own, where each runs and
    commits its own write transaction (a service such as a booking's move): ``first`` waits
    just before its COMMIT while ``second`` starts. Returns what each returned, or the error
    it raised."""
    held, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}
    leader: threading.Thread | None = None

    def wait_before_commit(_connection: Any) -> None:
        if threading.current_thread() is leader:
            held.set()
            go.wait(timeout=30)

    def run(name: str, work: Callable[[Any], Any]) -> None:
        with app.app_context():
            try:
                outcomes[name] = work(db.session)
            except Exception as error:  # the outcome under test
                outcomes[name] = error
            finally:
                held.set()
                db.session.remove()

    db.session.rollback()
    event.listen(db.engine, "commit", wait_before_commit)
    try:
        leader = threading.Thread(target=run, args=("first", first))
        leader.start()
        held.wait(timeout=30)
        follower = threading.Thread(target=run, args=("second", second))
        follower.start()
        follower.join(HEAD_START)
        go.set()
        leader.join(timeout=60)
        follower.join(timeout=60)
    finally:
        event.remove(db.engine, "commit", wait_before_commit)
    db.session.rollback()
    return outcomes["first"], outcomes["second"]
