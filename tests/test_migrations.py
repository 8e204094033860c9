"""The migrations build exactly the schema the models describe (on the engine under test)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from labbook.extensions import db


def test_models_and_migrations_do_not_drift():
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
