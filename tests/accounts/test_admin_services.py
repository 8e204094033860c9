"""The admins' account services: organizations, users and reset links; changes decided on the
row as it is now, and names taken by a racing request."""

import datetime as dt

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from labbook.accounts import services as accounts
from labbook.accounts.models import Organization, OrganizationStatus, Role, User
from labbook.audit.models import AuditEvent
from labbook.core.engine import write_transaction
from labbook.core.errors import PermissionDenied, ValidationError
from labbook.extensions import db
from tests.factories import (
    another_session,
    create_admin,
    create_lab,
    create_manager,
    create_organization,
    create_user,
    make_uscc,
    reload,
)

NOW = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)
SECRET = "test-secret-key"


@pytest.fixture(autouse=True)
def _english():
    with force_locale("en"):
        yield


def field_of(refused) -> str:
    return refused.value.problems[0].field


def user_values(user, **changes) -> dict:
    values = {"email": user.email, "name": user.name, "phone": user.phone, "role": user.role,
              "organization": user.organization, "labs": list(user.managed_labs),
              "locale": user.locale}
    values.update(changes)
    return values


def test_only_admins_create_and_change_organizations():
    manager = create_manager(create_lab())
    with pytest.raises(PermissionDenied) as refused:
        accounts.create_organization(db.session, name="新企业", uscc=make_uscc(601),
                                     tier="external", actor=manager, now=NOW)
    assert refused.value.message == "Only admins manage organizations and users."
    with pytest.raises(PermissionDenied):
        accounts.update_organization(db.session, manager, create_organization(), now=NOW,
                                     tier="internal")


def test_an_organization_created_by_an_admin_is_audited():
    admin = create_admin()
    organization = accounts.create_organization(db.session, name="新企业", uscc=make_uscc(602),
                                                tier="partner", weekly_quota_hours=10,
                                                actor=admin, now=NOW)
    db.session.commit()
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.object_id, event.actor_id, event.details["tier"]) == \
        (organization.id, admin.id, "partner")


def test_renaming_an_organization_checks_the_others_but_not_itself():
    admin = create_admin()
    taken = create_organization(name="已有企业")
    organization = create_organization(name="某企业")
    accounts.update_organization(db.session, admin, organization, now=NOW, name="某企业",
                                 uscc=organization.uscc.lower())
    assert db.session.scalars(select(AuditEvent)).first() is None  # nothing changed
    with pytest.raises(ValidationError) as refused:
        accounts.update_organization(db.session, admin, organization, now=NOW,
                                     name="已有企业")
    assert field_of(refused) == "name"
    with pytest.raises(ValidationError) as refused:
        accounts.update_organization(db.session, admin, organization, now=NOW, uscc=taken.uscc)
    assert field_of(refused) == "uscc"


def test_the_billing_contact_is_an_active_member():
    admin = create_admin()
    organization = create_organization()
    member = create_user(organization=organization)
    for contact in (create_user(), create_user(organization=organization, is_active=False)):
        with pytest.raises(ValidationError) as refused:
            accounts.update_organization(db.session, admin, organization, now=NOW,
                                         billing_contact=contact)
        assert field_of(refused) == "billing_contact"
    accounts.update_organization(db.session, admin, organization, now=NOW,
                                 billing_contact=member)
    accounts.update_organization(db.session, admin, organization, now=NOW,
                                 billing_contact=None)
    assert organization.billing_contact is None


def test_a_user_added_without_a_password_sets_one_through_the_link():
    admin = create_admin()
    user = accounts.create_user(db.session, email="New@Example.cn", name="新用户",
                                password=None, organization=create_organization(),
                                actor=admin, now=NOW)
    reset = accounts.hand_over_password_reset(db.session, admin, user, secret_key=SECRET,
                                              base_url="https://labbook.example.cn/",
                                              max_age=3600, now=NOW)
    db.session.commit()
    assert reset.link.startswith("https://labbook.example.cn/password/reset/")
    assert reset.expires_at == NOW + dt.timedelta(hours=1)
    token = reset.link.rsplit("/", 1)[1]
    assert accounts.user_for_password_reset(db.session, token, secret_key=SECRET,
                                            max_age=3600) == user
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create", "password_reset_link"]
    assert token not in str(events[1].details)


def test_no_reset_link_for_a_deactivated_account_or_by_a_manager():
    user = create_user(is_active=False)
    with pytest.raises(ValidationError):
        accounts.hand_over_password_reset(db.session, create_admin(), user, secret_key=SECRET,
                                          base_url="http://x", max_age=60, now=NOW)
    with pytest.raises(PermissionDenied):
        accounts.hand_over_password_reset(db.session, create_manager(create_lab()),
                                          create_user(), secret_key=SECRET, base_url="http://x",
                                          max_age=60, now=NOW)


def test_updating_a_user_follows_the_role_rules():
    admin = create_admin()
    lab = create_lab()
    user = create_user()
    create_user(email="taken@example.cn")
    cases = [({"role": Role.LAB_MANAGER}, "labs"),
             ({"labs": [lab]}, "labs"),
             ({"organization": None}, "organization"),
             ({"email": "TAKEN@example.cn"}, "email"),
             ({"name": " "}, "name"),
             ({"locale": "fr"}, "locale"),
             ({"phone": "1" * 33}, "phone")]
    for changes, field in cases:
        with pytest.raises(ValidationError) as refused:
            accounts.update_user(db.session, admin, user, now=NOW,
                                 **user_values(user, **changes))
        assert field_of(refused) == field, changes
    accounts.update_user(db.session, admin, user, now=NOW, **user_values(
        user, email=user.email.upper(), role=Role.LAB_MANAGER, labs=[lab]))
    assert user.managed_labs == [lab] and user.email == user.email.lower()


def test_admins_keep_their_own_role_and_account():
    admin = create_admin()
    with pytest.raises(ValidationError):
        accounts.update_user(db.session, admin, admin, now=NOW,
                             **user_values(admin, role=Role.RESEARCHER))
    with pytest.raises(ValidationError):
        accounts.set_user_active(db.session, admin, admin, active=False, now=NOW)
    other = create_admin()
    assert accounts.set_user_active(db.session, admin, other, active=False, now=NOW)
    assert not accounts.set_user_active(db.session, admin, other, active=False, now=NOW)


# -- changes decided on the row as it is, not as the admin's page read it ------------------------


def audit_actions(obj) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == obj.__tablename__, AuditEvent.object_id == obj.id)
        .order_by(AuditEvent.id)))


def test_deactivating_an_account_another_admin_deactivated_meanwhile_records_it_once():
    admin, colleague, user = create_admin(), create_admin(), create_user()
    with another_session() as other:
        accounts.set_user_active(other, other.get(User, colleague.id), other.get(User, user.id),
                                 active=False, now=NOW)

    with write_transaction(db.session):
        changed = accounts.set_user_active(db.session, admin, user, active=False, now=NOW)

    assert changed is False
    assert audit_actions(user) == ["deactivate"]


def test_an_edit_another_admin_already_made_is_not_recorded_again():
    admin, colleague, user = create_admin(), create_admin(), create_user(name="Wang Fang")
    values = user_values(user, name="Wang Fang-Li")
    with another_session() as other:
        accounts.update_user(other, other.get(User, colleague.id), other.get(User, user.id),
                             now=NOW, **{**values, "organization": other.get(
                                 Organization, user.organization_id), "labs": []})

    with write_transaction(db.session):
        accounts.update_user(db.session, admin, user, now=NOW, **values)

    assert audit_actions(user) == ["update"]


def test_suspending_an_organization_suspended_meanwhile_records_it_once():
    admin, colleague, organization = create_admin(), create_admin(), create_organization()
    with another_session() as other:
        accounts.update_organization(other, other.get(User, colleague.id),
                                     other.get(Organization, organization.id), now=NOW,
                                     status=OrganizationStatus.SUSPENDED)

    with write_transaction(db.session):
        accounts.update_organization(db.session, admin, organization, now=NOW,
                                     status=OrganizationStatus.SUSPENDED)

    assert reload(organization).is_suspended
    assert audit_actions(organization) == ["update"]


def test_a_billing_contact_deactivated_meanwhile_is_refused():
    admin, colleague = create_admin(), create_admin()
    organization = create_organization()
    contact = create_user(organization=organization)
    with another_session() as other:
        accounts.set_user_active(other, other.get(User, colleague.id),
                                 other.get(User, contact.id), active=False, now=NOW)

    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        accounts.update_organization(db.session, admin, organization, now=NOW,
                                     billing_contact=contact)

    assert field_of(refused) == "billing_contact"
    assert reload(organization).billing_contact_id is None


# -- a name or address taken by a request that overtook the check --------------------------------


@pytest.fixture
def overtaken(monkeypatch):
    """The uniqueness checks see nothing: another request took the value since they looked."""
    monkeypatch.setattr(accounts, "_taken", lambda *_args: False)
    monkeypatch.setattr(accounts, "_user_email",
                        lambda _session, email, _user=None: accounts.normalize_email(email))


@pytest.mark.usefixtures("overtaken")
@pytest.mark.parametrize("field", ["name", "uscc"])
def test_an_organization_name_or_code_taken_meanwhile_is_a_clear_refusal(field):
    taken = create_organization()
    values = {"name": "Henan New Materials", "uscc": make_uscc(9876),
              field: getattr(taken, field)}
    with pytest.raises(ValidationError) as refused, write_transaction(db.session):
        accounts.create_organization(db.session, tier="external", actor=create_admin(),
                                     now=NOW, **values)
    assert field_of(refused) == field
    assert "already exists" in refused.value.message


@pytest.mark.usefixtures("overtaken")
def test_an_email_address_taken_meanwhile_is_a_clear_refusal():
    taken = create_user()
    admin, user = create_admin(), create_user()
    with pytest.raises(ValidationError) as created, write_transaction(db.session):
        accounts.create_user(db.session, email=taken.email, name="Zhou Min", password=None,
                             organization=taken.organization, actor=admin, now=NOW)
    with pytest.raises(ValidationError) as changed, write_transaction(db.session):
        accounts.update_user(db.session, admin, user, now=NOW,
                             **user_values(user, email=taken.email.upper()))
    assert field_of(created) == field_of(changed) == "email"
