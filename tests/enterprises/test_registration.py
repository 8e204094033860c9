"""Self-registration end to end: register, confirm the email address, an admin approves or
rejects; the bad input the issue names is refused and changes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import Organization, User
from labbook.audit.models import AuditEvent
from labbook.enterprises.models import OrganizationAdmin, Registration, RegistrationState
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.factories import PASSWORD, create_admin, create_organization, create_user, make_uscc

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def form(**overrides):
    values = {"organization_name": "焦作新材料有限公司", "uscc": make_uscc(9001),
              "address": "河南省焦作市高新区1号", "contact_phone": "0391-1234567",
              "name": "王芳", "email": "wang@xincailiao.example.cn", "phone": "13800000000",
              "password": PASSWORD, "confirm": PASSWORD}
    values.update(overrides)
    return values


def mails(to: str) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == to)
                                   .order_by(OutboxMessage.id)))


def link_in(message: OutboxMessage) -> str:
    url = re.search(r"https?://\S+/(confirm|invitations)/\S+", message.body_text).group(0)
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def register_and_confirm(client, **overrides) -> Registration:
    values = form(**overrides)
    response = client.post("/register", data=values)
    assert response.status_code == 200
    assert values["email"] in response.get_data(as_text=True)
    confirmation = mails(values["email"])[-1]
    assert confirmation.kind == "confirm_registration"
    page = client.get(link_in(confirmation))
    assert page.status_code == 200
    db.session.rollback()
    return db.session.scalar(select(Registration).where(Registration.email == values["email"]))


def test_an_enterprise_registers_is_approved_and_its_registrant_administers_it(client, login_as):
    admin = create_admin()
    registration = register_and_confirm(client)
    assert registration.state == RegistrationState.PENDING
    assert [m.kind for m in mails(admin.email)] == ["registration_submitted"]

    login_as(admin)
    page = client.get(f"/admin/registrations/{registration.id}")
    assert "焦作新材料有限公司" in page.get_data(as_text=True)
    response = client.post(f"/admin/registrations/{registration.id}/approve",
                           data={"tier": "partner"})
    assert response.status_code == 302

    organization = db.session.scalar(select(Organization).where(
        Organization.uscc == make_uscc(9001)))
    person = db.session.scalar(select(User).where(User.email == "wang@xincailiao.example.cn"))
    assert organization.tier == "partner"
    assert person.organization_id == organization.id
    assert organization.billing_contact_id == person.id
    assert db.session.get(OrganizationAdmin, (organization.id, person.id)) is not None
    assert person.role == "researcher"
    assert mails(person.email)[-1].kind == "registration_approved"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == "registrations", AuditEvent.action == "approve")) == 1

    # The registrant signs in with the password chosen at registration.
    client.post("/logout")
    signed_in = client.post("/login", data={"email": person.email, "password": PASSWORD})
    assert signed_in.status_code == 302
    assert "焦作新材料有限公司" in client.get("/organization").get_data(as_text=True)


def test_an_admin_rejects_with_a_reason_the_registrant_reads(client, login_as):
    admin = create_admin()
    registration = register_and_confirm(client, licence=(__import__("io").BytesIO(PNG),
                                                         "licence.png"))
    login_as(admin)
    assert client.get(f"/admin/registrations/{registration.id}/licence").data == PNG
    refused = client.post(f"/admin/registrations/{registration.id}/reject", data={"reason": ""},
                          follow_redirects=True)
    assert refused.status_code == 200
    assert reload_state(registration) == RegistrationState.PENDING
    client.post(f"/admin/registrations/{registration.id}/reject",
                data={"reason": "营业执照图片不清晰"})
    assert reload_state(registration) == RegistrationState.REJECTED
    rejection = mails(registration.email)[-1]
    assert rejection.kind == "registration_rejected" and "营业执照图片不清晰" in rejection.body_text
    assert count(Organization) == 1  # the admin's own only


def reload_state(registration: Registration) -> str:
    db.session.rollback()
    return db.session.scalar(select(Registration.state).where(Registration.id == registration.id))


def test_a_wrong_check_character_is_refused_and_nothing_is_written(client):
    good = make_uscc(9002)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    response = client.post("/register", data=form(uscc=wrong), follow_redirects=True)
    assert response.status_code == 200
    assert "check character" in response.get_data(as_text=True) \
        or "校验" in response.get_data(as_text=True)
    assert count(Registration) == 0 and count(OutboxMessage) == 0


def test_a_duplicate_registration_is_refused(client):
    register_and_confirm(client)
    again = client.post("/register", data=form(email="other@example.cn"), follow_redirects=True)
    assert again.status_code == 200
    assert count(Registration) == 1
    assert mails("other@example.cn") == []


def test_a_registered_code_is_told_to_ask_the_organizations_admin(client):
    organization = create_organization()
    response = client.post("/register", data=form(uscc=organization.uscc),
                           follow_redirects=True)
    text = response.get_data(as_text=True)
    assert f"/join?uscc={organization.uscc}" in text
    assert count(Registration) == 0


def test_an_address_with_an_account_is_answered_alike_and_told_by_email(client):
    user = create_user(email="taken@example.cn")
    response = client.post("/register", data=form(email="taken@example.cn"))
    assert response.status_code == 200
    fresh = client.post("/register", data=form(email="new@example.cn", uscc=make_uscc(9003),
                                               organization_name="别的公司"))
    # Same page either way: nothing tells the visitor whether the address has an account.
    assert _page_words(response) == _page_words(fresh, "new@example.cn", "taken@example.cn")
    assert [m.kind for m in mails(user.email)] == ["address_in_use"]
    assert count(Registration) == 1


def _page_words(response, swap: str = "", to: str = "") -> str:
    text = response.get_data(as_text=True)
    text = re.sub(r'name="csrf_token"[^>]*', "", text)
    return text.replace(swap, to) if swap else text


def test_a_confirmation_link_works_once_and_a_forged_one_not_at_all(client):
    client.post("/register", data=form())
    link = link_in(mails(form()["email"])[-1])
    assert client.get(link).status_code == 200
    assert client.get(link).status_code == 200  # answered as confirmed, nothing more happens
    assert count(AuditEvent) == 2  # registered, confirmed
    assert client.get(link[:-3] + "abc").status_code == 400


def test_a_licence_that_is_not_an_image_is_refused(client):
    import io

    response = client.post("/register", data=form(licence=(io.BytesIO(b"%PDF-1.4"), "a.pdf")),
                           follow_redirects=True)
    assert response.status_code == 200
    assert count(Registration) == 0


@pytest.mark.parametrize("role_user", ["researcher", "anonymous"])
def test_only_admins_see_registrations(client, login_as, role_user):
    if role_user == "researcher":
        login_as(create_user())
        assert client.get("/admin/registrations").status_code == 403
    else:
        assert client.get("/admin/registrations").status_code == 302
