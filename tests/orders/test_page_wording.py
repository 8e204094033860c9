"""What the order form says when it refuses: where each problem lies in the form's own words,
never the field paths the service checks ("lines[0].samples[0].quantity")."""

from labbook.extensions import db
from tests.orders.test_pages import _form


def test_a_refused_order_names_the_service_and_sample_at_fault(client, scene, login_as):
    browser = login_as(scene.customer)
    refused = browser.post("/orders/new", data=_form(samples_0="奶粉 | B1", service_1="NOPE-1",
                                                     samples_1="样品 | | | 1 g"),
                           follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "检测服务 1 · 样品 1 · 数量: 此项为必填项。" in text
    assert "检测服务 2 · 服务编号: " in text
    assert "lines[" not in text
    scene.customer.locale = "en"
    db.session.commit()
    english = browser.post("/orders/new", data=_form(samples_0="奶粉 | B1"),
                           follow_redirects=True).get_data(as_text=True)
    assert "Testing service 1 · Sample 1 · Quantity: This field is required." in english
