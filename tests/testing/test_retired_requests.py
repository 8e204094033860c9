"""Test requests became testing orders: the old addresses lead to the orders they became, a
report uploaded with a request stays downloadable, and nothing creates or changes a request."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from labbook.accounts.models import PriceTier
from labbook.extensions import db
from labbook.orders.models import Order
from labbook.testing.models import ServiceRequest, ServiceRequestState
from tests.factories import bearer, create_manager, create_service, create_user
from tests.orders.factories import create_order

PDF = b"%PDF-1.4\n% an uploaded report\n"
NOW = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def old(app):
    """A completed request with its uploaded report, and the order the migration made of it."""
    service = create_service()
    requester = create_user()
    request = ServiceRequest(
        service=service, requester=requester, organization=requester.organization, samples=2,
        sample_description="钢", is_express=False, notes="", decision_note="",
        state=ServiceRequestState.COMPLETED, tier=PriceTier.EXTERNAL,
        quoted_unit_price=Decimal("100.00"), express_surcharge_percent=0,
        quoted_express_surcharge=Decimal("0.00"), quoted_total=Decimal("200.00"),
        created_at=NOW, updated_at=NOW, completed_at=NOW, report_path="old-report.pdf",
        report_filename="报告.pdf", report_size=len(PDF))
    db.session.add(request)
    db.session.commit()
    order = create_order(service, requester, samples=2).order
    order.legacy_request_id = request.id
    db.session.commit()
    folder = Path(app.config["LABBOOK_REPORT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "old-report.pdf").write_bytes(PDF)
    return {"request": request, "order": order, "requester": requester,
            "manager": create_manager(service.lab), "service": service}


def test_the_old_pages_lead_to_the_orders(client, login_as, old):
    browser = login_as(old["requester"])
    request_id, order_id = old["request"].id, old["order"].id
    detail = browser.get(f"/service-requests/{request_id}")
    assert detail.status_code == 302 and detail.location.endswith(f"/orders/{order_id}")
    assert browser.get("/service-requests").location.endswith("/orders")
    ordered = browser.post(f"/services/{old['service'].id}/request")
    assert ordered.status_code == 303
    assert ordered.location.endswith(f"/orders/new?service_id={old['service'].id}")
    page = browser.get(f"/services/{old['service'].id}").get_data(as_text=True)
    assert f"/orders/new?service_id={old['service'].id}" in page
    report = browser.get(f"/service-requests/{request_id}/report")
    assert report.status_code == 200 and report.data == PDF
    report.close()
    assert login_as(create_user()).get(f"/service-requests/{request_id}").status_code == 404
    manager = login_as(old["manager"])
    assert manager.get("/manage/service-requests").location.endswith("/lab/orders")
    refused = manager.post(f"/manage/service-requests/{request_id}/accept")
    assert refused.status_code == 410
    assert "检测委托" in refused.get_data(as_text=True)


def test_the_api_reads_requests_and_names_their_orders_but_changes_nothing(client, old):
    headers = bearer(old["requester"])
    listed = client.get("/api/v1/service-requests", headers=headers).json
    assert [(item["id"], item["order_id"]) for item in listed["items"]] == [
        (old["request"].id, old["order"].id)]
    created = client.post("/api/v1/service-requests", headers=headers, json={})
    assert created.status_code == 410 and created.json["code"] == "retired"
    cancelled = client.post(f"/api/v1/service-requests/{old['request'].id}/cancel",
                            headers=headers)
    assert cancelled.status_code == 410
    stranger = client.post(f"/api/v1/service-requests/{old['request'].id}/cancel",
                           headers=bearer(create_user()))
    assert stranger.status_code == 404
    assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 1
    assert db.session.get(ServiceRequest, old["request"].id).state == \
        ServiceRequestState.COMPLETED
