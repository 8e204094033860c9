"""The outbox job killed with SIGKILL in the middle of a delivery: the message is not lost, and
the copy sent again carries the Message-ID of the first attempt.

The job runs as ``flask labbook run-job outbox`` in a process of its own against a mail server
that takes the message and never answers, so the process is killed between handing the message
over and recording the outcome: the one moment at which nobody can know whether it arrived.
"""

from __future__ import annotations

import asyncio
import email
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.notify import sender
from labbook.notify.models import OutboxMessage, OutboxState
from tests.jobs.conftest import job_process_env
from tests.live import ROOT, free_port
from tests.notify.conftest import deliver, outbox


class SilentAfterData:
    """An SMTP handler that reads the whole message and then never replies to it."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, _server, _session, envelope) -> str:
        self.received.append(email.message_from_bytes(envelope.content, policy=default))
        self.arrived.set()
        await asyncio.sleep(3600)
        return "250 OK"


@pytest.fixture
def silent_server() -> Iterator[tuple[str, SilentAfterData]]:
    handler = SilentAfterData()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", handler
    controller.stop()


@pytest.mark.slow
def test_a_delivery_killed_midway_is_made_again_once_the_claim_lapses(
        app, database_url, smtp, silent_server, tmp_path):
    url, silent = silent_server
    db.session.add(OutboxMessage(kind="test", recipient="chen@example.cn", locale="en",
                                 subject="Killed midway", body_text="t", body_html="<p>t</p>",
                                 state=OutboxState.QUEUED, created_at=utcnow(),
                                 next_attempt_at=utcnow(), attempts=0, last_error=""))
    db.session.commit()
    job = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "labbook", "run-job", "outbox"],
        cwd=ROOT, env=job_process_env(database_url, url, str(tmp_path / "outbox")),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        arrived = silent.arrived.wait(60)
    finally:
        job.send_signal(signal.SIGKILL)
        output = job.communicate(timeout=30)[0]
    assert arrived, output
    assert job.returncode == -signal.SIGKILL
    [first_attempt] = silent.received

    [message] = outbox()
    assert message.state == OutboxState.SENDING and message.attempts == 1
    assert message.message_id_header == first_attempt["Message-ID"]

    # While the claim holds, the first attempt may still end well: no second sender takes it.
    report = deliver(app, utcnow())
    assert (report.sent, report.interrupted) == (0, 0)
    assert outbox()[0].state == OutboxState.SENDING and smtp.received == []

    report = deliver(app, utcnow() + sender.SENDING_TIMEOUT)
    assert (report.sent, report.interrupted) == (1, 1)
    [(recipient, again)] = smtp.received
    assert recipient == "chen@example.cn" and again["Subject"] == "Killed midway"
    assert again["Message-ID"] == first_attempt["Message-ID"]
    [message] = outbox()
    assert message.state == OutboxState.SENT and message.attempts == 2
