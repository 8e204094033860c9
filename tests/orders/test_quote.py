"""The price before commitment: the order form's running quote, and an order placed only at the
total its customer was shown (a changed rate or tier, or a tampered total, is refused with the
new quote)."""

from decimal import Decimal

import pytest

from labbook.accounts.models import PriceTier
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.orders import services
from labbook.orders.models import Order
from tests.factories import create_service
from tests.orders.conftest import order_body
from tests.orders.test_pages import _form


def _input(scene, *, samples: int, express: bool = False) -> services.OrderInput:
    return services.OrderInput(
        lines=[services.LineInput(service_id=scene.service.id, express=express,
                                  samples=[services.SampleInput(name=f"奶粉{i}", quantity="1 袋")
                                           for i in range(samples)])],
        terms_confirmed=True)


def _orders() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Order))


def test_an_order_is_placed_at_the_total_shown_and_at_no_other(scene):
    order = services.submit(db.session, scene.customer, _input(scene, samples=3),
                            now=utcnow(), expected_total=Decimal("450.00"))
    assert order.quoted_total == Decimal("450.00")
    scene.service.price_external = Decimal("160.00")
    db.session.commit()
    with pytest.raises(services.QuoteChanged) as refused:
        services.submit(db.session, scene.customer, _input(scene, samples=3, express=True),
                        now=utcnow(), expected_total=Decimal("450.00"))
    assert refused.value.status == 409 and refused.value.code == "quote_changed"
    assert refused.value.quote.total == Decimal("720.00")  # 3 × 160, plus 50 % express
    assert "¥720.00" in refused.value.message and "¥450.00" in refused.value.message
    db.session.rollback()
    assert _orders() == 1


def test_the_running_quote_prices_each_line_from_its_first_sample(scene):
    other_lab = create_service()
    unpriced = services.OrderInput(lines=[
        services.LineInput(service_id=scene.service.id, samples=[]),
        services.LineInput(service_id=None, samples=[services.SampleInput(name="x")]),
    ])
    assert services.preview_quote(db.session, scene.customer, unpriced) is None
    # a sample without its quantity is priced already (submitting checks the rest)
    written = services.OrderInput(lines=[
        services.LineInput(service_id=scene.service.id, express=True,
                           samples=[services.SampleInput(name="奶粉")] * 2),
        services.LineInput(service_id=other_lab.id, samples=[services.SampleInput()]),
    ])
    running = services.preview_quote(db.session, scene.customer, written)
    assert running is not None and running.organization.tier == PriceTier.EXTERNAL
    assert [line.price.total for line in running.lines] == [Decimal("450.00"),
                                                            other_lab.price_external]
    assert running.lab == scene.lab


def test_the_api_refuses_a_changed_quote_and_answers_the_new_one(client, scene):
    headers = scene.headers(scene.customer)
    scene.customer.organization.tier = PriceTier.PARTNER
    scene.service.price_partner = Decimal("120.00")
    db.session.commit()
    stale = client.post("/api/v1/orders", headers=headers,
                        json=order_body(scene, expected_total="300.00"))
    assert stale.status_code == 409, stale.json
    assert stale.mimetype == "application/problem+json"
    assert stale.json["code"] == "quote_changed"
    assert stale.json["quote"]["tier"] == "partner"
    assert stale.json["quote"]["total"] == "240.00"
    assert stale.json["quote"]["lines"][0]["unit_price"] == "120.00"
    assert _orders() == 0
    placed = client.post("/api/v1/orders", headers=headers,
                         json=order_body(scene, expected_total=stale.json["quote"]["total"]))
    assert placed.status_code == 201 and placed.json["total"] == "240.00"
    # without an expected total the API places the order at today's price, as before
    assert client.post("/api/v1/orders", headers=headers,
                       json=order_body(scene)).status_code == 201


@pytest.mark.parametrize("total", ["abc", "1e3", "12.345", True, [], {}])
def test_an_expected_total_that_is_no_amount_is_refused(client, scene, total):
    response = client.post("/api/v1/orders", headers=scene.headers(scene.customer),
                           json=order_body(scene, expected_total=total))
    assert response.status_code == 422, response.json
    assert response.json["code"] == "invalid_amount"
    assert response.json["problems"][0]["field"] == "expected_total"
    assert _orders() == 0


def test_the_form_refuses_a_stale_quote_with_the_new_price_and_keeps_the_input(
        client, scene, login_as):
    browser = login_as(scene.customer)
    scene.service.price_external = Decimal("175.00")
    db.session.commit()
    refused = browser.post("/orders/new", data=_form(express_0="on"), follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and refused.request.path == "/orders/new"
    assert "价格在向您显示后已有变化：本委托单现在的费用是 ¥525.00，而不是 ¥300.00" in text
    assert 'name="shown_total" value="525.00"' in text  # what the page shows now
    assert "乳清粉 | | | 1 kg" in text and 'value="0391-1234567"' in text
    assert 'id="express_0" name="express_0" checked' in text
    assert _orders() == 0
    placed = browser.post("/orders/new", data=_form(express_0="on", shown_total="525.00"))
    assert placed.status_code == 303
    assert db.session.scalars(db.select(Order)).one().quoted_total == Decimal("525.00")


def test_the_form_does_not_place_an_order_whose_price_was_never_shown(client, scene, login_as):
    browser = login_as(scene.customer)
    scene.customer.locale = "en"
    db.session.commit()
    refused = browser.post("/orders/new", data=_form(shown_total=""), follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert refused.status_code == 200 and refused.request.path == "/orders/new"
    assert "Check the price below, then submit the order." in text
    assert "¥300.00" in text and 'name="shown_total" value="300.00"' in text
    assert _orders() == 0


def test_the_forms_script_gets_the_quote_as_the_input_stands(client, scene, login_as):
    browser = login_as(scene.customer)
    empty = browser.post("/orders/new/quote", data={"service_0": "FOOD-T01"})
    assert empty.status_code == 200
    assert "填写服务代码和样品后，这里即显示价格" in empty.get_data(as_text=True)
    assert 'name="shown_total" value=""' in empty.get_data(as_text=True)
    three = browser.post("/orders/new/quote", data={
        "service_0": "food-t01", "samples_0": "a\nb\n\nc", "express_0": "on"})
    text = three.get_data(as_text=True)
    assert "价格等级：外部单位" in text
    assert "¥150.00" in text and "¥225.00" in text and "¥675.00" in text
    assert 'name="shown_total" value="675.00"' in text
    assert "实验室按本委托单约定的方法检测所收样品" in text  # the lab's terms come with it
    assert browser.post("/orders/new/quote", data={"remains": "keep"}).status_code == 200
