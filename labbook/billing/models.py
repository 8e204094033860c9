"""Rate cards, charges and monthly statements."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
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
    from labbook.orders.models import OrderLine
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
        UniqueConstraint("order_line_id"),
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
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
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
    # The part of ``amount`` innovation vouchers pay (set at month close); the organization
    # pays the rest. Negative on a correction that gave a voucher its balance back.
    voucher_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0),
                                                    server_default="0")
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
    order_line: Mapped[OrderLine | None] = relationship()
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
        CheckConstraint("paid_amount >= 0", name="paid_amount_not_negative"),
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
    # What vouchers pay of ``total`` (the sum of the lines' voucher parts) and what payments
    # and the organization's balance have paid of the rest: both moved in SQL under the
    # statement's row lock.
    voucher_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0),
                                                    server_default="0")
    paid_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    # Printed with its QR on the issued statement: the public check of its number and total.
    verification_code: Mapped[str | None] = mapped_column(String(16), unique=True)

    organization: Mapped[Organization] = relationship()
    charges: Mapped[list[Charge]] = relationship(
        back_populates="statement", order_by=[Charge.lab_id, Charge.occurred_at, Charge.id])
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    paid_by: Mapped[User | None] = relationship(foreign_keys=[paid_by_id])

    @property
    def amount_due(self) -> Decimal:
        """What the organization pays: the total less the vouchers' part."""
        return self.total - self.voucher_amount

    @property
    def outstanding(self) -> Decimal:
        """What is still to pay of an issued statement (nothing of a draft or a paid one)."""
        if self.state != StatementState.ISSUED:
            return Decimal("0.00")
        return max(self.amount_due - self.paid_amount, Decimal("0.00"))

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


# -- money: the organization's billing profile and balance, payments, vouchers, invoices ---------

class BillingProfile(Base):
    """What finance keeps of one organization: its invoicing details (发票抬头, 纳税人识别号 …),
    whether it pays from a prepaid balance (预存款), after how many days overdue it may no
    longer book or order, and its balance: deposits and overpayments not yet used, moved in
    SQL under this row's lock."""

    __tablename__ = "billing_profiles"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("overdue_block_days >= 0", name="overdue_block_days_not_negative"),
    )

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    invoice_title: Mapped[str] = mapped_column(String(200), default="")
    taxpayer_id: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    bank: Mapped[str] = mapped_column(String(100), default="")
    bank_account: Mapped[str] = mapped_column(String(40), default="")
    prepaid: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_block_days: Mapped[int | None] = mapped_column(Integer)
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship()

    @property
    def id(self) -> int:
        """The organization's id, by which the audit log names the profile."""
        return self.organization_id


class PaymentMethod(enum.StrEnum):
    BANK_TRANSFER = "bank_transfer"
    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    CASH = "cash"
    VOUCHER = "voucher"


class Payment(Base):
    """Money received from an organization, spread over one or more of its issued statements;
    what exceeds them goes to its balance (``credited``)."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("credited >= 0", name="credited_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[PaymentMethod] = mapped_column(string_enum(PaymentMethod, "payment_method"))
    reference: Mapped[str] = mapped_column(String(100), default="")
    credited: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", order_by="PaymentAllocation.id")


class AllocationSource(enum.StrEnum):
    PAYMENT = "payment"
    BALANCE = "balance"


class PaymentAllocation(Base):
    """Part of a payment, or of the organization's balance, that paid one statement."""

    __tablename__ = "payment_allocations"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    source: Mapped[AllocationSource] = mapped_column(
        string_enum(AllocationSource, "allocation_source"))
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    statement: Mapped[Statement] = relationship()
    payment: Mapped[Payment | None] = relationship(back_populates="allocations")


class BalanceEntryKind(enum.StrEnum):
    DEPOSIT = "deposit"
    OVERPAYMENT = "overpayment"
    CREDIT_NOTE = "credit_note"
    APPLIED = "applied"


class BalanceEntry(Base):
    """One movement of an organization's balance (positive in, negative out): its history."""

    __tablename__ = "balance_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[BalanceEntryKind] = mapped_column(
        string_enum(BalanceEntryKind, "balance_entry_kind"))
    amount: Mapped[Decimal] = mapped_column(Money)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    statement: Mapped[Statement | None] = relationship()
    created_by: Mapped[User | None] = relationship()


class Voucher(Base):
    """An innovation voucher (科技创新券) an organization holds: at month close it pays up to
    ``share_percent`` of each eligible line dated within its validity, while its balance lasts.
    Empty ``lab_ids`` / ``kinds`` mean every lab / every eligible kind."""

    __tablename__ = "vouchers"
    __table_args__ = (
        CheckConstraint("face_value > 0", name="face_value_positive"),
        CheckConstraint("balance >= 0 AND balance <= face_value", name="balance_within_face"),
        CheckConstraint("share_percent BETWEEN 1 AND 100", name="share_percent_range"),
        CheckConstraint("valid_to >= valid_from", name="valid_period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    authority: Mapped[str] = mapped_column(String(200))
    face_value: Mapped[Decimal] = mapped_column(Money)
    balance: Mapped[Decimal] = mapped_column(Money)
    share_percent: Mapped[int] = mapped_column(Integer)
    lab_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()
    uses: Mapped[list[VoucherUse]] = relationship(back_populates="voucher",
                                                  order_by="VoucherUse.id")


class VoucherUse(Base):
    """What a voucher paid of one line (positive), or gave back when a correction lowered a
    line it had paid (negative, on the correcting line). A voucher pays a line once."""

    __tablename__ = "voucher_uses"
    __table_args__ = (UniqueConstraint("voucher_id", "charge_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    voucher: Mapped[Voucher] = relationship(back_populates="uses")
    charge: Mapped[Charge] = relationship()
    statement: Mapped[Statement] = relationship()


class InvoiceKind(enum.StrEnum):
    ORDINARY = "ordinary"
    SPECIAL = "special"


class InvoiceMedium(enum.StrEnum):
    ELECTRONIC = "electronic"
    PAPER = "paper"


class InvoiceState(enum.StrEnum):
    REQUESTED = "requested"
    ISSUED = "issued"
    REFUSED = "refused"
    REVERSED = "reversed"


class Invoice(Base):
    """An invoice (发票) an organization's billing contact asked for, over one or more issued
    statements; finance records it issued (number, date, amount, file) or refuses it. The
    buyer's details are copied from the billing profile when it is requested."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("issued_amount IS NULL OR (issued_amount > 0 "
                        "AND issued_amount <= amount)", name="issued_within_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[InvoiceKind] = mapped_column(string_enum(InvoiceKind, "invoice_kind"))
    medium: Mapped[InvoiceMedium] = mapped_column(string_enum(InvoiceMedium, "invoice_medium"))
    state: Mapped[InvoiceState] = mapped_column(string_enum(InvoiceState, "invoice_state"),
                                                default=InvoiceState.REQUESTED)
    amount: Mapped[Decimal] = mapped_column(Money)
    title: Mapped[str] = mapped_column(String(200))
    taxpayer_id: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    bank: Mapped[str] = mapped_column(String(100), default="")
    bank_account: Mapped[str] = mapped_column(String(40), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    invoice_number: Mapped[str | None] = mapped_column(String(30), unique=True)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    issued_amount: Mapped[Decimal | None] = mapped_column(Money)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refusal_reason: Mapped[str] = mapped_column(String(500), default="")
    file_name: Mapped[str] = mapped_column(String(200), default="")
    file_type: Mapped[str] = mapped_column(String(100), default="")
    file_content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    organization: Mapped[Organization] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    covers: Mapped[list[InvoiceStatement]] = relationship(
        back_populates="invoice", order_by="InvoiceStatement.statement_id")
    reversal: Mapped[InvoiceReversal | None] = relationship(back_populates="invoice")


class InvoiceStatement(Base):
    """How much of one statement an invoice covers."""

    __tablename__ = "invoice_statements"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"),
                                            primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"), primary_key=True,
                                              index=True)
    amount: Mapped[Decimal] = mapped_column(Money)

    invoice: Mapped[Invoice] = relationship(back_populates="covers")
    statement: Mapped[Statement] = relationship()


class InvoiceReversal(Base):
    """A red-letter invoice (红字发票) that reversed an issued invoice after a statement it
    covers was corrected: it links the invoice and the correcting line."""

    __tablename__ = "invoice_reversals"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    red_number: Mapped[str] = mapped_column(String(30), unique=True)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    correction_charge_id: Mapped[int | None] = mapped_column(ForeignKey("charges.id"))
    reason: Mapped[str] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    invoice: Mapped[Invoice] = relationship(back_populates="reversal")
    correction: Mapped[Charge | None] = relationship()
