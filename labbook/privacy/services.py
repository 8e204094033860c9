"""A person's own data, and deleting it (PIPL).

The export holds everything labbook keeps about the person: the account, their bookings, test
requests and the audit trail of what they did. Deletion is asked for by the person and carried
out by an admin: the account is closed and its name, email address and phone replaced, the
purposes of their bookings and the free text of their test requests cleared, and their name and
address taken out of the audit trail's details. Bookings, test requests, charges and statements
stay — billing records the law requires keeping — but no longer name the person.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import zipfile
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import String, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from labbook.accounts import services as accounts
from labbook.accounts.models import ApiToken, Organization, Role, User
from labbook.audit.models import AuditEvent
from labbook.audit.services import record
from labbook.booking.models import Booking
from labbook.calendars.models import FeedToken
from labbook.core.engine import lock
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.enterprises.models import Invitation, JoinRequest, OrganizationAdmin, Registration
from labbook.notify import services as notify
from labbook.orders.models import Order
from labbook.privacy.models import DELETION_IS_PENDING, DeletionRequest, DeletionState
from labbook.testing.models import ServiceRequest

#: What replaces a deleted person's free text.
ERASED = "—"


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export(session: Session, user: User, *, now: dt.datetime) -> dict[str, Any]:
    """Everything labbook keeps about ``user``, as JSON-ready data."""
    organization = user.organization
    bookings = session.scalars(select(Booking).where(Booking.user_id == user.id)
                               .order_by(Booking.start_at))
    requests = session.scalars(select(ServiceRequest).where(ServiceRequest.requester_id == user.id)
                               .order_by(ServiceRequest.created_at))
    orders = session.scalars(select(Order).where(Order.requester_id == user.id)
                             .order_by(Order.created_at))
    events = session.scalars(select(AuditEvent).where(
        or_(AuditEvent.actor_id == user.id,
            (AuditEvent.object_type == "users") & (AuditEvent.object_id == user.id)))
        .order_by(AuditEvent.at, AuditEvent.id))
    return {
        "exported_at": now.isoformat(),
        "account": {"id": user.id, "name": user.name, "email": user.email, "phone": user.phone,
                    "role": user.role.value, "locale": user.locale,
                    "created_at": _iso(user.created_at),
                    "organization": organization.name if organization else None,
                    "reminder_emails": user.is_reminder_email_enabled,
                    "digest_emails": user.is_digest_email_enabled},
        "api_tokens": [{"name": token.name, "created_at": _iso(token.created_at),
                        "last_used_at": _iso(token.last_used_at),
                        "revoked_at": _iso(token.revoked_at)}
                       for token in session.scalars(select(ApiToken)
                                                    .where(ApiToken.user_id == user.id))],
        "bookings": [{"id": booking.id, "instrument": booking.instrument.code,
                      "start": booking.start_at.isoformat(), "end": booking.end_at.isoformat(),
                      "state": booking.state.value, "purpose": booking.purpose,
                      "project_ref": booking.project_ref,
                      "checked_in_at": _iso(booking.checked_in_at),
                      "checked_out_at": _iso(booking.checked_out_at)} for booking in bookings],
        "test_requests": [{"id": item.id, "service": item.service.code, "samples": item.samples,
                           "sample_description": item.sample_description, "notes": item.notes,
                           "state": item.state.value, "created_at": _iso(item.created_at)}
                          for item in requests],
        "testing_orders": [{"number": order.number, "state": order.state.value,
                            "contact_name": order.contact_name,
                            "contact_phone": order.contact_phone,
                            "contact_email": order.contact_email, "notes": order.notes,
                            "created_at": _iso(order.created_at)} for order in orders],
        "audit_trail": [{"at": event.at.isoformat(), "action": event.action,
                         "object_type": event.object_type, "object_id": event.object_id,
                         "from_state": event.from_state, "to_state": event.to_state,
                         "note": event.note, "details": event.details} for event in events],
    }


def export_zip(data: dict[str, Any]) -> bytes:
    """The export as a ZIP holding ``labbook-data.json`` (fixed timestamps: the same data
    gives the same file)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("labbook-data.json", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(entry, json.dumps(data, ensure_ascii=False, indent=2))
    return buffer.getvalue()


def pending_request(session: Session, user: User) -> DeletionRequest | None:
    return session.scalar(select(DeletionRequest).where(
        DeletionRequest.user_id == user.id, DELETION_IS_PENDING))


def request_deletion(session: Session, user: User, *, now: dt.datetime) -> DeletionRequest:
    """The person asks for their data to be deleted; the admins handle it."""
    lock(session, user)
    if pending_request(session, user) is not None:
        raise Conflict(_("Your request to delete your data already waits for an admin."),
                       code="deletion_requested")
    deletion = DeletionRequest(user_id=user.id, state=DeletionState.PENDING, requested_at=now,
                               note="")
    session.add(deletion)
    session.flush()
    record(session, user, deletion, "submit", at=now, to_state=DeletionState.PENDING.value)
    admins = session.scalars(select(User).where(User.role == Role.ADMIN,
                                                User.is_active.is_(True)).order_by(User.id))
    for admin in admins:
        notify.enqueue(session, admin, kind="deletion_requested", template="deletion_requested",
                       subject=lambda: _("%(name)s asks for their data to be deleted",
                                         name=user.name),
                       context={"person": user}, now=now)
    return deletion


def can_handle_requests(actor: User) -> bool:
    return actor.is_admin


def _require_admin(actor: User) -> None:
    if not can_handle_requests(actor):
        raise PermissionDenied(_("Only admins handle requests to delete personal data."))


def deletion_requests(session: Session) -> list[DeletionRequest]:
    """Every request, the waiting ones first, then the newest."""
    return list(session.scalars(select(DeletionRequest).order_by(
        (DeletionRequest.state != DeletionState.PENDING), DeletionRequest.requested_at.desc())
        .limit(500)))


def get_request(session: Session, actor: User, request_id: int) -> DeletionRequest:
    _require_admin(actor)
    deletion = session.get(DeletionRequest, request_id)
    if deletion is None:
        raise NotFound(_("No request with id %(id)d.", id=request_id))
    return deletion


def _pending(deletion: DeletionRequest) -> None:
    if deletion.state != DeletionState.PENDING:
        raise Conflict(_("This request was handled already."), code="invalid_state")


#: The fields of the audit trail's details that hold a person's own data: in the events about
#: the person, every value of theirs (also a former address or phone) is replaced.
PERSONAL_FIELDS = frozenset({"email", "name", "phone"})


def _scrub(value: Any, known: set[str], replacement: str, *, own: bool = False) -> Any:
    """``value`` with the ``known`` strings replaced, and (``own``) every personal field's."""
    if isinstance(value, str):
        return replacement if value in known else value
    if isinstance(value, list):
        return [_scrub(item, known, replacement, own=own) for item in value]
    if isinstance(value, dict):
        return {key: _personal(item, replacement) if own and key in PERSONAL_FIELDS
                else _scrub(item, known, replacement, own=own)
                for key, item in value.items()}
    return value


def _personal(value: Any, replacement: str) -> Any:
    """A personal field's value replaced: a change's [before, after] member by member."""
    if isinstance(value, list):
        return [None if member is None else replacement for member in value]
    return None if value is None else replacement


def anonymise(session: Session, user: User, *, now: dt.datetime) -> None:
    """Replace everything that names ``user`` and close the account (see the module)."""
    placeholder = _("Deleted user %(id)d", id=user.id)
    old = {value for value in (user.email, user.name, user.phone) if value}
    email = user.email
    session.execute(update(Booking).where(Booking.user_id == user.id)
                    .values(purpose=ERASED), execution_options={"synchronize_session": False})
    session.execute(update(ServiceRequest).where(ServiceRequest.requester_id == user.id)
                    .values(sample_description=ERASED, notes=""),
                    execution_options={"synchronize_session": False})
    session.execute(update(Order).where(Order.requester_id == user.id)
                    .values(contact_name=placeholder, contact_phone="", notes=ERASED,
                            contact_email=f"deleted-{user.id}@deleted.invalid"),
                    execution_options={"synchronize_session": False})
    events = session.scalars(select(AuditEvent).where(
        or_((AuditEvent.object_type == "users") & (AuditEvent.object_id == user.id),
            cast(AuditEvent.details, String).contains(email, autoescape=True))))
    for event in events:
        own = event.object_type == "users" and event.object_id == user.id
        event.details = _scrub(event.details or {}, old, placeholder, own=own)
    for registration in session.scalars(select(Registration).where(Registration.email == email)):
        registration.name, registration.email = placeholder, f"deleted-{user.id}@deleted.invalid"
    for join_request in session.scalars(select(JoinRequest).where(JoinRequest.email == email)):
        join_request.name, join_request.email = placeholder, f"deleted-{user.id}@deleted.invalid"
        join_request.phone, join_request.message = "", ""
    session.execute(update(Invitation).where(Invitation.email == email)
                    .values(email=f"deleted-{user.id}@deleted.invalid"),
                    execution_options={"synchronize_session": False})
    session.execute(delete(OrganizationAdmin).where(OrganizationAdmin.user_id == user.id))
    session.execute(update(Organization).where(Organization.billing_contact_id == user.id)
                    .values(billing_contact_id=None),
                    execution_options={"synchronize_session": False})
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    session.execute(delete(FeedToken).where(FeedToken.user_id == user.id))
    accounts.end_every_login_session(session, user)
    user.name = placeholder
    user.email = f"deleted-{user.id}@deleted.invalid"
    user.phone = ""
    user.password_hash = accounts.hash_password(secrets.token_urlsafe(32))
    user.is_active = False
    user.is_reminder_email_enabled = False
    user.is_digest_email_enabled = False


def complete_deletion(session: Session, actor: User, deletion: DeletionRequest, *,
                      now: dt.datetime) -> None:
    """Carry out the request: the person is anonymised and the account closed."""
    lock(session, deletion)
    _require_admin(actor)
    _pending(deletion)
    user = deletion.user
    lock(session, user)
    if user.id == actor.id:
        raise Conflict(_("Another admin handles your own request."), code="own_request")
    notify.enqueue_to_address(
        session, notify.Addressee(name=user.name, email=user.email, locale=user.locale),
        kind="deletion_completed", template="deletion_completed",
        subject=lambda: _("Your personal data in labbook was deleted"), context={}, now=now)
    anonymise(session, user, now=now)
    deletion.state = DeletionState.COMPLETED
    deletion.handled_by_id = actor.id
    deletion.handled_at = now
    record(session, actor, deletion, "complete", at=now,
           from_state=DeletionState.PENDING.value, to_state=DeletionState.COMPLETED.value,
           user_id=user.id)


def reject_deletion(session: Session, actor: User, deletion: DeletionRequest, *, reason: str,
                    now: dt.datetime) -> None:
    """Refuse the request, saying why (e.g. an unpaid statement still needs the person)."""
    lock(session, deletion)
    _require_admin(actor)
    _pending(deletion)
    reason = reason.strip()
    if not reason:
        message = _("Say why the request is refused: the person reads it.")
        raise ValidationError(message, code="required",
                              problems=[Problem("required", message, field="reason")])
    deletion.state = DeletionState.REJECTED
    deletion.handled_by_id = actor.id
    deletion.handled_at = now
    deletion.note = reason
    record(session, actor, deletion, "reject", at=now, from_state=DeletionState.PENDING.value,
           to_state=DeletionState.REJECTED.value, note=reason)
    notify.enqueue(session, deletion.user, kind="deletion_rejected", template="deletion_rejected",
                   subject=lambda: _("Your request to delete your data was refused"),
                   context={"reason": reason}, now=now)
