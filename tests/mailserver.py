"""A real SMTP server on a loopback port (aiosmtpd), for the outbox and scheduler tests."""

from __future__ import annotations

import email
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.live import free_port


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(self, _server, _session, envelope, address, _options) -> str:
        if address in self.server.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server, _session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        with self.server.lock:
            self.server.received.extend((address, message) for address in envelope.rcpt_tos)
        return "250 OK"


class MailServer:
    """Collects every message it accepts in ``received`` as (recipient, message) pairs.

    ``stop()`` and ``start()`` again on the same port simulate an outage; ``refused`` holds
    addresses answered with a permanent 550.
    """

    def __init__(self, *, port: int | None = None, **options: Any) -> None:
        self.port = port or free_port()
        self.options = options
        self.received: list[tuple[str, EmailMessage]] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> MailServer:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                      **self.options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for to, message in self.received if to == address]

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[str, EmailMessage]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            raise AssertionError(f"{len(self.received)} messages arrived, {count} expected")


def password_checker(username: str, password: str) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator that accepts exactly one login."""

    def check(_server, _session, _envelope, _mechanism, auth_data) -> AuthResult:
        ok = auth_data.login == username.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    return check
