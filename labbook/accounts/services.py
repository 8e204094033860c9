"""Account rules: creating organizations and users, authentication, preferences."""

from __future__ import annotations

import re
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from labbook.accounts.models import Organization, OrganizationStatus, PriceTier, Role, User
from labbook.accounts.uscc import InvalidUSCC, normalize_uscc
from labbook.catalogue.models import Lab
from labbook.core.errors import Problem, ValidationError

MIN_PASSWORD_LENGTH = 10
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SUPPORTED_LOCALES = ("zh_CN", "en")

# Verifying against a real hash when the email is unknown keeps the response time the same,
# so sign-in does not reveal which addresses have accounts.
@cache
def _dummy_hash() -> str:
    return generate_password_hash("not-a-real-password", method="scrypt")


def _fail(field: str, message: str) -> ValidationError:
    return ValidationError(message, problems=[Problem("invalid", message, field=field)])


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _fail("password", _("The password must have at least %(n)d characters.",
                                  n=MIN_PASSWORD_LENGTH))
    if password.isdigit() or password.isalpha():
        raise _fail("password", _("The password must mix letters with digits or symbols."))


def create_organization(session: Session, *, name: str, uscc: str, tier: PriceTier | str,
                        weekly_quota_hours: int | None = None) -> Organization:
    name = name.strip()
    if not name:
        raise _fail("name", _("The organization needs a name."))
    try:
        code = normalize_uscc(uscc)
    except InvalidUSCC as exc:
        raise _fail("uscc", _("The unified social credit code is invalid: %(reason)s",
                              reason=str(exc))) from None
    try:
        tier = PriceTier(tier)
    except ValueError:
        raise _fail("tier", _("Unknown price tier %(tier)s.", tier=tier)) from None
    if session.scalar(select(Organization.id).where(Organization.name == name)):
        raise _fail("name", _("An organization named %(name)s already exists.", name=name))
    if session.scalar(select(Organization.id).where(Organization.uscc == code)):
        raise _fail("uscc", _("An organization with code %(code)s already exists.", code=code))
    organization = Organization(name=name, uscc=code, tier=tier,
                                status=OrganizationStatus.ACTIVE,
                                weekly_quota_hours=weekly_quota_hours)
    session.add(organization)
    return organization


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(session: Session, *, email: str, name: str, password: str,
                role: Role | str = Role.RESEARCHER, organization: Organization | None = None,
                labs: list[Lab] | None = None, locale: str = "zh_CN",
                phone: str = "") -> User:
    email = normalize_email(email)
    if not EMAIL_PATTERN.fullmatch(email):
        raise _fail("email", _("%(email)s is not an email address.", email=email))
    if session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise _fail("email", _("A user with the email %(email)s already exists.", email=email))
    if not name.strip():
        raise _fail("name", _("The user needs a name."))
    try:
        role = Role(role)
    except ValueError:
        raise _fail("role", _("Unknown role %(role)s.", role=role)) from None
    if locale not in SUPPORTED_LOCALES:
        raise _fail("locale", _("Unknown language %(locale)s.", locale=locale))
    labs = labs or []
    if role == Role.RESEARCHER and organization is None:
        raise _fail("organization", _("A researcher must belong to an organization."))
    if role == Role.LAB_MANAGER and not labs:
        raise _fail("labs", _("A lab manager must manage at least one lab."))
    if role != Role.LAB_MANAGER and labs:
        raise _fail("labs", _("Only lab managers manage labs."))
    check_password_policy(password)
    user = User(email=email, name=name.strip(), phone=phone.strip(), role=role,
                organization=organization, managed_labs=labs, locale=locale,
                password_hash=hash_password(password))
    session.add(user)
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (without telling which part was wrong)."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.is_active:
        return None
    return user


def set_locale(user: User, locale: str) -> None:
    if locale not in SUPPORTED_LOCALES:
        raise _fail("locale", _("Unknown language %(locale)s.", locale=locale))
    user.locale = locale
