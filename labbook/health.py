"""Liveness and readiness probes for load balancers and process supervisors."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from sqlalchemy import text

from labbook.extensions import db


def schema_revisions() -> tuple[set[str], set[str]]:
    """The migration revisions the database is at, and the newest ones this code has."""
    migrate = current_app.extensions["migrate"]
    heads = set(ScriptDirectory.from_config(migrate.migrate.get_config()).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current, heads


def register(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        """The process answers; says nothing about the database."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        """Ready for traffic: the database answers and its schema is migrated to the head."""
        try:
            db.session.execute(text("SELECT 1"))
            current, heads = schema_revisions()
            migrated = current == heads
        except Exception as error:  # any failure at all means: not ready
            db.session.rollback()
            reason = f"unreachable: {type(error).__name__}"
            return {"status": "unavailable", "database": reason}, 503
        if not migrated:
            return {"status": "unavailable", "database": "schema not migrated to the head; "
                                                          "run `flask labbook init`"}, 503
        return {"status": "ok", "database": "ok"}
