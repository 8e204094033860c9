"""Forms of finance's pages: payments, deposits, billing details, vouchers and invoices.
Amounts are read by the billing forms' ``YuanField`` (the API's rule); the rules themselves are
the services'."""

from __future__ import annotations

from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length, Optional

from labbook.billing.forms import WholeNumberField, YuanField
from labbook.billing.labels import INVOICE_KIND_LABELS, INVOICE_MEDIUM_LABELS, METHOD_LABELS
from labbook.billing.models import InvoiceKind, InvoiceMedium, PaymentMethod
from labbook.i18n import lazy_gettext as _l
from labbook.web import plausible_date

AMOUNT_REQUIRED = InputRequired(message=_l("Enter the amount in yuan, e.g. 120.50."))


def _choices(labels):
    return (SelectChoice(member.value, label) for member, label in labels.items())


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class PaymentForm(FlaskForm):
    received_on = DateField(_l("Received on"), validators=[
        InputRequired(message=_l("Give the day the money was received.")), plausible_date])
    amount = YuanField(_l("Amount (¥)"), validators=[AMOUNT_REQUIRED])
    method = SelectField(lazy_pgettext("payment", "Method"), choices=list(_choices(METHOD_LABELS)),
                         default=PaymentMethod.BANK_TRANSFER.value)
    reference = StringField(_l("Reference (e.g. the bank transfer's)"), filters=[_strip],
                            validators=[Optional(), Length(max=100)])


class DepositForm(FlaskForm):
    amount = YuanField(_l("Amount (¥)"), validators=[AMOUNT_REQUIRED])
    note = StringField(_l("Reference"), filters=[_strip], validators=[Optional(), Length(max=100)])


class ProfileForm(FlaskForm):
    invoice_title = StringField(_l("Invoice title (发票抬头)"), filters=[_strip],
                                validators=[Length(max=200)])
    taxpayer_id = StringField(_l("Taxpayer ID (纳税人识别号)"), filters=[_strip],
                              validators=[Length(max=20)])
    address = StringField(_l("Address"), filters=[_strip], validators=[Length(max=200)])
    phone = StringField(_l("Phone"), filters=[_strip], validators=[Length(max=40)])
    bank = StringField(_l("Bank"), filters=[_strip], validators=[Length(max=100)])
    bank_account = StringField(_l("Bank account"), filters=[_strip], validators=[Length(max=40)])


class FinanceSettingsForm(FlaskForm):
    prepaid = BooleanField(_l("Pays from a prepaid balance (预存款)"))
    overdue_block_days = WholeNumberField(
        _l("Refuse new bookings and orders when a statement is overdue by more than (days)"),
        validators=[Optional()])


class VoucherForm(FlaskForm):
    number = StringField(_l("Voucher number"), filters=[_strip], validators=[Length(max=50)])
    authority = StringField(_l("Issuing authority"), filters=[_strip],
                            validators=[Length(max=200)])
    face_value = YuanField(_l("Face value (¥)"), validators=[AMOUNT_REQUIRED])
    share_percent = WholeNumberField(_l("Share of each line it may pay (%)"), default=50,
                                     validators=[InputRequired(message=_l("Enter a whole "
                                                                          "number."))])
    valid_from = DateField(_l("Valid from"), validators=[
        InputRequired(message=_l("Give the first day.")), plausible_date])
    valid_to = DateField(_l("Valid to"), validators=[
        InputRequired(message=_l("Give the last day.")), plausible_date])
    lab_ids = SelectMultipleField(_l("Eligible labs (none: all)"), coerce=int,
                                  validate_choice=False)


class InvoiceRequestForm(FlaskForm):
    statement_ids = SelectMultipleField(_l("Statements"), coerce=int, validate_choice=False)
    kind = SelectField(_l("Kind"), choices=list(_choices(INVOICE_KIND_LABELS)),
                       default=InvoiceKind.ORDINARY.value)
    medium = SelectField(_l("Medium"),
                         choices=list(_choices(INVOICE_MEDIUM_LABELS)),
                         default=InvoiceMedium.ELECTRONIC.value)
    note = StringField(_l("Note"), filters=[_strip], validators=[Optional(), Length(max=500)])


class InvoiceIssueForm(FlaskForm):
    invoice_number = StringField(_l("Invoice number"), filters=[_strip],
                                 validators=[Length(max=30)])
    issued_on = DateField(_l("Invoice date"), validators=[
        InputRequired(message=_l("Give the invoice date.")), plausible_date])
    amount = YuanField(_l("Amount (¥)"), validators=[AMOUNT_REQUIRED])
    file = FileField(_l("Invoice file (PDF or OFD)"))


class InvoiceRefuseForm(FlaskForm):
    reason = StringField(_l("Reason"), filters=[_strip], validators=[Length(max=500)])


class InvoiceReverseForm(FlaskForm):
    red_number = StringField(_l("Red-letter invoice number"), filters=[_strip],
                             validators=[Length(max=30)])
    issued_on = DateField(_l("Invoice date"), validators=[
        InputRequired(message=_l("Give the invoice date.")), plausible_date])
    reason = StringField(_l("Reason"), filters=[_strip], validators=[Length(max=500)])
    correction_charge_id = WholeNumberField(_l("Correcting line (id, optional)"),
                                            validators=[Optional()])
