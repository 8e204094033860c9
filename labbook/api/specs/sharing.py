"""OpenAPI: open-sharing statistics and owner settlements (``labbook.reports.api``)."""

from __future__ import annotations

from typing import Any

from labbook.api.specs import BEARER, enum_values, json_response, problem_responses, query, ref
from labbook.billing.models import ChargeKind

MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
HOURS = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
COUNT = {"type": "integer", "minimum": 0}
MONTH = query("month", "The month, YYYY-MM (lab time); default: last month.",
              {"type": "string", "pattern": r"^\d{4}-\d{2}$"})

_FIGURES = {
    "bookings": COUNT, "effective_seconds": COUNT, "effective_hours": HOURS,
    "outside_seconds": COUNT, "outside_hours": HOURS, "institute_seconds": COUNT,
    "institute_hours": HOURS,
    "sharing_rate_percent": {"type": ["string", "null"],
                             "description": "Outside hours ÷ effective hours, in per cent to "
                                            "one decimal; null without effective hours."},
    "outside_users": COUNT, "outside_organizations": COUNT, "revenue": MONEY,
    "outside_revenue": MONEY, "training_sessions": COUNT, "people_trained": COUNT,
    "downtime_seconds": COUNT, "downtime_hours": HOURS,
}
_TOTALS = {name: MONEY for name in ("time_revenue", "testing_revenue", "revenue", "time_share",
                                    "testing_share", "share")}

PATHS: dict[str, Any] = {
    "/open-sharing": {"get": {
        "summary": "A year's open-sharing statistics of the large instruments, per instrument "
                   "and lab (lab managers: their labs; admins: all)",
        "operationId": "getOpenSharingStatistics", "security": BEARER,
        "parameters": [
            query("year", "The year (lab time); default: this year.",
                  {"type": "integer", "minimum": 2000, "maximum": 2099}),
            query("lab", "One lab's code; default: every lab one reports on.",
                  {"type": "string"})],
        "responses": {"200": json_response(ref("OpenSharingStatistics")),
                      **problem_responses(401, 403, 404, 422)},
        "description": "The definitions are those of the page /reports/open-sharing and the "
                       "README (Owners and open sharing).",
    }},
    "/settlements": {"get": {
        "summary": "Every owner unit's revenue and share in a month, and what no owner's "
                   "instrument earned (admins)",
        "operationId": "getSettlementsOverview", "security": BEARER, "parameters": [MONTH],
        "responses": {"200": json_response(ref("SettlementsOverview")),
                      **problem_responses(401, 403, 422)},
    }},
    "/owners/{code}/settlement": {"get": {
        "summary": "An owner unit's settlement of a month, line by line (admins and the "
                   "owner's contact persons)",
        "operationId": "getOwnerSettlement", "security": BEARER,
        "parameters": [{"name": "code", "in": "path", "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 16}},
                       MONTH],
        "responses": {"200": json_response(ref("OwnerSettlement")),
                      **problem_responses(401, 403, 404, 422)},
    }},
}

SCHEMAS: dict[str, Any] = {
    "SharingFigures": {"type": "object", "required": list(_FIGURES), "properties": _FIGURES},
    "OpenSharingStatistics": {"type": "object", "required": ["year", "threshold", "labs",
                                                              "totals"], "properties": {
        "year": {"type": "integer"}, "threshold": MONEY,
        "labs": {"type": "array", "items": {"type": "object", "properties": {
            "lab": {"type": "string"},
            "instruments": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "code": {"type": "string"},
                "name_zh": {"type": "string"}, "name_en": {"type": "string"},
                "value_cny": MONEY, "owner": {"type": ["string", "null"]}, **_FIGURES}}},
            "totals": ref("SharingFigures")}}},
        "totals": ref("SharingFigures")}},
    "SettlementTotals": {"type": "object", "required": list(_TOTALS), "properties": _TOTALS},
    "SettlementsOverview": {"type": "object", "properties": {
        "month": {"type": "string"},
        "owners": {"type": "array", "items": {"type": "object", "properties": {
            "code": {"type": "string"}, "name_zh": {"type": "string"},
            "name_en": {"type": "string"}, **_TOTALS}}},
        "not_attributed": MONEY, "total_revenue": MONEY}},
    "OwnerSettlement": {"type": "object", "properties": {
        "owner": {"type": "string"}, "month": {"type": "string"},
        "agreements": {"type": "array", "items": {"type": "object", "properties": {
            "effective_from": {"type": "string", "format": "date"},
            "time_share_percent": {"type": "integer"},
            "testing_share_percent": {"type": "integer"}}}},
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "charge_id": {"type": "integer"}, "date": {"type": "string", "format": "date"},
            "instrument": {"type": "string"}, "organization": {"type": "string"},
            "kind": {"type": "string", "enum": enum_values(ChargeKind)},
            "part": {"type": "string", "enum": ["time", "testing"]},
            "amount": MONEY, "percent": {"type": "integer"}, "share": MONEY}}},
        "totals": ref("SettlementTotals")}},
}
