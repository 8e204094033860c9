"""What labbook tells people by email, written to the outbox.

Every function here adds rendered ``OutboxMessage`` rows to the caller's session and never
commits: the messages are part of the transaction of the change they report, so a change that
rolls back sends nothing, and one that commits cannot lose its email. The scheduler's outbox job
(``labbook.notify.sender``) delivers them later.

Messages go to active users only, in each user's language. Reminders and the approval digest are
optional: users turn them off on their profile page (``OPTIONAL_KINDS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, delete, func, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from labbook import links
from labbook.accounts.models import Role, User, lab_managers
from labbook.audit.services import record
from labbook.billing.models import Statement
from labbook.booking.models import (
    Blackout,
    Booking,
    BookingChange,
    BookingState,
    BookingSuspension,
    WaitlistEntry,
)
from labbook.calendars import ical
from labbook.catalogue.models import Instrument, Lab
from labbook.core.errors import PermissionDenied, Problem, ValidationError
from labbook.core.reads import fetch
from labbook.core.rows import columns_of, loaded, persistent
from labbook.core.time import to_lab_time
from labbook.i18n import DEFAULT_LOCALE, localized
from labbook.notify import channels, rendering
from labbook.notify.models import (
    Channel,
    LabRobot,
    NotificationPreference,
    OutboxAttachment,
    OutboxMessage,
    OutboxState,
    Topic,
)

#: Kinds a user may turn off, and the User flag that says whether they want them.
OPTIONAL_KINDS = {
    "reminder_24h": "is_reminder_email_enabled",
    "reminder_1h": "is_reminder_email_enabled",
    "approval_digest": "is_digest_email_enabled",
}
#: The topic of each kind of message people may also get by another channel than email.
KIND_TOPICS = {
    "booking_approved": Topic.BOOKINGS, "booking_rejected": Topic.BOOKINGS,
    "booking_cancelled": Topic.BOOKINGS, "booking_expired": Topic.BOOKINGS,
    "booking_no_show": Topic.BOOKINGS, "reminder_24h": Topic.BOOKINGS,
    "reminder_1h": Topic.BOOKINGS,
    "booking_requested": Topic.APPROVALS,
    "approval_digest": Topic.APPROVALS,
    "statement_issued": Topic.BILLING, "month_closed": Topic.BILLING,
    # The order workflow (labbook.orders.notices) and fault reports (labbook.faults).
    **{f"order_{event}": Topic.TEST_REQUESTS for event in (
        "submitted", "received", "completed", "cancelled", "report_issued", "report_withdrawn")},
    "order_new": Topic.APPROVALS, "fault_reported": Topic.APPROVALS,
}
#: The managers' queues a lab's WeCom robot may post, by the flag of ``LabRobot`` that says
#: whether it does.
ROBOT_QUEUES = {"approvals": "posts_approvals", "orders": "posts_orders",
                "faults": "posts_faults"}
#: Reminders before a booking's start, the nearest first.
REMINDERS = (("reminder_1h", dt.timedelta(hours=1)), ("reminder_24h", dt.timedelta(hours=24)))
#: The approval digest goes out once a day from this hour on (lab time).
DIGEST_HOUR = 8
#: Sent messages are deleted after this long, failed ones after ``FAILED_KEPT``.
SENT_KEPT = dt.timedelta(days=30)
FAILED_KEPT = dt.timedelta(days=90)


@dataclass(frozen=True)
class Attachment:
    filename: str
    #: A full Content-Type value, e.g. ``text/calendar; charset=utf-8; method=PUBLISH``.
    content_type: str
    content: bytes


def wants(user: User, kind: str) -> bool:
    """Whether ``user`` gets messages of ``kind``."""
    if not user.is_active or not user.email:
        return False
    flag = OPTIONAL_KINDS.get(kind)
    return flag is None or bool(getattr(user, flag))


def enqueue(session: Session, user: User, *, kind: str, template: str,
            subject: Callable[[], str], context: dict[str, Any], now: dt.datetime,
            attachments: Sequence[Attachment] = (),
            dedupe_key: str | None = None) -> OutboxMessage | None:
    """Queue one email to ``user``, rendered from ``emails/<template>`` in their language.

    ``subject`` is called under the user's locale. Nothing is queued (None) for an inactive
    user, an optional kind the user turned off, or a ``dedupe_key`` already in the outbox.
    """
    if not wants(user, kind):
        return None
    if dedupe_key is not None and session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)) is not None:
        return None
    message = _queue(session, user, user.id, kind=kind, template=template, subject=subject,
                     context=context, now=now, attachments=attachments, dedupe_key=dedupe_key)
    topic = KIND_TOPICS.get(kind)
    if topic is not None and user.phone and channels.sms_enabled(current_app.config) \
            and session.get(NotificationPreference, (user.id, topic, Channel.SMS)) is not None:
        session.add(OutboxMessage(
            channel=Channel.SMS, kind=kind, user_id=user.id, recipient=user.phone,
            locale=message.locale, subject=message.subject,
            body_text=f"【labbook】{message.subject}", body_html="", state=OutboxState.QUEUED,
            created_at=now, attempts=0, next_attempt_at=now, last_error=""))
    return message


@dataclass(frozen=True)
class Addressee:
    """Somebody labbook writes to who has no account yet: a registrant, an invited colleague.
    Emails address them by ``name`` (as they address a user)."""

    name: str
    email: str
    locale: str


def enqueue_to_address(session: Session, addressee: Addressee, *, kind: str, template: str,
                       subject: Callable[[], str], context: dict[str, Any],
                       now: dt.datetime) -> OutboxMessage:
    """Queue one email to ``addressee``, rendered like ``enqueue``'s in their language."""
    return _queue(session, addressee, None, kind=kind, template=template, subject=subject,
                  context=context, now=now)


def _queue(session: Session, recipient: User | Addressee, user_id: int | None, *, kind: str,
           template: str, subject: Callable[[], str], context: dict[str, Any],
           now: dt.datetime, attachments: Sequence[Attachment] = (),
           dedupe_key: str | None = None) -> OutboxMessage:
    locale = recipient.locale if recipient.locale in current_app.config["LANGUAGES"] \
        else DEFAULT_LOCALE
    email = rendering.render(template, subject, locale, {
        **context, "user": recipient, "is_optional": kind in OPTIONAL_KINDS})
    values = {"channel": Channel.EMAIL, "kind": kind, "user_id": user_id,
              "recipient": recipient.email, "locale": locale, "subject": email.subject,
              "body_text": email.text, "body_html": email.html, "dedupe_key": dedupe_key,
              "state": OutboxState.QUEUED, "created_at": now, "attempts": 0,
              "next_attempt_at": now, "last_error": ""}
    if not attachments:
        return _inserted_message(session, values)
    message = OutboxMessage(**values, attachments=[
        OutboxAttachment(filename=a.filename, content_type=a.content_type, content=a.content)
        for a in attachments])
    session.add(message)
    return message


#: Built once: the outbox's row of a message without attachments, inserted in Core.
_INSERT_MESSAGE = OutboxMessage.__table__.insert().returning(OutboxMessage.__table__.c.id)

#: The columns of a new message that ``_queue`` leaves to their defaults: empty.
_NOT_YET = {"claimed_at": None, "claim_token": None, "message_id_header": None,
            "sent_at": None}


def _inserted_message(session: Session, values: dict[str, Any]) -> OutboxMessage:
    """Insert the message of column ``values`` in Core, and return it as a persistent object
    made from them (``labbook.core.rows``, as a new booking is): the unit of work's flush of
    a new object would cost several times the statement. Nothing changes a message before the
    sender claims it."""
    [(message_id,)] = fetch(session, _INSERT_MESSAGE, values)
    row = {**_NOT_YET, **values, "id": message_id,
           "created_at": values["created_at"].astimezone(dt.UTC),
           "next_attempt_at": values["next_attempt_at"].astimezone(dt.UTC)}
    message = persistent(session, OutboxMessage, row)
    set_committed_value(message, "attachments", [])
    return message


def set_preferences(user: User, *, reminders: bool, digests: bool) -> None:
    """Turn the optional emails on or off for ``user``."""
    user.is_reminder_email_enabled = reminders
    user.is_digest_email_enabled = digests


# -- channels besides email ---------------------------------------------------------------------


def channel_preferences(session: Session, user: User) -> set[tuple[Topic, Channel]]:
    """The (topic, channel) pairs ``user`` gets besides email."""
    return {(Topic(topic), Channel(channel)) for topic, channel in session.execute(
        select(NotificationPreference.topic, NotificationPreference.channel)
        .where(NotificationPreference.user_id == user.id))}


def set_channel_preferences(session: Session, user: User, wanted: set[tuple[Topic, Channel]],
                            *, now: dt.datetime) -> None:
    """Replace the channels ``user`` gets messages by besides email. SMS needs a phone number
    and a site that sends SMS; email cannot be chosen (it always goes)."""

    if any(channel == Channel.EMAIL for _topic, channel in wanted):
        raise _refused("channel", _("Email always goes; choose other channels only."))
    if any(channel == Channel.SMS for _topic, channel in wanted):
        if not channels.sms_enabled(current_app.config):
            raise _refused("channel", _("This site sends no SMS."))
        if not user.phone:
            raise _refused("channel", _("Give your mobile phone number first: ask an admin to "
                                        "add it to your account."))
    if any(channel == Channel.WECOM for _topic, channel in wanted):
        raise _refused("channel", _("WeCom messages go to the lab's group, not to a person."))
    before = channel_preferences(session, user)
    if before == wanted:
        return
    session.execute(delete(NotificationPreference)
                    .where(NotificationPreference.user_id == user.id))
    session.add_all([NotificationPreference(user_id=user.id, topic=topic, channel=channel)
                     for topic, channel in sorted(wanted)])
    record(session, user, user, "channels", at=now,
           channels=sorted(f"{topic.value}:{channel.value}" for topic, channel in wanted))


def _refused(field: str, message: str) -> ValidationError:
    return ValidationError(message, code="invalid_channel",
                           problems=[Problem("invalid_channel", message, field=field)])


def lab_robot(session: Session, lab: Lab) -> LabRobot | None:
    """``lab``'s WeCom group robot, if it has one. Read as a row and made into its object
    (``labbook.core.rows``): every booking that waits for approval asks, and most labs have
    none, which ``Session.get`` would look for with an ORM query each time."""
    rows = fetch(session, _ROBOT_ROW, {"lab_id": lab.id})
    return loaded(session, LabRobot, rows[0]) if rows else None


_ROBOT_ROW = select(*columns_of(LabRobot)).where(
    LabRobot.__table__.c.lab_id == bindparam("lab_id"))


def set_lab_robot(session: Session, actor: User, lab: Lab, *, webhook_url: str,
                  queues: set[str], now: dt.datetime) -> LabRobot | None:
    """Set (or, with an empty address, remove) the lab's WeCom group robot and the queues it
    posts. Only the lab's managers (and admins) may."""

    if not actor.manages(lab):
        raise PermissionDenied(_("Only the lab's managers set its WeCom robot."))
    robot = session.get(LabRobot, lab.id, with_for_update=True)
    webhook_url = webhook_url.strip()
    if not webhook_url:
        if robot is not None:
            session.delete(robot)
            record(session, actor, lab, "robot_removed", at=now)
        return None
    if not channels.is_webhook_address(webhook_url):
        raise _refused("webhook_url", _("Give the robot's webhook address, starting with "
                                        "https://."))
    unknown = queues - ROBOT_QUEUES.keys()
    if unknown:
        raise _refused("queues", _("Unknown queue %(name)s.", name=sorted(unknown)[0]))
    if robot is None:
        robot = LabRobot(lab_id=lab.id, webhook_url=webhook_url)
        session.add(robot)
    robot.webhook_url = webhook_url
    for queue, flag in ROBOT_QUEUES.items():
        setattr(robot, flag, queue in queues)
    robot.updated_at = now
    # The address holds the robot's key: the log says that it changed, not what it is.
    record(session, actor, lab, "robot_set", at=now, queues=sorted(queues))
    return robot


def post_to_lab_robot(session: Session, lab: Lab, queue: str, *, kind: str,
                      title: Callable[[], str], lines: Sequence[str], link: str,
                      now: dt.datetime) -> OutboxMessage | None:
    """Queue a message to ``lab``'s WeCom group robot, if it has one that posts ``queue``
    (``approvals``, ``orders`` or ``faults``): the title, the lines and a link, in Chinese
    (the lab's group reads it together). Other areas call this for their queues (new orders,
    fault reports)."""
    return _post_to_robot(session, lab_robot(session, lab), queue, kind=kind, title=title,
                          lines=lines, link=link, now=now)


def _post_to_robot(session: Session, robot: LabRobot | None, queue: str, *, kind: str,
                   title: Callable[[], str], lines: Sequence[str], link: str,
                   now: dt.datetime) -> OutboxMessage | None:
    """``post_to_lab_robot`` with the lab's ``robot`` read already."""
    if robot is None or not getattr(robot, ROBOT_QUEUES[queue]):
        return None
    with force_locale(DEFAULT_LOCALE):
        subject = " ".join(title().split())
        opening = _("Open in labbook")
        text = "\n".join([*(f"> {line}" for line in lines), f"[{opening}]({link})"])
    message = OutboxMessage(
        channel=Channel.WECOM, kind=kind, user_id=None, recipient=robot.webhook_url,
        locale=DEFAULT_LOCALE, subject=subject[:rendering.MAX_SUBJECT], body_text=text,
        body_html="", state=OutboxState.QUEUED, created_at=now, attempts=0,
        next_attempt_at=now, last_error="")
    session.add(message)
    return message


# -- recipients and common pieces ---------------------------------------------------------------


# A lab's active managers, by id, and its WeCom robot (on every row, or NULL), read as rows in
# one statement: every booking that waits for approval asks for both, and the ORM's load of
# ``Lab.managers`` would cost several times the statement. A lab without an active manager
# gives one row of NULL users.
_MANAGERS_AND_ROBOT = (
    select(*columns_of(User), *columns_of(LabRobot)).select_from(Lab.__table__)
    .outerjoin(lab_managers, lab_managers.c.lab_id == Lab.__table__.c.id)
    .outerjoin(User.__table__, and_(User.__table__.c.id == lab_managers.c.user_id,
                                    User.__table__.c.is_active.is_(True)))
    .outerjoin(LabRobot.__table__, LabRobot.__table__.c.lab_id == Lab.__table__.c.id)
    .where(Lab.__table__.c.id == bindparam("lab_id"))
    .order_by(User.__table__.c.id))


def lab_staff(session: Session, lab: Lab) -> list[User]:
    """Who decides for ``lab``: its active managers, or the admins while it has none."""
    return lab_staff_and_robot(session, lab)[0]


def lab_staff_and_robot(session: Session, lab: Lab) -> tuple[list[User], LabRobot | None]:
    """``lab_staff`` and ``lab_robot`` of ``lab`` in one statement."""
    rows = fetch(session, _MANAGERS_AND_ROBOT, {"lab_id": lab.id})
    split = len(columns_of(User))
    robot = loaded(session, LabRobot, rows[0][split:]) \
        if rows and rows[0][split] is not None else None
    managers = [loaded(session, User, row[:split]) for row in rows if row[0] is not None]
    if managers:
        return managers, robot
    return list(session.scalars(select(User).where(User.role == Role.ADMIN,
                                                   User.is_active.is_(True))
                                .order_by(User.id))), robot


def _booking_calendar(booking: Booking, user: User) -> Attachment:
    """The booking as an .ics file, as ``user`` would download it."""
    config = current_app.config
    return Attachment(f"booking-{booking.id}.ics",
                      "text/calendar; charset=utf-8; method=PUBLISH",
                      ical.booking_calendar(booking, user, base_url=links.base_url(),
                                            uid_domain=config["LABBOOK_UID_DOMAIN"]))


def _when(booking: Booking) -> str:
    return to_lab_time(booking.start_at).strftime("%Y-%m-%d %H:%M")


def _booking_subject(text: Callable[..., str], booking: Booking) -> Callable[[], str]:
    """A subject naming the booking's instrument (localized) and start (lab time)."""
    return lambda: text(instrument=localized(booking.instrument, "name"), when=_when(booking))


# -- bookings ----------------------------------------------------------------------------------


def bookings_requested(session: Session, bookings: Iterable[Booking], *,
                       now: dt.datetime) -> list[OutboxMessage]:
    """Tell the lab's managers about new bookings that wait for their approval.

    The bookings of one request (a series) go out as one message per manager.
    """
    pending = [booking for booking in bookings if booking.state == BookingState.PENDING]
    if not pending:
        return []
    first = pending[0]
    if len(pending) == 1:
        subject = _booking_subject(
            lambda **kw: _("Booking to approve: %(instrument)s, %(when)s", **kw), first)
    else:
        subject = _booking_subject(lambda **kw: _(
            "%(count)d bookings to approve: %(instrument)s from %(when)s", count=len(pending),
            **kw), first)
    messages = []
    staff, robot = lab_staff_and_robot(session, first.instrument.lab)
    for manager in staff:
        message = enqueue(session, manager, kind="booking_requested",
                          template="booking_requested", subject=subject,
                          context={"bookings": pending, "booking": first}, now=now)
        if message is not None:
            messages.append(message)
    _post_to_robot(
        session, robot, "approvals", kind="booking_requested", title=subject,
        lines=[f"{booking.user.name} · {_when(booking)}–"
               f"{to_lab_time(booking.end_at).strftime('%H:%M')} · {booking.purpose}"
               for booking in pending[:10]],
        link=links.external_url("manage.approvals"), now=now)
    return messages


def booking_decided(session: Session, booking: Booking, actor: User, *,
                    now: dt.datetime) -> OutboxMessage | None:
    """Tell the booking's user that it was approved or rejected (with the .ics)."""
    if actor.id == booking.user_id:
        return None
    if booking.state == BookingState.APPROVED:
        template = "booking_approved"
        subject = _booking_subject(
            lambda **kw: _("Booking approved: %(instrument)s, %(when)s", **kw), booking)
    else:
        template = "booking_rejected"
        subject = _booking_subject(
            lambda **kw: _("Booking rejected: %(instrument)s, %(when)s", **kw), booking)
    return enqueue(session, booking.user, kind=template, template=template, subject=subject,
                   context={"booking": booking}, now=now,
                   attachments=[_booking_calendar(booking, booking.user)])


def booking_cancelled(session: Session, booking: Booking, actor: User, *, now: dt.datetime,
                      note: str = "", blackout: Blackout | None = None) -> OutboxMessage | None:
    """Tell the booking's user that someone else (a manager, a closure) cancelled it."""
    if actor.id == booking.user_id:
        return None
    subject = _booking_subject(
        lambda **kw: _("Booking cancelled: %(instrument)s, %(when)s", **kw), booking)
    return enqueue(session, booking.user, kind="booking_cancelled",
                   template="booking_cancelled", subject=subject,
                   context={"booking": booking, "actor": actor, "note": note,
                            "blackout": blackout}, now=now,
                   attachments=[_booking_calendar(booking, booking.user)])


def cancellations_told(session: Session, bookings: Sequence[Booking], *,
                       now: dt.datetime) -> int:
    """How many emails ``booking_cancelled`` queued at ``now`` for ``bookings``: none for a
    booking its own user cancelled, or whose user has no active account."""
    user_ids = {booking.user_id for booking in bookings}
    if not user_ids:
        return 0
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "booking_cancelled", OutboxMessage.channel == Channel.EMAIL,
        OutboxMessage.user_id.in_(user_ids), OutboxMessage.created_at == now)) or 0


def queued_emails_notice(count: int) -> str:
    """What a page says of the ``count`` emails an action queued: queued for sending, or, while
    email is not delivered (no SMTP server set), sent only once it is."""
    if channels.email_delivered(current_app.config):
        return ngettext("%(num)d email telling the person who booked was queued for sending.",
                        "%(num)d emails telling the people who booked were queued for sending.",
                        count)
    return ngettext("%(num)d email telling the person who booked was queued; email delivery "
                    "is not set up yet, so it will be sent once an administrator enables it.",
                    "%(num)d emails telling the people who booked were queued; email delivery "
                    "is not set up yet, so they will be sent once an administrator enables it.",
                    count)


def booking_expired(session: Session, booking: Booking, *,
                    now: dt.datetime) -> OutboxMessage | None:
    """Tell the booking's user that nobody decided on the request before its start."""
    subject = _booking_subject(
        lambda **kw: _("Booking request expired: %(instrument)s, %(when)s", **kw), booking)
    return enqueue(session, booking.user, kind="booking_expired", template="booking_expired",
                   subject=subject, context={"booking": booking}, now=now,
                   attachments=[_booking_calendar(booking, booking.user)])


def booking_no_show(session: Session, booking: Booking, *,
                    now: dt.datetime) -> OutboxMessage | None:
    """Tell the booking's user that the booking was recorded as a no-show."""
    subject = _booking_subject(
        lambda **kw: _("Recorded as a no-show: %(instrument)s, %(when)s", **kw), booking)
    return enqueue(session, booking.user, kind="booking_no_show", template="booking_no_show",
                   subject=subject, context={"booking": booking}, now=now)


def booking_changed(session: Session, booking: Booking, change: BookingChange, actor: User, *,
                    now: dt.datetime) -> OutboxMessage | None:
    """Tell the booking's user its new time (with the .ics, its SEQUENCE risen) when someone
    else changed it, or approved the change they asked for."""
    if actor.id == booking.user_id:
        return None
    subject = _booking_subject(
        lambda **kw: _("Booking changed: %(instrument)s, now %(when)s", **kw), booking)
    return enqueue(session, booking.user, kind="booking_changed", template="booking_changed",
                   subject=subject, context={"booking": booking, "change": change,
                                             "actor": actor}, now=now,
                   attachments=[_booking_calendar(booking, booking.user)])


def booking_change_requested(session: Session, change: BookingChange, *,
                             now: dt.datetime) -> list[OutboxMessage]:
    """Tell the lab's managers that a change to an approved booking waits for them."""
    booking = change.booking
    subject = _booking_subject(
        lambda **kw: _("Change to approve: %(instrument)s, %(when)s", **kw), booking)
    messages = []
    for manager in lab_staff(session, booking.instrument.lab):
        message = enqueue(session, manager, kind="booking_change_requested",
                          template="booking_change_requested", subject=subject,
                          context={"booking": booking, "change": change}, now=now)
        if message is not None:
            messages.append(message)
    return messages


def booking_change_rejected(session: Session, booking: Booking, change: BookingChange,
                            actor: User, *, now: dt.datetime) -> OutboxMessage | None:
    """Tell the booking's user that the lab turned down the change; the old time stands."""
    subject = _booking_subject(
        lambda **kw: _("Change not approved: %(instrument)s, %(when)s", **kw), booking)
    return enqueue(session, booking.user, kind="booking_change_rejected",
                   template="booking_change_rejected", subject=subject,
                   context={"booking": booking, "change": change, "actor": actor}, now=now)


def booked_for_you(session: Session, bookings: Sequence[Booking], actor: User, *,
                   now: dt.datetime) -> OutboxMessage | None:
    """Tell the user that ``actor`` booked for them (their organization pays)."""
    booking = bookings[0]
    subject = _booking_subject(
        lambda **kw: _("Booked for you: %(instrument)s, %(when)s", **kw), booking)
    return enqueue(session, booking.user, kind="booked_for_you", template="booked_for_you",
                   subject=subject, context={"booking": booking, "actor": actor}, now=now,
                   attachments=[_booking_calendar(booking, booking.user)])


def waitlist_offer(session: Session, entry: WaitlistEntry, *,
                   now: dt.datetime) -> OutboxMessage | None:
    """Offer the freed slot to the waiting-list entry's user, with the claim link."""
    subject = lambda: _("A slot is free for you: %(instrument)s, %(when)s",  # noqa: E731
                        instrument=localized(entry.instrument, "name"),
                        when=to_lab_time(entry.offer_start).strftime("%Y-%m-%d %H:%M"))
    return enqueue(session, entry.user, kind="waitlist_offer", template="waitlist_offer",
                   subject=subject, context={"entry": entry}, now=now)


def booking_suspended(session: Session, suspension: BookingSuspension, *,
                      now: dt.datetime) -> OutboxMessage | None:
    """Tell the user they may not book for themselves in the lab until the suspension ends."""
    subject = lambda: _("Booking suspended in %(lab)s",  # noqa: E731
                        lab=localized(suspension.lab, "name"))
    return enqueue(session, suspension.user, kind="booking_suspended",
                   template="booking_suspended", subject=subject,
                   context={"suspension": suspension}, now=now)


def due_reminder(booking: Booking, now: dt.datetime) -> str | None:
    """The reminder ``booking`` is due for at ``now``, if any: the nearest one whose moment has
    passed, and only before the start. A scheduler that was down (or a booking made less than
    a day ahead) gets the 1-hour reminder alone, not both at once."""
    if booking.state != BookingState.APPROVED or now >= booking.start_at:
        return None
    for kind, lead in REMINDERS:
        if booking.start_at - lead <= now:
            return kind
    return None


def send_reminders(session: Session, *, now: dt.datetime) -> list[OutboxMessage]:
    """Queue the reminders due at ``now`` (the scheduler's job; idempotent)."""
    longest = max(lead for _kind, lead in REMINDERS)
    bookings = session.scalars(
        select(Booking).where(Booking.state == BookingState.APPROVED, Booking.start_at > now,
                              Booking.start_at <= now + longest)
        .options(joinedload(Booking.user), joinedload(Booking.instrument)
                 .joinedload(Instrument.lab))
        .order_by(Booking.start_at, Booking.id))
    messages = []
    for booking in bookings:
        kind = due_reminder(booking, now)
        if kind is None:
            continue
        subject = _booking_subject(
            lambda **kw: _("Reminder: %(instrument)s, %(when)s", **kw), booking)
        message = enqueue(session, booking.user, kind=kind, template="booking_reminder",
                          subject=subject, context={"booking": booking}, now=now,
                          attachments=[_booking_calendar(booking, booking.user)],
                          dedupe_key=f"{kind}:booking:{booking.id}")
        if message is not None:
            messages.append(message)
    return messages


def send_approval_digests(session: Session, *, now: dt.datetime) -> list[OutboxMessage]:
    """Queue today's digest of pending bookings to each manager who has some to decide.

    Due from ``DIGEST_HOUR`` (lab time); one per manager and day however often it runs.
    """
    today = to_lab_time(now)
    if today.hour < DIGEST_HOUR:
        return []
    pending = session.scalars(
        select(Booking).join(Booking.instrument)
        .where(Booking.state == BookingState.PENDING, Booking.start_at > now)
        .options(joinedload(Booking.user), joinedload(Booking.instrument)
                 .joinedload(Instrument.lab))
        .order_by(Instrument.lab_id, Booking.start_at, Booking.id))
    by_lab: dict[int, list[Booking]] = {}
    for booking in pending:
        by_lab.setdefault(booking.instrument.lab_id, []).append(booking)
    per_user: dict[int, tuple[User, list[Booking]]] = {}
    for bookings in by_lab.values():
        for manager in lab_staff(session, bookings[0].instrument.lab):
            per_user.setdefault(manager.id, (manager, []))[1].extend(bookings)
    messages = []
    for manager, bookings in per_user.values():
        count = len(bookings)
        message = enqueue(
            session, manager, kind="approval_digest", template="approval_digest",
            subject=lambda count=count: ngettext("%(num)d booking waits for your approval",
                                                 "%(num)d bookings wait for your approval",
                                                 count),
            context={"bookings": bookings}, now=now,
            dedupe_key=f"approval_digest:{today.date().isoformat()}:user:{manager.id}")
        if message is not None:
            messages.append(message)
    return messages


# -- accounts ----------------------------------------------------------------------------------


def password_reset(session: Session, user: User, *, link: str, expires_at: dt.datetime,
                   now: dt.datetime) -> OutboxMessage | None:
    """Send ``user`` the link that sets a new password (valid until ``expires_at``)."""
    return enqueue(session, user, kind="password_reset", template="password_reset",
                   subject=lambda: _("Set a new labbook password"),
                   context={"reset_link": link, "expires_at": to_lab_time(expires_at)}, now=now)


# -- billing -----------------------------------------------------------------------------------


def statement_issued(session: Session, statement: Statement, *,
                     now: dt.datetime) -> OutboxMessage | None:
    """Tell the organization's billing contact that its statement was issued.

    Billing calls this in the transaction that issues the statement. Nothing is sent for an
    organization without an (active) billing contact.
    """
    contact = statement.organization.billing_contact
    if contact is None:
        return None
    return enqueue(session, contact, kind="statement_issued", template="statement_issued",
                   subject=lambda: _("Statement %(number)s for %(period)s",
                                     number=statement.number, period=statement.period),
                   context={"statement": statement}, now=now)


def month_closed(session: Session, period: str, statements: Sequence[Statement], *,
                 now: dt.datetime) -> list[OutboxMessage]:
    """Tell the admins that ``period`` was closed and which draft statements it made."""
    admins = session.scalars(select(User).where(User.role == Role.ADMIN,
                                                User.is_active.is_(True)).order_by(User.id))
    messages = []
    for admin in admins:
        message = enqueue(session, admin, kind="month_closed", template="month_closed",
                          subject=lambda: ngettext("%(period)s closed: %(num)d draft statement",
                                                   "%(period)s closed: %(num)d draft statements",
                                                   len(statements), period=period),
                          context={"period": period, "statements": statements}, now=now)
        if message is not None:
            messages.append(message)
    return messages


# -- retention ---------------------------------------------------------------------------------


def purge_outbox(session: Session, *, now: dt.datetime) -> int:
    """Delete sent messages older than ``SENT_KEPT`` and failed ones older than
    ``FAILED_KEPT`` (their attachments go with them). Returns how many were deleted."""
    sent = session.execute(delete(OutboxMessage).where(
        OutboxMessage.state == OutboxState.SENT, OutboxMessage.sent_at < now - SENT_KEPT))
    failed = session.execute(delete(OutboxMessage).where(
        OutboxMessage.state == OutboxState.FAILED,
        OutboxMessage.created_at < now - FAILED_KEPT))
    return sent.rowcount + failed.rowcount
