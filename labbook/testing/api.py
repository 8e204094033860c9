"""What is left of the service-request API under /api/v1/service-requests: the requests as they
were, each naming the order it became (``order_id``), and a report uploaded with one. Testing
orders (/api/v1/orders) replaced the rest, which answers 410."""

from __future__ import annotations

from typing import Any

from flask import current_app, send_file, url_for
from flask_babel import gettext as _

from labbook.api import bp
from labbook.api.auth import api_user, token_required
from labbook.catalogue.args import lab_arg
from labbook.core.errors import NotFound
from labbook.extensions import db
from labbook.http import enum_arg, page_of, pagination_args
from labbook.testing import services
from labbook.testing.models import ServiceRequest, ServiceRequestState


def request_json(item: ServiceRequest, order_id: int | None) -> dict[str, Any]:
    return {
        "id": item.id,
        "order_id": order_id,
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
    }


@bp.post("/service-requests")
@token_required
def create_service_request():
    api_user()
    raise services.retired()


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
    orders = services.converted_order_ids(db.session, [item.id for item in items])
    return {"items": [request_json(item, orders.get(item.id)) for item in items],
            "total": total, "page": page, "per_page": per_page}


@bp.get("/service-requests/<int:request_id>")
@token_required
def get_service_request(request_id: int):
    item = services.get_request(db.session, api_user(), request_id)
    return request_json(item, services.converted_order_ids(db.session, [item.id]).get(item.id))


def _retired(request_id: int):
    services.get_request(db.session, api_user(), request_id)
    raise services.retired()


@bp.post("/service-requests/<int:request_id>/accept")
@token_required
def accept_service_request(request_id: int):
    return _retired(request_id)


@bp.post("/service-requests/<int:request_id>/reject")
@token_required
def reject_service_request(request_id: int):
    return _retired(request_id)


@bp.post("/service-requests/<int:request_id>/start")
@token_required
def start_service_request(request_id: int):
    return _retired(request_id)


@bp.post("/service-requests/<int:request_id>/cancel")
@token_required
def cancel_service_request(request_id: int):
    return _retired(request_id)


@bp.post("/service-requests/<int:request_id>/complete")
@token_required
def complete_service_request(request_id: int):
    return _retired(request_id)


@bp.get("/service-requests/<int:request_id>/report")
@token_required
def get_service_request_report(request_id: int):
    item = services.get_request_for_report(db.session, api_user(), request_id)
    path = services.report_file(item, current_app.config["LABBOOK_REPORT_DIR"])
    if not path.is_file():
        raise NotFound(_("No report for service request %(id)d.", id=request_id))
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=item.report_filename or "report.pdf", max_age=0)
