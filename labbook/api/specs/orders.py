"""OpenAPI of the testing orders (/orders) and the public report verification (/verify)."""

from __future__ import annotations

from typing import Any

from labbook.accounts.models import PriceTier
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
from labbook.booking.models import BookingState
from labbook.orders.models import (
    MAX_SAMPLES,
    Conclusion,
    Disposition,
    IntakeStatus,
    LineState,
    OrderState,
    Remains,
    ReportLanguage,
    ReportState,
)

MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$", "description": "CNY, two decimals"}
TIME = {"type": ["string", "null"], "format": "date-time"}
DAY = {"type": ["string", "null"], "format": "date"}
TEXT = {"type": "string"}
PDF = {"description": "The PDF", "content": {"application/pdf": {
    "schema": {"type": "string", "contentMediaType": "application/pdf"}}}}
VERIFICATION_STATUSES = ["valid", "superseded", "withdrawn"]
LANGUAGE = query("language", "The document's language.",
                 {"type": "string", "enum": enum_values(ReportLanguage), "default": "zh_CN"})


def _order_ids(*names: str) -> list[dict[str, Any]]:
    return [path_id(name) for name in ("order_id", *names)]


def _action(summary: str, operation: str, *ids: str, body: dict[str, Any] | None = None,
            status: str = "200", description: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": summary, "operationId": operation, "security": BEARER,
        "parameters": _order_ids(*ids),
        "responses": {status: json_response(ref("Order")),
                      **problem_responses(401, 403, 404, 409, 422)}}
    if body is not None:
        doc["requestBody"] = json_body(body)
    if description:
        doc["description"] = description
    return {"post": doc}


SAMPLE_INPUT = {
    "type": "object", "required": ["name", "quantity"],
    "properties": {"name": {"type": "string", "maxLength": 200},
                   "batch": {"type": "string", "maxLength": 100},
                   "specification": {"type": "string", "maxLength": 200},
                   "quantity": {"type": "string", "maxLength": 100,
                                "description": "As written, e.g. \"500 g\""},
                   "condition": {"type": "string", "maxLength": 300},
                   "hazards": {"type": "string", "maxLength": 300}}}

SCHEMAS: dict[str, Any] = {
    "NewOrder": {
        "type": "object", "required": ["lines", "terms_confirmed"],
        "properties": {
            "lines": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
                "type": "object", "required": ["service_id", "samples"],
                "properties": {
                    "service_id": {"type": "integer"},
                    "method": {"type": "string", "maxLength": 200,
                               "description": "Blank: the service's standard; otherwise one "
                                              "the lab accepts for it (422 "
                                              "`unknown_method`)."},
                    "express": {"type": "boolean", "default": False},
                    "samples": {"type": "array", "minItems": 1, "maxItems": MAX_SAMPLES,
                                "items": SAMPLE_INPUT}}}},
            "remains": {"type": "string", "enum": enum_values(Remains), "default": "dispose"},
            "report_language": {"type": "string", "enum": enum_values(ReportLanguage),
                                "default": "zh_CN"},
            "notes": {"type": "string", "maxLength": 2000},
            "contact_phone": {"type": "string", "maxLength": 64},
            "terms_confirmed": {"type": "boolean",
                                "description": "The customer accepts the lab's terms (must be "
                                               "true to submit)."},
            "expected_total": {"type": ["string", "number"], "examples": ["300.00"],
                               "description": "The total the customer was shown (e.g. the "
                                              "`total` of `POST /orders/quote`), in yuan with "
                                              "at most two decimals. When given, the order is "
                                              "placed only at this total: otherwise 409 "
                                              "`quote_changed` with the current quote in "
                                              "`quote`. Left out, the order is placed at "
                                              "today's price."}}},
    "OrderQuote": {
        "type": "object", "required": ["lab", "tier", "lines", "total"],
        "properties": {
            "lab": TEXT, "tier": {"type": "string", "enum": enum_values(PriceTier)},
            "lines": {"type": "array", "items": {"type": "object", "properties": {
                "service_id": {"type": "integer"}, "service_code": TEXT, "method": TEXT,
                "samples": {"type": "integer"}, "unit_price": MONEY, "subtotal": MONEY,
                "express_surcharge_percent": {"type": "integer"},
                "express_surcharge": MONEY, "total": MONEY}}},
            "total": MONEY}},
    "OrderSample": {
        "type": "object", "required": ["id", "name", "intake"],
        "properties": {
            "id": {"type": "integer"}, "position": {"type": "integer"},
            "number": {"type": ["string", "null"], "examples": ["FOOD-2026-000123"]},
            "name": TEXT, "batch": TEXT, "specification": TEXT, "quantity": TEXT,
            "condition": TEXT, "hazards": TEXT,
            "intake": {"type": "object", "properties": {
                "status": {"type": "string", "enum": enum_values(IntakeStatus)},
                "condition": TEXT, "note": TEXT, "received_at": TIME}},
            "retention": {"type": "object", "properties": {
                "retain_until": DAY,
                "disposition": {"type": ["string", "null"],
                                "enum": [*enum_values(Disposition), None]},
                "disposed_at": TIME, "note": TEXT}},
            "results": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "item": TEXT, "value": TEXT, "unit": TEXT,
                "method": TEXT, "limit": TEXT,
                "conclusion": {"type": "string", "enum": enum_values(Conclusion)}}}}}},
    "OrderLine": {
        "type": "object", "required": ["id", "service_id", "state", "samples"],
        "properties": {
            "id": {"type": "integer"}, "position": {"type": "integer"},
            "service_id": {"type": "integer"}, "service_code": TEXT, "method": TEXT,
            "express": {"type": "boolean"},
            "state": {"type": "string", "enum": enum_values(LineState)},
            "quote": {"type": "object", "properties": {
                "unit_price": MONEY, "samples": {"type": "integer"}, "subtotal": MONEY,
                "express_surcharge_percent": {"type": "integer"},
                "express_surcharge": MONEY, "total": MONEY}},
            "analyst": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": TEXT}}]},
            "due_date": {**DAY, "description": "The service's turnaround in the lab's "
                                               "working days from intake (express: half, "
                                               "rounded up)."},
            "started_at": TIME, "completed_at": TIME,
            "samples": {"type": "array", "items": ref("OrderSample")},
            "bookings": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "instrument_id": {"type": "integer"},
                "start": {"type": "string", "format": "date-time"},
                "end": {"type": "string", "format": "date-time"},
                "state": {"type": "string", "enum": enum_values(BookingState)}}}}}},
    "TestReport": {
        "type": "object", "required": ["id", "number", "state"],
        "properties": {
            "id": {"type": "integer"}, "number": TEXT,
            "state": {"type": "string", "enum": enum_values(ReportState)},
            "language": {"type": "string", "enum": enum_values(ReportLanguage)},
            "conclusion": TEXT, "replaces": {"type": ["string", "null"]},
            "amendment_reason": TEXT, "prepared_by": TEXT, "prepared_at": TIME,
            "reviewed_by": {"type": ["string", "null"]}, "reviewed_at": TIME,
            "approved_by": {"type": ["string", "null"]}, "approved_at": TIME,
            "issued_on": DAY, "sha256": {"type": ["string", "null"]},
            "verification_code": TEXT, "pdf_url": {"type": ["string", "null"]}}},
    "Order": {
        "type": "object", "required": ["id", "number", "state", "lines", "total"],
        "properties": {
            "id": {"type": "integer"}, "number": TEXT, "lab": TEXT,
            "state": {"type": "string", "enum": enum_values(OrderState)},
            "organization": TEXT,
            "requester": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": TEXT, "email": TEXT}},
            "contact_phone": TEXT,
            "remains": {"type": "string", "enum": enum_values(Remains)},
            "report_language": {"type": "string", "enum": enum_values(ReportLanguage)},
            "notes": TEXT, "tier": {"type": "string", "enum": enum_values(PriceTier)},
            "total": MONEY, "confirmed_at": TIME, "created_at": TIME, "received_at": TIME,
            "cancelled_at": TIME,
            "lines": {"type": "array", "items": ref("OrderLine")},
            "reports": {"type": "array", "items": ref("TestReport")},
            "attachments": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "filename": TEXT, "size": {"type": "integer"},
                "sha256": TEXT}}}}},
    "Verification": {
        "type": "object",
        "required": ["number", "customer", "issued_on", "status", "superseded_by", "sha256"],
        "description": "All the public learns of an issued report.",
        "properties": {
            "number": TEXT, "customer": {"type": "string",
                                         "description": "The customer's name, partly masked"},
            "issued_on": {"type": "string", "format": "date"},
            "status": {"type": "string", "enum": VERIFICATION_STATUSES},
            "superseded_by": {"type": ["string", "null"]},
            "sha256": {"type": "string", "description": "Of the issued PDF"}}},
}

NOTE = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 1000}}}
REASON = {"type": "object", "required": ["reason"],
          "properties": {"reason": {"type": "string", "maxLength": 1000}}}

PATHS: dict[str, Any] = {
    "/orders/quote": {"post": {
        "summary": "Check and price an order as it would be submitted; changes nothing",
        "operationId": "quoteOrder", "security": BEARER,
        "requestBody": json_body(ref("NewOrder")),
        "responses": {"200": json_response(ref("OrderQuote")),
                      **problem_responses(401, 409, 422)}}},
    "/orders": {
        "post": {
            "summary": "Place a testing order (委托单) with the lab's terms confirmed",
            "operationId": "createOrder", "security": BEARER,
            "requestBody": json_body(ref("NewOrder")),
            "description": "422 codes: `no_lines`, `invalid_samples` (0 or more than "
                           f"{MAX_SAMPLES}), `unknown_service`, `unknown_method`, "
                           "`express_not_offered`, `mixed_labs`, `required`, "
                           "`terms_not_confirmed`, `invalid_amount` (`expected_total`); "
                           "409 `org_suspended`, `quote_changed` (the order costs other than "
                           "`expected_total`; the problem carries the current `quote`, an "
                           "`OrderQuote`).",
            "responses": {"201": json_response(ref("Order"), "Created"),
                          **problem_responses(401, 409, 422)}},
        "get": {
            "summary": "My orders (placed or paid for); a lab's orders for its staff (?lab=)",
            "operationId": "listOrders", "security": BEARER,
            "parameters": [
                query("lab", "Lab code: that lab's orders, for its staff.", {"type": "string"}),
                query("state", "Order state.", {"type": "string",
                                                "enum": enum_values(OrderState)}),
                query("page", "Page number, from 1.",
                      {"type": "integer", "minimum": 1, "default": 1}),
                query("per_page", "Items per page.",
                      {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})],
            "responses": {"200": json_response(page_of("Order")),
                          **problem_responses(401, 404, 422)}}},
    "/orders/{order_id}": {"get": {
        "summary": "One order (its customer, billing contact and the lab's staff)",
        "operationId": "getOrder", "security": BEARER, "parameters": _order_ids(),
        "responses": {"200": json_response(ref("Order")), **problem_responses(401, 404)}}},
    "/orders/{order_id}/cancel": _action(
        "Cancel an order before intake (customer or lab staff)", "cancelOrder",
        body=NOTE),
    "/orders/{order_id}/agreement": {"get": {
        "summary": "The order's agreement (委托协议书) as an A4 PDF",
        "operationId": "getOrderAgreement", "security": BEARER,
        "parameters": [*_order_ids(), LANGUAGE],
        "responses": {"200": PDF, **problem_responses(401, 404, 422)}}},
    "/orders/{order_id}/labels": {"get": {
        "summary": "The received samples' labels with QR codes, as a PDF sheet (lab staff)",
        "operationId": "getOrderLabels", "security": BEARER,
        "parameters": [*_order_ids(), LANGUAGE],
        "responses": {"200": PDF, **problem_responses(401, 403, 404, 422)}}},
    "/orders/{order_id}/intake": _action(
        "Intake (收样): decide every sample; accepted ones are numbered (lab staff)",
        "receiveOrderSamples", body={
            "type": "object", "required": ["samples"],
            "properties": {"samples": {"type": "array", "items": {
                "type": "object", "required": ["sample_id", "status"],
                "properties": {
                    "sample_id": {"type": "integer"},
                    "status": {"type": "string",
                               "enum": enum_values(IntakeStatus)},
                    "condition": {"type": "string", "maxLength": 300},
                    "note": {"type": "string", "maxLength": 1000,
                             "description": "Required for a refusal (the reason) and an "
                                            "acceptance with a remark."}}}}}},
        description="422 `samples_undecided` until every sample is decided; "
                    "`required` for a refusal without a reason."),
    "/orders/{order_id}/lines/{line_id}/assign": _action(
        "Give a line to an analyst of the lab (lab managers)", "assignOrderLine", "line_id",
        body={"type": "object", "required": ["analyst_id"],
              "properties": {"analyst_id": {"type": "integer"}}}),
    "/orders/{order_id}/lines/{line_id}/start": _action(
        "Start testing a received line (its analyst or the lab's managers)",
        "startOrderLine", "line_id"),
    "/orders/{order_id}/lines/{line_id}/bookings": _action(
        "Book an instrument of the line's service for the line (lab staff), for the "
        "customer's organization, under the booking rules", "bookOrderLine", "line_id",
        status="201", body={
            "type": "object", "required": ["instrument_id", "start", "end"],
            "properties": {"instrument_id": {"type": "integer"},
                           "start": {"type": "string", "format": "date-time"},
                           "end": {"type": "string", "format": "date-time"}}},
        description="409 with the booking rule's code (overlap, opening hours …) and "
                    "suggestions, as for any booking; 422 `instrument_not_of_service`."),
    "/orders/{order_id}/lines/{line_id}/results": _action(
        "Record or correct results of a line in progress", "recordOrderResults", "line_id",
        body={"type": "object", "required": ["results"], "properties": {"results": {
            "type": "array", "items": {
                "type": "object", "required": ["sample_id", "item", "value", "unit"],
                "properties": {"sample_id": {"type": "integer"},
                               "item": {"type": "string", "maxLength": 200},
                               "value": {"type": "string", "maxLength": 100},
                               "unit": {"type": "string", "maxLength": 50},
                               "method": {"type": "string", "maxLength": 200}}}}}},
        description="The conclusion is computed from the service's limits for the item "
                    "(pass/fail), else not_judged. 422: `unit_required`, `unit_mismatch`, "
                    "`unknown_item`, `unknown_method`, `unknown_sample`."),
    "/orders/{order_id}/lines/{line_id}/complete": _action(
        "Complete a line whose results are in; it is charged at its quote",
        "completeOrderLine", "line_id"),
    "/orders/{order_id}/samples/{sample_id}/retention": _action(
        "Record that a sample's remains were returned or disposed of (lab staff)",
        "recordSampleDisposition", "sample_id", body={
            "type": "object", "required": ["disposition"],
            "properties": {"disposition": {"type": "string",
                                           "enum": enum_values(Disposition)},
                           "note": {"type": "string", "maxLength": 1000}}}),
    "/orders/{order_id}/reports": _action(
        "Prepare (编制) the report of a completed order (an analyst)", "prepareOrderReport",
        body={"type": "object", "required": ["conclusion"],
              "properties": {"conclusion": {"type": "string", "maxLength": 4000}}},
        status="201"),
    "/orders/{order_id}/reports/{report_id}/amend": _action(
        "Prepare an amended report (更正报告) replacing an issued one (an analyst)",
        "amendOrderReport", "report_id", status="201", body={
            "type": "object", "required": ["conclusion", "reason"],
            "properties": {"conclusion": {"type": "string", "maxLength": 4000},
                           "reason": {"type": "string", "maxLength": 1000}}}),
    "/orders/{order_id}/reports/{report_id}/review": _action(
        "Review (审核) a prepared report (a reviewer who did not prepare it)",
        "reviewOrderReport", "report_id",
        description="403 `own_report` for its preparer, `missing_capability` without the "
                    "reviewer capability."),
    "/orders/{order_id}/reports/{report_id}/approve": _action(
        "Approve (批准) and issue a reviewed report (an authorised signatory who neither "
        "prepared nor reviewed it)", "approveOrderReport", "report_id",
        description="Renders and keeps the PDF with its SHA-256; an amendment supersedes the "
                    "report it replaces. A second approval is 409 `invalid_state`."),
    "/orders/{order_id}/reports/{report_id}/withdraw": _action(
        "Withdraw an issued report (lab managers)", "withdrawOrderReport", "report_id",
        body=REASON),
    "/orders/{order_id}/reports/{report_id}/pdf": {"get": {
        "summary": "The issued report's PDF",
        "operationId": "getOrderReportPdf", "security": BEARER,
        "parameters": _order_ids("report_id"),
        "responses": {"200": PDF, **problem_responses(401, 404)}}},
    "/verify/{code}": {"get": {
        "summary": "Public: verify an issued report by its verification code (rate-limited)",
        "operationId": "verifyReport", "security": [],
        "parameters": [{"name": "code", "in": "path", "required": True,
                        "schema": {"type": "string", "maxLength": 64}}],
        "responses": {"200": json_response(ref("Verification")),
                      "429": {"description": "Too many requests", "content": {
                          "application/problem+json": {"schema": ref("Problem")}}},
                      **problem_responses(404, 422)}}},
    "/verify": {"get": {
        "summary": "Public: verify an issued report by its number and verification code",
        "operationId": "verifyReportNumber", "security": [],
        "parameters": [query("number", "Report number.", {"type": "string"}),
                       query("code", "Verification code.", {"type": "string"})],
        "responses": {"200": json_response(ref("Verification")),
                      "429": {"description": "Too many requests", "content": {
                          "application/problem+json": {"schema": ref("Problem")}}},
                      **problem_responses(404, 422)}}},
}
