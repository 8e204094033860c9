"""The outbox's channels besides email: a lab's WeCom (企业微信) group robot and SMS.

**WeCom.** A group robot has a webhook address; a message is a POST of JSON
(``{"msgtype": "markdown", "markdown": {"content": …}}``) answered with
``{"errcode": 0, "errmsg": "ok"}``. A non-zero ``errcode`` says why not: some are worth another
try later (the robot's limit of 20 messages a minute, 45009; the system busy, -1), the others
mean the message or the address is wrong (an invalid webhook, 93000) and it fails at once.

**SMS** goes through a provider (``SmsProvider``): labbook has none that talks to a vendor; the
one it has writes each message to a file (``LABBOOK_SMS_PROVIDER=directory``), for development
and for a site that wants to see what would be sent. A vendor's provider is a class with the
same ``send`` method, named in ``SMS_PROVIDERS``. Without a provider SMS is off, and nobody is
offered it.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from labbook.notify.models import Channel
from labbook.notify.sender import DeliveryError, Refused, TextMessage, Transport

#: How long one webhook call may take.
WECOM_TIMEOUT_SECONDS = 10
#: WeCom's limit on a markdown message's content, in bytes of UTF-8.
WECOM_MAX_BYTES = 4096
#: Error codes after which the same message may well go through later.
WECOM_RETRY_CODES = frozenset({
    -1,      # system busy
    45009,   # the robot's rate limit (20 messages a minute)
    45033,   # too many concurrent calls
})


def wecom_payload(message: TextMessage) -> dict[str, Any]:
    """The webhook's JSON: a markdown message with the title in bold, cut to WeCom's limit."""
    content = f"**{message.title}**\n{message.text}".strip()
    encoded = content.encode()
    if len(encoded) > WECOM_MAX_BYTES:
        content = encoded[:WECOM_MAX_BYTES - 3].decode(errors="ignore") + "…"
    return {"msgtype": "markdown", "markdown": {"content": content}}


class WecomTransport:
    """Posts each message to the robot whose webhook address is its recipient."""

    def send(self, message: TextMessage, recipient: str) -> None:
        body = json.dumps(wecom_payload(message), ensure_ascii=False).encode()
        # The address was checked to be http(s) when it was set (``is_webhook_address``).
        request = urllib.request.Request(  # noqa: S310
            recipient, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=WECOM_TIMEOUT_SECONDS) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code == 429:
                raise DeliveryError(f"WeCom answered HTTP {error.code}") from error
            raise Refused(f"WeCom answered HTTP {error.code}") from error
        except (OSError, ValueError) as error:
            raise DeliveryError(f"WeCom robot unreachable: {type(error).__name__}: {error}") \
                from error
        if not isinstance(answer, dict):
            raise DeliveryError(f"WeCom answered {answer!r}")
        code = answer.get("errcode")
        if code == 0:
            return
        reason = f"WeCom errcode {code}: {answer.get('errmsg', '')}"
        if code in WECOM_RETRY_CODES:
            raise DeliveryError(reason)
        raise Refused(reason)

    def close(self) -> None:
        """Nothing to close: each message is one HTTP request of its own."""


def is_webhook_address(url: str) -> bool:
    """Whether ``url`` can be a robot's webhook: https, or http to this machine only."""
    parts = urlsplit(url)
    if not parts.hostname or len(url) > 254:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


class SmsProvider(Protocol):
    """Sends one text message to one mobile phone number; raises ``DeliveryError`` to try
    again later, ``Refused`` for a number or text that will never go."""

    def send(self, phone: str, text: str) -> None: ...


class DirectorySmsProvider:
    """Writes each text message to a file in a directory instead of sending it."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, phone: str, text: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".part")
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(f"To: {phone}\n\n{text}\n")
            os.replace(temporary, temporary.removesuffix(".part") + ".sms")
        except OSError as error:
            raise DeliveryError(f"{self.directory}: {error}") from error


#: The SMS providers ``LABBOOK_SMS_PROVIDER`` may name, each built from the settings.
SMS_PROVIDERS = {"directory": lambda config: DirectorySmsProvider(config["LABBOOK_SMS_DIR"])}


def sms_enabled(config: dict[str, Any]) -> bool:
    return bool(config.get("LABBOOK_SMS_PROVIDER"))


def email_delivered(config: dict[str, Any]) -> bool:
    """Whether queued email leaves labbook: by SMTP when ``LABBOOK_SMTP_URL`` is set; without
    it the sender only writes .eml files (``notify.sender.transport_for``)."""
    return bool(config.get("LABBOOK_SMTP_URL"))


class SmsTransport:
    """The outbox's SMS channel: each message's text to its recipient's phone number."""

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    def send(self, message: TextMessage, recipient: str) -> None:
        self.provider.send(recipient, message.text)

    def close(self) -> None:
        """Nothing to close: the provider keeps no connection between messages."""


def transports(config: dict[str, Any]) -> dict[Channel, Transport]:
    """The channels besides email this site delivers, each with its transport."""
    channels: dict[Channel, Transport] = {Channel.WECOM: WecomTransport()}
    name = config.get("LABBOOK_SMS_PROVIDER")
    if name:
        channels[Channel.SMS] = SmsTransport(SMS_PROVIDERS[name](config))
    return channels
