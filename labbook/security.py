"""HTTP security headers on every response, and the answer to a form without its CSRF token."""

from __future__ import annotations

from flask import Flask, Response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from labbook.api import problem_response

# No inline or foreign scripts; styles may be inline because FullCalendar writes its own
# <style> at run time. Nothing is ever loaded from another host (the labs' intranet may be
# offline), and no page may be framed.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",  # FullCalendar's arrow icons are an embedded font
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best_match(
        ["text/html", "application/json"]) == "application/json"


def csrf_refused(error: CSRFError) -> Response | tuple[str, int]:
    """Every state-changing form and AJAX call outside the bearer-token API carries a CSRF token
    (CSRFProtect checks each POST); one without is refused before anything happens."""
    if _wants_json():
        return problem_response(400, _("The page has expired; reload it and try again."),
                                code="csrf_failed", detail=error.description)
    message = _("This form has expired or did not come from labbook, so nothing was done. Go "
                "back, reload the page and try again. (%(reason)s)", reason=error.description)
    return render_template("errors/error.html", status=400, message=message), 400


def register(app: Flask) -> None:
    app.after_request(add_security_headers)
    app.register_error_handler(CSRFError, csrf_refused)
