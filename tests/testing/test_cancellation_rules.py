"""Who may cancel a testing-service request, and until when.

The rule: the requester and the lab's managers (admins included) cancel a request while it is
submitted or accepted, the lab not having started the work; from then on nobody does (409
``invalid_state``). The organization's billing contact sees the request but may not cancel it
(403); anybody else is not shown it (404).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import current_app
from sqlalchemy import select

from labbook.accounts.models import User
from labbook.billing.models import Charge
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.testing import services
from labbook.testing.models import ServiceRequest, ServiceRequestState
from tests.factories import (
    bearer,
    create_admin,
    create_lab,
    create_manager,
    create_service,
    create_user,
    reload,
)

PDF = b"%PDF-1.4\n% test\n"
OPEN = [ServiceRequestState.SUBMITTED, ServiceRequestState.ACCEPTED]
CLOSED = [ServiceRequestState.IN_PROGRESS, ServiceRequestState.COMPLETED,
          ServiceRequestState.REJECTED, ServiceRequestState.CANCELLED]


@dataclass
class Scene:
    item: ServiceRequest
    people: dict[str, User]


def _move(item: ServiceRequest, manager: User, state: ServiceRequestState) -> None:
    """Take ``item`` from submitted to ``state`` the way the lab and the requester would."""
    steps = {
        ServiceRequestState.ACCEPTED: [services.accept],
        ServiceRequestState.IN_PROGRESS: [services.accept, services.start],
        ServiceRequestState.COMPLETED: [services.accept, services.start, _complete],
        ServiceRequestState.REJECTED: [_reject],
        ServiceRequestState.CANCELLED: [services.cancel],
    }.get(state, [])
    for step in steps:
        with write_transaction(db.session):
            step(db.session, manager, item, now=utcnow())


def _complete(session, actor, item, *, now):
    config = current_app.config
    services.complete(session, actor, item, now=now, report_dir=config["LABBOOK_REPORT_DIR"],
                      max_bytes=config["LABBOOK_REPORT_MAX_BYTES"])


def _reject(session, actor, item, *, now):
    services.reject(session, actor, item, now=now, note="样品不符合要求")


@pytest.fixture
def scene():
    """A request by a researcher, in the state asked for, and everyone who might cancel it."""
    lab = create_lab()
    service = create_service(lab=lab)
    requester = create_user()
    organization = requester.organization
    contact = create_user(organization=organization)
    organization.billing_contact = contact
    db.session.commit()
    people = {"requester": requester, "lab manager": create_manager(lab),
              "admin": create_admin(), "billing contact": contact,
              "colleague": create_user(organization=organization),
              "other lab's manager": create_manager(create_lab())}

    def in_state(state: ServiceRequestState) -> Scene:
        with write_transaction(db.session):
            item = services.submit(db.session, requester, service, samples=2,
                                   sample_description="两根拉伸试样", express=False,
                                   now=utcnow())
        _move(item, people["lab manager"], state)
        assert reload(item).state == state
        return Scene(item, people)

    return in_state


def cancel(client, scene: Scene, who: str):
    return client.post(f"/api/v1/service-requests/{scene.item.id}/cancel",
                       headers=bearer(scene.people[who]), json={"note": "不需要了"})


@pytest.mark.parametrize("who", ["requester", "lab manager", "admin"])
@pytest.mark.parametrize("state", OPEN)
def test_the_requester_and_the_lab_cancel_a_request_submitted_or_accepted(client, scene, state,
                                                                          who):
    at = scene(state)
    shown = client.get(f"/api/v1/service-requests/{at.item.id}", headers=bearer(at.people[who]))
    assert shown.json["can_cancel"] is True

    response = cancel(client, at, who)

    assert response.status_code == 200, response.json
    assert (response.json["state"], response.json["can_cancel"]) == ("cancelled", False)
    item = reload(at.item)
    assert (item.state, item.cancelled_by_id) == (ServiceRequestState.CANCELLED,
                                                  at.people[who].id)
    assert db.session.scalars(select(Charge)).all() == []


@pytest.mark.parametrize("who", ["requester", "lab manager", "admin"])
@pytest.mark.parametrize("state", CLOSED)
def test_nobody_cancels_a_request_once_the_work_has_started_or_it_is_closed(client, scene, state,
                                                                           who):
    at = scene(state)
    shown = client.get(f"/api/v1/service-requests/{at.item.id}", headers=bearer(at.people[who]))
    assert shown.json["can_cancel"] is False

    response = cancel(client, at, who)

    assert (response.status_code, response.json["code"]) == (409, "invalid_state")
    assert reload(at.item).state == state


@pytest.mark.parametrize(("who", "status", "code"), [
    ("billing contact", 403, "forbidden"),
    ("colleague", 404, "not_found"),
    ("other lab's manager", 404, "not_found"),
])
@pytest.mark.parametrize("state", OPEN)
def test_nobody_else_cancels_a_request(client, scene, state, who, status, code):
    at = scene(state)
    shown = client.get(f"/api/v1/service-requests/{at.item.id}", headers=bearer(at.people[who]))
    if who == "billing contact":
        assert (shown.status_code, shown.json["can_cancel"]) == (200, False)
    else:
        assert shown.status_code == 404

    response = cancel(client, at, who)
    assert (response.status_code, response.json["code"]) == (status, code)
    with pytest.raises(DomainError) as refused, write_transaction(db.session):
        services.cancel(db.session, at.people[who], at.item, now=utcnow())
    assert (refused.value.status, refused.value.code) == (status, code)
    assert reload(at.item).state == state


@pytest.mark.parametrize(("state", "offered"), [
    (ServiceRequestState.ACCEPTED, True),
    (ServiceRequestState.IN_PROGRESS, False),
])
def test_the_requesters_page_offers_cancelling_until_the_work_starts(client, scene, login_as,
                                                                     state, offered):
    at = scene(state)
    page = login_as(at.people["requester"]).get(f"/service-requests/{at.item.id}")
    assert page.status_code == 200
    assert (f'action="/service-requests/{at.item.id}/cancel"' in page.text) is offered
