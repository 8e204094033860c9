"""The jobs: what each does, when it runs, and ``run_job`` that runs one once.

Every job takes its facts from the database and is idempotent, so running it again, late, or
twice changes nothing more: a scheduler that was down simply runs every job when it starts
(see ``labbook.jobs.scheduler``) and catches up. Times are Asia/Shanghai.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labbook.billing import receivables
from labbook.billing import services as billing
from labbook.billing.models import MonthClose
from labbook.booking import attendance, offers
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.jobs.lock import job_transaction
from labbook.notify import channels, sender
from labbook.notify import services as notify
from labbook.orders import retention
from labbook.training import services as training

log = logging.getLogger(__name__)

#: Month close: the 1st of each month at this hour (lab time) closes the month before.
MONTH_CLOSE_HOUR = 2
#: Missed months a scheduler closes when it comes back, at most: the latest ones, in order (the
#: first of them takes every older unbilled charge too).
MONTH_CLOSE_CATCH_UP = 12
#: Overdue statements are reminded of daily at this hour (lab time), each at most once a stage.
OVERDUE_REMINDER_HOUR = 9

JobFunction = Callable[[Session, dt.datetime, threading.Event], str]


@dataclass(frozen=True)
class Job:
    name: str
    #: When it runs, in words (the CLI help and the README say the same).
    schedule: str
    description: str
    run: JobFunction
    #: APScheduler trigger name and arguments.
    trigger: str
    trigger_args: dict[str, Any] = field(default_factory=dict)


def _outbox(session: Session, now: dt.datetime, stopping: threading.Event) -> str:
    config = current_app.config
    report = sender.deliver(session, sender.transport_for(config), now=now,
                            mail_from=config["LABBOOK_MAIL_FROM"],
                            domain=config["LABBOOK_UID_DOMAIN"], should_stop=stopping.is_set)
    reports = [str(report)]
    for channel, transport in channels.transports(config).items():
        delivered = sender.deliver(session, transport, now=now, should_stop=stopping.is_set,
                                   channel=channel)
        reports.append(f"{channel.value}: {delivered}")
    return "; ".join(reports)


def _counted(name: str, work: Callable[..., Sized], what: str) -> JobFunction:
    """A job that does ``work`` in its own locked transaction and says how many ``what``."""
    def run(session: Session, now: dt.datetime, _stopping: threading.Event) -> str:
        with job_transaction(session, name):
            done = work(session, now=now)
        return f"{len(done)} {what}"
    return run


_reminders = _counted("reminders", notify.send_reminders, "reminders queued")
_no_shows = _counted("no-shows", attendance.mark_no_shows, "bookings marked no-show")
_auto_complete = _counted("auto-complete", attendance.auto_close, "bookings completed")
_expire_pending = _counted("expire-pending", attendance.expire_pending,
                           "booking requests expired")
_waitlist_offers = _counted("waitlist-offers", offers.make_all_offers,
                            "waiting-list offers made")
_retention_due = _counted("retention-due", retention.notify_due, "retention lists queued")
_approval_digest = _counted("approval-digest", notify.send_approval_digests, "digests queued")
_qualification_reminders = _counted("qualification-reminders", training.send_expiry_reminders,
                                    "reminders queued")
_overdue_reminders = _counted("overdue-reminders", receivables.send_overdue_reminders,
                              "overdue reminders queued")


def due_period(now: dt.datetime) -> str:
    """The latest month whose close is due at ``now``: the month before the last 1st at
    ``MONTH_CLOSE_HOUR`` (lab time) that has passed."""
    local = to_lab_time(now)
    moment = local.replace(day=1, hour=MONTH_CLOSE_HOUR, minute=0, second=0, microsecond=0)
    if local < moment:
        moment = (moment - dt.timedelta(days=1)).replace(day=1)
    return (moment - dt.timedelta(days=1)).strftime("%Y-%m")


def _months_after(period: str, last: str) -> list[str]:
    """The months after ``period`` up to ``last``, in order."""
    year, month = (int(part) for part in period.split("-"))
    months = []
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        following = f"{year:04d}-{month:02d}"
        if following > last:
            return months
        months.append(following)


def _month_close(session: Session, now: dt.datetime, _stopping: threading.Event) -> str:
    due = due_period(now)
    with job_transaction(session, "month-close"):
        last = session.scalar(select(func.max(MonthClose.period)))
        periods = [due] if last is None else _months_after(last, due)[-MONTH_CLOSE_CATCH_UP:]
        done = []
        for period in periods:
            result = billing.close_month(session, None, period, now=now)
            if not result.was_already_closed:
                notify.month_closed(session, period, result.statements, now=now)
                done.append(f"{period} ({len(result.statements)} statements)")
    return f"closed {', '.join(done)}" if done else f"nothing to close (up to {due})"


def _purge(session: Session, now: dt.datetime, _stopping: threading.Event) -> str:
    with job_transaction(session, "purge"):
        deleted = notify.purge_outbox(session, now=now)
    return f"{deleted} old outbox messages deleted"


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("outbox", "every 5 seconds",
        "Send queued email (SMTP, or .eml files); retry with backoff.",
        _outbox, "interval", {"seconds": 5}),
    Job("reminders", "every minute",
        "Remind users 24 h and 1 h before their bookings start.",
        _reminders, "interval", {"minutes": 1}),
    Job("no-shows", "every minute",
        "Mark approved bookings nobody checked in as no-shows.",
        _no_shows, "interval", {"minutes": 1}),
    Job("auto-complete", "every 5 minutes",
        "Complete bookings left in use after their end.",
        _auto_complete, "interval", {"minutes": 5}),
    Job("expire-pending", "every minute",
        "Expire requests undecided at their start; tell the user.",
        _expire_pending, "interval", {"minutes": 1}),
    Job("waitlist-offers", "every minute",
        "Lapse unclaimed waiting-list offers; offer free time to the next in line.",
        _waitlist_offers, "interval", {"minutes": 1}),
    Job("approval-digest", f"daily at {notify.DIGEST_HOUR:02d}:00",
        "Email lab managers the bookings awaiting approval.",
        _approval_digest, "cron", {"hour": notify.DIGEST_HOUR, "minute": 0}),
    Job("qualification-reminders", "daily at 08:00",
        "Remind people 30 days before their training record lapses.",
        _qualification_reminders, "cron", {"hour": 8, "minute": 0}),
    Job("month-close", f"on the 1st at {MONTH_CLOSE_HOUR:02d}:00",
        "Close last month into draft statements; tell admins.",
        _month_close, "cron", {"day": 1, "hour": MONTH_CLOSE_HOUR, "minute": 0}),
    Job("overdue-reminders", f"daily at {OVERDUE_REMINDER_HOUR:02d}:00",
        "Remind billing contacts of overdue statements (once per 30 days).",
        _overdue_reminders, "cron", {"hour": OVERDUE_REMINDER_HOUR, "minute": 0}),
    Job("retention-due", "daily at 08:30",
        "Email lab managers the samples' remains due for return or disposal.",
        _retention_due, "cron", {"hour": 8, "minute": 30}),
    Job("purge", "daily at 03:30",
        "Delete sent email after 30 days, failed after 90.",
        _purge, "cron", {"hour": 3, "minute": 30}),
)}


def run_job(app: Flask, job: Job, *, now: dt.datetime | None = None,
            stopping: threading.Event | None = None) -> bool:
    """Run ``job`` once in an app context of its own; log how it went. False if it failed.

    A failure is logged with its error and otherwise ignored: the job runs again at its next
    time, and the other jobs go on.
    """
    with app.app_context():
        started = time.monotonic()
        try:
            summary = job.run(db.session, now or utcnow(), stopping or threading.Event())
        except Exception:
            db.session.rollback()
            log.exception("job %s failed after %.2f s", job.name, time.monotonic() - started)
            return False
        log.info("job %s done in %.2f s: %s", job.name, time.monotonic() - started, summary)
        return True

