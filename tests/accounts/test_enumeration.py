"""Forms that take an email address answer alike whether or not it belongs to an account (an
active one, a deactivated one, or none), so they cannot be used to find out which exist.
(Training records, the other place that takes addresses: tests/admin/test_qualifications.py.)"""

from __future__ import annotations

import re

import pytest

from tests.factories import create_user

#: Signed with the time, the CSRF token differs from one page to the next.
CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*>')


@pytest.fixture
def addresses() -> list[str]:
    active = create_user(email="active@example.cn")
    deactivated = create_user(email="gone@example.cn", is_active=False)
    return [active.email, deactivated.email, "nobody@example.cn"]


def same_for_every_address(answers: dict[str, tuple[int, str]]) -> bool:
    """Whether the answers are one and the same once the address each repeats is left out."""
    return len({(status, CSRF_TOKEN.sub("", page.replace(address, "ADDRESS")))
                for address, (status, page) in answers.items()}) == 1


def test_a_wrong_password_is_answered_alike_for_every_address(app, addresses):
    answers = {}
    for address in addresses:
        browser = app.test_client()
        response = browser.post("/login", data={"email": address, "password": "wrong-password-1"})
        assert (response.status_code, response.headers["Location"]) == (303, "/login")
        page = browser.get("/login")
        answers[address] = (page.status_code, page.get_data(as_text=True))
    assert same_for_every_address(answers)
    assert {status for status, _page in answers.values()} == {200}


def test_a_forgotten_password_is_answered_alike_for_every_address(app, addresses):
    answers = {}
    for address in addresses:
        browser = app.test_client()
        response = browser.post("/password/forgot", data={"email": address})
        assert (response.status_code, response.headers["Location"]) == (302, "/login")
        page = browser.get("/login")
        answers[address] = (page.status_code, page.get_data(as_text=True))
    assert same_for_every_address(answers)
