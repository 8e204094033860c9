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
from collections.abc import Callable
from functools import partial

from flask import Blueprint, Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_qualified_name, get_remote_address
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


#: Blueprints with a limit shared by all their routes, and the setting that holds it.
_BLUEPRINT_LIMITS: dict[str, str] = {}


def limit_blueprint(blueprint: Blueprint, setting: str, key_func: Callable[[], str]) -> None:
    """One budget per client for all of ``blueprint``'s routes, taken from the setting
    ``setting`` (none while it is empty)."""
    _BLUEPRINT_LIMITS[blueprint.name] = setting
    limiter.shared_limit(lambda: current_app.config[setting], scope=blueprint.name,
                         key_func=key_func)(blueprint)


def _has_limit(app: Flask, endpoint: str | None, blueprint: str | None) -> bool:
    """Whether a request to ``endpoint`` has a limit to count: its view has one of its own, or
    its blueprint's shared limit is set."""
    if blueprint in _BLUEPRINT_LIMITS and app.config[_BLUEPRINT_LIMITS[blueprint]]:
        return True
    decorated = app.extensions.setdefault("labbook_decorated_limits", {})
    if endpoint not in decorated:
        view = app.view_functions.get(endpoint or "")
        marked = getattr(limiter, "_marked_for_limiting", None)
        decorated[endpoint] = view is not None and (
            marked is None or get_qualified_name(view) in marked)
    return decorated[endpoint]


def _limited(app: Flask) -> bool:
    """``_has_limit`` of the request, worked out once for its three hooks."""
    incoming = request._get_current_object()
    # Looked up in the request's own attributes: a missing one would cost an exception.
    limited = incoming.__dict__.get("labbook_limited")
    if limited is None:
        limited = incoming.labbook_limited = _has_limit(  # type: ignore[attr-defined]
            app, incoming.endpoint, incoming.blueprint)
    return limited


def init_app(app: Flask) -> None:
    """Bind the limiter; its hooks run only where a route has a limit (most have none, and the
    check before each request costs it a few per cent of its time). Elsewhere they would only
    make and drop the limiter's empty record of the request: nothing checked, nothing to say
    in headers, nothing to count when the answer is known."""
    limiter.init_app(app)
    check = limiter._check_request_limit  # the hooks Flask-Limiter added
    inject_headers = getattr(Limiter, "_Limiter__inject_headers", None)
    release = getattr(limiter, "_Limiter__release_context", None)

    def check_limited_routes() -> None:
        if _limited(app):
            check()

    def inject_headers_on_limited_routes(response: Response) -> Response:
        if _limited(app):
            return inject_headers(limiter, response)  # type: ignore[misc]
        return response

    def release_on_limited_routes(error: BaseException | None = None) -> None:
        if _limited(app):
            release(error)  # type: ignore[misc]

    before = app.before_request_funcs.setdefault(None, [])
    if check in before:  # not there while the limiter is switched off
        before[before.index(check)] = check_limited_routes
    after = app.after_request_funcs.setdefault(None, [])
    for index, hook in enumerate(after):
        if isinstance(hook, partial) and hook.func is inject_headers \
                and hook.args == (limiter,):
            after[index] = inject_headers_on_limited_routes
    teardown = app.teardown_request_funcs.setdefault(None, [])
    if release is not None and release in teardown:
        teardown[teardown.index(release)] = release_on_limited_routes
