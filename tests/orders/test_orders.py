"""Placing an order: the quote at the organization's tier, the agreement, and the refusals."""

from decimal import Decimal

import pytest

from labbook.accounts.models import PriceTier
from labbook.billing.pricing import quote
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from labbook.orders.models import Order, Sample
from tests.documents.reading import pdf_text
from tests.factories import create_lab, create_service, create_user
from tests.orders.conftest import order_body, submit


def test_submitted_order_is_quoted_per_line_at_the_tier_and_numbered(client, scene):
    body = order_body(scene, samples=3)
    body["lines"].append({"service_id": scene.service.id, "express": True,
                          "method": "ISO 1871:2009",
                          "samples": [{"name": "乳清粉", "quantity": "1 kg"}]})
    quoted = client.post("/api/v1/orders/quote", headers=scene.headers(scene.customer),
                         json=body)
    assert quoted.status_code == 200, quoted.json
    express = quote(scene.service, PriceTier.EXTERNAL, 1, True)
    assert [line["total"] for line in quoted.json["lines"]] == ["450.00", str(express.total)]
    assert quoted.json["total"] == str(Decimal("450.00") + express.total) == "675.00"

    response = client.post("/api/v1/orders", headers=scene.headers(scene.customer), json=body)
    assert response.status_code == 201, response.json
    order = response.json
    year = to_lab_time(utcnow()).year
    assert order["number"] == f"FOOD-WT-{year}-00001"
    assert order["state"] == "submitted"
    assert order["total"] == "675.00"
    assert [line["method"] for line in order["lines"]] == ["GB 5009.5-2016", "ISO 1871:2009"]
    assert [len(line["samples"]) for line in order["lines"]] == [3, 1]
    assert order["lines"][0]["samples"][0]["batch"] == "B1"
    kinds = set(db.session.scalars(db.select(OutboxMessage.kind)))
    assert {"order_submitted", "order_new"} <= kinds


def test_the_agreement_pdf_carries_the_lines_and_the_confirmed_terms(client, scene, login_as):
    order = submit(client, scene)
    response = client.get(f"/api/v1/orders/{order['id']}/agreement?language=en",
                          headers=scene.headers(scene.customer))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert order["number"] in text
    assert "FOOD-T01" in text
    page = login_as(scene.customer).get(f"/orders/{order['id']}/agreement.pdf")
    assert page.status_code == 200 and page.data.startswith(b"%PDF")


@pytest.mark.parametrize(("change", "code"), [
    (lambda body: body["lines"][0].update(samples=[]), "invalid_samples"),
    (lambda body: body["lines"][0].update(samples=[{"name": "x", "quantity": "1"}] * 10000),
     "invalid_samples"),
    (lambda body: body["lines"][0].update(method="GB 0000-1900"), "unknown_method"),
    (lambda body: body["lines"][0].update(service_id=999999), "unknown_service"),
    (lambda body: body.update(terms_confirmed=False), "terms_not_confirmed"),
    (lambda body: body.update(lines=[]), "no_lines"),
    (lambda body: body["lines"][0]["samples"][0].update(name=""), "required"),
    (lambda body: body.update(remains="keep"), "invalid_choice"),
])
def test_bad_orders_are_refused_and_nothing_is_written(client, scene, change, code):
    body = order_body(scene)
    change(body)
    response = client.post("/api/v1/orders", headers=scene.headers(scene.customer), json=body)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(Sample)) == 0


def test_an_order_holds_the_services_of_one_lab(client, scene):
    elsewhere = create_service(lab=create_lab())
    body = order_body(scene)
    body["lines"].append({"service_id": elsewhere.id, "samples": [{"name": "x",
                                                                   "quantity": "1"}]})
    response = client.post("/api/v1/orders", headers=scene.headers(scene.customer), json=body)
    assert response.status_code == 422
    assert response.json["code"] == "mixed_labs"


def test_others_cannot_see_an_order_and_the_customer_cancels_before_intake(client, scene):
    order = submit(client, scene)
    stranger = create_user()
    assert client.get(f"/api/v1/orders/{order['id']}",
                      headers=scene.headers(stranger)).status_code == 404
    listed = client.get("/api/v1/orders", headers=scene.headers(scene.customer)).json
    assert [item["number"] for item in listed["items"]] == [order["number"]]
    lab_list = client.get("/api/v1/orders?lab=FOOD", headers=scene.headers(scene.analyst))
    assert lab_list.json["total"] == 1
    assert client.get("/api/v1/orders?lab=FOOD",
                      headers=scene.headers(stranger)).status_code == 404
    cancelled = client.post(f"/api/v1/orders/{order['id']}/cancel",
                            headers=scene.headers(scene.customer), json={"note": "不需要了"})
    assert cancelled.status_code == 200
    assert cancelled.json["state"] == "cancelled"
    again = client.post(f"/api/v1/orders/{order['id']}/cancel",
                        headers=scene.headers(scene.customer))
    assert again.status_code == 409 and again.json["code"] == "invalid_state"

