"""Template and form helpers shared by every page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import Flask, current_app, flash, redirect, request, session
from flask_babel import get_locale
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Response
from wtforms import DateField, Field, PasswordField
from wtforms.validators import ValidationError as FieldError

from labbook.core.errors import DomainError, Problem, ValidationError
from labbook.core.money import format_money
from labbook.core.time import is_plausible_date, to_lab_time
from labbook.i18n import duration, in_page_language, localized, page_language
from labbook.i18n import gettext as _
from labbook.i18n import lazy_gettext as _l

ViewT = TypeVar("ViewT", bound=Callable[..., Any])

#: The status of a page that shows a refused HTML form again, with its error summary. A form
#: the server could not accept is still a page that rendered fine: browsers log any 4xx
#: document as a console error ("Failed to load resource") and some extensions and proxies
#: replace its body, so server-rendered forms answer 200 and say what is wrong on the page.
#: The JSON API keeps 409/422 with the rule codes; GET pages with a bad query parameter (a
#: hand-edited URL) keep their 4xx as well.
FORM_REFUSED = 200


def format_lab_datetime(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    return to_lab_time(moment).strftime(fmt)


def lab_span(start: dt.datetime, end: dt.datetime, day: dt.date | None = None) -> Markup:
    """``start``–``end`` in lab time as pages show a span (``lab_when`` in
    booking/_macros.html): the start with its date, unless it is on ``day`` (the lab day a page
    shows, such as an instrument's phone page); the end with its hours only, unless it falls on
    a day other than the start's and ``day``. An end at midnight closes the day before it, as
    24:00 (``23:00–24:00``, a whole day ``00:00–24:00``)."""
    local_start, local_end = to_lab_time(start), to_lab_time(end)
    end_day = (local_end - dt.timedelta(microseconds=1)).date()
    if end_day not in (local_start.date(), day):
        end_text = local_end.strftime("%Y-%m-%d %H:%M")
    elif end_day != local_end.date():
        end_text = "24:00"
    else:
        end_text = local_end.strftime("%H:%M")
    return Markup('<time datetime="{}">{}</time>–<time datetime="{}">{}</time>').format(
        start.isoformat(), local_start.strftime(
            "%H:%M" if local_start.date() == day else "%Y-%m-%d %H:%M"),
        end.isoformat(), end_text)


def lab_today() -> str:
    """Today in lab time (Asia/Shanghai) as YYYY-MM-DD: the ``min`` of date pickers, which
    would otherwise follow the browser's own time zone."""
    return to_lab_time(dt.datetime.now(dt.UTC)).date().isoformat()


def url_with(**changes: Any) -> str:
    """The current URL with some query parameters replaced (``None`` removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    query = urlencode(args)
    return request.path + ("?" + query if query else "")


def safe_next(target: str | None, fallback: str) -> str:
    """Where a form's ``next`` leads: only a local path is followed, so a link cannot bounce
    users to another site; anything else goes to ``fallback``."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return fallback
    return target


def page_to_return_to(*candidates: str | None, fallback: str) -> str:
    """The first of ``candidates`` that is a local page a browser may open (a GET): never an
    address that only takes a form (which would answer 405), nor another site."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for candidate in candidates:
        target = safe_next(candidate, "")
        if not target:
            continue
        try:
            adapter.match(urlsplit(target).path, method="GET")
        except RequestRedirect:
            return target
        except HTTPException:
            continue
        return target
    return fallback


def referring_page() -> str | None:
    """The path and query of the page of this site the request came from, if it says."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def plausible_date(_form: FlaskForm, field: DateField) -> None:
    """A date field's check that the date is one a person means, and one that can still become
    a moment in lab time (a day near year 1 or 9999 overflows once an offset or a day is added)."""
    if field.data is not None and not is_plausible_date(field.data):
        raise FieldError(_l("Give a date between 2000 and 2099."))


def show_errors(form: FlaskForm, error: DomainError,
                fields: Mapping[str | None, Field] | None = None, *,
                otherwise: Field | None = None) -> None:
    """Put a service's refusal of a form next to the fields it is about, for the page shown
    again with ``FORM_REFUSED``: each problem goes to the field ``fields`` maps its field (or
    code) to — by default the form's field of that name — and what fits no field goes to
    ``otherwise``, or else to the top of the form. (A refused button: ``refuse``.)"""
    if fields is None:
        fields = form._fields
    placed = False
    for problem in error.problems or []:
        field = fields.get(problem.field) or fields.get(problem.code)
        if field is not None:
            field.errors = [*field.errors, problem.message]
            placed = True
    if placed:
        return
    if otherwise is not None:
        otherwise.errors = [*otherwise.errors, error.message]
    else:
        form.form_errors.append(error.message)


#: Where the session keeps a refused form between its POST and the page that shows it again.
KEPT_FORM = "kept_form"
#: How long a refused form stays kept for its page (a reload, a language switch, Back).
KEPT_FOR = dt.timedelta(minutes=30)
#: What is never kept: the CSRF token (the page makes a fresh one) and anything secret.
_NOT_KEPT = re.compile(r"csrf_token|.*(password|secret|token).*", re.IGNORECASE)
#: The most a kept form may take of the session cookie (browsers refuse cookies over 4 KB); a
#: larger one is shown again in the POST's answer, as before.
_KEPT_MAX_CHARS = 2000


def keep_refused(form: FlaskForm, page: str | None = None) -> Response | None:
    """Post/Redirect/Get for a refused form: keep what was typed (never the CSRF token or a
    password) and the refusals ``show_errors`` put at its fields, and send the browser to the
    page that shows the form (303), which shows them again with ``restore_kept``. Reloading
    that page, switching its language or coming Back to it sends nothing again.

    ``page`` defaults to the URL just posted to (a form that posts to its own page). None
    when the form is too large to keep: the caller then shows the page as the POST's answer.
    """
    errors = {name: given for name, field in form._fields.items()
              if field.errors and (given := _errors_to_keep(form, name))}
    kept = {"page": page or request.full_path.rstrip("?"), "form": type(form).__name__,
            "data": [(name, value) for name, value in request.form.items(multi=True)
                     if _keeps_value(form, name)],
            "errors": errors, "form_errors": list(form.form_errors),
            "language": page_language(), "at": dt.datetime.now(dt.UTC).isoformat()}
    if len(repr(kept)) > _KEPT_MAX_CHARS:
        return None
    session[KEPT_FORM] = kept
    return redirect(kept["page"], 303)


def _keeps_value(form: FlaskForm, name: str) -> bool:
    """Whether what was sent as ``name`` is kept: never the CSRF token, anything named a
    secret, nor what a password field holds, whatever its name (a confirmation too)."""
    return not _NOT_KEPT.fullmatch(name) \
        and not isinstance(_field_named(form, name), PasswordField)


def _field_named(form: FlaskForm, name: str) -> Field | None:
    """The field of ``form`` keyed ``name``, or sent as ``name``: a form made with a prefix
    sends its fields as ``<prefix>-<key>``."""
    return form._fields.get(name) or next((field for field in form if field.name == name), None)


def _errors_to_keep(form: FlaskForm, name: str) -> list[str]:
    """A field's refusals to show again: those its own checks would not make again, and all
    of a password field's, which nothing can check again without the password."""
    if _keeps_value(form, name):
        return _own_errors(form, name)
    if isinstance(form._fields[name], PasswordField):
        return [str(error) for error in form._fields[name].errors]
    return []


def _check_field(form: FlaskForm, name: str) -> list[str]:
    """The refusals of the field ``name``'s own checks (its validators and the form's
    ``validate_<name>``), now, in the current language."""
    field = form._fields[name]
    inline = getattr(type(form), f"validate_{name}", None)
    field.validate(form, [inline] if inline is not None else [])
    return [str(error) for error in field.errors]


def _own_errors(form: FlaskForm, name: str) -> list[str]:
    """A field's refusals that its own checks would not make again: those of the service
    (``show_errors``) and of the whole form's checks. The field's checks run again when the
    form is shown, in the language of that page."""
    field = form._fields[name]
    given = [str(error) for error in field.errors]
    checked = set(_check_field(form, name))
    field.errors = given
    return [error for error in given if error not in checked]


def restore_kept(form: FlaskForm) -> bool:
    """Fill ``form`` with what was typed into it on this page before it was refused
    (``keep_refused``), and show its refusals again: the field checks made anew in the page's
    language, the service's translated into it where they are texts of the catalogue
    (``i18n.in_page_language``). False when nothing is kept for it."""
    kept = session.get(KEPT_FORM)
    if not kept or kept.get("page") != request.full_path.rstrip("?") \
            or kept.get("form") != type(form).__name__:
        return False
    if dt.datetime.fromisoformat(kept["at"]) + KEPT_FOR < dt.datetime.now(dt.UTC):
        session.pop(KEPT_FORM, None)
        return False
    form.process(formdata=MultiDict(kept["data"]))
    said_in = kept.get("language", page_language())

    def given(messages: list[str]) -> list[str]:
        return [in_page_language(message, said_in) for message in messages]

    for name, field in form._fields.items():
        if _keeps_value(form, name):
            field.errors = [*_check_field(form, name), *given(kept["errors"].get(name, []))]
        elif isinstance(field, PasswordField):
            field.errors = given(kept["errors"].get(name, []))
    form.form_errors[:] = given(kept["form_errors"])
    return True


#: What a browser sends a form as; a page's own script checking a time sends JSON.
_FORM_MEDIA_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def forget_kept_form() -> None:
    """A form sent anew replaces what an earlier refusal kept; the language switch is no such
    form, and neither is the JSON a page's script sends (the calendar checks the kept time) nor
    a form it sends to a view that only answers it (``keeps_kept_form``)."""
    incoming = request._get_current_object()
    if incoming.method == "POST" and KEPT_FORM in session \
            and incoming.mimetype in _FORM_MEDIA_TYPES \
            and incoming.endpoint != "accounts.switch_language" \
            and not getattr(current_app.view_functions.get(incoming.endpoint or ""),
                            "keeps_kept_form", False):
        session.pop(KEPT_FORM)


def keeps_kept_form(view: ViewT) -> ViewT:
    """Mark a view that a page's script sends the page's form to while it is being filled in
    (the order page's running quote), and that changes nothing: what a refusal kept for the
    page stays kept for its reload and language switch."""
    view.keeps_kept_form = True  # type: ignore[attr-defined]
    return view


def refuse(error: DomainError, back: str) -> Response:
    """Go back to the page ``back`` saying at its top why a button's action was refused, every
    reason of it. (A refused form is shown again with its errors at its fields:
    ``show_errors``.)"""
    for message in error.messages:
        flash(message, "danger")
    return redirect(back)


#: Characters no text column stores: PostgreSQL refuses NUL, and a lone UTF-16 surrogate (which
#: only a JSON escape such as "\\ud800" can produce) has no UTF-8 encoding at all.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: How deeply a JSON body may nest: far beyond any body the API takes, and far below the depth at
#: which reading it would exhaust Python's stack.
MAX_JSON_DEPTH = 32


def _unstorable(name: str, text: str) -> ValidationError:
    name = name[:100]
    if "\x00" in text:
        code = "nul_character"
        message = _("'%(name)s' contains a NUL character (a zero byte), which text may not "
                    "contain. Remove it and try again.", name=name)
    else:
        code = "invalid_character"
        message = _("'%(name)s' contains a character that is not valid Unicode. "
                    "Remove it and try again.", name=name)
    return ValidationError(message, code=code, problems=[Problem(code, message, field=name)])


def _check_json(document: Any) -> None:
    """Every key and string of a JSON document, walked without recursion."""
    pending: list[tuple[str, Any, int]] = [("", document, 0)]
    while pending:
        name, value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise _json_too_deep()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                raise _unstorable(name or "body", value)
        elif isinstance(value, dict):
            for key, member in value.items():
                if UNSTORABLE.search(key):
                    raise _unstorable(name or "body", key)
                pending.append((name or key, member, depth + 1))
        elif isinstance(value, list):
            pending.extend((name, member, depth + 1) for member in value)


def invalid_body(message: str | None = None) -> ValidationError:
    """The 422 for a request body that is not a JSON object (or, with ``message``, not one
    labbook reads)."""
    message = message or _("Send a JSON object with Content-Type: application/json.")
    return ValidationError(message, code="invalid_body",
                           problems=[Problem("invalid_body", message)])


def _json_too_deep() -> ValidationError:
    return invalid_body(_("The JSON body is nested more than %(n)d levels deep.",
                          n=MAX_JSON_DEPTH))


def refuse_unreadable_input() -> None:
    """Refuse, before any view reads them, text no database can store — in every query
    parameter, form field, upload name and JSON string alike — and a JSON body that is not one
    object or nests too deeply, so that each is a clear 422 (problem+json for the API, an error
    page for the pages) and never a failure deep inside a query. A path that holds such a
    character names nothing, so it is a 404."""
    incoming = request._get_current_object()  # the request behind the proxy, looked up once
    for value in (incoming.view_args or {}).values():
        if isinstance(value, str) and UNSTORABLE.search(value):
            view = current_app.view_functions.get(incoming.endpoint or "")
            if not getattr(view, "answers_unknown_paths", False):
                raise NotFound()
            break
    # Read even when empty: reading the form (or the JSON body, below) is what refuses a body
    # beyond MAX_CONTENT_LENGTH. A request without a body (no length, or 0, and no chunks) has
    # no form, file or JSON, and a JSON body none either: Werkzeug parses forms only.
    environ = incoming.environ
    has_body = environ.get("CONTENT_LENGTH") not in (None, "", "0") \
        or "HTTP_TRANSFER_ENCODING" in environ
    is_json = has_body and incoming.is_json
    form, files = (incoming.form, incoming.files) if has_body and not is_json else (None, None)
    # No query string, no query parameters: the parse is left to a view that wants them.
    for name, value in [*(incoming.args.items(multi=True) if incoming.query_string else ()),
                        *(form.items(multi=True) if form else ()),
                        *((name, upload.filename or "")
                          for name, upload in (files.items(multi=True) if files else ()))]:
        # A multipart part whose header Werkzeug cannot read comes with no name at all.
        name, value = name or "", value or ""
        if UNSTORABLE.search(name) or UNSTORABLE.search(value):
            raise _unstorable(UNSTORABLE.sub("", name), name + value)
    if is_json and (body := incoming.get_data(cache=True)):
        try:
            document = incoming.get_json(silent=True)
        except RecursionError:
            raise _json_too_deep() from None
        if not isinstance(document, dict):
            raise invalid_body()
        if _may_be_unreadable(body):
            _check_json(document)


def _may_be_unreadable(body: bytes) -> bool:
    """Whether the JSON ``body`` may hold a character no column stores, or nest too deeply,
    judged from its bytes: only a \\u escape, a NUL byte or a UTF-8 surrogate (which Python's
    json reads, bytes ED A0–ED BF) can make such a character, and a body written in UTF-16 or
    UTF-32 has NUL bytes; nothing nests deeper than it has brackets."""
    return (b"\\u" in body or b"\x00" in body or b"\xed" in body
            or body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH)


def answers_unknown_paths(view: ViewT) -> ViewT:
    """Mark a view that checks the form of its own path and answers a malformed one itself (a
    feed link answers every unknown secret alike), so that a NUL there is its to refuse."""
    view.answers_unknown_paths = True  # type: ignore[attr-defined]
    return view


def register(app: Flask) -> None:
    app.before_request(refuse_unreadable_input)
    app.before_request(forget_kept_form)
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["labtime"] = format_lab_datetime
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.globals["localized"] = localized
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.globals["lab_today"] = lab_today
    app.jinja_env.globals["lab_span"] = lab_span
    app.jinja_env.globals["referring_page"] = referring_page

    @app.context_processor
    def inject_locale() -> dict[str, Any]:
        locale = get_locale()
        return {"current_locale": str(locale) if locale else "zh_CN",
                "html_lang": "en" if locale and locale.language == "en" else "zh-CN"}
