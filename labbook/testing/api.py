"""Testing-service request API under /api/v1/service-requests."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, send_file, url_for
from flask_babel import gettext as _

from labbook.accounts.models import User
from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.catalogue import services as catalogue
from labbook.catalogue.args import lab_arg
from labbook.core.engine import write_transaction
from labbook.core.errors import NotFound, Problem, ValidationError
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.http import (
    UPLOAD_OVERHEAD,
    Fields,
    enum_arg,
    json_body,
    optional_json_body,
    page_of,
    pagination_args,
)
from labbook.testing import services
from labbook.testing.models import ServiceRequest, ServiceRequestState


def request_json(item: ServiceRequest, viewer: User) -> dict[str, Any]:
    return {
        "id": item.id,
        "service_id": item.service_id,
        "service_code": item.service.code,
        "lab": item.service.lab.code,
        "state": item.state.value,
        "samples": item.samples,
        "sample_description": item.sample_description,
        "express": item.is_express,
        "notes": item.notes,
        "requester": {"id": item.requester.id, "name": item.requester.name,
                      "email": item.requester.email},
        "organization": item.organization.name,
        "quote": {"tier": item.tier.value, "unit_price": str(item.quoted_unit_price),
                  "samples": item.samples, "subtotal": str(item.quoted_subtotal),
                  "express_surcharge_percent": item.express_surcharge_percent,
                  "express_surcharge": str(item.quoted_express_surcharge),
                  "total": str(item.quoted_total)},
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "decision_note": item.decision_note,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "decided_at": item.decided_at.isoformat() if item.decided_at else None,
        "started_at": item.started_at.isoformat() if item.started_at else None,
        "completed_at": item.completed_at.isoformat() if item.completed_at else None,
        "cancelled_at": item.cancelled_at.isoformat() if item.cancelled_at else None,
        "report": {"filename": item.report_filename, "size": item.report_size,
                   "sha256": item.report_sha256,
                   "url": url_for("api.get_service_request_report", request_id=item.id)}
        if item.has_report else None,
        "can_cancel": services.can_cancel(viewer, item),
        "can_decide": services.can_decide(viewer, item),
    }


@bp.post("/service-requests")
@token_required
def create_service_request():
    actor = api_user()
    fields = Fields(json_body())
    service_id = fields.integer("service_id")
    samples = fields.data.get("samples")
    description = fields.string("sample_description", required=False,
                                max_length=services.MAX_DESCRIPTION)
    express = fields.boolean("express")
    notes = fields.string("notes", required=False, max_length=services.MAX_NOTES) or ""
    fields.done()
    catalogue.get_service(db.session, service_id, field="service_id")
    with write_transaction(db.session):
        service = catalogue.get_service(db.session, service_id, field="service_id")
        item = services.submit(db.session, actor, service, samples=samples,
                               sample_description=description, express=express, notes=notes,
                               now=utcnow())
    return request_json(item, actor), 201, {
        "Location": url_for("api.get_service_request", request_id=item.id)}


@bp.get("/service-requests")
@token_required
def list_service_requests():
    actor = api_user()
    page, per_page = pagination_args()
    state = enum_arg("state", ServiceRequestState)
    lab = lab_arg()
    query = services.visible_requests(actor, labs=None if lab is None else [lab],
                                      states=None if state is None else [state])
    items, total = page_of(query, page, per_page)
    return {"items": [request_json(item, actor) for item in items], "total": total,
            "page": page, "per_page": per_page}


@bp.get("/service-requests/<int:request_id>")
@token_required
def get_service_request(request_id: int):
    actor = api_user()
    return request_json(services.get_request(db.session, actor, request_id), actor)


def _change(request_id: int, change) -> dict[str, Any]:
    actor = api_user()
    with write_transaction(db.session):
        item = services.get_request(db.session, actor, request_id)
        change(item, actor)
    return request_json(item, actor)


@bp.post("/service-requests/<int:request_id>/accept")
@token_required
def accept_service_request(request_id: int):
    fields = Fields(optional_json_body())
    due_date = fields.date("due_date")
    note = fields.string("note", required=False, max_length=services.MAX_NOTE) or ""
    fields.done()
    return _change(request_id, lambda item, actor: services.accept(
        db.session, actor, item, now=utcnow(), due_date=due_date, note=note))


@bp.post("/service-requests/<int:request_id>/reject")
@token_required
def reject_service_request(request_id: int):
    fields = Fields(optional_json_body())
    note = fields.string("note", required=False, max_length=services.MAX_NOTE)
    fields.done()
    return _change(request_id, lambda item, actor: services.reject(
        db.session, actor, item, now=utcnow(), note=note))


@bp.post("/service-requests/<int:request_id>/start")
@token_required
def start_service_request(request_id: int):
    return _change(request_id, lambda item, actor: services.start(
        db.session, actor, item, now=utcnow()))


@bp.post("/service-requests/<int:request_id>/cancel")
@token_required
def cancel_service_request(request_id: int):
    fields = Fields(optional_json_body())
    note = fields.string("note", required=False, max_length=services.MAX_NOTE) or ""
    fields.done()
    return _change(request_id, lambda item, actor: services.cancel(
        db.session, actor, item, now=utcnow(), note=note))


@bp.post("/service-requests/<int:request_id>/complete")
@token_required
def complete_service_request(request_id: int):
    """No body, a multipart form with the PDF in ``report``, or the PDF as the body."""
    actor = api_user()
    request.max_content_length = current_app.config["LABBOOK_REPORT_MAX_BYTES"] + UPLOAD_OVERHEAD
    report = None
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("report")
        if upload is not None and upload.filename:
            report = services.ReportUpload(upload.filename, upload.read())
    elif request.mimetype == "application/pdf":
        name = request.args.get("filename") or "report.pdf"
        report = services.ReportUpload(name, request.get_data())
    elif request.content_length and request.mimetype != "application/json":
        message = _("Send the report as multipart/form-data (field 'report') or as "
                    "application/pdf.")
        raise ValidationError(message, code="invalid_body",
                              problems=[Problem("invalid_body", message, field="report")])
    item = services.complete_in_one_write(
        db.session, actor, request_id, now=utcnow(), report=report,
        report_dir=current_app.config["LABBOOK_REPORT_DIR"],
        max_bytes=current_app.config["LABBOOK_REPORT_MAX_BYTES"])
    return request_json(item, actor)


@bp.get("/service-requests/<int:request_id>/report")
@token_required
def get_service_request_report(request_id: int):
    item = services.get_request_for_report(db.session, api_user(), request_id)
    path = services.report_file(item, current_app.config["LABBOOK_REPORT_DIR"])
    if not path.is_file():
        raise NotFound(_("No report for service request %(id)d.", id=request_id))
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=item.report_filename or "report.pdf", max_age=0)
