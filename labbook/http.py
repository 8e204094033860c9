"""What the pages and the API share in reading a request and refusing it: problem+json answers,
query parameters and JSON bodies, each bad value a clear 422 that names it.

This module sits below the areas: it knows Flask's request but no area's models or services, so
any page or API route may use it.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, TypeVar

from flask import Response, current_app, jsonify, request
from sqlalchemy import Select

from labbook.core.errors import Problem, ValidationError
from labbook.core.ids import MAX_ID
from labbook.core.pagination import MAX_PAGE, paginate
from labbook.core.time import (
    EARLIEST_DATE,
    LATEST_DATE,
    ImplausibleDatetimeError,
    NaiveDatetimeError,
    is_plausible_date,
    parse_aware_datetime,
)
from labbook.extensions import db
from labbook.i18n import gettext as _
from labbook.web import invalid_body

E = TypeVar("E", bound=enum.Enum)

PROBLEM_JSON = "application/problem+json"
#: Room for the multipart envelope and the other fields around an uploaded file itself.
UPLOAD_OVERHEAD = 1024 * 1024


def problem_response(status: int, title: str, *, code: str, detail: str | None = None,
                     problems: list[Problem] | None = None, **extra: Any) -> Response:
    """An RFC 9457 problem document with our stable ``code`` and, where useful, ``problems``."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    if problems:
        body["problems"] = [p.as_dict() for p in problems]
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


# -- query parameters ---------------------------------------------------------------------------

def invalid_parameter(name: str, message: str) -> ValidationError:
    """The 422 for the query parameter ``name``."""
    return ValidationError(message, code="invalid_parameter",
                           problems=[Problem("invalid_parameter", message, field=name)])


def int_arg(name: str, default: int, *, minimum: int = 1, maximum: int = MAX_ID) -> int:
    """A whole-number query parameter within bounds, or a 422 naming the parameter.

    Without a ``maximum`` the bound is the largest id, so that no number a request sends can
    overflow the database.
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise invalid_parameter(name, _(
            "'%(name)s' must be a whole number from %(minimum)d to %(maximum)d.",
            name=name, minimum=minimum, maximum=maximum))
    return value


def page_arg() -> int:
    """The ``page`` query parameter of a list: from 1 to MAX_PAGE (a page past the last one is
    empty), else a 422."""
    return int_arg("page", 1, maximum=MAX_PAGE)


def pagination_args() -> tuple[int, int]:
    """The ``page`` and ``per_page`` query parameters of an API list."""
    page = page_arg()
    per_page = int_arg("per_page", 50, maximum=current_app.config["API_MAX_PER_PAGE"])
    return page, per_page


def read_day(text: str | None) -> dt.date | None:
    """The date ``text`` names (YYYY-MM-DD) as the day of a page that shows one day, or None.

    The day must lie strictly inside the plausible dates (``is_plausible_date``), so that the
    page's links to the day before and after lead to days it accepts too.
    """
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return day if EARLIEST_DATE < day < LATEST_DATE else None


def day_arg(name: str, default: dt.date) -> dt.date:
    """The day a page that shows one day is asked for in the query parameter ``name``
    (``read_day``); ``default`` when it is absent or blank, else a 422 naming the parameter."""
    raw = request.args.get(name, "")
    if not raw.strip():
        return default
    day = read_day(raw)
    if day is None:
        message = _("'%(name)s' must be a date like 2026-12-31.", name=name)
        raise ValidationError(message, code="invalid_date",
                              problems=[Problem("invalid_date", message, field=name)])
    return day


def enum_arg(name: str, enum_class: type[E]) -> E | None:
    """A query parameter naming one member of ``enum_class``, or a 422 naming the parameter."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return enum_class(raw)
    except ValueError:
        raise invalid_parameter(name, _("Unknown %(name)s %(value)s.", name=name,
                                        value=raw)) from None


def bool_arg(name: str) -> bool:
    """A query parameter that is ``true``/``1`` or ``false``/``0`` (absent: false), or a 422."""
    raw = (request.args.get(name) or "false").lower()
    if raw not in ("true", "1", "false", "0"):
        raise invalid_parameter(name, _("'%(name)s' must be true or false.", name=name))
    return raw in ("true", "1")


def page_of(statement: Select[Any], page: int, per_page: int) -> tuple[list[Any], int]:
    """One page of ``statement``'s rows and the number of rows in all."""
    found = paginate(db.session, statement, page, per_page)
    return found.items, found.total


# -- JSON bodies --------------------------------------------------------------------------------

def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise invalid_body()
    return data


def optional_json_body() -> dict[str, Any]:
    """The JSON object of a request whose body may be left out (then an empty object)."""
    return json_body() if request.content_length else {}


class Fields:
    """Collects every problem with a request body before refusing it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[Problem] = []

    def _fail(self, code: str, name: str, message: str) -> None:
        self.problems.append(Problem(code, message, field=name))

    def integer(self, name: str, *, required: bool = True, minimum: int = 1) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self._fail("required", name, _("'%(name)s' is required.", name=name))
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
                or value > MAX_ID:
            self._fail("invalid", name, _("'%(name)s' must be a whole number.", name=name))
            return None
        return value

    def string(self, name: str, *, required: bool = True, max_length: int = 500) -> str | None:
        value = self.data.get(name)
        if value is None or (required and isinstance(value, str) and not value.strip()):
            if required:
                self._fail("required", name, _("'%(name)s' is required.", name=name))
            return None
        if not isinstance(value, str):
            self._fail("invalid", name, _("'%(name)s' must be text.", name=name))
            return None
        if len(value) > max_length:
            self._fail("too_long_text", name, _("'%(name)s' has more than %(n)d characters.",
                                                name=name, n=max_length))
            return None
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            self._fail("invalid", name, _("'%(name)s' must be true or false.", name=name))
            return default
        return value

    def datetime(self, name: str, *, required: bool = True) -> dt.datetime | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self._fail("required", name, _("'%(name)s' is required.", name=name))
            return None
        if not isinstance(value, str) or len(value) > 64:
            self._fail("invalid_datetime", name, _(
                "'%(name)s' must be an ISO 8601 time with offset, e.g. 2026-12-01T09:00:00+08:00.",
                name=name))
            return None
        try:
            moment = parse_aware_datetime(value)
        except NaiveDatetimeError:
            self._fail("naive_datetime", name, _(
                "'%(name)s' has no UTC offset; add one, e.g. +08:00.", name=name))
            return None
        except ImplausibleDatetimeError:
            self._fail("invalid_datetime", name, _("'%(name)s' is not a plausible time.",
                                                   name=name))
            return None
        except ValueError:
            self._fail("invalid_datetime", name, _(
                "'%(name)s' must be an ISO 8601 time with offset, e.g. 2026-12-01T09:00:00+08:00.",
                name=name))
            return None
        return moment

    def date(self, name: str) -> dt.date | None:
        value = self.data.get(name)
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise ValueError
            day = dt.date.fromisoformat(value)
        except ValueError:
            self._fail("invalid_date", name, _("'%(name)s' must be a date like 2026-12-31.",
                                               name=name))
            return None
        if not is_plausible_date(day):
            self._fail("invalid_date", name, _("'%(name)s' must be a date from 2000 to 2099.",
                                               name=name))
            return None
        return day

    def done(self) -> None:
        """Raise a 422 naming every problem found, if there was any."""
        if self.problems:
            raise ValidationError(self.problems[0].message, code=self.problems[0].code,
                                  problems=self.problems)
