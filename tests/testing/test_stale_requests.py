"""A lab's decision taken on a request as it was when the page was read, after somebody else
changed it: refused with invalid_state, and nothing is recorded twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.testing import services
from labbook.testing.models import ServiceRequest, ServiceRequestState
from tests.factories import (
    another_session,
    create_lab,
    create_manager,
    create_service,
    create_user,
    reload,
)

PDF = b"%PDF-1.4\n% test\n"


@pytest.fixture
def people():
    lab = create_lab()
    return create_service(lab=lab), create_user(), create_manager(lab), create_manager(lab)


def submitted(service, requester) -> ServiceRequest:
    with write_transaction(db.session):
        return services.submit(db.session, requester, service, samples=2,
                               sample_description="两根拉伸试样", express=False, now=utcnow())


def actions(item: ServiceRequest) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "service_requests", AuditEvent.object_id == item.id)
        .order_by(AuditEvent.id)))


def elsewhere(change, item: ServiceRequest, actor: User, **arguments) -> None:
    """``change`` done by ``actor`` in another request, on its own copy of the request."""
    with another_session() as other:
        change(other, other.get(User, actor.id), other.get(ServiceRequest, item.id),
               now=utcnow(), **arguments)


def complete(session, actor, item, **arguments):
    config = current_app.config
    return services.complete(session, actor, item, report_dir=config["LABBOOK_REPORT_DIR"],
                             max_bytes=config["LABBOOK_REPORT_MAX_BYTES"], **arguments)


def test_accepting_a_request_the_requester_cancelled_meanwhile_is_refused(people):
    service, requester, manager, _colleague = people
    item = submitted(service, requester)  # the manager's queue shows it as submitted

    elsewhere(services.cancel, item, requester)
    with pytest.raises(Conflict) as refused, write_transaction(db.session):
        services.accept(db.session, manager, item, now=utcnow())

    assert refused.value.code == "invalid_state"
    assert reload(item).state == ServiceRequestState.CANCELLED
    assert actions(item) == ["submit", "cancel"]


def test_cancelling_a_request_the_lab_completed_meanwhile_is_refused(people):
    service, requester, manager, _colleague = people
    item = submitted(service, requester)
    elsewhere(services.accept, item, manager)
    item = reload(item)  # the requester's page shows it as accepted

    elsewhere(services.start, item, manager)
    elsewhere(complete, item, manager)
    with pytest.raises(Conflict) as refused, write_transaction(db.session):
        services.cancel(db.session, requester, item, now=utcnow())

    assert refused.value.code == "invalid_state"
    assert reload(item).state == ServiceRequestState.COMPLETED
    assert actions(item) == ["submit", "accept", "start", "complete"]
    assert len(db.session.scalars(select(Charge).where(
        Charge.service_request_id == item.id)).all()) == 1


def test_a_second_completion_keeps_neither_its_report_nor_a_second_charge(people):
    service, requester, manager, colleague = people
    item = submitted(service, requester)
    elsewhere(services.accept, item, manager)
    elsewhere(services.start, item, manager)
    item = reload(item)  # both managers see it in progress

    elsewhere(complete, item, manager)
    with pytest.raises(Conflict), write_transaction(db.session):
        complete(db.session, colleague, item, now=utcnow(),
                 report=services.ReportUpload("late.pdf", PDF))

    assert reload(item).report_path is None
    assert list(Path(current_app.config["LABBOOK_REPORT_DIR"]).glob("*.pdf")) == []
    assert actions(item) == ["submit", "accept", "start", "complete"]
    assert len(db.session.scalars(select(Charge).where(
        Charge.service_request_id == item.id)).all()) == 1


def test_starting_a_request_cancelled_meanwhile_is_refused_on_the_page(people, login_as):
    service, requester, manager, _colleague = people
    item = submitted(service, requester)
    elsewhere(services.accept, item, manager)
    elsewhere(services.cancel, item, requester)

    client = login_as(manager)
    response = client.post(f"/manage/service-requests/{item.id}/start")

    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="alert alert-danger"' in page
    assert reload(item).state == ServiceRequestState.CANCELLED
    assert actions(item) == ["submit", "accept", "cancel"]
