"""Structured logs: a line per request with its request id, as JSON or key=value text.

LABBOOK_LOG_FORMAT picks ``json`` (one object per line, for a log collector) or ``text``
(logfmt-style ``key=value``, for people). Secrets in URLs — iCal feed links and password-reset
links — never reach a log line: the request line carries a redacted path, and every message
through labbook's handler or the development server's log has feed links blanked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy's id looks like (nginx's $request_id, a UUID); anything else could forge or
# garble log lines, so it is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_FEED_LINK = re.compile(r"/ical/[^/?#\s\"']+\.ics")
_RESET_LINK = re.compile(r"/password/reset/[^/?#\s\"']+")
#: What a logfmt value may not hold unquoted (besides characters that are not printable).
_QUOTED_IN_LOGFMT = re.compile(r'[ "=\\]')
#: Fields a record may carry besides its message, in the order they are written.
FIELDS = ("request_id", "method", "path", "status", "duration_ms", "remote_addr")

request_log = logging.getLogger("labbook.request")


def redact_feed_links(text: str) -> str:
    if "/ical/" not in text:  # the cheap test first: nearly every line has no feed link
        return text
    return _FEED_LINK.sub("/ical/[redacted].ics", text)


def redact_path(path: str) -> str:
    """``path`` with every secret it may hold blanked, fit for a log line."""
    path = redact_feed_links(path)
    if "/password/reset/" not in path:
        return path
    return _RESET_LINK.sub("/password/reset/[redacted]", path)


def _timestamp(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    given = record.__dict__  # where ``extra`` puts them
    return {name: given[name] for name in FIELDS if given.get(name) is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": _timestamp(record), "level": record.levelname,
                                 "logger": record.name,
                                 "message": redact_feed_links(record.getMessage())}
        entry.update(_fields(record))
        if record.exc_info:
            entry["exception"] = redact_feed_links(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text and text.isprintable() and _QUOTED_IN_LOGFMT.search(text) is None:
        return text
    return json.dumps(text, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = {"level": record.levelname, "logger": record.name, **_fields(record),
                 "message": redact_feed_links(record.getMessage())}
        # The time needs no quotes: an ISO timestamp has no space, quote, = or backslash.
        line = f"time={_timestamp(record)} " + " ".join(
            [f"{key}={_logfmt_value(value)}" for key, value in pairs.items()])
        if record.exc_info:
            line += "\n" + redact_feed_links(self.formatException(record.exc_info))
        return line


class _RequestIdFilter(logging.Filter):
    """Stamps every record made while serving a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None and has_request_context():
            record.request_id = g.get("request_id")
        return True


class _RedactingFilter(logging.Filter):
    """For loggers outside labbook that print request lines (the development server's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_path(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def request_id_for(incoming: str | None) -> str:
    """The proxy's request id when it is sane, else a new one."""
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


#: Where WSGI puts the REQUEST_ID_HEADER a request brings.
_REQUEST_ID_ENVIRON_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


def _start_request() -> None:
    # The objects behind flask's proxies, each looked up once.
    state, incoming = g._get_current_object(), request._get_current_object()
    state.request_id = request_id_for(incoming.environ.get(_REQUEST_ID_ENVIRON_KEY))
    state.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    state, incoming = g._get_current_object(), request._get_current_object()
    if "request_id" not in state:  # an earlier before-request hook answered first
        _start_request()
    response.headers[REQUEST_ID_HEADER] = state.request_id
    duration = (time.perf_counter() - state.request_started) * 1000
    if request_log.isEnabledFor(logging.INFO):
        # Made as ``request_log.info`` makes it, but without its search of the call stack for
        # the caller's line (always this function's, and written by no formatter of ours).
        request_log.handle(request_log.makeRecord(
            request_log.name, logging.INFO, __file__, 0, "request", (), None,
            func="_finish_request", extra={
                "request_id": state.request_id, "method": incoming.method,
                "path": redact_path(incoming.path), "status": response.status_code,
                "duration_ms": round(duration, 1), "remote_addr": incoming.remote_addr}))
    return response


def _handler(log_format: str) -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    handler.set_name("labbook")
    return handler


def init_app(app: Flask) -> None:
    """Call before other extensions add their hooks, so that the request id is set first."""
    logger = logging.getLogger("labbook")
    # Replaces Flask's own handler, and ours from an earlier app in the same process.
    for old in [h for h in logger.handlers if h is default_handler or h.get_name() == "labbook"]:
        logger.removeHandler(old)
    logger.addHandler(_handler(app.config["LABBOOK_LOG_FORMAT"]))
    logger.setLevel(logging.INFO)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, _RedactingFilter) for f in werkzeug.filters):
        werkzeug.addFilter(_RedactingFilter())
    app.before_request(_start_request)
    app.after_request(_finish_request)
