"""The outbox: written with the change, delivered over real SMTP at least once (never by two
senders at once), retried with backoff through an outage, written as .eml files without a mail
server."""

from __future__ import annotations

import datetime as dt
import email
import shutil
import subprocess
import threading
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import func, select

from labbook.booking import services as booking_services
from labbook.booking.models import BookingState
from labbook.core.engine import write_transaction
from labbook.extensions import db
from labbook.notify import sender
from labbook.notify import services as notify
from labbook.notify.models import OutboxMessage, OutboxState
from labbook.notify.sender import SmtpSettings
from tests.factories import (
    create_booking,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
)
from tests.mailserver import MailServer, password_checker
from tests.notify.conftest import NOW, deliver, outbox

SECOND = dt.timedelta(seconds=1)


def queue(count: int = 1, *, to: str = "chen@example.cn", at: dt.datetime = NOW) -> list[int]:
    """``count`` plain messages written straight to the outbox."""
    messages = [OutboxMessage(kind="test", recipient=to, locale="en", subject=f"Test {n}",
                              body_text=f"Body {n}", body_html=f"<p>Body {n}</p>",
                              state=OutboxState.QUEUED, created_at=at, attempts=0,
                              next_attempt_at=at, last_error="") for n in range(count)]
    db.session.add_all(messages)
    db.session.commit()
    return [message.id for message in messages]


@pytest.fixture
def approved_booking():
    lab = create_lab(code="NEM", name_en="New-Energy Materials Lab")
    manager = create_manager(lab, name="Manager Wang")
    instrument = create_instrument(lab=lab, name_en="X-ray diffractometer", name_zh="X射线衍射仪",
                                   requires_approval=True)
    user = create_user(name="Chen", email="chen@example.cn", locale="en")
    booking = create_booking(instrument=instrument, user=user, state=BookingState.PENDING,
                             start_at=lab_time(dt.date(2031, 3, 10), 9),
                             end_at=lab_time(dt.date(2031, 3, 10), 11))
    with write_transaction(db.session):
        booking_services.approve_booking(db.session, manager, booking, now=NOW, note="Bring gloves")
    return booking


def test_an_event_is_delivered_over_smtp_with_text_html_and_the_ics(app, smtp,
                                                                    approved_booking):
    report = deliver(app)
    assert (report.sent, report.deferred, report.failed) == (1, 0, 0)
    [message] = smtp.messages_to("chen@example.cn")
    assert message["Subject"] == "Booking approved: X-ray diffractometer, 2031-03-10 09:00"
    assert message["From"] == app.config["LABBOOK_MAIL_FROM"]
    assert message["Content-Language"] == "en"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    assert "approved by Manager Wang" in text and "Bring gloves" in text
    assert "2031-03-10 09:00 – 11:00" in text
    assert f"/bookings/{approved_booking.id}" in text
    html = message.get_body(("html",)).get_content()
    assert "<strong>2031-03-10 09:00 – 11:00</strong>" in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"booking-{approved_booking.id}.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "PUBLISH"
    ics = attachment.get_content()
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert "STATUS:CONFIRMED" in ics and f"UID:booking-{approved_booking.id}@" in ics
    [row] = outbox()
    assert row.state == OutboxState.SENT and row.sent_at == NOW and row.attempts == 1
    # Delivered once: running again sends nothing.
    assert deliver(app, NOW + dt.timedelta(minutes=5)).sent == 0
    assert len(smtp.received) == 1


def test_user_names_are_escaped_in_the_html_part(app, smtp):
    lab = create_lab()
    create_manager(lab, email="boss@example.cn")
    instrument = create_instrument(lab=lab, requires_approval=True)
    user = create_user(name="<script>alert(1)</script>")
    booking = create_booking(instrument=instrument, user=user, state=BookingState.PENDING)
    with write_transaction(db.session):
        notify.bookings_requested(db.session, [booking], now=NOW)
    deliver(app)
    [message] = smtp.messages_to("boss@example.cn")
    assert "&lt;script&gt;" in message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" in message.get_body(("plain",)).get_content()


def test_nothing_is_queued_or_sent_for_a_change_that_rolled_back(app, smtp):
    lab = create_lab()
    manager = create_manager(lab)
    instrument = create_instrument(lab=lab, requires_approval=True)
    booking = create_booking(instrument=instrument, state=BookingState.PENDING)
    with pytest.raises(RuntimeError), write_transaction(db.session):
        booking_services.approve_booking(db.session, manager, booking, now=NOW)
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        raise RuntimeError("the request failed after the approval")
    assert outbox() == []
    assert deliver(app).sent == 0
    assert smtp.received == []


def test_an_outage_is_retried_with_backoff_and_delivered_once_the_server_is_back(app, smtp):
    [message_id] = queue()
    smtp.stop()
    first = deliver(app)
    assert (first.sent, first.deferred) == (0, 1)
    assert "Connection" in first.unavailable or "refused" in first.unavailable.lower()
    [row] = outbox()
    assert row.state == OutboxState.QUEUED and row.attempts == 1
    assert row.next_attempt_at == NOW + sender.RETRY_BASE
    assert row.last_error
    # Not due yet: nothing is tried, even once the server is back.
    smtp.start()
    assert deliver(app, NOW + 10 * SECOND).sent == 0
    assert smtp.received == []
    smtp.stop()
    # Due again, still down: the wait doubles.
    later = NOW + sender.RETRY_BASE
    assert deliver(app, later).deferred == 1
    [row] = outbox()
    assert row.attempts == 2 and row.next_attempt_at == later + 2 * sender.RETRY_BASE
    smtp.start()
    assert deliver(app, later + 2 * sender.RETRY_BASE).sent == 1
    [(to, message)] = smtp.received
    assert to == "chen@example.cn" and message["Subject"] == "Test 0"
    [row] = outbox()
    assert (row.id, row.state, row.attempts, row.last_error) == \
        (message_id, OutboxState.SENT, 3, "")


def test_the_backoff_doubles_up_to_a_ceiling():
    assert [sender.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [15, 30, 60, 120]
    assert sender.backoff(30) == sender.RETRY_MAX
    # While the server is down only one message per run is tried: its retries stay frequent.
    assert sender.backoff(3, sender.OUTAGE_RETRY_MAX) == sender.OUTAGE_RETRY_MAX


def test_a_message_undeliverable_for_too_long_fails(app, smtp):
    queue()
    smtp.stop()
    report = deliver(app, NOW + sender.GIVE_UP_AFTER)
    assert (report.deferred, report.failed) == (0, 1)
    [row] = outbox()
    assert row.state == OutboxState.FAILED and row.last_error.startswith("given up")


def test_a_permanent_refusal_fails_that_message_only(app, smtp):
    queue(to="nobody@example.cn")
    queue(to="chen@example.cn")
    smtp.refused.add("nobody@example.cn")
    report = deliver(app)
    assert (report.sent, report.failed) == (1, 1)
    failed, sent = outbox()
    assert failed.state == OutboxState.FAILED and failed.last_error.startswith("550")
    assert sent.state == OutboxState.SENT
    assert deliver(app, NOW + dt.timedelta(hours=1)).sent == 0


def test_a_message_that_cannot_be_built_fails_without_holding_up_the_others(app, smtp):
    queue(to="broken\n@example.cn")
    queue(to="chen@example.cn")
    report = deliver(app)
    assert (report.sent, report.failed) == (1, 1)
    broken, sent = outbox()
    assert broken.state == OutboxState.FAILED and broken.last_error.startswith("cannot be built")
    assert sent.state == OutboxState.SENT


def test_an_unexpected_error_while_sending_fails_that_message_only(app):
    class Flaky:
        def __init__(self):
            self.sent = []

        def send(self, message, recipient):
            if message["Subject"] == "Test 0":
                raise UnicodeError("surprise")
            self.sent.append(message["Subject"])

        def close(self):
            pass

    queue(2)
    transport = Flaky()
    report = sender.deliver(db.session, transport, now=NOW, mail_from="lb@example.cn",
                            domain="example.cn")
    assert (report.sent, report.failed, transport.sent) == (1, 1, ["Test 1"])
    assert outbox()[0].state == OutboxState.FAILED
    assert outbox()[0].last_error == "UnicodeError: surprise"


class SenderKilled(BaseException):
    """What a sender killed mid-send leaves: no outcome recorded, nothing cleaned up."""


class DyingTransport:
    """Hands the message over (as a mail server that took it but never answered), then the
    sender dies before it can record anything."""

    def __init__(self) -> None:
        self.handed_over: list[email.message.EmailMessage] = []

    def send(self, message, recipient):
        self.handed_over.append(message)
        raise SenderKilled

    def close(self):
        pass


def test_a_message_whose_sender_died_mid_send_is_sent_again_once_its_claim_lapses(app, smtp):
    [stuck, waiting] = queue(2)
    dying = DyingTransport()
    with pytest.raises(SenderKilled):
        sender.deliver(db.session, dying, now=NOW, mail_from="lb@example.cn", domain="example.cn")
    db.session.rollback()
    [first_attempt] = dying.handed_over
    assert outbox(id=stuck)[0].state == OutboxState.SENDING

    # Until the claim lapses it may still be on its way: nobody else takes it.
    report = deliver(app, NOW + sender.SENDING_TIMEOUT - SECOND)
    assert (report.sent, report.interrupted) == (1, 0)
    assert outbox(id=stuck)[0].state == OutboxState.SENDING
    assert [message["Subject"] for _to, message in smtp.received] == ["Test 1"]

    report = deliver(app, NOW + sender.SENDING_TIMEOUT + SECOND)
    assert (report.sent, report.interrupted) == (1, 1)
    [again] = smtp.messages_to("chen@example.cn")[1:]
    assert again["Subject"] == "Test 0"
    assert again["Message-ID"] == first_attempt["Message-ID"]
    message = outbox(id=stuck)[0]
    assert message.state == OutboxState.SENT and message.attempts == 2
    assert message.message_id_header == first_attempt["Message-ID"]
    assert outbox(id=waiting)[0].state == OutboxState.SENT
    assert deliver(app, NOW + 2 * sender.SENDING_TIMEOUT).sent == 0


def test_a_message_interrupted_too_late_to_send_again_fails(app, smtp):
    [stuck] = queue(at=NOW - sender.GIVE_UP_AFTER)
    with pytest.raises(SenderKilled):
        sender.deliver(db.session, DyingTransport(), now=NOW, mail_from="lb@example.cn",
                       domain="example.cn")
    db.session.rollback()
    report = deliver(app, NOW + sender.SENDING_TIMEOUT + SECOND)
    assert (report.sent, report.interrupted) == (0, 1)
    assert outbox(id=stuck)[0].state == OutboxState.FAILED
    assert "interrupted" in outbox(id=stuck)[0].last_error
    assert smtp.received == []


def test_a_sender_whose_claim_lapsed_cannot_record_an_outcome(app, smtp, caplog):
    """A sender that hung past its claim's lapse, while another sent the message again."""
    [message_id] = queue()
    later = NOW + sender.SENDING_TIMEOUT + SECOND
    reports: list[sender.DeliveryReport] = []

    def run_later_sender() -> None:
        with app.app_context():
            reports.append(deliver(app, later))

    class Hanging:
        def send(self, message, recipient):
            other = threading.Thread(target=run_later_sender)
            other.start()
            other.join()

        def close(self):
            pass

    sender.deliver(db.session, Hanging(), now=NOW, mail_from="lb@example.cn",
                   domain="example.cn")
    assert [report.sent for report in reports] == [1]
    assert len(smtp.received) == 1
    message = outbox(id=message_id)[0]
    assert message.state == OutboxState.SENT and message.sent_at == later
    assert "the claim lapsed before this attempt ended" in caplog.text


def test_without_smtp_mail_is_written_as_eml_files(app, mail_dir, approved_booking):
    assert deliver(app).sent == 1
    [path] = list(Path(mail_dir).iterdir())
    assert path.suffix == ".eml"
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    assert message["To"] == "chen@example.cn"
    assert message["Subject"].startswith("Booking approved")
    assert "Bring gloves" in message.get_body(("plain",)).get_content()
    assert [part.get_filename() for part in message.iter_attachments()] == \
        [f"booking-{approved_booking.id}.ics"]
    assert outbox()[0].state == OutboxState.SENT


def test_smtp_login(app, monkeypatch, mail_dir):
    server = MailServer(authenticator=password_checker("labbook", "p@ss:word"),
                        auth_require_tls=False).start()
    try:
        queue()
        monkeypatch.setitem(app.config, "LABBOOK_SMTP_URL",
                            f"smtp://labbook:wrong@127.0.0.1:{server.port}")
        report = deliver(app)
        assert report.deferred == 1 and "535" in report.unavailable
        monkeypatch.setitem(app.config, "LABBOOK_SMTP_URL",
                            f"smtp://labbook:p%40ss%3Aword@127.0.0.1:{server.port}")
        assert deliver(app, NOW + sender.RETRY_BASE).sent == 1
        assert len(server.received) == 1
    finally:
        server.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_smtp_with_starttls_and_login(app, monkeypatch, mail_dir, tmp_path):
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = MailServer(tls_context=context, require_starttls=True,
                        authenticator=password_checker("labbook", "secret")).start()
    try:
        queue()
        monkeypatch.setitem(app.config, "LABBOOK_SMTP_URL",
                            f"smtp+starttls://labbook:secret@127.0.0.1:{server.port}")
        monkeypatch.setitem(app.config, "LABBOOK_SMTP_CA_FILE", str(cert))
        assert deliver(app).sent == 1
        assert len(server.received) == 1
    finally:
        server.stop()


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.cn", ("mail.example.cn", 25, "plain", None, None)),
    ("smtp+starttls://u%40x:p%2Fw@mail.example.cn", ("mail.example.cn", 587, "starttls", "u@x",
                                                     "p/w")),
    ("smtps://u:p@mail.example.cn:2465", ("mail.example.cn", 2465, "tls", "u", "p")),
])
def test_smtp_urls(url, expected):
    settings = SmtpSettings.from_url(url)
    assert (settings.host, settings.port, settings.security, settings.username,
            settings.password) == expected
    assert "p/w" not in settings.describe() and ":p@" not in settings.describe()


@pytest.mark.parametrize("url", ["http://mail.example.cn", "smtp://", "mail.example.cn",
                                 "smtp://mail.example.cn:notaport"])
def test_bad_smtp_urls_are_refused_with_a_reason(url):
    with pytest.raises(ValueError, match="LABBOOK_SMTP_URL"):
        SmtpSettings.from_url(url)


def test_concurrent_senders_deliver_each_message_exactly_once(app, smtp):
    """Several outbox senders at once (as two schedulers, or a scheduler and ``run-job``)
    against one database: every message arrives, none twice."""
    ids = queue(40)
    barrier = threading.Barrier(3)
    reports: list[sender.DeliveryReport] = []

    def run_sender() -> None:
        with app.app_context():
            barrier.wait()
            reports.append(deliver(app))

    threads = [threading.Thread(target=run_sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    subjects = sorted(message["Subject"] for _to, message in smtp.received)
    assert subjects == sorted(f"Test {n}" for n in range(40))
    assert sum(report.sent for report in reports) == 40
    assert {row.id for row in outbox(state=OutboxState.SENT)} == set(ids)


def test_a_sender_passes_over_a_message_another_is_claiming(app, smtp):
    """PostgreSQL: the claim skips a row another sender has locked instead of waiting for it
    (SQLite's writers take turns for the whole claim instead)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's")
    busy, free = queue(2)
    reports: list[sender.DeliveryReport] = []

    def run_sender() -> None:
        with app.app_context():
            reports.append(deliver(app))

    with db.engine.connect() as other:
        other.execute(select(OutboxMessage.id).where(OutboxMessage.id == busy).with_for_update())
        thread = threading.Thread(target=run_sender)
        thread.start()
        thread.join(20)
        waited = thread.is_alive()
        other.rollback()
    thread.join(20)
    assert not waited, "the sender waited for the locked message"
    assert [report.sent for report in reports] == [1]
    assert [message["Subject"] for _to, message in smtp.received] == ["Test 1"]
    assert [row.state for row in outbox()] == [OutboxState.QUEUED, OutboxState.SENT]
    assert free == outbox(state=OutboxState.SENT)[0].id
