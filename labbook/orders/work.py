"""The lab's work on an order's lines: assigning an analyst, starting, recording results,
completing (which bills the line), and the files kept with the order.

A result belongs to one accepted sample and one test item: value, unit, method and, where the
service defines a limit for the item, the limit and the conclusion computed from it (合格 /
不合格); otherwise the conclusion is "not judged" (不判定). Every change reads the order under
its row lock first: the order is the one lock the workflow takes, so two changes to one order
never interleave.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from labbook.accounts.models import User
from labbook.audit.services import record
from labbook.billing import services as billing
from labbook.booking import services as booking_services
from labbook.booking.models import Booking
from labbook.core.engine import lock
from labbook.core.errors import DomainError, NotFound, PermissionDenied, Problem, ValidationError
from labbook.orders import notices
from labbook.orders.models import (
    Attachment,
    Capability,
    Conclusion,
    LineState,
    Order,
    OrderLine,
    OrderState,
    Result,
    Sample,
    ServiceTestItem,
)
from labbook.orders.services import (
    accepted_methods,
    holds,
    invalid_line_state,
    invalid_order_state,
    require_manager,
    require_staff,
    test_items,
)

MAX_VALUE = 100
MAX_UNIT = 50
MAX_ITEM = 200


class AttachmentTooLarge(DomainError):
    status = 413
    code = "attachment_too_large"


def get_line(order: Order, line_id: int) -> OrderLine:
    for line in order.lines:
        if line.id == line_id:
            return line
    raise NotFound(_("No line %(id)d in this order.", id=line_id))


def _require_worker(session: Session, actor: User, order: Order, line: OrderLine) -> None:
    """The line's analyst, or the lab's managers."""
    require_staff(session, actor, order)
    if line.analyst_id != actor.id and not actor.manages_lab_id(order.lab_id):
        raise PermissionDenied(_("Only the line's analyst or the lab's managers may do this."))


def assign(session: Session, actor: User, order: Order, line_id: int, analyst: User | None, *,
           now: dt.datetime) -> OrderLine:
    """The lab's managers give a line to an analyst of the lab."""
    lock(session, order)
    require_manager(session, actor, order)
    line = get_line(order, line_id)
    if line.state not in (LineState.RECEIVED, LineState.IN_PROGRESS):
        raise invalid_line_state(line)
    if analyst is None or not analyst.is_active \
            or not holds(session, analyst, order.lab_id, Capability.ANALYST):
        message = _("Choose an analyst of this lab.")
        raise ValidationError(message, code="not_an_analyst",
                              problems=[Problem("not_an_analyst", message, field="analyst_id")])
    before = line.analyst_id
    line.analyst_id = analyst.id
    order.updated_at = now
    record(session, actor, order, "assign", at=now, line=line.position,
           analyst_id=analyst.id, previous_analyst_id=before)
    return line


def start(session: Session, actor: User, order: Order, line_id: int, *,
          now: dt.datetime) -> OrderLine:
    lock(session, order)
    line = get_line(order, line_id)
    _require_worker(session, actor, order, line)
    if not line.can_become(LineState.IN_PROGRESS):
        raise invalid_line_state(line)
    if line.analyst_id is None:
        message = _("Assign the line to an analyst first.")
        raise ValidationError(message, code="no_analyst",
                              problems=[Problem("no_analyst", message, field="analyst_id")])
    line.state = LineState.IN_PROGRESS
    line.started_at = now
    order.updated_at = now
    record(session, actor, order, "start_line", at=now, line=line.position,
           from_state=LineState.RECEIVED.value, to_state=LineState.IN_PROGRESS.value)
    return line


def book_instrument(session: Session, actor: User, order: Order, line_id: int, *,
                    instrument_id: int | None, start: dt.datetime | None,
                    end: dt.datetime | None, now: dt.datetime) -> Booking:
    """The lab's staff book an instrument of the line's service for the line, through the
    booking rules, for the customer's organization: the time counts as served to it."""
    lock(session, order)
    require_staff(session, actor, order)
    line = get_line(order, line_id)
    if line.state not in (LineState.RECEIVED, LineState.IN_PROGRESS):
        raise invalid_line_state(line)
    if instrument_id not in {instrument.id for instrument in line.service.instruments}:
        message = _("Choose an instrument of %(service)s.", service=line.service.code)
        raise ValidationError(message, code="instrument_not_of_service",
                              problems=[Problem("instrument_not_of_service", message,
                                                field="instrument_id")])
    if start is None or end is None:
        message = _("Give the start and the end.")
        raise ValidationError(message, code="required",
                              problems=[Problem("required", message, field="start")])
    assert instrument_id is not None
    booking = booking_services.book_for_order_line(
        session, actor, instrument_id=instrument_id, organization_id=order.organization_id,
        order_line_id=line.id, start=start, end=end,
        purpose=f"{order.number} · {line.position}. {line.service.code}", now=now)
    order.updated_at = now
    record(session, actor, order, "book", at=now, line=line.position, booking_id=booking.id)
    return booking


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultInput:
    sample_id: int | None
    item: str | None
    value: str | None
    unit: str | None
    method: str | None = None


def _number(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def judge(item: ServiceTestItem | None, value: str) -> Conclusion:
    """合格 / 不合格 when the item has a limit and the value is a number, else 不判定."""
    if item is None:
        return Conclusion.NOT_JUDGED
    measured = _number(value)
    lower, upper = _number(item.lower_limit), _number(item.upper_limit)
    if measured is None or (lower is None and upper is None):
        return Conclusion.NOT_JUDGED
    if (lower is not None and measured < lower) or (upper is not None and measured > upper):
        return Conclusion.FAIL
    return Conclusion.PASS


def _find_item(items: list[ServiceTestItem], name: str) -> ServiceTestItem | None:
    for item in items:
        if name in (item.name_zh, item.name_en):
            return item
    return None


def record_results(session: Session, actor: User, order: Order, line_id: int,
                   entries: list[ResultInput], *, now: dt.datetime) -> list[Result]:
    """Record (or correct) results of a line in progress; all or nothing."""
    lock(session, order)
    line = get_line(order, line_id)
    _require_worker(session, actor, order, line)
    if line.state != LineState.IN_PROGRESS:
        raise invalid_line_state(line)
    samples = {sample.id: sample for sample in line.accepted_samples}
    items = test_items(session, line.service)
    methods = accepted_methods(session, line.service)
    problems: list[Problem] = []
    if not entries:
        problems.append(Problem("no_results", _("Enter at least one result."), field="results"))
    cleaned = []
    for index, entry in enumerate(entries):
        at = f"results[{index}]"
        sample = samples.get(entry.sample_id) if isinstance(entry.sample_id, int) else None
        if sample is None:
            problems.append(Problem("unknown_sample", _(
                "This sample is not an accepted sample of the line."), field=f"{at}.sample_id"))
        name = (entry.item or "").strip()
        value = (entry.value or "").strip()
        unit = (entry.unit or "").strip()
        method = (entry.method or "").strip() or line.method
        item = _find_item(items, name) if name else None
        if not name:
            problems.append(Problem("required", _("Name the test item."), field=f"{at}.item"))
        elif len(name) > MAX_ITEM:
            problems.append(Problem("too_long_text", _("At most %(n)d characters.", n=MAX_ITEM),
                                    field=f"{at}.item"))
        elif items and item is None:
            problems.append(Problem("unknown_item", _(
                "%(service)s has no test item “%(item)s”.", service=line.service.code,
                item=name), field=f"{at}.item"))
        if not value:
            problems.append(Problem("required", _("Enter the value."), field=f"{at}.value"))
        elif len(value) > MAX_VALUE:
            problems.append(Problem("too_long_text", _("At most %(n)d characters.",
                                                       n=MAX_VALUE), field=f"{at}.value"))
        if not unit:
            problems.append(Problem("unit_required", _("Give the unit of the value."),
                                    field=f"{at}.unit"))
        elif len(unit) > MAX_UNIT:
            problems.append(Problem("too_long_text", _("At most %(n)d characters.",
                                                       n=MAX_UNIT), field=f"{at}.unit"))
        elif item is not None and unit != item.unit:
            problems.append(Problem("unit_mismatch", _(
                "%(item)s is measured in %(unit)s.", item=name, unit=item.unit),
                field=f"{at}.unit"))
        if method not in methods:
            problems.append(Problem("unknown_method", _(
                "The lab does not accept the method “%(method)s” for %(service)s.",
                method=method[:MAX_ITEM], service=line.service.code), field=f"{at}.method"))
        cleaned.append((sample, item, name, value, unit, method))
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)
    saved = []
    for sample, item, name, value, unit, method in cleaned:
        assert sample is not None
        stored_name = item.name_zh if item is not None else name
        result = session.scalar(select(Result).where(Result.sample_id == sample.id,
                                                     Result.item == stored_name))
        if result is None:
            result = Result(sample_id=sample.id, item=stored_name)
            session.add(result)
        result.value, result.unit, result.method = value, unit, method
        result.limit = item.limit_text if item is not None else ""
        result.conclusion = judge(item, value)
        result.entered_by_id = actor.id
        result.entered_at = now
        saved.append(result)
    session.flush()
    order.updated_at = now
    record(session, actor, order, "results", at=now, line=line.position, count=len(saved))
    return saved


def missing_results(session: Session, line: OrderLine) -> list[str]:
    """What keeps ``line`` from completing: samples without results, or without a result for
    each of the service's test items."""
    items = [item.name_zh for item in test_items(session, line.service)]
    missing = []
    for sample in line.accepted_samples:
        have = {result.item for result in sample.results}
        if not have or any(name not in have for name in items):
            missing.append(sample.number or sample.name)
    return missing


def complete(session: Session, actor: User, order: Order, line_id: int, *,
             now: dt.datetime) -> OrderLine:
    """The line's results are in: it is done and billed at its quote. The order is done when
    its last line is."""
    lock(session, order)
    line = get_line(order, line_id)
    _require_worker(session, actor, order, line)
    if not line.can_become(LineState.COMPLETED):
        raise invalid_line_state(line)
    session.expire(line, ["samples"])
    missing = missing_results(session, line)
    if missing:
        message = _("Results are missing for %(samples)s.", samples=", ".join(missing[:10]))
        raise ValidationError(message, code="results_missing",
                              problems=[Problem("results_missing", message, field="results")])
    line.state = LineState.COMPLETED
    line.completed_at = now
    record(session, actor, order, "complete_line", at=now, line=line.position,
           from_state=LineState.IN_PROGRESS.value, to_state=LineState.COMPLETED.value)
    billing.charge_order_line(session, line, now=now)
    order.updated_at = now
    if all(other.state in (LineState.COMPLETED, LineState.REFUSED, LineState.CANCELLED)
           for other in order.lines):
        if order.state != OrderState.RECEIVED:
            raise invalid_order_state(order)
        order.state = OrderState.COMPLETED
        record(session, actor, order, "complete", at=now, from_state=OrderState.RECEIVED.value,
               to_state=OrderState.COMPLETED.value)
        notices.order_changed(session, order, "completed", actor=actor, now=now)
    return line


# -- attachments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


def _safe_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"')[:255]
    return name or "attachment"


def add_attachment(session: Session, actor: User, order: Order, upload: Upload, *,
                   directory: str | Path, max_bytes: int, now: dt.datetime
                   ) -> tuple[Attachment, Path]:
    """Keep a file with the order (the lab's staff). Returns the file written, which the caller
    removes if the transaction fails."""
    lock(session, order)
    require_staff(session, actor, order)
    if order.state in (OrderState.CANCELLED, OrderState.REFUSED):
        raise invalid_order_state(order)
    if not upload.data:
        message = _("The file is empty.")
        raise ValidationError(message, code="empty_file",
                              problems=[Problem("empty_file", message, field="file")])
    if len(upload.data) > max_bytes:
        message = _("The file is larger than %(mb)d MB.", mb=max(1, max_bytes // (1024 * 1024)))
        raise AttachmentTooLarge(message, problems=[Problem("attachment_too_large", message,
                                                            field="file")])
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{order.id}-{secrets.token_hex(12)}"
    path = folder / name
    path.write_bytes(upload.data)
    attachment = Attachment(order_id=order.id, path=name, filename=_safe_filename(upload.filename),
                            content_type=(upload.content_type or "application/octet-stream")[:100],
                            size=len(upload.data),
                            sha256=hashlib.sha256(upload.data).hexdigest(),
                            uploaded_by_id=actor.id, uploaded_at=now)
    session.add(attachment)
    session.flush()
    record(session, actor, order, "attach", at=now, attachment_id=attachment.id,
           filename=attachment.filename, size=attachment.size)
    return attachment, path


def get_attachment(order: Order, attachment_id: int) -> Attachment:
    for attachment in order.attachments:
        if attachment.id == attachment_id:
            return attachment
    raise NotFound(_("No attachment %(id)d in this order.", id=attachment_id))


def accepted_sample(line: OrderLine, sample_id: int) -> Sample:
    for sample in line.accepted_samples:
        if sample.id == sample_id:
            return sample
    raise NotFound(_("No accepted sample %(id)d in this line.", id=sample_id))
