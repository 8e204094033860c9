"""Recording audit events inside the caller's transaction, and finding them again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Insert,
    Select,
    Table,
    bindparam,
    exists,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from labbook.accounts.models import Organization, User
from labbook.audit import labels
from labbook.audit.models import AuditEvent
from labbook.billing.models import Statement
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import on_postgresql, wrote_nothing_after_all
from labbook.core.pagination import Page, paginate
from labbook.core.reads import FetchedRow, fetch, run
from labbook.core.time import to_lab_time

# One Core INSERT, built once: every state change records an event, and the unit of work would
# cost several times the statement itself. Events are never changed after they are written, so
# nothing needs them as objects in the session.
_INSERT_EVENT = AuditEvent.__table__.insert()


def record(session: Session, actor: User | None, obj: Any, action: str, *,
           at: dt.datetime, from_state: str | None = None, to_state: str | None = None,
           note: str = "", **details: Any) -> None:
    """Write an audit event in the caller's transaction (``obj`` must have its id already)."""
    run(session, _INSERT_EVENT, _event(actor, obj.__tablename__, obj.id, action, at=at,
                                       from_state=from_state, to_state=to_state, note=note,
                                       details=details))


#: The columns ``_event`` gives.
_EVENT_COLUMNS = ("actor_id", "object_type", "object_id", "action", "from_state", "to_state",
                  "note", "details", "at")


def _event(actor: User | None, object_type: str, object_id: int | None, action: str, *,
           at: dt.datetime, from_state: str | None, to_state: str | None, note: str,
           details: dict[str, Any]) -> dict[str, Any]:
    """The columns of an audit event."""
    return {"actor_id": actor.id if actor else None, "object_type": object_type,
            "object_id": object_id, "action": action, "from_state": from_state,
            "to_state": to_state, "note": note, "details": details, "at": at}


def insert_recorded(session: Session, table: Table, values: dict[str, Any],
                    actor: User | None, action: str, *, at: dt.datetime,
                    to_state: str | None = None, note: str = "", **details: Any) -> int:
    """Insert ``values`` as a new row of ``table`` and the audit event of its ``action`` (as
    ``record`` writes it), in the caller's transaction; the new row's id.

    On PostgreSQL both go in one statement (a data-modifying ``WITH``): a round trip to the
    server fewer on the hottest write there is, a new booking. SQLite has no such statement,
    and there a statement is no round trip: two."""
    # The table's name as a plain str: SQLAlchemy's own kind of str has the driver look for
    # an adapter first.
    if on_postgresql(session):
        [(row_id,)] = fetch(session, _insert_with_event(table, tuple(values)), {
            **values, **event_parameters(actor, str(table.name), None, action, at=at,
                                         to_state=to_state, note=note, **details)})
        return row_id
    [(row_id,)] = fetch(session, _insert_returning_id(table), values)
    run(session, _INSERT_EVENT, _event(actor, str(table.name), row_id, action, at=at,
                                       from_state=None, to_state=to_state, note=note,
                                       details=details))
    return row_id


#: The audit event's parameters in a statement that writes something else too, named apart
#: from the other row's.
_EVENT_PREFIX = "event_"


def event_parameters(actor: User | None, object_type: str, object_id: int | None,
                     action: str, *, at: dt.datetime, from_state: str | None = None,
                     to_state: str | None = None, note: str = "", **details: Any
                     ) -> dict[str, Any]:
    """The parameters of ``event_insert`` for the event ``record`` would write."""
    return {_EVENT_PREFIX + name: value for name, value in _event(
        actor, object_type, object_id, action, at=at, from_state=from_state, to_state=to_state,
        note=note, details=details).items()}


@cache
def event_insert() -> CTE:
    """The INSERT of an audit event from ``event_parameters``, as a ``WITH`` for a PostgreSQL
    statement that writes what it records in the same round trip (``add_cte``)."""
    events = AuditEvent.__table__
    return events.insert().values({
        name: bindparam(_EVENT_PREFIX + name, type_=events.c[name].type)
        for name in _EVENT_COLUMNS}).cte("audit_event")


@cache
def _insert_returning_id(table: Table) -> Insert:
    return table.insert().returning(table.c.id)


@cache
def _insert_with_event(table: Table, columns: tuple[str, ...]) -> Insert:
    """``WITH new_row AS (INSERT INTO <table> … RETURNING id) INSERT INTO audit_events …
    SELECT …, new_row.id FROM new_row RETURNING object_id``, built once per table and set of
    columns."""
    new_row = (table.insert()
               .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
               .returning(table.c.id).cte("new_row"))
    return event_of_rows(table, new_row).returning(AuditEvent.__table__.c.object_id)


def event_of_rows(table: Table, rows: CTE) -> Insert:
    """The INSERT of the audit event (``event_parameters``) of each row of ``table`` that
    ``rows`` returns (a ``WITH`` of the same statement that writes them, its ``id`` among
    what it returns)."""
    events = AuditEvent.__table__
    given = ("at", "actor_id", "action", "from_state", "to_state", "note", "details")
    chosen = select(*(bindparam(_EVENT_PREFIX + name, type_=events.c[name].type)
                      for name in given),
                    literal(str(table.name), events.c.object_type.type), rows.c.id)
    return events.insert().from_select([*given, "object_type", "object_id"], chosen)


@dataclass(frozen=True)
class GuardedInsert:
    """What ``insert_recorded_unless`` did: the new row's id, or the rows that stopped it."""

    #: The new row's id; None where nothing was written.
    row_id: int | None
    #: The rows the guard read (none where the row was inserted), their fields named after its
    #: columns (on PostgreSQL with one more after them, ``new_row_id``, NULL).
    blocking: list[FetchedRow]


def insert_recorded_unless(session: Session, guard: Select[Any] | CompoundSelect,
                           guard_parameters: dict[str, Any], table: Table,
                           values: dict[str, Any], actor: User | None, action: str, *,
                           at: dt.datetime, to_state: str | None = None, note: str = "",
                           **details: Any) -> GuardedInsert:
    """``insert_recorded``, unless ``guard`` (with ``guard_parameters``; a name it shares with
    ``values`` must stand for the same value) reads any row: then nothing is written, and its
    rows are returned.

    On PostgreSQL the guard, the insert and its audit event are one statement: a new booking
    checks the calendar and is written in one round trip to the server. The guard and the
    insert see the same snapshot of the database, so a row committed by another transaction
    meanwhile is not seen: what must never be written twice needs a constraint as well (the
    bookings' exclusion constraint). On SQLite, whose writers take turns, the guard is read
    and then the row inserted."""
    if not on_postgresql(session):
        blocking = fetch(session, guard, guard_parameters)
        if blocking:
            return GuardedInsert(None, blocking)
        return GuardedInsert(insert_recorded(session, table, values, actor, action, at=at,
                                             to_state=to_state, note=note, **details), [])
    rows = fetch(session, _insert_unless_with_event(guard, table, tuple(values)), {
        **guard_parameters, **values, **event_parameters(
            actor, str(table.name), None, action, at=at, to_state=to_state, note=note,
            **details)})
    inserted = [row.new_row_id for row in rows if row.new_row_id is not None]
    if inserted:
        return GuardedInsert(inserted[0], [])
    wrote_nothing_after_all(session.connection())
    return GuardedInsert(None, rows)


@cache
def _insert_unless_with_event(guard: Select[Any] | CompoundSelect, table: Table,
                              columns: tuple[str, ...]) -> CompoundSelect:
    """``WITH guard AS (<guard>), new_row AS (INSERT INTO <table> … SELECT … WHERE NOT EXISTS
    (SELECT * FROM guard) RETURNING id), audit_event AS (INSERT INTO audit_events …) SELECT
    guard.*, NULL FROM guard UNION ALL SELECT NULL, …, new_row.id FROM new_row``: the guard's
    rows, each with NULL after its own columns, or one row of NULLs ending in the new row's
    id. Built once per guard, table and set of columns."""
    found = guard.cte("guard")
    chosen = select(*(bindparam(name, type_=table.c[name].type) for name in columns)).where(
        ~exists().select_from(found))
    new_row = (table.insert().from_select(list(columns), chosen)
               .returning(table.c.id).cte("new_row"))
    return guard_rows_then(found, {"new_row_id": new_row.c.id}).add_cte(
        event_of_rows(table, new_row).cte("audit_event"))


def guard_rows_then(found: CTE, written: dict[str, ColumnElement[Any]]) -> CompoundSelect:
    """What a write guarded by the read ``found`` answers in its one statement: the guard's
    rows, each with NULL in the places of ``written`` (named by its keys), then the rows the
    write returned (``written``'s columns), with NULL in the guard's places."""
    return union_all(
        select(*found.c, *(null().label(name) for name in written)),
        select(*(null() for _column in found.c), *written.values()))


@dataclass(frozen=True)
class HistoryEntry:
    """An event with the acting user's name, as a page shows it (``labels``): the action and
    states by their labels, the moment in lab time, the details field by field."""

    event: AuditEvent
    actor_name: str | None
    #: Names of the objects the details refer to by id (``labels.REFERENCES``), where the page
    #: looked them up; the others show as ``#id``.
    names: labels.Names = field(default_factory=dict)

    @property
    def at(self) -> dt.datetime:
        """When, in lab time to the second."""
        return to_lab_time(self.event.at).replace(microsecond=0)

    @property
    def action_label(self) -> str:
        return labels.action_label(self.event.action)

    @property
    def from_label(self) -> str | None:
        return labels.state_label(self.event.object_type, self.event.from_state,
                                  self.event.action)

    @property
    def to_label(self) -> str | None:
        return labels.state_label(self.event.object_type, self.event.to_state,
                                  self.event.action)

    @property
    def change_rows(self) -> list[labels.DetailRow]:
        return labels.change_rows(self.event.object_type, self.event.details or {}, self.names)

    @property
    def detail_rows(self) -> list[labels.DetailRow]:
        return labels.detail_rows(self.event.object_type, self.event.details or {}, self.names)


def history(session: Session, obj: Any) -> list[HistoryEntry]:
    """The audit trail of ``obj``, oldest first, with the acting users' names."""
    rows = session.execute(
        select(AuditEvent, User.name).outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.object_type == obj.__tablename__, AuditEvent.object_id == obj.id)
        .order_by(AuditEvent.at, AuditEvent.id))
    return [HistoryEntry(event, name) for event, name in rows]


# -- the audit log viewer ---------------------------------------------------------------------


def can_view_audit_log(actor: User) -> bool:
    return actor.is_admin


@dataclass(frozen=True)
class AuditFilter:
    """Which events to list; ``since`` and ``until`` are UTC moments (from and before)."""

    person: str = ""
    object_type: str | None = None
    object_id: int | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def search_events(session: Session, criteria: AuditFilter, *, page: int = 1,
                  per_page: int = 50) -> Page[HistoryEntry]:
    """Events matching ``criteria``, newest first, with the acting users' names. ``person``
    matches part of the actor's name or email address."""
    query = select(AuditEvent, User.name).outerjoin(User, User.id == AuditEvent.actor_id)
    person = criteria.person.strip()
    if person:
        query = query.where(User.name.icontains(person, autoescape=True)
                            | User.email.icontains(person, autoescape=True))
    if criteria.object_type:
        query = query.where(AuditEvent.object_type == criteria.object_type)
    if criteria.object_id is not None:
        query = query.where(AuditEvent.object_id == criteria.object_id)
    if criteria.action:
        query = query.where(AuditEvent.action == criteria.action)
    if criteria.since is not None:
        query = query.where(AuditEvent.at >= criteria.since)
    if criteria.until is not None:
        query = query.where(AuditEvent.at < criteria.until)
    result = paginate(session, query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
                      page, per_page, scalars=False)
    names = referenced_names(session, [event for event, _name in result.items])
    result.items = [HistoryEntry(event, name, names) for event, name in result.items]
    return result


#: How the log names the objects its details refer to: the column that names one.
_NAMED_BY = {"organizations": Organization.name, "labs": Lab.code, "instruments": Instrument.code,
             "users": User.name, "statements": Statement.number}


def referenced_names(session: Session, events: list[AuditEvent]) -> labels.Names:
    """The names of the objects ``events`` refer to by id, one query per kind of object.
    Objects deleted since are left out."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        for name, value in (event.details or {}).items():
            object_type = labels.REFERENCES.get(name)
            if object_type in _NAMED_BY and isinstance(value, int):
                wanted.setdefault(object_type, set()).add(value)
    names: dict[tuple[str, int], str] = {}
    for object_type, ids in wanted.items():
        column = _NAMED_BY[object_type]
        id_column = column.class_.id
        for object_id, shown in session.execute(select(id_column, column)
                                                .where(id_column.in_(ids))):
            names[object_type, object_id] = shown
    return names


def recorded_values(session: Session, column: Any) -> list[str]:
    """The values ``column`` (object type, action) has in the log, for the filter's choices."""
    return list(session.scalars(select(column).distinct().order_by(column)))
