"""Administration of owner units (admins): their instruments, revenue-sharing agreements and
contact persons. The owner units themselves come with the catalogue files."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from labbook.accounts.access import current_actor, require
from labbook.admin.blueprint import bp
from labbook.catalogue.models import Owner
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, ValidationError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.i18n import lazy_gettext as _l
from labbook.owners import services as owners
from labbook.web import (
    FORM_REFUSED,
    keep_refused,
    plausible_date,
    refuse,
    restore_kept,
    show_errors,
)


def _percent_field(label) -> IntegerField:
    return IntegerField(label, validators=[
        InputRequired(message=_l("Give a whole percentage from 0 to 100.")),
        NumberRange(min=0, max=100, message=_l("Give a whole percentage from 0 to 100."))])


class AgreementForm(FlaskForm):
    effective_from = DateField(_l("Effective from"), validators=[
        InputRequired(message=_l("Enter a date.")), plausible_date],
        invalid_value_message=_l("Enter a date like 2026-12-31."))
    time_share_percent = _percent_field(_l("Owner's share of instrument time (%)"))
    testing_share_percent = _percent_field(_l("Owner's share of testing services (%)"))


class ContactForm(FlaskForm):
    email = StringField(_l("Email address of the account"),
                        validators=[DataRequired(message=_l("Enter an email address."))])


def _admin() -> None:
    require(owners.can_manage_owners(current_actor()))


@bp.get("/owners")
def owner_units():
    _admin()
    return render_template("admin/owners.html", owners=owners.all_owners(db.session))


def _owner_page(owner: Owner, agreement_form: AgreementForm | None = None,
                contact_form: ContactForm | None = None, status: int = 200):
    return render_template(
        "admin/owner.html", owner=owner,
        agreement_form=agreement_form or AgreementForm(formdata=None),
        contact_form=contact_form or ContactForm(formdata=None),
        agreements=owners.agreements(db.session, owner),
        contacts=owners.contacts(db.session, owner)), status


@bp.get("/owners/<code>")
def owner_unit(code: str):
    _admin()
    owner = owners.get_owner(db.session, code)
    agreement_form, contact_form = AgreementForm(formdata=None), ContactForm(formdata=None)
    # Only the form that was refused comes back filled: a kept form names its class.
    restore_kept(agreement_form)
    restore_kept(contact_form)
    return _owner_page(owner, agreement_form, contact_form)


@bp.post("/owners/<code>/agreements")
def add_agreement(code: str):
    _admin()
    owner = owners.get_owner(db.session, code)
    page = url_for(".owner_unit", code=code)
    form = AgreementForm()
    if not form.validate_on_submit():
        return keep_refused(form, page) \
            or _owner_page(owner, agreement_form=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            owners.add_agreement(db.session, current_actor(), owner,
                                 effective_from=form.effective_from.data,
                                 time_share_percent=form.time_share_percent.data,
                                 testing_share_percent=form.testing_share_percent.data,
                                 now=utcnow())
    except ValidationError as error:
        show_errors(form, error)
        return keep_refused(form, page) \
            or _owner_page(owner, agreement_form=form, status=FORM_REFUSED)
    except Conflict as error:
        form.form_errors.append(error.message)
        return keep_refused(form, page) \
            or _owner_page(owner, agreement_form=form, status=FORM_REFUSED)
    flash(_("The agreement was added."), "success")
    return redirect(page)


@bp.post("/owners/<code>/contacts")
def add_owner_contact(code: str):
    _admin()
    owner = owners.get_owner(db.session, code)
    page = url_for(".owner_unit", code=code)
    form = ContactForm()
    if not form.validate_on_submit():
        return keep_refused(form, page) \
            or _owner_page(owner, contact_form=form, status=FORM_REFUSED)
    try:
        with write_transaction(db.session):
            owners.add_contact(db.session, current_actor(), owner, form.email.data,
                               now=utcnow())
    except ValidationError as error:
        show_errors(form, error)
        return keep_refused(form, page) \
            or _owner_page(owner, contact_form=form, status=FORM_REFUSED)
    except Conflict as error:
        form.form_errors.append(error.message)
        return keep_refused(form, page) \
            or _owner_page(owner, contact_form=form, status=FORM_REFUSED)
    flash(_("The contact person was added: they see the owner's instruments after signing "
            "in."), "success")
    return redirect(page)


@bp.post("/owners/<code>/contacts/<int:user_id>/remove")
def remove_owner_contact(code: str, user_id: int):
    _admin()
    owner = owners.get_owner(db.session, code)
    try:
        with write_transaction(db.session):
            owners.remove_contact(db.session, current_actor(), owner, user_id, now=utcnow())
    except NotFound as error:
        return refuse(error, url_for(".owner_unit", code=code))
    flash(_("The contact person was removed."), "success")
    return redirect(url_for(".owner_unit", code=code, **request.args))
