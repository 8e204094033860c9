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

from sqlalchemy import Column, Select, bindparam, select
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from labbook.core.reads import fetch

Model = TypeVar("Model")


@cache
def columns_of(model: type) -> tuple[Column[Any], ...]:
    """Every column of ``model``'s table, in the order ``loaded`` takes their values."""
    return tuple(model.__table__.columns)  # type: ignore[attr-defined]


@cache
def _names(model: type) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The names of ``model``'s attributes: of its columns (in ``columns_of`` order), of its
    primary key, and of its relationships."""
    mapper = model.__mapper__  # type: ignore[attr-defined]
    return (tuple(mapper.get_property_by_column(column).key for column in columns_of(model)),
            tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key),
            tuple(relationship.key for relationship in mapper.relationships))


def loaded(session: Session, model: type[Model], values: Sequence[Any]) -> Model:
    """The persistent ``model`` object of the row whose ``columns_of(model)`` hold
    ``values``."""
    return persistent(session, model, dict(zip(_names(model)[0], values, strict=True)))


def persistent(session: Session, model: type[Model], values: dict[str, Any]) -> Model:
    """The persistent ``model`` object of the row whose attributes (its primary key among them)
    hold ``values``: the one the session already has for that row, brought up to date with them
    as the ORM's ``populate_existing`` does (its related objects read again when next asked
    for), or a new one as if the ORM had loaded it."""
    mapper = model.__mapper__  # type: ignore[attr-defined]
    column_names, key_names, relationship_names = _names(model)
    key = mapper.identity_key_from_primary_key(tuple(values[name] for name in key_names))
    existing = session.identity_map.get(key)
    if existing is not None:
        held = instance_state(existing).dict
        related = [name for name in relationship_names if name in held]
        if related:
            session.expire(existing, related)
        for name, value in values.items():
            set_committed_value(existing, name, value)
        return existing
    if len(values) < len(column_names):
        # A column left out would read as None, not be loaded: refused, not guessed.
        missing = sorted(set(column_names) - values.keys())
        raise ValueError(f"{model.__name__} needs a value for every column: {missing} missing")
    made = mapper.class_manager.new_instance()
    # Placed in the session as the ORM's loader places an object it makes of a row (its
    # ``loading._instance``): the values straight into the committed state, so no attribute
    # event fires and nothing waits to be flushed, and the object into the identity map, where
    # the public way (``make_transient_to_detached``, then ``add`` with its cascades over every
    # relationship) costs more than reading the row.
    state = instance_state(made)
    state.dict.update(values)
    state.key = key
    real_session = session() if isinstance(session, scoped_session) else session
    state.session_id = real_session.hash_key
    real_session.identity_map._add_unpresent(state, key)
    return made


@cache
def _locked_row_by_key(model: type) -> Select[Any]:
    mapper = model.__mapper__  # type: ignore[attr-defined]
    return select(*columns_of(model)).where(*(
        column == bindparam(f"key_{n}") for n, column in enumerate(mapper.primary_key))
    ).with_for_update()


def read_locked(session: Session, model: type[Model], key: Any) -> Model | None:
    """``model``'s row of primary key ``key`` (a value, or a tuple of them in the key's order)
    read as it is now under a row lock (on PostgreSQL ``FOR UPDATE``; SQLite's write
    transaction holds the whole database), made into its persistent object as ``persistent``
    makes it; None where there is no such row."""
    values = key if isinstance(key, tuple) else (key,)
    rows = fetch(session, _locked_row_by_key(model),
                 {f"key_{n}": value for n, value in enumerate(values)})
    return loaded(session, model, rows[0]) if rows else None
