"""The organization's admin: invites a colleague (a link that works once, until it expires),
removes members, chooses the billing contact, lets in those who ask to join."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from labbook.accounts.models import User
from labbook.core.engine import write_transaction
from labbook.enterprises import services
from labbook.enterprises.models import Invitation, JoinRequest, JoinRequestState, OrganizationAdmin
from labbook.extensions import db
from tests.enterprises.test_registration import count, link_in, mails
from tests.factories import (
    PASSWORD,
    create_admin,
    create_booking,
    create_organization,
    create_user,
    make_uscc,
    reload,
)


def organization_with_admin():
    organization = create_organization()
    admin = create_user(organization=organization, email="boss@example.cn")
    db.session.add(OrganizationAdmin(organization_id=organization.id, user_id=admin.id))
    db.session.commit()
    return organization, admin


def colleague(**overrides):
    values = {"name": "李雷", "phone": "", "password": PASSWORD, "confirm": PASSWORD}
    values.update(overrides)
    return values


def test_an_invited_colleague_joins_by_the_link_once(client, login_as):
    organization, admin = organization_with_admin()
    login_as(admin)
    assert client.post("/organization/invitations",
                       data={"email": "Li@Example.cn"}).status_code == 302
    invitation = mails("li@example.cn")[-1]
    assert invitation.kind == "invitation"
    link = link_in(invitation)
    client.post("/logout")

    assert "李雷" not in client.get(link).get_data(as_text=True)
    response = client.post(link, data=colleague())
    assert response.status_code == 302
    member = db.session.scalar(select(User).where(User.email == "li@example.cn"))
    assert member.organization_id == organization.id and member.is_active
    assert client.post("/login", data={"email": "li@example.cn",
                                       "password": PASSWORD}).status_code == 302
    client.post("/logout")

    reused = client.post(link, data=colleague(name="冒名"))
    assert reused.status_code == 400
    assert count(User) == 2


def test_an_expired_invitation_is_refused_and_makes_no_account(client):
    organization, admin = organization_with_admin()
    now = dt.datetime.now(dt.UTC)
    with write_transaction(db.session):
        _invitation, secret = services.invite(db.session, admin, organization, "late@example.cn",
                                              now=now - services.INVITATION_LIFETIME
                                              - dt.timedelta(minutes=1))
    response = client.post(f"/invitations/{secret}", data=colleague())
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True) or "过期" in response.get_data(as_text=True)
    assert count(User) == 1


def test_inviting_an_existing_member_is_refused(client, login_as):
    organization, admin = organization_with_admin()
    member = create_user(organization=organization)
    login_as(admin)
    response = client.post("/organization/invitations", data={"email": member.email},
                           follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/organization"
    text = response.get_data(as_text=True)
    assert "already" in text or "已是" in text
    assert count(Invitation) == 0 and mails(member.email) == []


def test_only_the_organizations_admin_invites(client, login_as):
    organization, _admin = organization_with_admin()
    login_as(create_user(organization=organization))
    assert client.post("/organization/invitations",
                       data={"email": "x@example.cn"}).status_code == 403
    assert client.get("/organization").status_code == 403


def test_removing_a_member_deactivates_them_and_keeps_their_bookings(client, login_as):
    organization, admin = organization_with_admin()
    member = create_user(organization=organization)
    booking = create_booking(user=member)
    organization.billing_contact = member
    db.session.commit()
    login_as(admin)
    assert client.post(f"/organization/members/{member.id}/remove").status_code == 302
    assert not reload(member).is_active and member.organization_id is None
    assert reload(booking).organization_id == organization.id
    assert reload(organization).billing_contact_id is None
    assert mails(member.email)[-1].kind == "member_removed"
    # A member of another organization cannot be removed by this admin.
    stranger = create_user()
    assert client.post(f"/organization/members/{stranger.id}/remove").status_code == 404


def test_the_admin_chooses_the_billing_contact_and_sees_the_bookings(client, login_as):
    organization, admin = organization_with_admin()
    member = create_user(organization=organization, name="账务员")
    create_booking(user=member, purpose="样品分析")
    login_as(admin)
    client.post("/organization/billing-contact", data={"contact": member.id})
    assert reload(organization).billing_contact_id == member.id
    page = client.get("/organization").get_data(as_text=True)
    assert "账务员" in page
    outsider = create_user()
    response = client.post("/organization/billing-contact", data={"contact": outsider.id},
                           follow_redirects=True)
    assert response.status_code == 200
    assert reload(organization).billing_contact_id == member.id


def test_a_person_asks_to_join_and_the_admin_lets_them_in(client, login_as):
    organization, admin = organization_with_admin()
    response = client.post("/join", data={"uscc": organization.uscc, "name": "韩梅梅",
                                          "email": "han@example.cn", "password": PASSWORD,
                                          "confirm": PASSWORD, "message": "新入职"})
    assert response.status_code == 200
    client.get(link_in(mails("han@example.cn")[-1]))
    join_request = db.session.scalar(select(JoinRequest))
    assert join_request.state == JoinRequestState.PENDING
    assert mails(admin.email)[-1].kind == "join_requested"
    login_as(admin)
    assert "韩梅梅" in client.get("/organization").get_data(as_text=True)
    client.post(f"/organization/join-requests/{join_request.id}/accept")
    joined = db.session.scalar(select(User).where(User.email == "han@example.cn"))
    assert joined.organization_id == organization.id
    assert mails("han@example.cn")[-1].kind == "join_accepted"
    # Decided once: a second decision is refused.
    client.post(f"/organization/join-requests/{join_request.id}/decline")
    assert db.session.scalar(select(func.count()).select_from(User)) == 2


def test_asking_to_join_an_unregistered_code_is_refused(client):
    response = client.post("/join", data={"uscc": make_uscc(4242), "name": "某人",
                                          "email": "a@example.cn", "password": PASSWORD,
                                          "confirm": PASSWORD}, follow_redirects=True)
    assert response.status_code == 200 and response.request.path == "/join"
    assert count(JoinRequest) == 0


def test_labbooks_admins_decide_for_an_organization_without_an_admin(client, login_as):
    organization = create_organization()
    admin = create_admin()
    client.post("/join", data={"uscc": organization.uscc, "name": "孤儿", "email":
                               "orphan@example.cn", "password": PASSWORD, "confirm": PASSWORD})
    client.get(link_in(mails("orphan@example.cn")[-1]))
    assert mails(admin.email)[-1].kind == "join_requested"
    login_as(admin)
    assert "orphan@example.cn" in client.get("/admin/registrations").get_data(as_text=True)
    join_request = db.session.scalar(select(JoinRequest))
    client.post(f"/organization/join-requests/{join_request.id}/decline")
    assert reload(join_request).state == JoinRequestState.DECLINED
    assert mails("orphan@example.cn")[-1].kind == "join_declined"
