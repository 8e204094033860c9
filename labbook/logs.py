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
#: Fields a record may carry besides its message, in the order they are written.
FIELDS = ("request_id", "method", "path", "status", "duration_ms", "remote_addr")

request_log = logging.getLogger("labbook.request")


def redact_feed_links(text: str) -> str:
    return _FEED_LINK.sub("/ical/[redacted].ics", text)


def redact_path(path: str) -> str:
    """``path`` with every secret it may hold blanked, fit for a log line."""
    return _RESET_LINK.sub("/password/reset/[redacted]", redact_feed_links(path))


def _timestamp(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in FIELDS
            if getattr(record, name, None) is not None}


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
    if text and not any(c in text for c in ' "=\\') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = {"time": _timestamp(record), "level": record.levelname, "logger": record.name,
                 **_fields(record), "message": redact_feed_links(record.getMessage())}
        line = " ".join(f"{key}={_logfmt_value(value)}" for key, value in pairs.items())
        if record.exc_info:
            line += "\n" + redact_feed_links(self.formatException(record.exc_info))
        return line


class _RequestIdFilter(logging.Filter):
    """Stamps every record made while serving a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and getattr(record, "request_id", None) is None:
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


def _start_request() -> None:
    g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:  # an earlier before-request hook answered first
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    duration = (time.perf_counter() - g.request_started) * 1000
    request_log.info("request", extra={
        "request_id": g.request_id, "method": request.method,
        "path": redact_path(request.path), "status": response.status_code,
        "duration_ms": round(duration, 1), "remote_addr": request.remote_addr})
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
