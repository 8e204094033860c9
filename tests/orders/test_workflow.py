"""From intake to a verified report: numbering, labels, results and their judgement, the three
signatures, the charge, verification and amendment."""

import hashlib
import re

from labbook.billing import lines as billing_lines
from labbook.billing.models import Charge
from labbook.core.time import to_lab_time, utcnow
from labbook.extensions import db
from labbook.notify.models import OutboxMessage
from tests.documents.reading import pdf_qr_payloads, pdf_text
from tests.factories import create_user
from tests.orders.conftest import issue_report, receive_all, submit, work_line


def _kinds() -> list[str]:
    return list(db.session.scalars(db.select(OutboxMessage.kind).order_by(OutboxMessage.id)))


def test_intake_numbers_accepted_samples_and_records_refusals(client, scene):
    order = submit(client, scene, samples=3)
    received = receive_all(client, scene, order, refused=1)
    year = to_lab_time(utcnow()).year
    samples = received["lines"][0]["samples"]
    assert [s["number"] for s in samples] == [None, f"FOOD-{year}-000001",
                                              f"FOOD-{year}-000002"]
    assert samples[0]["intake"] == {**samples[0]["intake"], "status": "refused",
                                    "note": "包装破损"}
    assert received["state"] == "received"
    assert received["lines"][0]["state"] == "received"
    assert received["lines"][0]["due_date"] is not None
    assert "order_received" in _kinds()
    # The next order continues the lab's sequence.
    second = receive_all(client, scene, submit(client, scene, samples=1))
    assert second["lines"][0]["samples"][0]["number"] == f"FOOD-{year}-000003"

    labels = client.get(f"/api/v1/orders/{order['id']}/labels",
                        headers=scene.headers(scene.manager))
    assert labels.status_code == 200
    assert sorted(pdf_qr_payloads(labels.data)) == [f"FOOD-{year}-000001",
                                                    f"FOOD-{year}-000002"]
    assert client.get(f"/api/v1/orders/{order['id']}/labels",
                      headers=scene.headers(scene.customer)).status_code == 403


def test_intake_refuses_a_refusal_without_reason_and_undecided_samples(client, scene):
    order = submit(client, scene, samples=2)
    samples = order["lines"][0]["samples"]
    url = f"/api/v1/orders/{order['id']}/intake"
    response = client.post(url, headers=scene.headers(scene.manager), json={"samples": [
        {"sample_id": samples[0]["id"], "status": "refused"},
        {"sample_id": samples[1]["id"], "status": "accepted"}]})
    assert response.status_code == 422 and response.json["code"] == "required"
    response = client.post(url, headers=scene.headers(scene.manager), json={"samples": [
        {"sample_id": samples[0]["id"], "status": "accepted"}]})
    assert response.status_code == 422 and response.json["code"] == "samples_undecided"
    response = client.post(url, headers=scene.headers(scene.customer), json={"samples": []})
    assert response.status_code == 403
    assert client.get(f"/api/v1/orders/{order['id']}",
                      headers=scene.headers(scene.customer)).json["state"] == "submitted"


def test_all_samples_refused_closes_the_order(client, scene):
    order = submit(client, scene, samples=1)
    received = receive_all(client, scene, order, refused=1)
    assert received["state"] == "refused"
    assert received["lines"][0]["state"] == "refused"


def test_results_are_judged_against_the_service_limits(client, scene):
    order = receive_all(client, scene, submit(client, scene, samples=1))
    line = order["lines"][0]
    sample = line["samples"][0]
    base = f"/api/v1/orders/{order['id']}/lines/{line['id']}"
    analyst = scene.headers(scene.analyst)
    outsider = create_user()
    assert client.post(f"{base}/assign", headers=scene.headers(scene.manager),
                       json={"analyst_id": outsider.id}).json["code"] == "not_an_analyst"
    client.post(f"{base}/assign", headers=scene.headers(scene.manager),
                json={"analyst_id": scene.analyst.id})
    assert client.post(f"{base}/start", headers=analyst).status_code == 200

    def record(**entry):
        return client.post(f"{base}/results", headers=analyst,
                           json={"results": [{"sample_id": sample["id"], **entry}]})

    refused = record(item="蛋白质", value="9")
    assert refused.status_code == 422 and refused.json["code"] == "unit_required"
    assert record(item="蛋白质", value="9", unit="mg").json["code"] == "unit_mismatch"
    assert record(item="脂肪", value="9", unit="%").json["code"] == "unknown_item"
    assert record(item="蛋白质", value="9", unit="g/100g",
                  method="GB 0000").json["code"] == "unknown_method"
    failed = record(item="蛋白质", value="9", unit="g/100g").json
    [result] = failed["lines"][0]["samples"][0]["results"]
    assert (result["conclusion"], result["limit"]) == ("fail", "≥10")
    # Recording the item again corrects it; an item without limits is not judged.
    passed = record(item="Protein", value="10.0", unit="g/100g", method="ISO 1871:2009").json
    assert passed["lines"][0]["samples"][0]["results"][0]["conclusion"] == "pass"
    response = client.post(f"{base}/complete", headers=analyst)
    assert response.status_code == 422 and response.json["code"] == "results_missing"
    moisture = record(item="水分", value="3.1", unit="%").json
    assert moisture["lines"][0]["samples"][0]["results"][1]["conclusion"] == "not_judged"
    assert client.post(f"{base}/complete", headers=analyst).json["state"] == "completed"


def test_a_completed_line_is_charged_once_with_the_order_number(client, scene):
    order = receive_all(client, scene, submit(client, scene, samples=2))
    done = work_line(client, scene, order)
    assert done["state"] == "completed"
    [charge] = db.session.scalars(db.select(Charge)).all()
    assert charge.amount == charge.order_line.total
    assert str(charge.amount) == "300.00"
    assert charge.organization_id == scene.customer.organization_id
    assert order["number"] in billing_lines.describe(charge)


def test_three_people_sign_and_the_issued_report_verifies(client, scene):
    order = work_line(client, scene, receive_all(client, scene, submit(client, scene)))
    base = f"/api/v1/orders/{order['id']}/reports"
    assert client.post(base, headers=scene.headers(scene.customer),
                       json={"conclusion": "x"}).status_code == 403
    prepared = client.post(base, headers=scene.headers(scene.reviewer),
                           json={"conclusion": "所检项目符合要求。"})
    assert prepared.status_code == 201
    report = prepared.json["reports"][0]
    # The reviewer prepared it, so may not review it; the analyst is no reviewer.
    own = client.post(f"{base}/{report['id']}/review", headers=scene.headers(scene.reviewer))
    assert own.status_code == 403 and own.json["code"] == "own_report"
    assert client.post(f"{base}/{report['id']}/review",
                       headers=scene.headers(scene.analyst)).json["code"] == \
        "missing_capability"
    assert client.post(f"{base}/{report['id']}/approve",
                       headers=scene.headers(scene.signatory)).status_code == 409
    other_reviewer = create_user(name="周复核")
    from labbook.orders.models import Capability
    from tests.orders.conftest import grant
    grant(scene.lab, other_reviewer, Capability.REVIEWER)
    assert client.post(f"{base}/{report['id']}/review",
                       headers=scene.headers(other_reviewer)).status_code == 200
    approved = client.post(f"{base}/{report['id']}/approve",
                           headers=scene.headers(scene.signatory))
    assert approved.status_code == 200, approved.json
    issued = approved.json["reports"][0]
    assert issued["state"] == "issued"
    twice = client.post(f"{base}/{report['id']}/approve", headers=scene.headers(scene.signatory))
    assert twice.status_code == 409 and twice.json["code"] == "invalid_state"

    pdf = client.get(issued["pdf_url"], headers=scene.headers(scene.customer))
    assert pdf.status_code == 200
    assert hashlib.sha256(pdf.data).hexdigest() == issued["sha256"]
    text = pdf_text(pdf.data)
    assert issued["number"] in text and "王批准" in text and "周复核" in text
    assert any(payload.endswith(f"/verify/{issued['verification_code']}")
               for payload in pdf_qr_payloads(pdf.data))
    assert "order_report_issued" in _kinds()

    verified = client.get(f"/api/v1/verify/{issued['verification_code']}")
    assert verified.status_code == 200
    assert verified.json == {"number": issued["number"], "customer": verified.json["customer"],
                             "issued_on": issued["issued_on"], "status": "valid",
                             "superseded_by": None, "sha256": issued["sha256"]}
    assert verified.json["customer"] != "焦作市示例食品科技有限公司"
    assert "*" in verified.json["customer"] and verified.json["customer"].startswith("焦")
    page = client.get(f"/verify/{issued['verification_code']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert issued["sha256"] in html and issued["number"] in html
    assert "示例食品" not in html and "蛋白质" not in html and "王批准" not in html
    by_number = client.get(f"/verify?number={issued['number']}&code="
                           f"{issued['verification_code']}")
    assert by_number.status_code == 200 and issued["sha256"] in by_number.get_data(as_text=True)


def test_unknown_verification_codes_are_refused(client, scene):
    response = client.get("/api/v1/verify/0123456789abcdef")
    assert response.status_code == 404 and response.json["code"] == "unknown_verification_code"
    assert client.get("/verify/0123456789abcdef").status_code == 404
    assert client.get("/verify?number=FOOD-BG-2026-00001&code=nope").status_code == 404


def test_an_amendment_supersedes_the_report_it_replaces(client, scene):
    order = issue_report(client, scene, work_line(client, scene, receive_all(
        client, scene, submit(client, scene))))
    first = order["reports"][0]
    base = f"/api/v1/orders/{order['id']}/reports"
    refused = client.post(f"{base}/{first['id']}/amend", headers=scene.headers(scene.analyst),
                          json={"conclusion": "更正", "reason": ""})
    assert refused.status_code == 422
    amended = client.post(f"{base}/{first['id']}/amend", headers=scene.headers(scene.analyst),
                          json={"conclusion": "所检项目符合要求（更正样品批号）。",
                                "reason": "样品批号有误"})
    assert amended.status_code == 201, amended.json
    second = amended.json["reports"][1]
    assert second["replaces"] == first["number"] and second["number"] != first["number"]
    assert client.get(f"/api/v1/verify/{first['verification_code']}").json["status"] == "valid"
    client.post(f"{base}/{second['id']}/review", headers=scene.headers(scene.reviewer))
    final = client.post(f"{base}/{second['id']}/approve", headers=scene.headers(scene.signatory))
    assert final.status_code == 200, final.json
    old = client.get(f"/api/v1/verify/{first['verification_code']}").json
    assert (old["status"], old["superseded_by"]) == ("superseded", second["number"])
    assert client.get(f"/api/v1/verify/{second['verification_code']}").json["status"] == "valid"
    pdf = client.get(final.json["reports"][1]["pdf_url"], headers=scene.headers(scene.customer))
    assert first["number"] in pdf_text(pdf.data)
    # The superseded report cannot be amended a second time.
    assert client.post(f"{base}/{first['id']}/amend", headers=scene.headers(scene.analyst),
                       json={"conclusion": "x", "reason": "y"}).status_code == 409
    withdrawn = client.post(f"{base}/{second['id']}/withdraw",
                            headers=scene.headers(scene.manager), json={"reason": "客户撤回"})
    assert withdrawn.status_code == 200
    assert client.get(f"/api/v1/verify/{second['verification_code']}").json["status"] == \
        "withdrawn"
    assert re.fullmatch(r"FOOD-BG-\d{4}-\d{5}", second["number"])
