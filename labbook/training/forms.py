"""Forms of the training pages (lab-local dates and times)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from labbook.i18n import lazy_gettext as _l
from labbook.training.models import MAX_CAPACITY
from labbook.training.services import MAX_LOCATION, MAX_NOTE, MAX_VALID_DAYS
from labbook.web import plausible_date


class TrainingRequestForm(FlaskForm):
    instrument_id = SelectField(_l("Instrument"), coerce=int,
                                validators=[InputRequired(message=_l("Choose an instrument."))])
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=MAX_NOTE)],
                         description=_l("E.g. what you will measure, when you could come."))


class SessionForm(FlaskForm):
    instrument_id = SelectField(_l("Instrument"), coerce=int,
                                validators=[InputRequired(message=_l("Choose an instrument."))])
    date = DateField(_l("Date"), validators=[InputRequired(message=_l("Choose the day.")),
                                             plausible_date])
    start_time = TimeField(_l("Start"), validators=[
        InputRequired(message=_l("Give the start time."))])
    end_time = TimeField(_l("End"), validators=[InputRequired(message=_l("Give the end time."))])
    trainer_email = StringField(_l("Trainer's email"), validators=[
        DataRequired(message=_l("Say who trains.")), Length(max=254)])
    capacity = IntegerField(_l("Places"), default=4, validators=[
        InputRequired(message=_l("Give the number of places.")),
        NumberRange(min=1, max=MAX_CAPACITY)])
    location = StringField(_l("Where (optional)"), validators=[Optional(),
                                                               Length(max=MAX_LOCATION)])
    valid_days = IntegerField(_l("Qualification valid for (days)"), default=365, validators=[
        Optional(), NumberRange(min=1, max=MAX_VALID_DAYS)],
        description=_l("Empty: a passed exam grants a record without expiry."))


class DeclineForm(FlaskForm):
    note = StringField(_l("Reason"), validators=[
        DataRequired(message=_l("Say why, so that the person knows what to do.")),
        Length(max=MAX_NOTE)])


class EnrolForm(FlaskForm):
    user_email = StringField(_l("Email of the person to enrol"), validators=[
        DataRequired(message=_l("Give an email address.")), Length(max=254)])
