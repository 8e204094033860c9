"""Reading JSON request bodies with one clear 422 problem per bad field."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import request
from flask_babel import gettext as _

from labbook.core.errors import Problem, ValidationError
from labbook.core.ids import MAX_ID
from labbook.core.time import (
    ImplausibleDatetimeError,
    NaiveDatetimeError,
    is_plausible_date,
    parse_aware_datetime,
)
from labbook.web import invalid_body


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
