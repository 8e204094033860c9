"""The OpenAPI paths and schemas of money: payments, balances and prepaid deposits,
receivables, innovation vouchers and their redemption pack, and invoices (the statement's own
payable fields are in the core document's Statement schema)."""

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
from labbook.billing.models import (
    BalanceEntryKind,
    InvoiceKind,
    InvoiceMedium,
    InvoiceState,
    PaymentMethod,
)
from labbook.billing.payments import MAX_PAYMENT, MAX_REFERENCE
from labbook.billing.receivables import BUCKETS, PAYMENT_TERMS_DAYS
from labbook.billing.vouchers import ELIGIBLE_KINDS, MAX_FACE_VALUE

MONEY = {"type": "string", "pattern": r"^\d+\.\d{2}$", "description": "CNY, two decimals"}
SIGNED_MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
AMOUNT_IN = {"oneOf": [MONEY, {"type": "number"}],
             "description": "Yuan, at most two decimals, more than zero"}
DATE = {"type": "string", "format": "date"}
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
ORGANIZATION_QUERY = query("organization_id", "Only this organization's.", ID)
PERIOD = {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-11"]}
PAGE_QUERY = [query("page", "Page number, from 1.", {"type": "integer", "minimum": 1}),
              query("per_page", "Items per page.",
                    {"type": "integer", "minimum": 1, "maximum": 200})]
FINANCE = "Finance (admins) only: 403 `not_admin` otherwise."
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(summary: str, operation: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": operation, "security": BEARER,
                    "description": FINANCE, "parameters": parameters,
                    "responses": {"200": {"description": "XLSX attachment",
                                          "content": {XLSX: {"schema": {"type": "string"}}}},
                                  **problem_responses(401, 403, 422)}}}


def _post(summary: str, operation: str, description: str, body: dict[str, Any] | None,
          response: str, *, status: str = "200", parameters: list | None = None
          ) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": summary, "operationId": operation, "security": BEARER,
        "description": description, "parameters": parameters or [],
        "responses": {status: json_response(ref(response)),
                      **problem_responses(401, 403, 404, 409, 422)}}
    if body is not None:
        doc["requestBody"] = json_body(body)
    return doc


SCHEMAS: dict[str, Any] = {
    "Payment": {
        "type": "object", "required": ["id", "organization_id", "amount", "method", "credited",
                                       "allocations"],
        "properties": {
            "id": {"type": "integer"}, "organization_id": {"type": "integer"},
            "received_on": DATE, "amount": MONEY,
            "method": {"type": "string", "enum": enum_values(PaymentMethod)},
            "reference": {"type": "string"},
            "credited": {**MONEY, "description": "What exceeded the statements: to the "
                                                 "organization's balance"},
            "allocations": {"type": "array", "items": {
                "type": "object", "properties": {
                    "statement_id": {"type": "integer"},
                    "statement_number": {"type": "string"}, "amount": MONEY}}},
            "recorded_at": {"type": "string", "format": "date-time"}}},
    "NewPayment": {
        "type": "object",
        "required": ["organization_id", "received_on", "amount", "method", "statement_ids"],
        "properties": {
            "organization_id": ID, "received_on": {**DATE, "description": "Today or earlier"},
            "amount": {**AMOUNT_IN, "description": f"More than zero, at most {MAX_PAYMENT}"},
            "method": {"type": "string", "enum": enum_values(PaymentMethod)},
            "reference": {"type": "string", "maxLength": MAX_REFERENCE},
            "statement_ids": {"type": "array", "items": ID, "minItems": 1, "maxItems": 50,
                              "description": "Issued statements of the organization; paid "
                                             "oldest first, each up to what it owes"}}},
    "BillingProfile": {
        "type": "object", "required": ["organization_id", "balance", "prepaid"],
        "properties": {
            "organization_id": {"type": "integer"}, "invoice_title": {"type": "string"},
            "taxpayer_id": {"type": "string", "description": "The USCC by default"},
            "address": {"type": "string"}, "phone": {"type": "string"},
            "bank": {"type": "string"}, "bank_account": {"type": "string"},
            "prepaid": {"type": "boolean"},
            "overdue_block_days": {"type": ["integer", "null"]}, "balance": MONEY}},
    "BillingProfileChange": {
        "type": "object",
        "description": "Fields left out keep their value. prepaid and overdue_block_days: "
                       "finance only (null: never refuse).",
        "properties": {
            "invoice_title": {"type": "string", "maxLength": 200},
            "taxpayer_id": {"type": "string", "maxLength": 20},
            "address": {"type": "string", "maxLength": 200},
            "phone": {"type": "string", "maxLength": 40},
            "bank": {"type": "string", "maxLength": 100},
            "bank_account": {"type": "string", "maxLength": 40},
            "prepaid": {"type": "boolean"},
            "overdue_block_days": {"type": ["integer", "null"], "minimum": 0,
                                   "maximum": 3650}}},
    "BalanceHistory": {
        "type": "object", "required": ["balance", "entries"],
        "properties": {
            "organization_id": {"type": "integer"}, "balance": MONEY,
            "entries": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string", "enum": enum_values(BalanceEntryKind)},
                "amount": SIGNED_MONEY, "statement_number": {"type": ["string", "null"]},
                "payment_id": {"type": ["integer", "null"]}, "note": {"type": "string"},
                "at": {"type": "string", "format": "date-time"}}}}}},
    "Receivables": {
        "type": "object", "required": ["buckets", "items"],
        "properties": {
            "buckets": {"type": "array", "items": {"type": "string"},
                        "examples": [[key for key, _low, _high in BUCKETS]]},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "organization_id": {"type": "integer"}, "name": {"type": "string"},
                "buckets": {"type": "array", "items": MONEY, "minItems": 4, "maxItems": 4},
                "total": MONEY, "statements": {"type": "integer"}}}}}},
    "Voucher": {
        "type": "object", "required": ["id", "number", "authority", "face_value", "balance",
                                       "share_percent", "valid_from", "valid_to"],
        "properties": {
            "id": {"type": "integer"}, "organization_id": {"type": "integer"},
            "number": {"type": "string"}, "authority": {"type": "string"},
            "face_value": MONEY, "balance": MONEY, "share_percent": {"type": "integer"},
            "lab_ids": {"type": "array", "items": {"type": "integer"}},
            "kinds": {"type": "array", "items": {"type": "string"}},
            "valid_from": DATE, "valid_to": DATE,
            "history": {"type": "array", "items": {"type": "object", "properties": {
                "statement_number": {"type": "string"}, "charge_id": {"type": "integer"},
                "amount": SIGNED_MONEY, "at": {"type": "string", "format": "date-time"}}}}}},
    "NewVoucher": {
        "type": "object",
        "required": ["organization_id", "number", "authority", "face_value", "share_percent",
                     "valid_from", "valid_to"],
        "properties": {
            "organization_id": ID, "number": {"type": "string", "maxLength": 50},
            "authority": {"type": "string", "maxLength": 200},
            "face_value": {**AMOUNT_IN, "description": f"At most {MAX_FACE_VALUE}"},
            "share_percent": {"type": "integer", "minimum": 1, "maximum": 100},
            "valid_from": DATE, "valid_to": {**DATE, "description": "Not before today"},
            "lab_ids": {"type": "array", "items": ID,
                        "description": "Eligible labs; none: every lab"},
            "kinds": {"type": "array", "items": {
                "type": "string", "enum": [kind.value for kind in ELIGIBLE_KINDS]},
                "description": "Eligible kinds of line; none: usage and service"}}},
    "Redemption": {
        "type": "object", "required": ["authority", "period", "total", "lines"],
        "properties": {
            "authority": {"type": "string"}, "period": PERIOD, "total": SIGNED_MONEY,
            "lines": {"type": "array", "items": {"type": "object", "properties": {
                "organization": {"type": "string"}, "voucher_number": {"type": "string"},
                "statement_number": {"type": "string"}, "date": DATE,
                "description": {"type": "string"}, "line_amount": SIGNED_MONEY,
                "voucher_amount": SIGNED_MONEY, "confirmed": {"type": "boolean"}}}}}},
    "Invoice": {
        "type": "object", "required": ["id", "kind", "medium", "state", "amount", "statements"],
        "properties": {
            "id": {"type": "integer"}, "organization_id": {"type": "integer"},
            "kind": {"type": "string", "enum": enum_values(InvoiceKind)},
            "medium": {"type": "string", "enum": enum_values(InvoiceMedium)},
            "state": {"type": "string", "enum": enum_values(InvoiceState)},
            "amount": MONEY, "title": {"type": "string"}, "taxpayer_id": {"type": "string"},
            "statements": {"type": "array", "items": {"type": "object", "properties": {
                "statement_id": {"type": "integer"}, "statement_number": {"type": "string"},
                "amount": MONEY}}},
            "requested_at": {"type": "string", "format": "date-time"},
            "invoice_number": {"type": ["string", "null"]},
            "issued_on": {"type": ["string", "null"], "format": "date"},
            "issued_amount": {"oneOf": [{"type": "null"}, MONEY]},
            "refusal_reason": {"type": ["string", "null"]},
            "file_url": {"type": ["string", "null"]},
            "reversal": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                "red_number": {"type": "string"}, "issued_on": DATE,
                "reason": {"type": "string"},
                "correction_charge_id": {"type": ["integer", "null"]}}}]}}},
    "NewInvoice": {
        "type": "object",
        "required": ["organization_id", "statement_ids", "kind", "medium"],
        "properties": {
            "organization_id": ID,
            "statement_ids": {"type": "array", "items": ID, "minItems": 1, "maxItems": 50},
            "kind": {"type": "string", "enum": enum_values(InvoiceKind)},
            "medium": {"type": "string", "enum": enum_values(InvoiceMedium)},
            "note": {"type": "string", "maxLength": 500}}},
}

PATHS: dict[str, Any] = {
    "/payments": {
        "post": _post(
            "Record a payment against issued statements (finance)", "recordPayment",
            "Spread over the statements oldest first, each up to what it owes; a statement "
            "fully covered becomes paid; the rest goes to the organization's balance. 422 "
            "`invalid_amount` (zero or less), `in_future`, `statements_required`, "
            "`not_this_organization`; 409 `already_paid`, `invalid_state` (a draft).",
            ref("NewPayment"), "Payment", status="201"),
        "get": {"summary": "Payments, newest first (finance)", "operationId": "listPayments",
                "security": BEARER, "description": FINANCE,
                "parameters": [ORGANIZATION_QUERY, *PAGE_QUERY],
                "responses": {"200": json_response(page_of("Payment")),
                              **problem_responses(401, 403, 422)}}},
    "/statements/{statement_id}/pay-from-balance": {"post": _post(
        "Pay an issued statement from its organization's balance (finance)",
        "payStatementFromBalance",
        "As far as the balance goes. 409 `already_paid`, `no_balance`, `invalid_state`.",
        None, "Statement", parameters=[path_id("statement_id")])},
    "/statements/{statement_id}/apply-vouchers": {"post": _post(
        "Apply the organization's vouchers again to a draft's new lines (finance)",
        "applyVouchers",
        "Lines a voucher already pays are left alone. 409 `nothing_to_cover`, "
        "`invalid_state`.", None, "Statement", parameters=[path_id("statement_id")])},
    "/organizations/{organization_id}/billing": {
        "get": {"summary": "An organization's invoicing details, settings and balance",
                "operationId": "getBillingProfile", "security": BEARER,
                "description": "Finance and the organization's billing contact; 404 else.",
                "parameters": [path_id("organization_id")],
                "responses": {"200": json_response(ref("BillingProfile")),
                              **problem_responses(401, 404)}},
        "put": {"summary": "Change invoicing details (billing contact, finance) and settings "
                           "(finance)", "operationId": "updateBillingProfile",
                "security": BEARER, "parameters": [path_id("organization_id")],
                "description": "422 `invalid_taxpayer_id`, `required`, `too_long`; 403 for "
                               "settings changed by a billing contact.",
                "requestBody": json_body(ref("BillingProfileChange")),
                "responses": {"200": json_response(ref("BillingProfile")),
                              **problem_responses(401, 403, 404, 422)}}},
    "/organizations/{organization_id}/deposits": {"post": _post(
        "Record a prepaid deposit (预存款, finance)", "recordDeposit",
        "It pays the organization's issued statements at once, oldest first. 409 "
        "`prepaid_not_enabled`; 422 `invalid_amount`.",
        {"type": "object", "required": ["amount"], "properties": {
            "amount": {**AMOUNT_IN, "description": f"At most {MAX_PAYMENT}"},
            "note": {"type": "string", "maxLength": MAX_REFERENCE}}},
        "BillingProfile", status="201", parameters=[path_id("organization_id")])},
    "/organizations/{organization_id}/balance": {"get": {
        "summary": "An organization's balance and its history", "operationId": "getBalance",
        "security": BEARER, "description": "Finance and the organization's billing contact.",
        "parameters": [path_id("organization_id")],
        "responses": {"200": json_response(ref("BalanceHistory")),
                      **problem_responses(401, 404)}}},
    "/receivables": {"get": {
        "summary": "What organizations owe on issued statements, by age (finance)",
        "operationId": "getReceivables", "security": BEARER,
        "description": f"{FINANCE} Days since issue, lab time: 0–30, 31–60, 61–90, over 90. "
                       f"A statement is due {PAYMENT_TERMS_DAYS} days after issue.",
        "responses": {"200": json_response(ref("Receivables")),
                      **problem_responses(401, 403)}}},
    "/receivables.xlsx": _xlsx("Receivables by age as XLSX", "getReceivablesXlsx", []),
    "/vouchers": {
        "post": _post(
            "Record an innovation voucher (科技创新券) an organization holds (finance)",
            "createVoucher",
            "422 `invalid_share` (share beyond 1–100), `voucher_expired`, `invalid_period`, "
            "`invalid_amount`; 409 `duplicate_voucher`.", ref("NewVoucher"), "Voucher",
            status="201"),
        "get": {"summary": "Vouchers, soonest expiry first", "operationId": "listVouchers",
                "security": BEARER,
                "description": "Finance; a billing contact with its organization_id.",
                "parameters": [ORGANIZATION_QUERY],
                "responses": {"200": json_response({"type": "object", "properties": {
                    "items": {"type": "array", "items": ref("Voucher")}}}),
                    **problem_responses(401, 403, 422)}}},
    "/vouchers/{voucher_id}": {"get": {
        "summary": "A voucher with its balance and history", "operationId": "getVoucher",
        "security": BEARER, "description": "Finance and the organization's billing contact.",
        "parameters": [path_id("voucher_id")],
        "responses": {"200": json_response(ref("Voucher")), **problem_responses(401, 404)}}},
    "/voucher-redemptions": {"get": {
        "summary": "The redemption pack (兑付申请) of an authority and month (finance)",
        "operationId": "getVoucherRedemption", "security": BEARER, "description": FINANCE,
        "parameters": [query("authority", "Issuing authority.", {"type": "string"}),
                       query("period", "Month (YYYY-MM).", PERIOD)],
        "responses": {"200": json_response(ref("Redemption")),
                      **problem_responses(401, 403, 422)}}},
    "/voucher-redemptions.xlsx": _xlsx(
        "The redemption pack as XLSX", "getVoucherRedemptionXlsx",
        [query("authority", "Issuing authority.", {"type": "string"}),
         query("period", "Month (YYYY-MM).", PERIOD)]),
    "/voucher-redemptions.pdf": {"get": {
        "summary": "The redemption pack as PDF (A4, in the request's language)",
        "operationId": "getVoucherRedemptionPdf", "security": BEARER, "description": FINANCE,
        "parameters": [query("authority", "Issuing authority.", {"type": "string"}),
                       query("period", "Month (YYYY-MM).", PERIOD)],
        "responses": {"200": {"description": "PDF attachment", "content": {
            "application/pdf": {"schema": {"type": "string"}}}},
            **problem_responses(401, 403, 422)}}},
    "/statements/{statement_id}.pdf": {"get": {
        "summary": "A statement as PDF (A4): lines with voucher and own parts, total to pay in "
                   "figures and in words, payee, reference, verification QR on every page",
        "operationId": "getStatementPdf", "security": BEARER,
        "description": "Admins, and the organization's billing contact for an issued "
                       "statement; 404 for others (lab managers: CSV/XLSX of their lines).",
        "parameters": [path_id("statement_id")],
        "responses": {"200": {"description": "PDF attachment named after the number",
                              "content": {"application/pdf": {"schema": {"type": "string"}}}},
                      **problem_responses(401, 404)}}},
    "/invoices": {
        "post": _post(
            "Ask for an invoice over issued statements (billing contact, finance)",
            "requestInvoice",
            "It covers what the statements leave to pay that no live invoice covers. 409 "
            "`already_invoiced`, `invalid_state`; 422 `invoice_details_missing` (special VAT "
            "invoice), `not_this_organization`.", ref("NewInvoice"), "Invoice", status="201"),
        "get": {"summary": "Invoices, newest first", "operationId": "listInvoices",
                "security": BEARER,
                "description": "Finance all; a billing contact its organization's.",
                "parameters": [query("state", "Invoice state.",
                                     {"type": "string", "enum": enum_values(InvoiceState)}),
                               ORGANIZATION_QUERY, *PAGE_QUERY],
                "responses": {"200": json_response(page_of("Invoice")),
                              **problem_responses(401, 422)}}},
    "/invoices.xlsx": _xlsx("Invoices as XLSX", "getInvoicesXlsx", [
        query("state", "Invoice state.", {"type": "string", "enum": enum_values(InvoiceState)})]),
    "/invoices/{invoice_id}": {"get": {
        "summary": "One invoice", "operationId": "getInvoice", "security": BEARER,
        "description": "Finance and the organization's billing contact.",
        "parameters": [path_id("invoice_id")],
        "responses": {"200": json_response(ref("Invoice")), **problem_responses(401, 404)}}},
    "/invoices/{invoice_id}/file": {"get": {
        "summary": "The issued invoice's PDF or OFD file", "operationId": "getInvoiceFile",
        "security": BEARER, "parameters": [path_id("invoice_id")],
        "responses": {"200": {"description": "The file", "content": {
            "application/pdf": {"schema": {"type": "string"}},
            "application/ofd": {"schema": {"type": "string"}}}},
            **problem_responses(401, 404)}}},
    "/invoices/{invoice_id}/issue": {"post": _post(
        "Record an invoice as issued (finance)", "issueInvoice",
        "422 `invoice_exceeds_amount`, `file_required` (electronic), `invalid_file`; 409 "
        "`duplicate_invoice_number`, `invalid_state`.",
        {"type": "object", "required": ["invoice_number", "issued_on", "amount"],
         "properties": {"invoice_number": {"type": "string", "maxLength": 30},
                        "issued_on": DATE, "amount": AMOUNT_IN,
                        "file_name": {"type": "string", "maxLength": 200},
                        "file_base64": {"type": "string", "contentEncoding": "base64",
                                        "description": "The PDF or OFD file"}}},
        "Invoice", parameters=[path_id("invoice_id")])},
    "/invoices/{invoice_id}/refuse": {"post": _post(
        "Refuse an invoice request with a reason (finance)", "refuseInvoice",
        "409 `invalid_state`.",
        {"type": "object", "required": ["reason"],
         "properties": {"reason": {"type": "string", "maxLength": 500}}},
        "Invoice", parameters=[path_id("invoice_id")])},
    "/invoices/{invoice_id}/reverse": {"post": _post(
        "Record the red-letter invoice (红字发票) reversing an issued one (finance)",
        "reverseInvoice",
        "Its statements can be invoiced again. 409 `invalid_state`, "
        "`duplicate_invoice_number`.",
        {"type": "object", "required": ["red_number", "issued_on", "reason"],
         "properties": {"red_number": {"type": "string", "maxLength": 30}, "issued_on": DATE,
                        "reason": {"type": "string", "maxLength": 500},
                        "correction_charge_id": {**ID, "description": "The correcting line"}}},
        "Invoice", parameters=[path_id("invoice_id")])},
}
