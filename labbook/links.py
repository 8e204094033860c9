"""The one rule for the address of links that leave the page: emails, calendar feeds and
``.ics`` files, QR codes, set-password and reset links, report verification URLs.

1. ``LABBOOK_BASE_URL`` when it is set. Production sets it: behind a reverse proxy the request
   labbook sees came to the proxy's upstream (``127.0.0.1:8000``, plain http), not to the
   address people open, and a link in an email must work for everyone, whoever's click sent it.
2. Otherwise, while a development server (``LABBOOK_ENV=development``, as ``make run`` and the
   checkout's ``.flaskenv`` set it) serves a request, the address that request came to:
   ``make run PORT=5001``, ``flask run --port 5001`` or the machine's address on the local
   network all give links that open where the page was opened.
3. Otherwise (a job, a command) the address ``make run`` and ``flask run`` serve:
   ``FLASK_RUN_HOST`` and ``FLASK_RUN_PORT`` (``make run HOST=… PORT=…`` passes them on to the
   server and the scheduler), by default ``http://127.0.0.1:5000``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from werkzeug.routing import Map, MapAdapter

#: Hosts a server listens on that no browser can open: links name this machine's loopback.
_EVERY_INTERFACE = {"0.0.0.0", "::", ""}  # noqa: S104  (read, never bound to)


def base_url() -> str:
    """Where links point, without a trailing slash (see the module's rules)."""
    configured = (current_app.config.get("LABBOOK_BASE_URL") or "").strip()
    if configured:
        return configured.rstrip("/")
    # A production server without the setting never trusts the Host header: a forged one would
    # send a reset link, with its secret, to another site.
    if has_request_context() and current_app.config.get("ENV_NAME") != "production":
        return request.host_url.rstrip("/")
    return served_url()


def served_url() -> str:
    """The address ``flask run`` serves, as ``make run`` passes it on."""
    host = os.environ.get("FLASK_RUN_HOST", "127.0.0.1")
    if host in _EVERY_INTERFACE:
        host = "127.0.0.1"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = os.environ.get("FLASK_RUN_PORT", "5000")
    return f"http://{host}:{port}"


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` under ``base_url()``."""
    return external_url_under(base_url(), endpoint, **values)


def external_url_under(base: str, endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` under ``base`` (what ``base_url()`` gave: an email
    asks once for all its links)."""
    if not values:
        return _address_of(current_app.url_map, base, endpoint)
    return _adapter(current_app.url_map, base).build(endpoint, values, force_external=True)


@lru_cache(maxsize=256)
def _address_of(url_map: Map, base: str, endpoint: str) -> str:
    """The address of an endpoint that takes no values, the same for every email and feed
    (the home page in every email's footer): built once per address. Addresses with values
    are not kept, as some carry a secret (an invitation's, a confirmation's)."""
    return _adapter(url_map, base).build(endpoint, {}, force_external=True)


@lru_cache(maxsize=16)
def _adapter(url_map: Map, base: str) -> MapAdapter:
    """The app's routes bound to the address ``base``: made once per address, since binding
    costs several times what building one URL does (an email builds two or three, a job's
    batch of emails hundreds). An adapter only reads the map, and ``base`` is all it holds."""
    parts = urlsplit(base)
    return url_map.bind(parts.netloc, script_name=parts.path or "/",
                        url_scheme=parts.scheme or "http")
