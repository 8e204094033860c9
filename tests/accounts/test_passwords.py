"""The password policy, reset tokens and the reset services (no HTTP)."""

import datetime as dt

import pytest
from flask_babel import force_locale

from labbook.accounts import passwords
from labbook.accounts import services as accounts
from labbook.core.engine import write_transaction
from labbook.core.errors import ValidationError
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.factories import PASSWORD, another_session, create_organization, create_user, reload

SECRET = "a-secret-key-for-these-tests-0123456789"


@pytest.mark.parametrize(("password", "says"), [
    ("short-1", "at least 10 characters"),
    ("20261231123456", "only digits"),
    ("onlyletterslong", "mix letters with digits or symbols"),
    ("chen.wei@example.cn", "your email address or your name"),
    ("CHEN.WEI@EXAMPLE.CN", "your email address or your name"),
    ("Zhang Wei 2026", "your email address or your name"),
    ("Password123", "most common"),
    ("woaini1314", "most common"),
    ("1qaz2wsx3edc", "most common"),
])
def test_the_policy_refuses_weak_passwords_with_a_clear_message(password, says):
    with force_locale("en"), pytest.raises(ValidationError) as refused:
        accounts.check_password_policy(password, email="chen.wei@example.cn",
                                       name="Zhang Wei 2026")
    assert refused.value.problems[0].field == "password"
    assert says in refused.value.message


def test_the_local_part_of_the_address_is_refused_too():
    with pytest.raises(ValidationError):
        accounts.check_password_policy("zhouwei2026", email="ZhouWei2026@example.cn")


@pytest.mark.parametrize("password", ["a-long-pass-1", PASSWORD, "正极材料XRD分析2026",
                                      "tR7#kq!2pZ"])
def test_the_policy_accepts_reasonable_passwords(password):
    accounts.check_password_policy(password, email="chen@example.cn", name="陈伟")


def test_creating_a_user_applies_the_whole_policy():
    organization = create_organization()
    with pytest.raises(ValidationError) as refused:
        accounts.create_user(db.session, email="wangfang2026@example.cn", name="王芳",
                             password="wangfang2026", organization=organization)
    assert refused.value.problems[0].field == "password"


def test_the_common_list_only_holds_passwords_the_other_rules_let_through():
    for password in passwords.COMMON_PASSWORDS:
        assert len(password) >= accounts.MIN_PASSWORD_LENGTH, password
        assert not password.isdigit() and not password.isalpha(), password


# -- reset tokens -------------------------------------------------------------------------------


def _reset(user, **overrides):
    values = {"secret_key": SECRET, "base_url": "https://labbook.example.cn/", "max_age": 3600,
              "now": utcnow(), **overrides}
    return accounts.password_reset_link(user, **values)


def _token(reset) -> str:
    return reset.link.rsplit("/", 1)[1]


def test_a_reset_link_is_built_from_the_base_url_and_expires():
    user = create_user()
    now = utcnow()
    reset = _reset(user, now=now)
    assert reset.link.startswith("https://labbook.example.cn/password/reset/")
    assert reset.expires_at == now + dt.timedelta(hours=1)
    assert reset.user is user


def test_the_token_does_not_reveal_the_password_hash():
    import base64

    user = create_user()
    token = _token(_reset(user))
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert user.password_hash not in decoded
    assert user.password_hash.split("$")[-1] not in decoded


def test_a_reset_sets_the_password_once_and_the_link_then_dies():
    user = create_user()
    token = _token(_reset(user))
    assert accounts.user_for_password_reset(db.session, token, secret_key=SECRET,
                                            max_age=3600) == user
    accounts.reset_password(db.session, token, "a-brand-new-pass-7", secret_key=SECRET,
                            max_age=3600, lockout="5 per 15 minutes", now=utcnow())
    db.session.commit()
    assert accounts.authenticate(db.session, user.email, "a-brand-new-pass-7") == reload(user)
    assert accounts.authenticate(db.session, user.email, PASSWORD) is None
    with force_locale("en"), pytest.raises(ValidationError, match="already been used") as used:
        accounts.reset_password(db.session, token, "another-new-pass-8", secret_key=SECRET,
                                max_age=3600, lockout="5 per 15 minutes", now=utcnow())
    assert used.value.code == "invalid_reset_link"


def test_a_reset_link_dies_when_the_password_changes_otherwise():
    user = create_user()
    token = _token(_reset(user))
    user.password_hash = accounts.hash_password("changed-elsewhere-9")
    db.session.commit()
    with pytest.raises(ValidationError):
        accounts.user_for_password_reset(db.session, token, secret_key=SECRET, max_age=3600)


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    lambda token: "not-a-token",
    lambda token: "",
])
def test_forged_or_garbled_tokens_are_refused(mangle):
    user = create_user()
    with pytest.raises(ValidationError) as refused:
        accounts.user_for_password_reset(db.session, mangle(_token(_reset(user))),
                                         secret_key=SECRET, max_age=3600)
    assert refused.value.code == "invalid_reset_link"


def test_a_token_signed_with_another_key_is_refused():
    user = create_user()
    token = _token(_reset(user, secret_key="some-other-secret-key-9876543210"))
    with pytest.raises(ValidationError):
        accounts.user_for_password_reset(db.session, token, secret_key=SECRET, max_age=3600)


def test_an_expired_token_says_so():
    user = create_user()
    token = _token(_reset(user))
    with force_locale("en"), pytest.raises(ValidationError, match="expired"):
        accounts.user_for_password_reset(db.session, token, secret_key=SECRET, max_age=-1)


def test_disabled_users_get_no_reset():
    user = create_user(is_active=False)
    token = _token(_reset(user))
    with pytest.raises(ValidationError):
        accounts.user_for_password_reset(db.session, token, secret_key=SECRET, max_age=3600)
    assert _request(user.email) is None


def test_the_new_password_must_meet_the_policy():
    user = create_user(email="liu.yang@example.cn")
    token = _token(_reset(user))
    with pytest.raises(ValidationError) as refused:
        accounts.reset_password(db.session, token, "liu.yang@example.cn", secret_key=SECRET,
                                max_age=3600, lockout="5 per 15 minutes", now=utcnow())
    assert refused.value.problems[0].field == "password"


# -- asking for a reset -------------------------------------------------------------------------


def _request(email, per_address="3 per hour"):
    return accounts.request_password_reset(db.session, email, secret_key=SECRET,
                                           base_url="https://labbook.example.cn", max_age=3600,
                                           per_address=per_address, now=utcnow())


def test_a_reset_is_only_made_for_an_existing_account():
    user = create_user(email="zhao@example.cn")
    reset = _request(" ZHAO@example.CN ")
    assert reset is not None and reset.user == user
    assert _request("nobody@example.cn") is None


def test_resets_per_address_are_limited():
    user = create_user()
    assert all(_request(user.email, "2 per hour") is not None for _ in range(2))
    assert _request(user.email, "2 per hour") is None
    assert _request(create_user().email, "2 per hour") is not None


def test_the_same_link_sent_twice_at_once_sets_one_password():
    user = create_user()
    token = _token(_reset(user))
    # Both forms were shown: the link was valid for each.
    assert accounts.user_for_password_reset(db.session, token, secret_key=SECRET,
                                            max_age=3600) is user
    with another_session() as other:
        accounts.reset_password(other, token, "the-first-new-pass-1", secret_key=SECRET,
                                max_age=3600, lockout="5 per 15 minutes", now=utcnow())

    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        accounts.reset_password(db.session, token, "the-second-new-pass-2", secret_key=SECRET,
                                max_age=3600, lockout="5 per 15 minutes", now=utcnow())

    assert refused.value.code == "invalid_reset_link"
    assert accounts.authenticate(db.session, user.email, "the-first-new-pass-1") is not None
