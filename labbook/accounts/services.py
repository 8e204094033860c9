"""Account rules: creating organizations and users, authentication, preferences."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from labbook.accounts import passwords
from labbook.accounts.models import (
    ApiToken,
    LoginSession,
    Organization,
    OrganizationStatus,
    PriceTier,
    Role,
    User,
)
from labbook.accounts.uscc import InvalidUSCC, normalize_uscc
from labbook.audit.services import record
from labbook.catalogue.models import Lab
from labbook.core.engine import lock, write_transaction
from labbook.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.pagination import Page, paginate
from labbook.core.reads import fetch
from labbook.core.rows import columns_of, loaded
from labbook.ratelimit import digest, forget, hit, lab_clock, wait

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


def check_password_policy(password: str, *, email: str = "", name: str = "") -> None:
    """Refuse a password that is short, only digits or only letters, the user's own email
    address or name, or one of the best-known passwords."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _fail("password", _("The password must have at least %(n)d characters.",
                                  n=MIN_PASSWORD_LENGTH))
    if password.isdigit():
        raise _fail("password", _("The password must not be only digits."))
    if password.isalpha():
        raise _fail("password", _("The password must mix letters with digits or symbols."))
    folded = "".join(password.split()).casefold()
    email = normalize_email(email)
    own = {email, email.partition("@")[0], "".join(name.split()).casefold()} - {""}
    if folded in own:
        raise _fail("password", _("The password must not be your email address or your name."))
    if passwords.is_common(password):
        raise _fail("password", _("This password is one of the most common ones and is easily "
                                  "guessed; choose another."))


def _taken(session: Session, column: Any, value: Any, owner: Any = None) -> bool:
    """Whether a row other than ``owner`` already has ``value`` in the unique ``column``."""
    model = column.class_
    query = select(model.id).where(column == value)
    if owner is not None:
        query = query.where(model.id != owner.id)
    return session.scalar(query) is not None


def _saved_unless_taken(session: Session, refusals: dict[str, ValidationError]) -> None:
    """Write what is pending, turning the unique column a racing writer took first into its
    refusal.

    ``_taken`` answers for the rows already committed; two requests adding the same name at the
    same moment both pass it on PostgreSQL, and the unique constraint stops the second here.
    ``refusals`` maps the column names of those constraints to what to say.
    """
    try:
        session.flush()
    except IntegrityError as error:
        # PostgreSQL names the constraint (uq_users_email); SQLite the column (users.email).
        diagnosis = getattr(error.orig, "diag", None)
        clash = getattr(diagnosis, "constraint_name", None) or str(error.orig)
        for column, refusal in refusals.items():
            if column in clash:
                raise refusal from None
        raise


def _organization_name(session: Session, name: str,
                       organization: Organization | None = None) -> str:
    name = name.strip()
    if not name:
        raise _fail("name", _("The organization needs a name."))
    limit = Organization.__table__.c.name.type.length
    if len(name) > limit:
        raise _fail("name", _("At most %(n)d characters.", n=limit))
    if _taken(session, Organization.name, name, organization):
        raise _name_taken(name)
    return name


def _name_taken(name: str) -> ValidationError:
    return _fail("name", _("An organization named %(name)s already exists.", name=name))


def _uscc_taken(code: str) -> ValidationError:
    return _fail("uscc", _("An organization with code %(code)s already exists.", code=code))


def _organization_uscc(session: Session, uscc: str,
                       organization: Organization | None = None) -> str:
    try:
        code = normalize_uscc(uscc)
    except InvalidUSCC as exc:
        raise _fail("uscc", _("The unified social credit code is invalid: %(reason)s",
                              reason=str(exc))) from None
    if _taken(session, Organization.uscc, code, organization):
        raise _uscc_taken(code)
    return code


def _price_tier(tier: PriceTier | str) -> PriceTier:
    try:
        return PriceTier(tier)
    except ValueError:
        raise _fail("tier", _("Unknown price tier %(tier)s.", tier=tier)) from None


def _weekly_quota(hours: int | None) -> int | None:
    if hours is not None and not 1 <= hours <= 168:
        raise _fail("weekly_quota_hours", _("A weekly quota is from 1 to 168 hours."))
    return hours


def _audit_value(value: Any) -> Any:
    """A changed value as the audit log keeps it: people by email, labs by code."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, User):
        return value.email
    if isinstance(value, Organization):
        return value.name
    if isinstance(value, list):
        return [lab.code for lab in value]
    return str(value)


def _apply_changes(obj: Any, changes: dict[str, Any]) -> dict[str, list[Any]]:
    """Set ``changes`` on ``obj``; what really changed, as [before, after] for the audit log."""
    changed = {}
    for name, value in changes.items():
        before = getattr(obj, name)
        if isinstance(before, list):
            before = list(before)  # a relationship's collection, which the assignment replaces
        if before != value:
            setattr(obj, name, value)
            changed[name] = [_audit_value(before), _audit_value(value)]
    return changed


def create_organization(session: Session, *, name: str, uscc: str, tier: PriceTier | str,
                        weekly_quota_hours: int | None = None, actor: User | None = None,
                        now: dt.datetime | None = None) -> Organization:
    """A new, active organization.

    ``actor`` is the admin who adds it, None for an operator on the command line; when ``now``
    is given the creation is recorded in the audit log.
    """
    if actor is not None:
        _require_admin(actor)
    name = _organization_name(session, name)
    code = _organization_uscc(session, uscc)
    tier = _price_tier(tier)
    organization = Organization(name=name, uscc=code, tier=tier,
                                status=OrganizationStatus.ACTIVE,
                                weekly_quota_hours=_weekly_quota(weekly_quota_hours))
    session.add(organization)
    _saved_unless_taken(session, {"uscc": _uscc_taken(code), "name": _name_taken(name)})
    if now is not None:
        record(session, actor, organization, "create", at=now, to_state=organization.status.value,
               name=name, uscc=code, tier=tier.value, weekly_quota_hours=weekly_quota_hours)
    return organization


_UNCHANGED: Any = object()


def update_organization(session: Session, actor: User | None, organization: Organization, *,
                        now: dt.datetime, status: OrganizationStatus | str | None = None,
                        tier: PriceTier | str | None = None,
                        weekly_quota_hours: int | None = _UNCHANGED,
                        name: str | None = None, uscc: str | None = None,
                        billing_contact: User | None = _UNCHANGED,
                        colleagues_may_book_for_each_other: bool | None = None) -> Organization:
    """Change an organization's name, credit code, status, price tier, weekly quota (None: no
    quota), billing contact (None: nobody; else an active member) or whether its members may
    book for one another, audited.

    ``actor`` is None when an operator acts from the command line. The organization's row is
    read afresh under a lock first, so that two admins changing it at once are applied one
    after the other, each on what the other left.
    """
    lock(session, organization)
    if actor is not None:
        _require_admin(actor)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _organization_name(session, name, organization)
    if uscc is not None:
        changes["uscc"] = _organization_uscc(session, uscc, organization)
    if status is not None:
        try:
            changes["status"] = OrganizationStatus(status)
        except ValueError:
            raise _fail("status", _("Unknown status %(status)s.", status=status)) from None
    if tier is not None:
        changes["tier"] = _price_tier(tier)
    if weekly_quota_hours is not _UNCHANGED:
        changes["weekly_quota_hours"] = _weekly_quota(weekly_quota_hours)
    if colleagues_may_book_for_each_other is not None:
        changes["colleagues_may_book_for_each_other"] = colleagues_may_book_for_each_other
    if billing_contact is not _UNCHANGED:
        if billing_contact is not None:
            lock(session, billing_contact)
        if billing_contact is not None and (billing_contact.organization_id != organization.id
                                            or not billing_contact.is_active):
            raise _fail("billing_contact", _("The billing contact must be an active member of "
                                             "the organization."))
        changes["billing_contact"] = billing_contact
    status_before = organization.status
    with session.no_autoflush:  # the flush below turns a clash into the form's message
        changed = _apply_changes(organization, changes)
    if changed:
        _saved_unless_taken(session, {"uscc": _uscc_taken(organization.uscc),
                                      "name": _name_taken(organization.name)})
        record(session, actor, organization, "update", at=now,
               from_state=status_before.value if "status" in changed else None,
               to_state=organization.status.value if "status" in changed else None,
               changes=changed)
    return organization


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _user_email(session: Session, email: str, user: User | None = None) -> str:
    email = normalize_email(email)
    if not EMAIL_PATTERN.fullmatch(email):
        raise _fail("email", _("%(email)s is not an email address.", email=email))
    # Compared in lower case: addresses stored before they were normalized may not be.
    clash = select(User.id).where(func.lower(User.email) == email)
    if user is not None:
        clash = clash.where(User.id != user.id)
    if session.scalar(clash) is not None:
        raise _email_taken(email)
    return email


def _email_taken(email: str) -> ValidationError:
    return _fail("email", _("A user with the email %(email)s already exists.", email=email))


def _user_name(name: str) -> str:
    if not name.strip():
        raise _fail("name", _("The user needs a name."))
    return name.strip()


def _role_and_labs(role: Role | str, organization: Organization | None,
                   labs: list[Lab]) -> Role:
    """The role, if it fits the organization and the labs managed."""
    try:
        role = Role(role)
    except ValueError:
        raise _fail("role", _("Unknown role %(role)s.", role=role)) from None
    if role == Role.RESEARCHER and organization is None:
        raise _fail("organization", _("A researcher must belong to an organization."))
    if role == Role.LAB_MANAGER and not labs:
        raise _fail("labs", _("A lab manager must manage at least one lab."))
    if role != Role.LAB_MANAGER and labs:
        raise _fail("labs", _("Only lab managers manage labs."))
    return role


def _locale(locale: str) -> str:
    if locale not in SUPPORTED_LOCALES:
        raise _fail("locale", _("Unknown language %(locale)s.", locale=locale))
    return locale


def create_user(session: Session, *, email: str, name: str, password: str | None,
                role: Role | str = Role.RESEARCHER, organization: Organization | None = None,
                labs: list[Lab] | None = None, locale: str = "zh_CN",
                phone: str = "", actor: User | None = None,
                now: dt.datetime | None = None) -> User:
    """A new account.

    Without a ``password`` it gets one nobody knows, and its owner sets their own through a
    reset link (``hand_over_password_reset``). ``actor`` is the admin who adds it, None for an
    operator on the command line; when ``now`` is given the creation is recorded in the audit
    log.
    """
    if actor is not None:
        _require_admin(actor)
    email = _user_email(session, email)
    name = _user_name(name)
    labs = labs or []
    role = _role_and_labs(role, organization, labs)
    locale = _locale(locale)
    if password is not None:
        check_password_policy(password, email=email, name=name)
    user = User(email=email, name=name, phone=phone.strip(), role=role,
                organization=organization, managed_labs=labs, locale=locale,
                password_hash=hash_password(password or secrets.token_urlsafe(32)))
    session.add(user)
    _saved_unless_taken(session, {"email": _email_taken(email)})
    if now is not None:
        record(session, actor, user, "create", at=now, to_state="active", email=email,
               role=role.value, organization=_audit_value(organization),
               labs=_audit_value(labs))
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


# -- administration of organizations and users ------------------------------------------------


def can_manage_people(actor: User) -> bool:
    """Organizations and accounts are the institute's: only admins change them."""
    return actor.is_admin


def _require_admin(actor: User) -> None:
    if not can_manage_people(actor):
        raise PermissionDenied(_("Only admins manage organizations and users."))


def search_organizations(session: Session, *, q: str = "", status: str | None = None,
                         page: int = 1, per_page: int = 25) -> Page[Organization]:
    """Organizations whose name or credit code contains ``q`` (in any case), by name."""
    query = select(Organization).options(selectinload(Organization.members),
                                         joinedload(Organization.billing_contact))
    if q.strip():
        term = q.strip()
        query = query.where(Organization.name.icontains(term, autoescape=True)
                            | Organization.uscc.icontains(term, autoescape=True))
    if status in set(OrganizationStatus):
        query = query.where(Organization.status == OrganizationStatus(status))
    return paginate(session, query.order_by(Organization.name), page, per_page)


def all_organizations(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.name)))


def search_users(session: Session, *, q: str = "", role: str | None = None,
                 organization_id: int | None = None, is_active: bool | None = None,
                 page: int = 1, per_page: int = 25) -> Page[User]:
    """Users whose name or email contains ``q`` (in any case), by name."""
    query = select(User).options(joinedload(User.organization), selectinload(User.managed_labs))
    if q.strip():
        term = q.strip()
        query = query.where(User.name.icontains(term, autoescape=True)
                            | User.email.icontains(term, autoescape=True))
    if role in set(Role):
        query = query.where(User.role == Role(role))
    if organization_id is not None:
        query = query.where(User.organization_id == organization_id)
    if is_active is not None:
        query = query.where(User.is_active.is_(is_active))
    return paginate(session, query.order_by(User.name, User.id), page, per_page)


def update_user(session: Session, actor: User, user: User, *, now: dt.datetime, email: str,
                name: str, phone: str, role: Role | str, organization: Organization | None,
                labs: list[Lab], locale: str) -> User:
    """An admin changes an account: its address, name, organization, role and labs managed.

    Admins cannot take their own admin role away, so that there is always one left to give it
    back. The account's row is read afresh under a lock first.
    """
    lock(session, user)
    _require_admin(actor)
    changes = {"email": _user_email(session, email, user), "name": _user_name(name),
               "phone": phone.strip(), "organization": organization,
               "role": _role_and_labs(role, organization, labs),
               # In the order the relationship keeps them, so that the same labs compare equal.
               "managed_labs": sorted(labs, key=lambda lab: lab.code),
               "locale": _locale(locale)}
    if user.id == actor.id and changes["role"] != Role.ADMIN:
        raise _fail("role", _("You cannot take away your own admin role; ask another admin."))
    limit = User.__table__.c.phone.type.length
    if len(changes["phone"]) > limit:
        raise _fail("phone", _("At most %(n)d characters.", n=limit))
    with session.no_autoflush:  # the flush below turns a clash into the form's message
        changed = _apply_changes(user, changes)
    if changed:
        _saved_unless_taken(session, {"email": _email_taken(user.email)})
        record(session, actor, user, "update", at=now, changes=changed)
    return user


def set_user_active(session: Session, actor: User, user: User, *, active: bool,
                    now: dt.datetime) -> bool:
    """Let an account sign in again, or stop it: a deactivated account cannot sign in, is
    signed out everywhere, and its API tokens and calendar feeds stop working. Returns whether
    anything changed: not when the account's row, read afresh under a lock, already is so."""
    lock(session, user)
    _require_admin(actor)
    if not active and user.id == actor.id:
        raise _fail("is_active", _("You cannot deactivate your own account."))
    if user.is_active == active:
        return False
    user.is_active = active
    if not active:
        end_every_login_session(session, user)
    record(session, actor, user, "activate" if active else "deactivate", at=now,
           from_state="inactive" if active else "active",
           to_state="active" if active else "inactive")
    return True


def hand_over_password_reset(session: Session, actor: User, user: User, *, secret_key: str,
                             base_url: str, max_age: int, now: dt.datetime) -> PasswordReset:
    """A one-time link for an admin to hand to ``user`` (a new account, a forgotten password).

    It works once, until ``max_age`` seconds have passed or the password is changed. The audit
    log records that a link was made, never the link itself.
    """
    lock(session, user)
    _require_admin(actor)
    if not user.is_active:
        raise _fail("is_active", _("The account is deactivated: activate it first."))
    reset = password_reset_link(user, secret_key=secret_key, base_url=base_url,
                                max_age=max_age, now=now)
    record(session, actor, user, "password_reset_link", at=now,
           expires_at=reset.expires_at.isoformat())
    return reset


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
    # Built once: every API request runs it, and building it costs more than running it. Read
    # in Core, the user and the organization are made into objects for a fraction of what the
    # ORM's loading costs (``labbook.core.rows``).
    user, organization, token = User.__table__, Organization.__table__, ApiToken.__table__
    return (select(token.c.id, token.c.last_used_at, *columns_of(User),
                   *columns_of(Organization))
            .join_from(token, user, token.c.user_id == user.c.id)
            .outerjoin(organization, organization.c.id == user.c.organization_id)
            .where(token.c.token_hash == bindparam("token_hash"), token.c.revoked_at.is_(None),
                   user.c.is_active.is_(True)))


def user_for_api_token(session: Session, secret: str, *, now: dt.datetime) -> User | None:
    """The active user a bearer token belongs to, or None for an unknown or revoked token.

    The token is found by its hash, so nothing secret is compared byte by byte. Its "last used"
    time is brought up to date at most once per LAST_USED_RESOLUTION.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    rows = fetch(session, _user_by_token_hash(),
                 {"token_hash": _token_hash(secret)})
    if not rows:
        return None
    row = rows[0]
    token_id, last_used_at = row[:2]
    split = 2 + len(columns_of(User))
    user = loaded(session, User, row[2:split])
    # As read with the user: no lazy load (nor SQL) when the request asks for it. A user of no
    # organization has a row of NULLs for it.
    organization_id = row[split]
    set_committed_value(user, "organization", None if organization_id is None
                        else loaded(session, Organization, row[split:]))
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
    lock(session, token)
    if token.user_id != actor.id:
        raise NotFound(_("No such token."))
    if token.revoked_at is None:
        token.revoked_at = now


# -- sign-in lockout and password reset ---------------------------------------------------------


class AccountLocked(DomainError):
    """Too many failed sign-ins for one address: it may try again in ``retry_after`` seconds."""

    status = 429
    code = "account_locked"

    def __init__(self, retry_after: int, now: dt.datetime) -> None:
        super().__init__(_("Too many failed sign-ins: this account is locked for now. Try again "
                           "after %(time)s (lab time), or set a new password with “Forgot your "
                           "password?”.", time=lab_clock(retry_after, now)))
        self.retry_after = retry_after


def _failures_key(email: str) -> tuple[str, str]:
    return "login-failures", digest(normalize_email(email))


def sign_in(session: Session, email: str, password: str, *, lockout: str,
            now: dt.datetime) -> User | None:
    """``authenticate``, guarded by a lockout.

    Failures are counted per address under ``lockout`` (e.g. "5 per 15 minutes"). Once they
    reach it, even the right password is refused with AccountLocked until the oldest failure
    ages out. Addresses without an account are counted alike, so the lockout does not tell
    which addresses have one. A successful sign-in forgets the failures.
    """
    key = _failures_key(email)
    seconds = wait(lockout, *key)
    if seconds is not None:
        raise AccountLocked(seconds, now)
    user = authenticate(session, email, password)
    if user is None:
        seconds = hit(lockout, *key) or wait(lockout, *key)
        if seconds is not None:
            raise AccountLocked(seconds, now)
        return None
    forget(lockout, *key)
    return user


@dataclass(frozen=True)
class PasswordReset:
    """A link that lets ``user`` choose a new password until ``expires_at`` or its first use."""

    user: User
    link: str
    expires_at: dt.datetime


def password_reset_link(user: User, *, secret_key: str, base_url: str, max_age: int,
                        now: dt.datetime) -> PasswordReset:
    """A reset link for ``user``, valid for ``max_age`` seconds and only until it is used.

    The caller decides who may have one: the user through their email address, or an admin
    handing it over.
    """
    token = passwords.reset_token(user.id, user.password_hash, secret_key)
    return PasswordReset(user=user, link=f"{base_url.rstrip('/')}/password/reset/{token}",
                         expires_at=now + dt.timedelta(seconds=max_age))


def request_password_reset(session: Session, email: str, *, secret_key: str, base_url: str,
                           max_age: int, per_address: str, now: dt.datetime
                           ) -> PasswordReset | None:
    """A reset link for the active account with this email address, or None.

    Requests are counted per address under ``per_address`` (e.g. "3 per hour"), so that the
    form cannot flood a mailbox; beyond that there is no link either. Callers answer the same
    way whatever comes back, so nobody learns which addresses have accounts.
    """
    if hit(per_address, "reset-email", digest(normalize_email(email))) is not None:
        return None
    user = user_by_email(session, email)
    if user is None or not user.is_active:
        return None
    return password_reset_link(user, secret_key=secret_key, base_url=base_url, max_age=max_age,
                               now=now)


def _invalid_reset_link(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_reset_link",
                           problems=[Problem("invalid_reset_link", message, field="token")])


def user_for_password_reset(session: Session, token: str, *, secret_key: str,
                            max_age: int, for_update: bool = False) -> User:
    """The active user ``token`` lets set a new password; ValidationError if it does not.

    ``for_update`` reads the user's row afresh under a lock, for deciding to change it.
    """
    try:
        user_id, fingerprint = passwords.read_reset_token(token, secret_key, max_age)
    except SignatureExpired:
        raise _invalid_reset_link(_("This link to set a new password has expired. Ask for a "
                                    "new one.")) from None
    except BadSignature:
        user_id, fingerprint = None, ""
    user = session.get(User, user_id, with_for_update=for_update,
                       populate_existing=for_update) if user_id is not None else None
    if user is None or not user.is_active \
            or not passwords.token_matches(user.password_hash, fingerprint):
        raise _invalid_reset_link(_("This link to set a new password is not valid or has "
                                    "already been used. Ask for a new one."))
    return user


def reset_password(session: Session, token: str, password: str, *, secret_key: str,
                   max_age: int, lockout: str, now: dt.datetime) -> User:
    """Set the password of the user ``token`` was made for; the token then stops working.

    The failed sign-ins counted under ``lockout`` are forgotten: a locked-out user can get back
    in this way. The user's row is read under a lock, so that the same link sent twice at once
    sets one password and refuses the other. Every sign-in of the account ends.
    """
    user = user_for_password_reset(session, token, secret_key=secret_key, max_age=max_age,
                                   for_update=True)
    check_password_policy(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)
    end_every_login_session(session, user)
    record(session, user, user, "reset_password", at=now)
    forget(lockout, *_failures_key(user.email))
    return user


# -- sign-in sessions -------------------------------------------------------------------------

#: How a session cookie names a sign-in (see ``User.get_id``): the user's id, the fingerprint
#: of their password and the sign-in's secret.
_SESSION_ID = re.compile(r"([0-9]{1,18})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})")


def start_login_session(session: Session, user: User, *, lifetime: dt.timedelta,
                        now: dt.datetime) -> LoginSession:
    """A new sign-in of ``user``, which lasts until it is signed out or ``lifetime`` has
    passed; ``user.get_id()`` names it from now on. The user's expired sign-ins are cleared."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id,
                                               LoginSession.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    login = LoginSession(user_id=user.id, secret_hash=_token_hash(secret), created_at=now,
                         expires_at=now + lifetime)
    session.add(login)
    user.login_secret = secret
    return login


@cache
def _user_by_login_secret():
    # Built once: every signed-in page runs it.
    return (select(User).join(LoginSession, LoginSession.user_id == User.id)
            .where(User.id == bindparam("user_id"),
                   LoginSession.secret_hash == bindparam("secret_hash"),
                   LoginSession.expires_at > bindparam("now"), User.is_active.is_(True)))


def user_for_login_session(session: Session, session_id: str, *,
                           now: dt.datetime) -> User | None:
    """The user whose sign-in ``session_id`` names, or None: once that sign-in was signed out
    or has expired, the account deactivated or its password changed."""
    match = _SESSION_ID.fullmatch(session_id)
    if match is None:
        return None
    user_id, password, secret = match.groups()
    user = session.scalar(_user_by_login_secret(), {
        "user_id": int(user_id), "secret_hash": _token_hash(secret), "now": now})
    if user is None or not passwords.token_matches(user.password_hash, password):
        return None
    user.login_secret = secret
    return user


def end_login_session(session: Session, user: User) -> None:
    """Sign out of the sign-in ``user`` stands for: its cookies stop working wherever they
    are, the user's other sign-ins go on."""
    if user.login_secret is not None:
        session.execute(delete(LoginSession).where(
            LoginSession.secret_hash == _token_hash(user.login_secret)))
        user.login_secret = None


def end_every_login_session(session: Session, user: User) -> None:
    """Sign ``user`` out everywhere."""
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
