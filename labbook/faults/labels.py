"""What the instrument log's kinds of entry and states are called in pages, emails, exports
and the audit log."""

from labbook.faults.models import FaultKind, FaultState
from labbook.i18n import lazy_gettext as _l

KIND_LABELS = {FaultKind.PROBLEM: _l("Reported problem"),
               FaultKind.BREAKDOWN: _l("Breakdown"),
               FaultKind.MAINTENANCE: _l("Maintenance")}
STATE_LABELS = {FaultState.OPEN: _l("open"), FaultState.CLOSED: _l("closed")}
