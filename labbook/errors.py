"""Error pages for the web UI and problem+json for the API."""

from __future__ import annotations

import logging
import math
import time

import psycopg
from flask import Flask, Response, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter import RateLimitExceeded
from flask_login import current_user
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError

from labbook.core.errors import DomainError
from labbook.extensions import db, limiter, login_manager
from labbook.http import problem_response
from labbook.logs import redact_path
from labbook.ratelimit import lab_clock

log = logging.getLogger(__name__)

#: What a client is told to wait before trying again while the database is out of reach: about
#: as long as a PostgreSQL restart takes.
RETRY_AFTER_SECONDS = 5


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be used just now — down, restarting, the
    connection cut, no connection free in the pool, or (SQLite) the file locked or unreadable —
    rather than that a statement or a value was wrong. Trying again later may well succeed."""
    if isinstance(error, DBAPIError):
        return error.connection_invalidated \
            or isinstance(error, (OperationalError, InterfaceError))
    return isinstance(error, (PoolTimeoutError, psycopg.OperationalError,
                              psycopg.InterfaceError))


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def _code_for(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_").replace("'", "")


def _own_headers(error: HTTPException) -> list[tuple[str, str]]:
    """What the exception says about itself, such as Allow on a 405 (not its content type)."""
    return [(name, value) for name, value in error.get_headers()
            if name.lower() != "content-type"]


def _end_failed_transaction() -> None:
    """Roll back what the failed request began, so that its error page can still read who is
    signed in; when the database cannot say, the page is shown as to somebody signed out."""
    try:
        db.session.rollback()
        current_user.is_authenticated  # noqa: B018  (loads the user now, where a failure is caught)
        get_locale()
    except SQLAlchemyError:
        g._login_user = login_manager.anonymous_user()


def _retry_after(error: RateLimitExceeded) -> int:
    breached = limiter.current_limit
    if breached is None:
        return int(error.limit.limit.get_expiry())
    return max(1, math.ceil(breached.window.reset_time - time.time()))


def register(app: Flask) -> None:
    @app.errorhandler(RateLimitExceeded)
    def handle_too_many_requests(error: RateLimitExceeded) \
            -> Response | tuple[str, int, dict[str, str]]:
        seconds = _retry_after(error)
        message = _("Too many requests from your address in a short time. Please try again "
                    "after %(time)s (lab time).", time=lab_clock(seconds))
        headers = {"Retry-After": str(seconds)}
        if _is_api_request():
            response = problem_response(429, _("Too many requests"), code="rate_limited",
                                        detail=message, retry_after=seconds)
            response.headers.update(headers)
            return response
        return render_template("errors/error.html", status=429, message=message), 429, headers

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> Response | tuple[str, int]:
        status = error.code or 500
        if _is_api_request():
            response = problem_response(status, error.name, code=_code_for(error),
                                        detail=error.description)
            response.headers.extend(_own_headers(error))
            return response
        return render_template("errors/error.html", status=status, error=error), status, \
            _own_headers(error)

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError) -> Response | tuple[str, int]:
        if _is_api_request():
            response = problem_response(error.status, error.message, code=error.code,
                                        problems=error.problems, **error.extra())
            if error.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="labbook"'
            return response
        return render_template("errors/error.html", status=error.status,
                               message=error.message), error.status

    @app.errorhandler(PoolTimeoutError)
    @app.errorhandler(DBAPIError)
    @app.errorhandler(psycopg.Error)
    def handle_database_error(error: Exception) -> Response | tuple[str, int, dict[str, str]]:
        if not database_unavailable(error):
            if isinstance(error, DataError | psycopg.DataError):
                return handle_unusable_value(error)
            return handle_unexpected(error)
        log.warning("database unavailable on %s %s: %s", request.method,
                    redact_path(request.path), type(error).__name__)
        _end_failed_transaction()
        message = _("The database cannot be reached just now, so nothing was changed. "
                    "Please try again in a moment.")
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if _is_api_request():
            response = problem_response(503, _("Service unavailable"),
                                        code="database_unavailable", detail=message)
            response.headers.update(retry)
            return response
        return render_template("errors/error.html", status=503, message=message), 503, retry

    @app.errorhandler(OverflowError)
    def handle_unusable_value(error: Exception) -> Response | tuple[str, int]:
        """The last line of defence for a value that no check refused before it reached the
        database or a date calculation (a number beyond 64 bits, a moment past the year 9999):
        still the client's input, so a 422. Logged with its trace, because a check is missing."""
        log.warning("value out of range on %s %s", request.method, redact_path(request.path),
                    exc_info=error)
        _end_failed_transaction()
        message = _("A value in the request is outside the range labbook can store.")
        if _is_api_request():
            return problem_response(422, message, code="invalid_value")
        return render_template("errors/error.html", status=422, message=message), 422

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, redact_path(request.path))
        _end_failed_transaction()
        if _is_api_request():
            return problem_response(500, "Internal Server Error", code="internal_error",
                                    detail=_("Something went wrong on our side. "
                                             "Nothing was changed; please try again."))
        return render_template("errors/error.html", status=500,
                               error=InternalServerError()), 500
