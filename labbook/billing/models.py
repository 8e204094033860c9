"""Rate cards, charges and monthly statements."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.accounts.models import PriceTier
from labbook.core.db import Base, Money, UTCDateTime
from labbook.core.enums import string_enum
from labbook.core.time import LAB_TZ, utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import Organization, User
    from labbook.booking.models import Booking, BookingChange
    from labbook.catalogue.models import Instrument, Lab, TestingService
    from labbook.testing.models import ServiceRequest


class BillingBasis(enum.StrEnum):
    BOOKED = "booked"
    ACTUAL = "actual"
    LARGER = "larger"


def _start_of_effective_day(context: Any) -> dt.datetime:
    """The first moment of the card's ``effective_from`` (lab time), for cards made without
    saying when they apply from (catalogue files, older data)."""
    day: dt.date = context.get_current_parameters()["effective_from"]
    return dt.datetime.combine(day, dt.time(), tzinfo=LAB_TZ).astimezone(dt.UTC)


class RateCard(Base):
    """What an hour of an instrument costs one price tier, from ``effective_from`` (a lab date)
    until the next card of the same instrument and tier starts.

    ``applies_from`` is the moment it starts pricing bookings: the start of ``effective_from``,
    or, for a card made effective the day it is entered, the moment it was entered, so that it
    never prices a booking that had already started when it was made.
    """

    __tablename__ = "rate_cards"
    __table_args__ = (
        UniqueConstraint("instrument_id", "tier", "effective_from"),
        CheckConstraint("no_show_percent BETWEEN 0 AND 100", name="no_show_percent_range"),
        CheckConstraint("late_cancel_percent BETWEEN 0 AND 100",
                        name="late_cancel_percent_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(
        ForeignKey("instruments.id", ondelete="CASCADE"), index=True
    )
    tier: Mapped[PriceTier] = mapped_column(string_enum(PriceTier, "rate_card_tier"))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    applies_from: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_start_of_effective_day)
    hourly_rate: Mapped[Decimal] = mapped_column(Money)
    billing_basis: Mapped[BillingBasis] = mapped_column(
        string_enum(BillingBasis, "billing_basis"), default=BillingBasis.BOOKED
    )
    rounding_minutes: Mapped[int] = mapped_column(Integer, default=15)
    minimum_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # Shares of the booked charge billed for a no-show and for a late cancellation (the window
    # that makes a cancellation late is the instrument's booking rule).
    no_show_percent: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    late_cancel_percent: Mapped[int] = mapped_column(Integer, default=50, server_default="50")

    instrument: Mapped[Instrument] = relationship(back_populates="rate_cards")


class ChargeKind(enum.StrEnum):
    USAGE = "usage"
    NO_SHOW = "no_show"
    LATE_CANCELLATION = "late_cancellation"
    SERVICE = "service"
    ADJUSTMENT = "adjustment"


class Charge(Base):
    """One billable line. Booking and service-request charges are unique per source, so a
    billable event can never be charged twice; adjustments carry a reason and their author."""

    __tablename__ = "charges"
    __table_args__ = (
        UniqueConstraint("booking_id"),
        UniqueConstraint("service_request_id"),
        UniqueConstraint("booking_change_id"),
        CheckConstraint("share_percent BETWEEN 0 AND 100", name="share_percent_range"),
        Index("ix_charges_unbilled", "statement_id", "period"),
        Index("ix_charges_organization_period", "organization_id", "period"),
        # Revenue reports read a lab's charges of a period: with years of history they must
        # not read the lab's whole past.
        Index("ix_charges_lab_id_occurred_at", "lab_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ChargeKind] = mapped_column(string_enum(ChargeKind, "charge_kind"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    service_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    # A booking shortened (or moved) inside its cancellation window: the time given back is
    # charged like a late cancellation, once per change (the booking keeps its own charge).
    booking_change_id: Mapped[int | None] = mapped_column(ForeignKey("booking_changes.id"))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("testing_services.id"),
                                                   index=True)
    rate_card_id: Mapped[int | None] = mapped_column(ForeignKey("rate_cards.id",
                                                                ondelete="SET NULL"))
    # When the billable thing happened (the booked start, the completion of a test, the
    # adjustment), and the Asia/Shanghai month it belongs to.
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    period: Mapped[str] = mapped_column(String(7))
    tier: Mapped[PriceTier | None] = mapped_column(string_enum(PriceTier, "charge_tier"))
    basis: Mapped[BillingBasis | None] = mapped_column(
        string_enum(BillingBasis, "charge_billing_basis"))
    booked_minutes: Mapped[int | None] = mapped_column(Integer)
    actual_minutes: Mapped[int | None] = mapped_column(Integer)
    rounding_minutes: Mapped[int | None] = mapped_column(Integer)
    minimum_minutes: Mapped[int | None] = mapped_column(Integer)
    billed_minutes: Mapped[int | None] = mapped_column(Integer)
    samples: Mapped[int | None] = mapped_column(Integer)
    unit_price: Mapped[Decimal | None] = mapped_column(Money)
    surcharge: Mapped[Decimal | None] = mapped_column(Money)
    share_percent: Mapped[int] = mapped_column(Integer, default=100)
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    # An adjustment that carries a repricing of this charge after its statement was issued.
    corrects_charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"), index=True)

    organization: Mapped[Organization] = relationship()
    lab: Mapped[Lab] = relationship()
    booking: Mapped[Booking | None] = relationship()
    service_request: Mapped[ServiceRequest | None] = relationship()
    booking_change: Mapped[BookingChange | None] = relationship()
    instrument: Mapped[Instrument | None] = relationship()
    service: Mapped[TestingService | None] = relationship()
    created_by: Mapped[User | None] = relationship()
    statement: Mapped[Statement | None] = relationship(back_populates="charges")
    corrects: Mapped[Charge | None] = relationship(remote_side=[id])

    @property
    def is_billed(self) -> bool:
        return self.statement_id is not None

    def __repr__(self) -> str:
        return f"<Charge {self.id} {self.kind} {self.amount}>"


class StatementState(enum.StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"


class Statement(Base):
    """One organization's charges for one Asia/Shanghai month, numbered per year."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("organization_id", "period"),
        UniqueConstraint("year", "sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    state: Mapped[StatementState] = mapped_column(
        string_enum(StatementState, "statement_state"), default=StatementState.DRAFT)
    total: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    payment_note: Mapped[str] = mapped_column(Text, default="")

    organization: Mapped[Organization] = relationship()
    charges: Mapped[list[Charge]] = relationship(
        back_populates="statement", order_by=[Charge.lab_id, Charge.occurred_at, Charge.id])
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    paid_by: Mapped[User | None] = relationship(foreign_keys=[paid_by_id])

    def __repr__(self) -> str:
        return f"<Statement {self.number} {self.state}>"


class MonthClose(Base):
    """A month that was closed: later charges of it go into the next month's statements."""

    __tablename__ = "month_closes"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), unique=True)
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    statements_created: Mapped[int] = mapped_column(Integer, default=0)

    closed_by: Mapped[User | None] = relationship()
