"""Testing orders (委托单): their lines and samples, intake, results, attachments, reports and
the per-lab settings and staff capabilities the workflow runs on."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

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
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import Organization, User
    from labbook.booking.models import Booking
    from labbook.catalogue.models import Lab, TestingService

MIN_SAMPLES = 1
#: Samples per order, all lines together: a bigger consignment is several orders.
MAX_SAMPLES = 1000
MAX_LINES = 20
DEFAULT_RETENTION_DAYS = 90


class OrderState(enum.StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"
    COMPLETED = "completed"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class LineState(enum.StrEnum):
    WAITING = "waiting"          # submitted, samples not received yet
    RECEIVED = "received"        # at least one sample accepted at intake
    IN_PROGRESS = "in_progress"  # the analyst has started
    COMPLETED = "completed"      # every accepted sample has its results: billed
    REFUSED = "refused"          # every sample refused at intake
    CANCELLED = "cancelled"


LINE_TRANSITIONS: dict[LineState, frozenset[LineState]] = {
    LineState.WAITING: frozenset({LineState.RECEIVED, LineState.REFUSED, LineState.CANCELLED}),
    LineState.RECEIVED: frozenset({LineState.IN_PROGRESS}),
    LineState.IN_PROGRESS: frozenset({LineState.COMPLETED}),
}
#: Lines the lab still has to work on.
OPEN_LINE_STATES = (LineState.RECEIVED, LineState.IN_PROGRESS)


class Remains(enum.StrEnum):
    RETURN = "return"
    DISPOSE = "dispose"


class ReportLanguage(enum.StrEnum):
    ZH_CN = "zh_CN"
    EN = "en"


class IntakeStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    ACCEPTED_WITH_REMARK = "accepted_with_remark"
    REFUSED = "refused"


ACCEPTED_STATUSES = (IntakeStatus.ACCEPTED, IntakeStatus.ACCEPTED_WITH_REMARK)


class Disposition(enum.StrEnum):
    RETURNED = "returned"
    DISPOSED = "disposed"


class Conclusion(enum.StrEnum):
    PASS = "pass"  # noqa: S105  (合格, not a password)
    FAIL = "fail"
    NOT_JUDGED = "not_judged"


class ReportState(enum.StrEnum):
    PREPARED = "prepared"      # 编制: drafted by an analyst
    REVIEWED = "reviewed"      # 审核
    ISSUED = "issued"          # 批准 by an authorised signatory: the PDF is fixed
    SUPERSEDED = "superseded"  # an amended report replaced it
    WITHDRAWN = "withdrawn"


class Capability(enum.StrEnum):
    ANALYST = "analyst"
    REVIEWER = "reviewer"
    SIGNATORY = "signatory"


class LabStaff(Base):
    """One capability of one person in one lab's testing work (not a global role)."""

    __tablename__ = "lab_staff_capabilities"
    __table_args__ = (UniqueConstraint("lab_id", "user_id", "capability"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    capability: Mapped[Capability] = mapped_column(string_enum(Capability, "capability"))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    lab: Mapped[Lab] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class LabTestingSettings(Base):
    """What a lab prints on its agreements and reports."""

    __tablename__ = "lab_testing_settings"

    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id", ondelete="CASCADE"),
                                        primary_key=True)
    terms_zh: Mapped[str] = mapped_column(Text, default="")
    terms_en: Mapped[str] = mapped_column(Text, default="")
    address_zh: Mapped[str] = mapped_column(String(300), default="")
    address_en: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    #: Comma-separated marks printed on reports ("CMA,CNAS"); "" when not accredited.
    accreditation_marks: Mapped[str] = mapped_column(String(100), default="")


class ServiceTestSettings(Base):
    """How long a service's remains are kept after the report."""

    __tablename__ = "service_test_settings"
    __table_args__ = (CheckConstraint("retention_days BETWEEN 0 AND 3650",
                                      name="retention_days_range"),)

    service_id: Mapped[int] = mapped_column(ForeignKey("testing_services.id",
                                                       ondelete="CASCADE"), primary_key=True)
    retention_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_RETENTION_DAYS)


class ServiceMethod(Base):
    """A method the lab accepts for a service besides the service's own standard."""

    __tablename__ = "service_methods"
    __table_args__ = (UniqueConstraint("service_id", "method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("testing_services.id",
                                                       ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(200))


class ServiceTestItem(Base):
    """A test item a service measures, with its unit and the limits that judge a value.

    A value is judged only when it is a number and the item has a limit: at least
    ``lower_limit`` and at most ``upper_limit`` passes (合格), outside fails (不合格). An item
    without limits, or a value that is not a number, is not judged (不判定).
    """

    __tablename__ = "service_test_items"
    __table_args__ = (UniqueConstraint("service_id", "name_zh"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("testing_services.id",
                                                       ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(50))
    lower_limit: Mapped[str | None] = mapped_column(String(40))
    upper_limit: Mapped[str | None] = mapped_column(String(40))

    @property
    def limit_text(self) -> str:
        if self.lower_limit is not None and self.upper_limit is not None:
            return f"{self.lower_limit}–{self.upper_limit}"
        if self.upper_limit is not None:
            return f"≤{self.upper_limit}"
        if self.lower_limit is not None:
            return f"≥{self.lower_limit}"
        return ""


class NumberCounter(Base):
    """The last number given in a series (samples, orders, reports of one lab and year).

    The row is incremented in SQL under its row lock, so two intakes at the same moment can
    never hand out the same number; the numbers' own unique constraints guard the result.
    """

    __tablename__ = "number_counters"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_lab_state", "lab_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("labs.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[OrderState] = mapped_column(string_enum(OrderState, "order_state"),
                                              default=OrderState.SUBMITTED)
    remains: Mapped[Remains] = mapped_column(string_enum(Remains, "order_remains"))
    report_language: Mapped[ReportLanguage] = mapped_column(
        string_enum(ReportLanguage, "order_report_language"))
    notes: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_phone: Mapped[str] = mapped_column(String(64), default="")
    contact_email: Mapped[str] = mapped_column(String(254))
    # The quote, fixed at submission for the organization's tier then.
    tier: Mapped[PriceTier] = mapped_column(string_enum(PriceTier, "order_tier"))
    quoted_total: Mapped[Decimal] = mapped_column(Money)
    # The lab's terms as the customer confirmed them.
    terms: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The service request this order was converted from (migration 0011), if any.
    legacy_request_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    lab: Mapped[Lab] = relationship()
    organization: Mapped[Organization] = relationship()
    requester: Mapped[User] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order",
                                                  order_by="OrderLine.position")
    reports: Mapped[list[Report]] = relationship(back_populates="order",
                                                 order_by="Report.id")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="order",
                                                         order_by="Attachment.id")

    @property
    def samples(self) -> list[Sample]:
        return [sample for line in self.lines for sample in line.samples]

    def __repr__(self) -> str:
        return f"<Order {self.number} {self.state.value}>"


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        Index("ix_order_lines_state_due", "state", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    service_id: Mapped[int] = mapped_column(ForeignKey("testing_services.id"), index=True)
    method: Mapped[str] = mapped_column(String(200))
    is_express: Mapped[bool] = mapped_column(default=False)
    state: Mapped[LineState] = mapped_column(string_enum(LineState, "order_line_state"),
                                             default=LineState.WAITING)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    express_surcharge_percent: Mapped[int] = mapped_column(Integer, default=0)
    express_surcharge: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    analyst_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                   index=True)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(back_populates="lines")
    service: Mapped[TestingService] = relationship()
    analyst: Mapped[User | None] = relationship()
    samples: Mapped[list[Sample]] = relationship(back_populates="line",
                                                 order_by="Sample.position")
    #: The instrument time booked for the line (``bookings.order_line_id``).
    bookings: Mapped[list[Booking]] = relationship(order_by="Booking.start_at",
                                                   viewonly=True)

    @property
    def accepted_samples(self) -> list[Sample]:
        return [sample for sample in self.samples if sample.is_accepted]

    @property
    def subtotal(self) -> Decimal:
        return self.total - self.express_surcharge

    def can_become(self, state: LineState) -> bool:
        return state in LINE_TRANSITIONS.get(self.state, frozenset())


class Sample(Base):
    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("line_id", "position"),
        Index("ix_samples_retain_until", "disposition", "retain_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"),
                                         index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    batch: Mapped[str] = mapped_column(String(100), default="")
    specification: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[str] = mapped_column(String(100))
    condition: Mapped[str] = mapped_column(String(300), default="")
    hazards: Mapped[str] = mapped_column(String(300), default="")
    # Intake (收样)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    intake_status: Mapped[IntakeStatus] = mapped_column(
        string_enum(IntakeStatus, "sample_intake_status"), default=IntakeStatus.PENDING)
    intake_condition: Mapped[str] = mapped_column(String(300), default="")
    intake_note: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))
    # Retention (留样)
    retain_until: Mapped[dt.date | None] = mapped_column(Date)
    disposition: Mapped[Disposition | None] = mapped_column(
        string_enum(Disposition, "sample_disposition"))
    disposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))
    disposition_note: Mapped[str] = mapped_column(String(500), default="")

    line: Mapped[OrderLine] = relationship(back_populates="samples")
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id])
    disposed_by: Mapped[User | None] = relationship(foreign_keys=[disposed_by_id])
    results: Mapped[list[Result]] = relationship(back_populates="sample",
                                                 order_by="Result.id")

    @property
    def is_accepted(self) -> bool:
        return self.intake_status in ACCEPTED_STATUSES


class Result(Base):
    __tablename__ = "results"
    __table_args__ = (UniqueConstraint("sample_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"),
                                           index=True)
    item: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(50))
    method: Mapped[str] = mapped_column(String(200))
    limit: Mapped[str] = mapped_column(String(100), default="")
    conclusion: Mapped[Conclusion] = mapped_column(string_enum(Conclusion,
                                                               "result_conclusion"))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    sample: Mapped[Sample] = relationship(back_populates="results")
    entered_by: Mapped[User | None] = relationship()


class Attachment(Base):
    """Raw data or an image kept with an order: a file in the instance's attachment folder."""

    __tablename__ = "order_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"),
                                          index=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                  ondelete="SET NULL"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User | None] = relationship()


class Report(Base):
    """A test report (检测报告). Once issued its PDF and number never change; an amendment is a
    new report that names the one it replaces."""

    __tablename__ = "test_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("test_reports.id"), unique=True)
    state: Mapped[ReportState] = mapped_column(string_enum(ReportState, "report_state"))
    language: Mapped[ReportLanguage] = mapped_column(
        string_enum(ReportLanguage, "report_language"))
    conclusion: Mapped[str] = mapped_column(Text)
    amendment_reason: Mapped[str] = mapped_column(Text, default="")
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    prepared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    prepared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    issued_on: Mapped[dt.date | None] = mapped_column(Date)
    pdf_path: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")

    order: Mapped[Order] = relationship(back_populates="reports")
    replaces: Mapped[Report | None] = relationship(remote_side=[id],
                                                   back_populates="replaced_by")
    replaced_by: Mapped[Report | None] = relationship(back_populates="replaces")
    prepared_by: Mapped[User] = relationship(foreign_keys=[prepared_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    @property
    def is_issued(self) -> bool:
        return self.sha256 is not None
