"""The API of enterprises, personal data and notification channels."""

from __future__ import annotations

from sqlalchemy import select

from labbook.enterprises.models import Invitation, Registration, RegistrationState
from labbook.extensions import db
from labbook.privacy.models import DeletionRequest
from tests.enterprises.test_organization_admin import organization_with_admin
from tests.factories import bearer, create_admin, create_user, make_uscc


def test_an_organizations_admin_invites_and_removes_by_the_api(client):
    organization, admin = organization_with_admin()
    member = create_user(organization=organization, name="同事")
    headers = bearer(admin)
    body = client.get("/api/v1/organization", headers=headers).get_json()
    assert {m["name"] for m in body["members"]} >= {"同事"}
    created = client.post("/api/v1/organization/invitations", headers=headers,
                          json={"email": "new@example.cn"})
    assert created.status_code == 201 and created.get_json()["email"] == "new@example.cn"
    refused = client.post("/api/v1/organization/invitations", headers=headers,
                          json={"email": member.email})
    assert refused.status_code == 422 and refused.get_json()["code"] == "already_member"
    assert len(db.session.scalars(select(Invitation)).all()) == 1
    assert client.delete(f"/api/v1/organization/members/{member.id}",
                         headers=headers).status_code == 204
    assert client.delete(f"/api/v1/organization/members/{admin.id}",
                         headers=headers).get_json()["code"] == "cannot_remove_self"


def test_an_admin_decides_registrations_by_the_api(client):
    admin = create_admin()
    registration = Registration(
        state=RegistrationState.PENDING, organization_name="新企业", uscc=make_uscc(555),
        address="焦作", contact_phone="0391", name="注册人", email="reg@example.cn",
        locale="zh_CN", password_hash="x", reason="")
    db.session.add(registration)
    db.session.commit()
    headers = bearer(admin)
    listed = client.get("/api/v1/registrations?state=pending", headers=headers).get_json()
    assert [item["uscc"] for item in listed["items"]] == [make_uscc(555)]
    approved = client.post(f"/api/v1/registrations/{registration.id}/approve", headers=headers,
                           json={"tier": "partner"})
    assert approved.status_code == 200 and approved.get_json()["state"] == "approved"
    again = client.post(f"/api/v1/registrations/{registration.id}/reject", headers=headers,
                        json={"reason": "重复"})
    assert again.status_code == 409 and again.get_json()["code"] == "invalid_state"
    assert client.get("/api/v1/registrations",
                      headers=bearer(create_user())).status_code == 403


def test_personal_data_and_deletion_request_by_the_api(client):
    user = create_user(name="钱七")
    headers = bearer(user)
    data = client.get("/api/v1/me/personal-data", headers=headers).get_json()
    assert data["account"]["name"] == "钱七"
    assert client.post("/api/v1/me/deletion-request", headers=headers).status_code == 201
    second = client.post("/api/v1/me/deletion-request", headers=headers)
    assert second.status_code == 409 and second.get_json()["code"] == "deletion_requested"
    assert len(db.session.scalars(select(DeletionRequest)).all()) == 1


def test_notification_channels_by_the_api(app, client, monkeypatch, tmp_path):
    user = create_user(phone="13800000000")
    headers = bearer(user)
    body = client.get("/api/v1/me/notification-channels", headers=headers).get_json()
    assert body == {"email": ["bookings", "test_requests", "approvals", "billing"], "sms": [],
                    "sms_available": False}
    refused = client.put("/api/v1/me/notification-channels", headers=headers,
                         json={"sms": ["bookings"]})
    assert refused.status_code == 422 and refused.get_json()["code"] == "invalid_channel"
    monkeypatch.setitem(app.config, "LABBOOK_SMS_PROVIDER", "directory")
    monkeypatch.setitem(app.config, "LABBOOK_SMS_DIR", str(tmp_path))
    chosen = client.put("/api/v1/me/notification-channels", headers=headers,
                        json={"sms": ["bookings", "billing"]})
    assert chosen.status_code == 200 and chosen.get_json()["sms"] == ["bookings", "billing"]
    unknown = client.put("/api/v1/me/notification-channels", headers=headers,
                         json={"sms": ["gossip"]})
    assert unknown.status_code == 422
