"""An SMTP server on loopback per test, and a clock the tests control."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from flask import Flask

from labbook.extensions import db
from labbook.notify import sender
from labbook.notify.models import OutboxMessage
from tests.mailserver import MailServer

#: A fixed "now" (a Monday 10:00 lab time, in the future so the booking rules accept it).
NOW = dt.datetime(2031, 3, 3, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def mail_dir(app: Flask, tmp_path, monkeypatch) -> str:
    """No SMTP: the outbox writes .eml files here."""
    directory = str(tmp_path / "outbox")
    monkeypatch.setitem(app.config, "LABBOOK_SMTP_URL", None)
    monkeypatch.setitem(app.config, "LABBOOK_MAIL_DIR", directory)
    return directory


@pytest.fixture
def smtp(app: Flask, monkeypatch, mail_dir) -> Iterator[MailServer]:
    server = MailServer().start()
    monkeypatch.setitem(app.config, "LABBOOK_SMTP_URL", server.url)
    yield server
    server.stop()


def deliver(app: Flask, now: dt.datetime = NOW) -> sender.DeliveryReport:
    """One run of the outbox, as the scheduler's job does it."""
    report = sender.deliver(db.session, sender.transport_for(app.config), now=now,
                            mail_from=app.config["LABBOOK_MAIL_FROM"],
                            domain=app.config["LABBOOK_UID_DOMAIN"])
    db.session.rollback()
    return report


def outbox(**filters) -> list[OutboxMessage]:
    """The outbox as the database has it now (objects loaded earlier are refreshed)."""
    db.session.rollback()
    db.session.expire_all()
    return list(db.session.scalars(
        db.select(OutboxMessage).filter_by(**filters).order_by(OutboxMessage.id)))
