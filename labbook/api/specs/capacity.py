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
from labbook.training.models import (
    MAX_CAPACITY,
    EnrolmentState,
    ExamResult,
    RequestState,
    SessionState,
)
from labbook.training.services import MAX_LOCATION, MAX_NOTE, MAX_VALID_DAYS


def _path_text(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema}


_DAY = _path_text("day", "The date, YYYY-MM-DD.", {"type": "string", "format": "date"})
_LAB = _path_text("code", "The lab's code.", {"type": "string", "maxLength": 16})


def _id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}


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

TRAINING_PATHS: dict[str, Any] = {
    "/training-requests": {
        "post": {
            "summary": "Ask for training on an instrument (its lab's managers are told)",
            "operationId": "createTrainingRequest", "security": BEARER,
            "description": "An open request of the same person for the instrument is answered "
                           "as it is.",
            "requestBody": json_body({
                "type": "object", "required": ["instrument_id"],
                "properties": {"instrument_id": {"type": "integer"},
                               "note": {"type": "string", "maxLength": MAX_NOTE}}}),
            "responses": {"201": json_response(ref("TrainingRequest"), "Created"),
                          **problem_responses(401, 404, 422)},
        },
        "get": {
            "summary": "One's own training requests, and the open ones of the labs one manages",
            "operationId": "listTrainingRequests", "security": BEARER,
            "responses": {"200": json_response({
                "type": "object", "required": ["own", "to_arrange"],
                "properties": {"own": {"type": "array", "items": ref("TrainingRequest")},
                               "to_arrange": {"type": "array",
                                              "items": ref("TrainingRequest")}}}),
                **problem_responses(401)},
        },
    },
    "/training-requests/{request_id}/withdraw": {"post": {
        "summary": "Withdraw one's open training request", "operationId":
            "withdrawTrainingRequest", "security": BEARER, "parameters": [_id("request_id")],
        "responses": {"200": json_response(ref("TrainingRequest")),
                      **problem_responses(401, 403, 404, 409)},
    }},
    "/training-requests/{request_id}/decline": {"post": {
        "summary": "Decline a training request, saying why (the lab's managers)",
        "operationId": "declineTrainingRequest", "security": BEARER,
        "parameters": [_id("request_id")],
        "requestBody": json_body({"type": "object", "required": ["note"],
                                  "properties": {"note": {"type": "string",
                                                          "maxLength": MAX_NOTE}}}),
        "responses": {"200": json_response(ref("TrainingRequest")),
                      **problem_responses(401, 403, 404, 409, 422)},
    }},
    "/training-sessions": {
        "post": {
            "summary": "Schedule a training session (the lab's managers)",
            "operationId": "createTrainingSession", "security": BEARER,
            "description": "Everyone with an open request for the instrument is told.",
            "requestBody": json_body({
                "type": "object",
                "required": ["instrument_id", "starts_at", "ends_at", "trainer_email",
                             "capacity"],
                "properties": {
                    "instrument_id": {"type": "integer"},
                    "starts_at": {"type": "string", "format": "date-time"},
                    "ends_at": {"type": "string", "format": "date-time"},
                    "trainer_email": {"type": "string", "maxLength": 254},
                    "capacity": {"type": "integer", "minimum": 1, "maximum": MAX_CAPACITY},
                    "location": {"type": "string", "maxLength": MAX_LOCATION},
                    "note": {"type": "string", "maxLength": MAX_NOTE},
                    "valid_days": {"type": "integer", "minimum": 1,
                                   "maximum": MAX_VALID_DAYS,
                                   "description": "How long a passed exam's record is valid; "
                                                  "left out: no expiry."}}}),
            "responses": {"201": json_response(ref("TrainingSession"), "Created"),
                          **problem_responses(401, 403, 404, 422)},
        },
        "get": {
            "summary": "Training sessions to come", "operationId": "listTrainingSessions",
            "parameters": [query("instrument_id", "Only this instrument's sessions.",
                                 {"type": "integer", "minimum": 1})],
            "responses": {"200": json_response({
                "type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": ref("TrainingSession")}}}),
                **problem_responses(422)},
        },
    },
    "/training-sessions/{session_id}": {"get": {
        "summary": "A training session (with its enrolments for the lab's managers)",
        "operationId": "getTrainingSession", "parameters": [_id("session_id")],
        "responses": {"200": json_response(ref("TrainingSession")), **problem_responses(404)},
    }},
    "/training-sessions/{session_id}/enrolments": {"post": {
        "summary": "Take a place in a session: oneself, or anyone (the lab's managers)",
        "operationId": "enrolInTrainingSession", "security": BEARER,
        "parameters": [_id("session_id")],
        "description": "A full session is 409 `session_full`, a second place 409 "
                       "`already_enrolled`.",
        "requestBody": json_body({"type": "object", "properties": {
            "user_email": {"type": "string", "maxLength": 254}}}, required=False),
        "responses": {"201": json_response(ref("TrainingEnrolment"), "Enrolled"),
                      **problem_responses(401, 403, 404, 409, 422)},
    }},
    "/training-enrolments/{enrolment_id}/cancel": {"post": {
        "summary": "Give a place back before the session starts", "operationId":
            "cancelTrainingEnrolment", "security": BEARER, "parameters": [_id("enrolment_id")],
        "responses": {"200": json_response(ref("TrainingEnrolment")),
                      **problem_responses(401, 403, 404, 409)},
    }},
    "/training-enrolments/{enrolment_id}/attendance": {"post": {
        "summary": "Record whether the person came (the lab's managers)",
        "operationId": "recordTrainingAttendance", "security": BEARER,
        "parameters": [_id("enrolment_id")],
        "requestBody": json_body({"type": "object", "required": ["attended"],
                                  "properties": {"attended": {"type": "boolean"}}}),
        "responses": {"200": json_response(ref("TrainingEnrolment")),
                      **problem_responses(401, 403, 404, 409, 422)},
    }},
    "/training-enrolments/{enrolment_id}/exam": {"post": {
        "summary": "Record the exam; a pass grants the training record (the lab's managers)",
        "operationId": "recordTrainingExam", "security": BEARER,
        "parameters": [_id("enrolment_id")],
        "requestBody": json_body({"type": "object", "required": ["passed"], "properties": {
            "passed": {"type": "boolean"},
            "expires_at": {"type": "string", "format": "date-time",
                           "description": "The record's expiry; left out: the session's "
                                          "valid_days."}}}),
        "responses": {"200": json_response(ref("TrainingEnrolment")),
                      **problem_responses(401, 403, 404, 409, 422)},
    }},
}
PATHS.update(TRAINING_PATHS)

_PERSON = {"type": "object", "properties": {"id": {"type": "integer"},
                                            "name": {"type": "string"},
                                            "email": {"type": "string"}}}
SCHEMAS.update({
    "TrainingRequest": {"type": "object", "required": ["id", "instrument_id", "state"],
                        "properties": {
                            "id": {"type": "integer"}, "instrument_id": {"type": "integer"},
                            "user": _PERSON, "note": {"type": "string"},
                            "state": {"type": "string", "enum": enum_values(RequestState)},
                            "decision_note": {"type": "string"},
                            "created_at": {"type": "string", "format": "date-time"}}},
    "TrainingEnrolment": {"type": "object", "required": ["id", "session_id", "state"],
                          "properties": {
                              "id": {"type": "integer"}, "session_id": {"type": "integer"},
                              "user": _PERSON,
                              "state": {"type": "string",
                                        "enum": enum_values(EnrolmentState)},
                              "exam_result": {"type": ["string", "null"],
                                              "enum": [*enum_values(ExamResult), None]},
                              "qualification_id": {"type": ["integer", "null"]}}},
    "TrainingSession": {"type": "object",
                        "required": ["id", "instrument_id", "starts_at", "ends_at", "capacity",
                                     "enrolled", "places_left", "state"],
                        "properties": {
                            "id": {"type": "integer"}, "instrument_id": {"type": "integer"},
                            "starts_at": {"type": "string", "format": "date-time"},
                            "ends_at": {"type": "string", "format": "date-time"},
                            "trainer": {"type": "string"},
                            "capacity": {"type": "integer"}, "enrolled": {"type": "integer"},
                            "places_left": {"type": "integer"},
                            "location": {"type": "string"}, "note": {"type": "string"},
                            "valid_days": {"type": ["integer", "null"]},
                            "state": {"type": "string", "enum": enum_values(SessionState)},
                            "enrolments": {"type": "array",
                                           "items": ref("TrainingEnrolment")}}},
})
