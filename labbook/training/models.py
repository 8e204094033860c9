"""Training requests, sessions and the people enrolled in them."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.core.db import Base, UTCDateTime
from labbook.core.enums import equals_literal, string_enum
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import User
    from labbook.booking.models import Qualification
    from labbook.catalogue.models import Instrument

#: The most people one session takes.
MAX_CAPACITY = 200


class RequestState(enum.StrEnum):
    OPEN = "open"
    #: The requester is enrolled in a session.
    SCHEDULED = "scheduled"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class SessionState(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class EnrolmentState(enum.StrEnum):
    ENROLLED = "enrolled"
    ATTENDED = "attended"
    ABSENT = "absent"
    CANCELLED = "cancelled"


class ExamResult(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class TrainingRequest(Base):
    """A researcher asks the lab's managers for training on an instrument."""

    __tablename__ = "training_requests"
    __table_args__ = (
        # One open request per person and instrument: asking twice changes nothing.
        Index("uq_training_requests_open", "user_id", "instrument_id", unique=True,
              sqlite_where=sql_text("state = 'open'"),
              postgresql_where=sql_text("state = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"),
                                               index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[RequestState] = mapped_column(string_enum(RequestState,
                                                            "training_request_state"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    instrument: Mapped[Instrument] = relationship()


#: "The request waits for a session", as the partial index of open requests writes it.
REQUEST_IS_OPEN = equals_literal(TrainingRequest.__table__.c.state, RequestState.OPEN)


class TrainingSession(Base):
    """A training session on an instrument: when, who trains, how many places."""

    __tablename__ = "training_sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(f"capacity BETWEEN 1 AND {MAX_CAPACITY}", name="capacity_range"),
        # The database itself refuses a session over capacity, however enrolments interleave.
        CheckConstraint("enrolled BETWEEN 0 AND capacity", name="enrolled_within_capacity"),
        Index("ix_training_sessions_instrument_starts", "instrument_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    trainer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    capacity: Mapped[int] = mapped_column(Integer)
    # People enrolled now (cancelled enrolments not counted), moved in SQL under the row lock.
    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    # How long a qualification granted by this session's exam is valid; None: no expiry.
    valid_days: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[SessionState] = mapped_column(string_enum(SessionState,
                                                            "training_session_state"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    instrument: Mapped[Instrument] = relationship()
    trainer: Mapped[User] = relationship(foreign_keys=[trainer_id])
    enrolments: Mapped[list[TrainingEnrolment]] = relationship(
        back_populates="session", order_by="TrainingEnrolment.id")

    @property
    def places_left(self) -> int:
        return self.capacity - self.enrolled


class TrainingEnrolment(Base):
    """A person's place in a session, their attendance and exam result."""

    __tablename__ = "training_enrolments"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id",
                                                       ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    state: Mapped[EnrolmentState] = mapped_column(string_enum(EnrolmentState,
                                                              "training_enrolment_state"))
    exam_result: Mapped[ExamResult | None] = mapped_column(string_enum(ExamResult,
                                                                       "training_exam_result"))
    qualification_id: Mapped[int | None] = mapped_column(ForeignKey("qualifications.id",
                                                                    ondelete="SET NULL"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))
    recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[TrainingSession] = relationship(back_populates="enrolments")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    qualification: Mapped[Qualification | None] = relationship()
