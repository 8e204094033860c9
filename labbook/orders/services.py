"""Orders (委托单): checking, quoting and submitting them, who may see and do what, cancelling,
and the lab's settings and staff capabilities the workflow relies on.

An order belongs to one lab (the lab whose terms the customer agrees to and whose staff receive
the samples) and one organization (the one billed). Each line is one testing service with its
samples; its price is ``labbook.billing.pricing.quote`` at the organization's tier, fixed when
the order is submitted. The customer confirms the lab's terms (委托协议) on submitting: an
order without that confirmation is refused, and so is one from an organization whose
statements are overdue (``billing.receivables.refuse_if_overdue``). Nobody is bound to a price
they were not shown: a submission that names the total it was shown is refused
(``QuoteChanged``, carrying the current quote) when the order costs anything else now.

Every function takes the acting user and ``now`` and never reads the request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import Organization, User
from labbook.audit.services import record
from labbook.billing import receivables
from labbook.billing.pricing import Quote, quote
from labbook.catalogue.models import Lab, TestingService
from labbook.core.engine import lock
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.money import format_money
from labbook.core.time import to_lab_time
from labbook.i18n import lazy_gettext as _l
from labbook.orders import notices, numbers
from labbook.orders.labels import LINE_STATE_LABELS, ORDER_STATE_LABELS
from labbook.orders.models import (
    MAX_LINES,
    MAX_SAMPLES,
    MIN_SAMPLES,
    Capability,
    LabStaff,
    LabTestingSettings,
    LineState,
    Order,
    OrderLine,
    OrderState,
    Remains,
    ReportLanguage,
    Sample,
    ServiceMethod,
    ServiceTestItem,
    ServiceTestSettings,
)

MAX_NOTES = 2000
MAX_NOTE = 1000
MAX_NAME = 200
MAX_SHORT = 100
MAX_CONDITION = 300
MAX_PHONE = 64
#: What the customer says of each sample, in the order a page lists them.
SAMPLE_FIELDS = ("name", "batch", "specification", "quantity", "condition", "hazards")

#: The terms an order's customer agrees to when the lab has set none of its own.
DEFAULT_TERMS_PARAGRAPHS = (
    _l("The laboratory tests the samples received by the methods stated in this order and "
       "reports the results for those samples only."),
    _l("The customer is responsible for the truth of the sample information given. Samples "
       "that do not meet the service's requirements may be refused at intake."),
    _l("The report is issued after testing within the turnaround of each service, counted in "
       "working days from intake; express lines take about half as long at the surcharge "
       "stated."),
    _l("Remains are kept for the service's retention period after the report, then returned "
       "or disposed of as this order says."),
    _l("Fees are those quoted in this order and are billed on the monthly statement."),
)


# -- input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleInput:
    name: str = ""
    batch: str = ""
    specification: str = ""
    quantity: str = ""
    condition: str = ""
    hazards: str = ""


@dataclass(frozen=True)
class LineInput:
    service_id: int | None
    samples: Sequence[SampleInput]
    method: str = ""
    express: bool = False


@dataclass(frozen=True)
class OrderInput:
    lines: Sequence[LineInput]
    remains: Remains = Remains.DISPOSE
    report_language: ReportLanguage = ReportLanguage.ZH_CN
    notes: str = ""
    contact_phone: str = ""
    terms_confirmed: bool = False


@dataclass(frozen=True)
class QuotedLine:
    service: TestingService
    method: str
    price: Quote
    samples: Sequence[SampleInput]


@dataclass(frozen=True)
class OrderQuote:
    lab: Lab
    organization: Organization
    lines: list[QuotedLine] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((line.price.total for line in self.lines), Decimal("0.00"))


class QuoteChanged(Conflict):
    """The order costs other than the total its customer was shown (a rate or the
    organization's tier changed since, or the order itself did); ``quote`` is its price now."""

    code = "quote_changed"

    def __init__(self, current: OrderQuote, shown_total: Decimal) -> None:
        message = _("The price has changed since it was shown to you: this order now costs "
                    "%(total)s, not %(shown)s. Check the new quote and submit again.",
                    total=format_money(current.total), shown=format_money(shown_total))
        super().__init__(message, problems=[Problem(self.code, message,
                                                    field="expected_total")])
        self.quote = current


def _refuse(problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)


def _text(problems: list[Problem], value: str | None, name: str, limit: int, *,
          required: bool = False) -> str:
    text = (value or "").strip() if isinstance(value, str) else ""
    if required and not text:
        problems.append(Problem("required", _("This field is required."), field=name))
    elif len(text) > limit:
        problems.append(Problem("too_long_text", _("At most %(n)d characters.", n=limit),
                                field=name))
    return text


def accepted_methods(session: Session, service: TestingService) -> list[str]:
    """The service's own standard first, then the other methods the lab accepts for it."""
    others = session.scalars(select(ServiceMethod.method)
                             .where(ServiceMethod.service_id == service.id)
                             .order_by(ServiceMethod.method)).all()
    return [service.standard, *[m for m in others if m != service.standard]]


def requesting_organization(actor: User) -> Organization:
    organization = actor.organization
    if organization is None:
        message = _("Your account belongs to no organization, so there is nobody to bill.")
        raise ValidationError(message, code="no_organization",
                              problems=[Problem("no_organization", message)])
    if organization.is_suspended:
        message = _("%(org)s is suspended and cannot request tests at the moment.",
                    org=organization.name)
        raise Conflict(message, code="org_suspended",
                       problems=[Problem("org_suspended", message)])
    return organization


def _offered_service(session: Session, service_id: object) -> TestingService | None:
    service = session.get(TestingService, service_id) \
        if isinstance(service_id, int) and not isinstance(service_id, bool) else None
    return service if service is not None and service.is_active else None


def _method(service: TestingService, line: LineInput) -> str:
    return (line.method or "").strip() or service.standard


def _quoted_line(service: TestingService, organization: Organization,
                 line: LineInput) -> QuotedLine:
    return QuotedLine(service, _method(service, line),
                      quote(service, organization.tier, len(line.samples), line.express),
                      line.samples)


def preview_quote(session: Session, actor: User, order: OrderInput) -> OrderQuote | None:
    """The running quote of an order being written: each line whose service is offered,
    priced for the samples given so far; None while no line has both.

    It checks nothing else (``quote_order`` does), so the form can show the price from the
    first sample on; an order that passes those checks costs exactly this.
    """
    organization = actor.organization
    if organization is None:
        return None
    lines = []
    for line in order.lines[:MAX_LINES]:
        service = _offered_service(session, line.service_id)
        if service is not None and line.samples:
            lines.append(_quoted_line(service, organization, line))
    if not lines:
        return None
    return OrderQuote(lab=lines[0].service.lab, organization=organization, lines=lines)


def quote_order(session: Session, actor: User, order: OrderInput) -> OrderQuote:
    """Check an order as ``actor`` would submit it and price it; changes nothing.

    Every problem is reported at once, each naming its field (``lines[0].samples[2].name``).
    """
    problems: list[Problem] = []
    if not order.lines:
        problems.append(Problem("no_lines", _("Add at least one testing service."),
                                field="lines"))
    elif len(order.lines) > MAX_LINES:
        problems.append(Problem("too_many_lines", _(
            "An order holds at most %(n)d testing services.", n=MAX_LINES), field="lines"))
    total_samples = sum(len(line.samples) for line in order.lines)
    if total_samples > MAX_SAMPLES:
        problems.append(Problem("invalid_samples", _(
            "An order holds at most %(max)d samples; send a larger consignment as several "
            "orders.", max=MAX_SAMPLES), field="lines"))
    _refuse(problems)
    organization = requesting_organization(actor)
    labs: set[int] = set()
    quoted: list[QuotedLine] = []
    for index, line in enumerate(order.lines):
        where = f"lines[{index}]"
        service = _offered_service(session, line.service_id)
        if service is None:
            problems.append(Problem("unknown_service", _("No such testing service is offered."),
                                    field=f"{where}.service_id"))
            continue
        labs.add(service.lab_id)
        method = _method(service, line)
        if method not in accepted_methods(session, service):
            problems.append(Problem("unknown_method", _(
                "The lab does not accept the method “%(method)s” for %(service)s.",
                method=method[:MAX_NAME], service=service.code), field=f"{where}.method"))
        if line.express and service.express_surcharge_percent <= 0:
            problems.append(Problem("express_not_offered", _(
                "This testing service has no express option."), field=f"{where}.express"))
        if not MIN_SAMPLES <= len(line.samples) <= MAX_SAMPLES:
            problems.append(Problem("invalid_samples", _(
                "The number of samples must be a whole number from %(min)d to %(max)d.",
                min=MIN_SAMPLES, max=MAX_SAMPLES), field=f"{where}.samples"))
        for position, sample in enumerate(line.samples[:MAX_SAMPLES]):
            at = f"{where}.samples[{position}]"
            _text(problems, sample.name, f"{at}.name", MAX_NAME, required=True)
            _text(problems, sample.quantity, f"{at}.quantity", MAX_SHORT, required=True)
            _text(problems, sample.batch, f"{at}.batch", MAX_SHORT)
            _text(problems, sample.specification, f"{at}.specification", MAX_NAME)
            _text(problems, sample.condition, f"{at}.condition", MAX_CONDITION)
            _text(problems, sample.hazards, f"{at}.hazards", MAX_CONDITION)
        quoted.append(_quoted_line(service, organization, line))
    if len(labs) > 1:
        problems.append(Problem("mixed_labs", _(
            "All services of one order must be from the same lab; send one order per lab."),
            field="lines"))
    _text(problems, order.notes, "notes", MAX_NOTES)
    _text(problems, order.contact_phone, "contact_phone", MAX_PHONE)
    _refuse(problems)
    return OrderQuote(lab=quoted[0].service.lab, organization=organization, lines=quoted)


# -- the lab's settings ---------------------------------------------------------------------------


def lab_settings(session: Session, lab: Lab) -> LabTestingSettings:
    """The lab's printed details and terms (empty ones when it has set none)."""
    settings = session.get(LabTestingSettings, lab.id)
    return settings or LabTestingSettings(lab_id=lab.id, terms_zh="", terms_en="",
                                          address_zh="", address_en="", phone="",
                                          accreditation_marks="")


def terms_text(session: Session, lab: Lab, language: str) -> str:
    settings = lab_settings(session, lab)
    own = settings.terms_en if language == "en" else settings.terms_zh
    if own.strip():
        return own.strip()
    with force_locale(language):
        return "\n\n".join(str(paragraph) for paragraph in DEFAULT_TERMS_PARAGRAPHS)


def update_lab_settings(session: Session, actor: User, lab: Lab, *, terms_zh: str,
                        terms_en: str, address_zh: str, address_en: str, phone: str,
                        accreditation_marks: Sequence[str], now: dt.datetime
                        ) -> LabTestingSettings:
    if not actor.manages(lab):
        raise PermissionDenied(_("Only the lab's managers change its testing settings."))
    problems: list[Problem] = []
    values = {
        "terms_zh": _text(problems, terms_zh, "terms_zh", 20000),
        "terms_en": _text(problems, terms_en, "terms_en", 20000),
        "address_zh": _text(problems, address_zh, "address_zh", 300),
        "address_en": _text(problems, address_en, "address_en", 300),
        "phone": _text(problems, phone, "phone", MAX_PHONE),
    }
    marks = [mark.strip().upper() for mark in accreditation_marks if mark.strip()]
    if any(mark not in ("CMA", "CNAS") for mark in marks):
        problems.append(Problem("invalid_mark", _("The marks are CMA and CNAS."),
                                field="accreditation_marks"))
    _refuse(problems)
    settings = session.get(LabTestingSettings, lab.id, with_for_update=True)
    if settings is None:
        settings = LabTestingSettings(lab_id=lab.id)
        session.add(settings)
    for name, value in values.items():
        setattr(settings, name, value)
    settings.accreditation_marks = ",".join(dict.fromkeys(marks))
    session.flush()
    record(session, actor, lab, "testing_settings", at=now)
    return settings


def retention_days(session: Session, service: TestingService) -> int:
    settings = session.get(ServiceTestSettings, service.id)
    return settings.retention_days if settings else ServiceTestSettings.retention_days.default.arg


def test_items(session: Session, service: TestingService) -> list[ServiceTestItem]:
    return list(session.scalars(select(ServiceTestItem)
                                .where(ServiceTestItem.service_id == service.id)
                                .order_by(ServiceTestItem.position, ServiceTestItem.id)))


@dataclass(frozen=True)
class TestItemInput:
    name_zh: str
    name_en: str
    unit: str
    lower_limit: str = ""
    upper_limit: str = ""


def _limit(problems: list[Problem], value: str, name: str) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = Decimal(text)
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite() or len(text) > 40:
        problems.append(Problem("invalid_limit", _("A limit is a number, e.g. 0.5 or 100."),
                                field=name))
        return None
    return text


def update_service_testing(session: Session, actor: User, service: TestingService, *,
                           methods: Sequence[str], retention: int | None,
                           items: Sequence[TestItemInput], now: dt.datetime) -> None:
    """The lab's managers set a service's other accepted methods, its retention period and its
    test items with their units and limits (replacing the ones before: results keep the limit
    they were judged by)."""
    if not actor.manages_lab_id(service.lab_id):
        raise PermissionDenied(_("Only the lab's managers change its testing settings."))
    problems: list[Problem] = []
    if retention is None or not 0 <= retention <= 3650:
        problems.append(Problem("invalid_retention", _(
            "The retention period is a whole number of days from 0 to 3650."),
            field="retention_days"))
    wanted = list(dict.fromkeys(m.strip() for m in methods if m.strip()))
    if any(len(method) > MAX_NAME for method in wanted):
        problems.append(Problem("too_long_text", _("At most %(n)d characters.", n=MAX_NAME),
                                field="methods"))
    cleaned = []
    for index, item in enumerate(items):
        at = f"items[{index}]"
        name_zh = _text(problems, item.name_zh, f"{at}.name_zh", MAX_NAME, required=True)
        name_en = _text(problems, item.name_en, f"{at}.name_en", MAX_NAME) or name_zh
        unit = _text(problems, item.unit, f"{at}.unit", 50, required=True)
        lower = _limit(problems, item.lower_limit, f"{at}.lower_limit")
        upper = _limit(problems, item.upper_limit, f"{at}.upper_limit")
        if lower is not None and upper is not None and Decimal(lower) > Decimal(upper):
            problems.append(Problem("invalid_limit", _(
                "The lower limit is above the upper limit."), field=f"{at}.lower_limit"))
        cleaned.append(ServiceTestItem(service_id=service.id, position=index + 1,
                                       name_zh=name_zh, name_en=name_en, unit=unit,
                                       lower_limit=lower, upper_limit=upper))
    if len({item.name_zh for item in cleaned}) < len(cleaned):
        problems.append(Problem("duplicate_item", _("Each test item is named once."),
                                field="items"))
    _refuse(problems)
    assert retention is not None
    session.execute(delete(ServiceMethod).where(ServiceMethod.service_id == service.id))
    session.execute(delete(ServiceTestItem).where(ServiceTestItem.service_id == service.id))
    session.add_all([ServiceMethod(service_id=service.id, method=method) for method in wanted
                     if method != service.standard])
    session.add_all(cleaned)
    settings = session.get(ServiceTestSettings, service.id, with_for_update=True)
    if settings is None:
        settings = ServiceTestSettings(service_id=service.id)
        session.add(settings)
    settings.retention_days = retention
    session.flush()
    record(session, actor, service, "testing_settings", at=now, methods=wanted,
           retention_days=retention, items=[item.name_zh for item in cleaned])


# -- staff capabilities --------------------------------------------------------------------------


def capabilities(session: Session, user: User, lab_id: int) -> set[Capability]:
    return set(session.scalars(select(LabStaff.capability).where(
        LabStaff.lab_id == lab_id, LabStaff.user_id == user.id)))


def holds(session: Session, user: User, lab_id: int, capability: Capability) -> bool:
    return session.scalar(select(LabStaff.id).where(
        LabStaff.lab_id == lab_id, LabStaff.user_id == user.id,
        LabStaff.capability == capability)) is not None


def is_lab_staff(session: Session, user: User, lab_id: int) -> bool:
    """The lab's managers (and admins) and whoever holds a capability in its testing work."""
    return user.manages_lab_id(lab_id) or session.scalar(select(LabStaff.id).where(
        LabStaff.lab_id == lab_id, LabStaff.user_id == user.id).limit(1)) is not None


def works_in_testing(session: Session, user: User) -> bool:
    """Whether ``user`` holds a capability in any lab's testing work: the lab's testing queue
    is their place of work even when they manage no lab."""
    return session.scalar(select(LabStaff.id).where(LabStaff.user_id == user.id).limit(1)) \
        is not None


def staff_of(session: Session, lab_id: int, capability: Capability) -> list[User]:
    return list(session.scalars(select(User).join(LabStaff, LabStaff.user_id == User.id)
                                .where(LabStaff.lab_id == lab_id,
                                       LabStaff.capability == capability,
                                       User.is_active.is_(True))
                                .order_by(User.name, User.id)))


def lab_staff_table(session: Session, lab: Lab) -> list[tuple[User, set[Capability]]]:
    """Everyone holding a capability in ``lab``, with what they hold."""
    rows = session.execute(select(User, LabStaff.capability)
                           .join(LabStaff, LabStaff.user_id == User.id)
                           .where(LabStaff.lab_id == lab.id)
                           .order_by(User.name, User.id)).all()
    table: dict[int, tuple[User, set[Capability]]] = {}
    for user, capability in rows:
        table.setdefault(user.id, (user, set()))[1].add(capability)
    return list(table.values())


def set_capabilities(session: Session, actor: User, lab: Lab, user: User,
                     wanted: set[Capability], *, now: dt.datetime) -> set[Capability]:
    """Give ``user`` exactly the ``wanted`` capabilities in ``lab`` (its managers decide)."""
    if not actor.manages(lab):
        raise PermissionDenied(_("Only the lab's managers decide who does its testing work."))
    if not user.is_active:
        message = _("%(name)s's account is not active.", name=user.name)
        raise ValidationError(message, code="inactive_user",
                              problems=[Problem("inactive_user", message, field="user_id")])
    before = capabilities(session, user, lab.id)
    session.execute(delete(LabStaff).where(LabStaff.lab_id == lab.id, LabStaff.user_id == user.id,
                                           LabStaff.capability.notin_(wanted)))
    for capability in sorted(wanted - before):
        session.add(LabStaff(lab_id=lab.id, user_id=user.id, capability=capability,
                             granted_by_id=actor.id, granted_at=now))
    session.flush()
    record(session, actor, user, "testing_capabilities", at=now, lab=lab.code,
           before=sorted(c.value for c in before), after=sorted(c.value for c in wanted))
    return wanted


# -- submitting ---------------------------------------------------------------------------------


def check_submission(session: Session, actor: User, order_input: OrderInput, *,
                     now: dt.datetime, expected_total: Decimal | None = None) -> OrderQuote:
    """Every check ``submit`` makes of the order, and its price; changes nothing (the order
    page says again after its redirect why an order was refused)."""
    priced = quote_order(session, actor, order_input)
    receivables.refuse_if_overdue(session, priced.organization.id, now)
    if expected_total is not None and expected_total != priced.total:
        raise QuoteChanged(priced, expected_total)
    if order_input.terms_confirmed is not True:
        message = _("Confirm the lab's terms to submit the order.")
        raise ValidationError(message, code="terms_not_confirmed",
                              problems=[Problem("terms_not_confirmed", message,
                                                field="terms_confirmed")])
    return priced


def submit(session: Session, actor: User, order_input: OrderInput, *, now: dt.datetime,
           expected_total: Decimal | None = None) -> Order:
    """Place the order at today's prices; the customer confirms the lab's terms with it.

    ``expected_total`` is the total the customer was shown; when given, the order is placed
    only at that total (``QuoteChanged`` otherwise).
    """
    priced = check_submission(session, actor, order_input, now=now,
                              expected_total=expected_total)
    language = order_input.report_language.value
    order = Order(
        number=numbers.order_number(session, priced.lab.code, to_lab_time(now).year),
        lab_id=priced.lab.id, organization_id=priced.organization.id, requester_id=actor.id,
        state=OrderState.SUBMITTED, remains=order_input.remains,
        report_language=order_input.report_language, notes=(order_input.notes or "").strip(),
        contact_name=actor.name, contact_phone=(order_input.contact_phone or "").strip(),
        contact_email=actor.email, tier=priced.organization.tier, quoted_total=priced.total,
        terms=terms_text(session, priced.lab, language), confirmed_at=now,
        created_at=now, updated_at=now)
    for position, line in enumerate(priced.lines, start=1):
        order_line = OrderLine(
            position=position, service=line.service, method=line.method,
            is_express=line.price.is_express, state=LineState.WAITING,
            unit_price=line.price.unit_price,
            express_surcharge_percent=line.price.express_surcharge_percent,
            express_surcharge=line.price.express_surcharge, total=line.price.total)
        order_line.samples = [
            Sample(position=index, name=sample.name.strip(), batch=sample.batch.strip(),
                   specification=sample.specification.strip(),
                   quantity=sample.quantity.strip(), condition=sample.condition.strip(),
                   hazards=sample.hazards.strip())
            for index, sample in enumerate(line.samples, start=1)]
        order.lines.append(order_line)
    session.add(order)
    session.flush()
    record(session, actor, order, "submit", at=now, to_state=OrderState.SUBMITTED.value,
           number=order.number, quoted_total=str(order.quoted_total))
    notices.order_submitted(session, order, staff=lab_recipients(session, order.lab),
                            now=now)
    return order


def lab_recipients(session: Session, lab: Lab) -> list[User]:
    """Who hears of a new order: the lab's managers (or the admins while it has none)."""
    return notices.lab_staff(session, lab)


# -- who may see what ---------------------------------------------------------------------------


def can_view(session: Session, actor: User, order: Order) -> bool:
    """The requester, their organization's billing contact, and the lab's staff."""
    return (order.requester_id == actor.id
            or order.organization.billing_contact_id == actor.id
            or is_lab_staff(session, actor, order.lab_id))


def is_customer(actor: User, order: Order) -> bool:
    return order.requester_id == actor.id or order.organization.billing_contact_id == actor.id


ORDER_LOADS = (
    selectinload(Order.lines).options(
        selectinload(OrderLine.service).selectinload(TestingService.lab),
        selectinload(OrderLine.analyst),
        selectinload(OrderLine.samples).selectinload(Sample.results)),
    selectinload(Order.lab), selectinload(Order.organization), selectinload(Order.requester),
    selectinload(Order.reports), selectinload(Order.attachments),
)


def get_order(session: Session, actor: User, order_id: int) -> Order:
    """The order, if ``actor`` may see it; others' orders are simply not found."""
    order = session.get(Order, order_id, options=ORDER_LOADS)
    if order is None or not can_view(session, actor, order):
        raise NotFound(_("No order with id %(id)d.", id=order_id))
    return order


def require_staff(session: Session, actor: User, order: Order) -> None:
    if not is_lab_staff(session, actor, order.lab_id):
        if can_view(session, actor, order):
            raise PermissionDenied(_("Only the lab's staff handle orders."))
        raise NotFound(_("No order with id %(id)d.", id=order.id))


def require_manager(session: Session, actor: User, order: Order) -> None:
    if not actor.manages_lab_id(order.lab_id):
        if can_view(session, actor, order):
            raise PermissionDenied(_("Only the lab's managers may do this."))
        raise NotFound(_("No order with id %(id)d.", id=order.id))


def invalid_order_state(order: Order) -> Conflict:
    return Conflict(_("An order that is “%(state)s” cannot be changed this way.",
                      state=ORDER_STATE_LABELS[order.state]), code="invalid_state")


def invalid_line_state(line: OrderLine) -> Conflict:
    return Conflict(_("A line that is “%(state)s” cannot be changed this way.",
                      state=LINE_STATE_LABELS[line.state]), code="invalid_state")


def clean_note(note: str | None, *, required: bool, name: str = "note",
               message: str | None = None) -> str:
    text = (note or "").strip()
    if required and not text:
        message = message or _("This field is required.")
        raise ValidationError(message, code="required",
                              problems=[Problem("required", message, field=name)])
    if len(text) > MAX_NOTE:
        message = _("At most %(n)d characters.", n=MAX_NOTE)
        raise ValidationError(message, code="too_long_text",
                              problems=[Problem("too_long_text", message, field=name)])
    return text


def cancel(session: Session, actor: User, order: Order, *, now: dt.datetime,
           note: str = "") -> Order:
    """The customer or the lab's staff cancel an order whose samples have not been received."""
    lock(session, order)
    if not can_view(session, actor, order):
        raise NotFound(_("No order with id %(id)d.", id=order.id))
    note = clean_note(note, required=False)
    if order.state != OrderState.SUBMITTED:
        raise invalid_order_state(order)
    order.state = OrderState.CANCELLED
    order.cancelled_at = now
    order.updated_at = now
    for line in order.lines:
        line.state = LineState.CANCELLED
    record(session, actor, order, "cancel", at=now, from_state=OrderState.SUBMITTED.value,
           to_state=OrderState.CANCELLED.value, note=note)
    notices.order_changed(session, order, "cancelled", actor=actor, now=now)
    return order


# -- lists --------------------------------------------------------------------------------------


def my_orders(actor: User) -> Select[tuple[Order]]:
    """The orders ``actor`` placed or pays for as their organization's billing contact, with
    what their list shows of each (lab, lines and their services, reports) loaded alongside:
    a statement per kind of row rather than several per order."""
    return (select(Order)
            .join(Organization, Organization.id == Order.organization_id)
            .where(or_(Order.requester_id == actor.id,
                       Organization.billing_contact_id == actor.id))
            .options(selectinload(Order.lab),
                     selectinload(Order.lines).selectinload(OrderLine.service),
                     selectinload(Order.reports))
            .order_by(Order.created_at.desc(), Order.id.desc()))


def staff_labs(session: Session, actor: User, labs: Sequence[Lab]) -> list[Lab]:
    return [lab for lab in labs if is_lab_staff(session, actor, lab.id)]


def lab_orders(lab_ids: Sequence[int], states: Sequence[OrderState] | None = None
               ) -> Select[tuple[Order]]:
    query = select(Order).where(Order.lab_id.in_(lab_ids))
    if states:
        query = query.where(Order.state.in_(states))
    return query.order_by(Order.created_at.desc(), Order.id.desc())


@dataclass(frozen=True)
class QueueLine:
    line: OrderLine
    is_overdue: bool


def line_queue(session: Session, lab_ids: Sequence[int], *, now: dt.datetime
               ) -> list[QueueLine]:
    """The lines the labs still work on, the most urgent first; a line whose due date (in
    working days from intake) has passed is flagged."""
    today = to_lab_time(now).date()
    lines = session.scalars(
        select(OrderLine).join(Order)
        .where(Order.lab_id.in_(lab_ids),
               OrderLine.state.in_((LineState.RECEIVED, LineState.IN_PROGRESS)))
        .options(selectinload(OrderLine.order).selectinload(Order.organization),
                 selectinload(OrderLine.service), selectinload(OrderLine.analyst),
                 selectinload(OrderLine.samples))
        .order_by(OrderLine.due_date, OrderLine.id)).all()
    return [QueueLine(line, line.due_date is not None and line.due_date < today)
            for line in lines]


def orders_awaiting_intake(session: Session, lab_ids: Sequence[int]) -> list[Order]:
    return list(session.scalars(
        select(Order).where(Order.lab_id.in_(lab_ids), Order.state == OrderState.SUBMITTED)
        .options(selectinload(Order.organization), selectinload(Order.lines))
        .order_by(Order.created_at, Order.id)))


def overdue_lines(session: Session, *, now: dt.datetime) -> list[OrderLine]:
    today = to_lab_time(now).date()
    return list(session.scalars(
        select(OrderLine).where(and_(OrderLine.state.in_((LineState.RECEIVED,
                                                          LineState.IN_PROGRESS)),
                                     OrderLine.due_date < today))
        .order_by(OrderLine.due_date, OrderLine.id)))
