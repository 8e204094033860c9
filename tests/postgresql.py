"""Tests of what only PostgreSQL has: they run in CI's second pass, on PostgreSQL."""

from __future__ import annotations

import pytest

from labbook.extensions import db


def skip_unless_postgresql(what: str) -> None:
    """Skip the calling test on SQLite, saying which PostgreSQL behaviour it checks (``what``):
    SQLite has no such thing to check, so the skip hides nothing that does not work. CI runs
    the suite again on PostgreSQL, where it runs; locally, set LABBOOK_TEST_DATABASE_URL."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip(f"PostgreSQL only ({what}): runs in CI's PostgreSQL pass, or locally with "
                    "LABBOOK_TEST_DATABASE_URL set")
