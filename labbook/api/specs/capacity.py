"""OpenAPI of the capacity work: the national calendar of holidays and make-up days, each lab's
holiday policy and working days; instruments' channels; training requests and sessions."""

from __future__ import annotations

from typing import Any

from labbook.api.specs import (
    BEARER,
    enum_values,
    json_body,
    json_response,
    problem_responses,
    query,
    ref,
)
from labbook.holidays.models import DayKind, Festival
from labbook.holidays.services import MAX_WORKING_DAYS


def _path_text(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema}


_DAY = _path_text("day", "The date, YYYY-MM-DD.", {"type": "string", "format": "date"})
_LAB = _path_text("code", "The lab's code.", {"type": "string", "maxLength": 16})


def _required_date(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": True, "description": description,
            "schema": {"type": "string", "format": "date"}}


PATHS: dict[str, Any] = {
    "/holidays": {"get": {
        "summary": "The national calendar: statutory holidays and make-up working days (调休)",
        "operationId": "listStatutoryDays",
        "parameters": [query("year", "Only this year's days.",
                             {"type": "integer", "minimum": 2000, "maximum": 2099})],
        "responses": {"200": json_response({"type": "object", "required": ["items"],
                                            "properties": {"items": {
                                                "type": "array",
                                                "items": ref("StatutoryDay")}}}),
                      **problem_responses(422)},
    }},
    "/holidays/{day}": {
        "put": {
            "summary": "Make a day a holiday or a make-up working day (admins)",
            "operationId": "putStatutoryDay", "security": BEARER,
            "description": "201 for a new day, 200 for a change of one already there. A "
                           "make-up working day on a weekday is 422 `makeup_day_on_weekday`.",
            "parameters": [_DAY],
            "requestBody": json_body({
                "type": "object", "required": ["kind"],
                "properties": {"kind": {"type": "string", "enum": enum_values(DayKind)},
                               "festival": {"type": "string", "enum": enum_values(Festival)},
                               "source": {"type": "string", "maxLength": 200}}}),
            "responses": {"201": json_response(ref("StatutoryDay"), "Created"),
                          "200": json_response(ref("StatutoryDay"), "Changed"),
                          **problem_responses(401, 403, 409, 422)},
        },
        "delete": {
            "summary": "Take a day out of the national calendar (admins)",
            "operationId": "deleteStatutoryDay", "security": BEARER, "parameters": [_DAY],
            "responses": {"204": {"description": "Deleted"},
                          **problem_responses(401, 403, 404, 422)},
        },
    },
    "/holidays/seed": {"post": {
        "summary": "Add this year's and next year's days from chinese-calendar or the shipped "
                   "file (admins)",
        "operationId": "seedStatutoryDays", "security": BEARER,
        "description": "Days already in the calendar are kept as they are; running it again "
                       "adds nothing.",
        "responses": {"200": json_response({
            "type": "object", "required": ["added", "years"],
            "properties": {"added": {"type": "integer", "minimum": 0},
                           "years": {"type": "array", "items": {"type": "integer"}}}}),
            **problem_responses(401, 403)},
    }},
    "/labs/{code}/holiday-policy": {
        "get": {
            "summary": "Whether a lab closes on holidays and opens on make-up days",
            "operationId": "getHolidayPolicy", "parameters": [_LAB],
            "responses": {"200": json_response(ref("HolidayPolicy")),
                          **problem_responses(404)},
        },
        "put": {
            "summary": "Set a lab's holiday policy (its managers)",
            "operationId": "putHolidayPolicy", "security": BEARER, "parameters": [_LAB],
            "requestBody": json_body({
                "type": "object",
                "properties": {"closes_on_holidays": {"type": "boolean"},
                               "opens_on_makeup_days": {"type": "boolean"}}}),
            "responses": {"200": json_response(ref("HolidayPolicy")),
                          **problem_responses(401, 403, 404, 422)},
        },
    },
    "/labs/{code}/working-days": {"get": {
        "summary": "A lab's working days between two dates (both included, at most a year)",
        "operationId": "listWorkingDays",
        "parameters": [_LAB, _required_date("start", "First day."),
                       _required_date("end", "Last day, at most 365 days after start.")],
        "responses": {"200": json_response({
            "type": "object", "required": ["lab", "start", "end", "working_days"],
            "properties": {"lab": {"type": "string"},
                           "start": {"type": "string", "format": "date"},
                           "end": {"type": "string", "format": "date"},
                           "working_days": {"type": "array",
                                            "items": {"type": "string", "format": "date"}}}}),
            **problem_responses(404, 422)},
    }},
    "/labs/{code}/working-days/after": {"get": {
        "summary": "The date a number of a lab's working days after a date (a due date)",
        "operationId": "addWorkingDays",
        "parameters": [_LAB, _required_date("start", "The day counting starts after."),
                       query("days", "Working days to count (0: the start itself).",
                             {"type": "integer", "minimum": 0, "maximum": MAX_WORKING_DAYS})],
        "responses": {"200": json_response({
            "type": "object", "required": ["lab", "start", "days", "date"],
            "properties": {"lab": {"type": "string"},
                           "start": {"type": "string", "format": "date"},
                           "days": {"type": "integer"},
                           "date": {"type": "string", "format": "date"}}}),
            **problem_responses(404, 422)},
    }},
}

SCHEMAS: dict[str, Any] = {
    "StatutoryDay": {"type": "object", "required": ["day", "kind", "festival", "source"],
                     "properties": {"day": {"type": "string", "format": "date"},
                                    "kind": {"type": "string", "enum": enum_values(DayKind)},
                                    "festival": {"type": "string",
                                                 "enum": enum_values(Festival)},
                                    "source": {"type": "string"}}},
    "HolidayPolicy": {"type": "object",
                      "required": ["lab", "closes_on_holidays", "opens_on_makeup_days"],
                      "properties": {"lab": {"type": "string"},
                                     "closes_on_holidays": {"type": "boolean"},
                                     "opens_on_makeup_days": {"type": "boolean"}}},
}
