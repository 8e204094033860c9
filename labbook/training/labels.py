"""What training requests', sessions' and enrolments' states are called in pages, emails and
the audit log."""

from labbook.i18n import lazy_gettext as _l
from labbook.training.models import EnrolmentState, ExamResult, RequestState, SessionState

REQUEST_STATE_LABELS = {
    RequestState.OPEN: _l("waiting for a session"),
    RequestState.SCHEDULED: _l("enrolled in a session"),
    RequestState.DECLINED: _l("declined"),
    RequestState.WITHDRAWN: _l("withdrawn"),
}

SESSION_STATE_LABELS = {
    SessionState.SCHEDULED: _l("scheduled"),
    SessionState.CANCELLED: _l("cancelled"),
}

ENROLMENT_STATE_LABELS = {
    EnrolmentState.ENROLLED: _l("enrolled"),
    EnrolmentState.ATTENDED: _l("attended"),
    EnrolmentState.ABSENT: _l("absent"),
    EnrolmentState.CANCELLED: _l("cancelled"),
}

EXAM_RESULT_LABELS = {
    ExamResult.PASSED: _l("passed"),
    ExamResult.FAILED: _l("failed"),
}
