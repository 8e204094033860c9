"""The OpenAPI 3.1 document of the API, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from labbook.api import bp


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_responses(*statuses: int) -> dict[str, Any]:
    descriptions = {400: "Bad request", 401: "Not signed in", 403: "Not allowed",
                    404: "Not found", 409: "Refused by the booking rules",
                    422: "Malformed input"}
    return {str(status): {"description": descriptions[status],
                          "content": {"application/problem+json": {"schema": _ref("Problem")}}}
            for status in statuses}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _page_of(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "total", "page", "per_page"],
            "properties": {"items": {"type": "array", "items": _ref(item)},
                           "total": {"type": "integer", "minimum": 0},
                           "page": {"type": "integer", "minimum": 1},
                           "per_page": {"type": "integer", "minimum": 1}}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1}}


CATALOGUE_QUERY = [
    _query("q", "Words that must all appear in names (zh/en), model, manufacturer, category "
                "or standard; common abbreviations such as XRD or 扫描电镜 are understood.",
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
            "problems": {"type": "array", "items": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "field": {"type": "string"}}}},
        },
    },
    "Lab": {
        "type": "object",
        "required": ["code", "name", "name_en", "timezone", "opening_hours"],
        "properties": {
            "code": {"type": "string"}, "name": {"type": "string"},
            "name_en": {"type": "string"}, "location": {"type": "string"},
            "location_en": {"type": "string"}, "timezone": {"type": "string"},
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
            "status": {"type": "string", "enum": ["available", "maintenance", "retired"]},
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
                    "tier": {"type": "string", "enum": ["internal", "partner", "external"]},
                    "effective_from": {"type": "string", "format": "date"},
                    "hourly_rate": MONEY,
                    "billing_basis": {"type": "string", "enum": ["booked", "actual", "larger"]},
                    "rounding_minutes": {"type": "integer"},
                    "minimum_minutes": {"type": "integer"}}}},
            "services": {"type": "array", "items": {"type": "string"}},
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
    "ServiceDetail": {"allOf": [_ref("Service"), {
        "type": "object",
        "properties": {"sample_requirements": {"type": "string"},
                       "sample_requirements_en": {"type": "string"}},
    }]},
}

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
            {"type": "string", "enum": ["available", "maintenance", "retired"]})],
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
    "/services/{service_id}": {"get": {
        "summary": "One testing service", "operationId": "getService",
        "parameters": [_path_id("service_id")],
        "responses": {"200": _json(_ref("ServiceDetail")), **_problem_responses(404)},
    }},
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "labbook API", "version": "1",
                 "description": "Booking and billing for the open, shared laboratories of the "
                                "Jiaozuo Institute of Industrial Technology. Errors are "
                                "application/problem+json documents with a stable `code`."},
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }


@bp.get("/openapi.json")
def openapi_document():
    return document()
