"""Whether a registration of an enterprise is under way, and the admins' list of
registrations, asked of the services directly at the edges of the confirmation window."""

from __future__ import annotations

import datetime as dt

import pytest

from labbook.core.engine import write_transaction
from labbook.core.errors import ValidationError
from labbook.enterprises import services
from labbook.enterprises.models import Registration, RegistrationState
from labbook.extensions import db
from tests.factories import make_uscc

NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
SECRET = "test-secret-key-0123456789abcdef"


def register(uscc: str, *, now: dt.datetime = NOW, email: str | None = None) -> Registration:
    with write_transaction(db.session):
        return services.register(
            db.session, services.Enterprise(name=f"企业 {uscc}", uscc=uscc, address="焦作",
                                            contact_phone="0391-1234567"),
            services.Person(name="王工", email=email or f"{uscc.lower()}@example.cn",
                            password="a long enough password"),
            secret_key=SECRET, now=now)


def registration(uscc: str, state: RegistrationState, created_at: dt.datetime = NOW,
                 name: str = "") -> Registration:
    row = Registration(state=state, organization_name=name or f"旧企业 {uscc} {state}",
                       uscc=uscc, address="焦作", contact_phone="0391-1234567", name="李工",
                       email=f"{state}@example.cn", locale="zh_CN", password_hash="x",
                       created_at=created_at, reason="")
    db.session.add(row)
    db.session.commit()
    return row


def refused_as_under_way(uscc: str, now: dt.datetime) -> bool:
    try:
        register(uscc, now=now)
    except ValidationError as error:
        assert error.code == "registration_under_way", error.code
        db.session.rollback()
        return True
    return False


def test_a_registration_under_way_holds_back_only_its_own_enterprise():
    register(make_uscc(1))
    assert register(make_uscc(2)) is not None
    assert refused_as_under_way(make_uscc(1), NOW)


@pytest.mark.parametrize("state", [RegistrationState.REJECTED, RegistrationState.APPROVED])
def test_a_decided_registration_holds_back_nothing(state):
    registration(make_uscc(3), state)
    assert not refused_as_under_way(make_uscc(3), NOW)


def test_a_pending_registration_holds_back_however_old():
    registration(make_uscc(4), RegistrationState.PENDING, NOW - dt.timedelta(days=300))
    assert refused_as_under_way(make_uscc(4), NOW)


def test_an_unconfirmed_one_holds_back_until_its_link_expires_to_the_second():
    registration(make_uscc(5), RegistrationState.UNCONFIRMED, NOW)
    expiry = NOW + services.CONFIRMATION_MAX_AGE
    assert refused_as_under_way(make_uscc(5), expiry - dt.timedelta(seconds=1))
    assert not refused_as_under_way(make_uscc(5), expiry)


@pytest.mark.parametrize("other", [RegistrationState.PENDING, RegistrationState.UNCONFIRMED])
def test_confirming_one_registration_is_refused_while_another_of_it_is_under_way(other):
    """Two registrations of one enterprise under way at once (two people at the same moment):
    the second to confirm its address is refused, whether the first waits for a decision or
    for its own confirmation."""
    uscc = make_uscc(6)
    mine = register(uscc)
    registration(uscc, other, NOW + dt.timedelta(minutes=1))
    token = services.confirmation_token("registration", mine.id, SECRET)
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        services.confirm_email(db.session, token, secret_key=SECRET,
                               now=NOW + dt.timedelta(minutes=2))
    assert refused.value.code == "registration_under_way"
    assert db.session.get(Registration, mine.id).state == RegistrationState.UNCONFIRMED


def test_confirming_a_registration_alone_sends_it_to_the_admins():
    mine = register(make_uscc(7))
    token = services.confirmation_token("registration", mine.id, SECRET)
    with write_transaction(db.session):
        services.confirm_email(db.session, token, secret_key=SECRET,
                               now=NOW + dt.timedelta(minutes=2))
    assert db.session.get(Registration, mine.id).state == RegistrationState.PENDING


def test_the_admins_list_is_newest_first_without_the_unconfirmed():
    first_of_two = registration(make_uscc(9), RegistrationState.REJECTED, NOW)
    second_of_two = registration(make_uscc(10), RegistrationState.PENDING, NOW)
    older = registration(make_uscc(8), RegistrationState.PENDING, NOW - dt.timedelta(days=1))
    registration(make_uscc(11), RegistrationState.UNCONFIRMED, NOW + dt.timedelta(days=1))
    assert [r.id for r in services.registrations(db.session)] == [
        second_of_two.id, first_of_two.id, older.id]
    assert [r.id for r in services.registrations(db.session, RegistrationState.PENDING)] == [
        second_of_two.id, older.id]


def test_the_admins_list_shows_the_newest_200():
    for n in range(201):
        db.session.add(Registration(
            state=RegistrationState.REJECTED, organization_name=f"企业{n}", uscc=make_uscc(n),
            address="焦作", contact_phone="0391", name="李工", email=f"r{n}@example.cn",
            locale="zh_CN", password_hash="x", created_at=NOW + dt.timedelta(minutes=n),
            reason=""))
    db.session.commit()
    listed = services.registrations(db.session)
    assert len(listed) == 200
    assert listed[-1].organization_name == "企业1"
