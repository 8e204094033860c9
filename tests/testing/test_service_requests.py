import datetime as dt
import io
from decimal import Decimal

from labbook.accounts.models import OrganizationStatus, PriceTier
from labbook.billing.pricing import quote
from labbook.extensions import db
from labbook.holidays.services import add_working_days
from labbook.testing import services
from labbook.testing.models import ServiceRequest
from tests.factories import (
    bearer,
    create_lab,
    create_manager,
    create_organization,
    create_service,
    create_user,
)

PDF = b"%PDF-1.4\n% test\n"


def test_quote_worked_examples():
    service = create_service(price_external=Decimal("150.00"), express_surcharge_percent=50)
    q = quote(service, PriceTier.EXTERNAL, 3, True)
    assert (q.subtotal, q.express_surcharge, q.total) == (
        Decimal("450.00"), Decimal("225.00"), Decimal("675.00"))
    service = create_service(price_external=Decimal("33.33"), express_surcharge_percent=30)
    q = quote(service, PriceTier.EXTERNAL, 3, True)
    assert (q.subtotal, q.express_surcharge, q.total) == (
        Decimal("99.99"), Decimal("30.00"), Decimal("129.99"))


def test_working_days():
    friday = dt.date(2026, 11, 27)
    lab_id = create_lab().id
    assert add_working_days(db.session, lab_id, friday, 1) == dt.date(2026, 11, 30)
    assert add_working_days(db.session, lab_id, friday, 5) == dt.date(2026, 12, 4)


def test_api_flow_permissions_and_report(client, app):
    lab = create_lab()
    service = create_service(lab=lab, price_external=Decimal("150.00"),
                             express_surcharge_percent=50)
    researcher = create_user()
    manager = create_manager(lab)
    other = create_user()
    other_manager = create_manager(create_lab())
    response = client.post("/api/v1/service-requests", headers=bearer(researcher), json={
        "service_id": service.id, "samples": 3, "sample_description": "steel", "express": True})
    assert response.status_code == 201, response.json
    assert response.json["quote"]["total"] == "675.00"
    rid = response.json["id"]
    assert client.get(f"/api/v1/service-requests/{rid}", headers=bearer(other)).status_code == 404
    assert client.get(f"/api/v1/service-requests/{rid}",
                      headers=bearer(other_manager)).status_code == 404
    assert client.post(f"/api/v1/service-requests/{rid}/accept",
                       headers=bearer(researcher)).status_code == 403
    mh = bearer(manager)
    response = client.post(f"/api/v1/service-requests/{rid}/accept", headers=mh)
    assert response.status_code == 200 and response.json["due_date"]
    assert client.post(f"/api/v1/service-requests/{rid}/accept", headers=mh).status_code == 409
    assert client.post(f"/api/v1/service-requests/{rid}/start", headers=mh).status_code == 200
    bad = client.post(f"/api/v1/service-requests/{rid}/complete", headers=mh,
                      data={"report": (io.BytesIO(b"hello"), "r.pdf")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422
    app.config["LABBOOK_REPORT_MAX_BYTES"], saved = 10, app.config["LABBOOK_REPORT_MAX_BYTES"]
    try:
        big = client.post(f"/api/v1/service-requests/{rid}/complete", headers=mh,
                          data={"report": (io.BytesIO(PDF + b"x" * 20), "r.pdf")},
                          content_type="multipart/form-data")
    finally:
        app.config["LABBOOK_REPORT_MAX_BYTES"] = saved
    assert big.status_code == 413
    done = client.post(f"/api/v1/service-requests/{rid}/complete", headers=mh,
                       data={"report": (io.BytesIO(PDF), "r.pdf")},
                       content_type="multipart/form-data")
    assert done.status_code == 200 and done.json["state"] == "completed"
    report = client.get(f"/api/v1/service-requests/{rid}/report", headers=bearer(researcher))
    assert report.status_code == 200 and report.data == PDF
    report.close()
    colleague = create_user(organization=researcher.organization)
    again = client.get(f"/api/v1/service-requests/{rid}/report", headers=bearer(colleague))
    assert again.status_code == 200
    again.close()
    assert client.get(f"/api/v1/service-requests/{rid}/report",
                      headers=bearer(other)).status_code == 404


def test_bad_input_writes_nothing(client):
    service = create_service()
    headers = bearer(create_user())
    for body in [{"samples": 0, "sample_description": "x"},
                 {"samples": 1001, "sample_description": "x"},
                 {"samples": 1},
                 {"samples": 1, "sample_description": "x", "express": True}]:
        response = client.post("/api/v1/service-requests", headers=headers,
                               json={"service_id": service.id, **body})
        assert response.status_code == 422, body
        assert response.mimetype == "application/problem+json"
    assert db.session.query(ServiceRequest).count() == 0


def test_suspended_organization_is_refused(client):
    service = create_service()
    user = create_user(organization=create_organization(status=OrganizationStatus.SUSPENDED))
    response = client.post("/api/v1/service-requests", headers=bearer(user), json={
        "service_id": service.id, "samples": 1, "sample_description": "x"})
    assert response.status_code == 409


def test_ui_quote_then_submit_and_manager_queue(client, login_as):
    lab = create_lab()
    service = create_service(lab=lab, price_external=Decimal("33.33"),
                             express_surcharge_percent=30)
    researcher = create_user()
    login_as(researcher)
    assert f"/services/{service.id}/request" in client.get(f"/services/{service.id}").text
    form = {"samples": "3", "sample_description": "powder", "express": "y", "notes": ""}
    page = client.post(f"/services/{service.id}/request", data={**form, "action": "quote"})
    assert page.status_code == 200 and "129.99" in page.text
    assert db.session.query(ServiceRequest).count() == 0
    bad = client.post(f"/services/{service.id}/request", data={**form, "samples": "0",
                                                                "action": "submit"})
    assert bad.status_code == 200 and "is-invalid" in bad.text  # explained on the page
    done = client.post(f"/services/{service.id}/request", data={**form, "action": "submit"})
    assert done.status_code == 302
    item = db.session.query(ServiceRequest).one()
    assert client.get("/service-requests").status_code == 200
    assert client.get(f"/service-requests/{item.id}").status_code == 200
    manager = create_manager(lab)
    login_as(manager)
    assert client.get("/manage/service-requests").status_code == 200
    assert client.post(f"/manage/service-requests/{item.id}/accept",
                       data={"due_date": ""}).status_code == 303
    db.session.rollback()
    assert db.session.get(ServiceRequest, item.id).state.value == "accepted"


def _submitted(researcher, service):
    from labbook.core.time import utcnow

    item = services.submit(db.session, researcher, service, samples=2,
                           sample_description="x", express=False, now=utcnow())
    db.session.commit()
    return item


def test_state_machine_and_who_may_do_what(client):
    lab = create_lab()
    service = create_service(lab=lab)
    researcher = create_user()
    manager = create_manager(lab)
    rid = _submitted(researcher, service).id
    mh, rh = bearer(manager), bearer(researcher)
    url = f"/api/v1/service-requests/{rid}"
    assert client.post(f"{url}/start", headers=mh).status_code == 409
    assert client.post(f"{url}/complete", headers=mh).status_code == 409
    assert client.post(f"{url}/reject", headers=mh, json={}).status_code == 422
    assert client.post(f"{url}/accept", headers=mh,
                       json={"due_date": "2000-01-03"}).status_code == 422
    assert client.post(f"{url}/accept", headers=mh,
                       json={"due_date": "2099-01-05"}).json["due_date"] == "2099-01-05"
    assert client.post(f"{url}/start", headers=mh).status_code == 200
    assert client.post(f"{url}/cancel", headers=rh).status_code == 409
    rid2 = _submitted(researcher, service).id
    response = client.post(f"/api/v1/service-requests/{rid2}/cancel", headers=rh)
    assert response.status_code == 200 and response.json["state"] == "cancelled"
    rid3 = _submitted(researcher, service).id
    response = client.post(f"/api/v1/service-requests/{rid3}/reject", headers=mh,
                           json={"note": "no capacity"})
    assert response.json["state"] == "rejected"
    listed = client.get(f"/api/v1/service-requests?lab={lab.code}&state=rejected", headers=mh)
    assert [i["id"] for i in listed.json["items"]] == [rid3]


def test_billing_contact_sees_but_colleague_does_not(client):
    service = create_service()
    researcher = create_user()
    contact = create_user(organization=researcher.organization)
    colleague = create_user(organization=researcher.organization)
    researcher.organization.billing_contact = contact
    db.session.commit()
    rid = _submitted(researcher, service).id
    assert client.get(f"/api/v1/service-requests/{rid}",
                      headers=bearer(contact)).status_code == 200
    assert client.get(f"/api/v1/service-requests/{rid}",
                      headers=bearer(colleague)).status_code == 404


def test_ui_complete_with_pdf_and_download(client, login_as):
    from labbook.core.time import utcnow

    lab = create_lab()
    service = create_service(lab=lab)
    researcher = create_user()
    manager = create_manager(lab)
    item = _submitted(researcher, service)
    services.accept(db.session, manager, item, now=utcnow())
    services.start(db.session, manager, item, now=utcnow())
    db.session.commit()
    login_as(create_manager(create_lab()))
    assert client.get(f"/service-requests/{item.id}").status_code == 404
    login_as(manager)
    bad = client.post(f"/manage/service-requests/{item.id}/complete",
                      data={"report": (io.BytesIO(b"nope"), "r.pdf")},
                      content_type="multipart/form-data")
    assert bad.status_code == 303
    db.session.rollback()
    assert db.session.get(ServiceRequest, item.id).state.value == "in_progress"
    ok = client.post(f"/manage/service-requests/{item.id}/complete",
                     data={"report": (io.BytesIO(PDF), "报告.pdf")},
                     content_type="multipart/form-data")
    assert ok.status_code == 303
    login_as(researcher)
    page = client.get(f"/service-requests/{item.id}")
    assert f"/service-requests/{item.id}/report" in page.text
    download = client.get(f"/service-requests/{item.id}/report")
    assert download.status_code == 200 and download.data == PDF
    download.close()
    login_as(create_user())
    assert client.get(f"/service-requests/{item.id}/report").status_code == 404


def test_request_page_shows_the_history_with_who_and_due_date(client, login_as):
    from labbook.core.time import utcnow

    lab = create_lab()
    manager = create_manager(lab, name="王经理")
    researcher = create_user(name="陈研究员")
    item = _submitted(researcher, create_service(lab=lab))
    services.accept(db.session, manager, item, now=utcnow(), due_date=dt.date(2031, 5, 6),
                    note="样品已收到")
    db.session.commit()

    page = login_as(researcher).get(f"/service-requests/{item.id}").get_data(as_text=True)
    history = page.split("<ol class=\"list-unstyled small\">", 1)[1].split("</ol>", 1)[0]
    assert "陈研究员" in history and "王经理" in history
    assert "2031-05-06" in history and "样品已收到" in history
    # States are named, never shown as their stored codes.
    assert "已提交" in history and "submitted" not in history and "accepted" not in history
