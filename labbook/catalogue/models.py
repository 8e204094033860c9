"""Catalogue models: labs with opening hours, categories, instruments, testing services."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.core.db import Base, Money
from labbook.core.enums import string_enum

if TYPE_CHECKING:
    from labbook.accounts.models import PriceTier, User
    from labbook.billing.models import RateCard


class Lab(Base):
    __tablename__ = "labs"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    location_zh: Mapped[str] = mapped_column(String(300), default="")
    location_en: Mapped[str] = mapped_column(String(300), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # No-show discipline: this many no-shows within ``no_show_window_days`` suspend a person's
    # own booking here for ``suspension_days``; None turns it off.
    no_show_limit: Mapped[int | None] = mapped_column(Integer)
    no_show_window_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    suspension_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    # How long a waiting-list offer of freed time may be claimed.
    waitlist_offer_minutes: Mapped[int] = mapped_column(Integer, default=30,
                                                        server_default="30")
    # Whom people ask about bookings and training: shown on the instrument pages and with a
    # refusal for want of training. Empty where the lab names nobody.
    contact_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="", server_default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="", server_default="")

    opening_hours: Mapped[list[OpeningHours]] = relationship(
        back_populates="lab", cascade="all, delete-orphan",
        order_by="(OpeningHours.weekday, OpeningHours.opens_at)",
    )
    instruments: Mapped[list[Instrument]] = relationship(back_populates="lab")
    services: Mapped[list[TestingService]] = relationship(back_populates="lab")
    managers: Mapped[list[User]] = relationship(
        secondary="lab_managers", back_populates="managed_labs"
    )

    @property
    def contact(self) -> dict[str, str] | None:
        """The contact person as the API and a refusal for want of training give it; None
        where the lab names nobody."""
        if not self.contact_name:
            return None
        return {"name": self.contact_name, "phone": self.contact_phone,
                "email": self.contact_email}

    def __repr__(self) -> str:
        return f"<Lab {self.code}>"


class OpeningHours(Base):
    """One opening interval of a lab on a weekday (0 = Monday), in the lab's local time."""

    __tablename__ = "opening_hours"
    __table_args__ = (UniqueConstraint("lab_id", "weekday", "opens_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[dt.time] = mapped_column(Time)
    closes_at: Mapped[dt.time] = mapped_column(Time)

    lab: Mapped[Lab] = relationship(back_populates="opening_hours")


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))


class OwnerKind(enum.StrEnum):
    INSTITUTE = "institute"
    UNIVERSITY = "university"
    ENTERPRISE = "enterprise"


class Owner(Base):
    """An owner unit (仪器所属单位): the institute, a university or an enterprise whose
    instruments were pooled into the labs and who keeps a share of what they earn
    (``labbook.owners``)."""

    __tablename__ = "owners"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OwnerKind] = mapped_column(string_enum(OwnerKind, "owner_kind"))
    # Where the shipped data come from, e.g. that an owner is illustrative.
    note: Mapped[str] = mapped_column(String(300), default="")

    instruments: Mapped[list[Instrument]] = relationship(back_populates="owner",
                                                         order_by="Instrument.code")

    def __repr__(self) -> str:
        return f"<Owner {self.code}>"


class InstrumentStatus(enum.StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


service_instruments = Table(
    "service_instruments",
    Base.metadata,
    Column("service_id", ForeignKey("testing_services.id", ondelete="CASCADE"), primary_key=True),
    Column("instrument_id", ForeignKey("instruments.id", ondelete="CASCADE"), primary_key=True),
)


#: The most channels (or places) an instrument may have: a booking's channels are the bits of
#: a 64-bit mask.
MAX_CHANNELS = 64


class Instrument(Base):
    __tablename__ = "instruments"
    __table_args__ = (
        CheckConstraint(f"channels BETWEEN 1 AND {MAX_CHANNELS}", name="channels_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("owners.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200), default="")
    manufacturer: Mapped[str] = mapped_column(String(200), default="")
    purchase_year: Mapped[int | None] = mapped_column(Integer)
    value_cny: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    room: Mapped[str] = mapped_column(String(64), default="")
    specs_zh: Mapped[str] = mapped_column(Text, default="")
    functions_zh: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[InstrumentStatus] = mapped_column(
        string_enum(InstrumentStatus, "instrument_status"), default=InstrumentStatus.AVAILABLE
    )
    status_reason: Mapped[str] = mapped_column(String(500), default="")
    # Booking rules (all durations in minutes unless named otherwise).
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    min_minutes: Mapped[int] = mapped_column(Integer, default=30)
    max_minutes: Mapped[int] = mapped_column(Integer, default=480)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=60)
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    cancellation_window_hours: Mapped[int] = mapped_column(Integer, default=24)
    requires_approval: Mapped[bool] = mapped_column(default=False)
    requires_qualification: Mapped[bool] = mapped_column(default=False)
    # Channels or places used at once by different bookings (a battery cycler's channels, a
    # climate chamber's sample places); 1 for an instrument one booking takes whole.
    channels: Mapped[int] = mapped_column(Integer, default=1)
    # The longest time (minutes, buffer included) any booking of it holds or may hold: kept by
    # the database (migration 0024's triggers raise it with every longer booking and with the
    # rules), so calendar reads can bound their scan to bookings that start before a window
    # ends, whatever the number of bookings after it. Never lowered.
    longest_held_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Lower-cased text the catalogue search matches against; rebuilt whenever a row is loaded.
    search_text: Mapped[str] = mapped_column(Text, default="")

    lab: Mapped[Lab] = relationship(back_populates="instruments")
    category: Mapped[Category] = relationship()
    owner: Mapped[Owner | None] = relationship(back_populates="instruments")
    rate_cards: Mapped[list[RateCard]] = relationship(
        back_populates="instrument", cascade="all, delete-orphan",
        order_by="(RateCard.tier, RateCard.effective_from)",
    )
    services: Mapped[list[TestingService]] = relationship(
        secondary=service_instruments, back_populates="instruments"
    )

    def current_rate(self, tier: PriceTier, on: dt.date) -> RateCard | None:
        """The rate card of ``tier`` in force on ``on`` (the latest one that started by then)."""
        in_force = [c for c in self.rate_cards if c.tier == tier and c.effective_from <= on]
        return max(in_force, key=lambda c: c.effective_from, default=None)

    def __repr__(self) -> str:
        return f"<Instrument {self.code}>"


class TestingService(Base):
    __tablename__ = "testing_services"
    __test__ = False  # not a pytest test class, despite the name

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    standard: Mapped[str] = mapped_column(String(200))
    sample_requirements_zh: Mapped[str] = mapped_column(Text, default="")
    sample_requirements_en: Mapped[str] = mapped_column(Text, default="")
    turnaround_days: Mapped[int] = mapped_column(Integer)
    price_internal: Mapped[Decimal] = mapped_column(Money)
    price_partner: Mapped[Decimal] = mapped_column(Money)
    price_external: Mapped[Decimal] = mapped_column(Money)
    express_surcharge_percent: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    search_text: Mapped[str] = mapped_column(Text, default="")

    lab: Mapped[Lab] = relationship(back_populates="services")
    category: Mapped[Category] = relationship()
    instruments: Mapped[list[Instrument]] = relationship(
        secondary=service_instruments, back_populates="services", order_by="Instrument.code"
    )

    def price_for(self, tier: PriceTier) -> Decimal:
        return getattr(self, f"price_{tier.value}")

    def __repr__(self) -> str:
        return f"<TestingService {self.code}>"


class CatalogueVersion(Base):
    """One row whose token changes with every committed change to the catalogue, so that each
    server process knows when its search index is out of date (``catalogue.search``)."""

    __tablename__ = "catalogue_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
