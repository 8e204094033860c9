"""What orders, lines, samples, results and reports are called in pages, emails and the log."""

from labbook.i18n import lazy_gettext as _l
from labbook.orders.models import (
    Capability,
    Conclusion,
    Disposition,
    IntakeStatus,
    LineState,
    OrderState,
    Remains,
    ReportLanguage,
    ReportState,
)

ORDER_STATE_LABELS = {
    OrderState.SUBMITTED: _l("Submitted"),
    OrderState.RECEIVED: _l("Samples received"),
    OrderState.COMPLETED: _l("Testing completed"),
    OrderState.REFUSED: _l("Samples refused"),
    OrderState.CANCELLED: _l("Cancelled"),
}

LINE_STATE_LABELS = {
    LineState.WAITING: _l("Awaiting samples"),
    LineState.RECEIVED: _l("Samples received"),
    LineState.IN_PROGRESS: _l("In progress"),
    LineState.COMPLETED: _l("Completed"),
    LineState.REFUSED: _l("Samples refused"),
    LineState.CANCELLED: _l("Cancelled"),
}

INTAKE_LABELS = {
    IntakeStatus.PENDING: _l("Not received yet"),
    IntakeStatus.ACCEPTED: _l("Accepted"),
    IntakeStatus.ACCEPTED_WITH_REMARK: _l("Accepted with a remark"),
    IntakeStatus.REFUSED: _l("Refused"),
}

REMAINS_LABELS = {
    Remains.RETURN: _l("Return the remains to me"),
    Remains.DISPOSE: _l("The lab disposes of the remains"),
}

DISPOSITION_LABELS = {
    Disposition.RETURNED: _l("Returned"),
    Disposition.DISPOSED: _l("Disposed of"),
}

LANGUAGE_LABELS = {
    ReportLanguage.ZH_CN: _l("Chinese"),
    ReportLanguage.EN: _l("English"),
}

CONCLUSION_LABELS = {
    Conclusion.PASS: _l("Pass"),
    Conclusion.FAIL: _l("Fail"),
    Conclusion.NOT_JUDGED: _l("Not judged"),
}

REPORT_STATE_LABELS = {
    ReportState.PREPARED: _l("Prepared, awaiting review"),
    ReportState.REVIEWED: _l("Reviewed, awaiting approval"),
    ReportState.ISSUED: _l("Issued"),
    ReportState.SUPERSEDED: _l("Superseded"),
    ReportState.WITHDRAWN: _l("Withdrawn"),
}

CAPABILITY_LABELS = {
    Capability.ANALYST: _l("Analyst (prepares reports)"),
    Capability.REVIEWER: _l("Reviewer"),
    Capability.SIGNATORY: _l("Authorised signatory"),
}
