"""Service requests: one request for a testing service, its quote and its report."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labbook.accounts.models import PriceTier
from labbook.core.db import Base, Money, UTCDateTime
from labbook.core.enums import string_enum
from labbook.core.time import utcnow

if TYPE_CHECKING:
    from labbook.accounts.models import Organization, User
    from labbook.catalogue.models import TestingService

MIN_SAMPLES = 1
MAX_SAMPLES = 1000


class ServiceRequestState(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


TRANSITIONS: dict[ServiceRequestState, frozenset[ServiceRequestState]] = {
    ServiceRequestState.SUBMITTED: frozenset({ServiceRequestState.ACCEPTED,
                                              ServiceRequestState.REJECTED,
                                              ServiceRequestState.CANCELLED}),
    ServiceRequestState.ACCEPTED: frozenset({ServiceRequestState.IN_PROGRESS,
                                             ServiceRequestState.CANCELLED}),
    ServiceRequestState.IN_PROGRESS: frozenset({ServiceRequestState.COMPLETED}),
}

#: States in which the lab still has work to do.
OPEN_STATES = (ServiceRequestState.SUBMITTED, ServiceRequestState.ACCEPTED,
               ServiceRequestState.IN_PROGRESS)


class ServiceRequest(Base):
    """A request for a testing service, priced when it was submitted (the quote stays fixed)."""

    __tablename__ = "service_requests"
    __table_args__ = (
        CheckConstraint(f"samples >= {MIN_SAMPLES} AND samples <= {MAX_SAMPLES}",
                        name="samples_range"),
        Index("ix_service_requests_state_created", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("testing_services.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    samples: Mapped[int] = mapped_column(Integer)
    sample_description: Mapped[str] = mapped_column(Text)
    is_express: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[ServiceRequestState] = mapped_column(
        string_enum(ServiceRequestState, "service_request_state"),
        default=ServiceRequestState.SUBMITTED)
    # The quote, fixed at submission: the organization's tier and the service's prices then.
    tier: Mapped[PriceTier] = mapped_column(string_enum(PriceTier, "service_request_tier"))
    quoted_unit_price: Mapped[Decimal] = mapped_column(Money)
    express_surcharge_percent: Mapped[int] = mapped_column(Integer, default=0)
    quoted_express_surcharge: Mapped[Decimal] = mapped_column(Money)
    quoted_total: Mapped[Decimal] = mapped_column(Money)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    # The report PDF: a file in LABBOOK_REPORT_DIR named "<id>-<random>.pdf".
    report_path: Mapped[str | None] = mapped_column(String(200))
    report_filename: Mapped[str | None] = mapped_column(String(255))
    report_size: Mapped[int | None] = mapped_column(Integer)
    report_sha256: Mapped[str | None] = mapped_column(String(64))
    report_uploaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    service: Mapped[TestingService] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    organization: Mapped[Organization] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])

    @property
    def quoted_subtotal(self) -> Decimal:
        return self.quoted_total - self.quoted_express_surcharge

    @property
    def has_report(self) -> bool:
        return self.report_path is not None

    def can_become(self, state: ServiceRequestState) -> bool:
        return state in TRANSITIONS.get(self.state, frozenset())

    def __repr__(self) -> str:
        return f"<ServiceRequest {self.id} {self.state.value}>"
