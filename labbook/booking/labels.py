"""What bookings' states are called in pages, exports, messages, calendars and the audit log.

``STATE_LABELS`` are lower case, as they are read inside a sentence ("a booking that is
approved") and in the audit log; ``STATE_TITLES`` name a state standing on its own: a booking's
badge and history, and its calendar event.
"""

from labbook.booking.models import BookingState
from labbook.i18n import lazy_gettext as _l

STATE_LABELS = {
    BookingState.PENDING: _l("pending"),
    BookingState.APPROVED: _l("approved"),
    BookingState.REJECTED: _l("rejected"),
    BookingState.CANCELLED: _l("cancelled"),
    BookingState.EXPIRED: _l("expired"),
    BookingState.IN_USE: _l("in use"),
    BookingState.COMPLETED: _l("completed"),
    BookingState.NO_SHOW: _l("no-show"),
}

STATE_TITLES = {
    BookingState.PENDING: _l("Awaiting approval"),
    BookingState.APPROVED: _l("Approved"),
    BookingState.IN_USE: _l("In use"),
    BookingState.COMPLETED: _l("Completed"),
    BookingState.REJECTED: _l("Rejected"),
    BookingState.CANCELLED: _l("Cancelled"),
    BookingState.EXPIRED: _l("Expired"),
    BookingState.NO_SHOW: _l("No-show"),
}
