"""Helpers for storing Python enums as readable strings with a CHECK constraint."""

from __future__ import annotations

import enum

from sqlalchemy import Enum


def string_enum(enum_class: type[enum.Enum], name: str) -> Enum:
    """A VARCHAR column type holding the enum's values, guarded by a named CHECK constraint."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in enum_class),
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
