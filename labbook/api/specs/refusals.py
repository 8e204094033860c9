"""OpenAPI of a way forward from every refusal (issue 17, item 3): each lab's contact person
for bookings and training. The core schemas (``Lab``, ``RuleProblem``) in
``labbook.api.openapi`` refer to the schemas here."""

from __future__ import annotations

from typing import Any

PATHS: dict[str, Any] = {}

SCHEMAS: dict[str, Any] = {
    "LabContact": {
        "type": "object", "required": ["name", "phone", "email"],
        "description": "Whom people ask about bookings and training in the lab; the lab's "
                       "managers keep it (or labs.csv names it).",
        "properties": {"name": {"type": "string"}, "phone": {"type": "string"},
                       "email": {"type": "string"}}},
}
