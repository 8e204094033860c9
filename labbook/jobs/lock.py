"""One scheduler per database, and one run of a job at a time.

``SchedulerLock`` decides which scheduler process runs the jobs. On PostgreSQL it is a
session-level advisory lock held on a connection of its own for as long as the scheduler runs:
the server drops it the moment that connection goes away, whatever killed the process. On
SQLite it is a lease row (``scheduler_leases``) that the holder renews; one that is not renewed
for ``lease`` expires and may be taken over.

``job_transaction`` serializes the runs of one job however they are started (the scheduler,
``labbook run-job``): on PostgreSQL with a transaction-level advisory lock per job name, on
SQLite by the write lock every write transaction takes at BEGIN.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import Connection, Engine, NullPool, create_engine, delete, insert, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from labbook.core.engine import BEGIN_IMMEDIATE, on_postgresql, write_transaction
from labbook.core.time import utcnow
from labbook.jobs.models import SchedulerLease

log = logging.getLogger(__name__)

#: Advisory lock keys: the scheduler's, and the key space of the per-job locks ("lbjb").
SCHEDULER_LOCK_KEY = 0x6C6162626F6F6B  # "labbook"
JOB_LOCK_SPACE = 0x6C626A62
LEASE_NAME = "scheduler"


def holder_name() -> str:
    """Who holds the lock, for logs and the lease row: host, process, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class SchedulerLock(Protocol):
    holder: str

    def acquire(self) -> bool:
        """Take the lock if it is free (or ours); never waits."""

    def renew(self) -> bool:
        """Whether the lock is still ours, extending it where it expires."""

    def holds(self) -> bool:
        """Whether the lock was ours at the last acquire or renew and cannot have expired."""

    def release(self) -> None: ...


class AdvisoryLock:
    """PostgreSQL: ``pg_try_advisory_lock`` on a dedicated, unpooled connection."""

    def __init__(self, engine: Engine, holder: str) -> None:
        # Unpooled, so that closing the connection really ends the session and its lock.
        self.engine = create_engine(engine.url, poolclass=NullPool)
        self.holder = holder
        self.connection: Connection | None = None
        self.locked = False

    def acquire(self) -> bool:
        if self.locked:
            return self.renew()
        try:
            if self.connection is None:
                self.connection = self.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT")
            self.locked = bool(self.connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK_KEY}))
        except DBAPIError:
            self._close()
            raise
        return self.locked

    def renew(self) -> bool:
        if not self.locked or self.connection is None:
            return False
        try:
            self.connection.scalar(text("SELECT 1"))
        except DBAPIError as error:
            log.error("lost the connection that holds the scheduler lock: %s", error)
            self._close()
            return False
        return True

    def holds(self) -> bool:
        return self.locked

    def _close(self) -> None:
        self.locked = False
        if self.connection is not None:
            with contextlib.suppress(DBAPIError):
                self.connection.close()
            self.connection = None

    def release(self) -> None:
        # Unlock before closing: the server ends a closed session's backend, and with it the
        # lock, only some moments later, and a scheduler started just then must find it free.
        # Closing stays the backstop for a connection that is already gone.
        if self.locked and self.connection is not None:
            with contextlib.suppress(DBAPIError):
                self.connection.scalar(text("SELECT pg_advisory_unlock(:key)"),
                                       {"key": SCHEDULER_LOCK_KEY})
        self._close()
        self.engine.dispose()


class LeaseLock:
    """SQLite: a lease row, taken and renewed under the database's write lock."""

    def __init__(self, engine: Engine, holder: str, lease: dt.timedelta, *,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.engine = engine
        self.holder = holder
        self.lease = lease
        self.clock = clock
        self._valid_until = 0.0

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            connection.execution_options(**{BEGIN_IMMEDIATE: True})
            with connection.begin():
                yield connection

    def _held_until(self, started: float) -> None:
        # Measured from before the write: the lease may have run from then.
        self._valid_until = started + self.lease.total_seconds()

    def acquire(self) -> bool:
        started = time.monotonic()
        now = self.clock()
        table = SchedulerLease.__table__
        with self._write() as connection:
            lease = connection.execute(select(table).where(table.c.name == LEASE_NAME)).first()
            if lease is None:
                connection.execute(insert(table).values(
                    name=LEASE_NAME, holder=self.holder, acquired_at=now, renewed_at=now,
                    expires_at=now + self.lease))
            elif lease.holder == self.holder or lease.expires_at <= now:
                if lease.holder != self.holder:
                    log.warning("scheduler lease of %s expired at %s; taking over",
                                lease.holder, lease.expires_at.isoformat(timespec="seconds"))
                connection.execute(sql_update(table).where(table.c.name == LEASE_NAME).values(
                    holder=self.holder,
                    acquired_at=lease.acquired_at if lease.holder == self.holder else now,
                    renewed_at=now, expires_at=now + self.lease))
            else:
                return False
        self._held_until(started)
        return True

    def renew(self) -> bool:
        started = time.monotonic()
        now = self.clock()
        table = SchedulerLease.__table__
        with self._write() as connection:
            result = connection.execute(
                sql_update(table)
                .where(table.c.name == LEASE_NAME, table.c.holder == self.holder,
                       table.c.expires_at > now)
                .values(renewed_at=now, expires_at=now + self.lease))
        if result.rowcount != 1:
            self._valid_until = 0.0
            log.error("the scheduler lease expired or was taken over")
            return False
        self._held_until(started)
        return True

    def holds(self) -> bool:
        return time.monotonic() < self._valid_until

    def release(self) -> None:
        table = SchedulerLease.__table__
        with self._write() as connection:
            connection.execute(delete(table).where(table.c.name == LEASE_NAME,
                                                   table.c.holder == self.holder))
        self._valid_until = 0.0


def scheduler_lock(engine: Engine, *, lease: dt.timedelta) -> SchedulerLock:
    holder = holder_name()
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, holder)
    return LeaseLock(engine, holder, lease)


def _job_key(name: str) -> int:
    # A stable signed 32-bit number per job name (hash() changes between processes).
    return zlib.crc32(name.encode()) - 2**31


@contextmanager
def job_transaction(session: Session, name: str) -> Iterator[None]:
    """A write transaction that no other run of job ``name`` overlaps."""
    with write_transaction(session):
        if on_postgresql(session):
            session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                            {"space": JOB_LOCK_SPACE, "key": _job_key(name)})
        yield
