"""Enterprises joining by themselves.

A registrant gives their enterprise (name, credit code, address, phone, optionally an image of
the business licence) and themselves, and confirms their email address by the signed link sent
to it; an admin then approves — creating the organization and the registrant's account, who
becomes the organization's admin — or rejects with a reason. The organization's admins invite
colleagues (links that work once, until they expire), remove them, choose the billing contact,
and let in people who ask to join an enterprise already registered.

Enumeration-safe: a registration or a request to join with an address that already has an
account is answered like any other ("check your mailbox"), and the email to that address says
what happened instead. An enterprise's credit code is public, so a code already registered is
said at once, with the way to ask to join.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from labbook.accounts import services as accounts
from labbook.accounts.models import Organization, OrganizationStatus, PriceTier, Role, User
from labbook.accounts.uscc import InvalidUSCC, normalize_uscc
from labbook.audit.services import record
from labbook.billing.models import Statement, StatementState
from labbook.booking.models import Booking
from labbook.core.engine import lock, locked
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.enterprises.models import (
    Invitation,
    JoinRequest,
    JoinRequestState,
    OrganizationAdmin,
    Registration,
    RegistrationState,
    registration_in,
)
from labbook.notify import services as notify
from labbook.orders.models import Order

#: A business licence image: at most this large, and a PNG or JPEG (told by its first bytes).
LICENCE_MAX_BYTES = 5 * 1024 * 1024
LICENCE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
#: How long the link that confirms an email address works, and how long an unconfirmed
#: registration keeps its enterprise's code from being registered again.
CONFIRMATION_MAX_AGE = dt.timedelta(hours=48)
#: How long an invitation works.
INVITATION_LIFETIME = dt.timedelta(days=7)
_CONFIRM_SALT = "labbook.confirm-email"


def _fail(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError(message, code=code, problems=[Problem(code, message, field=field)])


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- the registrant's input ----------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Who registers or asks to join, as they gave themselves."""

    name: str
    email: str
    password: str
    phone: str = ""
    locale: str = "zh_CN"


@dataclass(frozen=True)
class Enterprise:
    name: str
    uscc: str
    address: str
    contact_phone: str
    licence: bytes | None = None


class OrganizationRegistered(ValidationError):
    """The enterprise is registered already: ask its admins to let you join."""

    code = "organization_registered"

    def __init__(self, uscc: str) -> None:
        message = _("An enterprise with the unified social credit code %(code)s is registered "
                    "with labbook already. Ask its admin to let you join instead.", code=uscc)
        super().__init__(message, problems=[Problem(self.code, message, field="uscc")])
        self.uscc = uscc

    def extra(self) -> dict[str, str]:
        return {"uscc": self.uscc}


def _required(field: str, value: str, limit: int, message: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise _fail(field, message, "required")
    if len(value) > limit:
        raise _fail(field, _("At most %(n)d characters.", n=limit))
    return value


def _uscc(code: str) -> str:
    try:
        return normalize_uscc(code)
    except InvalidUSCC as exc:
        raise _fail("uscc", _("The unified social credit code is invalid: %(reason)s",
                              reason=str(exc)), "invalid_uscc") from None


def registered_uscc(session: Session, code: str) -> str | None:
    """``code`` as labbook writes it when an organization is registered with it already (a
    registrant is offered to ask to join it instead); None otherwise, an invalid code too."""
    try:
        uscc = normalize_uscc(code)
    except InvalidUSCC:
        return None
    registered = session.scalar(select(Organization.id).where(Organization.uscc == uscc))
    return uscc if registered is not None else None


def licence_type(data: bytes) -> str:
    """The content type of a business licence image; ValidationError unless it is a PNG or
    JPEG of at most ``LICENCE_MAX_BYTES``."""
    if len(data) > LICENCE_MAX_BYTES:
        raise _fail("licence", _("The licence image may be at most %(n)d MB.",
                                 n=LICENCE_MAX_BYTES // (1024 * 1024)), "licence_too_large")
    for signature, content_type in LICENCE_SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    raise _fail("licence", _("The licence must be a PNG or JPEG image."), "licence_type")


def _person(person: Person) -> Person:
    name = _required("name", person.name, 100, _("Give your name."))
    email = accounts.normalize_email(person.email)
    if not accounts.EMAIL_PATTERN.fullmatch(email) or len(email) > 254:
        raise _fail("email", _("%(email)s is not an email address.", email=email))
    phone = person.phone.strip()
    if len(phone) > 32:
        raise _fail("phone", _("At most %(n)d characters.", n=32))
    if person.locale not in accounts.SUPPORTED_LOCALES:
        raise _fail("locale", _("Unknown language %(locale)s.", locale=person.locale))
    accounts.check_password_policy(person.password, email=email, name=name)
    return Person(name=name, email=email, password=person.password, phone=phone,
                  locale=person.locale)


def _has_account(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email))


def _confirmable_since(now: dt.datetime) -> dt.datetime:
    return now - CONFIRMATION_MAX_AGE


def _registration_under_way(session: Session, uscc: str, now: dt.datetime,
                            other_than: int | None = None) -> bool:
    """Whether a registration of this enterprise waits for a decision, or for its email
    address to be confirmed (while its link still works)."""
    query = select(Registration.id).where(
        Registration.uscc == uscc,
        or_(registration_in(RegistrationState.PENDING),
            registration_in(RegistrationState.UNCONFIRMED)
            & (Registration.created_at > _confirmable_since(now))))
    if other_than is not None:
        query = query.where(Registration.id != other_than)
    return session.scalar(query.limit(1)) is not None


def _under_way_refusal() -> ValidationError:
    return _fail("uscc", _("This enterprise's registration is under way already: it waits for "
                           "its email address to be confirmed or for an admin's decision."),
                 "registration_under_way")


def _addressee(person: Person | Registration | JoinRequest) -> notify.Addressee:
    return notify.Addressee(name=person.name, email=person.email, locale=person.locale)


def confirmation_token(kind: str, object_id: int, secret_key: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt=_CONFIRM_SALT).dumps([kind, object_id])


def _address_in_use(session: Session, person: Person, *, now: dt.datetime) -> None:
    """Tell the owner of an address that already has an account that somebody, perhaps they,
    tried to register it again: the page says only "check your mailbox"."""
    notify.enqueue_to_address(
        session, _addressee(person), kind="address_in_use", template="address_in_use",
        subject=lambda: _("Your email address already has a labbook account"), context={},
        now=now)


def register(session: Session, enterprise: Enterprise, person: Person, *, secret_key: str,
             now: dt.datetime) -> Registration | None:
    """Write a registration and send its confirmation link; None (and an email saying so to
    the address) when the address has an account already. ValidationError for bad input, a
    code already registered (``OrganizationRegistered``) or a registration under way."""
    name = _required("organization_name", enterprise.name, 200,
                     _("Give the enterprise's name as on its business licence."))
    uscc = _uscc(enterprise.uscc)
    address = _required("address", enterprise.address, 300, _("Give the enterprise's address."))
    contact_phone = _required("contact_phone", enterprise.contact_phone, 32,
                              _("Give a phone number to reach the enterprise."))
    content_type = licence_type(enterprise.licence) if enterprise.licence else ""
    person = _person(person)
    if session.scalar(select(Organization.id).where(Organization.uscc == uscc)) is not None:
        raise OrganizationRegistered(uscc)
    if _registration_under_way(session, uscc, now):
        raise _under_way_refusal()
    if session.scalar(select(Organization.id).where(Organization.name == name)) is not None:
        raise _fail("organization_name", _("An organization named %(name)s already exists.",
                                           name=name))
    if _has_account(session, person.email) is not None:
        _address_in_use(session, person, now=now)
        return None
    registration = Registration(
        state=RegistrationState.UNCONFIRMED, organization_name=name, uscc=uscc,
        address=address, contact_phone=contact_phone, name=person.name, email=person.email,
        locale=person.locale, password_hash=accounts.hash_password(person.password),
        licence=enterprise.licence or None, licence_type=content_type, created_at=now,
        reason="")
    session.add(registration)
    session.flush()
    record(session, None, registration, "register", at=now,
           to_state=RegistrationState.UNCONFIRMED.value, uscc=uscc, email=person.email)
    token = confirmation_token("registration", registration.id, secret_key)
    notify.enqueue_to_address(
        session, _addressee(registration), kind="confirm_registration",
        template="confirm_registration", subject=lambda: _("Confirm your labbook registration"),
        context={"token": token, "registration": registration,
                 "hours": int(CONFIRMATION_MAX_AGE.total_seconds() // 3600)}, now=now)
    return registration


def _invalid_link(message: str) -> ValidationError:
    return ValidationError(message, code="invalid_link",
                           problems=[Problem("invalid_link", message, field="token")])


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation link confirmed: a registration or a request to join."""

    registration: Registration | None = None
    join_request: JoinRequest | None = None


def confirm_email(session: Session, token: str, *, secret_key: str,
                  now: dt.datetime) -> Confirmed:
    """Confirm the email address of the registration or request to join ``token`` names; it
    then waits for a decision, and those who decide are told. A link already used confirms
    nothing more (and is answered as confirmed)."""
    try:
        kind, object_id = URLSafeTimedSerializer(secret_key, salt=_CONFIRM_SALT).loads(
            token, max_age=int(CONFIRMATION_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise _invalid_link(_("This confirmation link has expired. Register again.")) from None
    except (BadSignature, ValueError, TypeError):
        raise _invalid_link(_("This confirmation link is not valid.")) from None
    if kind == "registration" and isinstance(object_id, int):
        registration = locked(session, Registration, object_id)
        if registration is None:
            raise _invalid_link(_("This confirmation link is not valid."))
        if registration.state == RegistrationState.UNCONFIRMED:
            _confirm_registration(session, registration, now=now)
        return Confirmed(registration=registration)
    if kind == "join" and isinstance(object_id, int):
        join_request = locked(session, JoinRequest, object_id)
        if join_request is None:
            raise _invalid_link(_("This confirmation link is not valid."))
        if join_request.state == JoinRequestState.UNCONFIRMED:
            _confirm_join_request(session, join_request, now=now)
        return Confirmed(join_request=join_request)
    raise _invalid_link(_("This confirmation link is not valid."))


def _confirm_registration(session: Session, registration: Registration, *,
                          now: dt.datetime) -> None:
    if session.scalar(select(Organization.id)
                      .where(Organization.uscc == registration.uscc)) is not None:
        raise OrganizationRegistered(registration.uscc)
    if _registration_under_way(session, registration.uscc, now, other_than=registration.id):
        raise _under_way_refusal()
    registration.state = RegistrationState.PENDING
    registration.confirmed_at = now
    try:
        session.flush()
    except IntegrityError:  # a racing confirmation of the same enterprise came first
        raise _under_way_refusal() from None
    record(session, None, registration, "confirm", at=now,
           from_state=RegistrationState.UNCONFIRMED.value,
           to_state=RegistrationState.PENDING.value)
    admins = session.scalars(select(User).where(User.role == Role.ADMIN,
                                                User.is_active.is_(True)).order_by(User.id))
    for admin in admins:
        notify.enqueue(session, admin, kind="registration_submitted",
                       template="registration_submitted",
                       subject=lambda: _("Registration to review: %(name)s",
                                         name=registration.organization_name),
                       context={"registration": registration}, now=now)


# -- the admins' decision ----------------------------------------------------------------------


def can_decide_registrations(actor: User) -> bool:
    return actor.is_admin


def _require_admin(actor: User) -> None:
    if not can_decide_registrations(actor):
        raise PermissionDenied(_("Only admins decide on registrations."))


def registrations(session: Session, state: RegistrationState | None = None
                  ) -> list[Registration]:
    """Registrations in ``state`` (all but the unconfirmed ones without), newest first."""
    query = select(Registration).order_by(Registration.created_at.desc(), Registration.id.desc())
    if state is not None:
        query = query.where(registration_in(state))
    else:
        query = query.where(Registration.state != RegistrationState.UNCONFIRMED)
    return list(session.scalars(query.limit(200)))


def get_registration(session: Session, actor: User, registration_id: int) -> Registration:
    _require_admin(actor)
    registration = session.get(Registration, registration_id)
    if registration is None or registration.state == RegistrationState.UNCONFIRMED:
        raise NotFound(_("No registration with id %(id)d.", id=registration_id))
    return registration


def _pending(registration: Registration) -> None:
    if registration.state != RegistrationState.PENDING:
        raise Conflict(_("This registration was decided already."), code="invalid_state")


def approve_registration(session: Session, actor: User, registration: Registration, *,
                         tier: PriceTier | str = PriceTier.EXTERNAL,
                         now: dt.datetime) -> Organization:
    """Create the organization and the registrant's account, who becomes its admin and its
    billing contact; the registrant is told by email."""
    lock(session, registration)
    _require_admin(actor)
    _pending(registration)
    organization = accounts.create_organization(
        session, name=registration.organization_name, uscc=registration.uscc, tier=tier,
        actor=actor, now=now)
    user = accounts.create_user(session, email=registration.email, name=registration.name,
                                password=None, organization=organization,
                                locale=registration.locale, actor=actor, now=now)
    user.password_hash = registration.password_hash
    session.add(OrganizationAdmin(organization_id=organization.id, user_id=user.id,
                                  created_at=now))
    organization.billing_contact = user
    registration.state = RegistrationState.APPROVED
    registration.decided_by = actor
    registration.decided_at = now
    registration.organization_id = organization.id
    session.flush()
    record(session, actor, registration, "approve", at=now,
           from_state=RegistrationState.PENDING.value,
           to_state=RegistrationState.APPROVED.value, organization_id=organization.id)
    notify.enqueue(session, user, kind="registration_approved", template="registration_approved",
                   subject=lambda: _("%(name)s is registered with labbook",
                                     name=organization.name),
                   context={"organization": organization}, now=now)
    return organization


def reject_registration(session: Session, actor: User, registration: Registration, *,
                        reason: str, now: dt.datetime) -> Registration:
    """Refuse the registration, saying why; the registrant is told by email."""
    lock(session, registration)
    _require_admin(actor)
    _pending(registration)
    reason = reason.strip()
    if not reason:
        raise _fail("reason", _("Say why the registration is rejected: the registrant reads "
                                "it."), "required")
    registration.state = RegistrationState.REJECTED
    registration.decided_by = actor
    registration.decided_at = now
    registration.reason = reason
    record(session, actor, registration, "reject", at=now,
           from_state=RegistrationState.PENDING.value,
           to_state=RegistrationState.REJECTED.value, note=reason)
    notify.enqueue_to_address(
        session, _addressee(registration), kind="registration_rejected",
        template="registration_rejected",
        subject=lambda: _("Your labbook registration was not accepted"),
        context={"registration": registration}, now=now)
    return registration


# -- organization admins -------------------------------------------------------------------------


def is_organization_admin(session: Session, user: User, organization_id: int | None) -> bool:
    if organization_id is None or not user.is_active:
        return False
    return session.get(OrganizationAdmin, (organization_id, user.id)) is not None


def administered_organization(session: Session, user: User) -> Organization | None:
    """The organization ``user`` administers (their own), or None."""
    if user.organization_id is not None \
            and is_organization_admin(session, user, user.organization_id):
        return user.organization
    return None


def organization_admins(session: Session, organization: Organization) -> list[User]:
    return list(session.scalars(
        select(User).join(OrganizationAdmin, OrganizationAdmin.user_id == User.id)
        .where(OrganizationAdmin.organization_id == organization.id,
               User.is_active.is_(True)).order_by(User.name, User.id)))


def _require_organization_admin(session: Session, actor: User,
                                organization: Organization) -> None:
    if not is_organization_admin(session, actor, organization.id):
        raise PermissionDenied(_("Only the organization's admins do this."))


def members(session: Session, organization: Organization) -> list[User]:
    return list(session.scalars(select(User).where(User.organization_id == organization.id,
                                                   User.is_active.is_(True))
                                .order_by(User.name, User.id)))


def open_invitations(session: Session, organization: Organization, *,
                     now: dt.datetime) -> list[Invitation]:
    return list(session.scalars(
        select(Invitation).where(Invitation.organization_id == organization.id,
                                 Invitation.accepted_at.is_(None), Invitation.expires_at > now)
        .order_by(Invitation.created_at.desc())))


@dataclass(frozen=True)
class Overview:
    """What an organization's admin sees of it: the latest bookings, testing orders and
    statements."""

    bookings: list[Booking]
    orders: list[Order]
    statements: list[Statement]


def overview(session: Session, actor: User, organization: Organization, *,
             limit: int = 50) -> Overview:
    _require_organization_admin(session, actor, organization)
    bookings = session.scalars(
        select(Booking).where(Booking.organization_id == organization.id)
        .options(joinedload(Booking.user), joinedload(Booking.instrument))
        .order_by(Booking.start_at.desc(), Booking.id.desc()).limit(limit))
    orders = session.scalars(
        select(Order).where(Order.organization_id == organization.id)
        .options(joinedload(Order.requester))
        .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
    statements = session.scalars(
        select(Statement).where(Statement.organization_id == organization.id,
                                Statement.state != StatementState.DRAFT)
        .order_by(Statement.period.desc(), Statement.id.desc()).limit(limit))
    return Overview(list(bookings), list(orders), list(statements))


def invite(session: Session, actor: User, organization: Organization, email: str, *,
           now: dt.datetime) -> tuple[Invitation, str]:
    """Invite ``email`` to join ``organization``: an emailed link that works once, until
    ``INVITATION_LIFETIME`` has passed. Earlier invitations of the address stop working.
    Refused for an address that has an account already (a member, or somebody elsewhere)."""
    lock(session, organization)
    _require_organization_admin(session, actor, organization)
    if organization.status != OrganizationStatus.ACTIVE:
        raise Conflict(_("The organization is suspended: it cannot invite anybody."),
                       code="organization_suspended")
    email = accounts.normalize_email(email)
    if not accounts.EMAIL_PATTERN.fullmatch(email) or len(email) > 254:
        raise _fail("email", _("%(email)s is not an email address.", email=email))
    existing = _has_account(session, email)
    if existing is not None and existing.organization_id == organization.id:
        raise _fail("email", _("%(email)s is a member of the organization already.",
                               email=email), "already_member")
    if existing is not None:
        raise _fail("email", _("%(email)s has a labbook account already; it cannot be "
                               "invited.", email=email), "has_account")
    for earlier in session.scalars(select(Invitation).where(
            Invitation.organization_id == organization.id, Invitation.email == email,
            Invitation.accepted_at.is_(None), Invitation.expires_at > now)):
        earlier.expires_at = now
    secret = secrets.token_urlsafe(32)
    invitation = Invitation(organization_id=organization.id, email=email,
                            secret_hash=_secret_hash(secret), invited_by_id=actor.id,
                            created_at=now, expires_at=now + INVITATION_LIFETIME)
    session.add(invitation)
    session.flush()
    record(session, actor, organization, "invite", at=now, email=email,
           expires_at=invitation.expires_at.isoformat())
    notify.enqueue_to_address(
        session, notify.Addressee(name=email, email=email, locale=actor.locale),
        kind="invitation", template="invitation",
        subject=lambda: _("%(name)s invites you to labbook", name=organization.name),
        context={"secret": secret, "organization": organization, "inviter": actor,
                 "expires_at": invitation.expires_at}, now=now)
    return invitation, secret


def invitation_for(session: Session, secret: str, *, now: dt.datetime,
                   for_update: bool = False) -> Invitation:
    """The invitation the link's ``secret`` names, while it works; ValidationError otherwise
    (unknown, expired or used already)."""
    invitation = session.scalar(
        select(Invitation).where(Invitation.secret_hash == _secret_hash(secret)))
    if invitation is not None and for_update:
        lock(session, invitation)
    if invitation is None:
        raise _invalid_link(_("This invitation link is not valid."))
    if invitation.accepted_at is not None:
        raise _invalid_link(_("This invitation was used already. Sign in with the account made "
                              "with it, or ask for a new invitation."))
    if invitation.expires_at <= now:
        raise _invalid_link(_("This invitation has expired. Ask your organization's admin for "
                              "a new one."))
    return invitation


def accept_invitation(session: Session, secret: str, person: Person, *,
                      now: dt.datetime) -> User:
    """Make the invited colleague's account (the invitation's address, whatever ``person``
    says), in the inviting organization; the link then stops working."""
    invitation = invitation_for(session, secret, now=now, for_update=True)
    organization = invitation.organization
    lock(session, organization)
    if organization.status != OrganizationStatus.ACTIVE:
        raise Conflict(_("The organization is suspended: it cannot take new members now."),
                       code="organization_suspended")
    person = _person(Person(name=person.name, email=invitation.email, password=person.password,
                            phone=person.phone, locale=person.locale))
    user = accounts.create_user(session, email=invitation.email, name=person.name,
                                password=person.password, organization=organization,
                                phone=person.phone, locale=person.locale)
    invitation.accepted_at = now
    invitation.user_id = user.id
    record(session, user, user, "create", at=now, to_state="active", email=user.email,
           role=user.role.value, organization=organization.name, invitation=invitation.id)
    return user


def remove_member(session: Session, actor: User, member: User, *, now: dt.datetime) -> None:
    """Take ``member`` out of the actor's organization: the account is deactivated and leaves
    the organization (what it booked stays the organization's), and is told by email."""
    lock(session, member)
    organization = member.organization
    if organization is None or not is_organization_admin(session, actor, organization.id):
        raise NotFound(_("No member with id %(id)d.", id=member.id))
    if member.id == actor.id:
        raise Conflict(_("You cannot remove yourself; ask another admin of the organization."),
                       code="cannot_remove_self")
    lock(session, organization)
    notify.enqueue(session, member, kind="member_removed", template="member_removed",
                   subject=lambda: _("You were removed from %(name)s", name=organization.name),
                   context={"organization": organization, "actor": actor}, now=now)
    admin_row = session.get(OrganizationAdmin, (organization.id, member.id))
    if admin_row is not None:
        session.delete(admin_row)
    if organization.billing_contact_id == member.id:
        organization.billing_contact = None
    member.organization = None
    member.is_active = False
    accounts.end_every_login_session(session, member)
    record(session, actor, member, "remove_member", at=now, from_state="active",
           to_state="inactive", organization=organization.name)


def set_billing_contact(session: Session, actor: User, organization: Organization,
                        contact: User, *, now: dt.datetime) -> None:
    """The member who receives the organization's statements."""
    lock(session, organization)
    _require_organization_admin(session, actor, organization)
    lock(session, contact)
    if contact.organization_id != organization.id or not contact.is_active:
        raise _fail("billing_contact", _("The billing contact must be an active member of "
                                         "the organization."))
    before = organization.billing_contact.email if organization.billing_contact else None
    if organization.billing_contact_id == contact.id:
        return
    organization.billing_contact = contact
    record(session, actor, organization, "update", at=now,
           changes={"billing_contact": [before, contact.email]})


def make_organization_admin(session: Session, actor: User, member: User, *,
                            now: dt.datetime) -> None:
    """Let another member administer the organization too."""
    lock(session, member)
    organization = member.organization
    if organization is None or not is_organization_admin(session, actor, organization.id):
        raise NotFound(_("No member with id %(id)d.", id=member.id))
    if not member.is_active or is_organization_admin(session, member, organization.id):
        return
    session.add(OrganizationAdmin(organization_id=organization.id, user_id=member.id,
                                  created_at=now))
    record(session, actor, member, "make_organization_admin", at=now,
           organization=organization.name)


# -- asking to join an organization registered already ------------------------------------------


def request_to_join(session: Session, uscc: str, person: Person, message: str, *,
                    secret_key: str, now: dt.datetime) -> JoinRequest | None:
    """Ask the admins of the organization with credit code ``uscc`` to let ``person`` in,
    once their email address is confirmed. None (and an email saying so) when the address has
    an account already."""
    code = _uscc(uscc)
    organization = session.scalar(select(Organization).where(Organization.uscc == code))
    if organization is None:
        raise _fail("uscc", _("No enterprise with the unified social credit code %(code)s is "
                              "registered: register it instead.", code=code),
                    "organization_not_registered")
    person = _person(person)
    message = message.strip()
    if len(message) > 1000:
        raise _fail("message", _("At most %(n)d characters.", n=1000))
    if _has_account(session, person.email) is not None:
        _address_in_use(session, person, now=now)
        return None
    join_request = JoinRequest(
        organization_id=organization.id, state=JoinRequestState.UNCONFIRMED, name=person.name,
        email=person.email, phone=person.phone, locale=person.locale,
        password_hash=accounts.hash_password(person.password), message=message, created_at=now)
    session.add(join_request)
    session.flush()
    record(session, None, join_request, "submit", at=now,
           to_state=JoinRequestState.UNCONFIRMED.value, email=person.email,
           organization_id=organization.id)
    token = confirmation_token("join", join_request.id, secret_key)
    notify.enqueue_to_address(
        session, _addressee(join_request), kind="confirm_join_request",
        template="confirm_join_request",
        subject=lambda: _("Confirm your request to join %(name)s", name=organization.name),
        context={"token": token, "organization": organization,
                 "hours": int(CONFIRMATION_MAX_AGE.total_seconds() // 3600)}, now=now)
    return join_request


def _deciders(session: Session, organization: Organization) -> list[User]:
    """Who decides on requests to join: the organization's admins, or labbook's admins while
    it has none."""
    admins = organization_admins(session, organization)
    if admins:
        return admins
    return list(session.scalars(select(User).where(User.role == Role.ADMIN,
                                                   User.is_active.is_(True)).order_by(User.id)))


def _confirm_join_request(session: Session, join_request: JoinRequest, *,
                          now: dt.datetime) -> None:
    join_request.state = JoinRequestState.PENDING
    join_request.confirmed_at = now
    record(session, None, join_request, "confirm", at=now,
           from_state=JoinRequestState.UNCONFIRMED.value,
           to_state=JoinRequestState.PENDING.value)
    organization = join_request.organization
    for decider in _deciders(session, organization):
        notify.enqueue(session, decider, kind="join_requested", template="join_requested",
                       subject=lambda: _("%(name)s asks to join %(organization)s",
                                         name=join_request.name, organization=organization.name),
                       context={"join_request": join_request, "organization": organization},
                       now=now)


def can_decide_join_request(session: Session, actor: User, join_request: JoinRequest) -> bool:
    return actor.is_admin or is_organization_admin(session, actor, join_request.organization_id)


def pending_join_requests(session: Session, organization: Organization) -> list[JoinRequest]:
    return list(session.scalars(
        select(JoinRequest).where(JoinRequest.organization_id == organization.id,
                                  JoinRequest.state == JoinRequestState.PENDING)
        .order_by(JoinRequest.created_at)))


def join_requests_without_admin(session: Session) -> list[JoinRequest]:
    """Pending requests to join organizations that have no admin of their own: labbook's
    admins decide on these."""
    has_admin = select(OrganizationAdmin.organization_id).join(
        User, User.id == OrganizationAdmin.user_id).where(User.is_active.is_(True))
    return list(session.scalars(
        select(JoinRequest).where(JoinRequest.state == JoinRequestState.PENDING,
                                  JoinRequest.organization_id.not_in(has_admin))
        .order_by(JoinRequest.created_at)))


def get_join_request(session: Session, actor: User, request_id: int) -> JoinRequest:
    join_request = session.get(JoinRequest, request_id)
    if join_request is None or join_request.state == JoinRequestState.UNCONFIRMED \
            or not can_decide_join_request(session, actor, join_request):
        raise NotFound(_("No request to join with id %(id)d.", id=request_id))
    return join_request


def decide_join_request(session: Session, actor: User, join_request: JoinRequest, *,
                        accept: bool, now: dt.datetime) -> User | None:
    """Let the person in (their account is made, in the organization) or decline; they are
    told by email. Returns the new account when accepted."""
    lock(session, join_request)
    if not can_decide_join_request(session, actor, join_request):
        raise NotFound(_("No request to join with id %(id)d.", id=join_request.id))
    if join_request.state != JoinRequestState.PENDING:
        raise Conflict(_("This request to join was decided already."), code="invalid_state")
    organization = join_request.organization
    join_request.decided_by_id = actor.id
    join_request.decided_at = now
    if not accept:
        join_request.state = JoinRequestState.DECLINED
        record(session, actor, join_request, "decline", at=now,
               from_state=JoinRequestState.PENDING.value,
               to_state=JoinRequestState.DECLINED.value)
        notify.enqueue_to_address(
            session, _addressee(join_request), kind="join_declined", template="join_declined",
            subject=lambda: _("Your request to join %(name)s was declined",
                              name=organization.name),
            context={"organization": organization}, now=now)
        return None
    lock(session, organization)
    if _has_account(session, join_request.email) is not None:
        raise _fail("email", _("%(email)s has a labbook account already.",
                               email=join_request.email), "has_account")
    user = accounts.create_user(session, email=join_request.email, name=join_request.name,
                                password=None, organization=organization,
                                phone=join_request.phone, locale=join_request.locale,
                                actor=None, now=now)
    user.password_hash = join_request.password_hash
    join_request.state = JoinRequestState.ACCEPTED
    join_request.user_id = user.id
    record(session, actor, join_request, "accept", at=now,
           from_state=JoinRequestState.PENDING.value,
           to_state=JoinRequestState.ACCEPTED.value, user_id=user.id)
    notify.enqueue(session, user, kind="join_accepted", template="join_accepted",
                   subject=lambda: _("Welcome to %(name)s on labbook", name=organization.name),
                   context={"organization": organization}, now=now)
    return user
