"""Error pages for the web UI and problem+json for the API."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, InternalServerError

from labbook.api import problem_response
from labbook.core.errors import DomainError
from labbook.logs import redact_path

log = logging.getLogger(__name__)


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def _code_for(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_").replace("'", "")


def _own_headers(error: HTTPException) -> list[tuple[str, str]]:
    """What the exception says about itself, such as Allow on a 405 (not its content type)."""
    return [(name, value) for name, value in error.get_headers()
            if name.lower() != "content-type"]


def register(app: Flask) -> None:
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

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response | tuple[str, int]:
        log.exception("unhandled error on %s %s", request.method, redact_path(request.path))
        if _is_api_request():
            return problem_response(500, "Internal Server Error", code="internal_error",
                                    detail=_("Something went wrong on our side. "
                                             "Nothing was changed; please try again."))
        return render_template("errors/error.html", status=500,
                               error=InternalServerError()), 500
