"""Rate limits on Flask-Limiter: the API limit, and counters kept by hand (the 429 answer is
in ``labbook.errors``).

Most limits are decorators on the views they protect. Where the key is known only inside the
view or service (an iCal feed's token, the account of a failed sign-in, the address a reset email
goes to), the code counts with ``hit`` on the same storage, so that with Redis every worker
shares every count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import time

from flask import Flask, current_app, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse

from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import limiter

log = logging.getLogger(__name__)


def digest(value: str) -> str:
    """A key for ``value`` (an email address, a secret) that does not reveal it to the storage."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def api_client() -> str:
    """The API token (hashed) a request carries, else its address."""
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("bearer "):
        return "token:" + digest(authorization[7:].strip())
    return "address:" + get_remote_address()


def _identifiers(*key: str) -> list[str]:
    return [current_app.config["RATELIMIT_KEY_PREFIX"], *key]


def _seconds_until_free(item: RateLimitItem, identifiers: list[str]) -> int:
    reset_at = limiter.limiter.get_window_stats(item, *identifiers).reset_time
    return max(1, math.ceil(reset_at - time.time()))


def hit(limit: str, *key: str) -> int | None:
    """Count one event for ``key``: None while that stays within ``limit``, else the seconds
    until ``key`` may act again."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    item, identifiers = parse(limit), _identifiers(*key)
    try:
        if limiter.limiter.hit(item, *identifiers):
            return None
        return _seconds_until_free(item, identifiers)
    except Exception:  # the storage is down: counting nothing beats refusing everybody
        log.warning("rate-limit storage unavailable; %s not counted", key[0], exc_info=True)
        return None


def wait(limit: str, *key: str) -> int | None:
    """Seconds until ``key`` may act again under ``limit`` (None: it may now); counts nothing."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return None
    item, identifiers = parse(limit), _identifiers(*key)
    try:
        if limiter.limiter.test(item, *identifiers):
            return None
        return _seconds_until_free(item, identifiers)
    except Exception:
        log.warning("rate-limit storage unavailable; %s not checked", key[0], exc_info=True)
        return None


def forget(limit: str, *key: str) -> None:
    """Drop what was counted for ``key`` under ``limit``."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return
    try:
        limiter.limiter.clear(parse(limit), *_identifiers(*key))
    except Exception:
        log.warning("rate-limit storage unavailable; %s not cleared", key[0], exc_info=True)


def lab_clock(seconds: int, now: dt.datetime | None = None) -> str:
    """The lab-time clock reading ``seconds`` from now, for "try again after 10:42"."""
    moment = (now or utcnow()) + dt.timedelta(seconds=seconds)
    return to_lab_time(moment).strftime("%H:%M")


def init_app(app: Flask) -> None:
    limiter.init_app(app)
