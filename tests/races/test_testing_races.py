"""A lab's decisions on a testing-service request racing the requester's cancellation.

Whatever the order, the request ends in one state its answers agree with, its audit trail
follows on from itself, and a completed request is charged exactly once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from labbook.accounts.models import User
from labbook.billing.models import Charge
from labbook.billing.pricing import quote
from labbook.catalogue.models import TestingService
from labbook.extensions import db
from labbook.testing.models import ServiceRequest, ServiceRequestState
from tests.factories import create_manager, create_service, create_user
from tests.races.harness import (
    Call,
    Transition,
    api_headers,
    assert_serializable,
    becomes,
    fire,
    play_rounds,
    trail,
)

pytestmark = pytest.mark.slow

#: A request as the model sees it: its state and whether it is charged.
RequestView = tuple[str, bool]

SUBMITTED, ACCEPTED, IN_PROGRESS = (ServiceRequestState.SUBMITTED, ServiceRequestState.ACCEPTED,
                                    ServiceRequestState.IN_PROGRESS)


def charged(_source: str, _was_charged: bool) -> bool:
    """Completing a request charges it."""
    return True


MODEL: dict[str, Transition] = {
    "accept": becomes(ServiceRequestState.ACCEPTED, SUBMITTED),
    "reject": becomes(ServiceRequestState.REJECTED, SUBMITTED),
    "start": becomes(IN_PROGRESS, ACCEPTED),
    "complete": becomes(ServiceRequestState.COMPLETED, IN_PROGRESS, then=charged),
    "cancel": becomes(ServiceRequestState.CANCELLED, SUBMITTED, ACCEPTED),
}


@dataclass
class Scene:
    service: TestingService
    requester: User
    requester_api: dict[str, str]
    manager_api: dict[str, str]
    other_manager_api: dict[str, str]


@pytest.fixture
def scene() -> Scene:
    service = create_service()
    requester = create_user()
    return Scene(service, requester, api_headers(requester),
                 api_headers(create_manager(service.lab)),
                 api_headers(create_manager(service.lab)))


def new_request(scene: Scene, state: ServiceRequestState) -> int:
    """A request for two samples, written straight to the database in ``state``."""
    organization = scene.requester.organization
    priced = quote(scene.service, organization.tier, 2, express=False)
    now = dt.datetime.now(dt.UTC)
    item = ServiceRequest(
        service=scene.service, requester=scene.requester, organization=organization,
        samples=2, sample_description="两根拉伸试样", is_express=False, notes="", state=state,
        tier=priced.tier, quoted_unit_price=priced.unit_price, express_surcharge_percent=0,
        quoted_express_surcharge=priced.express_surcharge, quoted_total=priced.total,
        decision_note="", created_at=now, updated_at=now,
        due_date=None if state == SUBMITTED else now.date() + dt.timedelta(days=7),
        started_at=now if state == IN_PROGRESS else None)
    db.session.add(item)
    db.session.commit()
    return item.id


def action(op: str, request_id: int, headers: dict[str, str], json: Any = None) -> Call:
    return Call(op, "POST", f"/api/v1/service-requests/{request_id}/{op}", headers, json,
                told=lambda body: body["state"])


def race(server: str, scene: Scene, state: ServiceRequestState, calls: Any) -> None:
    def play(_round: int) -> None:
        request_id = new_request(scene, state)
        answers = fire(server, calls(request_id))
        assert_serializable((state.value, False), MODEL, answers, final_request(request_id),
                            view=lambda state: state[0],
                            trail=trail(ServiceRequest, request_id))

    play_rounds(play)


def final_request(request_id: int) -> RequestView:
    db.session.rollback()
    state = db.session.scalar(select(ServiceRequest.state)
                              .where(ServiceRequest.id == request_id))
    charges = db.session.scalars(select(Charge.id)
                                 .where(Charge.service_request_id == request_id)).all()
    assert len(charges) <= 1, f"service request {request_id} is charged {len(charges)} times"
    return state.value, bool(charges)


def test_accept_races_the_requesters_cancellation(server, scene):
    race(server, scene, SUBMITTED, lambda request_id: [
        action("accept", request_id, scene.manager_api),
        action("cancel", request_id, scene.requester_api, {"note": "样品另送他处"})])


def test_accept_races_reject(server, scene):
    race(server, scene, SUBMITTED, lambda request_id: [
        action("accept", request_id, scene.manager_api),
        action("reject", request_id, scene.other_manager_api, {"note": "样品不符合要求"})])


def test_complete_races_cancellation_of_a_request_in_progress(server, scene):
    race(server, scene, IN_PROGRESS, lambda request_id: [
        action("complete", request_id, scene.manager_api),
        action("cancel", request_id, scene.requester_api)])


def test_start_complete_and_cancel_race_on_an_accepted_request(server, scene):
    race(server, scene, ACCEPTED, lambda request_id: [
        action("start", request_id, scene.manager_api),
        action("complete", request_id, scene.other_manager_api),
        action("cancel", request_id, scene.requester_api)])


def test_two_completions_race(server, scene):
    race(server, scene, IN_PROGRESS, lambda request_id: [
        action("complete", request_id, scene.manager_api),
        action("complete", request_id, scene.other_manager_api)])
