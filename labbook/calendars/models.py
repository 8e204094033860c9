"""Feed tokens: the secret part of an iCal subscription URL, stored only as a hash."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.core.db import Base, UTCDateTime
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import User


class FeedToken(Base):
    """One subscription URL of one user for one feed.

    ``scope`` is ``mine``, ``instrument:<id>``, ``lab:<CODE>`` or ``approvals``. The secret in the
    URL is never stored: ``token_hash`` is its SHA-256. Rotating a token revokes it and creates a
    new one with the same scope that points back at it through ``rotated_from_id``.
    """

    __tablename__ = "feed_tokens"
    __table_args__ = (
        CheckConstraint("scope IN ('mine', 'approvals') OR scope LIKE 'instrument:%' "
                        "OR scope LIKE 'lab:%'", name="known_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most once an hour, not on every poll.
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    rotated_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("feed_tokens.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship()
    rotated_from: Mapped[FeedToken | None] = relationship(remote_side=[id])

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def __repr__(self) -> str:
        return f"<FeedToken {self.id} {self.scope}>"
