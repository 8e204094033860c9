"""Intake (收样): the lab receives an order's samples, records each one's condition, and
numbers the samples it accepts.

Every sample of the order is decided in one intake: accepted, accepted with a remark, or
refused with a reason. An accepted sample gets its number (``FOOD-2026-000123``: lab, year,
sequence, from the lab's counter row, so two intakes at once cannot share a number). A line
with an accepted sample is due ``turnaround`` working days after intake (express: half,
rounded up), by the lab's working calendar; a line whose samples were all refused is closed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.audit.services import record
from labbook.core.engine import lock
from labbook.core.errors import Problem, ValidationError
from labbook.core.time import to_lab_time
from labbook.holidays.services import add_working_days
from labbook.orders import notices, numbers
from labbook.orders.models import (
    IntakeStatus,
    LineState,
    Order,
    OrderLine,
    OrderState,
)
from labbook.orders.services import (
    MAX_CONDITION,
    MAX_NOTE,
    invalid_order_state,
    require_staff,
)


@dataclass(frozen=True)
class SampleDecision:
    sample_id: int | None
    status: IntakeStatus | None
    condition: str = ""
    note: str = ""


def turnaround_working_days(line: OrderLine) -> int:
    days = line.service.turnaround_days
    return math.ceil(days / 2) if line.is_express else days


def _check(order: Order, decisions: Sequence[SampleDecision]) -> dict[int, SampleDecision]:
    problems: list[Problem] = []
    wanted = {sample.id for sample in order.samples}
    decided: dict[int, SampleDecision] = {}
    for index, decision in enumerate(decisions):
        at = f"samples[{index}]"
        if decision.sample_id not in wanted or decision.sample_id in decided:
            problems.append(Problem("unknown_sample", _(
                "This sample is not one of the order's, or is decided twice."),
                field=f"{at}.sample_id"))
            continue
        decided[decision.sample_id] = decision
        if decision.status not in (IntakeStatus.ACCEPTED, IntakeStatus.ACCEPTED_WITH_REMARK,
                                   IntakeStatus.REFUSED):
            problems.append(Problem("invalid_status", _(
                "Accept the sample, accept it with a remark, or refuse it."),
                field=f"{at}.status"))
        note = (decision.note or "").strip()
        if decision.status == IntakeStatus.REFUSED and not note:
            problems.append(Problem("required", _("Say why the sample is refused."),
                                    field=f"{at}.note"))
        elif decision.status == IntakeStatus.ACCEPTED_WITH_REMARK and not note:
            problems.append(Problem("required", _("Write the remark."), field=f"{at}.note"))
        if len(note) > MAX_NOTE:
            problems.append(Problem("too_long_text", _("At most %(n)d characters.", n=MAX_NOTE),
                                    field=f"{at}.note"))
        if len((decision.condition or "").strip()) > MAX_CONDITION:
            problems.append(Problem("too_long_text", _("At most %(n)d characters.",
                                                       n=MAX_CONDITION),
                                    field=f"{at}.condition"))
    missing = wanted - decided.keys()
    if missing and not problems:
        problems.append(Problem("samples_undecided", _(
            "Decide every sample of the order: %(n)d left.", n=len(missing)), field="samples"))
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    return decided


def receive(session: Session, actor: User, order: Order,
            decisions: Sequence[SampleDecision], *, now: dt.datetime) -> Order:
    """Record the intake of every sample of ``order`` (the lab's staff)."""
    lock(session, order)
    require_staff(session, actor, order)
    if order.state != OrderState.SUBMITTED:
        raise invalid_order_state(order)
    decided = _check(order, decisions)
    today = to_lab_time(now).date()
    year = today.year
    for line in order.lines:
        for sample in line.samples:
            decision = decided[sample.id]
            assert decision.status is not None
            sample.intake_status = decision.status
            sample.intake_condition = (decision.condition or "").strip() or sample.condition
            sample.intake_note = (decision.note or "").strip()
            sample.received_at = now
            sample.received_by_id = actor.id
            if sample.is_accepted:
                sample.number = numbers.sample_number(session, order.lab.code, year)
        if line.accepted_samples:
            line.state = LineState.RECEIVED
            line.due_date = add_working_days(session, order.lab_id, today,
                                             turnaround_working_days(line))
        else:
            line.state = LineState.REFUSED
    before = order.state
    order.state = OrderState.RECEIVED if any(
        line.state == LineState.RECEIVED for line in order.lines) else OrderState.REFUSED
    order.received_at = now
    order.updated_at = now
    session.flush()
    accepted = sum(1 for sample in order.samples if sample.is_accepted)
    record(session, actor, order, "receive", at=now, from_state=before.value,
           to_state=order.state.value, accepted=accepted,
           refused=len(order.samples) - accepted)
    notices.order_changed(session, order, "received", actor=actor, now=now)
    return order
