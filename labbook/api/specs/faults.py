"""OpenAPI: fault reports (``labbook.faults.api``)."""

from __future__ import annotations

from typing import Any

from labbook.api.specs import (
    BEARER,
    enum_values,
    json_body,
    json_response,
    page_of,
    path_id,
    problem_responses,
    query,
    ref,
)
from labbook.faults.models import FaultKind, FaultState
from labbook.faults.services import LOGGED_KINDS

KINDS = enum_values(FaultKind)
STATES = enum_values(FaultState)
MOMENT = {"type": ["string", "null"], "format": "date-time"}


def _action(summary: str, operation: str, body: str, response: str = "Fault",
            codes: str = "") -> dict[str, Any]:
    return {"post": {
        "summary": summary, "operationId": operation, "security": BEARER,
        "parameters": [path_id("fault_id")], "requestBody": json_body(ref(body)),
        "responses": {"200": json_response(ref(response)),
                      **problem_responses(401, 403, 404, 409, 422)},
        "description": "Only the managers of the instrument's lab (404 for anyone else). 409 "
                       "`invalid_state` once the report is closed." + codes,
    }}


PATHS: dict[str, Any] = {
    "/instruments/{instrument_id}/faults": {"post": {
        "summary": "Report a problem with an instrument (any signed-in user)",
        "operationId": "reportFault", "security": BEARER,
        "parameters": [path_id("instrument_id")],
        "requestBody": json_body(ref("NewFault")),
        "responses": {"201": json_response(ref("Fault"), "Created"),
                      **problem_responses(401, 404, 422)},
        "description": "The lab's managers are told by email. `booking_id`, if given, must be "
                       "one of the reporter's bookings of this instrument (422 `invalid`).",
    }},
    "/faults": {"get": {
        "summary": "Fault reports: those of the labs one manages, and one's own",
        "operationId": "listFaults", "security": BEARER,
        "parameters": [
            query("state", "Open or closed.", {"type": "string", "enum": STATES}),
            query("page", "Page number, from 1.",
                  {"type": "integer", "minimum": 1, "default": 1}),
            query("per_page", "Items per page.",
                  {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})],
        "responses": {"200": json_response(page_of("Fault")), **problem_responses(401, 422)},
    }},
    "/faults/{fault_id}": {"get": {
        "summary": "One fault report (the lab's managers and the reporter)",
        "operationId": "getFault", "security": BEARER, "parameters": [path_id("fault_id")],
        "responses": {"200": json_response(ref("Fault")), **problem_responses(401, 404)},
    }},
    "/faults/{fault_id}/answer": _action("Answer the reporter (by email); it stays open",
                                         "answerFault", "FaultAnswer"),
    "/faults/{fault_id}/maintenance": _action(
        "Put the instrument into maintenance from this report; lists the bookings it still "
        "holds", "startFaultMaintenance", "FaultMaintenance", "FaultWithBookingsHit",
        " The bookings hit are cancelled, if wanted, as for any instrument out of service."),
    "/faults/{fault_id}/close": _action(
        "Close the report with cause and fix; downtime still running ends", "closeFault",
        "FaultClose", codes=" 422 `required` for a breakdown or maintenance without `fix`."),
}

_FAULT_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"}, "instrument_id": {"type": "integer"},
    "instrument_code": {"type": "string"}, "kind": {"type": "string", "enum": KINDS},
    "state": {"type": "string", "enum": STATES},
    "booking_id": {"type": ["integer", "null"]},
    "reported_at": {"type": "string", "format": "date-time"},
    "description": {"type": "string"},
    "reported_by": {"description": "For the lab's managers only; null for the reporter.",
                    "oneOf": [{"type": "null"}, {"type": "object", "properties": {
                        "id": {"type": "integer"}, "name": {"type": "string"}}}]},
    "down_from": MOMENT, "down_until": MOMENT, "cause": {"type": "string"},
    "fix": {"type": "string"}, "answer": {"type": "string"}, "answered_at": MOMENT,
    "closed_at": MOMENT, "url": {"type": "string"},
}

SCHEMAS: dict[str, Any] = {
    "Fault": {"type": "object", "required": list(_FAULT_PROPERTIES),
              "properties": _FAULT_PROPERTIES},
    "FaultWithBookingsHit": {"type": "object",
                             "required": [*_FAULT_PROPERTIES, "bookings_hit"],
                             "properties": {**_FAULT_PROPERTIES, "bookings_hit": {
                                 "type": "array", "items": {"type": "object", "properties": {
                                     "id": {"type": "integer"},
                                     "start": {"type": "string", "format": "date-time"},
                                     "end": {"type": "string", "format": "date-time"},
                                     "state": {"type": "string"},
                                     "organization": {"type": "string"}}}}}},
    "NewFault": {"type": "object", "required": ["description"], "properties": {
        "description": {"type": "string", "minLength": 1, "maxLength": 2000},
        "booking_id": {"type": "integer", "minimum": 1}}},
    "FaultAnswer": {"type": "object", "required": ["answer"], "properties": {
        "answer": {"type": "string", "minLength": 1, "maxLength": 2000}}},
    "FaultMaintenance": {"type": "object", "required": ["kind", "reason"], "properties": {
        "kind": {"type": "string", "enum": [kind.value for kind in LOGGED_KINDS]},
        "reason": {"type": "string", "minLength": 1, "maxLength": 500}}},
    "FaultClose": {"type": "object", "required": ["kind"], "properties": {
        "kind": {"type": "string", "enum": KINDS},
        "cause": {"type": "string", "maxLength": 2000},
        "fix": {"type": "string", "maxLength": 2000},
        "back_in_service": {"type": "boolean", "default": False},
        "down_until": {"type": "string", "format": "date-time"}}},
}
