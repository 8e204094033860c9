"""Account rules: creating organizations and users, authentication, preferences."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from labbook.accounts.models import (
    ApiToken,
    Organization,
    OrganizationStatus,
    PriceTier,
    Qualification,
    Role,
    User,
)
from labbook.accounts.uscc import InvalidUSCC, normalize_uscc
from labbook.audit.services import record
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, PermissionDenied, Problem, ValidationError

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


_UNCHANGED: Any = object()


def update_organization(session: Session, actor: User | None, organization: Organization, *,
                        now: dt.datetime, status: OrganizationStatus | str | None = None,
                        tier: PriceTier | str | None = None,
                        weekly_quota_hours: int | None = _UNCHANGED) -> Organization:
    """Change an organization's status, price tier or weekly quota (None: no quota), audited.

    ``actor`` is None when an operator acts from the command line.
    """
    changes: dict[str, Any] = {}
    if status is not None:
        try:
            changes["status"] = OrganizationStatus(status)
        except ValueError:
            raise _fail("status", _("Unknown status %(status)s.", status=status)) from None
    if tier is not None:
        try:
            changes["tier"] = PriceTier(tier)
        except ValueError:
            raise _fail("tier", _("Unknown price tier %(tier)s.", tier=tier)) from None
    if weekly_quota_hours is not _UNCHANGED:
        if weekly_quota_hours is not None and not 1 <= weekly_quota_hours <= 168:
            raise _fail("weekly_quota_hours", _("A weekly quota is from 1 to 168 hours."))
        changes["weekly_quota_hours"] = weekly_quota_hours
    before = {name: getattr(organization, name) for name in changes}
    for name, value in changes.items():
        setattr(organization, name, value)
    changed = {name: [str(before[name]) if before[name] is not None else None,
                      str(value) if value is not None else None]
               for name, value in changes.items() if before[name] != value}
    if changed:
        record(session, actor, organization, "update", at=now, changes=changed)
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


def user_by_email(session: Session, email: str) -> User | None:
    """The user with this email address (in any case, surrounding blanks ignored), or None."""
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def managed_labs(session: Session, actor: User) -> list[Lab]:
    """The labs ``actor`` manages: every lab for an admin, none for a researcher."""
    if actor.is_admin:
        return list(session.scalars(select(Lab).order_by(Lab.code)))
    if actor.is_lab_manager:
        return list(actor.managed_labs)
    return []


def can_manage_something(actor: User) -> bool:
    """Whether the managers' pages are open to ``actor`` at all."""
    return actor.is_admin or actor.is_lab_manager


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (without telling which part was wrong)."""
    user = user_by_email(session, email)
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


# -- qualifications ---------------------------------------------------------------------------


def grant_qualification(session: Session, actor: User, user: User, instrument: Instrument, *,
                        now: dt.datetime, expires_at: dt.datetime | None = None
                        ) -> Qualification:
    """Record that ``user`` is trained on ``instrument``; replaces an earlier valid grant."""
    if not actor.manages(instrument.lab):
        raise PermissionDenied(_("Only the lab's managers grant qualifications."))
    if expires_at is not None and expires_at <= now:
        raise _fail("expires_at", _("The expiry must be in the future."))
    for earlier in session.scalars(select(Qualification).where(
            Qualification.user_id == user.id, Qualification.instrument_id == instrument.id,
            Qualification.revoked_at.is_(None))):
        earlier.revoked_at = now
        earlier.revoked_by_id = actor.id
    qualification = Qualification(user=user, instrument=instrument, granted_by_id=actor.id,
                                  granted_at=now, expires_at=expires_at)
    session.add(qualification)
    session.flush()
    record(session, actor, qualification, "grant", at=now, user_id=user.id,
           instrument_id=instrument.id,
           expires_at=expires_at.isoformat() if expires_at else None)
    return qualification


def get_qualification(session: Session, actor: User, qualification_id: int) -> Qualification:
    """The qualification, if it is for an instrument of a lab ``actor`` manages."""
    qualification = session.get(Qualification, qualification_id)
    if qualification is None or not actor.manages(qualification.instrument.lab):
        raise NotFound(_("No qualification with id %(id)d.", id=qualification_id))
    return qualification


def qualifications_for(session: Session, actor: User, *, now: dt.datetime,
                       instrument_id: int | None = None,
                       recent_days: int = 90) -> list[Qualification]:
    """Training records on instruments of the labs ``actor`` manages.

    Those valid now come first (by instrument, then user); then those revoked or expired within
    the last ``recent_days`` days, most recently ended first.
    """
    labs = managed_labs(session, actor)
    if not labs:
        return []
    since = now - dt.timedelta(days=recent_days)
    query = (select(Qualification).join(Qualification.instrument).join(Qualification.user)
             .where(Instrument.lab_id.in_([lab.id for lab in labs]),
                    (Qualification.revoked_at.is_(None)) | (Qualification.revoked_at > since),
                    (Qualification.expires_at.is_(None)) | (Qualification.expires_at > since))
             .order_by(Instrument.code, User.name, Qualification.granted_at.desc()))
    if instrument_id is not None:
        query = query.where(Qualification.instrument_id == instrument_id)
    found = list(session.scalars(query))
    valid = [q for q in found if q.is_valid_at(now)]
    ended = [q for q in found if not q.is_valid_at(now)]
    ended.sort(key=lambda q: min(m for m in (q.revoked_at, q.expires_at) if m is not None),
               reverse=True)
    return valid + ended


def revoke_qualification(session: Session, actor: User, qualification: Qualification, *,
                         now: dt.datetime) -> None:
    if not actor.manages(qualification.instrument.lab):
        raise PermissionDenied(_("Only the lab's managers revoke qualifications."))
    if qualification.revoked_at is not None:
        return
    qualification.revoked_at = now
    qualification.revoked_by_id = actor.id
    record(session, actor, qualification, "revoke", at=now, user_id=qualification.user_id,
           instrument_id=qualification.instrument_id)


# -- API tokens -------------------------------------------------------------------------------

TOKEN_PREFIX = "lbk_"  # noqa: S105  (a public marker, not a secret)


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(session: Session, user: User, *, name: str, now: dt.datetime
                     ) -> tuple[ApiToken, str]:
    """A new token for ``user``; the secret is returned once and only its hash is kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name.strip()[:100], token_hash=_token_hash(secret),
                     created_at=now)
    session.add(token)
    return token, secret


#: How often a token's "last used" time is written: often enough to be useful on the profile
#: page, rarely enough that reading the API does not mean writing to the database.
LAST_USED_RESOLUTION = dt.timedelta(hours=1)


@cache
def _user_by_token_hash():
    # Built once: every API request runs it, and building it costs more than running it.
    return (select(User, ApiToken.id, ApiToken.last_used_at)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == bindparam("token_hash"),
                   ApiToken.revoked_at.is_(None), User.is_active.is_(True))
            .options(joinedload(User.organization)))


def user_for_api_token(session: Session, secret: str, *, now: dt.datetime) -> User | None:
    """The active user a bearer token belongs to, or None for an unknown or revoked token.

    The token is found by its hash, so nothing secret is compared byte by byte. Its "last used"
    time is brought up to date at most once per LAST_USED_RESOLUTION.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    row = session.execute(_user_by_token_hash(), {"token_hash": _token_hash(secret)}).first()
    if row is None:
        return None
    user, token_id, last_used_at = row
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        with write_transaction(session):
            session.execute(update(ApiToken).where(ApiToken.id == token_id)
                            .values(last_used_at=now))
    return user


def api_tokens_of(session: Session, user: User) -> list[ApiToken]:
    """``user``'s API tokens, newest first, revoked ones included."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def get_api_token(session: Session, actor: User, token_id: int) -> ApiToken:
    """One of ``actor``'s own tokens; anybody else's is simply not found."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.id:
        raise NotFound(_("No such token."))
    return token


def revoke_api_token(session: Session, actor: User, token: ApiToken, *, now: dt.datetime) -> None:
    if token.user_id != actor.id:
        raise NotFound(_("No such token."))
    if token.revoked_at is None:
        token.revoked_at = now
