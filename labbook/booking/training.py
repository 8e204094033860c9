"""Training records: who is trained on which instrument, granted and revoked by the lab's
managers. An instrument that ``requires_qualification`` is booked only by people whose record
is valid when the booking ends (``rules.is_qualified``).

Grants lock the trainees' user rows (in id order) and revocations the record's row before they
decide, so that two managers granting or revoking the same record at once wait for each other
and leave one record in force, never two. Callers run every service here inside
``write_transaction``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.accounts.services import managed_labs, normalize_email
from labbook.audit.services import record
from labbook.booking.models import Qualification
from labbook.catalogue.models import Instrument
from labbook.core.engine import lock
from labbook.core.errors import NotFound, PermissionDenied, Problem, ValidationError


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(message, problems=[Problem("invalid", message, field=field)])


@dataclass(frozen=True)
class Grant:
    """The training record in force after a grant. ``is_new`` is False when the very same
    record (same user, instrument and expiry) was in force already, and nothing was written."""

    qualification: Qualification
    is_new: bool


def _require_trainer(actor: User, instrument: Instrument) -> None:
    if not actor.manages(instrument.lab):
        raise PermissionDenied(_("Only the lab's managers grant qualifications."))


def _grant(session: Session, actor: User, user: User, instrument: Instrument, *,
           now: dt.datetime, expires_at: dt.datetime | None) -> Grant:
    """Grant, on ``user``'s row that the caller holds under a lock: a second grant of the same
    record waits for the first, then finds it instead of writing another."""
    if expires_at is not None and expires_at <= now:
        raise _invalid("expires_at", _("The expiry must be in the future."))
    in_force = session.scalars(
        select(Qualification).where(Qualification.user_id == user.id,
                                    Qualification.instrument_id == instrument.id,
                                    Qualification.revoked_at.is_(None))
        .with_for_update().execution_options(populate_existing=True)).all()
    for earlier in in_force:
        # Its expiry is in the future like the new one's, so it is valid now.
        if earlier.expires_at == expires_at:
            return Grant(earlier, is_new=False)
    for earlier in in_force:
        earlier.revoked_at = now
        earlier.revoked_by_id = actor.id
    session.flush()  # out of the unique index of records in force before the new one goes in
    qualification = Qualification(user=user, instrument=instrument, granted_by_id=actor.id,
                                  granted_at=now, expires_at=expires_at)
    session.add(qualification)
    session.flush()
    record(session, actor, qualification, "grant", at=now, user_id=user.id,
           instrument_id=instrument.id,
           expires_at=expires_at.isoformat() if expires_at else None)
    return Grant(qualification, is_new=True)


def grant_qualification(session: Session, actor: User, user: User, instrument: Instrument, *,
                        now: dt.datetime, expires_at: dt.datetime | None = None
                        ) -> Qualification:
    """Record that ``user`` is trained on ``instrument``. A grant with another expiry replaces
    the record in force; the same grant again leaves it as it is."""
    _require_trainer(actor, instrument)
    lock(session, user)
    return _grant(session, actor, user, instrument, now=now, expires_at=expires_at).qualification


#: What separates the addresses of a list: commas, semicolons (also the Chinese ones), blanks.
_EMAIL_SEPARATORS = re.compile(r"[\s,;，；、]+")


def parse_emails(text: str) -> list[str]:
    """The addresses in ``text``, normalized, each once, in their order."""
    return list(dict.fromkeys(normalize_email(email)
                              for email in _EMAIL_SEPARATORS.split(text or "") if email))


def _grant_by_email(session: Session, actor: User, emails: list[str], instrument: Instrument,
                    *, now: dt.datetime, expires_at: dt.datetime | None,
                    field: str = "email") -> list[Grant]:
    """Grant to the accounts with ``emails``, all or nothing (``field`` names the input that
    holds them).

    Whether ``actor`` may grant on ``instrument`` is settled before any address is looked up,
    so that the answer to anybody else is the same for every address, with an account or
    without. The accounts' rows are locked in id order, so that two training sessions with
    people in common wait for each other instead of deadlocking.
    """
    _require_trainer(actor, instrument)
    emails = [normalize_email(email) for email in emails]
    if not emails:
        raise _invalid(field, _("Give at least one email address."))
    users = {user.email: user for user in session.scalars(
        select(User).where(User.email.in_(emails)).order_by(User.id)
        .with_for_update().execution_options(populate_existing=True))}
    unknown = [email for email in emails if email not in users]
    if unknown:
        problems = [Problem("unknown_user", _("Nobody has an account with the email "
                                              "%(email)s.", email=email), field=field)
                    for email in unknown]
        raise ValidationError(" ".join(p.message for p in problems), code="unknown_user",
                              problems=problems)
    return [_grant(session, actor, users[email], instrument, now=now, expires_at=expires_at)
            for email in emails]


def grant_qualifications(session: Session, actor: User, emails: list[str],
                         instrument: Instrument, *, now: dt.datetime,
                         expires_at: dt.datetime | None = None) -> list[Qualification]:
    """Record that everyone in ``emails`` was trained on ``instrument`` (a training session).

    All or nothing: when an address has no account, nobody's record is written.
    """
    return [grant.qualification for grant in _grant_by_email(
        session, actor, emails, instrument, now=now, expires_at=expires_at)]


def grant_qualification_by_email(session: Session, actor: User, email: str,
                                 instrument: Instrument, *, now: dt.datetime,
                                 expires_at: dt.datetime | None = None) -> Grant:
    """``grant_qualification`` to the account with the address ``email``, given as the API's
    ``user_email``: a caller who may not grant is told so whatever the address."""
    [grant] = _grant_by_email(session, actor, [email], instrument, now=now,
                              expires_at=expires_at, field="user_email")
    return grant


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
    """End a training record now; one already revoked (a moment ago by another manager, say)
    stays as it is, with one audit event."""
    lock(session, qualification)
    if not actor.manages(qualification.instrument.lab):
        raise PermissionDenied(_("Only the lab's managers revoke qualifications."))
    if qualification.revoked_at is not None:
        return
    qualification.revoked_at = now
    qualification.revoked_by_id = actor.id
    record(session, actor, qualification, "revoke", at=now, user_id=qualification.user_id,
           instrument_id=qualification.instrument_id)


def revoke_qualifications(session: Session, actor: User, qualification_ids: list[int], *,
                          now: dt.datetime) -> list[Qualification]:
    """Revoke several training records at once; one not found among the labs ``actor``
    manages revokes none. They are locked in id order, so that two managers revoking the same
    records wait for each other instead of deadlocking."""
    qualifications = [get_qualification(session, actor, qualification_id)
                      for qualification_id in sorted(set(qualification_ids))]
    for qualification in qualifications:
        revoke_qualification(session, actor, qualification, now=now)
    return qualifications
