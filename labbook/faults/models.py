"""The instrument log: problems users report, breakdowns and maintenance, each with the time
the instrument was out of use."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.core.db import Base, UTCDateTime
from labbook.core.enums import string_enum
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import User
    from labbook.booking.models import Booking
    from labbook.catalogue.models import Instrument


class FaultKind(enum.StrEnum):
    PROBLEM = "problem"          # reported by a user, not yet judged by the lab
    BREAKDOWN = "breakdown"
    MAINTENANCE = "maintenance"


class FaultState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class InstrumentFault(Base):
    """One entry of an instrument's log. ``down_from``/``down_until`` bound the time the
    instrument was out of use because of it (downtime); an entry without ``down_from`` stopped
    nothing, and one still down has no ``down_until`` yet."""

    __tablename__ = "instrument_faults"
    __table_args__ = (
        CheckConstraint("down_until IS NULL OR down_from IS NOT NULL",
                        name="down_until_needs_down_from"),
        CheckConstraint("down_until IS NULL OR down_until > down_from",
                        name="down_until_after_down_from"),
        Index("ix_instrument_faults_instrument_down_from", "instrument_id", "down_from"),
        Index("ix_instrument_faults_state_reported_at", "state", "reported_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    kind: Mapped[FaultKind] = mapped_column(string_enum(FaultKind, "fault_kind"))
    state: Mapped[FaultState] = mapped_column(string_enum(FaultState, "fault_state"),
                                              default=FaultState.OPEN)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id",
                                                              ondelete="SET NULL"))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))
    reported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    description: Mapped[str] = mapped_column(Text)
    down_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    down_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cause: Mapped[str] = mapped_column(Text, default="")
    fix: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(String(2000), default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                ondelete="SET NULL"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    instrument: Mapped[Instrument] = relationship()
    booking: Mapped[Booking | None] = relationship()
    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])

    @property
    def is_open(self) -> bool:
        return self.state == FaultState.OPEN

    def __repr__(self) -> str:
        return f"<InstrumentFault {self.id} {self.kind} {self.state}>"
