"""pytest plugin for mutation runs: migrate the SQLite test database once, then copy it.

mutmut starts a pytest session for every mutant, and each session builds its database with
the migrations, which costs more than the tests most mutants need. With
``LABBOOK_MUTATION_SCHEMA`` naming a file, the first session that migrates an empty SQLite
database saves the result there and later sessions copy it instead. Migrating a database that
already has tables (as the migration tests do) or any other engine goes through unchanged.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import flask_migrate
from sqlalchemy import inspect

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


flask_migrate.upgrade = upgrade
