"""A refused registration, request to join, invitation, or decision on a registration comes
back after a redirect with what was typed (never a password): a reload or the language switch
never loses it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.accounts.models import Organization, User
from labbook.core.engine import write_transaction
from labbook.enterprises import services
from labbook.enterprises.models import Invitation, JoinRequest, Registration
from labbook.extensions import db
from labbook.web import KEPT_FORM
from tests.enterprises.test_organization_admin import colleague, organization_with_admin
from tests.enterprises.test_registration import form, register_and_confirm
from tests.factories import PASSWORD, create_admin, create_organization, make_uscc
from tests.refused_forms import Refusal, assert_kept_through_the_switch

REQUIRED_ZH, REQUIRED_EN = "该字段是必填字段。", "This field is required."


def _people():
    return db.session.execute(select(User.email).order_by(User.id)).all()


@pytest.mark.parametrize(("post", "data", "typed"), [
    ("/register", form(organization_name=""),
     [f'value="{make_uscc(9001)}"', 'value="河南省焦作市高新区1号"', 'value="王芳"',
      'value="wang@xincailiao.example.cn"']),
    ("/join", {"uscc": make_uscc(9002), "name": "", "email": "li@example.cn",
               "message": "我是质检部的李雷", "password": PASSWORD, "confirm": PASSWORD},
     [f'value="{make_uscc(9002)}"', 'value="li@example.cn"', "我是质检部的李雷"]),
], ids=["register", "join"])
def test_a_refused_registration_survives_reload_and_the_language_switch(client, post, data,
                                                                         typed):
    assert_kept_through_the_switch(
        client, Refusal(post, post, data, typed, REQUIRED_ZH, REQUIRED_EN),
        lambda: (_people(), db.session.scalars(select(Registration)).all(),
                 db.session.scalars(select(JoinRequest)).all()))
    with client.session_transaction() as session:
        assert PASSWORD not in repr(session.get(KEPT_FORM))


def test_a_refused_acceptance_of_an_invitation_survives_the_switch(client):
    organization, admin = organization_with_admin()
    with write_transaction(db.session):
        _invitation, secret = services.invite(db.session, admin, organization, "li@example.cn",
                                              now=dt.datetime.now(dt.UTC))
    link = f"/invitations/{secret}"
    assert_kept_through_the_switch(
        client, Refusal(link, link, colleague(name="", phone="13800000001"),
                        ['value="13800000001"'], REQUIRED_ZH, REQUIRED_EN), _people)
    assert client.get(link).headers["Cache-Control"] == "no-store"


def test_a_refused_invitation_survives_reload_and_the_language_switch(login_as):
    _organization, admin = organization_with_admin()
    client = login_as(admin)
    assert_kept_through_the_switch(
        client, Refusal("/organization/invitations", "/organization", {"email": " "}, [],
                        REQUIRED_ZH, REQUIRED_EN),
        lambda: db.session.scalars(select(Invitation)).all())


@pytest.mark.parametrize(("action", "data", "typed", "zh", "en"), [
    ("approve", {"tier": "gold"}, [], "不是有效的选择。", "Not a valid choice."),
    ("reject", {"reason": " "}, [], REQUIRED_ZH, REQUIRED_EN),
])
def test_a_refused_decision_on_a_registration_survives_the_switch(client, login_as, action,
                                                                  data, typed, zh, en):
    registration = register_and_confirm(client)
    client.post("/logout")
    client = login_as(create_admin(locale="zh_CN"))
    detail = f"/admin/registrations/{registration.id}"
    assert_kept_through_the_switch(
        client, Refusal(f"{detail}/{action}", detail, data, typed, zh, en),
        lambda: (db.session.get(Registration, registration.id).state,
                 db.session.scalars(select(Organization.id)).all()))


def test_a_registered_enterprise_is_still_offered_to_join_after_the_redirect(client):
    organization = create_organization(uscc=make_uscc(9100))
    refused = client.post("/register", data=form(uscc=organization.uscc))
    assert refused.status_code == 303 and refused.headers["Location"] == "/register"
    for _ in range(2):  # and a reload
        page = client.get("/register").get_data(as_text=True)
        assert f"/join?uscc={organization.uscc}" in page
        assert 'value="焦作新材料有限公司"' in page
