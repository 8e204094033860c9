"""Organizations and users through the admins' pages."""

import re

from sqlalchemy import select

from labbook.accounts.models import Organization, OrganizationStatus, PriceTier, Role, User
from labbook.audit.models import AuditEvent
from labbook.extensions import db
from tests.admin.conftest import shown_again, text
from tests.factories import PASSWORD, create_organization, create_user, make_uscc, reload


def test_an_admin_adds_an_organization(login_as, admin):
    client = login_as(admin)
    response = client.post("/admin/organizations/new", data={
        "name": "焦作新材储能科技有限公司", "uscc": make_uscc(501).lower(), "tier": "partner",
        "weekly_quota_hours": "20"})

    organization = db.session.scalar(select(Organization).where(
        Organization.name == "焦作新材储能科技有限公司"))
    assert response.headers["Location"] == f"/admin/organizations/{organization.id}"
    assert (organization.uscc, organization.tier, organization.weekly_quota_hours) == \
        (make_uscc(501), PriceTier.PARTNER, 20)
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor_id, event.object_id) == ("create", admin.id,
                                                               organization.id)


def test_a_bad_credit_code_and_quota_are_form_messages(login_as, admin):
    client = login_as(admin)
    response = client.post("/admin/organizations/new", data={
        "name": "某公司", "uscc": "91410800MA0000001X", "tier": "external"},
        follow_redirects=True)
    assert 'id="uscc-errors"' in shown_again(response, "/admin/organizations/new")
    response = client.post("/admin/organizations/new", data={
        "name": "某公司", "uscc": make_uscc(502), "tier": "external", "weekly_quota_hours": "200"},
        follow_redirects=True)
    assert "A weekly quota is from 1 to 168 hours." in \
        shown_again(response, "/admin/organizations/new")
    assert db.session.scalar(select(Organization.id).where(Organization.name == "某公司")) is None


def test_an_admin_edits_tier_status_quota_and_billing_contact(login_as, admin, researcher):
    organization = researcher.organization
    outsider = create_user(name="Outsider")
    client = login_as(admin)
    page = text(client.get(f"/admin/organizations/{organization.id}"))
    assert f'<option value="{researcher.id}">' in page and f'value="{outsider.id}"' not in page

    data = {"name": "Henan Battery Co., Ltd.", "uscc": organization.uscc, "tier": "partner",
            "status": "suspended", "weekly_quota_hours": "", "billing_contact_id": researcher.id}
    response = client.post(f"/admin/organizations/{organization.id}", data=data)

    assert response.status_code == 302
    organization = reload(organization)
    assert organization.name == "Henan Battery Co., Ltd."
    assert (organization.tier, organization.status) == (PriceTier.PARTNER,
                                                       OrganizationStatus.SUSPENDED)
    assert organization.billing_contact_id == researcher.id
    assert organization.weekly_quota_hours is None
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.from_state, event.to_state) == ("active", "suspended")
    assert event.details["changes"]["billing_contact"] == [None, researcher.email]

    refused = client.post(f"/admin/organizations/{organization.id}",
                          data={**data, "billing_contact_id": outsider.id},
                          follow_redirects=True)
    assert "must be an active member" in \
        shown_again(refused, f"/admin/organizations/{organization.id}")
    assert reload(organization).billing_contact_id == researcher.id


def test_a_new_user_gets_a_one_time_link_instead_of_a_password(login_as, admin, lab,
                                                              researcher):
    client = login_as(admin)
    response = client.post("/admin/users/new", data={
        "email": "Liu@Jinggong.example.cn", "name": "刘工", "phone": "",
        "organization_id": researcher.organization_id, "role": "researcher", "locale": "zh_CN"})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    link = re.search(r'value="(http[^"]+/password/reset/[^"]+)"', text(response)).group(1)
    user = db.session.scalar(select(User).where(User.email == "liu@jinggong.example.cn"))
    assert user.organization_id == researcher.organization_id
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_id == user.id, AuditEvent.object_type == "users")).all()
    assert actions == ["create", "password_reset_link"]
    assert link not in str(db.session.scalars(select(AuditEvent.details)).all())

    token = link.rsplit("/", 1)[1]
    new_password = "Jinggong-lab-2027"
    client.post("/logout")
    response = client.post(f"/password/reset/{token}", data={"password": new_password,
                                                             "confirm": new_password})
    assert response.status_code == 302
    response = client.post(f"/password/reset/{token}", data={"password": new_password,
                                                             "confirm": new_password})
    assert response.status_code == 400  # used once


def test_a_manager_needs_labs_and_only_managers_have_them(login_as, admin, lab):
    client = login_as(admin)
    data = {"email": "wang@jzit.example.cn", "name": "王", "role": "lab_manager",
            "locale": "zh_CN", "organization_id": ""}
    response = client.post("/admin/users/new", data=data, follow_redirects=True)
    assert "A lab manager must manage at least one lab." in \
        shown_again(response, "/admin/users/new")

    client.post("/admin/users/new", data={**data, "lab_ids": [lab.id]})
    user = db.session.scalar(select(User).where(User.email == "wang@jzit.example.cn"))
    assert user.managed_labs == [lab]


def test_an_admin_changes_a_role_and_the_labs_managed(login_as, admin, researcher, lab):
    client = login_as(admin)
    response = client.post(f"/admin/users/{researcher.id}", data={
        "email": researcher.email, "name": researcher.name, "phone": "0391-1234567",
        "organization_id": researcher.organization_id, "role": "lab_manager",
        "lab_ids": [lab.id], "locale": "en"})
    assert response.status_code == 302
    user = reload(researcher)
    assert (user.role, user.managed_labs, user.phone) == (Role.LAB_MANAGER, [lab],
                                                         "0391-1234567")
    event = db.session.scalars(select(AuditEvent)).one()
    assert event.details["changes"]["role"] == ["researcher", "lab_manager"]
    assert event.details["changes"]["managed_labs"] == [[], ["NEM"]]


def test_an_admin_cannot_demote_or_deactivate_themselves(login_as, admin):
    client = login_as(admin)
    response = client.post(f"/admin/users/{admin.id}", data={
        "email": admin.email, "name": admin.name, "role": "researcher",
        "organization_id": admin.organization_id, "locale": "en"}, follow_redirects=True)
    assert "own admin role" in shown_again(response, f"/admin/users/{admin.id}")
    client.post(f"/admin/users/{admin.id}/deactivate")
    assert reload(admin).is_active and reload(admin).role == Role.ADMIN


def test_a_deactivated_user_cannot_sign_in_until_activated(client, login_as, admin,
                                                           researcher):
    login_as(admin).post(f"/admin/users/{researcher.id}/deactivate")
    assert not reload(researcher).is_active
    client.post("/logout")
    response = client.post("/login", data={"email": researcher.email, "password": PASSWORD})
    assert (response.status_code, response.headers["Location"]) == (303, "/login")  # refused

    login_as(admin).post(f"/admin/users/{researcher.id}/activate")
    client.post("/logout")
    response = client.post("/login", data={"email": researcher.email, "password": PASSWORD})
    assert response.status_code == 302
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["deactivate", "activate"]


def test_a_reset_link_for_an_existing_user(login_as, admin, researcher):
    response = login_as(admin).post(f"/admin/users/{researcher.id}/reset-link")
    assert response.headers["Cache-Control"] == "no-store"
    assert "/password/reset/" in text(response)


def test_lists_search_and_filter(login_as, admin, researcher):
    other = create_organization(name="Jiaozuo Foods", status=OrganizationStatus.SUSPENDED)
    create_user(name="Food Researcher", organization=other, is_active=False)
    client = login_as(admin)
    page = text(client.get("/admin/organizations", query_string={"status": "suspended"}))
    assert "Jiaozuo Foods" in page and "Henan Battery Co." not in page
    page = text(client.get("/admin/users", query_string={"q": "zhao"}))
    assert "Researcher Zhao" in page and "Food Researcher" not in page
    page = text(client.get("/admin/users", query_string={"active": "no"}))
    assert "Food Researcher" in page and "Researcher Zhao" not in page
    page = text(client.get("/admin/users", query_string={"organization": other.id}))
    assert "Food Researcher" in page and "Jiaozuo Foods" in page
