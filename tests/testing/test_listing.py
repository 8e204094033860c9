"""Who sees which test requests in a list: the API's list, "my requests" and the lab's queue all
read one service query."""

from __future__ import annotations

import datetime as dt

from labbook.extensions import db
from labbook.testing import services
from labbook.testing.models import ServiceRequestState
from tests.factories import create_lab, create_manager, create_service, create_user

NOW = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)


def _request(service, requester, minutes: int = 0):
    return services.submit(db.session, requester, service, samples=1,
                           sample_description="钢", express=False,
                           now=NOW + dt.timedelta(minutes=minutes))


def _listed(query) -> list[int]:
    return [item.id for item in db.session.scalars(query)]


def test_a_manager_lists_every_request_of_their_lab_and_only_their_own_elsewhere():
    own_lab, other_lab = create_lab(), create_lab()
    manager = create_manager(own_lab)
    researcher = create_user()
    theirs_here = _request(create_service(lab=own_lab), researcher, 1)
    mine_elsewhere = _request(create_service(lab=other_lab), manager, 2)
    theirs_elsewhere = _request(create_service(lab=other_lab), researcher, 3)

    assert _listed(services.visible_requests(manager)) == [mine_elsewhere.id]
    assert _listed(services.visible_requests(manager, labs=[own_lab])) == [theirs_here.id]
    assert _listed(services.visible_requests(manager, labs=[other_lab])) == [mine_elsewhere.id]
    assert _listed(services.visible_requests(researcher, labs=[own_lab, other_lab])) == [
        theirs_elsewhere.id, theirs_here.id]  # newest first
    # Only the labs asked for: not their own request in another lab.
    assert _listed(services.visible_requests(researcher, labs=[other_lab])) == [
        theirs_elsewhere.id]


def test_the_queue_holds_the_managed_labs_requests_in_the_states_asked_oldest_first():
    lab, other_lab = create_lab(), create_lab()
    manager = create_manager(lab)
    service = create_service(lab=lab)
    first, second = _request(service, create_user(), 1), _request(service, create_user(), 2)
    services.accept(db.session, manager, second, now=NOW)

    assert services.request_queue(db.session, manager, [lab]) == [first, second]
    assert services.request_queue(db.session, manager, [lab], services.OPEN_STATES) == [
        first, second]
    assert services.request_queue(db.session, manager, [lab],
                                  (ServiceRequestState.ACCEPTED,)) == [second]
    assert services.request_queue(db.session, manager, [other_lab]) == []


def test_the_queue_is_by_the_time_of_the_request_not_by_its_number():
    lab = create_lab()
    manager = create_manager(lab)
    service = create_service(lab=lab)
    # Numbered in one order, made (created_at) in the other.
    later, earlier = _request(service, create_user(), 5), _request(service, create_user(), 1)
    assert services.request_queue(db.session, manager, [lab]) == [earlier, later]
    assert _listed(services.visible_requests(manager, labs=[lab])) == [later.id, earlier.id]
