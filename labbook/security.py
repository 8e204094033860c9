"""HTTP security headers on every response, pages a signed-in browser must not keep, and the
answer to a form without its CSRF token."""

from __future__ import annotations

from flask import Flask, Response, g, render_template, request, session
from flask_wtf.csrf import CSRFError

from labbook.http import problem_response
from labbook.i18n import gettext as _
from labbook.i18n import has_header

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


#: What every answer says unless its view said otherwise, in the order the headers are added.
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    # One look at the headers rather than one search per header (a header's name is
    # case-insensitive).
    present = {name.lower() for name, _value in headers}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    return response


def forbid_storing_signed_in_pages(response: Response) -> Response:
    """What a signed-in user sees is not kept by the browser or a proxy: after signing out, the
    back button or the next person at a shared computer must not find it in a cache.

    Static files are the same for everybody and stay cacheable. A response that declares
    itself ``private`` keeps its own rules (a calendar feed, revalidated by ETag).
    """
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static"):
        return response
    # Only a Cache-Control header can make an answer private: without one there is nothing to
    # read.
    if has_header(response.headers, "Cache-Control") and response.cache_control.private:
        return response
    # Flask-Login keeps the user it loaded in g; when the request never asked for it, the
    # session says whether someone is signed in. Loading it here could fail after the very
    # error (a database that is down) this response reports.
    user = g.get("_login_user")
    if user.is_authenticated if user is not None else "_user_id" in session:
        response.headers["Cache-Control"] = "no-store"
    return response


def secure_response(response: Response) -> Response:
    """The two hooks above as one (a hook costs Flask a few calls of its own)."""
    return add_security_headers(forbid_storing_signed_in_pages(response))


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
    app.after_request(secure_response)
    app.register_error_handler(CSRFError, csrf_refused)
