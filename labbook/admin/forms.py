"""Forms of the administration pages.

The forms only read what was typed (a number, an amount, a choice); the services check the
values against the catalogue's and the accounts' rules and say which field is wrong, so the
pages, the files and the command line refuse the same things with the same words.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileRequired, MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from labbook.accounts.labels import (
    LOCALE_NAMES,
    ORGANIZATION_STATUS_CHOICES,
    ROLE_LABELS,
    TIER_LABELS,
)
from labbook.billing.forms import WholeNumberField, YuanField
from labbook.catalogue.labels import STATUS_LABELS
from labbook.catalogue.services import MAX_STATUS_REASON
from labbook.core.ids import database_id
from labbook.i18n import lazy_gettext as _l
from labbook.web import plausible_date

LOCALE_CHOICES = [SelectChoice(code, name) for code, name in LOCALE_NAMES.items()]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _id_or_none(value: Any) -> int | None:
    """A chosen id; None for "none chosen" (and for anything that is not an id), which the
    service then refuses in its own words where a choice is needed."""
    try:
        return database_id(value)
    except (TypeError, ValueError):
        return None


def _text(label, **kwargs) -> StringField:
    return StringField(label, filters=[_strip], **kwargs)


def _area(label, **kwargs) -> TextAreaField:
    return TextAreaField(label, filters=[_strip], **kwargs)


def _labelled(labels: Mapping[enum.StrEnum, Any]) -> list[SelectChoice]:
    """A select's choices from one of the ``*_LABELS`` mappings, in its order."""
    return [SelectChoice(value.value, label) for value, label in labels.items()]


def _choice(label, **kwargs) -> SelectField:
    return SelectField(label, coerce=_id_or_none, validate_choice=False, **kwargs)


# -- instruments and testing services ---------------------------------------------------------


class BlankIsOneField(WholeNumberField):
    """A whole number left blank for the usual one (an instrument's channels)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        super().process_formdata(valuelist)


class InstrumentForm(FlaskForm):
    """An instrument's details and booking rules (the catalogue file's columns)."""

    name_zh = _text(_l("Name (Chinese)"))
    name_en = _text(_l("Name (English)"))
    category_id = _choice(_l("Category"))
    model = _text(_l("Model"))
    manufacturer = _text(_l("Manufacturer"))
    purchase_year = WholeNumberField(_l("Year of purchase"))
    value_cny = YuanField(_l("Purchase value (¥)"))
    room = _text(_l("Room"))
    specs_zh = _area(_l("Key specifications (Chinese)"))
    functions_zh = _area(_l("Functions (Chinese)"))
    slot_minutes = WholeNumberField(_l("Slot grid (minutes)"), description=_l(
        "Bookings start and end on this grid, counted from midnight."))
    min_minutes = WholeNumberField(_l("Shortest booking (minutes)"))
    max_minutes = WholeNumberField(_l("Longest booking (minutes)"))
    min_notice_minutes = WholeNumberField(_l("Minimum notice (minutes)"), description=_l(
        "How long before its start a booking must be made."))
    horizon_days = WholeNumberField(_l("Booking horizon (days)"), description=_l(
        "How far ahead bookings may be made."))
    buffer_minutes = WholeNumberField(_l("Buffer after each booking (minutes)"), description=_l(
        "Time kept free after a booking, e.g. for cleaning or cooling down."))
    cancellation_window_hours = WholeNumberField(_l("Cancellation window (hours)"),
                                                 description=_l(
        "A cancellation by the user this close to the start is billed as late."))
    channels = BlankIsOneField(_l("Channels or places"), description=_l(
        "How many bookings may use it at once, e.g. a battery cycler's channels; 1 for an "
        "instrument one booking takes whole."))
    requires_approval = BooleanField(_l("Bookings need a manager's approval"))
    requires_qualification = BooleanField(_l("Only trained users may book"))


class NewInstrumentForm(InstrumentForm):
    code = _text(_l("Asset number"), description=_l("E.g. NEM-001: the lab's code, a hyphen "
                                                   "and a number. It never changes."))


class InstrumentStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=_labelled(STATUS_LABELS),
                         validators=[InputRequired(message=_l("Choose a status."))])
    reason = _text(_l("Reason"), validators=[
        DataRequired(message=_l("Say why, e.g. “annual calibration until 15 December”.")),
        Length(max=MAX_STATUS_REASON)],
        description=_l("Shown on the instrument's page while it is under maintenance or "
                       "retired."))


class ServiceForm(FlaskForm):
    """A testing service's description, prices and instruments (the catalogue file's
    columns)."""

    name_zh = _text(_l("Name (Chinese)"))
    name_en = _text(_l("Name (English)"))
    category_id = _choice(_l("Category"))
    standard = _text(_l("Standard"), description=_l("E.g. GB/T 228.1-2021."))
    sample_requirements_zh = _area(_l("Sample requirements (Chinese)"))
    sample_requirements_en = _area(_l("Sample requirements (English)"))
    turnaround_days = WholeNumberField(_l("Turnaround (days)"))
    price_internal = YuanField(_l("Price per sample, internal (¥)"))
    price_partner = YuanField(_l("Price per sample, partner (¥)"))
    price_external = YuanField(_l("Price per sample, external (¥)"))
    express_surcharge_percent = WholeNumberField(_l("Express surcharge (%)"))
    instrument_ids = SelectMultipleField(_l("Instruments used"), coerce=int,
                                         validate_choice=False)


class NewServiceForm(ServiceForm):
    code = _text(_l("Code"), description=_l("E.g. NEM-S001: the lab's code, “-S” and a "
                                            "number. It never changes."))


class CatalogueUploadForm(FlaskForm):
    files = MultipleFileField(_l("Catalogue files"), validators=[
        FileRequired(message=_l("Choose the catalogue files, or a zip file holding them."))],
        description=_l("labs.csv, categories.csv, instruments.csv, services.csv and "
                       "manifest.csv — each on its own, or together in one zip file."))


class CatalogueApplyForm(FlaskForm):
    """The confirmation of a previewed import; it carries the previewed files back."""

    payload = HiddenField(validators=[DataRequired()])
    fingerprint = HiddenField(validators=[DataRequired()])
    confirm = BooleanField(_l("I have checked these changes; import them."), validators=[
        DataRequired(message=_l("Tick the box to confirm that you checked the changes."))])


# -- organizations and users ------------------------------------------------------------------


class OrganizationForm(FlaskForm):
    name = _text(_l("Name"))
    uscc = _text(_l("Unified social credit code"), description=_l(
        "统一社会信用代码: 18 characters; the last one is a check character."))
    tier = SelectField(_l("Price tier"), choices=_labelled(TIER_LABELS))
    weekly_quota_hours = WholeNumberField(_l("Weekly quota (hours)"), validators=[Optional()],
                                          description=_l("Hours per week its people may hold in "
                                                         "all; empty for no quota."))


class EditOrganizationForm(OrganizationForm):
    status = SelectField(_l("Status"), choices=_labelled(ORGANIZATION_STATUS_CHOICES))
    billing_contact_id = _choice(_l("Billing contact"), description=_l(
        "The member who receives the monthly statements."))
    colleagues_may_book_for_each_other = BooleanField(
        _l("Colleagues may book for each other"),
        description=_l("Members book instruments on behalf of one another; the organization "
                       "pays, and the one booked for is told."))


class UserForm(FlaskForm):
    email = EmailField(_l("Email"), filters=[_strip],
                       validators=[DataRequired(message=_l("Give an email address.")),
                                   Length(max=254)])
    name = _text(_l("Name"), validators=[DataRequired(message=_l("Give the person's name.")),
                                         Length(max=100)])
    phone = _text(_l("Phone"), validators=[Length(max=32)])
    organization_id = _choice(_l("Organization"))
    role = SelectField(_l("Role"), choices=_labelled(ROLE_LABELS))
    lab_ids = SelectMultipleField(_l("Labs managed"), coerce=database_id, validate_choice=False,
                                  description=_l("Lab managers only."))
    locale = SelectField(_l("Language"), choices=LOCALE_CHOICES)


# -- the audit log ----------------------------------------------------------------------------


class AuditFilterForm(FlaskForm):
    """The audit log's filters, read from the query string."""

    class Meta:
        csrf = False

    person = _text(_l("Person"), validators=[Length(max=100)],
                   description=_l("Part of the name or email of who acted."))
    object_type = SelectField(_l("Object"), validate_choice=False)
    object_id = IntegerField(_l("Object id"), validators=[
        Optional(), NumberRange(min=1, max=2**31 - 1, message=_l("Enter an id, e.g. 42."))],
        invalid_value_message=_l("Enter an id, e.g. 42."))
    action = _text(_l("Action"), validators=[Length(max=40)])
    date_from = DateField(_l("From (lab date)"), validators=[Optional(), plausible_date],
                          invalid_value_message=_l("Enter a date like 2026-12-31."))
    date_to = DateField(_l("To (lab date)"), validators=[Optional(), plausible_date],
                        invalid_value_message=_l("Enter a date like 2026-12-31."))
