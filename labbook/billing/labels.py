"""What statements' states, charges' kinds and billing bases are called in pages, exports,
messages and the audit log; and the names of payments' methods, balance movements, invoices'
kinds, media and states."""

from flask_babel import lazy_pgettext

from labbook.billing.models import (
    BalanceEntryKind,
    BillingBasis,
    ChargeKind,
    InvoiceKind,
    InvoiceMedium,
    InvoiceState,
    PaymentMethod,
    StatementState,
)
from labbook.i18n import lazy_gettext as _l

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
METHOD_LABELS = {
    PaymentMethod.BANK_TRANSFER: _l("Bank transfer"),
    PaymentMethod.WECHAT_PAY: _l("WeChat Pay"),
    PaymentMethod.ALIPAY: _l("Alipay"),
    PaymentMethod.CASH: _l("Cash"),
    PaymentMethod.VOUCHER: _l("Voucher"),
}
BALANCE_ENTRY_LABELS = {
    BalanceEntryKind.DEPOSIT: _l("Prepaid deposit"),
    BalanceEntryKind.OVERPAYMENT: _l("Overpayment"),
    BalanceEntryKind.CREDIT_NOTE: _l("Credit statement"),
    BalanceEntryKind.APPLIED: _l("Paid a statement"),
}
INVOICE_KIND_LABELS = {InvoiceKind.ORDINARY: _l("Ordinary invoice (普通发票)"),
                       InvoiceKind.SPECIAL: _l("Special VAT invoice (增值税专用发票)")}
INVOICE_MEDIUM_LABELS = {InvoiceMedium.ELECTRONIC: _l("Electronic"),
                         InvoiceMedium.PAPER: _l("Paper")}
INVOICE_STATE_LABELS = {
    # Not the button's "提交申请": an invoice asked for and waiting for the lab to make it out.
    InvoiceState.REQUESTED: lazy_pgettext("invoice", "Requested"),
    InvoiceState.ISSUED: _l("Issued"),
    InvoiceState.REFUSED: lazy_pgettext("invoice", "Refused"),
    InvoiceState.REVERSED: _l("Reversed (red-letter)"),
}
#: The ageing buckets' headings, in the order of ``receivables.BUCKETS``.
AGEING_LABELS = (_l("0–30 days"), _l("31–60 days"), _l("61–90 days"), _l("Over 90 days"))
