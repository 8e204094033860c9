"""What bookings' states are called in pages, exports, messages and the audit log.

Lower case, as they are read inside a sentence ("a booking that is approved").
"""

from flask_babel import lazy_gettext as _l

from labbook.booking.models import BookingState

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
