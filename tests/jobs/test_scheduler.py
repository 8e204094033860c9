"""One scheduler per database: the lock, taking over from a dead scheduler, a clean SIGTERM.

The process tests run the real ``flask labbook scheduler`` command against the test database
and a real SMTP server.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.jobs.lock import AdvisoryLock, LeaseLock
from labbook.notify.models import OutboxMessage, OutboxState
from tests.jobs.conftest import job_process_env
from tests.live import ROOT
from tests.notify.conftest import outbox

LEASE = dt.timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


def test_the_sqlite_lease_is_taken_renewed_and_taken_over_once_it_expires():
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the lease is SQLite's lock")
    clock = Clock()
    first, second = (LeaseLock(db.engine, name, LEASE, clock=clock) for name in ("a", "b"))
    assert first.acquire() and first.holds()
    assert not second.acquire()
    clock.now += LEASE / 2
    assert first.renew()
    clock.now += LEASE / 2 + dt.timedelta(seconds=1)
    assert not second.acquire()  # renewed half-way, so still first's
    clock.now += LEASE
    assert second.acquire()
    assert not first.renew() and not first.holds()
    first.release()  # not its lease any more: changes nothing
    third = LeaseLock(db.engine, "c", LEASE, clock=clock)
    assert not third.acquire()
    second.release()
    assert third.acquire()
    third.release()


def test_the_postgresql_advisory_lock_is_held_by_one_session():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    first, second = AdvisoryLock(db.engine, "a"), AdvisoryLock(db.engine, "b")
    try:
        assert first.acquire() and first.renew() and first.holds()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()


def test_a_released_advisory_lock_is_free_at_once():
    """A scheduler that stops hands over to one started the next moment, every time: release
    unlocks before it closes, rather than waiting for the server to end the session."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    for attempt in range(30):
        holder, successor = AdvisoryLock(db.engine, "a"), AdvisoryLock(db.engine, "b")
        try:
            assert holder.acquire()
            holder.release()
            assert successor.acquire(), f"still held after release, attempt {attempt}"
        finally:
            holder.release()
            successor.release()


class SchedulerProcess:
    """``flask labbook scheduler`` in a process of its own; its log lines are collected."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "labbook", "scheduler"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(re.search(pattern, line) for line in list(self.lines)):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the scheduler's output:\n{self.output}")

    def says(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in list(self.lines))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def terminate(self) -> int:
        """SIGTERM, and the exit status once the process has ended."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 30 s after SIGTERM:\n{self.output}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def scheduler_env(database_url, smtp, tmp_path) -> dict[str, str]:
    env = job_process_env(database_url, smtp.url, str(tmp_path / "outbox"))
    env["LABBOOK_SCHEDULER_LEASE_SECONDS"] = "3"
    return env


@pytest.fixture
def processes() -> Iterator[list[SchedulerProcess]]:
    started: list[SchedulerProcess] = []
    yield started
    for process in started:
        process.stop()


def queue(subject: str) -> None:
    db.session.add(OutboxMessage(kind="test", recipient="chen@example.cn", locale="en",
                                 subject=subject, body_text="t", body_html="<p>t</p>",
                                 state=OutboxState.QUEUED, created_at=utcnow(),
                                 next_attempt_at=utcnow(), attempts=0, last_error=""))
    db.session.commit()


@pytest.mark.slow
def test_one_scheduler_runs_the_jobs_the_next_takes_over_when_it_dies_or_stops(
        scheduler_env, smtp, processes):
    queue("before")
    first = SchedulerProcess(scheduler_env)
    processes.append(first)
    first.wait_for("holds the lock; running jobs")
    smtp.wait_for(1)
    second = SchedulerProcess(scheduler_env)
    processes.append(second)
    second.wait_for("another scheduler holds the lock")
    assert not second.says("holds the lock; running jobs")
    assert not second.says(r"job \S+ done")

    # Killed outright: the second takes over (on SQLite once the 3-second lease expired).
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    queue("after")
    second.wait_for("holds the lock; running jobs")
    smtp.wait_for(2)
    assert sorted(message["Subject"] for _to, message in smtp.received) == ["after", "before"]
    # Marked sent just after the server accepted it.
    deadline = time.monotonic() + 10
    while [row.state for row in outbox()] != [OutboxState.SENT] * 2:
        assert time.monotonic() < deadline, outbox()
        time.sleep(0.05)

    # Stopped with SIGTERM: it finishes, exits 0 and releases the lock on the way out, so the
    # next one need not wait for a lease to expire.
    third = SchedulerProcess(scheduler_env)
    processes.append(third)
    third.wait_for("another scheduler holds the lock")
    assert second.terminate() == 0
    second.stop()
    assert second.says("stopped") and "Traceback" not in second.output
    third.wait_for("holds the lock; running jobs", timeout=5)
    assert third.terminate() == 0
    assert len(smtp.received) == 2


def test_web_workers_start_no_scheduler(database_url):
    """Creating the app, as every web worker does, starts no scheduler (no thread at all)."""
    from labbook import create_app
    from labbook.config import TestingConfig

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    before = threading.active_count()
    create_app(Config)
    assert threading.active_count() == before
