"""Display names of account values, for pages, exports and messages."""

from flask_babel import lazy_gettext as _l

from labbook.accounts.models import PriceTier

TIER_LABELS = {PriceTier.INTERNAL: _l("Internal"), PriceTier.PARTNER: _l("Partner"),
               PriceTier.EXTERNAL: _l("External")}
