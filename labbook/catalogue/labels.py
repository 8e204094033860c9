"""What instruments' statuses are called in pages, messages and the audit log."""

from flask_babel import lazy_gettext as _l

from labbook.catalogue.models import InstrumentStatus

STATUS_LABELS = {InstrumentStatus.AVAILABLE: _l("Available"),
                 InstrumentStatus.MAINTENANCE: _l("Under maintenance"),
                 InstrumentStatus.RETIRED: _l("Retired")}
