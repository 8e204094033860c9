"""OpenAPI of a way forward from every refusal (issue 17, item 3): each lab's contact person
for bookings and training, and how a ``not_qualified`` refusal says to get trained. The core
schemas (``Lab``, ``RuleProblem``) in ``labbook.api.openapi`` refer to the schemas here."""

from __future__ import annotations

from typing import Any

from labbook.api.specs import ref

PATHS: dict[str, Any] = {}

SCHEMAS: dict[str, Any] = {
    "LabContact": {
        "type": "object", "required": ["name", "phone", "email"],
        "description": "Whom people ask about bookings and training in the lab; the lab's "
                       "managers keep it (or labs.csv names it).",
        "properties": {"name": {"type": "string"}, "phone": {"type": "string"},
                       "email": {"type": "string"}}},
    "TrainingHelp": {
        "type": "object", "required": ["instrument_id", "lab", "contact", "requested_at"],
        "description": "Only on a `not_qualified` problem of a single booking (`POST "
                       "/bookings`, or `POST /waitlist/{entry_id}/claim` for the time "
                       "offered) or of a change to one (`PATCH /bookings/{booking_id}`, "
                       "where the training record lapses within the new time), made by the "
                       "person refused: how they get trained on the instrument. A lab "
                       "manager booking for someone, or changing their booking, gets no "
                       "`training` (the problem's message names whose record is missing).",
        "properties": {
            "instrument_id": {"type": "integer"}, "lab": {"type": "string"},
            "contact": {"oneOf": [ref("LabContact"), {"type": "null"}]},
            "requested_at": {"type": ["string", "null"], "format": "date-time",
                             "description": "When the person asked for training on it, if "
                                            "their request is still open; null otherwise."},
            "request_id": {"type": ["integer", "null"]},
            "request": {
                "type": "object", "required": ["method", "href", "body"],
                "description": "Where no request is open: the call that asks the lab's "
                               "managers for training (they are emailed).",
                "properties": {"method": {"type": "string", "const": "POST"},
                               "href": {"type": "string",
                                        "examples": ["/api/v1/training-requests"]},
                               "body": {"type": "object", "properties": {
                                   "instrument_id": {"type": "integer"}}}}}}},
}
