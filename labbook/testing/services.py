"""Testing-service requests: quotes, submission, the lab's decisions, reports.

Every function takes the acting user and the current time and never reads the request.

The price is ``labbook.billing.pricing.quote``, for the requesting organization's tier. The
quote is fixed when the request is submitted; later price changes do not alter it.

Due date: set when the lab accepts. The default is today (lab time) plus the service's
turnaround in working days of the lab (``labbook.holidays.services.add_working_days``: Monday to
Friday, less the public holidays the lab closes on, plus the make-up days it opens on); express
halves the turnaround, rounded up (5 days → 3). A manager may give another due date, not before
today.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session

from labbook.accounts.models import Organization, User
from labbook.audit.services import record
from labbook.billing import services as billing
from labbook.billing.pricing import Quote, quote
from labbook.catalogue.models import Lab, TestingService
from labbook.core.engine import lock, write_transaction
from labbook.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    Problem,
    ValidationError,
)
from labbook.core.time import to_lab_time
from labbook.holidays.services import add_working_days
from labbook.notify import services as notify
from labbook.testing.labels import STATE_LABELS
from labbook.testing.models import (
    MAX_SAMPLES,
    MIN_SAMPLES,
    ServiceRequest,
    ServiceRequestState,
)

MAX_DESCRIPTION = 2000
MAX_NOTES = 2000
MAX_NOTE = 1000
PDF_MAGIC = b"%PDF-"


class ReportTooLarge(DomainError):
    status = 413
    code = "report_too_large"


# -- prices ------------------------------------------------------------------------------------


def offers_express(service: TestingService) -> bool:
    return service.express_surcharge_percent > 0


def check_input(service: TestingService, *, samples: int | None, sample_description: str | None,
                express: bool, notes: str | None) -> list[Problem]:
    """Every problem with what a requester entered (all at once)."""
    problems = []
    if samples is None or isinstance(samples, bool) or not isinstance(samples, int) \
            or not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        problems.append(Problem("invalid_samples", _(
            "The number of samples must be a whole number from %(min)d to %(max)d.",
            min=MIN_SAMPLES, max=MAX_SAMPLES), field="samples"))
    description = (sample_description or "").strip()
    if not description:
        problems.append(Problem("required", _("Describe the samples."),
                                field="sample_description"))
    elif len(description) > MAX_DESCRIPTION:
        problems.append(Problem("too_long_text", _("At most %(n)d characters.",
                                                   n=MAX_DESCRIPTION),
                                field="sample_description"))
    if len((notes or "").strip()) > MAX_NOTES:
        problems.append(Problem("too_long_text", _("At most %(n)d characters.", n=MAX_NOTES),
                                field="notes"))
    if express and not offers_express(service):
        problems.append(Problem("express_not_offered", _(
            "This testing service has no express option."), field="express"))
    return problems


def _refuse(problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(problems[0].message, code=problems[0].code, problems=problems)


def requesting_organization(actor: User) -> Organization:
    """The organization that pays for ``actor``'s requests, if it may request at all."""
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


def quote_for(actor: User, service: TestingService, *, samples: int | None,
              sample_description: str | None, express: bool,
              notes: str | None = "") -> Quote:
    """Check a request as ``actor`` would submit it and price it; changes nothing."""
    _refuse(check_input(service, samples=samples, sample_description=sample_description,
                        express=express, notes=notes))
    if not service.is_active:
        raise Conflict(_("This testing service is not offered at the moment."),
                       code="service_inactive")
    organization = requesting_organization(actor)
    assert samples is not None
    return quote(service, organization.tier, samples, express)


# -- submitting -------------------------------------------------------------------------------


def submit(session: Session, actor: User, service: TestingService, *, samples: int | None,
           sample_description: str | None, express: bool, notes: str | None = "",
           now: dt.datetime) -> ServiceRequest:
    """Request ``service`` for ``actor``'s organization at today's price (the quote)."""
    priced = quote_for(actor, service, samples=samples, sample_description=sample_description,
                       express=express, notes=notes)
    organization = requesting_organization(actor)
    service_request = ServiceRequest(
        service=service, requester=actor, organization=organization, samples=priced.samples,
        sample_description=(sample_description or "").strip(), is_express=express,
        notes=(notes or "").strip(), state=ServiceRequestState.SUBMITTED, tier=priced.tier,
        quoted_unit_price=priced.unit_price,
        express_surcharge_percent=priced.express_surcharge_percent,
        quoted_express_surcharge=priced.express_surcharge, quoted_total=priced.total,
        decision_note="", created_at=now, updated_at=now)
    session.add(service_request)
    session.flush()
    record(session, actor, service_request, "submit", at=now,
           to_state=ServiceRequestState.SUBMITTED.value, quoted_total=str(priced.total))
    notify.service_request_submitted(session, service_request, now=now)
    return service_request


# -- who may see and do what ----------------------------------------------------------------------


def is_lab_staff(actor: User, service_request: ServiceRequest) -> bool:
    return actor.manages(service_request.service.lab)


def can_view(actor: User, service_request: ServiceRequest) -> bool:
    """The requester, the paying organization's billing contact, the lab's managers, admins."""
    return (service_request.requester_id == actor.id
            or service_request.organization.billing_contact_id == actor.id
            or is_lab_staff(actor, service_request))


def can_download_report(actor: User, service_request: ServiceRequest) -> bool:
    """Anyone of the requesting organization, and the lab's managers and admins."""
    return (actor.organization_id == service_request.organization_id
            or service_request.organization.billing_contact_id == actor.id
            or is_lab_staff(actor, service_request))


def can_cancel(actor: User, service_request: ServiceRequest) -> bool:
    if not service_request.can_become(ServiceRequestState.CANCELLED):
        return False
    return service_request.requester_id == actor.id or is_lab_staff(actor, service_request)


def can_decide(actor: User, service_request: ServiceRequest) -> bool:
    return is_lab_staff(actor, service_request)


def get_request(session: Session, actor: User, request_id: int) -> ServiceRequest:
    """The request, if ``actor`` may see it; others' requests are simply not found."""
    service_request = session.get(ServiceRequest, request_id)
    if service_request is None or not can_view(actor, service_request):
        raise NotFound(_("No service request with id %(id)d.", id=request_id))
    return service_request


def get_request_for_report(session: Session, actor: User, request_id: int) -> ServiceRequest:
    service_request = session.get(ServiceRequest, request_id)
    if service_request is None or not can_download_report(actor, service_request) \
            or not service_request.has_report:
        raise NotFound(_("No report for service request %(id)d.", id=request_id))
    return service_request


# -- the lab's work ---------------------------------------------------------------------------
#
# Each change reads the request afresh under a row lock before it decides anything, so that of
# two changes at the same moment (accept and cancel, complete and cancel) the second sees what
# the first did and, if it no longer applies, is refused with 409 invalid_state.


def _transition(session: Session, actor: User, service_request: ServiceRequest,
                to: ServiceRequestState, action: str, *, now: dt.datetime, note: str = "",
                **details) -> None:
    if not service_request.can_become(to):
        raise Conflict(_("A service request that is “%(state)s” cannot become “%(to)s”.",
                         state=STATE_LABELS[service_request.state], to=STATE_LABELS[to]),
                       code="invalid_state")
    before = service_request.state
    service_request.state = to
    service_request.updated_at = now
    record(session, actor, service_request, action, at=now, from_state=before.value,
           to_state=to.value, note=note, **details)


def _require_lab(actor: User, service_request: ServiceRequest) -> None:
    if not can_decide(actor, service_request):
        if can_view(actor, service_request):
            raise PermissionDenied(_("Only the lab's managers handle service requests."))
        raise NotFound(_("No service request with id %(id)d.", id=service_request.id))


def _clean_note(note: str | None, *, required: bool, limit: int = MAX_NOTE) -> str:
    text = (note or "").strip()
    if required and not text:
        message = _("Say why the request is rejected.")
        raise ValidationError(message, code="required",
                              problems=[Problem("required", message, field="note")])
    if len(text) > limit:
        message = _("At most %(n)d characters.", n=limit)
        raise ValidationError(message, code="too_long_text",
                              problems=[Problem("too_long_text", message, field="note")])
    return text


def turnaround_working_days(service: TestingService, express: bool) -> int:
    days = service.turnaround_days
    return math.ceil(days / 2) if express else days


def default_due_date(session: Session, service_request: ServiceRequest, *,
                     now: dt.datetime) -> dt.date:
    today = to_lab_time(now).date()
    return add_working_days(session, service_request.service.lab_id, today,
                            turnaround_working_days(service_request.service,
                                                    service_request.is_express))


def accept(session: Session, actor: User, service_request: ServiceRequest, *,
           now: dt.datetime, due_date: dt.date | None = None, note: str = "") -> ServiceRequest:
    lock(session, service_request)
    _require_lab(actor, service_request)
    note = _clean_note(note, required=False)
    today = to_lab_time(now).date()
    if due_date is not None and due_date < today:
        message = _("The due date cannot be before today.")
        raise ValidationError(message, code="invalid_due_date",
                              problems=[Problem("invalid_due_date", message, field="due_date")])
    due = due_date or default_due_date(session, service_request, now=now)
    _transition(session, actor, service_request, ServiceRequestState.ACCEPTED, "accept",
                now=now, note=note, due_date=due.isoformat())
    service_request.due_date = due
    service_request.decided_by = actor
    service_request.decided_at = now
    service_request.decision_note = note
    notify.service_request_changed(session, service_request, actor, now=now)
    return service_request


def reject(session: Session, actor: User, service_request: ServiceRequest, *,
           now: dt.datetime, note: str | None) -> ServiceRequest:
    lock(session, service_request)
    _require_lab(actor, service_request)
    note = _clean_note(note, required=True)
    _transition(session, actor, service_request, ServiceRequestState.REJECTED, "reject",
                now=now, note=note)
    service_request.decided_by = actor
    service_request.decided_at = now
    service_request.decision_note = note
    notify.service_request_changed(session, service_request, actor, now=now)
    return service_request


def start(session: Session, actor: User, service_request: ServiceRequest, *,
          now: dt.datetime) -> ServiceRequest:
    lock(session, service_request)
    _require_lab(actor, service_request)
    _transition(session, actor, service_request, ServiceRequestState.IN_PROGRESS, "start",
                now=now)
    service_request.started_at = now
    notify.service_request_changed(session, service_request, actor, now=now)
    return service_request


def cancel(session: Session, actor: User, service_request: ServiceRequest, *,
           now: dt.datetime, note: str = "") -> ServiceRequest:
    """The requester (while submitted or accepted) or the lab's managers cancel."""
    lock(session, service_request)
    if not can_view(actor, service_request):
        raise NotFound(_("No service request with id %(id)d.", id=service_request.id))
    if service_request.requester_id != actor.id and not is_lab_staff(actor, service_request):
        raise PermissionDenied(_("Only the requester or the lab's managers may cancel."))
    note = _clean_note(note, required=False)
    _transition(session, actor, service_request, ServiceRequestState.CANCELLED, "cancel",
                now=now, note=note)
    service_request.cancelled_at = now
    service_request.cancelled_by = actor
    notify.service_request_changed(session, service_request, actor, now=now)
    return service_request


# -- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportUpload:
    filename: str
    data: bytes


def check_report(upload: ReportUpload, *, max_bytes: int) -> None:
    """Refuse anything but a PDF of at most ``max_bytes``."""
    if len(upload.data) > max_bytes:
        message = _("The report is larger than %(mb)d MB.", mb=max_bytes // (1024 * 1024) or 1)
        raise ReportTooLarge(message, problems=[Problem("report_too_large", message,
                                                        field="report")])
    if not upload.data.startswith(PDF_MAGIC):
        message = _("The report must be a PDF file.")
        raise ValidationError(message, code="not_a_pdf",
                              problems=[Problem("not_a_pdf", message, field="report")])


def _safe_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"')[:255]
    return name or "report.pdf"


def complete_in_one_write(session: Session, actor: User, request_id: int, *,
                          now: dt.datetime, report: ReportUpload | None, report_dir: str | Path,
                          max_bytes: int) -> ServiceRequest:
    """Complete request ``request_id`` in a write transaction of its own, for a page or the API
    alike; a report file written for a write that then fails is removed again."""
    written: list[Path] = []
    try:
        with write_transaction(session):
            item = get_request(session, actor, request_id)
            path = complete(session, actor, item, now=now, report=report,
                            report_dir=report_dir, max_bytes=max_bytes)
            if path is not None:
                written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return item


def complete(session: Session, actor: User, service_request: ServiceRequest, *,
             now: dt.datetime, report: ReportUpload | None = None, report_dir: str | Path,
             max_bytes: int) -> Path | None:
    """Mark the work done, keeping the report PDF if one is given.

    Returns the file written (so that the caller can remove it if the transaction fails).
    """
    lock(session, service_request)
    _require_lab(actor, service_request)
    if report is not None:
        check_report(report, max_bytes=max_bytes)
    _transition(session, actor, service_request, ServiceRequestState.COMPLETED, "complete",
                now=now, report=report is not None)
    service_request.completed_at = now
    billing.charge_service_request(session, service_request, now=now)
    notify.service_request_changed(session, service_request, actor, now=now)
    if report is None:
        return None
    directory = Path(report_dir)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{service_request.id}-{secrets.token_hex(12)}.pdf"
    path = directory / name
    path.write_bytes(report.data)
    service_request.report_path = name
    service_request.report_filename = _safe_filename(report.filename)
    service_request.report_size = len(report.data)
    service_request.report_sha256 = hashlib.sha256(report.data).hexdigest()
    service_request.report_uploaded_at = now
    return path


def report_file(service_request: ServiceRequest, report_dir: str | Path) -> Path:
    assert service_request.report_path is not None
    return Path(report_dir) / service_request.report_path


# -- lists ------------------------------------------------------------------------------------


#: The requests a lab still has to work on: its queue shows these unless asked for others.
OPEN_STATES = (ServiceRequestState.SUBMITTED, ServiceRequestState.ACCEPTED,
               ServiceRequestState.IN_PROGRESS)


def visible_requests(actor: User, *, labs: Sequence[Lab] | None = None,
                     states: Collection[ServiceRequestState] | None = None
                     ) -> Select[tuple[ServiceRequest]]:
    """A query of the requests ``actor`` may list, newest first, in one of ``states`` (any when
    None): without ``labs`` their own requests; with ``labs`` every request of those they
    manage and their own in the others."""
    query = select(ServiceRequest).order_by(ServiceRequest.created_at.desc(),
                                            ServiceRequest.id.desc())
    if states is not None:
        query = query.where(ServiceRequest.state.in_(states))
    own = ServiceRequest.requester_id == actor.id
    if labs is None:
        return query.where(own)
    managed = [lab.id for lab in labs if actor.manages(lab)]
    others = [lab.id for lab in labs if not actor.manages(lab)]
    return query.join(ServiceRequest.service).where(or_(
        TestingService.lab_id.in_(managed) if managed else false(),
        and_(TestingService.lab_id.in_(others), own) if others else false()))


def request_queue(session: Session, actor: User, labs: Sequence[Lab],
                  states: Collection[ServiceRequestState] | None = None
                  ) -> list[ServiceRequest]:
    """The work list of the ``labs`` that ``actor`` manages: their requests in ``states``,
    oldest first."""
    managed = [lab for lab in labs if actor.manages(lab)]
    if not managed:
        return []
    query = visible_requests(actor, labs=managed, states=states)
    return list(session.scalars(query.order_by(None).order_by(ServiceRequest.created_at,
                                                              ServiceRequest.id)))
