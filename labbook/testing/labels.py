"""What testing-service requests' states are called in pages, messages and the audit log."""

from labbook.i18n import lazy_gettext as _l
from labbook.testing.models import ServiceRequestState

STATE_LABELS = {
    ServiceRequestState.SUBMITTED: _l("Submitted"),
    ServiceRequestState.ACCEPTED: _l("Accepted"),
    ServiceRequestState.IN_PROGRESS: _l("In progress"),
    ServiceRequestState.COMPLETED: _l("Completed"),
    ServiceRequestState.REJECTED: _l("Rejected"),
    ServiceRequestState.CANCELLED: _l("Cancelled"),
}
