"""Testing-service pages: a service's page (which leads to the order form), and what is left of
the service requests that testing orders replaced: the old addresses lead to the orders they
became, a report uploaded with a request stays downloadable, and the old actions answer 410.
Requests a user may not see answer 404, as if they did not exist."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from labbook.accounts.access import current_actor, current_viewer
from labbook.accounts.models import PriceTier
from labbook.catalogue import services as catalogue
from labbook.core.errors import NotFound
from labbook.extensions import db
from labbook.testing import services

bp = Blueprint("testing", __name__)


@bp.get("/services/<int:service_id>")
def service_detail(service_id: int):
    """A testing service's page in the catalogue, with its prices and the way to order it."""
    service = catalogue.get_service(db.session, service_id)
    viewer = current_viewer()
    return render_template("catalogue/service_detail.html", service=service,
                           viewer_tier=viewer.price_tier if viewer is not None else None,
                           tiers=list(PriceTier))


@bp.post("/services/<int:service_id>/request")
@login_required
def request_service(service_id: int):
    """The request form that was here is the order form now."""
    catalogue.get_service(db.session, service_id)
    return redirect(url_for("orders.new_order", service_id=service_id), 303)


@bp.get("/service-requests")
@login_required
def my_requests():
    return redirect(url_for("orders.my_orders"))


@bp.get("/service-requests/<int:request_id>")
@login_required
def request_detail(request_id: int):
    """The order the request became."""
    order_id = services.converted_order_id(db.session, current_actor(), request_id)
    return redirect(url_for("orders.order_detail", order_id=order_id))


@bp.get("/service-requests/<int:request_id>/report")
@login_required
def download_report(request_id: int):
    service_request = services.get_request_for_report(db.session, current_actor(), request_id)
    path = services.report_file(service_request, current_app.config["LABBOOK_REPORT_DIR"])
    if not path.is_file():
        raise NotFound(_("No report for service request %(id)d.", id=request_id))
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=service_request.report_filename or "report.pdf",
                     max_age=0)


@bp.get("/manage/service-requests")
@login_required
def manage_queue():
    return redirect(url_for("orders.lab_queue"))


def _retired(request_id: int):
    services.get_request(db.session, current_actor(), request_id)
    raise services.retired()


@bp.post("/service-requests/<int:request_id>/cancel")
@login_required
def cancel_request(request_id: int):
    return _retired(request_id)


@bp.post("/manage/service-requests/<int:request_id>/accept")
@login_required
def accept_request(request_id: int):
    return _retired(request_id)


@bp.post("/manage/service-requests/<int:request_id>/reject")
@login_required
def reject_request(request_id: int):
    return _retired(request_id)


@bp.post("/manage/service-requests/<int:request_id>/start")
@login_required
def start_request(request_id: int):
    return _retired(request_id)


@bp.post("/manage/service-requests/<int:request_id>/complete")
@login_required
def complete_request(request_id: int):
    return _retired(request_id)
