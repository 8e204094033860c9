"""Revenue-sharing agreements of owner units and the people who sign in for them.

The owner units themselves are catalogue data (``labbook.catalogue.models.Owner``): the
catalogue files say which instrument belongs to whom.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.core.db import Base, UTCDateTime
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import User
    from labbook.catalogue.models import Owner


class OwnerAgreement(Base):
    """The owner's share (in percent) of what its instruments earn, from ``effective_from`` (a
    lab date) until the owner's next agreement starts: of instrument time (usage, no-show and
    late-cancellation charges) and of testing services that used the instrument."""

    __tablename__ = "owner_agreements"
    __table_args__ = (
        UniqueConstraint("owner_id", "effective_from"),
        CheckConstraint("time_share_percent BETWEEN 0 AND 100", name="time_share_range"),
        CheckConstraint("testing_share_percent BETWEEN 0 AND 100", name="testing_share_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"),
                                          index=True)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    time_share_percent: Mapped[int] = mapped_column(Integer)
    testing_share_percent: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[Owner] = relationship()


class OwnerContact(Base):
    """A person who signs in for an owner unit and sees its instruments' use and revenue."""

    __tablename__ = "owner_contacts"
    __table_args__ = (UniqueConstraint("owner_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"),
                                          index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[Owner] = relationship()
    user: Mapped[User] = relationship()
