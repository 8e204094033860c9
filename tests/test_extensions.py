"""The session finds its engine once when the app has one, and by table when it has several."""

import sqlalchemy as sa

from labbook import create_app
from labbook.accounts.models import User
from labbook.booking.models import Booking
from labbook.config import TestingConfig
from labbook.extensions import db

#: A table of another database: Flask-SQLAlchemy binds tables by their metadata's bind key.
ARCHIVE = sa.Table("archived_notes", sa.MetaData(info={"bind_key": "archive"}),
                   sa.Column("id", sa.Integer, primary_key=True))


def test_every_statement_of_an_app_with_one_database_runs_on_its_engine():
    session = db.session()
    assert session.get_bind(mapper=User) is db.engine
    assert session.get_bind(clause=sa.select(Booking.id)) is db.engine
    assert session.get_bind() is db.engine


def test_an_app_with_several_databases_still_finds_each_table_its_own(tmp_path):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'main.sqlite'}"
        SQLALCHEMY_BINDS = {"archive": f"sqlite:///{tmp_path / 'archive.sqlite'}"}

    app = create_app(Config)
    with app.app_context():
        session = db.session()
        archive = db.engines["archive"]
        assert session.get_bind(clause=ARCHIVE.insert()) is archive
        assert session.get_bind(mapper=User) is db.engine
        assert session.get_bind(clause=ARCHIVE.insert()) is archive
        for engine in db.engines.values():
            engine.dispose()
