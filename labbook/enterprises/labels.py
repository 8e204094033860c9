"""Display names of registrations' and requests' states, for pages, emails and the audit log."""

from labbook.enterprises.models import JoinRequestState, RegistrationState
from labbook.i18n import lazy_gettext as _l

REGISTRATION_STATE_LABELS = {
    RegistrationState.UNCONFIRMED: _l("email not confirmed"),
    RegistrationState.PENDING: _l("waiting for a decision"),
    RegistrationState.APPROVED: _l("approved"),
    RegistrationState.REJECTED: _l("rejected"),
}
JOIN_REQUEST_STATE_LABELS = {
    JoinRequestState.UNCONFIRMED: _l("email not confirmed"),
    JoinRequestState.PENDING: _l("waiting for a decision"),
    JoinRequestState.ACCEPTED: _l("accepted"),
    JoinRequestState.DECLINED: _l("declined"),
}
