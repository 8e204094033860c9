"""What statements' states, charges' kinds and billing bases are called in pages, exports,
messages and the audit log."""

from flask_babel import lazy_gettext as _l

from labbook.billing.models import BillingBasis, ChargeKind, StatementState

STATE_LABELS = {StatementState.DRAFT: _l("Draft"), StatementState.ISSUED: _l("Issued"),
                StatementState.PAID: _l("Paid")}
KIND_LABELS = {
    ChargeKind.USAGE: _l("Instrument use"),
    ChargeKind.NO_SHOW: _l("No-show"),
    ChargeKind.LATE_CANCELLATION: _l("Late cancellation"),
    ChargeKind.SERVICE: _l("Testing service"),
    ChargeKind.ADJUSTMENT: _l("Adjustment"),
}
BASIS_LABELS = {BillingBasis.BOOKED: _l("Booked time"), BillingBasis.ACTUAL: _l("Actual use"),
                BillingBasis.LARGER: _l("The larger of booked and actual")}
