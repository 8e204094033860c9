"""Finance's pages: an organization's money (invoicing details, balance, payments, vouchers,
invoices), payments against a statement, receivables by age, invoices, a voucher's history and
the voucher redemption pack; and the public check of a statement by its verification code.

Who may do what is the services' rule: finance is the admins; an organization's billing contact
sees its own money and asks for its invoices. Anything else answers 404, as if it did not
exist.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select
from wtforms import SelectChoice

from labbook.accounts.access import current_actor, require
from labbook.accounts.models import Organization, User
from labbook.audit.services import history as audit_history
from labbook.billing import (
    invoices,
    money_exports,
    payable,
    payments,
    receivables,
    services,
    statement_pdf,
    vouchers,
)
from labbook.billing.labels import (
    AGEING_LABELS,
    BALANCE_ENTRY_LABELS,
    INVOICE_KIND_LABELS,
    INVOICE_MEDIUM_LABELS,
    INVOICE_STATE_LABELS,
    METHOD_LABELS,
)
from labbook.billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceMedium,
    InvoiceState,
    PaymentMethod,
    Statement,
    StatementState,
    Voucher,
)
from labbook.billing.money_forms import (
    DepositForm,
    FinanceSettingsForm,
    InvoiceIssueForm,
    InvoiceRefuseForm,
    InvoiceRequestForm,
    InvoiceReverseForm,
    PaymentForm,
    ProfileForm,
    VoucherForm,
)
from labbook.catalogue.models import Lab
from labbook.core.engine import write_transaction
from labbook.core.errors import DomainError, NotFound
from labbook.core.tables import XLSX_MEDIA_TYPE
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.i18n import is_english, localized
from labbook.links import external_url
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, show_errors

bp = Blueprint("money", __name__)


@bp.context_processor
def money_labels() -> dict[str, Any]:
    return {"method_labels": METHOD_LABELS, "balance_entry_labels": BALANCE_ENTRY_LABELS,
            "invoice_kind_labels": INVOICE_KIND_LABELS,
            "invoice_medium_labels": INVOICE_MEDIUM_LABELS,
            "invoice_state_labels": INVOICE_STATE_LABELS, "ageing_labels": AGEING_LABELS}


def qr_svg(url: str) -> Markup:
    svg = segno.make(url, error="m").svg_inline(scale=3, light="white",
                                                title=_("QR code of the verification page"))
    return Markup(svg)  # noqa: S704  (segno's own markup; the URL is escaped by segno)


def payable_context(statement: Statement) -> dict[str, Any]:
    """What the statement page prints to pay from: payee, amount in words, reference, QR."""
    code = statement.verification_code
    url = external_url("billing.verify_statement", code=code) if code else None
    return {"payee": payable.payee_from(current_app.config),
            "amount_in_words": payable.in_words(statement),
            "verification_url": url, "verification_qr": qr_svg(url) if url else None,
            "allocations": payments.statement_allocations(db.session, statement.id),
            "method_labels": METHOD_LABELS}


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _organization(organization_id: int) -> Organization:
    actor = current_actor()
    organization = db.session.get(Organization, organization_id)
    if organization is None or not invoices.may_see_money(db.session, actor, organization_id):
        raise NotFound(_("No organization with id %(id)d.", id=organization_id))
    return organization


def _finance() -> User:
    return require(current_actor().is_admin)


# -- an organization's money --------------------------------------------------------------------

def _voucher_form(*, formdata: bool = True) -> VoucherForm:
    form = VoucherForm() if formdata else VoucherForm(formdata=None)
    form.lab_ids.choices = [SelectChoice(lab.id, f"{lab.code} · {localized(lab, 'name')}")
                            for lab in db.session.scalars(select(Lab).order_by(Lab.code))]
    return form


def _request_form(organization: Organization, *, formdata: bool = True) -> InvoiceRequestForm:
    form = InvoiceRequestForm() if formdata else InvoiceRequestForm(formdata=None)
    form.statement_ids.choices = [
        SelectChoice(s.id, f"{s.number} · {s.period}") for s in db.session.scalars(
            select(Statement).where(Statement.organization_id == organization.id,
                                    Statement.state != StatementState.DRAFT)
            .order_by(Statement.number.desc()).limit(60))
        if invoices.invoiceable_amount(db.session, s) > 0]
    return form


def _organization_page(organization: Organization, forms: dict[str, Any], status: int = 200):
    actor = current_actor()
    return render_template(
        "billing/organization_money.html", organization=organization,
        profile=payments.profile_of(db.session, organization),
        is_admin=actor.is_admin,
        entries=payments.balance_history(db.session, organization.id),
        payments=db.session.scalars(payments.payments_of(db.session, organization.id)
                                    .limit(50)).all(),
        open_statements=db.session.scalars(
            receivables.open_statements(db.session, organization.id)).all(),
        vouchers=db.session.scalars(vouchers.vouchers_of(db.session, organization.id)).all(),
        invoices=db.session.scalars(invoices.visible_invoices(
            db.session, actor, organization_id=organization.id).limit(50)).all(),
        days_overdue=lambda s: receivables.days_overdue(s, utcnow()),
        due_on=receivables.due_on, **forms), status


@bp.get("/billing/organizations/<int:organization_id>")
@login_required
def organization(organization_id: int):
    organization = _organization(organization_id)
    forms = _organization_forms(organization)
    for form in forms.values():  # one form's class each: only the refused one is restored
        restore_kept(form)
    return _organization_page(organization, forms)


def _organization_forms(organization: Organization) -> dict[str, Any]:
    """The organization page's forms, empty: finance's four and everyone's invoice request."""
    profile = payments.profile_of(db.session, organization)
    forms: dict[str, Any] = {"profile_form": ProfileForm(formdata=None, obj=profile)}
    if current_actor().is_admin:
        forms.update(settings_form=FinanceSettingsForm(formdata=None, obj=profile),
                     deposit_form=DepositForm(formdata=None),
                     voucher_form=_voucher_form(formdata=False))
    forms["request_form"] = _request_form(organization, formdata=False)
    return forms


def _submit(organization: Organization, form_name: str, form: Any, action) -> Any:
    """Validate ``form``, run ``action`` in a write; back to the page with ``action``'s message,
    or with the form kept to show its errors there (``keep_refused``)."""
    page = url_for(".organization", organization_id=organization.id)
    if not form.validate_on_submit():
        return keep_refused(form, page) or _refused_on_page(organization, form_name, form)
    try:
        with write_transaction(db.session):
            message = action(form)
    except DomainError as error:
        show_errors(form, error)
        return keep_refused(form, page) or _refused_on_page(organization, form_name, form)
    flash(message, "success")
    return redirect(page)


def _refused_on_page(organization: Organization, form_name: str, form: Any):
    """The organization's page as the answer to a refused form too large to keep."""
    return _organization_page(organization,
                              {**_organization_forms(organization), form_name: form},
                              FORM_REFUSED)


@bp.post("/billing/organizations/<int:organization_id>/details")
@login_required
def update_details(organization_id: int):
    actor = current_actor()
    organization = _organization(organization_id)

    def save(form: ProfileForm) -> str:
        invoices.update_profile(db.session, actor, organization_id, invoices.ProfileInput(
            invoice_title=form.invoice_title.data or "", taxpayer_id=form.taxpayer_id.data or "",
            address=form.address.data or "", phone=form.phone.data or "",
            bank=form.bank.data or "", bank_account=form.bank_account.data or ""), now=utcnow())
        return _("The invoicing details are saved.")

    return _submit(organization, "profile_form", ProfileForm(), save)


@bp.post("/billing/organizations/<int:organization_id>/settings")
@login_required
def update_settings(organization_id: int):
    actor = _finance()
    organization = _organization(organization_id)

    def save(form: FinanceSettingsForm) -> str:
        current = payments.profile_of(db.session, organization)
        block = form.overdue_block_days.data
        invoices.update_profile(db.session, actor, organization_id, invoices.ProfileInput(
            invoice_title=current.invoice_title, taxpayer_id=current.taxpayer_id,
            address=current.address, phone=current.phone, bank=current.bank,
            bank_account=current.bank_account, prepaid=bool(form.prepaid.data),
            overdue_block_days=block, clear_overdue_block=block is None), now=utcnow())
        return _("The settings are saved.")

    return _submit(organization, "settings_form", FinanceSettingsForm(), save)


@bp.post("/billing/organizations/<int:organization_id>/deposits")
@login_required
def record_deposit(organization_id: int):
    actor = _finance()
    organization = _organization(organization_id)

    def save(form: DepositForm) -> str:
        payments.record_deposit(db.session, actor, organization_id, form.amount.data,
                                form.note.data or "", now=utcnow())
        return _("The deposit is recorded.")

    return _submit(organization, "deposit_form", DepositForm(), save)


@bp.post("/billing/organizations/<int:organization_id>/vouchers")
@login_required
def create_voucher(organization_id: int):
    actor = _finance()
    organization = _organization(organization_id)

    def save(form: VoucherForm) -> str:
        voucher = vouchers.create_voucher(db.session, actor, organization, vouchers.VoucherInput(
            number=form.number.data or "", authority=form.authority.data or "",
            face_value=form.face_value.data, share_percent=form.share_percent.data,
            valid_from=form.valid_from.data, valid_to=form.valid_to.data,
            lab_ids=form.lab_ids.data or []), now=utcnow())
        return _("Voucher %(number)s is recorded.", number=voucher.number)

    return _submit(organization, "voucher_form", _voucher_form(), save)


@bp.post("/billing/organizations/<int:organization_id>/invoices")
@login_required
def request_invoice(organization_id: int):
    actor = current_actor()
    organization = _organization(organization_id)

    def save(form: InvoiceRequestForm) -> str:
        invoice = invoices.request_invoice(
            db.session, actor, organization_id, form.statement_ids.data or [],
            InvoiceKind(form.kind.data), InvoiceMedium(form.medium.data), form.note.data or "",
            now=utcnow())
        return _("The invoice of ¥%(amount)s is requested.", amount=f"{invoice.amount:,}")

    return _submit(organization, "request_form", _request_form(organization), save)


# -- payments against a statement ---------------------------------------------------------------

@bp.post("/statements/<int:statement_id>/payments")
@login_required
def record_payment(statement_id: int):
    actor = _finance()
    statement = services.get_statement(db.session, actor, statement_id)
    back = url_for("billing.statement_detail", statement_id=statement_id)
    form = PaymentForm()
    if not form.validate_on_submit():
        errors = [error for errors in form.errors.values() for error in errors]
        flash(" ".join(str(error) for error in errors), "danger")
        return redirect(back)
    try:
        with write_transaction(db.session):
            payment = payments.record_payment(db.session, actor, payments.PaymentInput(
                organization_id=statement.organization_id, received_on=form.received_on.data,
                amount=form.amount.data, method=PaymentMethod(form.method.data),
                reference=form.reference.data or "", statement_ids=[statement_id]),
                now=utcnow())
            credited = payment.credited
    except DomainError as error:
        return refuse(error, back)
    flash(_("The payment is recorded.") + (" " + _(
        "¥%(amount)s beyond what the statement owed went to the organization's balance.",
        amount=f"{credited:,}") if credited else ""), "success")
    return redirect(back)


@bp.post("/statements/<int:statement_id>/pay-from-balance")
@login_required
def pay_from_balance(statement_id: int):
    actor = _finance()
    back = url_for("billing.statement_detail", statement_id=statement_id)
    try:
        with write_transaction(db.session):
            payments.apply_balance(db.session, actor, statement_id, now=utcnow())
    except DomainError as error:
        return refuse(error, back)
    flash(_("The organization's balance paid what it could of the statement."), "success")
    return redirect(back)


# -- receivables --------------------------------------------------------------------------------

@bp.get("/billing/receivables")
@login_required
def receivables_page():
    _finance()
    rows = receivables.ageing(db.session, now=utcnow())
    sums = [sum((row.buckets[i] for row in rows), Decimal("0.00")) for i in range(4)]
    return render_template("billing/receivables.html", rows=rows, sums=sums,
                           total=sum(sums, Decimal("0.00")))


@bp.get("/billing/receivables.xlsx")
@login_required
def receivables_xlsx():
    _finance()
    now = utcnow()
    return _attachment(money_exports.receivables_xlsx(receivables.ageing(db.session, now=now),
                                                      now=now), XLSX_MEDIA_TYPE,
                       f"receivables-{to_lab_time(now):%Y-%m-%d}.xlsx")


# -- invoices -----------------------------------------------------------------------------------

def _state_arg() -> InvoiceState | None:
    value = request.args.get("state") or None
    return InvoiceState(value) if value in {s.value for s in InvoiceState} else None


@bp.get("/billing/invoices")
@login_required
def invoices_page():
    actor = current_actor()
    state = _state_arg()
    items = db.session.scalars(invoices.visible_invoices(db.session, actor, state=state)
                               .limit(200)).all()
    return render_template("billing/invoices.html", invoices=items, state=state,
                           states=list(InvoiceState), is_admin=actor.is_admin)


@bp.get("/billing/invoices.xlsx")
@login_required
def invoices_xlsx():
    actor = _finance()
    items = db.session.scalars(invoices.visible_invoices(db.session, actor,
                                                         state=_state_arg())).all()
    return _attachment(money_exports.invoices_xlsx(items), XLSX_MEDIA_TYPE, "invoices.xlsx")


def _invoice_forms(invoice: Invoice) -> dict[str, Any]:
    """Finance's forms on an invoice's page, empty."""
    return {"issue_form": InvoiceIssueForm(formdata=None, amount=invoice.amount),
            "refuse_form": InvoiceRefuseForm(formdata=None),
            "reverse_form": InvoiceReverseForm(formdata=None)}


def _invoice_page(invoice: Invoice, forms: dict[str, Any], status: int = 200):
    return render_template("billing/invoice.html", invoice=invoice,
                           is_admin=current_actor().is_admin,
                           history=audit_history(db.session, invoice), **forms), status


@bp.get("/billing/invoices/<int:invoice_id>")
@login_required
def invoice_detail(invoice_id: int):
    invoice = invoices.get_invoice(db.session, current_actor(), invoice_id)
    forms = _invoice_forms(invoice)
    for form in forms.values():  # one form's class each: only the refused one is restored
        restore_kept(form)
    return _invoice_page(invoice, forms)


@bp.get("/billing/invoices/<int:invoice_id>/file")
@login_required
def invoice_file(invoice_id: int):
    invoice = invoices.get_invoice(db.session, current_actor(), invoice_id)
    if not invoice.file_name:
        raise NotFound(_("This invoice has no file."))
    return _attachment(invoice.file_content or b"", invoice.file_type, invoice.file_name)


def _decide(invoice_id: int, form_name: str, form: Any, action) -> Any:
    actor = _finance()
    invoice = invoices.get_invoice(db.session, actor, invoice_id)
    page = url_for(".invoice_detail", invoice_id=invoice_id)
    if not form.validate_on_submit():
        return keep_refused(form, page) or _invoice_page(
            invoice, {**_invoice_forms(invoice), form_name: form}, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            invoice = invoices.get_invoice(db.session, actor, invoice_id)
            message = action(actor, invoice, form)
    except DomainError as error:
        show_errors(form, error)
        invoice = invoices.get_invoice(db.session, actor, invoice_id)
        return keep_refused(form, page) or _invoice_page(
            invoice, {**_invoice_forms(invoice), form_name: form}, FORM_REFUSED)
    flash(message, "success")
    return redirect(page)


@bp.post("/billing/invoices/<int:invoice_id>/issue")
@login_required
def issue_invoice(invoice_id: int):
    def save(actor: User, invoice: Invoice, form: InvoiceIssueForm) -> str:
        upload = form.file.data
        content = upload.read() if upload else None
        invoices.issue_invoice(db.session, actor, invoice, invoices.IssueInput(
            invoice_number=form.invoice_number.data or "", issued_on=form.issued_on.data,
            amount=form.amount.data, file_name=upload.filename if upload else "",
            file_content=content or None), now=utcnow())
        return _("The invoice is recorded as issued.")

    return _decide(invoice_id, "issue_form", InvoiceIssueForm(), save)


@bp.post("/billing/invoices/<int:invoice_id>/refuse")
@login_required
def refuse_invoice(invoice_id: int):
    def save(actor: User, invoice: Invoice, form: InvoiceRefuseForm) -> str:
        invoices.refuse_invoice(db.session, actor, invoice, form.reason.data or "",
                                now=utcnow())
        return _("The invoice request is refused.")

    return _decide(invoice_id, "refuse_form", InvoiceRefuseForm(), save)


@bp.post("/billing/invoices/<int:invoice_id>/reverse")
@login_required
def reverse_invoice(invoice_id: int):
    def save(actor: User, invoice: Invoice, form: InvoiceReverseForm) -> str:
        invoices.reverse_invoice(db.session, actor, invoice, invoices.ReversalInput(
            red_number=form.red_number.data or "", issued_on=form.issued_on.data,
            reason=form.reason.data or "",
            correction_charge_id=form.correction_charge_id.data), now=utcnow())
        return _("The red-letter reversal is recorded.")

    return _decide(invoice_id, "reverse_form", InvoiceReverseForm(), save)


# -- vouchers -----------------------------------------------------------------------------------

@bp.get("/billing/vouchers/<int:voucher_id>")
@login_required
def voucher_detail(voucher_id: int):
    actor = current_actor()
    voucher = db.session.get(Voucher, voucher_id)
    if voucher is None or not invoices.may_see_money(db.session, actor, voucher.organization_id):
        raise NotFound(_("No voucher with id %(id)d.", id=voucher_id))
    return render_template("billing/voucher.html", voucher=voucher,
                           uses=vouchers.voucher_history(db.session, voucher))


def _redemption_args() -> tuple[str, str] | None:
    authority = (request.args.get("authority") or "").strip()
    try:
        period = services.parse_period(request.args.get("period"))
    except DomainError:
        return None
    return (authority, period) if authority and len(authority) <= 200 else None


@bp.get("/billing/voucher-redemptions")
@login_required
def redemption():
    _finance()
    args = _redemption_args()
    pack = money_exports.redemption_pack(db.session, *args) if args else None
    return render_template("billing/redemption.html", pack=pack,
                           authorities=vouchers.authorities(db.session),
                           authority=request.args.get("authority", ""),
                           period=request.args.get("period", ""))


@bp.get("/billing/voucher-redemptions.xlsx")
@login_required
def redemption_xlsx():
    _finance()
    args = _redemption_args()
    if args is None:
        raise NotFound(_("Name the issuing authority and the month."))
    pack = money_exports.redemption_pack(db.session, *args)
    return _attachment(money_exports.redemption_xlsx(pack), XLSX_MEDIA_TYPE,
                       f"voucher-redemption-{pack.period}.xlsx")


@bp.get("/billing/voucher-redemptions.pdf")
@login_required
def redemption_pdf():
    _finance()
    args = _redemption_args()
    if args is None:
        raise NotFound(_("Name the issuing authority and the month."))
    pack = money_exports.redemption_pack(db.session, *args)
    return _attachment(statement_pdf.render_redemption(pack, "en" if is_english() else "zh_CN"),
                       "application/pdf", f"voucher-redemption-{pack.period}.pdf")
