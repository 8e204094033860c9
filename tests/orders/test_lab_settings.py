"""What the lab sets for its testing: who holds which capability, the terms its customers
agree to, what its reports print; and the files kept with an order."""

import io

from labbook.extensions import db
from labbook.orders.models import Capability, LabStaff
from tests.documents.reading import pdf_text
from tests.factories import create_lab, create_manager, create_user
from tests.orders.conftest import issue_report, receive_all, submit, work_line


def test_managers_give_capabilities_and_set_terms_and_marks(client, scene, login_as):
    newcomer = create_user(email="new.analyst@example.cn", name="孙检测")
    lab = login_as(scene.manager)
    saved = lab.post("/lab/FOOD/testing/staff", data={
        "email": "new.analyst@example.cn", "capabilities": ["analyst", "reviewer"]})
    assert saved.status_code == 303
    held = set(db.session.scalars(db.select(LabStaff.capability)
                                  .where(LabStaff.user_id == newcomer.id)))
    assert held == {Capability.ANALYST, Capability.REVIEWER}
    lab.post("/lab/FOOD/testing/staff", data={"email": "new.analyst@example.cn",
                                               "capabilities": ["reviewer"]})
    db.session.rollback()
    held = set(db.session.scalars(db.select(LabStaff.capability)
                                  .where(LabStaff.user_id == newcomer.id)))
    assert held == {Capability.REVIEWER}
    unknown = lab.post("/lab/FOOD/testing/staff", data={"email": "nobody@example.cn"})
    assert unknown.status_code == 303
    assert "nobody@example.cn" in lab.get("/lab/FOOD/testing").get_data(as_text=True)
    assert lab.post("/lab/FOOD/testing", data={
        "terms_zh": "本实验室条款：样品检测后保存三十天。", "terms_en": "Our terms.",
        "address_zh": "焦作市高新区", "phone": "0391-3980000",
        "marks": ["CMA", "CNAS"]}).status_code == 303
    assert login_as(create_manager(create_lab())).get("/lab/FOOD/testing").status_code == 404

    order = submit(client, scene)
    agreement = client.get(f"/api/v1/orders/{order['id']}/agreement",
                           headers=scene.headers(scene.customer))
    assert "本实验室条款" in pdf_text(agreement.data)
    issued = issue_report(client, scene, work_line(client, scene,
                                                   receive_all(client, scene, order)))
    pdf = client.get(issued["reports"][0]["pdf_url"], headers=scene.headers(scene.customer))
    text = pdf_text(pdf.data)
    assert "CMA" in text and "CNAS" in text and "0391-3980000" in text


def test_files_are_kept_with_the_order_for_the_lab_only(client, scene, login_as, app,
                                                        monkeypatch):
    order = submit(client, scene)
    url = f"/orders/{order['id']}/attachments"
    lab = login_as(scene.manager)
    kept = lab.post(url, data={"file": (io.BytesIO(b"time,value\n0,1\n"), "raw.csv")},
                    content_type="multipart/form-data")
    assert kept.status_code == 303
    [attachment] = client.get(f"/api/v1/orders/{order['id']}",
                              headers=scene.headers(scene.manager)).json["attachments"]
    assert attachment["filename"] == "raw.csv" and attachment["size"] == 15
    download = lab.get(f"{url}/{attachment['id']}")
    assert download.data == b"time,value\n0,1\n"
    download.close()
    assert login_as(scene.customer).get(f"{url}/{attachment['id']}").status_code == 403
    monkeypatch.setitem(app.config, "LABBOOK_ATTACHMENT_MAX_BYTES", 10)
    too_large = login_as(scene.manager).post(
        url, data={"file": (io.BytesIO(b"x" * 11), "big.bin")},
        content_type="multipart/form-data")
    assert too_large.status_code in (303, 413)
    assert len(client.get(f"/api/v1/orders/{order['id']}",
                          headers=scene.headers(scene.manager)).json["attachments"]) == 1


def test_managers_set_a_services_methods_items_limits_and_retention(client, scene, login_as):
    url = f"/lab/FOOD/testing/services/{scene.service.id}"
    lab = login_as(scene.manager)
    page = lab.get(url).get_data(as_text=True)
    assert "ISO 1871:2009" in page and "蛋白质 | Protein | g/100g | 10 |" in page
    refused = lab.post(url, data={"methods": "", "retention_days": "30",
                                  "items": "脂肪 | Fat | g/100g | 5 | abc"})
    assert refused.status_code == 303
    assert "ISO 1871:2009" in lab.get(url).get_data(as_text=True)  # nothing changed
    lab.post(url, data={"methods": "GB 5009.6-2016\nISO 1871:2009", "retention_days": "30",
                        "items": "脂肪 | Fat | g/100g | 5 | 25\n灰分 | Ash | %"})
    order = submit(client, scene, samples=1)
    line = receive_all(client, scene, order)["lines"][0]
    base = f"/api/v1/orders/{order['id']}/lines/{line['id']}"
    client.post(f"{base}/assign", headers=scene.headers(scene.manager),
                json={"analyst_id": scene.analyst.id})
    client.post(f"{base}/start", headers=scene.headers(scene.analyst))
    sample = line["samples"][0]["id"]
    recorded = client.post(f"{base}/results", headers=scene.headers(scene.analyst), json={
        "results": [{"sample_id": sample, "item": "Fat", "value": "30", "unit": "g/100g",
                     "method": "GB 5009.6-2016"},
                    {"sample_id": sample, "item": "灰分", "value": "1.2", "unit": "%"}]})
    assert recorded.status_code == 200, recorded.json
    results = recorded.json["lines"][0]["samples"][0]["results"]
    assert [(r["item"], r["limit"], r["conclusion"]) for r in results] == [
        ("脂肪", "5–25", "fail"), ("灰分", "", "not_judged")]
    assert client.post(f"{base}/results", headers=scene.headers(scene.analyst), json={
        "results": [{"sample_id": sample, "item": "蛋白质", "value": "12", "unit": "g/100g"}]
    }).json["code"] == "unknown_item"
    assert login_as(scene.analyst).post(url, data={"retention_days": "1"}).status_code == 404
