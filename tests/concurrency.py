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

from labbook.core.engine import write_transaction
from labbook.extensions import db

#: How long the second change gets to reach the lock the first one holds.
HEAD_START = 0.5


def overlap(app, first: Callable[[Any], Any], second: Callable[[Any], Any]) -> tuple[Any, Any]:
    """Run ``first`` and ``second`` (each given a session of its own, inside a write
    transaction), the second starting while the first has done its work but not committed.
    Returns what each returned, or the error it raised."""
    done, go = threading.Event(), threading.Event()
    outcomes: dict[str, Any] = {}

    def run(name: str, work: Callable[[Any], Any], hold: bool) -> None:
        with app.app_context():
            try:
                with write_transaction(db.session):
                    outcome = work(db.session)
                    if hold:
                        done.set()
                        go.wait(timeout=30)
                outcomes[name] = outcome
            except Exception as error:  # the outcome under test
                outcomes[name] = error
            finally:
                done.set()
                db.session.remove()

    db.session.rollback()
    leader = threading.Thread(target=run, args=("first", first, True))
    leader.start()
    done.wait(timeout=30)
    follower = threading.Thread(target=run, args=("second", second, False))
    follower.start()
    follower.join(HEAD_START)
    go.set()
    leader.join(timeout=60)
    follower.join(timeout=60)
    db.session.rollback()
    return outcomes["first"], outcomes["second"]
