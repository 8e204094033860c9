"""Delivering the outbox: emails over SMTP (``LABBOOK_SMTP_URL``), or as .eml files without
one; the other channels (a lab's WeCom robot, SMS) through their transports in
``labbook.notify.channels``, one channel per run of ``deliver``, with the same claims and retries.

At least once. A message is claimed (``queued`` → ``sending``) in a committed transaction of its
own before it goes out, and only the claim's holder may mark it sent or put it back. On
PostgreSQL the claim skips rows another sender has locked (``FOR UPDATE SKIP LOCKED``); on SQLite
the claim transaction holds the write lock. Either way no two senders hold a claim on one message
at the same time.

A claim lapses ``SENDING_TIMEOUT`` after it was taken: its sender was killed or hung between the
claim and recording the outcome. The next run puts the message back in the queue and sends it
again, so a crash never loses it; but the first attempt may have arrived, and then the recipient
gets it twice. Every attempt carries the same Message-ID, made at the first claim and stored
(``OutboxMessage.message_id_header``), so that mail servers and readers can recognise the copy.
A sender whose claim lapsed while it was still at work cannot record an outcome any more.

A message that cannot be delivered now (mail server down, a temporary refusal) is put back with
exponential backoff and tried again until ``GIVE_UP_AFTER``; one the server refuses for good
fails at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import secrets
import smtplib
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from labbook.core.engine import write_transaction
from labbook.notify.models import Channel, OutboxMessage, OutboxState

log = logging.getLogger(__name__)

#: Backoff after the n-th failed attempt: RETRY_BASE × 2^(n-1), at most RETRY_MAX, or
#: OUTAGE_RETRY_MAX while the mail server is unreachable: then each run of the outbox job
#: tries one message only, so retrying often costs little and mail flows soon after the
#: server is back.
RETRY_BASE = dt.timedelta(seconds=15)
RETRY_MAX = dt.timedelta(minutes=15)
OUTAGE_RETRY_MAX = dt.timedelta(seconds=30)
#: A message still undelivered this long after it was written is given up.
GIVE_UP_AFTER = dt.timedelta(days=2)
#: A claim older than this belongs to a sender that died or hung while sending: far longer than
#: a delivery takes (SMTP_TIMEOUT_SECONDS bounds each exchange with the mail server).
SENDING_TIMEOUT = dt.timedelta(minutes=10)
#: Messages one run of the outbox job sends at most, so that it never runs for long.
BATCH = 200
SMTP_TIMEOUT_SECONDS = 30

_SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


class DeliveryError(Exception):
    """This message could not be delivered now; try it again later."""


class ServerUnavailable(DeliveryError):
    """The mail server cannot be reached or refuses us: no message can go out now."""


class Refused(Exception):
    """The mail server refuses this message for good (e.g. an unknown recipient)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    #: ``plain``, ``starttls`` (STARTTLS required) or ``tls`` (TLS from the start).
    security: str
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Settings from ``smtp://``, ``smtp+starttls://`` or ``smtps://`` URLs, with optional
        ``user:password@`` (percent-encoded) and port. ValueError says what is wrong."""
        parts = urlsplit(url.strip())
        if parts.scheme not in _SCHEMES:
            raise ValueError(f"LABBOOK_SMTP_URL must start with smtp://, smtp+starttls:// or "
                             f"smtps://, not {parts.scheme + '://' if parts.scheme else url!r}")
        if not parts.hostname:
            raise ValueError("LABBOOK_SMTP_URL names no mail server host")
        security, default_port = _SCHEMES[parts.scheme]
        try:
            port = parts.port or default_port
        except ValueError:
            raise ValueError("LABBOOK_SMTP_URL has an invalid port") from None
        return cls(host=parts.hostname, port=port, security=security,
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password else None)

    def describe(self) -> str:
        """For logs: everything but the password."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.security} SMTP {user}{self.host}:{self.port}"


@dataclass(frozen=True)
class TextMessage:
    """A message of a channel other than email: a title and its text (markdown for WeCom)."""

    title: str
    text: str


class Transport(Protocol):
    def send(self, message: Any, recipient: str) -> None: ...

    def close(self) -> None: ...


class SmtpTransport:
    """One SMTP connection, opened on the first message and reused for the run."""

    def __init__(self, settings: SmtpSettings, mail_from: str, *,
                 ca_file: str | None = None) -> None:
        self.settings = settings
        self.mail_from = mail_from
        self.ca_file = ca_file
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = ssl.create_default_context(cafile=self.ca_file)
        # The host name is enough for EHLO; the FQDN lookup smtplib would do can hang on DNS.
        local = socket.gethostname()
        try:
            if settings.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, local_hostname=local,
                    timeout=SMTP_TIMEOUT_SECONDS, context=context)
            else:
                client = smtplib.SMTP(settings.host, settings.port, local_hostname=local,
                                      timeout=SMTP_TIMEOUT_SECONDS)
            try:
                if settings.security == "starttls":
                    client.starttls(context=context)
                if settings.username:
                    client.login(settings.username, settings.password or "")
            except BaseException:
                client.close()
                raise
        except (OSError, smtplib.SMTPException) as error:
            raise ServerUnavailable(f"{settings.describe()}: {_describe(error)}") from error
        return client

    def send(self, message: EmailMessage, recipient: str) -> None:
        if self._client is None:
            self._client = self._connect()
        try:
            self._client.send_message(message, self.mail_from, [recipient])
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _text in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise Refused(_describe(error)) from error
            raise DeliveryError(_describe(error)) from error
        except smtplib.SMTPSenderRefused as error:
            # The sender address is refused for every message: a configuration problem.
            raise ServerUnavailable(_describe(error)) from error
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500:
                raise Refused(_describe(error)) from error
            raise DeliveryError(_describe(error)) from error
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise ServerUnavailable(_describe(error)) from error

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        if self._client is None:
            return
        with contextlib.suppress(OSError, smtplib.SMTPException):
            self._client.quit()
        self._drop()


class DirectoryTransport:
    """Writes each message as an .eml file, for development and sites without mail."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage, recipient: str) -> None:
        # Named after the Message-ID's local part: time of writing, then the outbox id.
        name = message["Message-ID"].strip("<>").partition("@")[0]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Written under a temporary name and renamed, so nobody reads half a message.
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".part")
            with os.fdopen(handle, "wb") as file:
                file.write(bytes(message))
            os.replace(temporary, self.directory / f"{name}.eml")
        except OSError as error:
            raise ServerUnavailable(f"{self.directory}: {_describe(error)}") from error

    def close(self) -> None:
        pass


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(_reply(code, text) for code, text in error.recipients.values())
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def transport_for(config: dict[str, Any]) -> Transport:
    """SMTP when LABBOOK_SMTP_URL is set, else .eml files in LABBOOK_MAIL_DIR."""
    url = config.get("LABBOOK_SMTP_URL")
    if url:
        return SmtpTransport(SmtpSettings.from_url(url), config["LABBOOK_MAIL_FROM"],
                             ca_file=config.get("LABBOOK_SMTP_CA_FILE") or None)
    return DirectoryTransport(config["LABBOOK_MAIL_DIR"])


def describe_transport(config: dict[str, Any]) -> str:
    url = config.get("LABBOOK_SMTP_URL")
    if url:
        return SmtpSettings.from_url(url).describe()
    return f".eml files in {config['LABBOOK_MAIL_DIR']} (LABBOOK_SMTP_URL is not set)"


def _content_type(value: str) -> tuple[str, str, dict[str, str]]:
    header = Message()
    header["Content-Type"] = value
    params = {key: str(text) for key, text in header.get_params()[1:]}
    return header.get_content_maintype(), header.get_content_subtype(), params


def message_id_header(message: OutboxMessage, domain: str) -> str:
    """The message's Message-ID: made (from when it was written and its id) the first time it
    is asked for, at the first claim, and kept, so that every attempt sends the same one."""
    if message.message_id_header is None:
        message.message_id_header = \
            f"<{message.created_at:%Y%m%d-%H%M%S}-{message.id:08d}@{domain}>"
    return message.message_id_header


def build_email(message: OutboxMessage, *, mail_from: str, domain: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, then the attachments."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = mail_from
    email["To"] = message.recipient
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message_id_header(message, domain)
    email["Auto-Submitted"] = "auto-generated"
    email["X-Labbook-Kind"] = message.kind
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    for attachment in message.attachments:
        maintype, subtype, params = _content_type(attachment.content_type)
        email.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                             filename=attachment.filename, params=params)
    # After the content: setting the content drops every Content-* header set before.
    email["Content-Language"] = "en" if message.locale == "en" else "zh-CN"
    return email


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    #: Claims found lapsed: their messages queued to be sent again (or failed, if too old).
    interrupted: int = 0
    #: Why the run stopped early, when the mail server could not be used.
    unavailable: str = ""

    def __str__(self) -> str:
        text = (f"{self.sent} sent, {self.deferred} deferred, {self.failed} failed, "
                f"{self.interrupted} interrupted")
        return f"{text}; mail server unavailable: {self.unavailable}" if self.unavailable \
            else text


def backoff(attempts: int, ceiling: dt.timedelta = RETRY_MAX) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), ceiling)


def _requeue_lapsed(session: Session, now: dt.datetime) -> int:
    """Messages whose claim lapsed (see the module): queued to be sent again now, or failed when
    older than ``GIVE_UP_AFTER``. Returns how many there were."""
    lapsed = (OutboxMessage.state == OutboxState.SENDING,
              OutboxMessage.claimed_at < now - SENDING_TIMEOUT)
    with write_transaction(session):
        given_up = session.execute(
            update(OutboxMessage)
            .where(*lapsed, OutboxMessage.created_at <= now - GIVE_UP_AFTER)
            .values(state=OutboxState.FAILED, claim_token=None,
                    last_error="given up: interrupted while sending, too late to send again; "
                               "it may or may not have arrived")
            .returning(OutboxMessage.id),
            execution_options={"synchronize_session": False}).scalars().all()
        requeued = session.execute(
            update(OutboxMessage).where(*lapsed)
            .values(state=OutboxState.QUEUED, claim_token=None, next_attempt_at=now,
                    last_error="interrupted while sending; sent again, so it may arrive twice "
                               "(with the same Message-ID)")
            .returning(OutboxMessage.id),
            execution_options={"synchronize_session": False}).scalars().all()
    for message_id in given_up:
        log.warning("outbox message %d was interrupted while sending and is too old to send "
                    "again; marked failed", message_id)
    for message_id in requeued:
        log.warning("outbox message %d was interrupted while sending; queued to be sent again",
                    message_id)
    return len(given_up) + len(requeued)


@dataclass(frozen=True)
class Claim:
    message_id: int
    token: str
    recipient: str
    #: What the transport sends: the MIME email, or a channel's ``TextMessage``; None when the
    #: message could not be built (it is failed already).
    email: EmailMessage | TextMessage | None


def _claim(session: Session, now: dt.datetime, *, claimed_at: dt.datetime, mail_from: str,
           domain: str, channel: Channel = Channel.EMAIL) -> Claim | None:
    """Claim the next message of ``channel`` due at ``now``, with its MIME form (its Message-ID
    fixed with the claim) or its text; None when none is due."""
    token = secrets.token_hex(16)
    due = (select(OutboxMessage.id)
           .where(OutboxMessage.channel == channel, OutboxMessage.state == OutboxState.QUEUED,
                  OutboxMessage.next_attempt_at <= now)
           .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
           .limit(1).with_for_update(skip_locked=True).scalar_subquery())
    with write_transaction(session):
        message_id = session.execute(
            update(OutboxMessage).where(OutboxMessage.id == due)
            .values(state=OutboxState.SENDING, claimed_at=claimed_at, claim_token=token,
                    attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage.id),
            execution_options={"synchronize_session": False}).scalar()
        if message_id is None:
            return None
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.id == message_id)
            .options(selectinload(OutboxMessage.attachments))
            .execution_options(populate_existing=True)).one()
        try:
            email = build_email(message, mail_from=mail_from, domain=domain) \
                if channel == Channel.EMAIL else TextMessage(message.subject, message.body_text)
        except Exception as error:
            # Left queued, it would come first again at every run and hold up the others.
            log.exception("outbox message %d cannot be built", message.id)
            message.state = OutboxState.FAILED
            message.claim_token = None
            message.last_error = f"cannot be built: {error}"
            email = None
        return Claim(message.id, token, message.recipient, email)


def _settle(session: Session, message_id: int, token: str, **values: Any) -> None:
    """Record the outcome of a claimed message; only its claim's holder may."""
    with write_transaction(session):
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
            .values(claim_token=None, **values),
            execution_options={"synchronize_session": False})
    if result.rowcount == 0:
        log.warning("outbox message %d: the claim lapsed before this attempt ended, and the "
                    "message was queued again; it may arrive twice", message_id)


def _retry_or_give_up(session: Session, message_id: int, token: str, error: DeliveryError,
                      now: dt.datetime) -> bool:
    """Put the message back with backoff; False when it is too old to try again."""
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    assert message is not None
    if now - message.created_at >= GIVE_UP_AFTER:
        _settle(session, message_id, token, state=OutboxState.FAILED,
                last_error=f"given up after {message.attempts} attempts: {error}")
        return False
    ceiling = OUTAGE_RETRY_MAX if isinstance(error, ServerUnavailable) else RETRY_MAX
    _settle(session, message_id, token, state=OutboxState.QUEUED,
            next_attempt_at=now + backoff(message.attempts, ceiling), last_error=str(error))
    return True


def deliver(session: Session, transport: Transport, *, now: dt.datetime, mail_from: str = "",
            domain: str = "", should_stop: Callable[[], bool] = lambda: False,
            batch: int = BATCH, channel: Channel = Channel.EMAIL) -> DeliveryReport:
    """Send the messages of ``channel`` due at ``now``, one claim at a time, until none is due,
    the server is unavailable, ``should_stop()`` says so or ``batch`` were tried.

    Each claim is stamped with the moment it is taken (``now`` plus the time the run has taken
    so far), so that its lease runs from then however long the run.
    """
    started = time.monotonic()
    report = DeliveryReport(interrupted=_requeue_lapsed(session, now))
    try:
        for _n in range(batch):
            if should_stop():
                break
            claimed_at = now + dt.timedelta(seconds=time.monotonic() - started)
            claim = _claim(session, now, claimed_at=claimed_at, mail_from=mail_from,
                           domain=domain, channel=channel)
            if claim is None:
                break
            if claim.email is None:
                report.failed += 1
                continue
            message_id, token, recipient = claim.message_id, claim.token, claim.recipient
            try:
                transport.send(claim.email, recipient)
            except Refused as error:
                _settle(session, message_id, token, state=OutboxState.FAILED,
                        last_error=str(error))
                log.warning("outbox message %d to %s refused: %s", message_id, recipient, error)
                report.failed += 1
            except DeliveryError as error:
                if _retry_or_give_up(session, message_id, token, error, now):
                    report.deferred += 1
                else:
                    log.warning("outbox message %d to %s given up: %s", message_id, recipient,
                                error)
                    report.failed += 1
                if isinstance(error, ServerUnavailable):
                    report.unavailable = str(error)
                    break
            except Exception as error:
                # Whether it went out is unknown: failed rather than perhaps sent twice.
                _settle(session, message_id, token, state=OutboxState.FAILED,
                        last_error=f"{type(error).__name__}: {error}")
                log.exception("outbox message %d to %s failed", message_id, recipient)
                report.failed += 1
            else:
                _settle(session, message_id, token, state=OutboxState.SENT, sent_at=now,
                        last_error="")
                report.sent += 1
    finally:
        transport.close()
    return report
