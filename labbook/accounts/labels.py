"""Display names of account values, for pages, exports, messages and the audit log."""

from labbook.accounts.models import OrganizationStatus, PriceTier, Role
from labbook.i18n import lazy_gettext as _l

TIER_LABELS = {PriceTier.INTERNAL: _l("Internal"), PriceTier.PARTNER: _l("Partner"),
               PriceTier.EXTERNAL: _l("External")}
ROLE_LABELS = {Role.RESEARCHER: _l("Researcher"), Role.LAB_MANAGER: _l("Lab manager"),
               Role.ADMIN: _l("Admin")}
#: An organization's status as a form offers it, and as the audit log reads it in a sentence.
ORGANIZATION_STATUS_CHOICES = {OrganizationStatus.ACTIVE: _l("Active"),
                               OrganizationStatus.SUSPENDED: _l("Suspended (cannot book)")}
ORGANIZATION_STATUS_LABELS = {OrganizationStatus.ACTIVE: _l("active"),
                              OrganizationStatus.SUSPENDED: _l("suspended")}
#: An organization's status standing on its own: its badge and the filter of the list.
ORGANIZATION_STATUS_TITLES = {OrganizationStatus.ACTIVE: _l("Active"),
                              OrganizationStatus.SUSPENDED: _l("Suspended")}
#: A user's account as the audit log keeps it (``is_active``: ``active`` or ``inactive``).
ACCOUNT_STATUS_LABELS = {"active": _l("active"), "inactive": _l("deactivated")}
#: A user's account standing on its own, by ``is_active``: its badge and the filter of the list.
ACCOUNT_STATUS_TITLES = {True: _l("Active"), False: _l("Deactivated")}
#: The languages labbook speaks, each named in itself.
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}
