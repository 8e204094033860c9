import pytest

from labbook.accounts import services as accounts
from labbook.accounts.models import PriceTier, Role
from labbook.core.errors import ValidationError
from labbook.extensions import db
from tests.factories import PASSWORD, create_lab, create_organization, create_user, make_uscc


def test_organization_is_created_with_a_normalized_code():
    organization = accounts.create_organization(db.session, name=" 焦作某科技有限公司 ",
                                                uscc=make_uscc(7).lower(), tier="partner")
    db.session.commit()
    assert organization.name == "焦作某科技有限公司"
    assert organization.uscc == make_uscc(7)
    assert organization.tier == PriceTier.PARTNER


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": "  "}, "name"),
    ({"uscc": "91410800MA0000001X"}, "uscc"),
    ({"tier": "gold"}, "tier"),
])
def test_bad_organizations_are_refused_naming_the_field(overrides, field):
    values = {"name": "新企业", "uscc": make_uscc(9), "tier": "external", **overrides}
    with pytest.raises(ValidationError) as refused:
        accounts.create_organization(db.session, **values)
    assert refused.value.problems[0].field == field


def test_duplicate_organizations_are_refused():
    existing = create_organization()
    with pytest.raises(ValidationError, match="已存在"):
        accounts.create_organization(db.session, name=existing.name, uscc=make_uscc(99),
                                     tier="external")
    with pytest.raises(ValidationError, match="已存在"):
        accounts.create_organization(db.session, name="另一家", uscc=existing.uscc,
                                     tier="external")


def test_user_gets_a_scrypt_hash_and_can_sign_in():
    organization = create_organization()
    user = accounts.create_user(db.session, email=" Chen@Example.CN ", name="陈",
                                password="a-long-pass-1", organization=organization)
    db.session.commit()
    assert user.email == "chen@example.cn"
    assert user.password_hash.startswith("scrypt:")
    assert accounts.authenticate(db.session, "CHEN@example.cn", "a-long-pass-1") == user
    assert accounts.authenticate(db.session, "chen@example.cn", "wrong-pass-1") is None
    assert accounts.authenticate(db.session, "nobody@example.cn", "a-long-pass-1") is None


def test_disabled_users_cannot_sign_in():
    user = create_user(is_active=False)
    assert accounts.authenticate(db.session, user.email, PASSWORD) is None


@pytest.mark.parametrize(("overrides", "field"), [
    ({"email": "not-an-email"}, "email"),
    ({"password": "short1"}, "password"),
    ({"password": "onlyletterslong"}, "password"),
    ({"role": "superuser"}, "role"),
    ({"organization": None}, "organization"),
    ({"role": "lab_manager"}, "labs"),
    ({"locale": "fr"}, "locale"),
])
def test_bad_users_are_refused_naming_the_field(overrides, field):
    values = {"email": "new@example.cn", "name": "新用户", "password": "a-long-pass-1",
              "organization": create_organization(), **overrides}
    with pytest.raises(ValidationError) as refused:
        accounts.create_user(db.session, **values)
    assert refused.value.problems[0].field == field


def test_only_lab_managers_manage_labs():
    with pytest.raises(ValidationError, match="只有实验室管理员"):
        accounts.create_user(db.session, email="r@example.cn", name="R", password="a-long-pass-1",
                             organization=create_organization(), labs=[create_lab()])


def test_a_manager_manages_only_their_labs_and_an_admin_all():
    own, other = create_lab(), create_lab()
    manager = create_user(role=Role.LAB_MANAGER, managed_labs=[own])
    admin = create_user(role=Role.ADMIN)
    researcher = create_user()
    assert manager.manages(own) and not manager.manages(other)
    assert admin.manages(other)
    assert not researcher.manages(own)
