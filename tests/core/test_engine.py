"""Write transactions on a SQLite file: writers queue through a lock file beside the database,
and a write after the session's read ends that read and begins on the same connection."""

import fcntl
import logging
import os
import sqlite3
import threading
from contextlib import closing

import pytest
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, PendingRollbackError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from labbook.catalogue.models import CatalogueVersion
from labbook.core.engine import configure_sqlite, dialect_insert, on_postgresql, write_transaction
from labbook.extensions import db


class NotesBase(DeclarativeBase):
    """The tests' own mapping, apart from labbook's models."""


class Note(NotesBase):
    """A row of the notes table as the ORM writes it (its flush is what can wait or fail)."""

    __tablename__ = "notes"

    rowid: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str | None]


@pytest.fixture
def engine(tmp_path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'queue.sqlite'}")
    configure_sqlite(engine, Session)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def lock_is_free(path) -> bool:
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


def write(engine: Engine, body: str, inside=lambda: None) -> None:
    with Session(engine) as session, write_transaction(session):
        session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})
        inside()


def notes(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.scalars(text("SELECT body FROM notes")))


def write_in(session: Session, body: str) -> None:
    with write_transaction(session):
        session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})


def refused_until_rolled_back(session: Session) -> None:
    """A write in ``session`` fails, writing nothing, until the session rolls back."""
    with pytest.raises(PendingRollbackError):
        write_in(session, "lost")
    session.rollback()
    write_in(session, "written")


def test_a_write_transaction_holds_the_writers_lock_until_it_ends(engine, tmp_path):
    lock_file = tmp_path / "queue.sqlite-writers.lock"
    seen_inside = []
    write(engine, "first", inside=lambda: seen_inside.append(lock_is_free(lock_file)))
    assert seen_inside == [False]
    assert lock_is_free(lock_file)
    assert notes(engine) == ["first"]


def test_a_waiting_writer_goes_next_and_both_writes_land(engine):
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        holding.set()
        assert release.wait(10)

    writers = [threading.Thread(target=write, args=(engine, "first", first)),
               threading.Thread(target=write, args=(engine, "second"))]
    writers[0].start()
    assert holding.wait(10)
    writers[1].start()
    writers[1].join(0.2)
    assert writers[1].is_alive()  # queued behind the first writer
    release.set()
    for writer in writers:
        writer.join(10)
        assert not writer.is_alive()
    assert notes(engine) == ["first", "second"]


def test_a_rolled_back_write_frees_the_queue(engine, tmp_path):
    def fail() -> None:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        write(engine, "lost", inside=fail)
    assert lock_is_free(tmp_path / "queue.sqlite-writers.lock")
    write(engine, "kept")
    assert notes(engine) == ["kept"]


def test_writers_do_without_the_queue_when_the_lock_file_cannot_be_opened(tmp_path, caplog):
    (tmp_path / "odd.sqlite-writers.lock").mkdir()  # in the way of the lock file
    engine = create_engine(f"sqlite:///{tmp_path / 'odd.sqlite'}")
    configure_sqlite(engine, Session)
    with closing(engine.connect()) as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
        connection.commit()
    with caplog.at_level(logging.WARNING, logger="labbook.core.engine"):
        write(engine, "still written")
    assert "no writers' queue" in caplog.text
    assert notes(engine) == ["still written"]
    engine.dispose()


def test_a_write_after_a_read_is_one_session_transaction_that_reads_what_is_committed_now(
        engine, tmp_path):
    commits = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))
    with Session(engine) as session:
        assert session.scalars(text("SELECT body FROM notes")).all() == []  # the request's read
        read_connection = session.connection().connection.driver_connection
        write(engine, "written meanwhile")
        with write_transaction(session):
            # The read's snapshot is over: the write transaction sees what was committed since.
            assert session.scalars(text("SELECT body FROM notes")).all() == ["written meanwhile"]
            assert session.connection().connection.driver_connection is read_connection
            assert not lock_is_free(tmp_path / "queue.sqlite-writers.lock")
            session.execute(text("INSERT INTO notes VALUES ('after the read')"))
    assert notes(engine) == ["after the read", "written meanwhile"]
    assert commits == [1, 1]  # the other writer's and this one's: the read ended in place
    assert lock_is_free(tmp_path / "queue.sqlite-writers.lock")


def test_a_write_after_a_read_that_fails_writes_nothing_and_frees_the_queue(engine, tmp_path):
    with Session(engine) as session:
        session.scalars(text("SELECT body FROM notes")).all()
        with pytest.raises(RuntimeError), write_transaction(session):
            session.execute(text("INSERT INTO notes VALUES ('lost')"))
            raise RuntimeError("refused")
        assert lock_is_free(tmp_path / "queue.sqlite-writers.lock")
        with write_transaction(session):
            session.execute(text("INSERT INTO notes VALUES ('kept')"))
    assert notes(engine) == ["kept"]


def test_a_write_after_a_read_that_cannot_take_the_write_lock_fails_as_sqlalchemy_reports_it(
        engine, tmp_path):
    outsider = sqlite3.connect(tmp_path / "queue.sqlite", isolation_level=None)
    with Session(engine) as session:
        session.scalars(text("SELECT body FROM notes")).all()
        session.connection().exec_driver_sql("PRAGMA busy_timeout=0")
        outsider.execute("BEGIN IMMEDIATE")  # a writer that does not queue (the sqlite3 shell)
        try:
            with pytest.raises(OperationalError, match="database is locked"), \
                    write_transaction(session):
                session.execute(text("INSERT INTO notes VALUES ('lost')"))
        finally:
            outsider.execute("ROLLBACK")
            outsider.close()
        assert lock_is_free(tmp_path / "queue.sqlite-writers.lock")
        session.connection().exec_driver_sql("PRAGMA busy_timeout=30000")
        with write_transaction(session):
            session.execute(text("INSERT INTO notes VALUES ('kept')"))
    assert notes(engine) == ["kept"]


def test_the_failure_to_take_the_write_lock_names_the_statement(engine, tmp_path):
    outsider = sqlite3.connect(tmp_path / "queue.sqlite", isolation_level=None)
    with Session(engine) as session:
        session.scalars(text("SELECT body FROM notes")).all()
        session.connection().exec_driver_sql("PRAGMA busy_timeout=0")
        outsider.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(OperationalError) as failure, write_transaction(session):
                pytest.fail("the write transaction began although another writer held the lock")
        finally:
            outsider.execute("ROLLBACK")
            outsider.close()
    assert failure.value.statement == "BEGIN IMMEDIATE"
    assert "[SQL: BEGIN IMMEDIATE]" in str(failure.value)


def test_a_write_in_a_transaction_that_has_not_read_yet_begins_as_a_write(engine):
    with Session(engine) as session:
        session.begin()  # no statement yet: no connection to end a read on
        write_in(session, "first statement")
    assert notes(engine) == ["first statement"]


def test_changes_waiting_to_be_flushed_when_the_write_begins_are_written_with_it(engine):
    commits = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))
    with Session(engine) as session:
        session.scalars(text("SELECT body FROM notes")).all()
        session.add(Note(body="waiting"))
        write_in(session, "written")
    assert notes(engine) == ["waiting", "written"]
    assert commits == [1]  # in the write transaction, not committed on their own before it


def test_a_write_inside_a_savepoint_after_a_read_commits_what_came_before_and_itself(engine):
    with Session(engine) as session:
        session.scalars(text("SELECT body FROM notes")).all()
        savepoint = session.begin_nested()
        session.execute(text("INSERT INTO notes VALUES ('in the savepoint')"))
        write_in(session, "written")  # the savepoint is not ended under SQLAlchemy's feet
        assert not savepoint.is_active
    assert notes(engine) == ["in the savepoint", "written"]


def test_a_write_after_a_read_whose_connection_was_lost_fails_until_the_session_rolls_back(
        engine):
    with Session(engine) as session:
        session.scalars(text("SELECT body FROM notes")).all()
        session.connection().invalidate()
        refused_until_rolled_back(session)
    assert notes(engine) == ["written"]


def test_a_write_after_a_failed_flush_is_refused_until_the_session_rolls_back(engine):
    with Session(engine) as session:
        session.scalars(text("SELECT body FROM notes")).all()
        session.add(Note(body=None))  # NOT NULL: the flush fails
        with pytest.raises(IntegrityError):
            session.flush()
        refused_until_rolled_back(session)
    assert notes(engine) == ["written"]


def test_on_postgresql_tells_the_database_the_app_runs_on(database_url):
    assert on_postgresql(db.session) is database_url.startswith("postgresql")


def test_dialect_insert_writes_a_row_or_updates_it_on_either_database():
    def upsert(token: str) -> None:
        db.session.execute(dialect_insert(db.session)(CatalogueVersion)
                           .values(id=1, token=token)
                           .on_conflict_do_update(index_elements=[CatalogueVersion.id],
                                                  set_={"token": token}))

    upsert("first")
    upsert("second")
    assert db.session.scalars(select(CatalogueVersion.token)).all() == ["second"]
