"""The outbox: every message — email, a lab's WeCom group robot, SMS — written in the
transaction of the change that causes it; and where people want to read them."""

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


class Channel(enum.StrEnum):
    """How a message travels. Email always; the others as well, where wanted."""

    EMAIL = "email"
    #: A lab's WeCom (企业微信) group robot: the managers' queues.
    WECOM = "wecom"
    SMS = "sms"


class Topic(enum.StrEnum):
    """The kinds of message people choose channels for."""

    #: Decisions on one's bookings, cancellations, reminders, no-shows.
    BOOKINGS = "bookings"
    #: What the lab did with one's test requests.
    TEST_REQUESTS = "test_requests"
    #: A manager's queue: bookings and test requests to decide on.
    APPROVALS = "approvals"
    #: Statements issued, months closed.
    BILLING = "billing"


class OutboxMessage(Base):
    """One message to one recipient, fully rendered in the recipient's language: an email
    (``recipient`` an address), a WeCom robot message (the robot's webhook URL, the text in
    ``body_text`` as markdown) or an SMS (a phone number, the text in ``body_text``)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The sender's claim query: the due messages of one state, oldest first.
        Index("ix_outbox_messages_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_outbox_messages_channel_state_next_attempt_at", "channel", "state",
              "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(string_enum(Channel, "outbox_channel"),
                                             default=Channel.EMAIL, server_default="email")
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


class NotificationPreference(Base):
    """A person wants messages of ``topic`` by ``channel`` too (email goes anyway)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    topic: Mapped[Topic] = mapped_column(string_enum(Topic, "notification_topic"),
                                         primary_key=True)
    channel: Mapped[Channel] = mapped_column(string_enum(Channel, "notification_channel"),
                                             primary_key=True)


class LabRobot(Base):
    """A lab's WeCom group robot, and which of the managers' queues it posts."""

    __tablename__ = "lab_robots"

    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"),
                                        primary_key=True)
    #: The robot's webhook address (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``).
    webhook_url: Mapped[str] = mapped_column(String(254))
    posts_approvals: Mapped[bool] = mapped_column(default=True)
    posts_orders: Mapped[bool] = mapped_column(default=True)
    posts_faults: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
