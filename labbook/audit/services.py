"""Recording audit events inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent


def record(session: Session, actor: User | None, obj: Any, action: str, *,
           at: dt.datetime, from_state: str | None = None, to_state: str | None = None,
           note: str = "", **details: Any) -> None:
    """Add an audit event to the caller's transaction (``obj`` must have its id already)."""
    session.add(AuditEvent(actor_id=actor.id if actor else None, object_type=obj.__tablename__,
                           object_id=obj.id, action=action, from_state=from_state,
                           to_state=to_state, note=note, details=details, at=at))
