"""``labbook scheduler`` and ``labbook run-job``: the background jobs from the command line."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext

from labbook.extensions import db
from labbook.jobs.registry import JOBS, run_job
from labbook.notify.sender import describe_transport

_JOB_LIST = "\n".join(f"  {job.name:<16} {job.schedule:<20} {job.description}"
                      for job in JOBS.values())


def _mail_or_fail() -> str:
    try:
        return describe_transport(current_app.config)
    except ValueError as error:
        raise click.ClickException(str(error)) from None


def _lease() -> dt.timedelta:
    value = str(current_app.config["LABBOOK_SCHEDULER_LEASE_SECONDS"])
    if not value.isdigit() or int(value) < 3:
        raise click.ClickException("LABBOOK_SCHEDULER_LEASE_SECONDS must be a whole number of "
                                   "seconds, at least 3.")
    return dt.timedelta(seconds=int(value))


@click.command("scheduler", epilog=f"\b\nJobs (times are Asia/Shanghai):\n{_JOB_LIST}")
@with_appcontext
def scheduler_command() -> None:
    """Run the background jobs in the foreground until stopped (SIGTERM or Ctrl-C).

    Run exactly one per database, next to the web servers (which never run jobs). A second
    scheduler started against the same database waits, and takes over when the first one
    stops or dies: on PostgreSQL at once (an advisory lock), on SQLite once the first one's
    lease (LABBOOK_SCHEDULER_LEASE_SECONDS) has expired. On start every job runs once, so
    whatever fell due while no scheduler ran is done then.

    Mail goes to LABBOOK_SMTP_URL (smtp://, smtp+starttls:// or smtps://, with optional
    user:password@); without it, messages are written as .eml files to LABBOOK_MAIL_DIR
    (instance/outbox/).
    """
    from labbook.jobs.lock import scheduler_lock
    from labbook.jobs.scheduler import Scheduler

    lease = _lease()
    click.echo(f"labbook scheduler: mail via {_mail_or_fail()}", err=True)
    app = current_app._get_current_object()
    lock = scheduler_lock(db.engine, lease=lease)
    # Renewed three times per lease, so that one slow renewal does not lose it.
    Scheduler(app, lock, list(JOBS.values()), heartbeat=lease / 3,
              poll=dt.timedelta(seconds=1)).run()


@click.command("run-job", epilog=f"\b\nJobs:\n{_JOB_LIST}")
@click.argument("name", type=click.Choice(list(JOBS)), metavar="NAME")
@with_appcontext
def run_job_command(name: str) -> None:
    """Run the job NAME once, now, and report what it did.

    For operators and tests; safe next to a running scheduler, since each job checks the
    database for what is due and never does a thing twice.
    """
    _mail_or_fail()
    if not run_job(current_app._get_current_object(), JOBS[name]):
        raise click.ClickException(f"job {name} failed; see the log above.")
