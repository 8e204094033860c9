"""The work a SQLite statement does, counted in its virtual machine's steps: unlike a timing it
does not change with whatever else the machine is doing, so a test can say that more rows
elsewhere in a table add no work to a read."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from labbook.extensions import db

T = TypeVar("T")


def counted_steps(work: Callable[[], T]) -> tuple[T, int]:
    """What ``work`` returns, and the steps SQLite's virtual machine made while it ran."""
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0

    connection = db.session.connection().connection.driver_connection
    connection.set_progress_handler(count, 1)
    try:
        result = work()
    finally:
        connection.set_progress_handler(None, 1)
    return result, counted[0]
