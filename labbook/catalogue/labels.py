"""What instruments' statuses, owner units' kinds and whether a testing service is offered are
called in pages, messages and the audit log."""

from labbook.catalogue.models import InstrumentStatus, OwnerKind
from labbook.i18n import lazy_gettext as _l

STATUS_LABELS = {InstrumentStatus.AVAILABLE: _l("Available"),
                 InstrumentStatus.MAINTENANCE: _l("Under maintenance"),
                 InstrumentStatus.RETIRED: _l("Retired")}
#: A testing service is offered (``is_active``) or no longer offered; the audit log keeps these
#: as ``active`` and ``retired``.
SERVICE_OFFERED_LABELS = {True: _l("Offered"), False: _l("No longer offered")}

OWNER_KIND_LABELS = {OwnerKind.INSTITUTE: _l("The institute"),
                     OwnerKind.UNIVERSITY: _l("University"),
                     OwnerKind.ENTERPRISE: _l("Enterprise")}
