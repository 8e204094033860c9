"""The channels a person chooses, and a lab's WeCom robot."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import Length, Optional

from labbook.i18n import lazy_gettext as _l
from labbook.notify.models import Topic


class ChannelsForm(FlaskForm):
    """One box per kind of message: SMS as well as email."""

    sms_bookings = BooleanField()
    sms_test_requests = BooleanField()
    sms_approvals = BooleanField()
    sms_billing = BooleanField()
    submit = SubmitField(_l("Save"))

    def sms_field(self, topic: Topic) -> BooleanField:
        return self[f"sms_{topic.value}"]


class LabRobotForm(FlaskForm):
    webhook_url = StringField(_l("Webhook address of the group robot"),
                              validators=[Optional(), Length(max=254)],
                              description=_l("In the WeCom group: add a group robot and copy its "
                                             "webhook address. Leave empty to remove it."))
    approvals = BooleanField(_l("Bookings to approve"))
    orders = BooleanField(_l("New test requests and orders"))
    faults = BooleanField(_l("Fault reports"))
    submit = SubmitField(_l("Save"))
