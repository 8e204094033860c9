"""The profile page and the user's API tokens."""

import datetime as dt
import re

import pytest
from sqlalchemy import event, select

from labbook.accounts.models import ApiToken, PriceTier
from labbook.accounts.services import create_api_token, user_for_api_token
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    reload,
)

TOKEN = re.compile(r"lbk_[A-Za-z0-9_-]{20,}")


def page(response):
    return response.get_data(as_text=True)


def test_profile_needs_sign_in(client):
    response = client.get("/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_profile_shows_who_the_user_is(client, login_as):
    organization = create_organization(name="Jiaozuo Alloy Co.", tier=PriceTier.PARTNER)
    user = create_user(name="Zhao Lei", email="zhao@alloy.example.cn",
                       organization=organization, locale="en")

    text = page(login_as(user).get("/profile"))

    assert "Zhao Lei" in text
    assert "zhao@alloy.example.cn" in text
    assert "Jiaozuo Alloy Co." in text
    assert "Price tier: Partner" in text
    assert "Researcher" in text
    assert "English" in text
    assert "Labs managed" not in text
    assert "You have no API tokens." in text


def test_profile_lists_managed_labs(client, login_as):
    lab = create_lab(name_en="Green Food Lab")
    manager = create_manager(lab, locale="en")
    text = page(login_as(manager).get("/profile"))
    assert "Lab manager" in text and "Green Food Lab" in text

    text = page(login_as(create_admin(locale="en")).get("/profile"))
    assert "Administrator" in text and "All labs" in text


def test_profile_is_chinese_by_default(client, login_as):
    text = page(login_as(create_user()).get("/profile"))
    assert "API 令牌" in text


def test_a_new_token_is_shown_once_and_opens_the_api_until_revoked(client, login_as):
    user = create_user(locale="en")
    client = login_as(user)

    response = client.post("/profile/tokens", data={"name": "LIMS export"})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    text = page(response)
    secrets = set(TOKEN.findall(text))
    assert len(secrets) == 1
    secret = secrets.pop()
    assert "will not be shown again" in text
    assert "Authorization: Bearer" in text
    token = db.session.scalars(select(ApiToken)).one()
    assert (token.user_id, token.name) == (user.id, "LIMS export")
    assert secret not in token.token_hash

    profile = page(client.get("/profile"))
    assert "LIMS export" in profile
    assert not TOKEN.search(profile)

    api = client.get("/api/v1/bookings", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200
    assert api.get_json()["items"] == []

    response = client.post(f"/profile/tokens/{token.id}/revoke")

    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    assert reload(token).revoked_at is not None
    assert client.get("/api/v1/bookings",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    profile = page(client.get("/profile"))
    assert "was revoked" in profile and "Revoked" in profile


def test_a_token_needs_a_name(client, login_as):
    client = login_as(create_user(locale="en"))
    response = client.post("/profile/tokens", data={"name": " "})
    assert (response.status_code, response.headers["Location"]) == (303, "/profile")
    assert "Give the token a name" in page(client.get("/profile"))
    assert db.session.scalars(select(ApiToken)).first() is None


def test_another_users_token_cannot_be_revoked(client, login_as):
    owner = create_user()
    login_as(owner).post("/profile/tokens", data={"name": "owner's"})
    token = db.session.scalars(select(ApiToken)).one()

    response = login_as(create_user()).post(f"/profile/tokens/{token.id}/revoke")

    assert response.status_code == 404
    assert reload(token).revoked_at is None
    assert client.post("/profile/tokens/999999/revoke").status_code == 404


def test_a_tokens_last_use_is_recorded_at_most_hourly(client):
    user = create_user()
    token, secret = create_api_token(db.session, user, name="script",
                                     now=dt.datetime.now(dt.UTC))
    db.session.commit()
    client.get("/api/v1/bookings", headers={"Authorization": f"Bearer {secret}"})
    first = reload(token).last_used_at
    assert first is not None
    assert user_for_api_token(db.session, secret, now=first + dt.timedelta(minutes=5)) == user
    assert reload(token).last_used_at == first
    later = first + dt.timedelta(hours=2)
    user_for_api_token(db.session, secret, now=later)
    assert db.session.get(ApiToken, token.id).last_used_at == later


@pytest.mark.parametrize("member", [True, False])
def test_a_tokens_user_comes_with_its_organization_in_one_statement(app, member):
    """What a request asks of its token's owner, the organization included, is read once."""
    user = create_user() if member else create_user(organization=None)
    _token, secret = create_api_token(db.session, user, name="script",
                                      now=dt.datetime.now(dt.UTC))
    db.session.commit()
    statements: list[str] = []

    def statement(_connection, _cursor, sql, *_args) -> None:
        statements.append(sql)

    with app.app_context():  # a request's session: nothing of the user loaded yet
        event.listen(db.engine, "before_cursor_execute", statement)
        try:
            found = user_for_api_token(db.session, secret, now=dt.datetime.now(dt.UTC))
            assert found is not None and found.id == user.id
            assert (found.organization.name if member else found.organization) == \
                (user.organization.name if member else None)
        finally:
            event.remove(db.engine, "before_cursor_execute", statement)
            db.session.remove()
    assert len([sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]) == 1
