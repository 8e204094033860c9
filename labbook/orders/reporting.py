"""Test reports (检测报告): prepared (编制), reviewed (审核) and approved (批准) by three
different people of the lab who hold those capabilities, then issued as a PDF that never
changes; amendments (更正报告) and the public verification (报告真伪查询).

Nobody reviews or approves a report they prepared, nor approves one they reviewed; a report
moves only forwards (a second approval finds it issued and is refused). Approval renders the
PDF, keeps it with its SHA-256 and, for an amendment, marks the report it replaces superseded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import User
from labbook.audit.services import record
from labbook.core.engine import lock
from labbook.core.errors import Conflict, NotFound, PermissionDenied, Problem, ValidationError
from labbook.core.time import to_lab_time
from labbook.documents.labels import render_sample_labels
from labbook.documents.model import (
    AgreementDocument,
    AgreementLine,
    ReportDocument,
    ReportSample,
    ResultRow,
    SampleLabel,
    Signature,
)
from labbook.documents.report import render_report
from labbook.i18n import localized
from labbook.orders import notices, numbers, retention
from labbook.orders.labels import REPORT_STATE_LABELS
from labbook.orders.models import (
    Capability,
    LineState,
    Order,
    OrderState,
    Report,
    ReportState,
)
from labbook.orders.services import (
    clean_note,
    holds,
    invalid_order_state,
    lab_settings,
    require_manager,
    require_staff,
)

MAX_CONCLUSION = 4000


def verification_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{code}"


def get_report(order: Order, report_id: int) -> Report:
    for report in order.reports:
        if report.id == report_id:
            return report
    raise NotFound(_("No report %(id)d in this order.", id=report_id))


def current_report(order: Order) -> Report | None:
    """The order's newest report that is neither superseded nor withdrawn."""
    live = [r for r in order.reports if r.state not in (ReportState.SUPERSEDED,
                                                         ReportState.WITHDRAWN)]
    return live[-1] if live else None


def invalid_report_state(report: Report) -> Conflict:
    return Conflict(_("A report that is “%(state)s” cannot be changed this way.",
                      state=REPORT_STATE_LABELS[report.state]), code="invalid_state")


def _require_capability(session: Session, actor: User, order: Order,
                        capability: Capability) -> None:
    require_staff(session, actor, order)
    if not holds(session, actor, order.lab_id, capability):
        messages = {
            Capability.ANALYST: _("Only the lab's analysts prepare reports."),
            Capability.REVIEWER: _("Only the lab's reviewers review reports."),
            Capability.SIGNATORY: _("Only the lab's authorised signatories approve reports."),
        }
        raise PermissionDenied(messages[capability], code="missing_capability")


def _clean_conclusion(text: str | None) -> str:
    conclusion = (text or "").strip()
    if not conclusion:
        message = _("Write the report's conclusion.")
        raise ValidationError(message, code="required",
                              problems=[Problem("required", message, field="conclusion")])
    if len(conclusion) > MAX_CONCLUSION:
        message = _("At most %(n)d characters.", n=MAX_CONCLUSION)
        raise ValidationError(message, code="too_long_text",
                              problems=[Problem("too_long_text", message, field="conclusion")])
    return conclusion


def _new_report(session: Session, actor: User, order: Order, conclusion: str, *,
                now: dt.datetime, replaces: Report | None = None, reason: str = "") -> Report:
    report = Report(order_id=order.id,
                    number=numbers.report_number(session, order.lab.code,
                                                 to_lab_time(now).year),
                    replaces_id=replaces.id if replaces else None, state=ReportState.PREPARED,
                    language=order.report_language, conclusion=conclusion,
                    amendment_reason=reason, verification_code=secrets.token_hex(8),
                    prepared_by_id=actor.id, prepared_at=now)
    session.add(report)
    session.flush()
    order.reports.append(report)
    return report


def prepare(session: Session, actor: User, order: Order, *, conclusion: str | None,
            now: dt.datetime) -> Report:
    """An analyst drafts the report of a completed order (编制)."""
    lock(session, order)
    _require_capability(session, actor, order, Capability.ANALYST)
    if order.state != OrderState.COMPLETED:
        raise invalid_order_state(order)
    if order.reports:
        message = _("This order has a report already; amend it instead.")
        raise Conflict(message, code="report_exists")
    report = _new_report(session, actor, order, _clean_conclusion(conclusion), now=now)
    record(session, actor, report, "prepare", at=now, to_state=ReportState.PREPARED.value,
           number=report.number)
    return report


def amend(session: Session, actor: User, order: Order, report_id: int, *,
          conclusion: str | None, reason: str | None, now: dt.datetime) -> Report:
    """An analyst drafts an amended report (更正报告) replacing an issued one."""
    lock(session, order)
    _require_capability(session, actor, order, Capability.ANALYST)
    report = get_report(order, report_id)
    if report.state != ReportState.ISSUED or any(r.replaces_id == report.id
                                                 for r in order.reports):
        raise invalid_report_state(report)
    reason = clean_note(reason, required=True, name="reason",
                        message=_("Say what the amendment corrects."))
    amended = _new_report(session, actor, order, _clean_conclusion(conclusion), now=now,
                          replaces=report, reason=reason)
    record(session, actor, amended, "prepare", at=now, to_state=ReportState.PREPARED.value,
           number=amended.number, replaces=report.number, note=reason)
    return amended


def review(session: Session, actor: User, order: Order, report_id: int, *,
           now: dt.datetime) -> Report:
    """A reviewer other than the preparer reviews the report (审核)."""
    lock(session, order)
    report = get_report(order, report_id)
    _require_capability(session, actor, order, Capability.REVIEWER)
    if report.state != ReportState.PREPARED:
        raise invalid_report_state(report)
    if report.prepared_by_id == actor.id:
        raise PermissionDenied(_("You prepared this report: someone else must review it."),
                               code="own_report")
    report.state = ReportState.REVIEWED
    report.reviewed_by_id = actor.id
    report.reviewed_at = now
    record(session, actor, report, "review", at=now, from_state=ReportState.PREPARED.value,
           to_state=ReportState.REVIEWED.value)
    return report


@dataclass(frozen=True)
class Issued:
    report: Report
    path: Path


def approve(session: Session, actor: User, order: Order, report_id: int, *, base_url: str,
            report_dir: str | Path, now: dt.datetime) -> Issued:
    """An authorised signatory who neither prepared nor reviewed the report approves it (批准):
    the PDF is rendered and kept with its SHA-256, and the report is issued. The caller removes
    the returned file if its transaction fails."""
    lock(session, order)
    report = get_report(order, report_id)
    _require_capability(session, actor, order, Capability.SIGNATORY)
    if report.state != ReportState.REVIEWED:
        raise invalid_report_state(report)
    if actor.id in (report.prepared_by_id, report.reviewed_by_id):
        raise PermissionDenied(_("You prepared or reviewed this report: another authorised "
                                 "signatory must approve it."), code="own_report")
    report.state = ReportState.ISSUED
    report.approved_by_id = actor.id
    report.approved_at = now
    report.issued_on = to_lab_time(now).date()
    session.flush()
    session.refresh(report)
    pdf = render_report(report_document(session, report, base_url=base_url))
    folder = Path(report_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"report-{report.id}-{secrets.token_hex(12)}.pdf"
    path = folder / name
    path.write_bytes(pdf)
    report.pdf_path = name
    report.sha256 = hashlib.sha256(pdf).hexdigest()
    record(session, actor, report, "approve", at=now, from_state=ReportState.REVIEWED.value,
           to_state=ReportState.ISSUED.value, sha256=report.sha256)
    retention.start_retention(session, report)
    if report.replaces is not None:
        replaced = report.replaces
        replaced.state = ReportState.SUPERSEDED
        record(session, actor, replaced, "supersede", at=now,
               from_state=ReportState.ISSUED.value, to_state=ReportState.SUPERSEDED.value,
               superseded_by=report.number)
    notices.report_issued(session, order, report, now=now)
    return Issued(report, path)


def withdraw(session: Session, actor: User, order: Order, report_id: int, *,
             reason: str | None, now: dt.datetime) -> Report:
    """The lab's managers withdraw an issued report; it then verifies as withdrawn."""
    lock(session, order)
    require_manager(session, actor, order)
    report = get_report(order, report_id)
    if report.state != ReportState.ISSUED:
        raise invalid_report_state(report)
    report.withdrawal_reason = clean_note(reason, required=True, name="reason",
                                          message=_("Say why the report is withdrawn."))
    report.state = ReportState.WITHDRAWN
    report.withdrawn_at = now
    record(session, actor, report, "withdraw", at=now, from_state=ReportState.ISSUED.value,
           to_state=ReportState.WITHDRAWN.value, note=report.withdrawal_reason)
    notices.report_withdrawn(session, order, report, now=now)
    return report


def reports_in_workflow(session: Session, lab_ids: Sequence[int]) -> list[Report]:
    """The labs' reports awaiting review or approval, oldest first."""
    return list(session.scalars(
        select(Report).join(Order)
        .where(Order.lab_id.in_(lab_ids),
               Report.state.in_((ReportState.PREPARED, ReportState.REVIEWED)))
        .options(selectinload(Report.order), selectinload(Report.prepared_by))
        .order_by(Report.prepared_at, Report.id)))


def report_file(report: Report, report_dir: str | Path) -> Path:
    if report.pdf_path is None:
        raise NotFound(_("This report has not been issued."))
    return Path(report_dir) / report.pdf_path


# -- documents ----------------------------------------------------------------------------------


def _signature(user: User | None, at: dt.datetime | None) -> Signature:
    return Signature(name=user.name if user else "", signed_at=at or dt.datetime.min.replace(
        tzinfo=dt.UTC))


def report_document(session: Session, report: Report, *, base_url: str) -> ReportDocument:
    """What the report's PDF prints, in the report's language."""
    order = report.order
    settings = lab_settings(session, order.lab)
    language = report.language.value
    english = language == "en"
    samples, results, methods = [], [], []
    with force_locale(language):
        for line in order.lines:
            if line.state != LineState.COMPLETED:
                continue
            if line.method not in methods:
                methods.append(line.method)
            for sample in line.accepted_samples:
                assert sample.number is not None and sample.received_at is not None
                samples.append(ReportSample(
                    number=sample.number, name=sample.name, batch=sample.batch,
                    specification=sample.specification, quantity=sample.quantity,
                    condition=sample.intake_condition or sample.condition,
                    received_on=to_lab_time(sample.received_at).date()))
                for result in sample.results:
                    if result.method not in methods:
                        methods.append(result.method)
                    results.append(ResultRow(
                        sample_number=sample.number, item=result.item, method=result.method,
                        value=result.value, unit=result.unit, limit=result.limit,
                        conclusion=result.conclusion.value))
    return ReportDocument(
        language=language, report_number=report.number,
        replaces_number=report.replaces.number if report.replaces else None,
        lab_name=order.lab.name_en if english else order.lab.name_zh,
        lab_address=(settings.address_en if english else settings.address_zh)
        or localized(order.lab, "location"),
        lab_phone=settings.phone,
        accreditation_marks=tuple(m for m in settings.accreditation_marks.split(",") if m),
        customer_name=order.organization.name, customer_address="",
        order_number=order.number, samples=tuple(samples), methods=tuple(methods),
        results=tuple(results), conclusion=report.conclusion,
        prepared_by=_signature(report.prepared_by, report.prepared_at),
        reviewed_by=_signature(report.reviewed_by, report.reviewed_at),
        approved_by=_signature(report.approved_by, report.approved_at),
        issued_on=report.issued_on or to_lab_time(report.prepared_at).date(),
        verification_code=report.verification_code,
        verification_url=verification_url(base_url, report.verification_code))


def agreement_document(session: Session, order: Order, language: str) -> AgreementDocument:
    english = language == "en"
    return AgreementDocument(
        language=language, order_number=order.number,
        lab_name=order.lab.name_en if english else order.lab.name_zh,
        customer_name=order.organization.name, contact_name=order.contact_name,
        contact_phone=order.contact_phone, contact_email=order.contact_email,
        lines=tuple(AgreementLine(
            service_code=line.service.code,
            service_name=line.service.name_en if english else line.service.name_zh,
            method=line.method, samples=len(line.samples), express=line.is_express,
            amount=line.total) for line in order.lines),
        total=order.quoted_total, remains=order.remains.value,
        report_language=order.report_language.value, terms=order.terms, notes=order.notes,
        confirmed_at=order.confirmed_at)


def sample_labels_pdf(session: Session, actor: User, order: Order, language: str) -> bytes:
    """The sheet of labels of the order's received samples, for its lab's staff to print."""
    require_staff(session, actor, order)
    labels = sample_labels(order, language)
    if not labels:
        raise NotFound(_("No sample of this order has been received."))
    return render_sample_labels(labels)


def sample_labels(order: Order, language: str) -> list[SampleLabel]:
    lab_name = order.lab.name_en if language == "en" else order.lab.name_zh
    return [SampleLabel(sample_number=sample.number, sample_name=sample.name,
                        order_number=order.number, lab_name=lab_name,
                        received_on=to_lab_time(sample.received_at).date(),
                        qr_payload=sample.number)
            for sample in order.samples
            if sample.is_accepted and sample.number and sample.received_at]


# -- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """All the public learns of a report: nothing about samples, results or people."""

    number: str
    customer: str
    issued_on: dt.date
    status: str          # "valid" | "superseded" | "withdrawn"
    superseded_by: str | None
    sha256: str


def mask_name(name: str) -> str:
    """The customer's name with its middle hidden: "焦作市**科技有限公司" style."""
    name = name.strip()
    if len(name) <= 2:
        return name[:1] + "*"
    keep = max(1, len(name) // 4)
    hidden = len(name) - 2 * keep
    return name[:keep] + "*" * hidden + name[-keep:]


_VERIFY_LOADS = (selectinload(Report.order), selectinload(Report.replaced_by))


def _verification(report: Report | None) -> Verification:
    if report is None or report.sha256 is None or report.issued_on is None:
        raise NotFound(_("No issued report has this verification code."),
                       code="unknown_verification_code")
    status = {ReportState.ISSUED: "valid", ReportState.SUPERSEDED: "superseded",
              ReportState.WITHDRAWN: "withdrawn"}[report.state]
    replacement = report.replaced_by
    return Verification(
        number=report.number, customer=mask_name(report.order.organization.name),
        issued_on=report.issued_on, status=status,
        superseded_by=replacement.number if replacement is not None and
        replacement.state != ReportState.PREPARED and replacement.sha256 else None,
        sha256=report.sha256)


def verify(session: Session, code: str) -> Verification:
    code = (code or "").strip().lower()
    if not code or len(code) > 32:
        return _verification(None)
    return _verification(session.scalar(select(Report).where(Report.verification_code == code)
                                        .options(*_VERIFY_LOADS)))


def verify_number(session: Session, number: str, code: str) -> Verification:
    """The report ``number`` whose verification code is ``code``: both must match."""
    number, code = (number or "").strip().upper(), (code or "").strip().lower()
    if not number or not code or len(number) > 40 or len(code) > 32:
        return _verification(None)
    return _verification(session.scalar(select(Report).where(
        Report.number == number, Report.verification_code == code).options(*_VERIFY_LOADS)))
