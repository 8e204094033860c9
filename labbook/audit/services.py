"""Recording audit events inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent

# One Core INSERT, built once: every state change records an event, and the unit of work would
# cost several times the statement itself. Events are never changed after they are written, so
# nothing needs them as objects in the session.
_INSERT_EVENT = AuditEvent.__table__.insert()


def record(session: Session, actor: User | None, obj: Any, action: str, *,
           at: dt.datetime, from_state: str | None = None, to_state: str | None = None,
           note: str = "", **details: Any) -> None:
    """Write an audit event in the caller's transaction (``obj`` must have its id already)."""
    session.execute(_INSERT_EVENT, {
        "actor_id": actor.id if actor else None, "object_type": obj.__tablename__,
        "object_id": obj.id, "action": action, "from_state": from_state,
        "to_state": to_state, "note": note, "details": details, "at": at})


@dataclass(frozen=True)
class HistoryEntry:
    event: AuditEvent
    actor_name: str | None


def history(session: Session, obj: Any) -> list[HistoryEntry]:
    """The audit trail of ``obj``, oldest first, with the acting users' names."""
    rows = session.execute(
        select(AuditEvent, User.name).outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.object_type == obj.__tablename__, AuditEvent.object_id == obj.id)
        .order_by(AuditEvent.at, AuditEvent.id))
    return [HistoryEntry(event, name) for event, name in rows]
