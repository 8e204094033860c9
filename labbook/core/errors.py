"""Domain errors raised by services; views and the API translate them to HTTP."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class Problem:
    """One thing wrong with a request, with a stable machine-readable code."""

    code: str
    message: str
    field: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        data.update(self.extra)
        return data


class DomainError(Exception):
    """Base for errors a service raises on purpose. ``status`` is the HTTP equivalent."""

    status = 400
    code = "error"

    def __init__(self, message: str, *, code: str | None = None,
                 problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.problems = problems or []

    @property
    def messages(self) -> list[str]:
        """What to tell a person: each problem's message once, in order, or the error's own
        where it names no problems."""
        return list(dict.fromkeys(problem.message for problem in self.problems)) \
            or [self.message]

    def extra(self) -> dict[str, Any]:
        """Further members of the problem document, for errors that carry more."""
        return {}


class ValidationError(DomainError):
    status = 422
    code = "invalid"


class NotAuthenticated(DomainError):
    status = 401
    code = "unauthorized"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
