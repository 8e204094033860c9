"""A refused order request, and a request for its price, come back to the order page after a
redirect with everything typed (samples, express, remains, contact, notes); the page prices and
checks them again there, so a reload or the language switch never loses them, the refusal
speaks the page's language, and a price that changed shows its new quote."""

from __future__ import annotations

from decimal import Decimal

import pytest

from labbook.extensions import db
from labbook.orders.models import Order
from tests.orders.test_pages import _form

PAGE = "/orders/new"
#: What the order form sends in tests.orders.test_pages._form, as the page shows it again.
TYPED = ["奶粉 | B1 | 400 g/袋 | 2 袋 | 密封完好 |\n乳清粉 | | | 1 kg", 'value="FOOD-T01"',
         'value="0391-1234567"', "急用", '<option value="return" selected>',
         '<option value="en" selected>']


def _orders() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Order))


def _main(client) -> str:
    answer = client.get(PAGE)
    assert answer.status_code == 200
    return answer.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def _kept_through_the_switch(client, data, zh: list[str], en: list[str]) -> str:
    """Send the order page's form; what the page shows after the redirect in English."""
    refused = client.post(PAGE, data=data)
    assert refused.status_code == 303 and refused.headers["Location"] == PAGE
    for chinese in (_main(client), _main(client)):  # and a reload
        assert all(text in chinese for text in [*TYPED, *zh]), chinese
    switched = client.post("/language", data={"locale": "en", "next": PAGE})
    assert switched.status_code == 303 and switched.headers["Location"] == PAGE
    english = _main(client)
    assert all(text in english for text in [*TYPED, *en]), english
    assert not any(text in english for text in zh if text.startswith(("请", "价格")))
    assert _orders() == 0
    return english


def test_a_stale_quote_shows_the_new_one_through_reload_and_the_switch(scene, login_as):
    client = login_as(scene.customer)
    scene.service.price_external = Decimal("175.00")
    db.session.commit()
    english = _kept_through_the_switch(
        client, _form(express_0="on"),
        ["价格在向您显示后已有变化：本委托单现在的费用是 ¥525.00，而不是 ¥300.00",
         'name="shown_total" value="525.00"', 'id="express_0" name="express_0" checked'],
        ["The price has changed since it was shown to you: this order now costs ¥525.00, "
         "not ¥300.00", 'name="shown_total" value="525.00"',
         'id="express_0" name="express_0" checked'])
    assert "Quote" in english and "¥525.00" in english
    placed = client.post(PAGE, data=_form(express_0="on", shown_total="525.00"))
    assert placed.status_code == 303 and _orders() == 1
    assert "奶粉" not in _main(client)  # placed: nothing is kept any more


@pytest.mark.parametrize(("changes", "zh", "en"), [
    ({"terms_confirmed": ""}, "请确认实验室的委托协议条款后再提交",
     "Confirm the lab&#39;s terms to submit the order."),
    ({"shown_total": ""}, "请先核对下方的价格，再提交委托单。",
     "Check the price below, then submit the order."),
    ({"method_0": "GB 0000"}, "实验室不接受用“GB 0000”方法检测",
     "The lab does not accept the method “GB 0000” for FOOD-T01."),
], ids=["terms", "no quote shown", "method"])
def test_a_refused_order_survives_reload_and_the_switch(scene, login_as, changes, zh, en):
    _kept_through_the_switch(login_as(scene.customer), _form(**changes), [zh, "¥300.00"],
                             [en, "¥300.00"])


def test_the_price_asked_for_is_shown_after_the_redirect_and_the_switch(scene, login_as):
    english = _kept_through_the_switch(login_as(scene.customer), _form(action="quote"),
                                       ["¥300.00", "实验室按本委托单约定的方法检测所收样品"],
                                       ["¥300.00"])
    assert "alert-danger" not in english


def test_the_running_quote_keeps_what_was_kept(scene, login_as):
    client = login_as(scene.customer)
    client.post(PAGE, data=_form(terms_confirmed=""))
    quote = client.post("/orders/new/quote", data={**_form(), "samples_0": "奶粉 | | | 1 袋"},
                        content_type="multipart/form-data")
    assert quote.status_code == 200 and "¥150.00" in quote.get_data(as_text=True)
    assert all(text in _main(client) for text in TYPED)
