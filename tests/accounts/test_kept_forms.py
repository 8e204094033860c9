"""A refused sign-in, password or profile form comes back after a redirect with what was typed
(never a password): a reload or the language switch never loses it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from labbook.accounts.models import ApiToken, User
from labbook.extensions import db
from labbook.web import KEPT_FORM
from tests.accounts.test_password_reset import ask_for_link, path_of
from tests.factories import create_user
from tests.refused_forms import Refusal, assert_kept_through_the_switch

LONG_EMAIL = "q" * 250 + "@x.cn"
TOO_LONG_ZH, TOO_LONG_EN = \
    "字段长度不能超过 254 个字符", "Field cannot be longer than 254 characters."


def _refusals() -> dict[str, Refusal]:
    return {
        "sign-in": Refusal("/login?next=/bookings", "/login?next=/bookings",
                           {"email": LONG_EMAIL, "password": "secret-word-1", "remember": "y",
                            "next": "/bookings"},
                           [f'value="{LONG_EMAIL}"', 'value="/bookings"', "checked"],
                           TOO_LONG_ZH, TOO_LONG_EN),
        "forgotten password": Refusal("/password/forgot", "/password/forgot",
                                      {"email": LONG_EMAIL}, [f'value="{LONG_EMAIL}"'],
                                      TOO_LONG_ZH, TOO_LONG_EN),
    }


@pytest.mark.parametrize("name", ["sign-in", "forgotten password"])
def test_a_refused_sign_in_form_survives_reload_and_the_language_switch(client, name):
    user = create_user()
    assert_kept_through_the_switch(client, _refusals()[name],
                                   lambda: db.session.get(User, user.id).password_hash)


def test_a_refused_token_name_survives_reload_and_the_language_switch(login_as):
    client = login_as(create_user(locale="zh_CN"))
    assert_kept_through_the_switch(
        client, Refusal("/profile/tokens", "/profile", {"name": " " * 3}, [],
                        "请为令牌命名，例如使用它的脚本名称。",
                        "Give the token a name, e.g. the script that will use it."),
        lambda: db.session.scalars(select(ApiToken)).all())


def test_a_wrong_password_is_kept_without_the_password(client):
    user = create_user(email="zhao@example.cn")
    refused = client.post("/login", data={"email": user.email, "password": "wrong-password-1"})
    assert refused.status_code == 303 and refused.headers["Location"] == "/login"
    with client.session_transaction() as session:
        assert "wrong-password-1" not in repr(session[KEPT_FORM])
    for _ in range(2):  # and a reload
        page = client.get("/login").get_data(as_text=True)
        assert "邮箱或密码错误" in page and 'value="zhao@example.cn"' in page
        assert "wrong-password-1" not in page


def test_a_refused_new_password_keeps_why_but_not_the_password(english, caplog):
    create_user(email="qian@example.cn")
    reset = path_of(ask_for_link(english, caplog, "qian@example.cn"))
    refused = english.post(reset, data={"password": "a-new-pass-1234",
                                        "confirm": "a-new-pass-4321"})
    assert refused.status_code == 303 and refused.headers["Location"] == reset
    with english.session_transaction() as session:
        assert "a-new-pass" not in repr(session[KEPT_FORM])  # neither the password nor its repeat
    page = english.get(reset)
    assert page.headers["Cache-Control"] == "no-store"
    assert "The two passwords differ." in page.get_data(as_text=True)
    switched = english.post("/language", data={"locale": "zh_CN", "next": reset})
    assert switched.headers["Location"] == reset
    chinese = english.get(reset).get_data(as_text=True)
    assert '<html lang="zh-CN"' in chinese and "设置新密码" in chinese
    # Said again in the language switched to, though nothing can check the passwords again.
    assert "两次输入的密码不一致。" in chinese and "The two passwords differ." not in chinese
    assert "a-new-pass" not in chinese


@pytest.fixture
def english(client):
    client.post("/language", data={"locale": "en", "next": "/"})
    return client
