"""Forms of the booking pages: the booking form (lab-local date and times) and cancellations."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    widgets,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from labbook.booking.recurrence import MAX_OCCURRENCES, Recurrence
from labbook.booking.services import MAX_NOTE, MAX_PROJECT_REF, MAX_PURPOSE
from labbook.catalogue.models import MAX_CHANNELS
from labbook.i18n import lazy_gettext as _l
from labbook.web import plausible_date

#: Dates outside this range are typing mistakes, and would overflow when converted to UTC.

WEEKDAY_CHOICES = [SelectChoice(str(day), label) for day, label in enumerate(
    [_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
     _l("Saturday"), _l("Sunday")])]


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _channels_field() -> IntegerField:
    """How many of an instrument's channels a booking, or a wish for one, takes (asked on the
    pages of instruments with several only)."""
    return IntegerField(_l("Channels"), default=1, validators=[
        Optional(), NumberRange(min=1, max=MAX_CHANNELS)],
        description=_l("How many of the instrument's channels or places you need."))


class BookingForm(FlaskForm):
    """A booking in lab time (Asia/Shanghai); optionally a repeating series."""

    date = DateField(_l("Date"), validators=[
        InputRequired(message=_l("Choose the day.")), plausible_date])
    start_time = TimeField(_l("Start"), validators=[
        InputRequired(message=_l("Give the start time."))])
    end_time = TimeField(_l("End"), validators=[
        InputRequired(message=_l("Give the end time."))])
    end_date = DateField(_l("End date"), validators=[Optional(), plausible_date],
                         description=_l("Only for bookings that run over several days."))
    purpose = TextAreaField(_l("Purpose"), filters=[_strip], validators=[
        DataRequired(message=_l("Please say what the booking is for.")),
        Length(max=MAX_PURPOSE)],
        description=_l("What you will measure or make, e.g. “XRD phase analysis of cathode "
                       "powder, 6 samples”."))
    project_ref = StringField(_l("Project or PO reference"), filters=[_strip], validators=[
        Optional(), Length(max=MAX_PROJECT_REF)],
        description=_l("Printed on the statement, e.g. your purchase order number."))
    channels = _channels_field()
    for_user = StringField(_l("Book for (email)"), filters=[_strip], validators=[
        Optional(), Length(max=254)],
        description=_l("Leave empty to book for yourself. The person booked for is told by "
                       "email, and their organization pays."))
    repeat = RadioField(_l("Repeat"), default="none", choices=[
        SelectChoice("none", _l("Does not repeat")), SelectChoice("daily", _l("Every day")),
        SelectChoice("weekly", _l("Every week"))])
    weekdays = CheckboxesField(_l("On these weekdays"), coerce=int, choices=WEEKDAY_CHOICES,
                               validators=[Optional()],
                               description=_l("Weekly only; none ticked means the weekday "
                                              "of the first booking."))
    count = IntegerField(_l("Number of bookings"), validators=[
        Optional(), NumberRange(min=1, max=MAX_OCCURRENCES)])
    until = DateField(_l("Or until (last day)"), validators=[Optional(), plausible_date])
    skip_conflicts = BooleanField(_l("Book the free ones and tell me which were skipped"))
    override = BooleanField(_l("Override soft rules (notice, horizon, opening hours, quota, "
                               "grid)"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.repeat.data == "none":
            return valid
        if self.for_user.data:
            self.for_user.errors = [*self.for_user.errors, _l(
                "A series cannot be booked on someone's behalf; book its dates one by one.")]
            valid = False
        if (self.count.data is None) == (self.until.data is None) \
                and not self.count.errors and not self.until.errors:
            self.count.errors = [*self.count.errors,
                                 _l("Give either a number of bookings or a last day.")]
            valid = False
        if self.weekdays.data and self.repeat.data != "weekly":
            self.weekdays.errors = [*self.weekdays.errors,
                                    _l("Weekdays can only be chosen for weekly repeats.")]
            valid = False
        if self.until.data and self.date.data and self.until.data < self.date.data:
            self.until.errors = [*self.until.errors,
                                 _l("The last day cannot be before the first booking.")]
            valid = False
        return valid

    def interval(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        """The booking's start and end as aware UTC, from the lab-local fields."""
        start = dt.datetime.combine(self.date.data, self.start_time.data, tz)
        end = dt.datetime.combine(self.end_date.data or self.date.data, self.end_time.data, tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    def recurrence(self) -> Recurrence | None:
        if self.repeat.data not in ("daily", "weekly"):
            return None
        return Recurrence(frequency=self.repeat.data,
                          weekdays=tuple(sorted(set(self.weekdays.data or ()))),
                          count=self.count.data, until=self.until.data)


class ChangeForm(FlaskForm):
    """A booking's new time, in lab time (Asia/Shanghai)."""

    date = DateField(_l("Date"), validators=[
        InputRequired(message=_l("Choose the day.")), plausible_date])
    start_time = TimeField(_l("Start"), validators=[
        InputRequired(message=_l("Give the start time."))])
    end_time = TimeField(_l("End"), validators=[
        InputRequired(message=_l("Give the end time."))])
    end_date = DateField(_l("End date"), validators=[Optional(), plausible_date],
                         description=_l("Only for bookings that run over several days."))
    note = StringField(_l("Note (optional)"), filters=[_strip],
                       validators=[Optional(), Length(max=MAX_NOTE)])
    override = BooleanField(_l("Override soft rules (notice, horizon, opening hours, quota, "
                               "grid)"))

    def interval(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.combine(self.date.data, self.start_time.data, tz)
        end = dt.datetime.combine(self.end_date.data or self.date.data, self.end_time.data, tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


class DecideChangeForm(FlaskForm):
    note = StringField(_l("Note (required to turn it down)"), filters=[_strip],
                       validators=[Optional(), Length(max=MAX_NOTE)])


class WaitlistForm(FlaskForm):
    """A wish for time in lab time: from a day and time to another, for a length."""

    date = DateField(_l("From (day)"), validators=[
        InputRequired(message=_l("Choose the day.")), plausible_date])
    start_time = TimeField(_l("From (time)"), validators=[
        InputRequired(message=_l("Give the start time."))])
    end_date = DateField(_l("Until (day)"), validators=[Optional(), plausible_date],
                         description=_l("Empty: the same day."))
    end_time = TimeField(_l("Until (time)"), validators=[
        InputRequired(message=_l("Give the end time."))])
    minutes = IntegerField(_l("Length (minutes)"), validators=[Optional(), NumberRange(min=1)],
                           description=_l("Empty: exactly this slot. Give a length to take "
                                          "any free slot that long within the window."))
    channels = _channels_field()
    purpose = TextAreaField(_l("Purpose"), filters=[_strip], validators=[
        DataRequired(message=_l("Please say what the booking is for.")),
        Length(max=MAX_PURPOSE)])

    def window(self, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
        start = dt.datetime.combine(self.date.data, self.start_time.data, tz)
        end = dt.datetime.combine(self.end_date.data or self.date.data, self.end_time.data, tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


class CancelForm(FlaskForm):
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=MAX_NOTE)])
    next = HiddenField()


class CancelSeriesForm(FlaskForm):
    from_date = DateField(_l("From this day on"), validators=[Optional(), plausible_date],
                          description=_l("Leave empty to cancel every booking of the series "
                                         "that is still to come."))
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=MAX_NOTE)])
    next = HiddenField()
