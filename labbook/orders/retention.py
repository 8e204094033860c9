"""Retention of remains (留样): kept for the service's retention period after the report is
issued, then returned or disposed of, and that is recorded. A daily job tells each lab's
managers which remains are due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import User
from labbook.audit.services import record
from labbook.catalogue.models import Lab
from labbook.core.engine import lock
from labbook.core.errors import Conflict, NotFound, Problem, ValidationError
from labbook.core.time import to_lab_time
from labbook.notify import services as notify
from labbook.notify.models import OutboxMessage
from labbook.orders.models import Disposition, Order, OrderLine, Report, Sample
from labbook.orders.services import clean_note, require_staff, retention_days


def lab_today(now: dt.datetime) -> dt.date:
    return to_lab_time(now).date()


def start_retention(session: Session, report: Report) -> None:
    """Each accepted sample of the order is kept from the report's issue date for its service's
    retention period (a first report only: an amendment does not extend it)."""
    assert report.issued_on is not None
    for line in report.order.lines:
        days = retention_days(session, line.service)
        for sample in line.accepted_samples:
            if sample.retain_until is None:
                sample.retain_until = report.issued_on + dt.timedelta(days=days)


def _sample(order: Order, sample_id: int) -> Sample:
    for sample in order.samples:
        if sample.id == sample_id:
            return sample
    raise NotFound(_("No sample %(id)d in this order.", id=sample_id))


def record_disposition(session: Session, actor: User, order: Order, sample_id: int,
                       disposition: Disposition | None, *, note: str = "",
                       now: dt.datetime) -> Sample:
    """The lab's staff record that a sample's remains were returned or disposed of."""
    lock(session, order)
    require_staff(session, actor, order)
    sample = _sample(order, sample_id)
    if disposition is None:
        message = _("Say whether the remains were returned or disposed of.")
        raise ValidationError(message, code="invalid_disposition",
                              problems=[Problem("invalid_disposition", message,
                                                field="disposition")])
    note = clean_note(note, required=False)
    if sample.retain_until is None or sample.disposition is not None:
        raise Conflict(_("This sample's remains are not kept, or their fate is recorded "
                         "already."), code="invalid_state")
    sample.disposition = disposition
    sample.disposed_at = now
    sample.disposed_by_id = actor.id
    sample.disposition_note = note
    record(session, actor, order, "dispose", at=now, sample=sample.number,
           disposition=disposition.value, note=note)
    return sample


def due_samples(session: Session, lab_ids: Sequence[int], *, now: dt.datetime
                ) -> list[Sample]:
    """Kept remains whose retention period is over, the longest due first."""
    return list(session.scalars(
        select(Sample).join(OrderLine).join(Order)
        .where(Order.lab_id.in_(lab_ids), Sample.disposition.is_(None),
               Sample.retain_until <= lab_today(now))
        .options(selectinload(Sample.line).selectinload(OrderLine.order))
        .order_by(Sample.retain_until, Sample.id)))


def _subject(lab_code: str, count: int) -> Callable[[], str]:
    return lambda: _("%(lab)s: %(n)d samples' remains are due for return or disposal",
                     lab=lab_code, n=count)


def notify_due(session: Session, *, now: dt.datetime) -> list[OutboxMessage]:
    """Tell each lab's managers, once a day, which remains are due; returns the messages."""
    sent = []
    today = lab_today(now)
    for lab in session.scalars(select(Lab).order_by(Lab.code)):
        due = due_samples(session, [lab.id], now=now)
        if not due:
            continue
        subject = _subject(lab.code, len(due))
        for user in notify.lab_staff(session, lab):
            message = notify.enqueue(
                session, user, kind="retention_due", template="retention_due",
                subject=subject,
                context={"lab": lab, "samples": due, "today": today}, now=now,
                dedupe_key=f"retention-due:{lab.code}:{today.isoformat()}:{user.id}")
            if message is not None:
                sent.append(message)
    return sent
