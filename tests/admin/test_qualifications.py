"""Training records in bulk on the managers' page: a training session, then revocations."""

import datetime as dt

from sqlalchemy import select

from labbook.accounts.models import Qualification
from labbook.audit.models import AuditEvent
from labbook.extensions import db
from labbook.web import FORM_REFUSED
from tests.admin.conftest import text
from tests.factories import create_user, lab_time, next_weekday


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
        "instrument_id": instrument.id})
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

    assert client.post("/manage/qualifications/revoke").status_code == FORM_REFUSED
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
