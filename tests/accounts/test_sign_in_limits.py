"""Sign-in rate limits: per client address, and the lockout of an account after failures."""

import time

import pytest

from tests.factories import PASSWORD, create_user


@pytest.fixture
def english(client):
    with client.session_transaction() as session:
        session["locale"] = "en"
    return client


def sign_in(client, email, password=PASSWORD, address="127.0.0.1"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_an_account_is_locked_after_five_failures_and_says_until_when(english):
    user = create_user()
    answers = [sign_in(english, user.email, "wrong-password-1") for _ in range(5)]
    assert [a.status_code for a in answers] == [303, 303, 303, 303, 429]
    page = answers[-1].get_data(as_text=True)
    assert "this account is locked for now" in page
    assert 14 * 60 <= int(answers[-1].headers["Retry-After"]) <= 15 * 60
    assert "Try again after" in page and "(lab time)" in page

    # Even the right password, and from elsewhere: the lock is on the account.
    locked = sign_in(english, user.email, address="198.51.100.9")
    assert locked.status_code == 429
    assert "this account is locked for now" in locked.get_data(as_text=True)
    # Other accounts are not affected.
    assert sign_in(english, create_user().email).status_code == 302


def test_the_lock_ends_when_the_oldest_failure_ages_out(app, english, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_LOGIN_LOCKOUT", "2 per 1 second")
    user = create_user()
    sign_in(english, user.email, "wrong-password-1")
    assert sign_in(english, user.email, "wrong-password-1").status_code == 429
    time.sleep(1.1)
    assert sign_in(english, user.email).status_code == 302


def test_a_successful_sign_in_forgets_earlier_failures(english):
    user = create_user()
    for _ in range(4):
        sign_in(english, user.email, "wrong-password-1")
    assert sign_in(english, user.email).status_code == 302
    english.post("/logout")
    answers = [sign_in(english, user.email, "wrong-password-1").status_code for _ in range(4)]
    assert answers == [303, 303, 303, 303]


def test_unknown_addresses_lock_alike_so_nothing_tells_which_exist(english):
    answers = [sign_in(english, "nobody@example.cn", "wrong-password-1").status_code
               for _ in range(5)]
    assert answers == [303, 303, 303, 303, 429]


def test_sign_in_attempts_are_limited_per_client_address(app, english, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_RATELIMIT_LOGIN", "3 per minute")
    users = [create_user() for _ in range(4)]
    answers = [sign_in(english, user.email, "wrong-password-1") for user in users]
    assert [a.status_code for a in answers] == [303, 303, 303, 429]
    limited = answers[-1]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "Too many requests from your address" in limited.get_data(as_text=True)
    # Only attempts count: the page itself still opens.
    assert english.get("/login").status_code == 200
    assert sign_in(english, users[0].email, address="203.0.113.5").status_code == 302
