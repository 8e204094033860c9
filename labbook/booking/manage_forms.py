"""Forms of the lab managers' pages: decisions, closures, training records."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from labbook.booking.services import MAX_NOTE, MAX_PURPOSE
from labbook.core.ids import database_id
from labbook.i18n import lazy_gettext as _l
from labbook.web import plausible_date

DECISIONS = [SelectChoice("approve", _l("Approve")), SelectChoice("reject", _l("Reject"))]
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]


def _date_field(label, *validators) -> DateField:
    return DateField(label, validators=[*validators, plausible_date],
                     invalid_value_message=_l("Enter a date like 2026-12-31."))


def _time_field(label) -> TimeField:
    return TimeField(label, format=TIME_FORMATS,
                     validators=[InputRequired(message=_l("Enter a time."))],
                     invalid_value_message=_l("Enter a time like 09:30."))


class DecisionForm(FlaskForm):
    """Approve or reject one booking or several at once (the same note for each)."""

    action = SelectField(_l("Decision"), choices=DECISIONS,
                         validators=[InputRequired(message=_l("Choose approve or reject."))])
    booking_ids = SelectMultipleField(
        _l("Bookings"), coerce=database_id, validate_choice=False,
        validators=[DataRequired(message=_l("Select at least one booking."))])
    note = TextAreaField(_l("Note to the requester"), validators=[Length(max=MAX_NOTE)],
                         description=_l("Required when rejecting."))


class BlackoutForm(FlaskForm):
    """A closure of one instrument or a whole lab, with lab-local start and end."""

    scope = SelectField(_l("What closes"),
                        validators=[InputRequired(message=_l("Choose a lab or an instrument."))])
    start_date = _date_field(_l("Start date"), InputRequired(message=_l("Enter a date.")))
    start_time = _time_field(_l("Start time"))
    end_date = _date_field(_l("End date"), InputRequired(message=_l("Enter a date.")))
    end_time = _time_field(_l("End time"))
    reason = StringField(_l("Reason"), validators=[
        DataRequired(message=_l("Say why it closes, e.g. annual maintenance.")),
        Length(max=MAX_PURPOSE)])


class BlackoutCancelForm(FlaskForm):
    """Which of the bookings a closure hits to cancel, and what to tell their owners."""

    booking_ids = SelectMultipleField(
        _l("Bookings to cancel"), coerce=database_id,
        validators=[DataRequired(message=_l("Select at least one booking."))])
    notice = TextAreaField(_l("Notice to the people who booked"), validators=[
        DataRequired(message=_l("Tell the people who booked why their booking is cancelled.")),
        Length(max=MAX_NOTE)])


class GrantQualificationForm(FlaskForm):
    """Record that people have been trained on an instrument: one person, or everyone at a
    training session."""

    email = TextAreaField(_l("Email addresses"), validators=[
        DataRequired(message=_l("Give at least one email address.")), Length(max=20_000)],
        description=_l("One or several, separated by commas, spaces or new lines — e.g. "
                       "everyone at a training session."))
    instrument_id = SelectField(_l("Instrument"), coerce=database_id, validators=[
        InputRequired(message=_l("Choose an instrument."))])
    valid_until = _date_field(_l("Valid through (optional)"), Optional())


class RevokeQualificationsForm(FlaskForm):
    """Revoke several training records at once."""

    qualification_ids = SelectMultipleField(
        _l("Training records"), coerce=database_id, validate_choice=False,
        validators=[DataRequired(message=_l("Select at least one training record."))])


class LabBookingRulesForm(FlaskForm):
    """A lab's no-show discipline and waiting-list offer time."""

    no_show_limit = IntegerField(_l("No-shows that suspend"), validators=[
        Optional(), NumberRange(min=1, max=100)],
        description=_l("Empty: no suspension for no-shows."))
    no_show_window_days = IntegerField(_l("Within (days)"), validators=[
        InputRequired(message=_l("Give a number of days.")), NumberRange(min=1, max=365)])
    suspension_days = IntegerField(_l("Suspension (days)"), validators=[
        InputRequired(message=_l("Give a number of days.")), NumberRange(min=1, max=365)])
    waitlist_offer_minutes = IntegerField(_l("Waiting-list offers last (minutes)"), validators=[
        InputRequired(message=_l("Give a number of minutes.")), NumberRange(min=5, max=1440)])


class LabContactForm(FlaskForm):
    """Whom people ask about bookings and training in a lab (checked by the service)."""

    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=40)],
                                description=_l("e.g. 0391-3987101"))
    contact_email = StringField(_l("Contact email"), validators=[Optional(), Length(max=254)])


class LiftSuspensionForm(FlaskForm):
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=MAX_NOTE)])
