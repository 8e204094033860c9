"""API of enterprises that joined by themselves: an organization's admin reads its members
and invitations, invites and removes colleagues; labbook's admins decide on registrations
(``labbook.enterprises.services``)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from labbook.accounts.models import Organization, PriceTier, User
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, PermissionDenied
from labbook.core.time import utcnow
from labbook.enterprises import services
from labbook.enterprises.models import Invitation, Registration, RegistrationState
from labbook.extensions import db
from labbook.http import Fields, enum_arg, json_body, optional_json_body


def _moment(value) -> str | None:
    return value.isoformat() if value is not None else None


def invitation_json(invitation: Invitation) -> dict[str, Any]:
    return {"id": invitation.id, "email": invitation.email,
            "created_at": invitation.created_at.isoformat(),
            "expires_at": invitation.expires_at.isoformat()}


def registration_json(registration: Registration) -> dict[str, Any]:
    return {"id": registration.id, "state": registration.state.value,
            "organization_name": registration.organization_name, "uscc": registration.uscc,
            "address": registration.address, "contact_phone": registration.contact_phone,
            "name": registration.name, "email": registration.email,
            "has_licence": registration.licence is not None,
            "created_at": registration.created_at.isoformat(),
            "confirmed_at": _moment(registration.confirmed_at),
            "decided_at": _moment(registration.decided_at), "reason": registration.reason,
            "organization_id": registration.organization_id}


def _administered(actor: User) -> Organization:
    organization = services.administered_organization(db.session, actor)
    if organization is None:
        raise PermissionDenied(_("Only the organization's admins do this."))
    return organization


@bp.get("/organization")
@token_required
def get_organization():
    actor = api_user()
    organization = _administered(actor)
    admins = {admin.id for admin in services.organization_admins(db.session, organization)}
    return {"id": organization.id, "name": organization.name, "uscc": organization.uscc,
            "billing_contact_id": organization.billing_contact_id,
            "members": [{"id": member.id, "name": member.name, "email": member.email,
                         "is_admin": member.id in admins}
                        for member in services.members(db.session, organization)],
            "invitations": [invitation_json(invitation) for invitation in
                            services.open_invitations(db.session, organization, now=utcnow())]}


@bp.post("/organization/invitations")
@token_required
def invite_colleague():
    actor = api_user()
    organization = _administered(actor)
    fields = Fields(json_body())
    email = fields.string("email", max_length=254)
    fields.done()
    with write_transaction(db.session):
        invitation, _secret = services.invite(db.session, actor, organization, email or "",
                                              now=utcnow())
    return invitation_json(invitation), 201


@bp.delete("/organization/members/<int:user_id>")
@token_required
def remove_member(user_id: int):
    actor = api_user()
    _administered(actor)
    with write_transaction(db.session):
        member = db.session.get(User, user_id)
        if member is None:
            raise NotFound(_("No member with id %(id)d.", id=user_id))
        services.remove_member(db.session, actor, member, now=utcnow())
    return "", 204


def _registration_admin() -> User:
    actor = api_user()
    if not services.can_decide_registrations(actor):
        raise PermissionDenied(_("Only admins decide on registrations."))
    return actor


@bp.get("/registrations")
@token_required
def list_registrations():
    _registration_admin()
    state = enum_arg("state", RegistrationState)
    return {"items": [registration_json(registration)
                      for registration in services.registrations(db.session, state)
                      if registration.state != RegistrationState.UNCONFIRMED]}


@bp.post("/registrations/<int:registration_id>/approve")
@token_required
def approve_registration(registration_id: int):
    actor = _registration_admin()
    fields = Fields(optional_json_body())
    tier = fields.string("tier", required=False, max_length=20) or PriceTier.EXTERNAL.value
    fields.done()
    with write_transaction(db.session):
        registration = services.get_registration(db.session, actor, registration_id)
        services.approve_registration(db.session, actor, registration, tier=tier,
                                      now=utcnow())
    return registration_json(registration)


@bp.post("/registrations/<int:registration_id>/reject")
@token_required
def reject_registration(registration_id: int):
    actor = _registration_admin()
    fields = Fields(json_body())
    reason = fields.string("reason", max_length=2000)
    fields.done()
    with write_transaction(db.session):
        registration = services.get_registration(db.session, actor, registration_id)
        services.reject_registration(db.session, actor, registration, reason=reason or "",
                                     now=utcnow())
    return registration_json(registration)
