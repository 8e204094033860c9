"""Organizations and users."""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, Integer, String, Table, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.accounts.passwords import fingerprint
from labbook.core.db import Base, UTCDateTime
from labbook.core.enums import string_enum
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.catalogue.models import Lab


class PriceTier(enum.StrEnum):
    INTERNAL = "internal"
    PARTNER = "partner"
    EXTERNAL = "external"


class OrganizationStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Role(enum.StrEnum):
    RESEARCHER = "researcher"
    LAB_MANAGER = "lab_manager"
    ADMIN = "admin"


lab_managers = Table(
    "lab_managers",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("lab_id", ForeignKey("labs.id", ondelete="CASCADE"), primary_key=True),
)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    tier: Mapped[PriceTier] = mapped_column(string_enum(PriceTier, "price_tier"))
    status: Mapped[OrganizationStatus] = mapped_column(
        string_enum(OrganizationStatus, "organization_status"), default=OrganizationStatus.ACTIVE
    )
    weekly_quota_hours: Mapped[int | None] = mapped_column(Integer)
    # Members may book for one another (the one booked for is the booking's user).
    colleagues_may_book_for_each_other: Mapped[bool] = mapped_column(
        default=False, server_default=false())
    billing_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[User]] = relationship(
        back_populates="organization", foreign_keys="User.organization_id"
    )
    billing_contact: Mapped[User | None] = relationship(
        foreign_keys=[billing_contact_id], post_update=True
    )

    @property
    def is_suspended(self) -> bool:
        return self.status == OrganizationStatus.SUSPENDED

    def __repr__(self) -> str:
        return f"<Organization {self.name}>"


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32), default="")
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    role: Mapped[Role] = mapped_column(string_enum(Role, "user_role"), default=Role.RESEARCHER)
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    password_hash: Mapped[str] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(default=True)
    # The optional emails (labbook.notify.services.OPTIONAL_KINDS); the others always go.
    is_reminder_email_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    is_digest_email_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization | None] = relationship(
        back_populates="members", foreign_keys=[organization_id]
    )
    managed_labs: Mapped[list[Lab]] = relationship(
        secondary=lab_managers, back_populates="managers", order_by="Lab.code"
    )

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_lab_manager(self) -> bool:
        return self.role == Role.LAB_MANAGER

    @property
    def price_tier(self) -> PriceTier | None:
        return self.organization.tier if self.organization else None

    #: The secret of the sign-in (``LoginSession``) this object stands for in a web request:
    #: set when the user signs in and when a session cookie is read back, None otherwise.
    login_secret = None

    # Flask-Login's mixin compares users by ``get_id``, which names a sign-in, not an account.
    # A session holds one object per row, so identity is what equality means here.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def get_id(self) -> str:
        """What a sign-in session (and a "remember me" cookie) keeps of the user: the id, a
        fingerprint of the password, so that a new password signs the account out everywhere,
        and the secret of this sign-in, so that signing out ends it for whoever copied it."""
        if self.login_secret is None:
            raise RuntimeError(f"{self!r} has not signed in: start a login session first")
        return f"{self.id}.{fingerprint(self.password_hash)}.{self.login_secret}"

    def manages(self, lab: Lab) -> bool:
        return self.manages_lab_id(lab.id)

    def manages_lab_id(self, lab_id: int) -> bool:
        """Whether the user manages the lab ``lab_id`` (so callers need not load the lab)."""
        if self.is_admin:
            return True
        return self.is_lab_manager and any(managed.id == lab_id for managed in self.managed_labs)

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class ApiToken(Base):
    """A bearer token for the API. Only a SHA-256 hash of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginSession(Base):
    """One sign-in of a user in one browser, named by its session and "remember me" cookies.

    Signing out deletes it, and with it whatever those cookies still say, wherever they were
    copied to; the user's other sign-ins (another browser, a phone) go on. Only a SHA-256 hash
    of the secret the cookies carry is stored.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
