"""No-show discipline: too many no-shows in a lab suspend a person's own booking there.

Each lab sets how many no-shows (``no_show_limit``; none: no discipline) within how many days
(``no_show_window_days``) suspend booking for how long (``suspension_days``). The no-show that
reaches the limit starts a suspension at once; the person is told by email, and the booking
rule ``suspended`` refuses their own bookings in that lab until it ends (the lab's managers may
still book for them). A manager of the lab lifts it early, with a note; both are audited.
Turning the lab's limit off stops the rule from refusing anyone.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.audit.services import record
from labbook.booking.models import Booking, BookingState, BookingSuspension
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import locked
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.notify import services as notify

MAX_NOTE = 1000
#: Bounds of the lab's settings.
LIMITS = {"no_show_limit": (1, 100), "no_show_window_days": (1, 365),
          "suspension_days": (1, 365), "waitlist_offer_minutes": (5, 1440)}


def suspension_in_force(session: Session, user_id: int, lab_id: int,
                        now: dt.datetime) -> BookingSuspension | None:
    return session.scalar(
        select(BookingSuspension).where(
            BookingSuspension.user_id == user_id, BookingSuspension.lab_id == lab_id,
            BookingSuspension.ends_at > now, BookingSuspension.starts_at <= now,
            BookingSuspension.lifted_at.is_(None))
        .order_by(BookingSuspension.ends_at.desc()).limit(1))


def no_shows_within(session: Session, user_id: int, lab_id: int, since: dt.datetime) -> int:
    return session.scalar(
        select(func.count(Booking.id)).join(Booking.instrument)
        .where(Booking.user_id == user_id, Instrument.lab_id == lab_id,
               Booking.state == BookingState.NO_SHOW, Booking.start_at >= since)) or 0


def after_no_show(session: Session, booking: Booking, *,
                  now: dt.datetime) -> BookingSuspension | None:
    """Suspend the booking's user in its lab when this no-show reaches the lab's limit (and no
    suspension is in force already). The caller holds the booking's row lock and has just
    recorded the no-show."""
    lab = booking.instrument.lab
    if lab.no_show_limit is None:
        return None
    session.flush()
    since = now - dt.timedelta(days=lab.no_show_window_days)
    count = no_shows_within(session, booking.user_id, lab.id, since)
    if count < lab.no_show_limit:
        return None
    if suspension_in_force(session, booking.user_id, lab.id, now) is not None:
        return None
    suspension = BookingSuspension(
        user_id=booking.user_id, lab_id=lab.id, starts_at=now,
        ends_at=now + dt.timedelta(days=lab.suspension_days), no_shows=count,
        window_days=lab.no_show_window_days, created_at=now, lift_note="")
    session.add(suspension)
    session.flush()
    record(session, None, suspension, "suspend", at=now, to_state="suspended",
           user_id=booking.user_id, lab_id=lab.id, no_shows=count,
           window_days=lab.no_show_window_days, ends_at=suspension.ends_at.isoformat(),
           booking_id=booking.id)
    notify.booking_suspended(session, suspension, now=now)
    return suspension


def get_suspension(session: Session, actor: User, suspension_id: int) -> BookingSuspension:
    """The suspension, if it is ``actor``'s own or in a lab ``actor`` manages."""
    suspension = session.get(BookingSuspension, suspension_id)
    if suspension is None or not (suspension.user_id == actor.id
                                  or actor.manages_lab_id(suspension.lab_id)):
        raise NotFound(_("No suspension with id %(id)d.", id=suspension_id))
    return suspension


def lift_suspension(session: Session, actor: User, suspension_id: int, *, note: str,
                    now: dt.datetime) -> BookingSuspension:
    """A manager of the lab ends a suspension early; decided on its row under a lock. The
    caller runs it inside ``write_transaction``."""
    get_suspension(session, actor, suspension_id)
    suspension = locked(session, BookingSuspension, suspension_id)
    if not actor.manages_lab_id(suspension.lab_id):
        raise PermissionDenied(_("Only the lab's managers lift a suspension."),
                               code="not_lab_manager")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        message = _("At most %(n)d characters.", n=MAX_NOTE)
        raise ValidationError(message, problems=[Problem("too_long_text", message,
                                                         field="note")])
    if not suspension.is_in_force_at(now):
        raise Conflict(_("This suspension is no longer in force."), code="invalid_state")
    suspension.lifted_at = now
    suspension.lifted_by_id = actor.id
    suspension.lift_note = note
    record(session, actor, suspension, "lift", at=now, from_state="suspended",
           to_state="lifted", note=note, user_id=suspension.user_id, lab_id=suspension.lab_id)
    return suspension


def suspensions_in_force(session: Session, lab_ids: list[int],
                         now: dt.datetime) -> list[BookingSuspension]:
    """The suspensions in force in ``lab_ids``, the soonest to end first."""
    if not lab_ids:
        return []
    return list(session.scalars(
        select(BookingSuspension).where(
            BookingSuspension.lab_id.in_(lab_ids), BookingSuspension.ends_at > now,
            BookingSuspension.starts_at <= now, BookingSuspension.lifted_at.is_(None))
        .order_by(BookingSuspension.ends_at, BookingSuspension.id)))


def my_suspensions(session: Session, user: User, now: dt.datetime) -> list[BookingSuspension]:
    return list(session.scalars(
        select(BookingSuspension).where(
            BookingSuspension.user_id == user.id, BookingSuspension.ends_at > now,
            BookingSuspension.starts_at <= now, BookingSuspension.lifted_at.is_(None))
        .order_by(BookingSuspension.ends_at)))


def update_settings(session: Session, actor: User, lab: Lab, *, now: dt.datetime,
                    **values: int | None) -> Lab:
    """A manager of the lab sets its no-show discipline and waiting-list offer time; audited.
    The caller runs it inside ``write_transaction``."""
    lab = locked(session, Lab, lab.id)
    if not actor.manages_lab_id(lab.id):
        raise PermissionDenied(_("Only the lab's managers change its booking rules."),
                               code="not_lab_manager")
    problems = []
    for name, value in values.items():
        low, high = LIMITS[name]
        if value is None and name == "no_show_limit":
            continue
        if value is None or not low <= value <= high:
            problems.append(Problem("out_of_range", _("Give a whole number from %(low)d to "
                                                      "%(high)d.", low=low, high=high),
                                    field=name))
    if problems:
        raise ValidationError(problems[0].message, problems=problems)
    changed = {name: [getattr(lab, name), value] for name, value in values.items()
               if getattr(lab, name) != value}
    for name, (_before, value) in changed.items():
        setattr(lab, name, value)
    if changed:
        record(session, actor, lab, "update_booking_rules", at=now, changes=changed)
    return lab
