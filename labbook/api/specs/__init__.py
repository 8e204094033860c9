"""The building blocks of the OpenAPI document (labbook.api.openapi).

Each area that adds routes documents them in its own module here (``labbook.api.specs.<area>``)
with a ``PATHS`` and a ``SCHEMAS`` dictionary, and ``labbook.api.openapi`` merges them into the
one document, so that no two areas edit the same file.
"""

from __future__ import annotations

import enum
from typing import Any

BEARER = [{"bearerAuth": []}]


def enum_values(enum_class: type[enum.Enum]) -> list[str]:
    """An enum's values in the class's order, so that the document names exactly what the code
    accepts and answers."""
    return [member.value for member in enum_class]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def problem_responses(*statuses: int) -> dict[str, Any]:
    descriptions = {400: "Bad request", 401: "Not signed in", 403: "Not allowed",
                    404: "Not found", 409: "Refused by the rules or the current state",
                    422: "Malformed input"}
    return {str(status): {"description": descriptions[status],
                          "content": {"application/problem+json": {"schema": ref("Problem")}}}
            for status in statuses}


def json_response(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def page_of(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "total", "page", "per_page"],
            "properties": {"items": {"type": "array", "items": ref(item)},
                           "total": {"type": "integer", "minimum": 0},
                           "page": {"type": "integer", "minimum": 1},
                           "per_page": {"type": "integer", "minimum": 1}}}


def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}
