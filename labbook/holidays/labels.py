"""What the kinds of statutory days and the festivals are called in pages and the audit log."""

from labbook.holidays.models import DayKind, Festival
from labbook.i18n import lazy_gettext as _l

KIND_LABELS = {
    DayKind.HOLIDAY: _l("public holiday"),
    DayKind.MAKEUP_WORKDAY: _l("make-up working day"),
}

FESTIVAL_LABELS = {
    Festival.NEW_YEAR: _l("New Year's Day"),
    Festival.SPRING_FESTIVAL: _l("Spring Festival"),
    Festival.TOMB_SWEEPING: _l("Tomb-sweeping Day"),
    Festival.LABOUR_DAY: _l("Labour Day"),
    Festival.DRAGON_BOAT: _l("Dragon Boat Festival"),
    Festival.MID_AUTUMN: _l("Mid-autumn Festival"),
    Festival.NATIONAL_DAY: _l("National Day"),
    Festival.OTHER: _l("Other"),
}
