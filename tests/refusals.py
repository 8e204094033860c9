"""A refusal as its reader gets it: the code a program reads, the message a person reads and
the problems a form marks field by field."""

from __future__ import annotations

from typing import Any

import pytest

from labbook.core.errors import DomainError


def refusal(error: pytest.ExceptionInfo[DomainError]) -> tuple[str, str, list[dict[str, Any]]]:
    value = error.value
    return value.code, value.message, [problem.as_dict() for problem in value.problems]


def problem(code: str, message: str, field: str) -> dict[str, Any]:
    """A problem as ``refusal`` gives it."""
    return {"code": code, "message": message, "field": field}
