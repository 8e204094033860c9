"""Forms of the instrument log: a user's problem report and the managers' handling of it."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from labbook.faults.labels import KIND_LABELS
from labbook.faults.models import FaultKind
from labbook.faults.services import MAX_ANSWER, MAX_DESCRIPTION, MAX_DETAIL
from labbook.i18n import lazy_gettext as _l
from labbook.web import plausible_date

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _kind_choices(*kinds: FaultKind) -> list[SelectChoice]:
    return [SelectChoice(kind.value, KIND_LABELS[kind]) for kind in kinds]


def _moment(label) -> DateTimeLocalField:
    return DateTimeLocalField(label, format=DATETIME_FORMATS,
                              validators=[Optional(), plausible_date],
                              invalid_value_message=_l("Enter a date and time like "
                                                       "2026-12-31 09:30."))


class ReportProblemForm(FlaskForm):
    description = TextAreaField(_l("What is wrong?"), validators=[
        DataRequired(message=_l("Describe the problem.")), Length(max=MAX_DESCRIPTION)],
        description=_l("What you saw, when, and what you were doing. The lab's managers are "
                       "told at once."))


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("Answer to the person who reported it"), validators=[
        DataRequired(message=_l("Write the answer.")), Length(max=MAX_ANSWER)])


class MaintenanceForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=_kind_choices(FaultKind.BREAKDOWN,
                                                         FaultKind.MAINTENANCE),
                       validators=[InputRequired()])
    reason = TextAreaField(_l("Reason shown on the instrument's page"), validators=[
        DataRequired(message=_l("Say why, e.g. “vacuum pump failed, repair expected by 15 "
                                "December”.")), Length(max=500)])


class CloseForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=_kind_choices(*FaultKind),
                       validators=[InputRequired()])
    cause = TextAreaField(_l("Cause"), validators=[Length(max=MAX_DETAIL)])
    fix = TextAreaField(_l("Fix"), validators=[Length(max=MAX_DETAIL)],
                        description=_l("Required for a breakdown or maintenance."))
    down_until = _moment(_l("Back in use since (lab time)"))
    back_in_service = BooleanField(_l("Make the instrument available again"), default=True)


class LogEntryForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=_kind_choices(FaultKind.BREAKDOWN,
                                                         FaultKind.MAINTENANCE),
                       validators=[InputRequired()])
    description = TextAreaField(_l("What happened"), validators=[
        DataRequired(message=_l("Describe the breakdown or maintenance.")),
        Length(max=MAX_DESCRIPTION)])
    down_from = _moment(_l("Out of use from (lab time)"))
    down_until = _moment(_l("Back in use at (lab time)"))
    cause = TextAreaField(_l("Cause"), validators=[Length(max=MAX_DETAIL)])
    fix = TextAreaField(_l("Fix"), validators=[Length(max=MAX_DETAIL)])
