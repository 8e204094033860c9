"""pytest plugin for mutation runs (``make mutation``): each mutant is a pytest session of its own.

* The SQLite test database is migrated once and then copied. Each session would otherwise run
  the migrations, which costs more than the tests most mutants need. With
  ``LABBOOK_MUTATION_SCHEMA`` naming a file, the first session that migrates an empty SQLite
  database saves the result there and later sessions copy it. Migrating a database that
  already has tables (as the migration tests do) or any other engine goes through unchanged.
* Tests that start a server process are skipped: the mutant lives in this process only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from sqlalchemy import inspect

import tests.live

migrate = flask_migrate.upgrade


def upgrade(*args: Any, **kwargs: Any) -> None:
    from labbook.extensions import db

    template = os.environ.get("LABBOOK_MUTATION_SCHEMA")
    engine = db.engine
    if args or kwargs or not template or engine.dialect.name != "sqlite" \
            or inspect(engine).get_table_names():
        migrate(*args, **kwargs)
        return
    database, saved = Path(engine.url.database), Path(template)
    if saved.exists():
        engine.dispose()
        shutil.copyfile(saved, database)
        return
    migrate()
    engine.dispose()
    partial = saved.with_name(f"{saved.name}.{os.getpid()}")
    shutil.copyfile(database, partial)
    partial.replace(saved)  # atomic: a session running alongside sees all of it or nothing


@contextmanager
def no_server_process(*args: Any, **kwargs: Any) -> Iterator[Any]:
    pytest.skip("a server in another process cannot run the mutant under test")
    yield None


flask_migrate.upgrade = upgrade
tests.live.live_server = no_server_process
tests.live.scheduler_process = no_server_process
