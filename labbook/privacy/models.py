"""Requests to delete one's personal information."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.core.db import Base, UTCDateTime
from labbook.core.enums import equals_literal, string_enum
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import User


class DeletionState(enum.StrEnum):
    PENDING = "pending"
    #: The person is anonymised and their account closed.
    COMPLETED = "completed"
    REJECTED = "rejected"


class DeletionRequest(Base):
    """A person asks for their personal information to be deleted; an admin handles it."""

    __tablename__ = "deletion_requests"
    __table_args__ = (
        # One request of a person waits at a time.
        Index("uq_deletion_requests_pending_user", "user_id", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    state: Mapped[DeletionState] = mapped_column(string_enum(DeletionState, "deletion_state"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id])


#: "The request waits for an admin", as the partial index of pending requests writes it.
DELETION_IS_PENDING = equals_literal(DeletionRequest.__table__.c.state, DeletionState.PENDING)
