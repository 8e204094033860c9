"""Display names of deletion requests' states."""

from labbook.i18n import lazy_gettext as _l
from labbook.privacy.models import DeletionState

DELETION_STATE_LABELS = {DeletionState.PENDING: _l("waiting for an admin"),
                         DeletionState.COMPLETED: _l("deleted"),
                         DeletionState.REJECTED: _l("refused")}
