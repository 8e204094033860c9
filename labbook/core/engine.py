"""Engine set-up that the ORM cannot express: SQLite pragmas and explicit transaction control."""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import re
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, event, exc, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.exc import ObjectDeletedError

from labbook.core.rows import read_locked

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT")

#: Execution option that makes the next SQLite transaction take the write lock at BEGIN.
BEGIN_IMMEDIATE = "labbook_begin_immediate"


def configure_sqlite(engine: Engine, sessions: Any) -> None:
    """Make SQLite behave like a server database for our purposes.

    pysqlite's own transaction handling delays BEGIN until the first write, which makes a
    read-check-write sequence racy. We switch it off and emit BEGIN ourselves, so a booking
    transaction can take the write lock up front (``BEGIN IMMEDIATE``) and check for overlaps
    while no other writer can slip in between. The connection each transaction of ``sessions``
    runs on is noted, for ``write_transaction`` to turn a request's read transaction into its
    write transaction in place.
    """
    _note_session_connections(sessions)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(BEGIN_IMMEDIATE)
        # Straight to the driver: every request begins a transaction or two, and SQLAlchemy's
        # statement machinery costs several times what BEGIN itself does.
        connection.connection.driver_connection.execute(
            "BEGIN IMMEDIATE" if immediate else "BEGIN")


def connect_ahead(engine: Engine) -> None:
    """Open ``engine``'s first connection now and leave it in its pool for the first request.

    The first connection of an engine also asks the server for its version and settings (on
    PostgreSQL several round trips; SQLAlchemy does it once an engine). A database that does
    not answer now is logged, and the first request connects as it would have.
    """
    try:
        engine.connect().close()
    except exc.DBAPIError:
        log.warning("could not connect to the database ahead of the first request",
                    exc_info=True)


def on_postgresql(session: Session) -> bool:
    """Whether ``session`` runs on PostgreSQL (else on SQLite, the only other database labbook
    runs on): the one question for every statement or lock written for one of the two."""
    return session.get_bind().dialect.name == "postgresql"


def dialect_insert(session: Session) -> Callable[..., Any]:
    """The ``insert`` of ``session``'s database, whose statements can say what to do on a
    conflict (``on_conflict_do_nothing`` / ``on_conflict_do_update``)."""
    return postgresql.insert if on_postgresql(session) else sqlite.insert


#: A pooled PostgreSQL connection that has rested this long is pinged before it is lent out.
RESTED_SECONDS = 30.0


def check_pooled_connections(engine: Engine) -> None:
    """Lend out only pooled PostgreSQL connections that still reach the server, without a round
    trip per request.

    A server that restarts or ends a session closes its end of the socket, so the socket of an
    idle connection it has dropped turns readable: looking costs one ``poll`` and no message.
    Finding one, every connection in the pool is replaced (a restart dropped them all), as
    SQLAlchemy's ``pool_pre_ping`` does — which instead sends a statement on every checkout,
    two or three per request. What a socket cannot tell (a firewall that silently forgot an
    idle connection) the ping still finds, for connections that rested ``RESTED_SECONDS``.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _rest(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RESTING_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        resting_since = record.info.pop(_RESTING_SINCE, None)
        if resting_since is None:
            return  # just connected
        if _hung_up(dbapi_connection.fileno()):
            raise exc.InvalidatePoolError("the database server closed the connection")
        if time.monotonic() - resting_since >= RESTED_SECONDS \
                and not _answers_ping(dialect, dbapi_connection):
            raise exc.InvalidatePoolError("the database server did not answer a ping")


_RESTING_SINCE = "labbook_resting_since"


def _hung_up(descriptor: int) -> bool:
    """Whether the server has written to, or closed, an idle connection's socket: an idle
    session is sent nothing but its end, and a false alarm costs only a new connection."""
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))


def _answers_ping(dialect: Any, dbapi_connection: Any) -> bool:
    try:
        return dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error:
        return False


@contextmanager
def write_transaction(session: Session) -> Iterator[None]:
    """Run a unit of work that writes, holding the write lock from its first statement.

    On SQLite a transaction that has read and then writes fails at once ("database is locked")
    if another writer committed in between, so every state change goes through here: whatever
    read-only transaction the session had open is ended first (callers make no changes before
    entering), the new transaction starts with ``BEGIN IMMEDIATE``, so everything read inside
    it is current, and it commits at the end or rolls back on any error.

    On PostgreSQL (READ COMMITTED, where every statement reads what is committed when it runs)
    the read-only transaction the request holds (the API token's lookup) simply goes on as the
    write transaction: one transaction, one commit, two round trips fewer than ending it and
    beginning another. On SQLite that read transaction is ended and the write transaction begun
    on the same connection, under the session's transaction, which goes on: one commit of the
    session instead of two, and the connection kept rather than given back to the pool and
    taken again.
    """
    bind = session.get_bind()
    continues = _continues_as_write(session, bind)
    read_connection = None if continues else _read_connection(session, bind)
    if not continues and read_connection is None:
        session.commit()
    session.info[_WRITING] = True
    try:
        with _writers_queue(bind):
            try:
                if read_connection is not None:
                    _begin_writing_instead(read_connection)
                elif not continues:
                    session.connection(execution_options={BEGIN_IMMEDIATE: True})
                yield
                session.commit()
            except BaseException as error:
                if isinstance(error, DBAPIError) or not end_if_it_wrote_nothing(session):
                    session.rollback()
                raise
    finally:
        session.info.pop(_WRITING, None)


def keep_prepared_statements(engine: Engine, sessions: Any) -> None:
    """Let PostgreSQL's prepared statements outlive requests that write nothing.

    psycopg prepares a statement the fifth time a connection runs it, so that the server parses
    and plans it once; but every ROLLBACK makes it forget them all (and deallocate them, a round
    trip more), in case the transaction had made or dropped what they refer to. Every request
    that only reads, and every refused booking, ended in a ROLLBACK, so nothing stayed prepared
    (a request that only reads now opens no transaction on the server at all, see
    ``begin_at_first_write``; a refused booking still does, for its locks).
    A transaction that has run nothing but SELECT statements (no DDL, nor any other write) is
    the same committed as rolled back: this notes, per transaction of ``engine``, whether one
    ran, and which connection each transaction of ``sessions`` (a session class, factory or
    scoped session) runs on, so that ``end_if_it_wrote_nothing`` can commit it instead.
    """

    @event.listens_for(engine, "begin")
    def _nothing_written_yet(connection: Any) -> None:
        connection.info[_WRITES] = 0

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("SELECT"):
            connection.info[_WRITES] += 1

    _note_session_connections(sessions)


def wrote_nothing_after_all(connection: Connection) -> None:
    """Tell ``end_if_it_wrote_nothing`` that the last statement run on ``connection``, which
    ``keep_prepared_statements`` took for a write, wrote nothing: a guarded insert whose guard
    found what stands in its way (``audit.services.insert_recorded_unless``), so that a
    refused booking still ends in a COMMIT that keeps the prepared statements."""
    if connection.info.get(_WRITES):
        connection.info[_WRITES] -= 1


#: Execution options of a statement that PostgreSQL is to plan for its own values every time
#: it runs, never prepared: a sum over a period of the reports. psycopg prepares a statement
#: the fifth time a connection runs it, and after five runs of a prepared statement PostgreSQL
#: may keep a plan made for no values in particular. Such a generic plan reads an ``IN`` list
#: of bound values as an array it compares every row with in turn, where a plan for the values
#: looks each row up in a hash of them: a year's utilization by instrument (163 instruments,
#: 86,000 bookings) took 260 ms so from a worker's eleventh showing of the page on, against
#: 47 ms. Planning such a statement costs some 2 ms, its run tens.
PLANNED_EACH_TIME_OPTION = "labbook_planned_each_time"
PLANNED_EACH_TIME = {PLANNED_EACH_TIME_OPTION: True}


def plan_marked_statements_each_time(engine: Engine) -> None:
    """Run the statements of ``engine`` marked ``PLANNED_EACH_TIME`` unprepared (PostgreSQL)."""

    @event.listens_for(engine, "do_execute")
    def _unprepared(cursor: Any, statement: str, parameters: Any, context: Any
                    ) -> Literal[True] | None:
        if not context.execution_options.get(PLANNED_EACH_TIME_OPTION):
            return None
        cursor.execute(statement, parameters, prepare=False)
        return True


def begin_at_first_write(engine: Engine) -> None:
    """On PostgreSQL, let a transaction's plain reads before its first write or lock run
    without BEGIN, so that a request that only reads sends neither BEGIN nor COMMIT.

    psycopg sends BEGIN as a round trip of its own before a transaction's first statement, and
    the transaction's end is one more: two of the five round trips of a week's availability,
    of any page or feed that reads three statements. Under READ COMMITTED, the isolation
    labbook runs in, every statement reads what is committed when it starts, in a transaction
    or not, and a plain read takes no lock that outlasts it: such reads are the same outside a
    transaction. So each transaction of ``engine`` starts in psycopg's autocommit mode, and
    before its first statement that is not a plain read (one that writes, locks rows, takes an
    advisory lock or otherwise lasts until the transaction's end) autocommit is switched off:
    psycopg then sends BEGIN before that statement, and everything from there, and every read
    after it, is one transaction that commits or rolls back whole, as before. (Django's
    default on PostgreSQL goes further: every statement outside ``atomic`` commits alone.)
    A connection given another isolation level keeps its transactions whole from the start.
    """
    event.listen(engine, "begin", _read_outside_transaction)
    event.listen(engine, "before_cursor_execute", _begin_before_first_write)


def _read_outside_transaction(connection: Connection) -> None:
    """A transaction begins: until it writes or locks, its reads need no BEGIN. Decided afresh
    for every transaction of the pooled connection: one lent out with an isolation level of
    its own (AUTOCOMMIT for a VACUUM, say) is left as SQLAlchemy set it."""
    driver_connection = connection.connection.driver_connection
    reading_only = "isolation_level" not in connection.get_execution_options() \
        and connection.dialect.default_isolation_level == "READ COMMITTED" \
        and driver_connection.info.transaction_status == IDLE
    if reading_only and not driver_connection.autocommit:  # the setter takes a lock: µs
        driver_connection.autocommit = True
    connection.info[_READING_ONLY] = reading_only


def _begin_before_first_write(connection: Connection, _cursor: Any, statement: str,
                              *_args: Any) -> None:
    if connection.info.get(_READING_ONLY) and not reads_only(statement):
        connection.info[_READING_ONLY] = False
        connection.connection.driver_connection.autocommit = False  # psycopg sends BEGIN


@functools.lru_cache(maxsize=2048)
def reads_only(statement: str) -> bool:
    """Whether ``statement`` only reads and leaves nothing behind for the rest of a transaction:
    a SELECT with no locking clause that calls none of PostgreSQL's functions with effects (an
    advisory lock, a setting, a notification, a transaction id). What is not recognised as
    such is taken for a write, which costs only a BEGIN."""
    return statement.lstrip().startswith("SELECT") \
        and _LASTING_EFFECT.search(statement) is None


_LASTING_EFFECT = re.compile(
    r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(?:KEY\s+)?SHARE\b|\bpg_|\bset_config\b"
    r"|\btxid_|\bnextval\b|\bsetval\b", re.IGNORECASE)
#: Connection info key: the transaction has run only plain reads, outside a transaction.
_READING_ONLY = "labbook_reading_only"
#: A psycopg connection's transaction status with no transaction open.
IDLE = TransactionStatus.IDLE


def _note_session_connections(sessions: Any) -> None:
    """Keep in ``session.info`` the connection each transaction of ``sessions`` runs on, from
    its first statement to its end."""
    for name, listener in (("after_begin", _note_connection),
                           ("after_transaction_end", _forget_connection)):
        if not event.contains(sessions, name, listener):  # several apps share one session class
            event.listen(sessions, name, listener)


def _note_connection(session: Session, transaction: Any, connection: Any) -> None:
    if transaction.parent is None:
        session.info[_CONNECTION] = connection


def _forget_connection(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_CONNECTION, None)


#: Connection info key: how many statements other than a SELECT the transaction has run (but
#: those known to have written nothing); left out where ``keep_prepared_statements`` does not
#: watch: whether it wrote is then unknown.
_WRITES = "labbook_writes"
#: ``session.info`` key: the connection the session's transaction runs on, once it has one.
_CONNECTION = "labbook_connection"
#: A psycopg connection's transaction status while the server holds it open and not failed.
INTRANS = TransactionStatus.INTRANS


def end_if_it_wrote_nothing(session: Session) -> bool:
    """Commit the session's open transaction if it is known to have only read and nothing waits
    to be flushed (see ``keep_prepared_statements``); whether it did. Anything else (a
    transaction that wrote, failed, or never reached the database) is left to a rollback."""
    if isinstance(session, scoped_session):
        session = session()
    connection = session.info.get(_CONNECTION)
    transaction = session.get_transaction()
    if connection is None or transaction is None or not transaction.is_active \
            or session.new or session.dirty or session.deleted:
        return False
    if connection.info.get(_WRITES, 1) or connection.invalidated \
            or connection.connection.dbapi_connection.info.transaction_status != INTRANS:
        return False
    try:
        session.commit()
    except DBAPIError:
        # The connection went away since the transaction's last read (the server restarted):
        # nothing was written, and the caller's rollback lets the connection go.
        log.warning("a transaction that only read could not commit", exc_info=True)
        return False
    return True


#: ``session.info`` key set while a write transaction runs.
_WRITING = "labbook_writing"


def _continues_as_write(session: Session, bind: Engine) -> bool:
    """Whether the session's open transaction may become the write transaction: on PostgreSQL,
    one that has only read (no write transaction running in it, nothing waiting to be
    flushed)."""
    if isinstance(session, scoped_session):
        session = session()
    return bind.dialect.name != "sqlite" and session.in_transaction() \
        and _WRITING not in session.info \
        and not (session.new or session.dirty or session.deleted)


def _read_connection(session: Session, bind: Engine) -> Connection | None:
    """On SQLite, the connection of the session's open transaction when that transaction may be
    ended in place for a write transaction: it has begun on the database (the request's read,
    such as the API token's lookup), has not failed, and runs no savepoint or write transaction.
    Changes waiting to be flushed are flushed in the write transaction."""
    if bind.dialect.name != "sqlite":
        return None
    if isinstance(session, scoped_session):
        session = session()
    connection = session.info.get(_CONNECTION)  # noted while a transaction runs on it
    if connection is None or not session.get_transaction().is_active \
            or _WRITING in session.info or session.get_nested_transaction() is not None:
        return None
    return connection


def _begin_writing_instead(connection: Connection) -> None:
    """End the read transaction of ``connection`` and begin a write transaction (``BEGIN
    IMMEDIATE``, which reads what is committed now) on it, straight to the driver as
    ``configure_sqlite`` begins them; a failure is raised as SQLAlchemy raises the driver's."""
    driver_connection = connection.connection.driver_connection
    for statement in ("COMMIT", "BEGIN IMMEDIATE"):
        try:
            driver_connection.execute(statement)
        except connection.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(statement, (), error,
                                      connection.dialect.loaded_dbapi.Error,
                                      dialect=connection.dialect) from error


_lock_files = threading.local()


@contextmanager
def _writers_queue(engine: Engine) -> Iterator[None]:
    """Writers to one SQLite file take turns through a lock file before ``BEGIN IMMEDIATE``.

    SQLite lets a writer that finds the database locked sleep and retry (1, 2, 5, 10 … ms), so
    under load the processes of a server sat idle while the lock was free. Waiting on ``flock``
    instead, the next writer wakes the moment the last one is done. SQLite's own lock still
    keeps out writers that do not queue (another program, the ``sqlite3`` shell), and without
    the lock file (another user's, a read-only folder) writers simply do without the queue.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    descriptor = _lock_file(f"{database}-writers.lock") if database not in (None, "",
                                                                             ":memory:") else None
    if descriptor is None:
        yield
        return
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


def _lock_file(path: str) -> int | None:
    """This thread's descriptor of ``path``: one per thread and process, since ``flock`` does not
    exclude holders of the same open file (threads sharing one, children of a fork)."""
    files = getattr(_lock_files, "files", None)
    if files is None or _lock_files.pid != os.getpid():
        files = _lock_files.files = {}
        _lock_files.pid = os.getpid()
    if path not in files:
        try:
            files[path] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o660)
        except OSError:
            log.warning("no writers' queue for %s: the lock file cannot be opened", path,
                        exc_info=True)
            files[path] = None
    return files[path]


def locked(session: Session, model: type[ModelT], ident: Any) -> ModelT | None:
    """``model``'s row ``ident`` read afresh under a row lock, or None when there is none.

    Every state change decides on the row it changes as it is now, not as this session last saw
    it: on PostgreSQL (READ COMMITTED) the ``SELECT … FOR UPDATE`` makes a second writer of the
    same row wait until the first commits, then read what it wrote; the object this session may
    already hold takes the row's current values (``rows.read_locked``, as the ORM's
    ``populate_existing`` would). On SQLite the write transaction already holds the database's
    write lock (``BEGIN IMMEDIATE``), and FOR UPDATE is left out. Call it inside
    ``write_transaction``.
    """
    return read_locked(session, model, ident)


def lock(session: Session, instance: Any) -> None:
    """Re-read ``instance``'s row under a row lock, so the decision that follows sees it as it is
    now (see ``locked``). For an object the caller already holds; its row alone is read and
    locked, whatever was loaded with it (on PostgreSQL no row on the nullable side of an outer
    join could be locked)."""
    state = inspect(instance)
    if read_locked(session, state.class_, state.identity) is None:
        raise ObjectDeletedError(state)
