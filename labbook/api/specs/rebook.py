"""OpenAPI of changing bookings, the waiting list and no-show suspensions (issue 21: 1, 2, 3,
7). The changed core routes (``PATCH /bookings/{id}``, ``for_user_id`` when booking) are in
``labbook.api.openapi``; they refer to the schemas here."""

from __future__ import annotations

from typing import Any

from labbook.api.specs import (
    BEARER,
    enum_values,
    json_body,
    json_response,
    path_id,
    problem_responses,
    ref,
)
from labbook.booking.models import ChangeState, WaitlistState
from labbook.booking.services import MAX_PROJECT_REF, MAX_PURPOSE

DATE_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "BookingChange": {
        "type": "object",
        "required": ["id", "booking_id", "state", "old_start", "old_end", "new_start",
                     "new_end"],
        "properties": {
            "id": {"type": "integer"}, "booking_id": {"type": "integer"},
            "state": {"type": "string", "enum": enum_values(ChangeState),
                      "description": "`pending` waits for the lab's approval (the booking "
                                     "keeps its old time); `applied`, `rejected`, or "
                                     "`withdrawn` when a later change or the booking's end "
                                     "took its place."},
            "old_start": DATE_TIME, "old_end": DATE_TIME,
            "new_start": DATE_TIME, "new_end": DATE_TIME,
            "requested_by": {"type": "integer"}, "requested_at": DATE_TIME,
            "given_back_minutes": {"type": "integer", "minimum": 0},
            "is_late": {"type": "boolean",
                        "description": "Time given back inside the cancellation window by the "
                                       "booking's own user: charged like a late cancellation "
                                       "of that time."},
            "note": {"type": "string"}, "decision_note": {"type": "string"}}},
    "BookingChangeRequest": {
        "type": "object",
        "description": "The new start, end or both (ISO 8601 with a UTC offset); what is left "
                       "out stays.",
        "properties": {
            "start": DATE_TIME, "end": DATE_TIME,
            "note": {"type": "string", "maxLength": 1000},
            "override": {"type": "boolean",
                         "description": "Lab managers: override the soft rules."}}},
    "WaitlistEntry": {
        "type": "object",
        "required": ["id", "instrument_id", "state", "start", "end", "minutes"],
        "properties": {
            "id": {"type": "integer"}, "instrument_id": {"type": "integer"},
            "state": {"type": "string", "enum": enum_values(WaitlistState)},
            "start": DATE_TIME, "end": DATE_TIME,
            "minutes": {"type": "integer", "minimum": 1},
            "channels": {"type": "integer", "minimum": 1,
                         "description": "How many of the instrument's channels the wish is "
                                        "for; a claim books as many."},
            "purpose": {"type": "string"}, "created_at": DATE_TIME,
            "offer": {"type": ["object", "null"],
                      "description": "The freed slot offered, claimable until `expires_at`.",
                      "properties": {"start": DATE_TIME, "end": DATE_TIME,
                                     "expires_at": DATE_TIME}},
            "booking_id": {"type": ["integer", "null"]}}},
    "WaitlistRequest": {
        "type": "object", "required": ["instrument_id", "start", "end", "purpose"],
        "properties": {
            "instrument_id": {"type": "integer"},
            "start": {**DATE_TIME, "description": "The window's start; not in the past."},
            "end": DATE_TIME,
            "minutes": {"type": "integer", "minimum": 1,
                        "description": "The length wanted anywhere in the window; left out, "
                                       "the whole window (that very slot)."},
            "channels": {"type": "integer", "minimum": 1, "default": 1,
                         "description": "On an instrument with channels or places: how many "
                                        "must be free for all of the slot."},
            "purpose": {"type": "string", "maxLength": MAX_PURPOSE}}},
    "Claim": {"type": "object", "properties": {
        "project_ref": {"type": "string", "maxLength": MAX_PROJECT_REF}}},
    "Suspension": {
        "type": "object", "required": ["id", "user", "lab", "starts_at", "ends_at"],
        "properties": {
            "id": {"type": "integer"},
            "user": {"type": "object", "properties": {"id": {"type": "integer"},
                                                      "name": {"type": "string"}}},
            "lab": {"type": "string"}, "starts_at": DATE_TIME, "ends_at": DATE_TIME,
            "no_shows": {"type": "integer"}, "window_days": {"type": "integer"},
            "lifted_at": {"type": ["string", "null"], "format": "date-time"},
            "lift_note": {"type": "string"}}},
    "ChangedBooking": {
        "allOf": [ref("Booking"), {"type": "object", "required": ["change"],
                                   "properties": {"change": ref("BookingChange")}}]},
}


def _decide_change(summary: str, operation: str, note_required: bool) -> dict[str, Any]:
    return {"post": {
        "summary": summary, "operationId": operation, "security": BEARER,
        "parameters": [path_id("change_id")],
        "requestBody": json_body(ref("Note"), required=note_required),
        "responses": {"200": json_response(ref("BookingChange")),
                      **problem_responses(401, 403, 404, 409, 422)}}}


PATHS: dict[str, Any] = {
    "/booking-changes/{change_id}/approve": _decide_change(
        "Approve a change waiting for approval: the booking moves (lab managers)",
        "approveBookingChange", False),
    "/booking-changes/{change_id}/reject": _decide_change(
        "Turn down a change waiting for approval, with a note (lab managers)",
        "rejectBookingChange", True),
}

PATHS.update({
    "/waitlist": {
        "post": {
            "summary": "Join the waiting list: a taken slot, or any free slot of `minutes` "
                       "within a window", "operationId": "joinWaitlist", "security": BEARER,
            "description": "409 codes: `slot_free` (book it instead), `already_waiting`, and "
                           "the booking rules about the person (`not_qualified`, `suspended`, "
                           "…); 422: `in_past`, `invalid_length`, `window_too_long`, "
                           "`too_many_channels`.",
            "requestBody": json_body(ref("WaitlistRequest")),
            "responses": {"201": json_response(ref("WaitlistEntry"), "Joined"),
                          **problem_responses(401, 404, 409, 422)}},
        "get": {
            "summary": "One's entries still on the waiting list, offers included",
            "operationId": "listWaitlist", "security": BEARER,
            "responses": {"200": json_response({"type": "object", "properties": {
                "items": {"type": "array", "items": ref("WaitlistEntry")},
                "total": {"type": "integer"}}}), **problem_responses(401)}},
    },
    "/waitlist/{entry_id}": {"delete": {
        "summary": "Leave the waiting list (an open offer passes to the next in line)",
        "operationId": "leaveWaitlist", "security": BEARER, "parameters": [path_id("entry_id")],
        "responses": {"200": json_response(ref("WaitlistEntry")),
                      **problem_responses(401, 404, 409)}}},
    "/waitlist/{entry_id}/claim": {"post": {
        "summary": "Book the slot offered to one's entry (every booking rule checked)",
        "operationId": "claimWaitlistOffer", "security": BEARER,
        "parameters": [path_id("entry_id")],
        "description": "409 codes: `offer_lapsed`, `invalid_state`, the booking rules' codes.",
        "requestBody": json_body(ref("Claim"), required=False),
        "responses": {"201": json_response(ref("Booking"), "Booked"),
                      **problem_responses(401, 404, 409, 422)}}},
    "/suspensions": {"get": {
        "summary": "No-show suspensions in force: one's own and those in the labs one manages",
        "operationId": "listSuspensions", "security": BEARER,
        "responses": {"200": json_response({"type": "object", "properties": {
            "items": {"type": "array", "items": ref("Suspension")},
            "total": {"type": "integer"}}}), **problem_responses(401)}}},
    "/suspensions/{suspension_id}/lift": {"post": {
        "summary": "Lift a suspension early (the lab's managers)",
        "operationId": "liftSuspension", "security": BEARER,
        "parameters": [path_id("suspension_id")],
        "requestBody": json_body(ref("Note"), required=False),
        "responses": {"200": json_response(ref("Suspension")),
                      **problem_responses(401, 403, 404, 409, 422)}}},
})
