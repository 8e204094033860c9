"""Billing pages: statements (list, month close, one statement, its CSV/XLSX, issue, payment,
adjustments on a draft), unbilled charges and adjustments, and an instrument's rate cards.

Who sees what is the services' rule (``visible_statements``, ``visible_lines``…); a statement
a user may not see answers 404, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

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
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from labbook.accounts import services as accounts
from labbook.accounts.access import current_actor, current_manager, current_viewer, require
from labbook.accounts.labels import TIER_LABELS
from labbook.accounts.models import Organization, User
from labbook.audit.services import history as audit_history
from labbook.billing import exports, money_views, payable, services
from labbook.billing import lines as line_texts
from labbook.billing import statement_pdf as statement_pdf_document
from labbook.billing.forms import (
    AdjustmentForm,
    ChargeFilterForm,
    CloseMonthForm,
    MarkPaidForm,
    RateCardForm,
    StatementAdjustmentForm,
    StatementFilterForm,
)
from labbook.billing.models import Charge, RateCard, Statement, StatementState
from labbook.billing.money_forms import PaymentForm
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from labbook.core.money import format_money
from labbook.core.tables import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.http import page_arg
from labbook.i18n import is_english, localized
from labbook.links import external_url
from labbook.web import FORM_REFUSED, keep_refused, refuse, restore_kept, show_errors

bp = Blueprint("billing", __name__)


@bp.app_context_processor
def billing_links() -> dict[str, Any]:
    # Functions, so that nothing is queried unless a template asks.
    def statements_link() -> bool:
        viewer = current_viewer()
        return viewer is not None and services.may_see_statements(db.session, viewer)

    def rates_link(instrument: Instrument) -> bool:
        viewer = current_viewer()
        return viewer is not None and services.can_edit_rates(viewer, instrument)

    return {"may_see_statements": statements_link, "can_edit_rates": rates_link}


@bp.context_processor
def line_texts_of_charges() -> dict[str, Any]:
    return {"describe_line": line_texts.describe, "line_computation": line_texts.computation,
            "line_date": line_texts.line_date, "line_booked_by": line_texts.booked_by,
            "line_project_ref": line_texts.project_ref}


def _require_charges_access() -> User:
    return require(services.can_list_charges(current_actor()))


def _require_admin() -> User:
    return require(current_actor().is_admin)


# -- statements ---------------------------------------------------------------------------------


def _close_form(*, formdata: bool = True) -> CloseMonthForm:
    periods = services.closable_periods(db.session, now=utcnow())
    # Prefixed: the filter form on the same page has a "period" of its own.
    form = CloseMonthForm(prefix="close") if formdata else \
        CloseMonthForm(formdata=None, prefix="close", period=periods[0] if periods else None)
    form.period.choices = [SelectChoice(period) for period in periods]
    return form


def _filter_form(actor: User) -> StatementFilterForm:
    visible = services.visible_statements(db.session, actor).order_by(None)
    periods = db.session.scalars(visible.with_only_columns(Statement.period).distinct()
                                 .order_by(Statement.period.desc()))
    organizations = db.session.scalars(
        select(Organization).where(Organization.id.in_(
            visible.with_only_columns(Statement.organization_id)))
        .order_by(Organization.name))
    form = StatementFilterForm(request.args)
    form.period.choices = [SelectChoice("", _("All months"))] + [
        SelectChoice(period) for period in periods]
    form.organization.choices = [SelectChoice("", _("All organizations"))] + [
        SelectChoice(str(o.id), o.name) for o in organizations]
    return form


def _shown_total(actor: User, statement: Statement) -> Decimal:
    """The statement's total, or for a lab manager the total of the lines they may see."""
    if services.sees_whole_statement(actor, statement):
        return statement.total
    return sum((line.amount for line in services.visible_lines(actor, statement)),
               Decimal("0.00"))


def _this_month() -> tuple[str, dt.date]:
    """This month in lab time and the day it can be closed: what the close form says when
    every month that has ended is closed."""
    period = to_lab_time(utcnow()).strftime("%Y-%m")
    return period, to_lab_time(services.period_bounds(period)[1]).date()


def _statements_page(close_form: CloseMonthForm | None, status: int = 200):
    actor = current_actor()
    filters = _filter_form(actor)
    page = None
    if filters.validate():
        query = services.visible_statements(
            db.session, actor, period=filters.period.data or None,
            organization_id=int(filters.organization.data) if filters.organization.data
            else None,
            state=StatementState(filters.state.data) if filters.state.data else None)
        page = db.paginate(query.options(selectinload(Statement.organization)),
                           page=page_arg(), per_page=current_app.config["UI_PER_PAGE"],
                           error_out=False)
    else:
        status = FORM_REFUSED
    return render_template("billing/statements.html", filters=filters, page=page,
                           close_form=close_form if actor.is_admin else None,
                           this_month=_this_month(),
                           shown_total=lambda statement: _shown_total(actor, statement),
                           sees_whole=lambda s: services.sees_whole_statement(actor, s)), status


@bp.get("/statements")
@login_required
def statements():
    close_form = _close_form(formdata=False)
    restore_kept(close_form)
    return _statements_page(close_form)


@bp.post("/statements/close")
@login_required
def close_month():
    actor = _require_admin()
    form = _close_form()
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".statements")) \
            or _statements_page(form, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            result = services.close_month(db.session, actor, form.period.data, now=utcnow())
            created = len(result.statements)
    except ValidationError as error:
        form.period.errors = [*form.period.errors, error.message]
        return keep_refused(form, url_for(".statements")) \
            or _statements_page(form, FORM_REFUSED)
    except Conflict as error:
        return refuse(error, url_for(".statements"))
    if result.was_already_closed:
        flash(_("%(period)s was already closed on %(date)s; nothing new was created.",
                period=result.period,
                date=to_lab_time(result.already_closed_at).strftime("%Y-%m-%d %H:%M")),
              "warning")
    elif created:
        flash(ngettext("%(period)s is closed: %(num)d draft statement was created.",
                       "%(period)s is closed: %(num)d draft statements were created.",
                       created, period=result.period), "success")
    else:
        flash(_("%(period)s is closed: there were no unbilled charges, so no statement was "
                "created.", period=result.period), "success")
    return redirect(url_for(".statements", period=result.period))


def _lab_choices(labs: list[Lab]) -> list[SelectChoice]:
    return [SelectChoice(lab.id, f"{lab.code} · {localized(lab, 'name')}") for lab in labs]


def _statement_adjustment_form(actor: User, *, formdata: bool = True) -> StatementAdjustmentForm:
    form = StatementAdjustmentForm() if formdata else StatementAdjustmentForm(formdata=None)
    form.lab_id.choices = _lab_choices(accounts.managed_labs(db.session, actor))
    return form


def _statement_page(statement: Statement, *,
                    adjustment_form: StatementAdjustmentForm | None = None,
                    paid_form: MarkPaidForm | None = None, status: int = 200):
    actor = current_actor()
    lines = services.visible_lines(actor, statement)
    is_draft = statement.state == StatementState.DRAFT
    if adjustment_form is None and is_draft and accounts.can_manage_something(actor):
        adjustment_form = _statement_adjustment_form(actor, formdata=False)
        restore_kept(adjustment_form)
    if paid_form is None:
        paid_form = MarkPaidForm(formdata=None)
        restore_kept(paid_form)
    paying = money_views.payable_context(statement) \
        if statement.state != StatementState.DRAFT else {}
    return render_template(
        "billing/statement.html", statement=statement, payment_form=PaymentForm(formdata=None),
        **paying,
        groups=services.lab_subtotals(lines),
        sees_whole=services.sees_whole_statement(actor, statement),
        history=audit_history(db.session, statement), is_admin=actor.is_admin,
        adjustment_form=adjustment_form if is_draft else None,
        paid_form=paid_form), status


@bp.get("/statements/<int:statement_id>")
@login_required
def statement_detail(statement_id: int):
    return _statement_page(services.get_statement(db.session, current_actor(), statement_id))


def _download(statement_id: int, extension: str, mimetype: str, render) -> Response:
    actor = current_actor()
    statement = services.get_statement(db.session, actor, statement_id)
    response = Response(render(statement, services.visible_lines(actor, statement)),
                        mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment",
                         filename=exports.export_filename(statement, extension))
    # A statement is the organization's business: no shared cache may keep it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/statements/<int:statement_id>.csv")
@login_required
def statement_csv(statement_id: int):
    return _download(statement_id, "csv", CSV_MEDIA_TYPE, exports.statement_csv)


@bp.get("/statements/<int:statement_id>.xlsx")
@login_required
def statement_xlsx(statement_id: int):
    return _download(statement_id, "xlsx", XLSX_MEDIA_TYPE, exports.statement_xlsx)


@bp.get("/statements/<int:statement_id>.pdf")
@login_required
def statement_pdf(statement_id: int):
    """The statement as a PDF in the reader's language, for those who see it whole."""
    actor = current_actor()
    statement = services.get_statement(db.session, actor, statement_id)
    if not services.sees_whole_statement(actor, statement):
        raise NotFound(_("No statement with id %(id)d.", id=statement_id))
    code = statement.verification_code
    body = statement_pdf_document.render_statement(
        statement, services.visible_lines(actor, statement),
        payable.payee_from(current_app.config),
        external_url("billing.verify_statement", code=code) if code else None,
        "en" if is_english() else "zh_CN")
    response = Response(body, mimetype="application/pdf")
    response.headers.set("Content-Disposition", "attachment",
                         filename=exports.export_filename(statement, "pdf"))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/statements/<int:statement_id>/issue")
@login_required
def issue_statement(statement_id: int):
    actor = _require_admin()
    back = url_for(".statement_detail", statement_id=statement_id)
    try:
        with write_transaction(db.session):
            statement = services.get_statement(db.session, actor, statement_id)
            services.issue_statement(db.session, actor, statement, now=utcnow())
            number = statement.number
    except Conflict as error:
        return refuse(error, back)
    flash(_("Statement %(number)s is issued; it can no longer change.", number=number),
          "success")
    return redirect(back)


@bp.post("/statements/<int:statement_id>/paid")
@login_required
def mark_paid(statement_id: int):
    actor = _require_admin()
    form = MarkPaidForm()
    back = url_for(".statement_detail", statement_id=statement_id)
    if not form.validate_on_submit():
        return keep_refused(form, back) or _statement_page(
            services.get_statement(db.session, actor, statement_id), paid_form=form,
            status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            statement = services.get_statement(db.session, actor, statement_id)
            services.mark_paid(db.session, actor, statement, now=utcnow(),
                               note=form.note.data)
            number = statement.number
    except (Conflict, ValidationError) as error:
        return refuse(error, back)
    flash(_("Statement %(number)s is marked as paid.", number=number), "success")
    return redirect(back)


def _not_a_draft(statement: Statement):
    flash(_("Statement %(number)s is no longer a draft and never changes: record the correction "
            "as an adjustment for the organization's next statement instead.",
            number=statement.number), "danger")
    return redirect(url_for(".statement_detail", statement_id=statement.id), 303)


@bp.post("/statements/<int:statement_id>/adjustments")
@login_required
def adjust_statement(statement_id: int):
    actor = current_actor()
    statement = services.get_statement(db.session, actor, statement_id)
    current_manager()
    # Said first: no other error in the form matters for a statement that cannot change.
    if statement.state != StatementState.DRAFT:
        return _not_a_draft(statement)
    form = _statement_adjustment_form(actor)
    if not form.validate_on_submit():
        return keep_refused(form, url_for(".statement_detail", statement_id=statement_id)) \
            or _statement_page(statement, adjustment_form=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            statement = services.get_statement(db.session, actor, statement_id)
            lab = db.session.get(Lab, form.lab_id.data)
            if lab is None:
                raise NotFound(_("No lab with id %(id)d.", id=form.lab_id.data))
            charge = services.create_adjustment(
                db.session, actor, organization=statement.organization, lab=lab,
                amount=form.amount.data, reason=form.reason.data, now=utcnow(),
                statement=statement)
            amount = charge.amount
    except (Conflict, ValidationError, PermissionDenied, NotFound) as error:
        statement = services.get_statement(db.session, actor, statement_id)
        if statement.state != StatementState.DRAFT:  # issued while the form was being filled
            return _not_a_draft(statement)
        show_errors(form, error)
        return keep_refused(form, url_for(".statement_detail", statement_id=statement_id)) \
            or _statement_page(statement, adjustment_form=form, status=FORM_REFUSED)
    flash(_("An adjustment of %(amount)s was added to the statement.",
            amount=format_money(amount)), "success")
    return redirect(url_for(".statement_detail", statement_id=statement_id))


@bp.get("/statements/verify/<code>")
def verify_statement(code: str):
    """The public check of a statement (its QR code's address): number, masked customer,
    total to pay and state only; anyone may look, nobody sees more."""
    found = payable.verify(db.session, code)
    return render_template("billing/verify.html", found=found, code=code), \
        200 if found else 404


# -- unbilled charges and adjustments -----------------------------------------------------------


def _charge_filters(labs: list[Lab]) -> ChargeFilterForm:
    form = ChargeFilterForm(request.args)
    form.lab.choices = [SelectChoice("", _("All labs"))] + [
        SelectChoice(lab.code, f"{lab.code} · {localized(lab, 'name')}") for lab in labs]
    form.period.choices = [SelectChoice("", _("All months"))] + [
        SelectChoice(period) for period in db.session.scalars(
            select(Charge.period).where(Charge.statement_id.is_(None),
                                        Charge.lab_id.in_([lab.id for lab in labs]))
            .distinct().order_by(Charge.period.desc()))]
    return form


def _lab_totals(query) -> list[tuple[Lab, int, Decimal]]:
    """Per lab: how many of the charges ``query`` selects, and their sum."""
    charges = query.order_by(None).subquery()
    return list(db.session.execute(
        select(Lab, func.count(), func.coalesce(func.sum(charges.c.amount), 0))
        .join(charges, charges.c.lab_id == Lab.id).group_by(Lab.id).order_by(Lab.code)))


@bp.get("/charges")
@login_required
def charges():
    actor = _require_charges_access()
    labs = accounts.managed_labs(db.session, actor)
    filters = _charge_filters(labs)
    page, totals, status = None, [], 200
    if filters.validate():
        chosen = [lab.id for lab in labs if lab.code == filters.lab.data] \
            if filters.lab.data else [lab.id for lab in labs]
        query = services.unbilled_charges(db.session, actor, lab_ids=chosen,
                                          period=filters.period.data or None)
        page = db.paginate(query.options(*services.LINE_LOADS), page=page_arg(),
                           per_page=current_app.config["UI_PER_PAGE"], error_out=False)
        totals = _lab_totals(query)
    else:
        status = FORM_REFUSED
    return render_template(
        "billing/charges.html", filters=filters, page=page, totals=totals,
        total=sum((amount for _lab, _count, amount in totals), Decimal("0.00")),
        count=sum(count for _lab, count, _amount in totals)), status


def _adjustment_form(actor: User, *, formdata: bool = True) -> AdjustmentForm:
    form = AdjustmentForm() if formdata else AdjustmentForm(formdata=None)
    form.lab_id.choices = _lab_choices(accounts.managed_labs(db.session, actor))
    form.organization_id.choices = [
        SelectChoice(o.id, f"{o.name} ({o.uscc})") for o in
        db.session.scalars(select(Organization).order_by(Organization.name))]
    return form


def _adjustment_page(form: AdjustmentForm, status: int = 200):
    return render_template("billing/adjust.html", form=form), status


@bp.route("/charges/adjust", methods=["GET", "POST"])
@login_required
def adjust():
    actor = _require_charges_access()
    if request.method == "GET":
        form = _adjustment_form(actor, formdata=False)
        restore_kept(form)
        return _adjustment_page(form)
    form = _adjustment_form(actor)
    if not form.validate_on_submit():
        return keep_refused(form) or _adjustment_page(form, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            organization = db.session.get(Organization, form.organization_id.data)
            lab = db.session.get(Lab, form.lab_id.data)
            if organization is None or lab is None:
                raise NotFound(_("The organization or the lab no longer exists."))
            charge = services.create_adjustment(
                db.session, actor, organization=organization, lab=lab,
                amount=form.amount.data, reason=form.reason.data, now=utcnow())
            message = _("An adjustment of %(amount)s for %(organization)s was recorded; it "
                        "goes on the organization's next statement.",
                        amount=format_money(charge.amount), organization=organization.name)
    except (ValidationError, PermissionDenied, NotFound) as error:
        show_errors(form, error)
        return keep_refused(form) or _adjustment_page(form, FORM_REFUSED)
    flash(message, "success")
    return redirect(url_for(".charges"))


# -- rate cards ---------------------------------------------------------------------------------


def _editable_instrument(instrument_id: int) -> Instrument:
    instrument = catalogue.get_instrument(db.session, instrument_id)
    require(services.can_edit_rates(current_actor(), instrument))
    return instrument


def _rate_form(*, formdata: bool = True) -> RateCardForm:
    if formdata:
        return RateCardForm()
    return RateCardForm(formdata=None, **services.rate_card_form_defaults(now=utcnow()))


def _rates_page(instrument: Instrument, form: RateCardForm, status: int = 200):
    today = to_lab_time(utcnow()).date()
    tiers = []
    for tier, label in TIER_LABELS.items():
        current = instrument.current_rate(tier, today)
        cards = sorted((c for c in instrument.rate_cards if c.tier == tier),
                       key=lambda c: c.effective_from, reverse=True)
        tiers.append({"tier": tier, "label": label, "current": current, "cards": cards})
    return render_template("billing/rates.html", instrument=instrument, tiers=tiers,
                           today=today, form=form,
                           history=services.rate_card_history(db.session, instrument)), status


@bp.get("/instruments/<int:instrument_id>/rates")
@login_required
def rates(instrument_id: int):
    instrument = _editable_instrument(instrument_id)
    form = _rate_form(formdata=False)
    restore_kept(form)
    return _rates_page(instrument, form)


@bp.post("/instruments/<int:instrument_id>/rates")
@login_required
def add_rate_card(instrument_id: int):
    actor = current_actor()
    instrument = _editable_instrument(instrument_id)
    form = _rate_form()
    if not form.validate_on_submit():
        return keep_refused(form) or _rates_page(instrument, form, FORM_REFUSED)
    try:
        with write_transaction(db.session):
            instrument = catalogue.get_instrument(db.session, instrument_id)
            card = services.add_rate_card(db.session, actor, instrument, form.values(),
                                          now=utcnow())
            message = _("The %(tier)s rate of %(rate)s per hour applies from %(date)s.",
                        tier=TIER_LABELS[card.tier], rate=format_money(card.hourly_rate),
                        date=card.effective_from.isoformat())
    except ValidationError as error:
        show_errors(form, error)
        return keep_refused(form) or _rates_page(
            catalogue.get_instrument(db.session, instrument_id), form, FORM_REFUSED)
    flash(message, "success")
    return redirect(url_for(".rates", instrument_id=instrument_id))


@bp.post("/instruments/<int:instrument_id>/rates/<int:card_id>/withdraw")
@login_required
def withdraw_rate_card(instrument_id: int, card_id: int):
    actor = current_actor()
    _editable_instrument(instrument_id)
    try:
        with write_transaction(db.session):
            card = db.session.get(RateCard, card_id)
            if card is None or card.instrument_id != instrument_id:
                raise NotFound(_("No rate card with id %(id)d.", id=card_id))
            services.withdraw_rate_card(db.session, actor, card, now=utcnow())
    except Conflict as error:
        return refuse(error, url_for(".rates", instrument_id=instrument_id))
    flash(_("The rate card was withdrawn."), "success")
    return redirect(url_for(".rates", instrument_id=instrument_id))
