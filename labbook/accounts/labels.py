"""Display names of account values, for pages, exports, messages and the audit log."""

from flask_babel import lazy_gettext as _l

from labbook.accounts.models import PriceTier, Role

TIER_LABELS = {PriceTier.INTERNAL: _l("Internal"), PriceTier.PARTNER: _l("Partner"),
               PriceTier.EXTERNAL: _l("External")}
ROLE_LABELS = {Role.RESEARCHER: _l("Researcher"), Role.LAB_MANAGER: _l("Lab manager"),
               Role.ADMIN: _l("Admin")}
#: The languages labbook speaks, each named in itself.
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}
