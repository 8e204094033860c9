"""Each job on its edge cases, run as the scheduler runs it, with a clock the tests control."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from sqlalchemy import func, select

from labbook.billing.models import MonthClose, Statement
from labbook.booking.models import BookingState
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.jobs.registry import JOBS, Job, due_period, run_job
from labbook.notify.models import OutboxMessage, OutboxState
from labbook.notify.services import SENT_KEPT
from tests.factories import (
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    reload,
)
from tests.notify.conftest import NOW, outbox

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
DAY = dt.date(2031, 3, 12)
START = lab_time(DAY, 10)


def run(app, name: str, now: dt.datetime) -> None:
    assert run_job(app, JOBS[name], now=now)
    db.session.rollback()


def kinds() -> list[tuple[str, str]]:
    return [(message.kind, message.recipient) for message in outbox()]


@pytest.fixture
def lab():
    return create_lab(code="NEM")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab)


@pytest.fixture
def user():
    return create_user(email="chen@example.cn", locale="en")


def approved(instrument, user, *, decided_at=NOW, start=START, **kw):
    return create_booking(instrument=instrument, user=user, start_at=start,
                          end_at=start + 2 * HOUR, decided_at=decided_at, created_at=decided_at,
                          **kw)


# -- reminders ---------------------------------------------------------------------------------


def test_reminders_24_hours_and_1_hour_before_each_once(app, instrument, user):
    booking = approved(instrument, user)
    run(app, "reminders", START - 25 * HOUR)
    assert kinds() == []
    run(app, "reminders", START - 24 * HOUR)
    assert kinds() == [("reminder_24h", "chen@example.cn")]
    run(app, "reminders", START - 23 * HOUR)
    run(app, "reminders", START - 61 * MINUTE)
    assert len(outbox()) == 1
    run(app, "reminders", START - HOUR)
    run(app, "reminders", START - 59 * MINUTE)
    assert kinds() == [("reminder_24h", "chen@example.cn"), ("reminder_1h", "chen@example.cn")]
    reminder = outbox()[1]
    assert "starts at 2031-03-12 10:00" in reminder.body_text
    assert reminder.attachments[0].filename == f"booking-{booking.id}.ics"
    assert reminder.dedupe_key == f"reminder_1h:booking:{booking.id}"


def test_a_scheduler_back_after_an_outage_sends_only_the_latest_reminder(app, instrument, user):
    approved(instrument, user)
    run(app, "reminders", START - 30 * MINUTE)
    assert [kind for kind, _to in kinds()] == ["reminder_1h"]


def test_no_reminder_for_a_booking_that_started_or_is_not_approved(app, instrument, user):
    approved(instrument, user)
    approved(instrument, user, start=START + 3 * HOUR, state=BookingState.PENDING)
    approved(instrument, user, start=START + 6 * HOUR, state=BookingState.CANCELLED)
    run(app, "reminders", START)
    run(app, "reminders", START + 2 * HOUR)
    assert kinds() == []


def test_a_booking_made_less_than_a_day_ahead_is_reminded_at_once(app, instrument, user):
    approved(instrument, user, decided_at=START - 3 * HOUR)
    run(app, "reminders", START - 3 * HOUR + MINUTE)
    assert [kind for kind, _to in kinds()] == ["reminder_24h"]
    run(app, "reminders", START - HOUR)
    assert [kind for kind, _to in kinds()] == ["reminder_24h", "reminder_1h"]


def test_users_who_turned_reminders_off_get_none(app, instrument):
    quiet = create_user(is_reminder_email_enabled=False)
    approved(instrument, quiet)
    run(app, "reminders", START - HOUR)
    assert kinds() == []


# -- expiry, no-shows, auto-completion ---------------------------------------------------------


def test_pending_requests_expire_at_their_start_and_the_requester_is_told(app, instrument,
                                                                          user):
    pending = approved(instrument, user, state=BookingState.PENDING, decided_at=None)
    later = approved(instrument, user, state=BookingState.PENDING, decided_at=None,
                     start=START + 3 * HOUR)
    on_time = approved(instrument, user, start=START - 3 * HOUR)
    run(app, "expire-pending", START - MINUTE)
    assert reload(pending).state == BookingState.PENDING
    run(app, "expire-pending", START)
    assert reload(pending).state == BookingState.EXPIRED
    assert reload(later).state == BookingState.PENDING
    assert reload(on_time).state == BookingState.APPROVED
    run(app, "expire-pending", START + MINUTE)
    assert kinds() == [("booking_expired", "chen@example.cn")]
    assert reload(pending).updated_at == START and reload(pending).sequence == 1


def test_no_shows_after_the_grace_period_are_marked_and_told(app, instrument, user):
    booking = approved(instrument, user)
    checked_in = approved(instrument, user, start=START + 3 * HOUR, state=BookingState.IN_USE,
                          checked_in_at=START + 3 * HOUR)
    run(app, "no-shows", START + 29 * MINUTE)
    assert reload(booking).state == BookingState.APPROVED
    run(app, "no-shows", START + 30 * MINUTE)
    assert reload(booking).state == BookingState.NO_SHOW
    run(app, "no-shows", START + 4 * HOUR)
    assert reload(checked_in).state == BookingState.IN_USE
    assert kinds() == [("booking_no_show", "chen@example.cn")]


def test_bookings_left_in_use_are_completed(app, instrument, user):
    booking = approved(instrument, user, state=BookingState.IN_USE, checked_in_at=START)
    run(app, "auto-complete", START + 2 * HOUR + 29 * MINUTE)
    assert reload(booking).state == BookingState.IN_USE
    run(app, "auto-complete", START + 2 * HOUR + 31 * MINUTE)
    booking = reload(booking)
    assert booking.state == BookingState.COMPLETED and booking.checked_out_at == booking.end_at


# -- the approval digest -----------------------------------------------------------------------


def test_the_digest_goes_daily_from_8_to_each_manager_with_pending_bookings(app, lab, instrument,
                                                                             user):
    manager = create_manager(lab, email="wang@example.cn", locale="en")
    other_lab = create_lab()
    both = create_manager(lab, email="both@example.cn", locale="en")
    both.managed_labs.append(other_lab)
    create_manager(create_lab(), email="idle@example.cn")
    create_manager(lab, email="quiet@example.cn", is_digest_email_enabled=False)
    db.session.commit()
    approved(instrument, user, state=BookingState.PENDING, decided_at=None)
    approved(create_instrument(lab=other_lab), user, state=BookingState.PENDING, decided_at=None)
    approved(instrument, user, start=START + 3 * HOUR)
    seven = lab_time(DAY - dt.timedelta(days=1), 7, 59)
    run(app, "approval-digest", seven)
    assert kinds() == []
    run(app, "approval-digest", seven + MINUTE)
    run(app, "approval-digest", seven + 5 * HOUR)
    assert sorted(kinds()) == [("approval_digest", "both@example.cn"),
                               ("approval_digest", manager.email)]
    digest = {m.recipient: m for m in outbox()}
    assert digest["both@example.cn"].subject == "2 bookings wait for your approval"
    assert digest[manager.email].subject == "1 booking waits for your approval"
    run(app, "approval-digest", seven + dt.timedelta(days=1, minutes=1))
    assert len(outbox()) == 4


# -- month close -------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "hour", "minute", "period"), [
    (dt.date(2031, 3, 1), 1, 59, "2031-01"),
    (dt.date(2031, 3, 1), 2, 0, "2031-02"),
    (dt.date(2031, 3, 31), 23, 59, "2031-02"),
    (dt.date(2031, 1, 1), 2, 0, "2030-12"),
    (dt.date(2031, 1, 1), 1, 0, "2030-11"),
])
def test_the_month_due_for_closing(day, hour, minute, period):
    assert due_period(lab_time(day, hour, minute)) == period


def test_month_close_on_the_1st_makes_drafts_and_tells_the_admins(app, lab):
    admin = create_admin(email="admin@example.cn")
    charge = create_charge(lab=lab, occurred_at=lab_time(dt.date(2031, 2, 14), 10))
    first = lab_time(dt.date(2031, 3, 1), 2)
    run(app, "month-close", first - MINUTE)
    assert db.session.scalars(select(MonthClose.period)).all() == ["2031-01"]
    assert reload(charge).statement_id is None
    run(app, "month-close", first)
    run(app, "month-close", first + HOUR)
    assert db.session.scalars(select(MonthClose.period).order_by(MonthClose.period)).all() == \
        ["2031-01", "2031-02"]
    [statement] = db.session.scalars(select(Statement)).all()
    assert statement.period == "2031-02" and reload(charge).statement_id == statement.id
    messages = outbox()
    assert [(m.kind, m.recipient) for m in messages] == [("month_closed", admin.email)] * 2
    assert statement.number in messages[1].body_text


def test_a_scheduler_down_for_months_closes_each_missed_month_in_order(app, lab):
    create_admin()
    db.session.add(MonthClose(period="2030-11", closed_at=NOW, statements_created=0))
    db.session.commit()
    create_charge(lab=lab, occurred_at=lab_time(dt.date(2030, 12, 5), 10))
    create_charge(lab=lab, occurred_at=lab_time(dt.date(2031, 1, 5), 10))
    run(app, "month-close", lab_time(dt.date(2031, 3, 2), 9))
    periods = db.session.scalars(select(MonthClose.period).order_by(MonthClose.period)).all()
    assert periods == ["2030-11", "2030-12", "2031-01", "2031-02"]
    assert sorted(db.session.scalars(select(Statement.period))) == ["2030-12", "2031-01"]


# -- retention ---------------------------------------------------------------------------------


def test_purge_deletes_old_sent_and_failed_mail_only(app):
    def message(state, created, sent=None):
        return OutboxMessage(kind="test", recipient="a@example.cn", locale="en", subject="s",
                             body_text="t", body_html="h", state=state, created_at=created,
                             next_attempt_at=created, sent_at=sent, attempts=1, last_error="")

    old = NOW - SENT_KEPT - MINUTE
    db.session.add_all([
        message(OutboxState.SENT, old, old), message(OutboxState.SENT, old, NOW),
        message(OutboxState.FAILED, old), message(OutboxState.FAILED, NOW - 91 * 24 * HOUR),
        message(OutboxState.QUEUED, NOW - 100 * 24 * HOUR)])
    db.session.commit()
    run(app, "purge", NOW)
    assert sorted((m.state.value, m.created_at == old) for m in outbox()) == [
        ("failed", True), ("queued", False), ("sent", True)]


# -- failures ----------------------------------------------------------------------------------


def test_a_failing_job_is_logged_and_leaves_the_others_running(app, caplog):
    def broken(_session, _now, _stopping):
        raise RuntimeError("the database went away")

    with caplog.at_level(logging.INFO, logger="labbook.jobs"):
        assert run_job(app, Job("broken", "never", "", broken, "interval"), now=NOW) is False
        assert run_job(app, JOBS["reminders"], now=NOW) is True
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "job broken failed" in failed[0].getMessage()
    assert "the database went away" in failed[0].exc_text
    assert any("job reminders done" in r.getMessage() for r in caplog.records)


def test_run_job_from_the_command_line(app, mail_dir, user):
    db.session.add(OutboxMessage(kind="test", recipient="a@example.cn", locale="en",
                                 subject="s", body_text="t", body_html="h",
                                 state=OutboxState.QUEUED, created_at=utcnow() - HOUR,
                                 next_attempt_at=utcnow() - HOUR, attempts=0, last_error=""))
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["labbook", "run-job", "outbox"])
    assert result.exit_code == 0, result.output
    assert [m.state for m in outbox()] == [OutboxState.SENT]
    unknown = runner.invoke(args=["labbook", "run-job", "everything"])
    assert unknown.exit_code == 2 and "'everything' is not one of" in unknown.output


def test_a_bad_smtp_url_is_refused_before_anything_runs(app, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_SMTP_URL", "mail.example.cn:25")
    result = app.test_cli_runner().invoke(args=["labbook", "run-job", "outbox"])
    assert result.exit_code == 1
    assert "LABBOOK_SMTP_URL must start with smtp://" in result.output
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_every_job_runs_once_on_an_empty_database(app, mail_dir):
    stopping = threading.Event()
    for job in JOBS.values():
        assert run_job(app, job, now=NOW, stopping=stopping), job.name
