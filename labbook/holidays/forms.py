"""Forms of the holidays pages: a day of the national calendar and a lab's holiday policy."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from labbook.holidays.labels import FESTIVAL_LABELS, KIND_LABELS
from labbook.holidays.models import DayKind, Festival
from labbook.i18n import lazy_gettext as _l
from labbook.web import plausible_date


class StatutoryDayForm(FlaskForm):
    day = DateField(_l("Date"), validators=[InputRequired(), plausible_date])
    kind = SelectField(_l("Kind of day"), validators=[InputRequired()],
                       choices=[SelectChoice(k.value, KIND_LABELS[k]) for k in DayKind])
    festival = SelectField(_l("Occasion"), validators=[InputRequired()],
                           choices=[SelectChoice(f.value, FESTIVAL_LABELS[f])
                                    for f in Festival])
    source = StringField(_l("Source (optional)"), validators=[Optional(), Length(max=200)],
                         description=_l("Where the day comes from, e.g. the State Council's "
                                        "notice."))


class HolidayPolicyForm(FlaskForm):
    closes_on_holidays = BooleanField(_l("Closed on public holidays"))
    opens_on_makeup_days = BooleanField(_l("Open on make-up working days (调休)"))
