"""Ids as requests send them. Every id column is a 32-bit integer: a larger number names no row,
and would overflow the database driver (PostgreSQL refuses it, SQLite cannot bind past 64 bits)."""

from __future__ import annotations

from typing import Any

MAX_ID = 2**31 - 1


def database_id(value: Any) -> int:
    """``value`` as an id a row can have (1 to MAX_ID); ValueError for anything else.

    Made to be a form field's ``coerce`` (WTForms then says the choice is invalid) and the
    ``type`` of ``request.args.get`` (which then answers as if the parameter were absent).
    """
    number = value if isinstance(value, int) and not isinstance(value, bool) else int(value)
    if not 1 <= number <= MAX_ID:
        raise ValueError(f"{value!r} is not an id")
    return number
