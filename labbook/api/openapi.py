"""The OpenAPI 3.1 document of the API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from labbook.accounts.models import PriceTier
from labbook.api import bp
from labbook.api.specs import BEARER, rebook
from labbook.api.specs import capacity as capacity_spec
from labbook.api.specs import enum_values as _values
from labbook.api.specs import faults as faults_spec
from labbook.api.specs import join as join_spec
from labbook.api.specs import json_body as _json_body
from labbook.api.specs import json_response as _json
from labbook.api.specs import money as money_specs
from labbook.api.specs import orders as orders_spec
from labbook.api.specs import page_of as _page_of
from labbook.api.specs import path_id as _path_id
from labbook.api.specs import prices as prices_spec
from labbook.api.specs import problem_responses as _problem_responses
from labbook.api.specs import query as _query
from labbook.api.specs import ref as _ref
from labbook.api.specs import refusals as refusals_spec
from labbook.api.specs import sharing as sharing_spec
from labbook.billing.models import BillingBasis, ChargeKind, StatementState
from labbook.billing.services import MAX_ADJUSTMENT, MAX_HOURLY_RATE, MAX_REASON
from labbook.booking.attendance import (
    AUTO_CLOSE_GRACE_MINUTES,
    CHECK_IN_EARLY_MINUTES,
    NO_SHOW_GRACE_MINUTES,
)
from labbook.booking.models import BookingState
from labbook.catalogue.models import MAX_CHANNELS, InstrumentStatus
from labbook.testing.models import ServiceRequestState

# Each area added since documents its routes in labbook.api.specs.<area>; listed here.
AREA_SPECS: tuple[Any, ...] = (capacity_spec, money_specs, orders_spec, faults_spec,
                                sharing_spec, rebook, join_spec, refusals_spec, prices_spec)


BOOKING_STATES = _values(BookingState)
INSTRUMENT_STATUSES = _values(InstrumentStatus)
SERVICE_REQUEST_STATES = _values(ServiceRequestState)
TIERS = _values(PriceTier)
BASES = _values(BillingBasis)
CHARGE_KINDS = _values(ChargeKind)
STATEMENT_STATES = _values(StatementState)


CATALOGUE_QUERY = [
    _query("q", "Words that must all be found in an item: names (zh/en), abbreviations and "
                "informal names (TEM, 液质, 扫描电镜), pinyin (smdj), code, standard number in "
                "any spelling (gb 5009.5), category, maker (zh/en), model, specifications. "
                "Items come best match first (the README's ranking order), then by lab and "
                "code.",
           {"type": "string", "maxLength": 200}),
    _query("lab", "Lab code (NEM, FOOD, MFG).", {"type": "string"}),
    _query("category", "Category key.", {"type": "string"}),
    _query("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "default": 1}),
    _query("per_page", "Items per page.",
           {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
]

MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$", "description": "CNY, exact, two decimals"}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object", "required": ["title", "status", "code"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"},
            "status": {"type": "integer"}, "code": {"type": "string"},
            "detail": {"type": "string"},
            "problems": {"type": "array", "items": _ref("RuleProblem")},
            "suggestions": {"type": "array", "items": _ref("Suggestion"),
                            "description": "Slots of the same length one may book instead: "
                                           "for `overlap` and `blackout` the next free ones, "
                                           "for `outside_hours`, `too_soon` and "
                                           "`holiday_closed` the nearest that keep the rule, "
                                           "on this instrument first; then one on each of a "
                                           "few other instruments of its kind that the person "
                                           "may book (trained where training is needed, not "
                                           "suspended in its lab, available) — the only ones "
                                           "for `not_qualified` and "
                                           "`instrument_unavailable`. None where no time "
                                           "helps (e.g. `org_suspended`, `payment_overdue`)."},
            "occurrences": {"type": "array", "items": _ref("RefusedOccurrence"),
                            "description": "For a refused series: each refused occurrence."},
        },
    },
    "RuleProblem": {
        "type": "object", "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "Stable rule code, e.g. overlap, "
                     "blackout, too_soon, not_aligned, invalid_interval, naive_datetime, "
                     "required, invalid_datetime."},
            "message": {"type": "string", "description": "In the user's language."},
            "field": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "training": _ref("TrainingHelp")}},
    "Suggestion": {
        "type": "object", "required": ["instrument_id", "start", "end"],
        "properties": {
            "instrument_id": {"type": "integer"}, "instrument_code": {"type": "string"},
            "instrument_name": {"type": "string"}, "instrument_name_en": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"}}},
    "RefusedOccurrence": {
        "type": "object", "required": ["start", "end", "problems"],
        "properties": {"start": {"type": "string", "format": "date-time"},
                       "end": {"type": "string", "format": "date-time"},
                       "problems": {"type": "array", "items": _ref("RuleProblem")}}},
    "Booking": {
        "type": "object",
        "required": ["id", "instrument_id", "state", "start", "end", "purpose"],
        "properties": {
            "id": {"type": "integer"}, "instrument_id": {"type": "integer"},
            "instrument_code": {"type": "string"}, "lab": {"type": "string"},
            "state": {"type": "string", "enum": BOOKING_STATES},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "purpose": {"type": "string"}, "project_ref": {"type": "string"},
            "user": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"},
                "email": {"type": "string"}}},
            "organization": {"type": "string"},
            "series_id": {"type": ["integer", "null"]},
            "channels": {"type": "array", "items": {"type": "integer", "minimum": 1},
                         "description": "The instrument's channels (or places) the booking "
                                        "holds; [1] on a single-channel instrument."},
            "is_override": {"type": "boolean"}, "is_late_cancellation": {"type": "boolean"},
            "decision_note": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "checked_in_at": {"type": ["string", "null"], "format": "date-time",
                              "description": "When the use began (check-in), if it did."},
            "checked_out_at": {"type": ["string", "null"], "format": "date-time",
                               "description": "When the use ended (check-out); a forgotten "
                                              "check-out is closed at the booked end."},
            "booked_by": {"type": ["object", "null"],
                          "description": "Who booked on the user's behalf (a lab manager or a "
                                         "colleague), if anyone.",
                          "properties": {"id": {"type": "integer"},
                                         "name": {"type": "string"}}},
            "sequence": {"type": "integer", "minimum": 0,
                         "description": "The iCal SEQUENCE: rises with every change."},
            "pending_change": {"oneOf": [_ref("BookingChange"), {"type": "null"}]},
            "can_cancel": {"type": "boolean"}, "can_decide": {"type": "boolean"},
            "estimate": _ref("BookingEstimate"),
            "cancellation_fee": {"oneOf": [_ref("CancellationFee"), {"type": "null"}]}}},
    "BookingRequest": {
        "type": "object", "required": ["instrument_id", "start", "end", "purpose"],
        "properties": {
            "instrument_id": {"type": "integer"},
            "start": {"type": "string", "format": "date-time",
                      "description": "ISO 8601 with a UTC offset, e.g. 2026-12-01T09:00:00+08:00"},
            "end": {"type": "string", "format": "date-time"},
            "purpose": {"type": "string", "maxLength": 500},
            "project_ref": {"type": "string", "maxLength": 100},
            "channels": {"type": "integer", "minimum": 1, "maximum": MAX_CHANNELS,
                         "default": 1,
                         "description": "How many of the instrument's channels or places to "
                                        "take; more than it has is 422 `too_many_channels`, "
                                        "too few free is 409 `overlap`."},
            "for_user_id": {"type": "integer",
                            "description": "Book on this user's behalf (their organization "
                                           "pays; they are told by email): the lab's managers "
                                           "for anyone, colleagues where their organization "
                                           "allows it. Not with `recurrence`."},
            "recurrence": {
                "type": "object", "required": ["frequency"],
                "description": "Repeat at the same lab time; give `count` or `until`.",
                "properties": {
                    "frequency": {"type": "string", "enum": ["daily", "weekly"]},
                    "interval": {"type": "integer", "minimum": 1, "maximum": 52},
                    "weekdays": {"type": "array", "items": {"type": "integer", "minimum": 0,
                                                            "maximum": 6},
                                 "description": "0 = Monday; weekly only"},
                    "count": {"type": "integer", "minimum": 1, "maximum": 200},
                    "until": {"type": "string", "format": "date"}}},
            "skip_conflicts": {"type": "boolean", "default": False,
                               "description": "Series: book the free occurrences and report "
                                              "the others instead of refusing all."},
            "override": {"type": "boolean", "default": False,
                         "description": "Lab managers: override too_soon, too_far, "
                                        "outside_hours, quota_exceeded and not_aligned."}}},
    "SeriesResult": {
        "type": "object", "required": ["series_id", "created", "skipped"],
        "properties": {"series_id": {"type": "integer"},
                       "created": {"type": "array", "items": _ref("Booking")},
                       "skipped": {"type": "array", "items": _ref("RefusedOccurrence")}}},
    "Note": {"type": "object", "properties": {"note": {"type": "string", "maxLength": 1000}}},
    "Availability": {
        "type": "object", "required": ["instrument_id", "busy", "free"],
        "properties": {
            "instrument_id": {"type": "integer"}, "timezone": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "busy": {"type": "array", "items": {
                "type": "object", "required": ["kind", "start", "end", "title"],
                "description": "Other organizations' bookings carry only kind, start, end "
                               "and the title \"booked\".",
                "properties": {"kind": {"type": "string", "enum": ["booking", "blackout"]},
                               "start": {"type": "string", "format": "date-time"},
                               "end": {"type": "string", "format": "date-time"},
                               "title": {"type": "string"}, "id": {"type": "integer"},
                               "state": {"type": "string"}, "purpose": {"type": "string"}}}},
            "channels": {"type": "integer", "minimum": 1,
                         "description": "The instrument's channels or places."},
            "free": {"type": "array", "description": "Open time with at least one channel "
                                                     "free.", "items": {
                "type": "object", "properties": {
                    "start": {"type": "string", "format": "date-time"},
                    "end": {"type": "string", "format": "date-time"}}}},
            "capacity": {"type": "array", "description": "Instruments with channels only: the "
                                                         "open time cut where the number of "
                                                         "free channels changes.", "items": {
                "type": "object", "required": ["start", "end", "free_channels"],
                "properties": {
                    "start": {"type": "string", "format": "date-time"},
                    "end": {"type": "string", "format": "date-time"},
                    "free_channels": {"type": "integer", "minimum": 1}}}}}},
    "Qualification": {
        "type": "object", "required": ["id", "user_email", "instrument_id"],
        "properties": {"id": {"type": "integer"}, "user_email": {"type": "string"},
                       "instrument_id": {"type": "integer"},
                       "granted_at": {"type": "string", "format": "date-time"},
                       "expires_at": {"type": ["string", "null"], "format": "date-time"},
                       "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                       "already_granted": {"type": "boolean"}}},
    "Blackout": {
        "type": "object", "required": ["id", "start", "end", "reason"],
        "properties": {"id": {"type": "integer"},
                       "instrument_id": {"type": ["integer", "null"]},
                       "lab": {"type": ["string", "null"]},
                       "start": {"type": "string", "format": "date-time"},
                       "end": {"type": "string", "format": "date-time"},
                       "reason": {"type": "string"},
                       "affected_bookings": {"type": "array", "items": _ref("Booking")},
                       "cancelled_booking_ids": {"type": "array",
                                                 "items": {"type": "integer"}},
                       "emails_queued": {
                           "type": "integer",
                           "description": "Emails queued telling the people whose bookings "
                                          "were cancelled (none to one who made the closure)"}}},
    "Lab": {
        "type": "object",
        "required": ["code", "name", "name_en", "timezone", "opening_hours"],
        "properties": {
            "code": {"type": "string"}, "name": {"type": "string"},
            "name_en": {"type": "string"}, "location": {"type": "string"},
            "location_en": {"type": "string"}, "timezone": {"type": "string"},
            "contact": {"oneOf": [_ref("LabContact"), {"type": "null"}]},
            "opening_hours": {
                "type": "object",
                "description": "Per weekday (mon…sun), opening intervals [HH:MM, HH:MM] in the "
                               "lab's time zone; an empty list means closed.",
                "additionalProperties": {"type": "array", "items": {
                    "type": "array", "items": {"type": "string"},
                    "minItems": 2, "maxItems": 2}}},
        },
    },
    "Instrument": {
        "type": "object",
        "required": ["id", "code", "lab", "name", "name_en", "category", "model",
                     "manufacturer", "value_cny", "status"],
        "properties": {
            "id": {"type": "integer"}, "code": {"type": "string"}, "lab": {"type": "string"},
            "name": {"type": "string"}, "name_en": {"type": "string"},
            "category": {"type": "string"}, "model": {"type": "string"},
            "manufacturer": {"type": "string"}, "value_cny": MONEY,
            "status": {"type": "string", "enum": INSTRUMENT_STATUSES},
            "channels": {"type": "integer", "minimum": 1, "maximum": MAX_CHANNELS,
                         "description": "Channels or places bookings share (1: one booking "
                                        "takes the instrument whole)."},
        },
    },
    "InstrumentDetail": {"allOf": [_ref("Instrument"), {
        "type": "object",
        "properties": {
            "category_name": {"type": "string"}, "category_name_en": {"type": "string"},
            "purchase_year": {"type": ["integer", "null"]}, "room": {"type": "string"},
            "specs": {"type": "string"}, "functions": {"type": "string"},
            "rate_cards": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "tier": {"type": "string", "enum": TIERS},
                    "effective_from": {"type": "string", "format": "date"},
                    "hourly_rate": MONEY,
                    "billing_basis": {"type": "string", "enum": BASES},
                    "rounding_minutes": {"type": "integer"},
                    "minimum_minutes": {"type": "integer"}}}},
            "services": {"type": "array", "items": {"type": "string"}},
            "rules": {"type": "object", "properties": {
                name: {"type": "integer"} for name in (
                    "slot_minutes", "min_minutes", "max_minutes", "min_notice_minutes",
                    "horizon_days", "buffer_minutes", "cancellation_window_hours")} | {
                "requires_approval": {"type": "boolean"},
                "requires_qualification": {"type": "boolean"}}},
        },
    }]},
    "Service": {
        "type": "object",
        "required": ["id", "code", "lab", "name", "name_en", "category", "standard",
                     "turnaround_days", "prices"],
        "properties": {
            "id": {"type": "integer"}, "code": {"type": "string"}, "lab": {"type": "string"},
            "name": {"type": "string"}, "name_en": {"type": "string"},
            "category": {"type": "string"}, "standard": {"type": "string"},
            "turnaround_days": {"type": "integer"},
            "prices": {"type": "object", "properties": {
                "internal": MONEY, "partner": MONEY, "external": MONEY}},
            "express_surcharge_percent": {"type": "integer"},
            "is_active": {"type": "boolean"},
            "instruments": {"type": "array", "items": {"type": "string"}},
        },
    },
    "FeedToken": {
        "type": "object", "required": ["id", "scope", "created_at", "last_used_at"],
        "description": "An iCal subscription. Its secret is not kept and never listed.",
        "properties": {
            "id": {"type": "integer"},
            "scope": {"type": "string", "examples": ["mine", "instrument:12", "lab:NEM",
                                                     "approvals"]},
            "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": {"type": ["string", "null"], "format": "date-time",
                             "description": "Updated at most once an hour."}}},
    "NewFeedToken": {"allOf": [_ref("FeedToken"), {
        "type": "object", "required": ["url"],
        "properties": {"url": {
            "type": "string", "format": "uri",
            "description": "The subscription URL (…/ical/<secret>.ics); shown only in this "
                           "answer. Replace http(s):// by webcal:// for one-click "
                           "subscription."}}}]},
    "ServiceDetail": {"allOf": [_ref("Service"), {
        "type": "object",
        "properties": {"sample_requirements": {"type": "string"},
                       "sample_requirements_en": {"type": "string"}},
    }]},
}

SCHEMAS |= {
    "ServiceRequest": {
        "type": "object",
        "required": ["id", "service_id", "state", "samples", "sample_description", "express",
                     "quote"],
        "properties": {
            "id": {"type": "integer"}, "service_id": {"type": "integer"},
            "service_code": {"type": "string"}, "lab": {"type": "string"},
            "state": {"type": "string", "enum": SERVICE_REQUEST_STATES},
            "samples": {"type": "integer", "minimum": 1, "maximum": 1000},
            "sample_description": {"type": "string"}, "express": {"type": "boolean"},
            "notes": {"type": "string"},
            "requester": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"},
                "email": {"type": "string"}}},
            "organization": {"type": "string", "description": "The paying organization"},
            "quote": _ref("Quote"),
            "due_date": {"type": ["string", "null"], "format": "date",
                         "description": "Set on acceptance: by default the service's "
                                        "turnaround in working days (Mon–Fri, lab time) from "
                                        "that day; express halves it, rounded up."},
            "decision_note": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "started_at": {"type": ["string", "null"], "format": "date-time"},
            "completed_at": {"type": ["string", "null"], "format": "date-time"},
            "cancelled_at": {"type": ["string", "null"], "format": "date-time"},
            "report": {"oneOf": [{"type": "null"}, {
                "type": "object", "properties": {
                    "filename": {"type": "string"}, "size": {"type": "integer"},
                    "sha256": {"type": "string"}, "url": {"type": "string"}}}]},
            "order_id": {"type": ["integer", "null"],
                         "description": "The testing order the request became "
                                        "(/orders/{order_id})"}}},
    "Quote": {
        "type": "object",
        "description": "Fixed at submission. subtotal = unit_price × samples; "
                       "express_surcharge = subtotal × percent / 100 rounded half-up to the "
                       "fen; total = subtotal + express_surcharge.",
        "properties": {
            "tier": {"type": "string", "enum": TIERS},
            "unit_price": MONEY, "samples": {"type": "integer"}, "subtotal": MONEY,
            "express_surcharge_percent": {"type": "integer"},
            "express_surcharge": MONEY, "total": MONEY}},
}

def _booking_action(summary: str, operation: str, note_required: bool = False, *,
                    with_note: bool = True, description: str = "") -> dict:
    operation_doc: dict[str, Any] = {
        "summary": summary, "operationId": operation, "security": BEARER,
        "parameters": [_path_id("booking_id")],
        "responses": {"200": _json(_ref("Booking")),
                      **_problem_responses(401, 403, 404, 409, 422)}}
    if with_note:
        operation_doc["requestBody"] = _json_body(_ref("Note"), required=note_required)
    if description:
        operation_doc["description"] = description
    return {"post": operation_doc}


PATHS: dict[str, Any] = {
    "/labs": {"get": {
        "summary": "The labs with their opening hours", "operationId": "listLabs",
        "responses": {"200": _json({"type": "object", "properties": {
            "items": {"type": "array", "items": _ref("Lab")}, "total": {"type": "integer"}}})},
    }},
    "/instruments": {"get": {
        "summary": "Search instruments", "operationId": "listInstruments",
        "parameters": [*CATALOGUE_QUERY, _query(
            "status", "Instrument status.",
            {"type": "string", "enum": INSTRUMENT_STATUSES})],
        "responses": {"200": _json(_page_of("Instrument")), **_problem_responses(422)},
    }},
    "/instruments/{instrument_id}": {"get": {
        "summary": "One instrument", "operationId": "getInstrument",
        "parameters": [_path_id("instrument_id")],
        "responses": {"200": _json(_ref("InstrumentDetail")), **_problem_responses(404)},
    }},
    "/services": {"get": {
        "summary": "Search testing services", "operationId": "listServices",
        "parameters": [*CATALOGUE_QUERY, _query(
            "status", "Whether the service is offered.",
            {"type": "string", "enum": ["active", "inactive"]})],
        "responses": {"200": _json(_page_of("Service")), **_problem_responses(422)},
    }},
    "/instruments/{instrument_id}/availability": {"get": {
        "summary": "Busy and bookable free time of an instrument",
        "operationId": "getAvailability",
        "parameters": [_path_id("instrument_id"),
                       {"name": "start", "in": "query", "required": True,
                        "schema": {"type": "string", "format": "date-time"}},
                       {"name": "end", "in": "query", "required": True,
                        "description": "At most 62 days after start.",
                        "schema": {"type": "string", "format": "date-time"}}],
        "responses": {"200": _json(_ref("Availability")), **_problem_responses(404, 422)},
    }},
    "/bookings": {
        "post": {
            "summary": "Book an instrument (once or as a series)", "operationId": "createBooking",
            "security": BEARER, "requestBody": _json_body(_ref("BookingRequest")),
            "responses": {"201": _json({"oneOf": [_ref("Booking"), _ref("SeriesResult")]},
                                       "Created"),
                          **_problem_responses(401, 403, 404, 409, 422)},
        },
        "get": {
            "summary": "Own bookings; a lab's bookings for its managers (?lab=CODE)",
            "operationId": "listBookings", "security": BEARER,
            "parameters": [
                _query("lab", "Lab code; managers of that lab see all of its bookings.",
                       {"type": "string"}),
                _query("state", "Booking state.", {"type": "string", "enum": BOOKING_STATES}),
                _query("page", "Page number, from 1.",
                       {"type": "integer", "minimum": 1, "default": 1}),
                _query("per_page", "Items per page.",
                       {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})],
            "responses": {"200": _json(_page_of("Booking")), **_problem_responses(401, 422)},
        },
    },
    "/bookings/{booking_id}": {"get": {
        "summary": "One booking (own, or of a lab one manages)", "operationId": "getBooking",
        "security": BEARER, "parameters": [_path_id("booking_id")],
        "responses": {"200": _json(_ref("Booking")), **_problem_responses(401, 404)},
    }, "patch": {
        "summary": "Move, extend or shorten a booking (its user within the rules; the lab's "
                   "managers with their overrides)", "operationId": "changeBooking",
        "security": BEARER, "parameters": [_path_id("booking_id")],
        "description": "The new time is checked as a new booking that excludes this one. On "
                       "an instrument that needs approval a move or extension by the user "
                       "waits for the lab (202, `pending_change`) and the booking keeps its "
                       "time. Time given back inside the cancellation window is charged like "
                       "a late cancellation. 409 codes: the booking rules' codes, "
                       "`invalid_state`, `already_started` (only the end of a booking that "
                       "has begun can change); 422: `no_change`, malformed times.",
        "requestBody": _json_body(_ref("BookingChangeRequest")),
        "responses": {"200": _json(_ref("ChangedBooking"), "Changed"),
                      "202": _json(_ref("ChangedBooking"), "Waiting for the lab's approval"),
                      **_problem_responses(401, 403, 404, 409, 422)},
    }},
    "/bookings/{booking_id}/cancel": _booking_action("Cancel a booking", "cancelBooking"),
    "/bookings/{booking_id}/approve": _booking_action("Approve a pending booking (lab managers)",
                                                      "approveBooking"),
    "/bookings/{booking_id}/reject": _booking_action(
        "Reject a pending booking with a note (lab managers)", "rejectBooking",
        note_required=True),
    "/bookings/{booking_id}/check-in": _booking_action(
        "Check in: the use of an approved booking begins (its user or the lab's managers)",
        "checkInBooking", with_note=False,
        description=f"Allowed from {CHECK_IN_EARLY_MINUTES} minutes before the start until "
                    "the end. 409 codes: "
                    "`too_early_to_check_in`, `booking_over`, `already_checked_in`, "
                    "`invalid_state`."),
    "/bookings/{booking_id}/check-out": _booking_action(
        "Check out: the use of a booking in use ends (its user or the lab's managers)",
        "checkOutBooking", with_note=False,
        description="Records the check-out now. 409 codes: `not_checked_in`, "
                    "`already_checked_out`. A booking still in use "
                    f"{AUTO_CLOSE_GRACE_MINUTES} minutes after its end is checked out "
                    "automatically at the booked end."),
    "/bookings/{booking_id}/no-show": _booking_action(
        "Record a no-show: nobody checked in to an approved booking (the lab's managers)",
        "markNoShow", with_note=False,
        description=f"Allowed from {NO_SHOW_GRACE_MINUTES} minutes after the start (or the "
                    "end, if sooner). Charges the rate card's no-show share of the booked "
                    "time. 409 codes: `invalid_state`, `too_early_for_no_show`; 403 "
                    "`not_lab_manager`."),
    "/qualifications": {"post": {
        "summary": "Record that a user is trained on an instrument (its lab's managers)",
        "operationId": "grantQualification", "security": BEARER,
        "description": "A grant with another expiry replaces the record in force (201). The "
                       "same grant again changes nothing and answers 200 with the record in "
                       "force, `already_granted: true`. A caller who does not manage the "
                       "instrument's lab gets 403 whatever the address; an address without an "
                       "account is 422 `unknown_user`.",
        "requestBody": _json_body({"type": "object", "required": ["user_email", "instrument_id"],
                                   "properties": {
                                       "user_email": {"type": "string"},
                                       "instrument_id": {"type": "integer"},
                                       "expires_at": {"type": "string", "format": "date-time"}}}),
        "responses": {"201": _json(_ref("Qualification"), "Created"),
                      "200": _json(_ref("Qualification"), "Already granted: nothing changed"),
                      **_problem_responses(401, 403, 404, 422)},
    }},
    "/qualifications/{qualification_id}": {"delete": {
        "summary": "Revoke a qualification", "operationId": "revokeQualification",
        "security": BEARER, "parameters": [_path_id("qualification_id")],
        "responses": {"204": {"description": "Revoked"}, **_problem_responses(401, 404)},
    }},
    "/blackouts": {"post": {
        "summary": "Close an instrument or a whole lab (its managers); lists the bookings hit",
        "operationId": "createBlackout", "security": BEARER,
        "requestBody": _json_body({
            "type": "object", "required": ["start", "end", "reason"],
            "description": "Give instrument_id or lab.",
            "properties": {"instrument_id": {"type": "integer"}, "lab": {"type": "string"},
                           "start": {"type": "string", "format": "date-time"},
                           "end": {"type": "string", "format": "date-time"},
                           "reason": {"type": "string", "maxLength": 500},
                           "cancel_affected": {"type": "boolean", "default": False},
                           "notice": {"type": "string", "maxLength": 1000,
                                      "description": "Required with cancel_affected."}}}),
        "responses": {"201": _json(_ref("Blackout"), "Created"),
                      **_problem_responses(401, 403, 404, 422)},
    }},
    "/bookings/{booking_id}.ics": {"get": {
        "summary": "One booking as an iCalendar file (own, or of a lab one manages)",
        "operationId": "getBookingIcs", "security": BEARER,
        "parameters": [_path_id("booking_id")],
        "responses": {"200": {"description": "RFC 5545 calendar with one VEVENT; the same "
                                             "event (UID, SEQUENCE) as in the feeds",
                              "content": {"text/calendar": {"schema": {"type": "string"}}}},
                      **_problem_responses(401, 404)},
    }},
    "/feed-tokens": {
        "post": {
            "summary": "Create an iCal subscription URL", "operationId": "createFeedToken",
            "security": BEARER,
            "requestBody": _json_body({
                "type": "object", "required": ["scope"],
                "properties": {"scope": {
                    "type": "string",
                    "pattern": r"^(mine|approvals|instrument:\d+|lab:[A-Za-z0-9_-]+)$",
                    "description": "`mine` (own bookings), `instrument:<id>` (anyone; other "
                                   "organizations' bookings only as booked), `lab:<CODE>` "
                                   "(the lab's managers: every booking) or `approvals` (lab "
                                   "managers: requests awaiting a decision)."}}}),
            "responses": {"201": _json(_ref("NewFeedToken"), "Created"),
                          **_problem_responses(401, 403, 422)},
        },
        "get": {
            "summary": "The iCal subscriptions still in use (without their secrets)",
            "operationId": "listFeedTokens", "security": BEARER,
            "responses": {"200": _json({"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": _ref("FeedToken")}}}),
                **_problem_responses(401)},
        },
    },
    "/feed-tokens/{token_id}": {"delete": {
        "summary": "Revoke an iCal subscription URL", "operationId": "deleteFeedToken",
        "security": BEARER, "parameters": [_path_id("token_id")],
        "responses": {"204": {"description": "Revoked: the URL answers 404 from now on"},
                      **_problem_responses(401, 404)},
    }},
    "/services/{service_id}": {"get": {
        "summary": "One testing service", "operationId": "getService",
        "parameters": [_path_id("service_id")],
        "responses": {"200": _json(_ref("ServiceDetail")), **_problem_responses(404)},
    }},
}


RETIRED = {"description": "Retired: test requests have become testing orders (/orders)",
           "content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _retired_action(summary: str, operation: str) -> dict:
    return {"post": {
        "summary": f"Retired ({summary}): testing orders replaced test requests",
        "operationId": operation, "security": BEARER, "deprecated": True,
        "parameters": [_path_id("request_id")],
        "responses": {"410": RETIRED, **_problem_responses(401, 404)}}}


PATHS |= {
    "/service-requests": {
        "post": {
            "summary": "Retired: place a testing order instead (POST /orders)",
            "operationId": "createServiceRequest", "security": BEARER, "deprecated": True,
            "responses": {"410": RETIRED, **_problem_responses(401)},
        },
        "get": {
            "summary": "Own service requests; a lab's requests for its managers (?lab=CODE)",
            "operationId": "listServiceRequests", "security": BEARER,
            "parameters": [
                _query("lab", "Lab code; managers of that lab see all of its requests.",
                       {"type": "string"}),
                _query("state", "Request state.",
                       {"type": "string", "enum": SERVICE_REQUEST_STATES}),
                _query("page", "Page number, from 1.",
                       {"type": "integer", "minimum": 1, "default": 1}),
                _query("per_page", "Items per page.",
                       {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})],
            "responses": {"200": _json(_page_of("ServiceRequest")),
                          **_problem_responses(401, 422)},
        },
    },
    "/service-requests/{request_id}": {"get": {
        "summary": "One service request (requester, billing contact, the lab's managers)",
        "operationId": "getServiceRequest", "security": BEARER,
        "parameters": [_path_id("request_id")],
        "responses": {"200": _json(_ref("ServiceRequest")), **_problem_responses(401, 404)},
    }},
    "/service-requests/{request_id}/accept": _retired_action("accept",
                                                             "acceptServiceRequest"),
    "/service-requests/{request_id}/reject": _retired_action("reject",
                                                             "rejectServiceRequest"),
    "/service-requests/{request_id}/start": _retired_action("start", "startServiceRequest"),
    "/service-requests/{request_id}/cancel": _retired_action("cancel",
                                                             "cancelServiceRequest"),
    "/service-requests/{request_id}/complete": _retired_action("complete",
                                                               "completeServiceRequest"),
    "/service-requests/{request_id}/report": {"get": {
        "summary": "The report PDF (the requesting organization and the lab only)",
        "operationId": "getServiceRequestReport", "security": BEARER,
        "parameters": [_path_id("request_id")],
        "responses": {"200": {"description": "The PDF", "content": {
            "application/pdf": {"schema": {"type": "string",
                                           "contentMediaType": "application/pdf"}}}},
            **_problem_responses(401, 404)},
    }},
}


SIGNED_MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$",
                "description": "CNY, exact, two decimals; negative for a credit"}
_NULL_OR_MONEY = {"oneOf": [{"type": "null"}, SIGNED_MONEY]}
#: What paying a statement needs; null for partial viewers (lab managers).
STATEMENT_PAYABLE = {
    "voucher_amount": {**_NULL_OR_MONEY, "description": "The innovation vouchers' part"},
    "amount_due": {**_NULL_OR_MONEY, "description": "Total less the vouchers' part"},
    "amount_in_words": {"type": ["string", "null"],
                        "description": "amount_due in capitals (人民币大写), "
                                       "e.g. 贰仟肆佰零肆元整"},
    "paid_amount": {**_NULL_OR_MONEY, "description": "Paid so far (payments and balance)"},
    "outstanding": {**_NULL_OR_MONEY, "description": "Still to pay (issued statements)"},
    "payment_reference": {"type": ["string", "null"],
                          "description": "What to quote when paying: the statement number"},
    "verification_code": {"type": ["string", "null"], "description": "Set at issue"},
    "verification_url": {"type": ["string", "null"],
                         "description": "The public check page the printed QR code opens"},
}
PERIOD = {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-11"],
          "description": "A calendar month, Asia/Shanghai"}
NULLABLE_INT = {"type": ["integer", "null"]}

SCHEMAS |= {
    "Charge": {
        "type": "object",
        "required": ["id", "kind", "date", "lab", "description", "computation", "amount"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string", "enum": CHARGE_KINDS},
            "date": {"type": "string", "format": "date",
                     "description": "Lab-time day of the booked start, the test's completion "
                                    "or the adjustment"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "period": PERIOD, "lab": {"type": "string"},
            "organization": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}}},
            "tier": {"type": ["string", "null"], "enum": [*TIERS, None]},
            "instrument_code": {"type": ["string", "null"]},
            "service_code": {"type": ["string", "null"]},
            "booking_id": NULLABLE_INT, "service_request_id": NULLABLE_INT,
            "statement_id": {"type": ["integer", "null"],
                             "description": "null while not yet on a statement"},
            "description": {"type": "string", "description": "What the line is, localized"},
            "computation": {
                "type": "object", "required": ["text"],
                "description": "How the amount was reached. Instrument time: minutes by "
                               "basis, rounded up to the increment, at least the minimum, "
                               "× unit_price (per hour) × share_percent / 100, rounded half-up "
                               "to the fen. Services: samples × unit_price + surcharge.",
                "properties": {
                    "text": {"type": "string",
                             "examples": ["31 min booked → 45 min billed (15-min increments) "
                                          "× ¥37.50/h = ¥28.13"]},
                    "basis": {"type": ["string", "null"], "enum": [*BASES, None]},
                    "booked_minutes": NULLABLE_INT, "actual_minutes": NULLABLE_INT,
                    "billed_minutes": NULLABLE_INT, "rounding_minutes": NULLABLE_INT,
                    "minimum_minutes": NULLABLE_INT,
                    "unit_price": {"oneOf": [{"type": "null"}, MONEY]},
                    "share_percent": {"type": "integer", "minimum": 0, "maximum": 100},
                    "samples": NULLABLE_INT,
                    "surcharge": {"oneOf": [{"type": "null"}, MONEY]}}},
            "booked_by": {"oneOf": [{"type": "null"}, {
                "type": "object", "properties": {"id": {"type": "integer"},
                                                 "name": {"type": "string"}}}],
                          "description": "Who booked the instrument time or requested the "
                                         "test the line bills; null for an adjustment"},
            "project_ref": {"type": "string",
                            "description": "The project or PO reference given with the "
                                           "booking, printed on the statement; empty if none"},
            "corrects_charge_id": {"type": ["integer", "null"],
                                   "description": "For an adjustment that corrects a line of "
                                                  "an issued statement (actual times changed "
                                                  "after issue): that line"},
            "reason": {"type": "string", "description": "Adjustments: why"},
            "amount": SIGNED_MONEY,
            "voucher_amount": {**SIGNED_MONEY, "description": "What innovation vouchers pay "
                                                              "of the line (set at month "
                                                              "close); negative on a "
                                                              "correction that gave it back"},
            "own_amount": {**SIGNED_MONEY, "description": "What the organization pays"},
            "created_at": {"type": "string", "format": "date-time"}}},
    "NewAdjustment": {
        "type": "object", "required": ["organization_id", "lab", "amount", "reason"],
        "properties": {
            "organization_id": {"type": "integer"},
            "lab": {"type": "string", "description": "Lab code"},
            "amount": {"oneOf": [SIGNED_MONEY, {"type": "number"}],
                       "description": "Yuan, at most two decimals, not zero, at most "
                                      f"{MAX_ADJUSTMENT} either way; negative for a credit"},
            "reason": {"type": "string", "maxLength": MAX_REASON},
            "statement_id": {"type": "integer",
                             "description": "A draft statement of the organization to put the "
                                            "line on; otherwise it goes on the next one."},
            "corrects_charge_id": {"type": "integer",
                                   "description": "The billed line a credit corrects: what "
                                                  "vouchers paid of it beyond their share of "
                                                  "its corrected amount goes back to them "
                                                  "(422 `not_correctable` for a line of "
                                                  "another organization or not billed)."}}},
    "Statement": {
        "type": "object",
        "required": ["id", "number", "organization", "period", "state", "total",
                     "lines_total", "subtotals", "is_partial"],
        "properties": {
            "id": {"type": "integer"},
            "number": {"type": "string", "examples": ["LB-2026-000123"]},
            "organization": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"},
                "uscc": {"type": "string"}}},
            "period": PERIOD,
            "state": {"type": "string", "enum": STATEMENT_STATES},
            "is_partial": {"type": "boolean",
                           "description": "true for lab managers: only their labs' lines"},
            "total": {"oneOf": [{"type": "null"}, SIGNED_MONEY],
                      "description": "The sum of all lines; null for partial viewers"},
            "lines_total": {**SIGNED_MONEY, "description": "The sum of the lines shown"},
            "subtotals": {"type": "array", "items": {
                "type": "object", "properties": {
                    "lab": {"type": "string"}, "name": {"type": "string"},
                    "lines": {"type": "integer"}, "amount": SIGNED_MONEY}}},
            "created_at": {"type": "string", "format": "date-time"},
            "issued_at": {"type": ["string", "null"], "format": "date-time"},
            "paid_at": {"type": ["string", "null"], "format": "date-time"},
            "payment_note": {"type": "string"},
            **STATEMENT_PAYABLE,
            "csv_url": {"type": "string"}, "xlsx_url": {"type": "string"},
            "lines": {"type": "array", "items": _ref("Charge"),
                      "description": "Single statements only; by lab, then date"}}},
    "CloseResult": {
        "type": "object", "required": ["period", "already_closed", "statements"],
        "properties": {
            "period": PERIOD, "already_closed": {"type": "boolean"},
            "closed_at": {"type": ["string", "null"], "format": "date-time",
                          "description": "When the month had been closed (already_closed)"},
            "statements": {"type": "array", "items": _ref("Statement")}}},
    "RateCard": {
        "type": "object", "required": ["id", "tier", "effective_from", "hourly_rate"],
        "properties": {
            "id": {"type": "integer"}, "instrument_id": {"type": "integer"},
            "tier": {"type": "string", "enum": TIERS},
            "effective_from": {"type": "string", "format": "date",
                               "description": "Lab date from which bookings are priced on it"},
            "applies_from": {"type": "string", "format": "date-time",
                             "description": "The moment from which bookings that start are "
                                            "priced on it: the start of effective_from, or "
                                            "when it was entered, for a card made effective "
                                            "that same day"},
            "hourly_rate": MONEY, "billing_basis": {"type": "string", "enum": BASES},
            "rounding_minutes": {"type": "integer"}, "minimum_minutes": {"type": "integer"},
            "no_show_percent": {"type": "integer"}, "late_cancel_percent": {"type": "integer"},
            "is_future": {"type": "boolean", "description": "Not in force yet: can be "
                                                            "withdrawn"}}},
    "NewRateCard": {
        "type": "object", "required": ["tier", "effective_from", "hourly_rate"],
        "description": "Settings left out are taken from the tier's card in force on "
                       "effective_from (else: booked, 15, 0, 100, 50).",
        "properties": {
            "tier": {"type": "string", "enum": TIERS},
            "effective_from": {"type": "string", "format": "date",
                               "description": "Today or later (lab time)"},
            "hourly_rate": {"oneOf": [MONEY, {"type": "number"}],
                            "description": f"0 to {MAX_HOURLY_RATE}"},
            "billing_basis": {"type": "string", "enum": BASES},
            "rounding_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
            "minimum_minutes": {"type": "integer", "minimum": 0, "maximum": 1440},
            "no_show_percent": {"type": "integer", "minimum": 0, "maximum": 100},
            "late_cancel_percent": {"type": "integer", "minimum": 0, "maximum": 100}}},
}

STATEMENT_ACCESS = ("Admins see every statement; an organization's billing contact sees its "
                    "issued and paid ones; a lab manager sees those with lines of their labs, "
                    "with only those lines. Others get 404.")
PAGE_QUERY = [_query("page", "Page number, from 1.",
                     {"type": "integer", "minimum": 1, "default": 1}),
              _query("per_page", "Items per page.",
                     {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})]


def _statement_export(kind: str, mimetype: str, operation: str) -> dict[str, Any]:
    return {"get": {
        "summary": f"A statement as {kind} (the lines the caller may see)",
        "operationId": operation, "security": BEARER, "description": STATEMENT_ACCESS,
        "parameters": [_path_id("statement_id")],
        "responses": {"200": {"description": f"{kind} attachment named after the statement "
                                             "number; heading, lines, subtotals per lab, total",
                              "content": {mimetype: {"schema": {"type": "string"}}}},
                      **_problem_responses(401, 404)}}}


def _statement_action(summary: str, operation: str, description: str,
                      body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation_doc: dict[str, Any] = {
        "summary": summary, "operationId": operation, "security": BEARER,
        "description": description, "parameters": [_path_id("statement_id")],
        "responses": {"200": _json(_ref("Statement")),
                      **_problem_responses(401, 403, 404, 409, 422)}}
    if body is not None:
        operation_doc["requestBody"] = _json_body(body, required=False)
    return {"post": operation_doc}


PATHS |= {
    "/statements": {"get": {
        "summary": "Monthly statements the caller may see, newest first",
        "operationId": "listStatements", "security": BEARER, "description": STATEMENT_ACCESS,
        "parameters": [
            _query("period", "Month (YYYY-MM).", PERIOD),
            _query("organization_id", "Only this organization's.",
                   {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}),
            _query("state", "Statement state.", {"type": "string", "enum": STATEMENT_STATES}),
            *PAGE_QUERY],
        "responses": {"200": _json(_page_of("Statement")), **_problem_responses(401, 422)},
    }},
    "/statements/{statement_id}": {"get": {
        "summary": "One statement with its lines, subtotals per lab and total",
        "operationId": "getStatement", "security": BEARER, "description": STATEMENT_ACCESS,
        "parameters": [_path_id("statement_id")],
        "responses": {"200": _json(_ref("Statement")), **_problem_responses(401, 404)},
    }},
    "/statements/{statement_id}.csv": _statement_export(
        "CSV", "text/csv", "getStatementCsv"),
    "/statements/{statement_id}.xlsx": _statement_export(
        "XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "getStatementXlsx"),
    "/statements/close": {"post": {
        "summary": "Close a month: one draft statement per organization with unbilled charges "
                   "of it or earlier (admins)",
        "operationId": "closeMonth", "security": BEARER,
        "requestBody": _json_body({"type": "object", "required": ["period"],
                                   "properties": {"period": PERIOD}}),
        "description": "201 with the statements created; 200 with already_closed when the "
                       "month was closed before (nothing is created twice). 422 codes: "
                       "`invalid_period`, `period_not_ended`; 403 `not_admin`.",
        "responses": {"201": _json(_ref("CloseResult"), "Closed now"),
                      "200": _json(_ref("CloseResult"), "Closed before"),
                      **_problem_responses(401, 403, 409, 422)},
    }},
    "/statements/{statement_id}/issue": _statement_action(
        "Issue a draft statement; it never changes afterwards (admins)", "issueStatement",
        "409 `invalid_state` when no longer a draft; 403 `not_admin`."),
    "/statements/{statement_id}/paid": _statement_action(
        "Record the payment of an issued statement (admins)", "markStatementPaid",
        "409 `invalid_state` for a draft or a paid statement; 403 `not_admin`.",
        {"type": "object", "properties": {"note": {"type": "string",
                                                   "maxLength": MAX_REASON}}}),
    "/charges": {
        "get": {
            "summary": "Charge lines: all for admins, their labs' for lab managers",
            "operationId": "listCharges", "security": BEARER,
            "description": "Researchers get 403 `not_lab_manager`: they see their "
                           "organization's charges on its statements.",
            "parameters": [
                _query("period", "Month (YYYY-MM) the charges belong to.", PERIOD),
                _query("lab", "Lab code.", {"type": "string"}),
                _query("organization_id", "Only this organization's.",
                       {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}),
                _query("unbilled", "Only charges not yet on a statement.",
                       {"type": "boolean", "default": False}),
                *PAGE_QUERY],
            "responses": {"200": _json(_page_of("Charge")),
                          **_problem_responses(401, 403, 422)},
        },
        "post": {
            "summary": "A manual adjustment, positive or a credit, with a reason (admins and "
                       "the lab's managers)",
            "operationId": "createAdjustment", "security": BEARER,
            "requestBody": _json_body(_ref("NewAdjustment")),
            "description": "422 codes: `required`, `invalid_amount` (not a number of yuan "
                           "with at most two decimals, zero, or too large), "
                           "`reason_required`, `statement_not_draft` (another "
                           "organization's statement); 409 `invalid_state` when the statement "
                           "is no longer a draft; 403 `not_lab_manager`; 404 for an unknown "
                           "organization, lab or statement.",
            "responses": {"201": _json(_ref("Charge"), "Created"),
                          **_problem_responses(401, 403, 404, 409, 422)},
        },
    },
    "/instruments/{instrument_id}/rate-cards": {
        "get": {
            "summary": "An instrument's rate cards, past and future, and the one in force per "
                       "tier", "operationId": "listRateCards",
            "parameters": [_path_id("instrument_id")],
            "responses": {"200": _json({"type": "object", "properties": {
                "instrument_id": {"type": "integer"},
                "items": {"type": "array", "items": _ref("RateCard")},
                "current": {"type": "object", "description": "Per tier, the card in force "
                                                             "today (lab time), or null",
                            "additionalProperties": {"oneOf": [{"type": "null"},
                                                               _ref("RateCard")]}}}}),
                **_problem_responses(404)},
        },
        "post": {
            "summary": "A new rate card from a date on (admins and the lab's managers)",
            "operationId": "createRateCard", "security": BEARER,
            "parameters": [_path_id("instrument_id")],
            "requestBody": _json_body(_ref("NewRateCard")),
            "description": "422 codes: `required`, `invalid`, `invalid_amount`, "
                           "`out_of_range`, `in_past`, `overlapping_effective_dates` (a card "
                           "of that tier already starts on that date); 403 `not_lab_manager`.",
            "responses": {"201": _json(_ref("RateCard"), "Created"),
                          **_problem_responses(401, 403, 404, 422)},
        },
    },
    "/rate-cards/{card_id}": {"delete": {
        "summary": "Withdraw a rate card that is not in force yet (admins and the lab's "
                   "managers)", "operationId": "withdrawRateCard", "security": BEARER,
        "parameters": [_path_id("card_id")],
        "description": "409 `rate_card_in_force` once its date has come or a charge was "
                       "priced on it.",
        "responses": {"204": {"description": "Withdrawn"},
                      **_problem_responses(401, 403, 404, 409)},
    }},
}


def _with_common_responses(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation documents the 429 of the API's rate limit (when the deployment sets
    LABBOOK_RATELIMIT_API) and the 503 of a database out of reach; those that take a body also
    the 413 of one beyond MAX_CONTENT_LENGTH."""
    def problem(description: str) -> dict[str, Any]:
        return {"description": description,
                "content": {"application/problem+json": {"schema": _ref("Problem")}}}

    def responses(operation: dict[str, Any]) -> dict[str, Any]:
        common = {"429": problem("Too many requests: `rate_limited`, with Retry-After"),
                  "503": problem("The database cannot be reached just now (a restart): "
                                 "`database_unavailable`, with Retry-After")}
        if "requestBody" in operation:
            common["413"] = problem("Request body too large")
        return {**common, **operation["responses"]}

    return {path: {method: {**operation, "responses": responses(operation)}
                   for method, operation in item.items()}
            for path, item in paths.items()}


def _merged(name: str, base: dict[str, Any]) -> dict[str, Any]:
    """The core document's paths or schemas with those of every area in AREA_SPECS; an area
    never redefines what another documents."""
    merged = dict(base)
    for spec in AREA_SPECS:
        for key, value in getattr(spec, name).items():
            if key in merged:
                raise ValueError(f"{key} is documented twice in the OpenAPI document")
            merged[key] = value
    return merged


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "labbook API", "version": "1",
                 "description": "Booking and billing for the open, shared laboratories of the "
                                "Jiaozuo Institute of Industrial Technology. Errors are "
                                "application/problem+json documents with a stable `code`. "
                                "Messages and labels come in the language the request's "
                                "`Accept-Language` asks for (Chinese `zh-CN` or English "
                                "`en`), else in the token owner's language (profile page), "
                                "else in Chinese."},
        "servers": [{"url": "/api/v1"}],
        "paths": _with_common_responses(_merged("PATHS", PATHS)),
        "components": {"schemas": _merged("SCHEMAS", SCHEMAS), "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "API token from the profile page or "
                           "`flask --app wsgi labbook create-token --email E`."}}},
    }


@bp.get("/openapi.json")
def openapi_document():
    return document()
