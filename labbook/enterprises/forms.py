"""Registering an enterprise, asking to join one, accepting an invitation, and the forms of an
organization's admins and of labbook's admins deciding on registrations."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from labbook.accounts.labels import TIER_LABELS
from labbook.accounts.models import PriceTier
from labbook.i18n import lazy_gettext as _l

_PASSWORD_HELP = _l("At least 10 characters, letters mixed with digits or symbols; not your "
                    "email address or name.")


class PersonFields(FlaskForm):
    """The person who registers, asks to join or accepts an invitation."""

    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Your mobile phone (optional)"),
                        validators=[Optional(), Length(max=32)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             description=_PASSWORD_HELP)
    confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


class RegistrationForm(PersonFields):
    organization_name = StringField(_l("Enterprise name (as on the business licence)"),
                                    validators=[DataRequired(), Length(max=200)])
    uscc = StringField(_l("Unified social credit code"),
                       validators=[DataRequired(), Length(max=40)],
                       description=_l("The 18 characters on the business licence."))
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=300)])
    contact_phone = StringField(_l("Enterprise phone"),
                                validators=[DataRequired(), Length(max=32)])
    licence = FileField(_l("Business licence image (optional, PNG or JPEG, at most 5 MB)"))
    email = EmailField(_l("Your email"), validators=[DataRequired(), Length(max=254)],
                       description=_l("We send a link to it that confirms your registration."))
    submit = SubmitField(_l("Register"))


class JoinRequestForm(PersonFields):
    uscc = StringField(_l("Unified social credit code of your enterprise"),
                       validators=[DataRequired(), Length(max=40)])
    email = EmailField(_l("Your email"), validators=[DataRequired(), Length(max=254)])
    message = TextAreaField(_l("A word to the enterprise's admin (optional)"),
                            validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Ask to join"))


class InvitationAcceptForm(PersonFields):
    submit = SubmitField(_l("Create my account"))


class InviteForm(FlaskForm):
    email = EmailField(_l("Colleague's email"), validators=[DataRequired(), Length(max=254)])
    submit = SubmitField(_l("Invite"))


class BillingContactForm(FlaskForm):
    contact = SelectField(_l("Billing contact"), coerce=int, validate_choice=False)
    submit = SubmitField(_l("Save"))


class ApproveForm(FlaskForm):
    tier = SelectField(_l("Price tier"), default=PriceTier.EXTERNAL.value,
                       choices=[SelectChoice(tier.value, label)
                                for tier, label in TIER_LABELS.items()])
    submit = SubmitField(_l("Approve"))


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Reason (the registrant reads it)"),
                           validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField(_l("Reject"))
