"""The outbox: every email, written in the transaction of the change that causes it."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.core.db import Base, UTCDateTime
from labbook.core.enums import string_enum
from labbook.core.time import utcnow


class OutboxState(enum.StrEnum):
    QUEUED = "queued"
    #: Claimed by one sender; no other sender takes it until the claim lapses.
    SENDING = "sending"
    SENT = "sent"
    #: Given up: refused by the mail server, too old, or it could not be built.
    FAILED = "failed"


class OutboxMessage(Base):
    """One email to one recipient, fully rendered in the recipient's language."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The sender's claim query: the due messages of one state, oldest first.
        Index("ix_outbox_messages_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # Set for messages a job writes (reminders, digests): a job that runs again, or a second
    # scheduler, cannot write the same message twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[OutboxState] = mapped_column(string_enum(OutboxState, "outbox_state"),
                                               default=OutboxState.QUEUED)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    #: The Message-ID header, made at the first claim and sent with every attempt, so that a
    #: copy sent again after an interrupted attempt is recognised as the same message.
    message_id_header: Mapped[str | None] = mapped_column(String(250))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")

    attachments: Mapped[list[OutboxAttachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True,
        order_by="OutboxAttachment.id")

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.state}>"


class OutboxAttachment(Base):
    __tablename__ = "outbox_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    #: A full Content-Type value, parameters included (``text/calendar; method=PUBLISH``).
    content_type: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)

    message: Mapped[OutboxMessage] = relationship(back_populates="attachments")
