"""Testing-service requests, as they were before testing orders replaced them.

Migration 0019 made every request a one-line order (``orders.legacy_request_id``); nothing
creates or changes a request any more (``retired``). What is left: who may see a request, the
order it became, its list for the API, and the report PDF a lab uploaded with it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.catalogue.models import Lab, TestingService
from labbook.core.errors import DomainError, NotFound
from labbook.orders.models import Order
from labbook.testing.models import ServiceRequest, ServiceRequestState


class RequestsRetired(DomainError):
    status = 410
    code = "retired"


def retired() -> RequestsRetired:
    return RequestsRetired(_("Test requests have become testing orders: place and follow them "
                             "under Testing orders (/orders; in the API /api/v1/orders)."))


# -- who may see what ---------------------------------------------------------------------------


def is_lab_staff(actor: User, service_request: ServiceRequest) -> bool:
    return actor.manages(service_request.service.lab)


def can_view(actor: User, service_request: ServiceRequest) -> bool:
    """The requester, the paying organization's billing contact, the lab's managers, admins."""
    return (service_request.requester_id == actor.id
            or service_request.organization.billing_contact_id == actor.id
            or is_lab_staff(actor, service_request))


def can_download_report(actor: User, service_request: ServiceRequest) -> bool:
    """Anyone of the requesting organization, and the lab's managers and admins."""
    return (actor.organization_id == service_request.organization_id
            or service_request.organization.billing_contact_id == actor.id
            or is_lab_staff(actor, service_request))


def get_request(session: Session, actor: User, request_id: int) -> ServiceRequest:
    """The request, if ``actor`` may see it; others' requests are simply not found."""
    service_request = session.get(ServiceRequest, request_id)
    if service_request is None or not can_view(actor, service_request):
        raise NotFound(_("No service request with id %(id)d.", id=request_id))
    return service_request


def converted_order_id(session: Session, actor: User, request_id: int) -> int:
    """The id of the order request ``request_id`` became, if ``actor`` may see the request."""
    get_request(session, actor, request_id)
    order_id = session.scalar(select(Order.id).where(Order.legacy_request_id == request_id))
    if order_id is None:
        raise NotFound(_("No service request with id %(id)d.", id=request_id))
    return order_id


def converted_order_ids(session: Session, request_ids: Collection[int]) -> dict[int, int]:
    """The orders the requests became, by request id."""
    return dict(session.execute(select(Order.legacy_request_id, Order.id)
                                .where(Order.legacy_request_id.in_(request_ids))).all())


def get_request_for_report(session: Session, actor: User, request_id: int) -> ServiceRequest:
    service_request = session.get(ServiceRequest, request_id)
    if service_request is None or not can_download_report(actor, service_request) \
            or not service_request.has_report:
        raise NotFound(_("No report for service request %(id)d.", id=request_id))
    return service_request


def report_file(service_request: ServiceRequest, report_dir: str | Path) -> Path:
    assert service_request.report_path is not None
    return Path(report_dir) / service_request.report_path


# -- lists ------------------------------------------------------------------------------------


def visible_requests(actor: User, *, labs: Sequence[Lab] | None = None,
                     states: Collection[ServiceRequestState] | None = None
                     ) -> Select[tuple[ServiceRequest]]:
    """A query of the requests ``actor`` may list, newest first, in one of ``states`` (any when
    None): without ``labs`` their own requests; with ``labs`` every request of those they
    manage and their own in the others."""
    query = select(ServiceRequest).order_by(ServiceRequest.created_at.desc(),
                                            ServiceRequest.id.desc())
    if states is not None:
        query = query.where(ServiceRequest.state.in_(states))
    own = ServiceRequest.requester_id == actor.id
    if labs is None:
        return query.where(own)
    managed = [lab.id for lab in labs if actor.manages(lab)]
    others = [lab.id for lab in labs if not actor.manages(lab)]
    return query.join(ServiceRequest.service).where(or_(
        TestingService.lab_id.in_(managed) if managed else false(),
        and_(TestingService.lab_id.in_(others), own) if others else false()))
