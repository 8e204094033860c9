"""Every area's labels as template globals, so that pages, emails and macros name a state, a
kind or a tier from the one place each area keeps them: its ``labels`` module.

Globals rather than a context processor: macros imported without the page's context see them
too, and nothing runs per page. ``create_app`` registers them.
"""

from __future__ import annotations

from flask import Flask

from labbook.accounts.labels import (
    ACCOUNT_STATUS_TITLES,
    ORGANIZATION_STATUS_TITLES,
    ROLE_LABELS,
    TIER_LABELS,
)
from labbook.billing.labels import BASIS_LABELS
from labbook.billing.labels import STATE_LABELS as STATEMENT_STATES
from labbook.booking.labels import STATE_LABELS as BOOKING_STATES
from labbook.booking.labels import STATE_TITLES as BOOKING_STATE_TITLES
from labbook.catalogue.labels import OWNER_KIND_LABELS as OWNER_KINDS
from labbook.catalogue.labels import SERVICE_OFFERED_LABELS
from labbook.catalogue.labels import STATUS_LABELS as INSTRUMENT_STATUSES
from labbook.enterprises.labels import JOIN_REQUEST_STATE_LABELS, REGISTRATION_STATE_LABELS
from labbook.faults.labels import KIND_LABELS as FAULT_KINDS
from labbook.faults.labels import STATE_LABELS as FAULT_STATES
from labbook.holidays.labels import FESTIVAL_LABELS, KIND_LABELS
from labbook.notify.labels import CHANNEL_LABELS, QUEUE_LABELS, TOPIC_LABELS
from labbook.orders.labels import (
    CAPABILITY_LABELS,
    CONCLUSION_LABELS,
    DISPOSITION_LABELS,
    INTAKE_LABELS,
    LANGUAGE_LABELS,
    LINE_STATE_LABELS,
    ORDER_STATE_LABELS,
    REMAINS_LABELS,
    REPORT_STATE_LABELS,
)
from labbook.privacy.labels import DELETION_STATE_LABELS
from labbook.testing.labels import STATE_LABELS as REQUEST_STATES
from labbook.training.labels import (
    ENROLMENT_STATE_LABELS,
    EXAM_RESULT_LABELS,
    REQUEST_STATE_LABELS,
    SESSION_STATE_LABELS,
)

#: The labels by the names templates know them by. The keys are enum members, and an enum
#: member equals its code, so ``labels.get(state)`` and ``labels.get("pending")`` both work
#: (the audit history looks states up by the codes it keeps).
TEMPLATE_LABELS = {
    "tier_labels": TIER_LABELS,
    "role_labels": ROLE_LABELS,
    "organization_status_titles": ORGANIZATION_STATUS_TITLES,
    "account_status_titles": ACCOUNT_STATUS_TITLES,
    "booking_state_labels": BOOKING_STATES,
    "booking_state_titles": BOOKING_STATE_TITLES,
    "instrument_status_labels": INSTRUMENT_STATUSES,
    "service_offered_labels": SERVICE_OFFERED_LABELS,
    "request_state_labels": REQUEST_STATES,
    "statement_state_labels": STATEMENT_STATES,
    "basis_labels": BASIS_LABELS,
    "fault_kind_labels": FAULT_KINDS,
    "fault_state_labels": FAULT_STATES,
    "owner_kind_labels": OWNER_KINDS,
    "holiday_kind_labels": KIND_LABELS,
    "training_request_state_labels": REQUEST_STATE_LABELS,
    "training_session_state_labels": SESSION_STATE_LABELS,
    "training_enrolment_state_labels": ENROLMENT_STATE_LABELS,
    "training_exam_labels": EXAM_RESULT_LABELS,
    "festival_labels": FESTIVAL_LABELS,
    "registration_state_labels": REGISTRATION_STATE_LABELS,
    "join_request_state_labels": JOIN_REQUEST_STATE_LABELS,
    "deletion_state_labels": DELETION_STATE_LABELS,
    "channel_labels": CHANNEL_LABELS,
    "topic_labels": TOPIC_LABELS,
    "queue_labels": QUEUE_LABELS,
    "order_state_labels": ORDER_STATE_LABELS,
    "line_state_labels": LINE_STATE_LABELS,
    "intake_labels": INTAKE_LABELS,
    "remains_labels": REMAINS_LABELS,
    "disposition_labels": DISPOSITION_LABELS,
    "report_language_labels": LANGUAGE_LABELS,
    "conclusion_labels": CONCLUSION_LABELS,
    "report_state_labels": REPORT_STATE_LABELS,
    "capability_labels": CAPABILITY_LABELS,
}


def register(app: Flask) -> None:
    app.jinja_env.globals.update(TEMPLATE_LABELS)
