"""JSON API under /api/v1: blueprint, problem responses and shared request parsing."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from labbook.core.errors import Problem, ValidationError
from labbook.core.ids import MAX_ID
from labbook.core.pagination import MAX_PAGE
from labbook.extensions import limiter
from labbook.ratelimit import api_client

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# One budget per client for the whole API rather than per endpoint; none unless configured.
limiter.shared_limit(lambda: current_app.config["LABBOOK_RATELIMIT_API"], scope="api",
                     key_func=api_client)(bp)
E = TypeVar("E", bound=enum.Enum)

PROBLEM_JSON = "application/problem+json"


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
        message = _("'%(name)s' must be a whole number from %(minimum)d to %(maximum)d.",
                    name=name, minimum=minimum, maximum=maximum)
        raise ValidationError(message, code="invalid_parameter",
                              problems=[Problem("invalid_parameter", message, field=name)])
    return value


def page_arg() -> int:
    """The ``page`` query parameter of a list: from 1 to MAX_PAGE (a page past the last one is
    empty), else a 422."""
    return int_arg("page", 1, maximum=MAX_PAGE)


def _invalid(name: str, message: str) -> ValidationError:
    return ValidationError(message, code="invalid_parameter",
                           problems=[Problem("invalid_parameter", message, field=name)])


def enum_arg(name: str, enum_class: type[E]) -> E | None:
    """A query parameter naming one member of ``enum_class``, or a 422 naming the parameter."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return enum_class(raw)
    except ValueError:
        raise _invalid(name, _("Unknown %(name)s %(value)s.", name=name, value=raw)) from None


def bool_arg(name: str) -> bool:
    """A query parameter that is ``true``/``1`` or ``false``/``0`` (absent: false), or a 422."""
    raw = (request.args.get(name) or "false").lower()
    if raw not in ("true", "1", "false", "0"):
        raise _invalid(name, _("'%(name)s' must be true or false.", name=name))
    return raw in ("true", "1")


def lab_arg(name: str = "lab"):
    """The lab a query parameter names by code (any case), or a 422 naming the parameter."""
    from labbook.catalogue.models import Lab
    from labbook.extensions import db

    raw = request.args.get(name)
    if not raw:
        return None
    lab = db.session.scalar(select(Lab).where(Lab.code == raw.upper()))
    if lab is None:
        raise _invalid(name, _("Unknown lab %(code)s.", code=raw))
    return lab


def page_of(statement: Select[Any], page: int, per_page: int) -> tuple[list[Any], int]:
    """One page of ``statement``'s rows and the number of rows in all."""
    from labbook.extensions import db

    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None)
                                                               .subquery()))
    items = list(db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    return items, total or 0


def pagination_args() -> tuple[int, int]:
    page = page_arg()
    per_page = int_arg("per_page", 50, maximum=current_app.config["API_MAX_PER_PAGE"])
    return page, per_page


from labbook.api import openapi  # noqa: E402,F401  (registers the document route)
from labbook.billing import api as billing_api  # noqa: E402,F401
from labbook.booking import api as booking_api  # noqa: E402,F401
from labbook.calendars import api as calendars_api  # noqa: E402,F401
from labbook.catalogue import api as catalogue_api  # noqa: E402,F401
from labbook.testing import api as testing_api  # noqa: E402,F401
