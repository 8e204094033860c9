"""PIPL: a person downloads their data and asks for its deletion; an admin deletes it (the
person anonymised in bookings and the audit trail, billing records kept) or refuses."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import User
from labbook.accounts.services import update_user
from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from labbook.privacy import services as privacy
from labbook.privacy.models import DeletionRequest, DeletionState
from tests.factories import (
    PASSWORD,
    create_admin,
    create_booking,
    create_charge,
    create_user,
    reload,
)


def test_a_person_downloads_their_data_as_json_and_zip(client, login_as):
    user = create_user(name="王五", phone="13900000000")
    create_booking(user=user, purpose="XRD 物相分析")
    login_as(user)
    data = client.get("/privacy/my-data.json")
    assert data.status_code == 200
    assert data.headers["Content-Disposition"].startswith("attachment")
    document = data.get_json()
    assert document["account"]["name"] == "王五"
    assert document["account"]["phone"] == "13900000000"
    assert document["bookings"][0]["purpose"] == "XRD 物相分析"
    archive = zipfile.ZipFile(io.BytesIO(client.get("/privacy/my-data.zip").data))
    assert json.loads(archive.read("labbook-data.json"))["account"]["email"] == user.email
    assert client.get("/privacy").status_code == 200


def test_deletion_anonymises_the_person_and_keeps_billing_records(client, login_as):
    admin = create_admin()
    user = create_user(name="赵六", email="zhao@example.cn", phone="13700000000")
    booking = create_booking(user=user, purpose="私人备注")
    charge = create_charge(organization=user.organization)
    with write_transaction(db.session):
        update_user(db.session, admin, user, now=dt.datetime.now(dt.UTC), email=user.email,
                    name="赵六", phone="13700000001", role="researcher",
                    organization=user.organization, labs=[], locale="zh_CN")
    login_as(user)
    assert client.post("/privacy/deletion-request").status_code == 302
    assert client.post("/privacy/deletion-request").status_code == 302  # refused: waits already
    assert db.session.scalar(select(func.count()).select_from(DeletionRequest)) == 1
    deletion = db.session.scalar(select(DeletionRequest))

    login_as(admin)
    assert "赵六" in client.get("/admin/privacy-requests").get_data(as_text=True)
    client.post(f"/admin/privacy-requests/{deletion.id}/complete")
    assert reload(deletion).state == DeletionState.COMPLETED
    user = reload(user)
    assert not user.is_active and "赵六" not in user.name
    assert user.email != "zhao@example.cn" and user.phone == ""
    assert reload(booking).purpose != "私人备注" and booking.user_id == user.id
    assert reload(charge).amount == charge.amount  # the billing record stays
    assert db.session.scalar(select(func.count()).select_from(Charge)) == 1
    texts = [json.dumps(event.details, ensure_ascii=False)
             for event in db.session.scalars(select(AuditEvent))]
    assert not any("zhao@example.cn" in text or "13700000000" in text for text in texts)
    assert [m.kind for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.recipient == "zhao@example.cn"))] == ["deletion_completed"]
    # The account cannot sign in any more.
    client.post("/logout")
    refused = client.post("/login", data={"email": "zhao@example.cn", "password": PASSWORD})
    assert (refused.status_code, refused.headers["Location"]) == (303, "/login")


def test_an_admin_refuses_with_a_reason(client, login_as):
    admin = create_admin()
    user = create_user()
    login_as(user)
    client.post("/privacy/deletion-request")
    deletion = db.session.scalar(select(DeletionRequest))
    login_as(admin)
    client.post(f"/admin/privacy-requests/{deletion.id}/reject", data={"reason": ""})
    assert reload(deletion).state == DeletionState.PENDING
    client.post(f"/admin/privacy-requests/{deletion.id}/reject", data={"reason": "账单未结清"})
    assert reload(deletion).state == DeletionState.REJECTED
    assert reload(user).is_active
    assert db.session.scalar(select(OutboxMessage).where(
        OutboxMessage.kind == "deletion_rejected")).recipient == user.email


def test_only_admins_handle_requests(client, login_as):
    user = create_user()
    login_as(user)
    client.post("/privacy/deletion-request")
    deletion = db.session.scalar(select(DeletionRequest))
    assert client.get("/admin/privacy-requests").status_code == 403
    assert client.post(f"/admin/privacy-requests/{deletion.id}/complete").status_code == 403
    assert db.session.get(User, user.id).is_active


def test_a_person_may_ask_again_once_their_request_is_handled_and_whatever_others_asked():
    person, someone_else = create_user(), create_user()
    now = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
    with write_transaction(db.session):
        privacy.request_deletion(db.session, someone_else, now=now)
    with write_transaction(db.session):
        first = privacy.request_deletion(db.session, person, now=now)
    assert privacy.pending_request(db.session, person).id == first.id
    with write_transaction(db.session):
        privacy.reject_deletion(db.session, create_admin(), first, reason="账单未结清 / unpaid",
                                now=now)
    assert privacy.pending_request(db.session, person) is None
    with write_transaction(db.session):
        again = privacy.request_deletion(db.session, person, now=now)
    assert again.id != first.id
    with pytest.raises(Conflict) as twice, write_transaction(db.session):
        privacy.request_deletion(db.session, person, now=now)
    assert twice.value.code == "deletion_requested"
