"""Forms of the billing pages: month close, statement actions, adjustments, rate cards and the
list filters. Amounts and months are read by the same rules as the API (services.parse_*), so
the browser and the API refuse the same input with the same words."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.validators import ValidationError as FieldError

from labbook.accounts.labels import TIER_LABELS
from labbook.accounts.models import PriceTier
from labbook.billing import services
from labbook.billing.labels import BASIS_LABELS, STATE_LABELS
from labbook.billing.models import BillingBasis
from labbook.core.errors import DomainError
from labbook.i18n import lazy_gettext as _l
from labbook.web import plausible_date


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _valid_period(_form: FlaskForm, field: SelectField) -> None:
    if field.data:
        try:
            field.data = services.parse_period(field.data)
        except DomainError as error:
            raise FieldError(error.message) from None


class YuanField(StringField):
    """An amount in yuan with at most two decimals; ``data`` is a Decimal (or None)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        text = valuelist[0].strip() if valuelist else ""
        self.data = None
        if not text:
            raise ValueError(_l("Enter the amount in yuan, e.g. 120.50."))
        try:
            self.data = services.parse_amount(text, self.name)
        except DomainError as error:
            raise ValueError(error.message) from None

    def _value(self) -> str:
        # What was typed, refused or not, so that a mistyped amount is shown to be corrected
        # rather than lost (as WTForms' own number fields do).
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)


class WholeNumberField(IntegerField):
    """An integer with our own message for blanks and non-numbers (ranges are the service's)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        text = valuelist[0].strip() if valuelist else ""
        self.data = None
        try:
            self.data = int(text)
        except ValueError:
            raise ValueError(_l("Enter a whole number.")) from None


# -- statements -----------------------------------------------------------------------------------


class CloseMonthForm(FlaskForm):
    """Close one month; the view offers the months left to close
    (``services.closable_periods``)."""

    period = SelectField(_l("Month"), validate_choice=False, validators=[
        InputRequired(message=_l("Choose the month to close.")), _valid_period])


class MarkPaidForm(FlaskForm):
    note = TextAreaField(_l("Payment note (optional)"), filters=[_strip],
                         validators=[Optional(), Length(max=services.MAX_REASON)],
                         description=_l("E.g. the bank transfer's reference."),
                         render_kw={"maxlength": services.MAX_REASON, "rows": 2})


class StatementFilterForm(FlaskForm):
    """Filters of the statements list, read from the query string."""

    class Meta:
        csrf = False

    period = SelectField(_l("Month"), validate_choice=False, validators=[_valid_period])
    organization = SelectField(_l("Organization"), default="")
    state = SelectField(_l("State"), default="", choices=[SelectChoice("", _l("Any state"))] + [
        SelectChoice(state.value, label) for state, label in STATE_LABELS.items()])


# -- charges and adjustments ----------------------------------------------------------------------


class ChargeFilterForm(FlaskForm):
    """Filters of the unbilled charges list, read from the query string."""

    class Meta:
        csrf = False

    lab = SelectField(_l("Lab"), default="")
    period = SelectField(_l("Month"), validate_choice=False, validators=[_valid_period])


class StatementAdjustmentForm(FlaskForm):
    """A manual line on a draft statement: its organization is the statement's."""

    lab_id = SelectField(_l("Lab"), coerce=int,
                         validators=[InputRequired(message=_l("Choose the lab."))])
    amount = YuanField(_l("Amount (¥)"),
                       description=_l("A charge is positive; a credit is negative, "
                                      "e.g. -120.00."))
    reason = TextAreaField(_l("Reason"), filters=[_strip], validators=[
        DataRequired(message=_l("Give the reason for the adjustment.")),
        Length(max=services.MAX_REASON)],
        description=_l("Printed on the statement, e.g. “Refund: run aborted by an instrument "
                       "fault on 3 May”."),
        render_kw={"maxlength": services.MAX_REASON, "rows": 2})


class AdjustmentForm(StatementAdjustmentForm):
    """A manual line for an organization's next statement."""

    organization_id = SelectField(_l("Organization"), coerce=int, validators=[
        InputRequired(message=_l("Choose the organization."))])


# -- rate cards ---------------------------------------------------------------------------------


class RateCardForm(FlaskForm):
    tier = SelectField(_l("Price tier"), choices=[
        SelectChoice(tier.value, label) for tier, label in TIER_LABELS.items()],
        validators=[InputRequired(message=_l("Choose the price tier."))])
    effective_from = DateField(
        _l("Effective from"), validators=[
            InputRequired(message=_l("Enter the first day of the new rate.")), plausible_date],
        invalid_value_message=_l("Enter a date like 2026-12-31."),
        description=_l("A lab date, today or later: bookings from this day on are charged at "
                       "this rate."))
    hourly_rate = YuanField(_l("Hourly rate (¥)"))
    billing_basis = SelectField(_l("Billing basis"), choices=[
        SelectChoice(basis.value, label) for basis, label in BASIS_LABELS.items()],
        validators=[InputRequired(message=_l("Choose the billing basis."))])
    rounding_minutes = WholeNumberField(
        _l("Rounding increment (minutes)"),
        description=_l("Billed time is rounded up to a multiple of this."),
        render_kw={"min": 1, "max": services.MAX_RULE_MINUTES})
    minimum_minutes = WholeNumberField(
        _l("Minimum billable minutes"),
        render_kw={"min": 0, "max": services.MAX_RULE_MINUTES})
    no_show_percent = WholeNumberField(
        _l("No-show share (%)"),
        description=_l("Share of the booked time's charge billed when nobody comes."),
        render_kw={"min": 0, "max": 100})
    late_cancel_percent = WholeNumberField(
        _l("Late-cancellation share (%)"),
        description=_l("Share billed for a cancellation inside the instrument's cancellation "
                       "window."),
        render_kw={"min": 0, "max": 100})

    def values(self) -> services.RateCardInput:
        return services.RateCardInput(
            tier=PriceTier(self.tier.data), effective_from=self.effective_from.data,
            hourly_rate=self.hourly_rate.data,
            billing_basis=BillingBasis(self.billing_basis.data),
            rounding_minutes=self.rounding_minutes.data,
            minimum_minutes=self.minimum_minutes.data,
            no_show_percent=self.no_show_percent.data,
            late_cancel_percent=self.late_cancel_percent.data)
