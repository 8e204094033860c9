"""The audit log in the reader's language: its actions, each kind of object's states, the fields
of its details and their values.

The log keeps codes — ``approved``, ``organization_id``, moments in UTC as ISO text — so that
what it recorded never changes with a translation. Here they become words when a page shows
them: labels from the areas whose events the log holds, moments in lab time to the second, money
in yuan, and other objects by name where the page looked them up.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _

from labbook.accounts.labels import (
    ACCOUNT_STATUS_LABELS,
    LOCALE_NAMES,
    ORGANIZATION_STATUS_LABELS,
    ROLE_LABELS,
    TIER_LABELS,
)
from labbook.billing.labels import (
    BASIS_LABELS,
    INVOICE_KIND_LABELS,
    INVOICE_MEDIUM_LABELS,
    INVOICE_STATE_LABELS,
    METHOD_LABELS,
)
from labbook.billing.labels import STATE_LABELS as STATEMENT_STATES
from labbook.booking.labels import STATE_LABELS as BOOKING_STATES
from labbook.catalogue.labels import SERVICE_OFFERED_LABELS
from labbook.catalogue.labels import STATUS_LABELS as INSTRUMENT_STATUSES
from labbook.core.money import format_money
from labbook.core.time import to_lab_time
from labbook.enterprises.labels import JOIN_REQUEST_STATE_LABELS, REGISTRATION_STATE_LABELS
from labbook.faults.labels import KIND_LABELS as FAULT_KINDS
from labbook.faults.labels import STATE_LABELS as FAULT_STATES
from labbook.holidays.labels import FESTIVAL_LABELS as FESTIVALS
from labbook.holidays.labels import KIND_LABELS as HOLIDAY_KINDS
from labbook.i18n import lazy_gettext as _l
from labbook.orders.labels import (
    CAPABILITY_LABELS,
    DISPOSITION_LABELS,
    LINE_STATE_LABELS,
    ORDER_STATE_LABELS,
    REPORT_STATE_LABELS,
)
from labbook.privacy.labels import DELETION_STATE_LABELS
from labbook.testing.labels import STATE_LABELS as REQUEST_STATES
from labbook.training.labels import ENROLMENT_STATE_LABELS as ENROLMENT_STATES
from labbook.training.labels import EXAM_RESULT_LABELS
from labbook.training.labels import REQUEST_STATE_LABELS as TRAINING_REQUEST_STATES
from labbook.training.labels import SESSION_STATE_LABELS as TRAINING_SESSION_STATES

#: How the audit log and the histories name the actions labbook records: every action a
#: ``record()`` call writes has its label here (``tests/audit/test_labels.py`` reads the calls).
#: The log's filter offers them as suggestions: reading them from the log would scan the whole
#: table on every visit.
ACTION_LABELS = {
    "create": _l("created"), "update": _l("changed"), "status": _l("status changed"),
    "approve": _l("approved"), "reject": _l("rejected"), "cancel": _l("cancelled"),
    "expire": _l("expired"), "check_in": _l("checked in"), "check_out": _l("checked out"),
    "auto_close": _l("closed automatically"), "no_show": _l("no-show"),
    "correct_actual_times": _l("actual times corrected"), "grant": _l("granted"),
    "revoke": _l("revoked"), "activate": _l("activated"), "deactivate": _l("deactivated"),
    "password_reset_link": _l("password reset link made"),
    "reset_password": _l("password reset"), "retire": _l("retired"),
    "reactivate": _l("offered again"), "submit": _l("submitted"), "accept": _l("accepted"),
    "start": _l("started"), "complete": _l("completed"), "adjust": _l("adjusted"),
    "reprice": _l("repriced"), "issue": _l("issued"), "mark_paid": _l("marked paid"),
    "close_month": _l("month closed"), "withdraw": _l("withdrawn"), "rotate": _l("rotated"),
    "report": _l("reported"), "answer": _l("answered"), "close": _l("closed"),
    "delete": _l("deleted"), "exam": _l("exam recorded"),
    "register": _l("registered"), "confirm": _l("email address confirmed"),
    "invite": _l("colleague invited"), "remove_member": _l("removed from the organization"),
    "make_organization_admin": _l("made admin of the organization"), "decline": _l("declined"),
    "channels": _l("message channels chosen"), "robot_set": _l("WeCom robot set"),
    "robot_removed": _l("WeCom robot removed"),
    "receive": _l("samples received"), "assign": _l("assigned"),
    "book": _l("instrument booked"),
    "start_line": _l("testing started"), "results": _l("results recorded"),
    "complete_line": _l("line completed"), "prepare": _l("report prepared"),
    "review": _l("report reviewed"), "supersede": _l("superseded"),
    "dispose": _l("remains returned or disposed of"), "attach": _l("file attached"),
    "testing_settings": _l("testing settings changed"),
    "testing_capabilities": _l("testing capabilities changed"),
    # bookings: changes of time, the waiting list, no-show suspensions
    "request_change": _l("change of time asked for"), "move": _l("time changed"),
    "join": _l("joined the waiting list"), "leave": _l("left the waiting list"),
    "offer": _l("freed time offered"), "claim": _l("offered time booked"),
    "lapse": _l("offer lapsed"), "suspend": _l("suspended from booking"),
    "lift": _l("suspension lifted"), "update_booking_rules": _l("booking rules changed"),
    # billing: invoices and money
    "request": _l("invoice requested"), "refuse": _l("invoice refused"),
    "reverse": _l("invoice reversed (red-letter)"),
    "apply_vouchers": _l("innovation vouchers applied"),
    "deposit": _l("paid into the balance"), "paid_in_full": _l("paid in full"),
    "pay_from_balance": _l("paid from the balance"),
}


def _by_code(labels: Mapping[Any, Any]) -> dict[str, Any]:
    return {member.value: label for member, label in labels.items()}


#: Each kind of object's states (and statuses), by the codes the log keeps.
STATE_LABELS: dict[str, dict[str, Any]] = {
    "bookings": _by_code(BOOKING_STATES),
    "service_requests": _by_code(REQUEST_STATES),
    "orders": _by_code(ORDER_STATE_LABELS),
    "test_reports": _by_code(REPORT_STATE_LABELS),
    "statements": _by_code(STATEMENT_STATES),
    "instruments": _by_code(INSTRUMENT_STATUSES),
    "testing_services": {"active": SERVICE_OFFERED_LABELS[True],
                         "retired": SERVICE_OFFERED_LABELS[False]},
    "organizations": _by_code(ORGANIZATION_STATUS_LABELS),
    "users": ACCOUNT_STATUS_LABELS,
    "training_requests": _by_code(TRAINING_REQUEST_STATES),
    "training_sessions": _by_code(TRAINING_SESSION_STATES),
    "training_enrolments": _by_code(ENROLMENT_STATES),
    "instrument_faults": _by_code(FAULT_STATES),
    "registrations": _by_code(REGISTRATION_STATE_LABELS),
    "join_requests": _by_code(JOIN_REQUEST_STATE_LABELS),
    "deletion_requests": _by_code(DELETION_STATE_LABELS),
    "invoices": _by_code(INVOICE_STATE_LABELS),
    # The booking area names these states nowhere else: only the log shows them.
    "booking_changes": {"pending": _l("awaiting approval"), "applied": _l("applied"),
                        "rejected": _l("rejected"), "withdrawn": _l("withdrawn")},
    "waitlist_entries": {"waiting": _l("waiting"), "offered": _l("offered"),
                         "claimed": _l("booked"), "lapsed": _l("offer lapsed"),
                         "left": _l("left"), "expired": _l("expired")},
    "booking_suspensions": {"suspended": _l("suspended"), "lifted": _l("lifted")},
}

#: Actions recorded on one object about a part of it, whose states are the part's: an order's
#: lines start and complete on the order's history.
PART_STATE_LABELS: dict[tuple[str, str], dict[str, Any]] = {
    ("orders", "start_line"): _by_code(LINE_STATE_LABELS),
    ("orders", "complete_line"): _by_code(LINE_STATE_LABELS),
}

#: The fields of the events' details, and of the objects whose changes they keep.
FIELD_LABELS = {
    # catalogue
    "code": _l("Code"), "lab": _l("Lab"), "category": _l("Category"),
    "name_zh": _l("Name (Chinese)"), "name_en": _l("Name (English)"),
    "location_zh": _l("Location (Chinese)"), "location_en": _l("Location (English)"),
    "opening_hours": _l("Opening hours"), "contact_name": _l("Contact person"),
    "contact_phone": _l("Contact phone"), "contact_email": _l("Contact email"),
    "model": _l("Model"),
    "manufacturer": _l("Manufacturer"), "purchase_year": _l("Year of purchase"),
    "value_cny": _l("Purchase value (¥)"), "room": _l("Room"),
    "specs_zh": _l("Key specifications (Chinese)"), "functions_zh": _l("Functions (Chinese)"),
    "slot_minutes": _l("Slot grid (minutes)"), "min_minutes": _l("Shortest booking (minutes)"),
    "max_minutes": _l("Longest booking (minutes)"),
    "min_notice_minutes": _l("Minimum notice (minutes)"),
    "horizon_days": _l("Booking horizon (days)"),
    "buffer_minutes": _l("Buffer after each booking (minutes)"),
    "cancellation_window_hours": _l("Cancellation window (hours)"),
    "requires_approval": _l("Bookings need a manager's approval"),
    "requires_qualification": _l("Only trained users may book"),
    "rate_internal": _l("Hourly rate, internal (¥)"),
    "rate_partner": _l("Hourly rate, partner (¥)"),
    "rate_external": _l("Hourly rate, external (¥)"),
    "standard": _l("Standard"), "turnaround_days": _l("Turnaround (days)"),
    "sample_requirements_zh": _l("Sample requirements (Chinese)"),
    "sample_requirements_en": _l("Sample requirements (English)"),
    "price_internal": _l("Price per sample, internal (¥)"),
    "price_partner": _l("Price per sample, partner (¥)"),
    "price_external": _l("Price per sample, external (¥)"),
    "express_surcharge_percent": _l("Express surcharge (%)"),
    "instruments": _l("Instruments used"), "source": _l("Source"),
    # accounts
    "name": _l("Name"), "uscc": _l("Unified social credit code"), "tier": _l("Price tier"),
    "weekly_quota_hours": _l("Weekly quota (hours)"), "status": _l("Status"),
    "billing_contact": _l("Billing contact"), "email": _l("Email"), "phone": _l("Phone"),
    "organization": _l("Organization"), "role": _l("Role"), "labs": _l("Labs managed"),
    "managed_labs": _l("Labs managed"), "locale": _l("Language"), "expires_at": _l("Expires"),
    "user_id": _l("User"), "scope": _l("Scope"), "rotated_from": _l("Calendar feed"),
    # bookings and test requests
    "overridden": _l("Rules overridden"), "checked_in_at": _l("Checked in"),
    "checked_out_at": _l("Checked out"), "late": _l("Late cancellation"),
    "grace_minutes": _l("Grace period (minutes)"), "due_date": _l("Due date"),
    "report": _l("Report"), "quoted_total": _l("Quoted total"),
    # enterprises joining by themselves
    "invitation": _l("Invitation"), "channels": _l("Message channels"),
    "queues": _l("Queues the WeCom robot posts"),
    # billing
    "amount": _l("Amount"), "organization_id": _l("Organization"), "lab_id": _l("Lab"),
    "instrument_id": _l("Instrument"), "statement_id": _l("Statement"), "period": _l("Month"),
    "statements": _l("Statements"), "total": _l("Total"), "effective_from": _l("Effective from"),
    "hourly_rate": _l("Hourly rate (¥)"), "billing_basis": _l("Billing basis"),
    "rounding_minutes": _l("Rounding increment (minutes)"),
    "minimum_minutes": _l("Minimum billable minutes"),
    "no_show_percent": _l("No-show share (%)"),
    "late_cancel_percent": _l("Late-cancellation share (%)"),
    # owner units and the instrument log
    "owner": _l("Owner unit"), "fault_kind": _l("Kind"), "cause": _l("Cause"),
    "time_share_percent": _l("Owner's share of instrument time (%)"),
    "testing_share_percent": _l("Owner's share of testing services (%)"),
    # holidays
    "day": _l("Date"), "kind": _l("Kind of day"), "festival": _l("Occasion"),
    "closes_on_holidays": _l("Closed on public holidays"),
    "opens_on_makeup_days": _l("Open on make-up working days (调休)"),
    # bookings' changes of time, the waiting list, suspensions
    "booking_id": _l("Booking"), "change_id": _l("Change of time"), "start": _l("Start"),
    "end": _l("End"), "minutes": _l("Length (minutes)"), "no_shows": _l("No-shows"),
    "window_days": _l("No-shows counted over (days)"), "ends_at": _l("Suspended until"),
    # training
    "capacity": _l("Places"), "starts_at": _l("Starts"), "result": _l("Exam result"),
    # orders and their reports
    "line": _l("Line"), "analyst_id": _l("Analyst"), "previous_analyst_id": _l("Previous analyst"),
    "count": _l("Results recorded"), "accepted": _l("Samples accepted"),
    "refused": _l("Samples refused"), "attachment_id": _l("Attachment"), "filename": _l("File"),
    "size": _l("Size (bytes)"), "sample": _l("Sample"), "disposition": _l("Remains"),
    "number": _l("Number"), "replaces": _l("Replaces"), "superseded_by": _l("Superseded by"),
    "sha256": _l("SHA-256"), "methods": _l("Accepted methods"), "items": _l("Test items"),
    "retention_days": _l("Retention (days)"), "before": _l("Capabilities before"),
    "after": _l("Capabilities after"),
    # money: payments, vouchers, invoices
    "method": _l("Method of payment"), "reference": _l("Reference"),
    "credited": _l("Credited to the balance"), "paid_amount": _l("Amount paid"),
    "payment_id": _l("Payment"), "voucher_amount": _l("Paid by vouchers"),
    "authority": _l("Issuing authority"), "face_value": _l("Face value"),
    "share_percent": _l("Share of each line it may pay"), "valid_from": _l("Valid from"),
    "valid_to": _l("Valid until"), "medium": _l("Medium"),
    "invoice_number": _l("Invoice number"), "issued_on": _l("Invoiced on"),
    "red_number": _l("Red-letter invoice number"),
    "correction_charge_id": _l("Correcting charge"),
}
#: Fields one kind of object names otherwise (an invoice's ``kind`` is not a kind of day).
OBJECT_FIELD_LABELS: dict[str, dict[str, Any]] = {
    "invoices": {"kind": _l("Kind of invoice")},
    "waitlist_entries": {"channels": _l("Channels")},
}

#: Fields whose values are codes with labels of their own.
VALUE_LABELS: dict[str, Mapping[str, Any]] = {
    "tier": _by_code(TIER_LABELS), "role": _by_code(ROLE_LABELS),
    "billing_basis": _by_code(BASIS_LABELS), "locale": LOCALE_NAMES,
    "source": {"catalogue import": _l("catalogue import")},
    "fault_kind": _by_code(FAULT_KINDS),
    "kind": _by_code(HOLIDAY_KINDS), "festival": _by_code(FESTIVALS),
    "method": _by_code(METHOD_LABELS), "medium": _by_code(INVOICE_MEDIUM_LABELS),
    "disposition": _by_code(DISPOSITION_LABELS), "result": _by_code(EXAM_RESULT_LABELS),
    "before": _by_code(CAPABILITY_LABELS), "after": _by_code(CAPABILITY_LABELS),
}
#: Values one kind of object names otherwise.
OBJECT_VALUE_LABELS: dict[str, dict[str, Mapping[str, Any]]] = {
    "invoices": {"kind": _by_code(INVOICE_KIND_LABELS)},
}
#: Fields that hold an amount of money (in yuan, as text).
MONEY_FIELDS = frozenset({
    "amount", "total", "quoted_total", "hourly_rate", "value_cny", "rate_internal",
    "rate_partner", "rate_external", "price_internal", "price_partner", "price_external",
    "credited", "paid_amount", "voucher_amount", "face_value"})
#: Fields that hold the id of another object, and that object's type in the log.
REFERENCES = {"organization_id": "organizations", "lab_id": "labs",
              "instrument_id": "instruments", "user_id": "users", "analyst_id": "users",
              "previous_analyst_id": "users",
              "statement_id": "statements", "rotated_from": "feed_tokens"}
#: Details that hold a value before and after a change, and the field they are about.
PAIRS = {("old_amount", "new_amount"): "amount"}

#: A moment as the log keeps it: ISO 8601 with an offset.
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)")

#: Names of the objects an event's details refer to, by (object type, id).
Names = Mapping[tuple[str, int], str]


@dataclass(frozen=True)
class DetailRow:
    """One line of an event's details: a field and its value, or a change of it."""

    label: str
    value: str
    after: str | None = None

    @property
    def is_change(self) -> bool:
        return self.after is not None


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def state_label(object_type: str, state: str | None, action: str = "") -> str | None:
    """``state`` of an ``object_type`` as an event of ``action`` left or reached it."""
    if state is None:
        return None
    labels = PART_STATE_LABELS.get((object_type, action)) or STATE_LABELS.get(object_type, {})
    return str(labels.get(state, state))


def field_label(name: str, object_type: str = "") -> str:
    return str(OBJECT_FIELD_LABELS.get(object_type, {}).get(name)
               or FIELD_LABELS.get(name, name))


def shown_value(object_type: str, name: str, value: Any, names: Names) -> str:
    """``value`` of the field ``name`` as the reader reads it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or value in ("True", "False"):
        return _("yes") if value in (True, "True") else _("no")
    if isinstance(value, list):
        return ", ".join(shown_value(object_type, name, item, names) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{field_label(key, object_type)}: "
                         f"{shown_value(object_type, key, item, names)}"
                         for key, item in value.items())
    if name in REFERENCES and isinstance(value, int):
        return names.get((REFERENCES[name], value)) or f"#{value}"
    labels = STATE_LABELS.get(object_type, {}) if name == "status" else \
        OBJECT_VALUE_LABELS.get(object_type, {}).get(name) or VALUE_LABELS.get(name)
    if labels and value in labels:
        return str(labels[value])
    if name in MONEY_FIELDS:
        try:
            return format_money(Decimal(str(value)))
        except InvalidOperation:
            return str(value)
    if isinstance(value, str) and _MOMENT.fullmatch(value):
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return to_lab_time(moment).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _changes(details: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What the event changed, field by field: its ``changes``, the ``old`` and ``new`` values
    of a correction, and the pairs of ``PAIRS``."""
    changes = {name: (values[0], values[1])
               for name, values in (details.get("changes") or {}).items()}
    old, new = details.get("old") or {}, details.get("new") or {}
    for name in [*old, *(key for key in new if key not in old)]:
        changes[name] = (old.get(name), new.get(name))
    for (before, after), name in PAIRS.items():
        if before in details or after in details:
            changes[name] = (details.get(before), details.get(after))
    return changes


_CHANGE_KEYS = frozenset({"changes", "old", "new", *(key for pair in PAIRS for key in pair)})


def change_rows(object_type: str, details: Mapping[str, Any], names: Names) -> list[DetailRow]:
    """The event's changes, ``field: before → after``."""
    return [DetailRow(field_label(name, object_type),
                      shown_value(object_type, name, before, names),
                      shown_value(object_type, name, after, names))
            for name, (before, after) in _changes(details).items()]


def detail_rows(object_type: str, details: Mapping[str, Any], names: Names) -> list[DetailRow]:
    """Everything the event's details say: its changes, then the other fields (those of a new
    object's ``values`` one by one)."""
    rows = change_rows(object_type, details, names)
    for name, value in details.items():
        if name in _CHANGE_KEYS:
            continue
        fields = value.items() if name == "values" and isinstance(value, dict) \
            else [(name, value)]
        rows.extend(DetailRow(field_label(field, object_type),
                              shown_value(object_type, field, item, names))
                    for field, item in fields)
    return rows
