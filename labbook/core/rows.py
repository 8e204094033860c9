"""ORM objects made from rows read in Core, as the ORM would load them.

The hottest requests read a row or two whose ORM objects later code needs (the instrument and
its lab of a booking, the user of an API token, a booking just inserted). Loading them through
an ORM query costs several times the query itself: the ORM builds its loaders afresh for every
mapped attribute on every execution. Read in Core and made into objects here, the same objects
cost a fraction of that, and behave as loaded ones: their values are the committed state,
nothing is left to flush, and what was not read loads lazily in the session as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Column
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

Model = TypeVar("Model")


@cache
def columns_of(model: type) -> tuple[Column[Any], ...]:
    """Every column of ``model``'s table, in the order ``loaded`` takes their values."""
    return tuple(model.__table__.columns)  # type: ignore[attr-defined]


@cache
def _attribute_names(model: type) -> tuple[str, ...]:
    mapper = model.__mapper__  # type: ignore[attr-defined]
    return tuple(mapper.get_property_by_column(column).key for column in columns_of(model))


def loaded(session: Session, model: type[Model], values: Sequence[Any]) -> Model:
    """The persistent ``model`` object of the row whose ``columns_of(model)`` hold
    ``values``."""
    return persistent(session, model, dict(zip(_attribute_names(model), values, strict=True)))


def persistent(session: Session, model: type[Model], values: dict[str, Any]) -> Model:
    """The persistent ``model`` object of the row whose attributes (its primary key ``id``
    among them) hold ``values``: the one the session already has for that row, brought up to
    date with them (as the ORM's ``populate_existing`` does), or a new one as if the ORM had
    loaded it."""
    mapper = model.__mapper__  # type: ignore[attr-defined]
    existing = session.identity_map.get(mapper.identity_key_from_primary_key((values["id"],)))
    if existing is not None:
        for name, value in values.items():
            set_committed_value(existing, name, value)
        return existing
    made = mapper.class_manager.new_instance()
    # Straight into the committed state: no attribute event fires, nothing waits to be flushed.
    instance_state(made).dict.update(values)
    make_transient_to_detached(made)
    session.add(made)
    return made
