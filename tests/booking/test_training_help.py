"""A refusal for want of training (``not_qualified``) is a way forward: it names the lab's
contact person with phone and email and offers to ask for training right there — the lab's
managers are emailed and see the request in their queue — or says when the person asked."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.booking import services
from labbook.booking.training import grant_qualification
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from labbook.training import services as training
from labbook.training.models import RequestState, TrainingRequest
from tests.booking.test_views import assert_well_formed, check, form, iso, text
from tests.factories import (
    LAB_TZ,
    bearer,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
)

MONDAY = next_weekday(0)
CONTACT = {"name": "王磊", "phone": "0391-3987101", "email": "nem.manager@jzit.example.cn"}


@pytest.fixture
def lab():
    return create_lab(code="NEM", contact_name=CONTACT["name"],
                      contact_phone=CONTACT["phone"], contact_email=CONTACT["email"])


@pytest.fixture
def manager(lab):
    return create_manager(lab, email="wang@jzit.example.cn")


@pytest.fixture
def instrument(lab, manager):
    return create_instrument(lab=lab, requires_qualification=True, name_en="Glovebox")


@pytest.fixture
def researcher():
    return create_user(locale="en")


def refused_problem(user, instrument):
    with pytest.raises(services.BookingRefused) as refused:
        services.create_booking(db.session, user, instrument_id=instrument.id,
                                start=lab_time(MONDAY, 10), end=lab_time(MONDAY, 11),
                                purpose="XRD", now=lab_time(MONDAY, 7))
    [problem] = refused.value.problems
    return problem


def test_the_refusal_names_the_contact_and_whether_one_asked(researcher, instrument):
    problem = refused_problem(researcher, instrument)
    assert problem.code == "not_qualified"
    assert problem.extra["training"] == {
        "instrument_id": instrument.id, "lab": "NEM", "contact": CONTACT,
        "requested_at": None, "request_id": None}
    asked_at = lab_time(MONDAY - dt.timedelta(days=3), 9)
    request = training.request_training(db.session, researcher, instrument, now=asked_at)
    db.session.commit()
    assert refused_problem(researcher, instrument).extra["training"] == {
        "instrument_id": instrument.id, "lab": "NEM", "contact": CONTACT,
        "requested_at": asked_at.isoformat(), "request_id": request.id}


def test_a_lab_naming_nobody_says_so(researcher):
    instrument = create_instrument(requires_qualification=True)
    assert refused_problem(researcher, instrument).extra["training"]["contact"] is None


def test_other_refusals_carry_no_training(researcher):
    with pytest.raises(services.BookingRefused) as refused:
        services.create_booking(db.session, researcher,
                                instrument_id=create_instrument().id,
                                start=lab_time(MONDAY, 19), end=lab_time(MONDAY, 20),
                                purpose="XRD", now=lab_time(MONDAY, 7))
    assert all("training" not in p.extra for p in refused.value.problems)



def test_beside_other_problems_only_the_training_one_carries_the_way_to_training(
        researcher, instrument):
    with pytest.raises(services.BookingRefused) as refused:
        services.create_booking(db.session, researcher, instrument_id=instrument.id,
                                start=lab_time(MONDAY, 19), end=lab_time(MONDAY, 20),
                                purpose="XRD", now=lab_time(MONDAY, 7))
    carrying = {p.code: "training" in p.extra for p in refused.value.problems}
    assert carrying["not_qualified"] is True
    assert carrying["outside_hours"] is False

def test_the_refusal_page_offers_to_ask_and_the_managers_hear_of_it(
        login_as, researcher, manager, instrument):
    client = login_as(researcher)
    refused = client.post(f"/instruments/{instrument.id}/book", data=form(),
                          follow_redirects=True)
    page = text(refused)
    assert_well_formed(page)
    assert "How to get trained on this instrument" in page
    assert "王磊" in page and 'href="tel:0391-3987101"' in page
    assert 'href="mailto:nem.manager@jzit.example.cn"' in page
    action = f'action="/training/instruments/{instrument.id}/request"'
    assert action in page and "Request training" in page

    back = f"/instruments/{instrument.id}/calendar?date={MONDAY.isoformat()}"
    asked = client.post(f"/training/instruments/{instrument.id}/request",
                        data={"next": back})
    assert asked.status_code == 302 and asked.location == back
    request = db.session.scalars(select(TrainingRequest)).one()
    assert (request.user_id, request.instrument_id, request.state) == (
        researcher.id, instrument.id, RequestState.OPEN)
    assert [m.recipient for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == "training_requested"))] == [manager.email]
    assert [r.id for r in training.open_requests(db.session, manager)] == [request.id]
    assert "Your request for training on Glovebox was sent to the lab&#39;s managers." in \
        text(client.get(back))

    again = text(client.post(f"/instruments/{instrument.id}/book", data=form(),
                             follow_redirects=True))
    assert "You asked for training on" in again and action not in again
    twice = client.post(f"/training/instruments/{instrument.id}/request", data={"next": back})
    assert twice.status_code == 302
    assert "already; the lab&#39;s managers have your request." in text(client.get(back))
    assert db.session.scalar(select(TrainingRequest.id).where(
        TrainingRequest.id != request.id)) is None


def test_the_request_button_goes_back_only_to_a_local_page(login_as, researcher, instrument):
    asked = login_as(researcher).post(f"/training/instruments/{instrument.id}/request",
                                      data={"next": "https://evil.example.com/"})
    assert asked.location == "/training/"


def test_the_live_check_carries_the_same(login_as, researcher, instrument):
    client = login_as(researcher)
    answer = check(client, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11)).json
    [problem] = answer["problems"]
    assert problem["training"] == {
        "instrument_id": instrument.id, "lab": "NEM", "contact": CONTACT,
        "requested_at": None, "request_id": None, "requested_label": None,
        "request_url": f"/training/instruments/{instrument.id}/request"}
    client.post(f"/training/instruments/{instrument.id}/request")
    problem = check(client, instrument, lab_time(MONDAY, 10), lab_time(MONDAY, 11)).json[
        "problems"][0]
    assert problem["training"]["requested_label"] is not None


def test_the_api_problem_links_to_asking_for_training(client, researcher, instrument):
    headers = bearer(researcher)
    body = {"instrument_id": instrument.id, "start": iso(lab_time(MONDAY, 10)),
            "end": iso(lab_time(MONDAY, 11)), "purpose": "XRD"}
    refused = client.post("/api/v1/bookings", headers=headers, json=body)
    assert refused.status_code == 409 and refused.json["code"] == "not_qualified"
    help_ = refused.json["problems"][0]["training"]
    assert help_["contact"] == CONTACT and help_["requested_at"] is None
    assert help_["request"] == {"method": "POST", "href": "/api/v1/training-requests",
                                "body": {"instrument_id": instrument.id}}
    asked = client.post(help_["request"]["href"], headers=headers, json=help_["request"]["body"])
    assert asked.status_code == 201
    help_ = client.post("/api/v1/bookings", headers=headers, json=body).json["problems"][0][
        "training"]
    assert help_["requested_at"] == asked.json["created_at"] and "request" not in help_


def lapsing_booking(researcher, manager, instrument):
    """``researcher``'s booking 10:00–11:00 on Monday, made while trained until 15:00: moving
    it to 14:00–16:00 reaches past the record."""
    grant_qualification(db.session, manager, researcher, instrument,
                        now=lab_time(MONDAY, 7) - dt.timedelta(days=3),
                        expires_at=lab_time(MONDAY, 15))
    db.session.commit()
    booking = services.create_booking(db.session, researcher, instrument_id=instrument.id,
                                      start=lab_time(MONDAY, 10), end=lab_time(MONDAY, 11),
                                      purpose="XRD", now=lab_time(MONDAY, 7))
    db.session.commit()
    return booking


def test_a_move_refused_for_a_lapsing_record_carries_the_way_to_training_too(
        client, login_as, researcher, manager, instrument):
    booking = lapsing_booking(researcher, manager, instrument)
    moved = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(researcher),
                         json={"start": iso(lab_time(MONDAY, 14)),
                               "end": iso(lab_time(MONDAY, 16))})
    assert moved.status_code == 409 and moved.json["code"] == "not_qualified"
    help_ = moved.json["problems"][0]["training"]
    assert help_["contact"] == CONTACT and help_["requested_at"] is None
    assert help_["request"]["body"] == {"instrument_id": instrument.id}

    page = text(login_as(researcher).post(f"/bookings/{booking.id}/change", data={
        "change-date": MONDAY.isoformat(), "change-start_time": "14:00",
        "change-end_time": "16:00"}, follow_redirects=True))
    assert_well_formed(page)
    assert "How to get trained on this instrument" in page
    assert f'action="/training/instruments/{instrument.id}/request"' in page


@pytest.mark.usefixtures("english")
def test_a_manager_booking_for_someone_untrained_is_told_whose_record_is_missing(
        client, login_as, manager, instrument):
    manager.locale = "en"
    researcher = create_user(name="Chen Jie")
    message = "Chen Jie has no valid training record for this instrument."
    with pytest.raises(services.BookingRefused) as refused:
        services.create_booking(db.session, manager, instrument_id=instrument.id,
                                start=lab_time(MONDAY, 10), end=lab_time(MONDAY, 11),
                                purpose="XRD", for_user_id=researcher.id,
                                now=lab_time(MONDAY, 7))
    [problem] = refused.value.problems
    assert (problem.code, problem.message) == ("not_qualified", message)
    # Asking for training is the person's own: the manager gets no button asking it for them.
    assert "training" not in problem.extra
    page = login_as(manager).post(f"/instruments/{instrument.id}/book", data={
        **form(), "for_user": researcher.email}, follow_redirects=True)
    assert message in text(page) and "data-training-help" not in page.text
    api = client.post("/api/v1/bookings", headers=bearer(manager), json={
        "instrument_id": instrument.id, "start": iso(lab_time(MONDAY, 10)),
        "end": iso(lab_time(MONDAY, 11)), "purpose": "XRD", "for_user_id": researcher.id})
    assert api.status_code == 409
    assert api.json["problems"][0]["message"] == message
    assert "training" not in api.json["problems"][0]


@pytest.mark.usefixtures("english")
def test_a_manager_moving_an_untrained_person_s_booking_gets_no_training_request(
        client, researcher, manager, instrument):
    manager.locale = "en"
    booking = lapsing_booking(researcher, manager, instrument)
    moved = client.patch(f"/api/v1/bookings/{booking.id}", headers=bearer(manager),
                         json={"start": iso(lab_time(MONDAY, 14)),
                               "end": iso(lab_time(MONDAY, 16))})
    assert moved.status_code == 409 and moved.json["code"] == "not_qualified"
    [problem] = moved.json["problems"]
    assert problem["message"] == f"{researcher.name} has no valid training record for this " \
                                 "instrument."
    assert "training" not in problem


def test_the_change_page_says_when_one_asked_for_training(login_as, researcher, manager,
                                                          instrument):
    booking = lapsing_booking(researcher, manager, instrument)
    asked_at = lab_time(MONDAY, 7) - dt.timedelta(days=2)
    training.request_training(db.session, researcher, instrument, now=asked_at)
    db.session.commit()
    page = text(login_as(researcher).post(f"/bookings/{booking.id}/change", data={
        "change-date": MONDAY.isoformat(), "change-start_time": "14:00",
        "change-end_time": "16:00"}))
    assert "How to get trained on this instrument" in page
    assert asked_at.astimezone(LAB_TZ).strftime("%Y-%m-%d %H:%M") in page
    assert f'action="/training/instruments/{instrument.id}/request"' not in page
