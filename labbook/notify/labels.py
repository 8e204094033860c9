"""Display names of the channels and of the kinds of message people choose channels for."""

from labbook.i18n import lazy_gettext as _l
from labbook.notify.models import Channel, Topic

CHANNEL_LABELS = {Channel.EMAIL: _l("Email"), Channel.WECOM: _l("WeCom group"),
                  Channel.SMS: _l("SMS")}
TOPIC_LABELS = {
    Topic.BOOKINGS: _l("My bookings: decisions, cancellations, reminders"),
    Topic.TEST_REQUESTS: _l("My test requests: what the lab did with them"),
    Topic.APPROVALS: _l("Bookings and test requests waiting for my decision (lab managers)"),
    Topic.BILLING: _l("Statements and month closes"),
}
#: The managers' queues a lab's WeCom robot may post.
QUEUE_LABELS = {"approvals": _l("Bookings to approve"),
                "orders": _l("New test requests and orders"),
                "faults": _l("Fault reports")}
