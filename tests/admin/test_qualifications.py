"""Training records: a training session on the managers' page, the same grant twice (one
after the other or at the same moment), revocations, and what callers who may not grant learn."""

import datetime as dt
import json
import re
import threading
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent
from labbook.booking import training
from labbook.booking.models import Qualification
from labbook.catalogue.models import Instrument
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.web import FORM_REFUSED
from tests.admin.conftest import text
from tests.factories import (
    another_session,
    bearer,
    create_instrument,
    create_manager,
    create_user,
    lab_time,
    next_weekday,
    reload,
)
from tests.live import live_server


def test_a_training_session_grants_everyone_at_once(login_as, manager, instrument):
    people = [create_user(name=f"Trainee {n}") for n in range(3)]
    valid_until = next_weekday(0) + dt.timedelta(days=90)
    client = login_as(manager)

    response = client.post("/manage/qualifications", data={
        "email": f"{people[0].email.upper()},\n{people[1].email}；{people[2].email} "
                 f"{people[0].email}",
        "instrument_id": instrument.id, "valid_until": valid_until.isoformat()})

    assert response.status_code == 302
    granted = db.session.scalars(select(Qualification)).all()
    assert sorted(q.user_id for q in granted) == sorted(p.id for p in people)
    assert {q.expires_at for q in granted} == {lab_time(valid_until + dt.timedelta(days=1), 0)}
    assert "3 people may now use X-ray diffractometer" in text(client.get("/manage/qualifications"))
    assert db.session.query(AuditEvent).filter_by(action="grant").count() == 3


def test_one_unknown_address_grants_nobody(login_as, manager, instrument):
    known = create_user()
    response = login_as(manager).post("/manage/qualifications", data={
        "email": f"{known.email} nobody@example.cn ghost@example.cn",
        "instrument_id": instrument.id}, follow_redirects=True)
    assert response.status_code == FORM_REFUSED
    page = text(response)
    assert "Nobody has an account with the email nobody@example.cn." in page
    assert "ghost@example.cn" in page
    assert db.session.scalars(select(Qualification)).first() is None


def test_revoking_several_records_at_once(login_as, manager, other_manager, instrument):
    now = dt.datetime.now(dt.UTC)
    records = [Qualification(user=create_user(), instrument=instrument, granted_at=now)
               for _ in range(3)]
    db.session.add_all(records)
    db.session.commit()
    client = login_as(manager)
    page = text(client.get("/manage/qualifications"))
    assert 'form="bulk-revoke"' in page

    assert client.post("/manage/qualifications/revoke",
                       follow_redirects=True).status_code == FORM_REFUSED
    response = client.post("/manage/qualifications/revoke",
                           data={"qualification_ids": [records[0].id, records[2].id]})

    assert response.status_code == 302
    revoked = {q.id for q in db.session.scalars(select(Qualification).where(
        Qualification.revoked_at.is_not(None)))}
    assert revoked == {records[0].id, records[2].id}
    assert "2 training records were revoked." in text(client.get("/manage/qualifications"))

    response = login_as(other_manager).post("/manage/qualifications/revoke",
                                            data={"qualification_ids": [records[1].id]})
    assert response.status_code == 404
    db.session.rollback()
    assert db.session.get(Qualification, records[1].id).revoked_at is None


# -- the same grant twice, at once or one after the other ---------------------------------------


def grant(client, headers, user, instrument, **body):
    return client.post("/api/v1/qualifications", headers=headers, json={
        "user_email": user.email, "instrument_id": instrument.id, **body})


def in_force(user, instrument) -> list[Qualification]:
    db.session.rollback()
    return list(db.session.scalars(select(Qualification).where(
        Qualification.user_id == user.id, Qualification.instrument_id == instrument.id,
        Qualification.revoked_at.is_(None))))


def grant_events() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "grant"))


def test_the_same_grant_again_answers_with_the_record_in_force(client, manager, instrument,
                                                                researcher):
    headers = bearer(manager)
    first = grant(client, headers, researcher, instrument)
    again = grant(client, headers, researcher, instrument)

    assert (first.status_code, first.json["already_granted"]) == (201, False)
    assert (again.status_code, again.json["already_granted"]) == (200, True)
    assert again.json["id"] == first.json["id"]
    assert [q.id for q in in_force(researcher, instrument)] == [first.json["id"]]
    assert grant_events() == 1


def test_a_grant_with_another_expiry_replaces_the_record_in_force(client, manager, instrument,
                                                                  researcher):
    headers = bearer(manager)
    soon, later = (next_weekday(0) + dt.timedelta(days=n) for n in (30, 365))
    first = grant(client, headers, researcher, instrument,
                  expires_at=lab_time(soon, 0).isoformat())
    renewed = grant(client, headers, researcher, instrument,
                    expires_at=lab_time(later, 0).isoformat())

    assert (first.status_code, renewed.status_code) == (201, 201)
    [record] = in_force(researcher, instrument)
    assert (record.id, record.expires_at) == (renewed.json["id"], lab_time(later, 0))
    assert db.session.get(Qualification, first.json["id"]).revoked_by_id == manager.id
    assert grant_events() == 2


def test_the_database_holds_one_record_in_force_per_user_and_instrument(instrument,
                                                                       researcher):
    now = dt.datetime.now(dt.UTC)
    db.session.add_all([Qualification(user=researcher, instrument=instrument, granted_at=now)
                        for _ in range(2)])
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add_all([Qualification(user=researcher, instrument=instrument, granted_at=now,
                                      revoked_at=now) for _ in range(2)])
    db.session.commit()


def test_a_grant_waits_for_the_same_grant_of_another_request_and_finds_it(app, manager,
                                                                         instrument, researcher):
    engine = db.engine
    holding, release = threading.Event(), threading.Event()

    def first_grant() -> None:
        with app.app_context(), Session(engine) as other, write_transaction(other):
            training.grant_qualification(other, other.get(User, manager.id),
                                         other.get(User, researcher.id),
                                         other.get(Instrument, instrument.id), now=utcnow())
            holding.set()
            release.wait(10)

    first = threading.Thread(target=first_grant)
    first.start()
    assert holding.wait(10)
    threading.Timer(0.3, release.set).start()
    with write_transaction(db.session):
        second = training.grant_qualification_by_email(db.session, manager, researcher.email,
                                                       instrument, now=utcnow())
    first.join(10)

    assert not second.is_new
    assert [q.id for q in in_force(researcher, instrument)] == [second.qualification.id]
    assert grant_events() == 1


@pytest.mark.slow
def test_the_same_grant_sent_twice_at_once_writes_one_record(database_url, manager, lab,
                                                             category):
    rounds = [(create_user(), create_instrument(lab=lab, category=category))
              for _ in range(8)]
    headers = bearer(manager)
    db.session.rollback()

    with live_server(database_url, workers=4) as base_url:
        for user, instrument in rounds:
            body = json.dumps({"user_email": user.email, "instrument_id": instrument.id})
            answers = race(f"{base_url}/api/v1/qualifications", headers, body.encode(), 2)
            assert sorted(status for status, _body in answers) == [200, 201], answers
            assert len({body["id"] for _status, body in answers}) == 1
            assert len(in_force(user, instrument)) == 1

    assert grant_events() == len(rounds)


def race(url: str, headers: dict, body: bytes, clients: int) -> list[tuple[int, dict]]:
    """``clients`` identical POSTs sent at the same moment; their statuses and JSON bodies."""
    barrier = threading.Barrier(clients)
    answers: list[tuple[int, dict]] = []

    def post() -> None:
        request = urllib.request.Request(url, data=body, method="POST", headers={
            **headers, "Content-Type": "application/json"})
        barrier.wait(30)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers.append((response.status, json.loads(response.read())))
        except urllib.error.HTTPError as error:
            answers.append((error.code, json.loads(error.read())))

    threads = [threading.Thread(target=post) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return answers


# -- revoking ------------------------------------------------------------------------------------


def test_revoking_a_record_revoked_meanwhile_records_it_once(manager, instrument, researcher):
    colleague = create_manager(instrument.lab)
    with write_transaction(db.session):
        record = training.grant_qualification(db.session, manager, researcher, instrument,
                                              now=utcnow())
    with another_session() as other:  # the colleague's page revokes it first
        training.revoke_qualification(other, other.get(User, colleague.id),
                                      other.get(Qualification, record.id), now=utcnow())

    with write_transaction(db.session):
        training.revoke_qualification(db.session, manager, record, now=utcnow())

    assert reload(record).revoked_by_id == colleague.id
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "revoke")) == 1


# -- nothing tells a caller who may not grant which addresses have accounts ----------------------

#: The language switch's CSRF token: signed with the time, so it differs from second to second.
CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*>')


def test_a_caller_who_may_not_grant_gets_one_answer_for_every_address(client, researcher,
                                                                      other_manager,
                                                                      instrument):
    known = create_user(email="known@example.cn")
    deactivated = create_user(email="gone@example.cn", is_active=False)
    addresses = [known.email, "KNOWN@example.cn", deactivated.email, "nobody@example.cn",
                 researcher.email]
    for caller in (researcher, other_manager):
        headers = bearer(caller)
        answers = {(answer.status_code, answer.get_data(as_text=True)) for answer in (
            client.post("/api/v1/qualifications", headers=headers, json={
                "user_email": email, "instrument_id": instrument.id}) for email in addresses)}
        [(status, body)] = answers
        assert status == 403 and json.loads(body)["code"] == "forbidden"
    assert db.session.scalars(select(Qualification)).first() is None


def test_the_training_page_answers_a_researcher_alike_for_every_address(login_as, researcher,
                                                                       instrument):
    client = login_as(researcher)
    answers = {(answer.status_code, CSRF_TOKEN.sub("", text(answer))) for answer in (
        client.post("/manage/qualifications", data={"email": email,
                                                    "instrument_id": instrument.id})
        for email in (researcher.email, create_user().email, "nobody@example.cn"))}
    [(status, _page)] = answers
    assert status == 403


def test_the_lab_manager_learns_which_addresses_have_no_account(client, manager, instrument):
    answer = client.post("/api/v1/qualifications", headers=bearer(manager), json={
        "user_email": "nobody@example.cn", "instrument_id": instrument.id})
    assert answer.status_code == 422
    assert answer.json["code"] == "unknown_user"
    assert answer.json["problems"][0]["field"] == "user_email"
