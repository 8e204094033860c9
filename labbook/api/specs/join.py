"""OpenAPI: enterprises that join by themselves, personal data, and the channels people get
messages by (``labbook.enterprises.api``, ``labbook.privacy.api``, ``labbook.notify.api``)."""

from __future__ import annotations

from typing import Any

from labbook.accounts.models import PriceTier
from labbook.api.specs import (
    BEARER,
    enum_values,
    json_body,
    json_response,
    path_id,
    problem_responses,
    query,
    ref,
)
from labbook.enterprises.models import RegistrationState
from labbook.notify.models import Topic
from labbook.privacy.models import DeletionState

MOMENT = {"type": ["string", "null"], "format": "date-time"}
TOPICS = enum_values(Topic)


def _decision(summary: str, operation: str, body: dict[str, Any], required: bool,
              description: str) -> dict[str, Any]:
    return {"post": {
        "summary": summary, "operationId": operation, "security": BEARER,
        "parameters": [path_id("registration_id")], "requestBody": json_body(body, required),
        "responses": {"200": json_response(ref("Registration")),
                      **problem_responses(401, 403, 404, 409, 422)},
        "description": "Admins only (403 for anyone else); 404 for an unknown registration or "
                       "one whose email address is not confirmed yet; 409 `invalid_state` once "
                       "it was decided. " + description,
    }}


PATHS: dict[str, Any] = {
    "/organization": {"get": {
        "summary": "The organization one administers: its members and open invitations",
        "operationId": "getOrganization", "security": BEARER,
        "responses": {"200": json_response(ref("AdministeredOrganization")),
                      **problem_responses(401, 403)},
        "description": "For an organization's admins (403 for anybody else).",
    }},
    "/organization/invitations": {"post": {
        "summary": "Invite a colleague by email: a link that works once, for 7 days",
        "operationId": "inviteColleague", "security": BEARER,
        "requestBody": json_body(ref("NewInvitation")),
        "responses": {"201": json_response(ref("Invitation"), "Created"),
                      **problem_responses(401, 403, 409, 422)},
        "description": "422 `already_member` for a member's address, `has_account` for an "
                       "address with an account elsewhere; 409 `organization_suspended`. "
                       "Earlier invitations of the same address stop working.",
    }},
    "/organization/members/{user_id}": {"delete": {
        "summary": "Remove a member: the account is deactivated and leaves the organization",
        "operationId": "removeMember", "security": BEARER,
        "parameters": [path_id("user_id")],
        "responses": {"204": {"description": "Removed"},
                      **problem_responses(401, 403, 404, 409)},
        "description": "404 for anybody not a member of the organization one administers; "
                       "409 `cannot_remove_self`. What the member booked stays the "
                       "organization's; they are told by email.",
    }},
    "/registrations": {"get": {
        "summary": "Enterprises' registrations whose email address is confirmed (admins)",
        "operationId": "listRegistrations", "security": BEARER,
        "parameters": [query("state", "Only those in this state.",
                             {"type": "string", "enum": enum_values(RegistrationState)})],
        "responses": {"200": json_response({"type": "object", "required": ["items"],
                                            "properties": {"items": {
                                                "type": "array",
                                                "items": ref("Registration")}}}),
                      **problem_responses(401, 403, 422)},
    }},
    "/registrations/{registration_id}/approve": _decision(
        "Approve a registration: the organization and the registrant's account are created",
        "approveRegistration", ref("RegistrationApproval"), False,
        "The registrant becomes the organization's admin and billing contact, and is told by "
        "email. 422 for an unknown tier, or a name, code or address taken meanwhile."),
    "/registrations/{registration_id}/reject": _decision(
        "Reject a registration with a reason the registrant reads", "rejectRegistration",
        ref("RegistrationRejection"), True, "422 `required` without a reason."),
    "/me/personal-data": {"get": {
        "summary": "Everything labbook keeps about the caller (PIPL)",
        "operationId": "getPersonalData", "security": BEARER,
        "responses": {"200": json_response(ref("PersonalData")), **problem_responses(401)},
    }},
    "/me/deletion-request": {"post": {
        "summary": "Ask for one's personal data to be deleted; an admin handles it",
        "operationId": "requestDeletion", "security": BEARER,
        "responses": {"201": json_response(ref("DeletionRequest"), "Created"),
                      **problem_responses(401, 409)},
        "description": "409 `deletion_requested` while an earlier request waits.",
    }},
    "/me/notification-channels": {
        "get": {
            "summary": "The channels the caller gets each kind of message by",
            "operationId": "getNotificationChannels", "security": BEARER,
            "responses": {"200": json_response(ref("NotificationChannels")),
                          **problem_responses(401)},
        },
        "put": {
            "summary": "Choose the kinds of message that come by SMS too (email always goes)",
            "operationId": "setNotificationChannels", "security": BEARER,
            "requestBody": json_body(ref("NotificationChannelChoice")),
            "responses": {"200": json_response(ref("NotificationChannels")),
                          **problem_responses(401, 422)},
            "description": "422 `invalid_channel` when the site sends no SMS or the account "
                           "has no mobile phone number; `invalid` for an unknown kind.",
        },
    },
}

_REGISTRATION: dict[str, Any] = {
    "id": {"type": "integer"}, "state": {"type": "string",
                                         "enum": enum_values(RegistrationState)},
    "organization_name": {"type": "string"}, "uscc": {"type": "string"},
    "address": {"type": "string"}, "contact_phone": {"type": "string"},
    "name": {"type": "string"}, "email": {"type": "string"},
    "has_licence": {"type": "boolean"}, "created_at": {"type": "string", "format": "date-time"},
    "confirmed_at": MOMENT, "decided_at": MOMENT, "reason": {"type": "string"},
    "organization_id": {"type": ["integer", "null"]},
}
_INVITATION: dict[str, Any] = {
    "id": {"type": "integer"}, "email": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "expires_at": {"type": "string", "format": "date-time"},
}

SCHEMAS: dict[str, Any] = {
    "Registration": {"type": "object", "required": list(_REGISTRATION),
                     "properties": _REGISTRATION},
    "RegistrationApproval": {"type": "object", "properties": {
        "tier": {"type": "string", "enum": enum_values(PriceTier), "default": "external"}}},
    "RegistrationRejection": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}},
    "Invitation": {"type": "object", "required": list(_INVITATION), "properties": _INVITATION},
    "NewInvitation": {"type": "object", "required": ["email"], "properties": {
        "email": {"type": "string", "format": "email", "maxLength": 254}}},
    "AdministeredOrganization": {
        "type": "object",
        "required": ["id", "name", "uscc", "billing_contact_id", "members", "invitations"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "uscc": {"type": "string"},
            "billing_contact_id": {"type": ["integer", "null"]},
            "members": {"type": "array", "items": {
                "type": "object", "required": ["id", "name", "email", "is_admin"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                               "email": {"type": "string"}, "is_admin": {"type": "boolean"}}}},
            "invitations": {"type": "array", "items": ref("Invitation")}}},
    "PersonalData": {
        "type": "object",
        "required": ["exported_at", "account", "api_tokens", "bookings", "test_requests",
                     "audit_trail"],
        "properties": {
            "exported_at": {"type": "string", "format": "date-time"},
            "account": {"type": "object"},
            "api_tokens": {"type": "array", "items": {"type": "object"}},
            "bookings": {"type": "array", "items": {"type": "object"}},
            "test_requests": {"type": "array", "items": {"type": "object"}},
            "audit_trail": {"type": "array", "items": {"type": "object"}}}},
    "DeletionRequest": {"type": "object", "required": ["id", "state", "requested_at"],
                        "properties": {"id": {"type": "integer"},
                                       "state": {"type": "string",
                                                 "enum": enum_values(DeletionState)},
                                       "requested_at": {"type": "string",
                                                        "format": "date-time"}}},
    "NotificationChannels": {
        "type": "object", "required": ["email", "sms", "sms_available"],
        "properties": {
            "email": {"type": "array", "items": {"type": "string", "enum": TOPICS},
                      "description": "Every kind: email always goes."},
            "sms": {"type": "array", "items": {"type": "string", "enum": TOPICS}},
            "sms_available": {"type": "boolean",
                              "description": "Whether the site sends SMS and the account has "
                                             "a mobile phone number."}}},
    "NotificationChannelChoice": {"type": "object", "required": ["sms"], "properties": {
        "sms": {"type": "array", "items": {"type": "string", "enum": TOPICS},
                "uniqueItems": True}}},
}
