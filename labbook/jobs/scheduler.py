"""The scheduler process: APScheduler's BlockingScheduler, run by the one lock holder.

The process first takes the scheduler lock (``labbook.jobs.lock``), waiting as long as another
scheduler holds it. Holding it, it runs every job once at once (to catch up on whatever was
missed while no scheduler ran) and then on its schedule, while a heartbeat on an executor of its
own renews the lock. If the lock is lost the jobs stop and the process waits to take it again.
SIGTERM or SIGINT let running jobs finish, release the lock and end the process.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from labbook.core.time import LAB_TZ
from labbook.jobs.lock import SchedulerLock
from labbook.jobs.registry import Job, run_job

log = logging.getLogger(__name__)

#: Threads for the jobs; the outbox and a slow month close must not hold up reminders.
WORKERS = 4


class Scheduler:
    def __init__(self, app: Flask, lock: SchedulerLock, jobs: list[Job], *,
                 heartbeat: dt.timedelta, poll: dt.timedelta) -> None:
        self.app = app
        self.lock = lock
        self.jobs = jobs
        self.heartbeat = heartbeat
        self.poll = poll
        #: Set by SIGTERM/SIGINT: finish and leave.
        self.stopping = threading.Event()
        #: Set to end the current holding period (stopping, or the lock was lost).
        self._halt = threading.Event()

    def stop(self, *_args: Any) -> None:
        self.stopping.set()
        self._halt.set()

    def run(self) -> None:
        """Run until stopped. Call from the main thread (it installs signal handlers)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("scheduler %s starting", self.lock.holder)
        try:
            waiting = False
            while not self.stopping.is_set():
                acquired = self._lock_call(self.lock.acquire)
                if not acquired:
                    if acquired is False and not waiting:
                        log.info("another scheduler holds the lock on this database; waiting "
                                 "to take over")
                        waiting = True
                    self.stopping.wait(self.poll.total_seconds())
                    continue
                waiting = False
                log.info("scheduler %s holds the lock; running jobs", self.lock.holder)
                if not self._run_jobs():
                    log.error("scheduler lock lost; jobs stopped until it is taken again")
        finally:
            try:
                self.lock.release()
            except SQLAlchemyError as error:
                # It lapses by itself: with the connection (PostgreSQL), or the lease (SQLite).
                log.error("the scheduler lock could not be released: %s", error)
        log.info("scheduler %s stopped", self.lock.holder)

    def _run_jobs(self) -> bool:
        """Run the jobs until halted; False if the lock was lost meanwhile."""
        self._halt.clear()
        lost = threading.Event()
        scheduler = BlockingScheduler(
            timezone=LAB_TZ,
            executors={"default": ThreadPoolExecutor(WORKERS),
                       "lock": ThreadPoolExecutor(1)},
            # A job late for any reason runs once as soon as it can; the jobs themselves look
            # at the database to see what is due, so nothing is lost by running late.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        now = dt.datetime.now(LAB_TZ)
        for job in self.jobs:
            scheduler.add_job(self._run_one, job.trigger, args=[job], id=job.name,
                              name=job.name, next_run_time=now, **job.trigger_args)

        def beat() -> None:
            if not self._lock_call(self.lock.renew):
                lost.set()
                self._halt.set()

        scheduler.add_job(beat, "interval", seconds=self.heartbeat.total_seconds(),
                          id="heartbeat", executor="lock")

        def halt() -> None:
            self._halt.wait()
            scheduler.shutdown(wait=True)

        # Shut down from a thread of its own, never from the signal handler: waiting for the
        # running jobs there could deadlock on a lock the interrupted main thread holds. The
        # thread starts once the scheduler runs, since only a running one can shut down.
        watcher = threading.Thread(target=halt, name="scheduler-halt", daemon=True)

        def started(_event: SchedulerEvent) -> None:
            watcher.start()

        scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
        scheduler.start()
        watcher.join()
        return not lost.is_set()

    @staticmethod
    def _lock_call(call: Callable[[], bool]) -> bool | None:
        """``call()``, or None (logged) when the database cannot answer."""
        try:
            return call()
        except SQLAlchemyError as error:
            log.error("the scheduler lock cannot be checked: %s", error)
            return None

    def _run_one(self, job: Job) -> None:
        if not self.lock.holds():
            log.warning("job %s skipped: the scheduler lock is not certainly ours", job.name)
            return
        run_job(self.app, job, stopping=self.stopping)
