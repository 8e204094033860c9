"""Owner units' revenue-sharing agreements and contact persons, kept by admins.

An agreement applies from its ``effective_from`` (a lab date) until the owner's next one starts;
before an owner's first agreement its share is nothing. Contact persons are ordinary accounts
linked to an owner unit: they sign in and see their instruments' use and revenue, by
organization, never who booked or why (``labbook.reports.settlements``).

Changes lock the owner's row first, so that two admins adding agreements or contacts to one
owner wait for each other. Callers run every change here inside ``write_transaction``.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import User
from labbook.accounts.services import normalize_email
from labbook.audit.services import record
from labbook.catalogue.models import Owner
from labbook.core.engine import locked
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.time import is_plausible_date
from labbook.owners.models import OwnerAgreement, OwnerContact


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(message, problems=[Problem("invalid", message, field=field)])


def can_manage_owners(actor: User) -> bool:
    return actor.is_admin


def _require_admin(actor: User) -> None:
    if not can_manage_owners(actor):
        raise PermissionDenied(_("Only admins keep owner units' agreements and contacts."))


def all_owners(session: Session) -> list[Owner]:
    return list(session.scalars(select(Owner).order_by(Owner.code)
                                .options(selectinload(Owner.instruments))))


def get_owner(session: Session, code: str) -> Owner:
    owner = session.scalar(select(Owner).where(Owner.code == code))
    if owner is None:
        raise NotFound(_("No owner unit with code %(code)s.", code=code))
    return owner


def agreements(session: Session, owner: Owner) -> list[OwnerAgreement]:
    """The owner's agreements, the latest first."""
    return list(session.scalars(select(OwnerAgreement).where(OwnerAgreement.owner_id == owner.id)
                                .order_by(OwnerAgreement.effective_from.desc())))


def agreement_on(session: Session, owner: Owner, day: dt.date) -> OwnerAgreement | None:
    """The agreement in force on the lab date ``day``."""
    return session.scalar(select(OwnerAgreement)
                          .where(OwnerAgreement.owner_id == owner.id,
                                 OwnerAgreement.effective_from <= day)
                          .order_by(OwnerAgreement.effective_from.desc()).limit(1))


def _percent(value: int | None, field: str) -> int:
    if value is None or isinstance(value, bool) or not isinstance(value, int) \
            or not 0 <= value <= 100:
        raise _invalid(field, _("Give a whole percentage from 0 to 100."))
    return value


def add_agreement(session: Session, actor: User, owner: Owner, *, effective_from: dt.date,
                  time_share_percent: int, testing_share_percent: int,
                  now: dt.datetime) -> OwnerAgreement:
    """A new agreement of ``owner`` from ``effective_from``. One that starts on the same day as
    another is refused (409 ``agreement_exists``): agreements are never edited, so that a
    settlement once made can be made again with the same figures."""
    _require_admin(actor)
    owner = locked(session, Owner, owner.id)
    if not isinstance(effective_from, dt.date) or not is_plausible_date(effective_from):
        raise _invalid("effective_from", _("Give a date between 2000 and 2099."))
    time_share = _percent(time_share_percent, "time_share_percent")
    testing_share = _percent(testing_share_percent, "testing_share_percent")
    if session.scalar(select(OwnerAgreement.id).where(
            OwnerAgreement.owner_id == owner.id,
            OwnerAgreement.effective_from == effective_from)) is not None:
        raise Conflict(_("%(owner)s has an agreement from %(day)s already.",
                         owner=owner.code, day=effective_from.isoformat()),
                       code="agreement_exists")
    agreement = OwnerAgreement(owner_id=owner.id, effective_from=effective_from,
                               time_share_percent=time_share,
                               testing_share_percent=testing_share, created_by_id=actor.id,
                               created_at=now)
    session.add(agreement)
    session.flush()
    record(session, actor, owner, "update", at=now, effective_from=effective_from.isoformat(),
           time_share_percent=time_share, testing_share_percent=testing_share)
    return agreement


# -- contact persons --------------------------------------------------------------------------


def contacts(session: Session, owner: Owner) -> list[OwnerContact]:
    return list(session.scalars(select(OwnerContact).where(OwnerContact.owner_id == owner.id)
                                .options(selectinload(OwnerContact.user))
                                .order_by(OwnerContact.id)))


def owners_of(session: Session, user: User) -> list[Owner]:
    """The owner units ``user`` is a contact person of."""
    return list(session.scalars(select(Owner).join(OwnerContact,
                                                   OwnerContact.owner_id == Owner.id)
                                .where(OwnerContact.user_id == user.id).order_by(Owner.code)))


def is_contact(session: Session, user: User, owner: Owner) -> bool:
    return session.scalar(select(OwnerContact.id).where(
        OwnerContact.owner_id == owner.id, OwnerContact.user_id == user.id)) is not None


def add_contact(session: Session, actor: User, owner: Owner, email: str, *,
                now: dt.datetime) -> OwnerContact:
    """Make the account with ``email`` a contact person of ``owner`` (an active account; it
    keeps its role and organization)."""
    _require_admin(actor)
    owner = locked(session, Owner, owner.id)
    user = session.scalar(select(User).where(User.email == normalize_email(email or "")))
    if user is None or not user.is_active:
        raise _invalid("email", _("No active account has this email address."))
    if is_contact(session, user, owner):
        raise Conflict(_("%(name)s is a contact person of %(owner)s already.",
                         name=user.name, owner=owner.code), code="contact_exists")
    contact = OwnerContact(owner_id=owner.id, user_id=user.id, created_at=now)
    session.add(contact)
    session.flush()
    record(session, actor, owner, "grant", at=now, user_id=user.id)
    return contact


def remove_contact(session: Session, actor: User, owner: Owner, user_id: int, *,
                   now: dt.datetime) -> None:
    _require_admin(actor)
    owner = locked(session, Owner, owner.id)
    contact = session.scalar(select(OwnerContact).where(OwnerContact.owner_id == owner.id,
                                                        OwnerContact.user_id == user_id))
    if contact is None:
        raise NotFound(_("That person is no contact of %(owner)s.", owner=owner.code))
    session.delete(contact)
    record(session, actor, owner, "revoke", at=now, user_id=user_id)
