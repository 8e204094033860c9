"""The emails of the order workflow, written to the outbox in the change's transaction.

The customer (the order's requester) hears at each step they care about: the order received
by the lab's system, the samples received (or refused) at intake, testing completed, a report
issued, amended or withdrawn, and a cancellation. The lab's managers hear of new orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from labbook import links
from labbook.accounts.models import User
from labbook.catalogue.models import Lab
from labbook.notify import services as notify
from labbook.orders.models import Order, Report

SUBJECTS: dict[str, Callable[[str], str]] = {
    "submitted": lambda number: _("Order %(number)s received by the lab", number=number),
    "received": lambda number: _("Order %(number)s: samples received", number=number),
    "completed": lambda number: _("Order %(number)s: testing completed", number=number),
    "cancelled": lambda number: _("Order %(number)s cancelled", number=number),
    "report_issued": lambda number: _("Order %(number)s: report issued", number=number),
    "report_withdrawn": lambda number: _("Order %(number)s: report withdrawn", number=number),
}


def lab_staff(session: Session, lab: Lab) -> list[User]:
    return notify.lab_staff(session, lab)


def _send(session: Session, user: User, order: Order, event: str, *, now: dt.datetime,
          report: Report | None = None) -> None:
    number = order.number
    notify.enqueue(session, user, kind=f"order_{event}", template="order_event",
                   subject=lambda: SUBJECTS[event](number),
                   context={"order": order, "event": event, "report": report}, now=now)


def order_submitted(session: Session, order: Order, *, staff: Sequence[User],
                    now: dt.datetime) -> None:
    """Tell the customer, the lab's managers and the lab's group robot (if it posts orders)."""
    _send(session, order.requester, order, "submitted", now=now)
    for user in staff:
        notify.enqueue(session, user, kind="order_new", template="order_new",
                       subject=lambda: _("New order %(number)s", number=order.number),
                       context={"order": order}, now=now)
    notify.post_to_lab_robot(
        session, order.lab, "orders", kind="order_new",
        title=lambda: _("New order %(number)s", number=order.number),
        lines=[f"{order.organization.name} · {order.contact_name}"],
        link=links.external_url("orders.lab_queue"), now=now)


def order_changed(session: Session, order: Order, event: str, *, actor: User,
                  now: dt.datetime) -> None:
    """Tell the customer, unless they made the change themselves."""
    if actor.id != order.requester_id:
        _send(session, order.requester, order, event, now=now)


def report_issued(session: Session, order: Order, report: Report, *, now: dt.datetime) -> None:
    _send(session, order.requester, order, "report_issued", now=now, report=report)


def report_withdrawn(session: Session, order: Order, report: Report, *,
                     now: dt.datetime) -> None:
    _send(session, order.requester, order, "report_withdrawn", now=now, report=report)
