"""Registrations, organization admins, invitations and requests to join."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.core.db import Base, UTCDateTime
from labbook.core.enums import equals_literal, string_enum
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import Organization, User


class RegistrationState(enum.StrEnum):
    #: Written, waiting for the registrant to open the link sent to their email address.
    UNCONFIRMED = "unconfirmed"
    #: The email address is confirmed; an admin decides.
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class JoinRequestState(enum.StrEnum):
    UNCONFIRMED = "unconfirmed"
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Registration(Base):
    """An enterprise and its first person, as the registrant gave them, until an admin decides.

    Approval creates the organization and the person's account from it; a rejected one is kept
    with its reason.
    """

    __tablename__ = "registrations"
    __table_args__ = (
        # One registration of an enterprise waits for a decision at a time.
        Index("uq_registrations_pending_uscc", "uscc", unique=True,
              sqlite_where=text("state = 'pending'"), postgresql_where=text("state = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[RegistrationState] = mapped_column(
        string_enum(RegistrationState, "registration_state"), index=True)
    organization_name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    address: Mapped[str] = mapped_column(String(300))
    contact_phone: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    password_hash: Mapped[str] = mapped_column(String(256))
    licence: Mapped[bytes | None] = mapped_column(LargeBinary)
    licence_type: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"))

    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    organization: Mapped[Organization | None] = relationship()


def registration_in(state: RegistrationState) -> ColumnElement[bool]:
    """"The registration is in ``state``", as the partial index of pending ones writes it."""
    return equals_literal(Registration.__table__.c.state, state)


class OrganizationAdmin(Base):
    """A member who administers their organization: invites and removes colleagues, chooses
    the billing contact, sees what the organization booked and owes. (Not a ``Role``: a
    researcher who administers their enterprise is still a researcher.)"""

    __tablename__ = "organization_admins"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class Invitation(Base):
    """An organization admin's invitation of a colleague by email: a link that works once,
    until it expires. Only a SHA-256 hash of the link's secret is stored."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])


class JoinRequest(Base):
    """Somebody whose enterprise is registered already asks its admins to let them in."""

    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    state: Mapped[JoinRequestState] = mapped_column(
        string_enum(JoinRequestState, "join_request_state"))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    locale: Mapped[str] = mapped_column(String(8))
    password_hash: Mapped[str] = mapped_column(String(256))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization] = relationship()
