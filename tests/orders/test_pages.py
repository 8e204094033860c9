"""The researcher's and the lab's pages, in both languages: placing an order, intake, results,
the report workflow, the queue and the public verification."""

import datetime as dt

from labbook.extensions import db
from labbook.orders.models import Capability, Order, Report, Sample
from tests.factories import reload
from tests.orders.conftest import grant, issue_report, receive_all, submit, work_line


def _form(**changes):
    form = {"service_0": "FOOD-T01", "method_0": "",
            "samples_0": "奶粉 | B1 | 400 g/袋 | 2 袋 | 密封完好 |\n乳清粉 | | | 1 kg",
            "remains": "return", "report_language": "en", "notes": "急用",
            "contact_phone": "0391-1234567", "terms_confirmed": "on", "action": "submit",
            "shown_total": "300.00"}
    form.update(changes)
    return form


def test_a_customer_places_an_order_on_the_page(client, scene, login_as):
    browser = login_as(scene.customer)
    page = browser.get(f"/orders/new?service_id={scene.service.id}")
    assert page.status_code == 200
    assert 'value="FOOD-T01"' in page.get_data(as_text=True)
    quoted = browser.post("/orders/new", data=_form(action="quote"), follow_redirects=True)
    text = quoted.get_data(as_text=True)
    assert quoted.status_code == 200 and "¥300.00" in text
    assert quoted.request.path == "/orders/new" and "急用" in text
    assert "实验室按本委托单约定的方法检测所收样品" in text  # the lab's (default) terms
    refused = browser.post("/orders/new", data=_form(terms_confirmed=""), follow_redirects=True)
    assert "请确认实验室的委托协议条款后再提交" in refused.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 0
    placed = browser.post("/orders/new", data=_form())
    assert placed.status_code == 303
    order = db.session.scalars(db.select(Order)).one()
    assert placed.headers["Location"].endswith(f"/orders/{order.id}")
    assert [s.name for s in order.samples] == ["奶粉", "乳清粉"]
    assert order.samples[0].specification == "400 g/袋" and order.samples[1].quantity == "1 kg"
    detail = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert order.number in detail and "余样退还给我" in detail
    scene.customer.locale = "en"
    db.session.commit()
    english = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Return the remains to me" in english and "My testing orders" in english


def test_bad_sample_counts_are_refused_on_the_page(client, scene, login_as):
    browser = login_as(scene.customer)
    nothing = browser.post("/orders/new", data=_form(samples_0=""), follow_redirects=True)
    assert "样品数量必须是 1 到 1000 之间的整数" in nothing.get_data(as_text=True)
    no_lines = browser.post("/orders/new", data=_form(samples_0="", service_0=""),
                            follow_redirects=True)
    assert "请至少添加一项检测服务" in no_lines.get_data(as_text=True)
    # Too large to keep for the page after a redirect: the POST's answer shows it, as before.
    many = browser.post("/orders/new", data=_form(samples_0="样品 | | | 1 g\n" * 10000))
    assert many.status_code == 200
    assert "最多包含 1000 个样品" in many.get_data(as_text=True)
    unknown = browser.post("/orders/new", data=_form(method_0="GB 0000"), follow_redirects=True)
    assert "实验室不接受用“GB 0000”方法检测" in unknown.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Sample)) == 0


def test_the_lab_works_an_order_on_its_pages(client, scene, login_as):
    order = submit(client, scene, samples=2)
    samples = order["lines"][0]["samples"]
    lab = login_as(scene.manager)
    queue = lab.get("/lab/orders").get_data(as_text=True)
    assert order["number"] in queue
    intake = lab.post(f"/orders/{order['id']}/intake", data={
        f"status_{samples[0]['id']}": "accepted_with_remark",
        f"note_{samples[0]['id']}": "瓶盖松动", f"condition_{samples[0]['id']}": "瓶盖松动",
        f"status_{samples[1]['id']}": "refused", f"note_{samples[1]['id']}": ""})
    assert intake.status_code == 303
    assert "请说明拒收原因" in lab.get(f"/orders/{order['id']}").get_data(as_text=True)
    intake = lab.post(f"/orders/{order['id']}/intake", data={
        f"status_{samples[0]['id']}": "accepted_with_remark",
        f"note_{samples[0]['id']}": "瓶盖松动",
        f"status_{samples[1]['id']}": "refused", f"note_{samples[1]['id']}": "包装破损"})
    labels = lab.get(f"/orders/{order['id']}/labels.pdf")
    assert labels.status_code == 200 and labels.data.startswith(b"%PDF")
    line_id = order["lines"][0]["id"]
    lab.post(f"/orders/{order['id']}/lines/{line_id}/assign", data={
        "analyst_id": str(scene.analyst.id)})
    analyst = login_as(scene.analyst)
    analyst.post(f"/orders/{order['id']}/lines/{line_id}/start")
    page = analyst.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert 'name="rows" value="2"' in page  # one accepted sample × two test items
    sample_id = samples[0]["id"]
    analyst.post(f"/orders/{order['id']}/lines/{line_id}/results", data={
        "rows": "2", "sample_0": str(sample_id), "item_0": "蛋白质", "value_0": "8",
        "unit_0": "g/100g", "method_0": "GB 5009.5-2016", "sample_1": str(sample_id),
        "item_1": "水分", "value_1": "3", "unit_1": "%", "method_1": "GB 5009.5-2016"})
    done = analyst.post(f"/orders/{order['id']}/lines/{line_id}/complete")
    assert done.status_code == 303
    page = analyst.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert "不合格" in page and "检测已完成" in page
    analyst.post(f"/orders/{order['id']}/reports", data={"conclusion": "蛋白质不合格。"})
    report = db.session.scalars(db.select(Report)).one()
    login_as(scene.analyst)
    grant(scene.lab, scene.analyst, Capability.REVIEWER)
    own = login_as(scene.analyst).post(f"/orders/{order['id']}/reports/{report.id}/review")
    assert own.status_code == 403
    login_as(scene.reviewer).post(f"/orders/{order['id']}/reports/{report.id}/review")
    approved = login_as(scene.signatory).post(
        f"/orders/{order['id']}/reports/{report.id}/approve")
    assert approved.status_code == 303
    assert reload(report).sha256 is not None
    twice = login_as(scene.signatory).post(f"/orders/{order['id']}/reports/{report.id}/approve")
    assert twice.status_code == 303
    assert "不能这样更改" in login_as(scene.signatory).get(
        f"/orders/{order['id']}").get_data(as_text=True)
    pdf = login_as(scene.customer).get(f"/orders/{order['id']}/reports/{report.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_overdue_lines_are_flagged_on_the_queue(client, scene, login_as):
    order = receive_all(client, scene, submit(client, scene, samples=1))
    line = db.session.scalars(db.select(Order)).one().lines[0]
    line.due_date = dt.date(2020, 1, 6)
    db.session.commit()
    queue = login_as(scene.manager).get("/lab/orders").get_data(as_text=True)
    assert order["number"] in queue and "已逾期" in queue


def test_the_public_verification_form_in_english(client, scene):
    with client.session_transaction() as browser_session:
        browser_session["locale"] = "en"
    order = issue_report(client, scene, work_line(client, scene, receive_all(
        client, scene, submit(client, scene))))
    report = order["reports"][0]
    page = client.get(f"/verify?number={report['number']}&code={report['verification_code']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "This report is valid." in text and report["sha256"] in text
    missing = client.get(f"/verify?number={report['number']}&code=ffffffffffffffff")
    assert missing.status_code == 404
    assert "No issued report has this verification code." in missing.get_data(as_text=True)


def test_verification_is_rate_limited(client, scene, app, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_RATELIMIT_VERIFY", "3 per minute")
    answers = [client.get("/verify/0123456789abcdef").status_code for _ in range(4)]
    assert answers == [404, 404, 404, 429]
    assert client.get("/api/v1/verify/0123456789abcdef").status_code == 429
