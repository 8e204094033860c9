"""Forms of the testing-service request pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.validators import ValidationError as FieldError

from labbook.core.time import is_plausible_date
from labbook.testing.models import MAX_SAMPLES, MIN_SAMPLES
from labbook.testing.services import MAX_DESCRIPTION, MAX_NOTE, MAX_NOTES


class ServiceRequestForm(FlaskForm):
    """Request a testing service; "Show price" re-renders with the quote, "Submit" requests."""

    samples = IntegerField(
        _l("Number of samples"), default=1,
        validators=[InputRequired(message=_l("Enter the number of samples.")),
                    NumberRange(min=MIN_SAMPLES, max=MAX_SAMPLES, message=_l(
                        "Enter a whole number from %(min)s to %(max)s."))],
        render_kw={"min": MIN_SAMPLES, "max": MAX_SAMPLES})
    sample_description = TextAreaField(
        _l("Sample description"),
        validators=[InputRequired(message=_l("Describe the samples.")),
                    Length(max=MAX_DESCRIPTION)],
        description=_l("Material, form, size and anything the lab should know."),
        render_kw={"maxlength": MAX_DESCRIPTION, "rows": 3})
    express = BooleanField(_l("Express"))
    notes = TextAreaField(_l("Notes (optional)"), validators=[Length(max=MAX_NOTES)],
                          render_kw={"maxlength": MAX_NOTES, "rows": 2})


class AcceptForm(FlaskForm):
    due_date = DateField(_l("Due date (optional)"), validators=[Optional()],
                         invalid_value_message=_l("Enter a date like 2026-12-31."),
                         description=_l("Empty: the turnaround in working days from today."))
    note = TextAreaField(_l("Note to the requester"), validators=[Length(max=MAX_NOTE)])

    def validate_due_date(self, field) -> None:
        if field.data and not is_plausible_date(field.data):
            raise FieldError(_l("Enter a date like 2026-12-31."))


class NoteForm(FlaskForm):
    note = TextAreaField(_l("Note to the requester"), validators=[Length(max=MAX_NOTE)])


class CompleteForm(FlaskForm):
    report = FileField(_l("Report (PDF, optional)"))
