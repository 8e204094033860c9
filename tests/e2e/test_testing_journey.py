"""A researcher requests a testing service and sees the quoted price; the lab's manager accepts
the request, starts the testing and completes it with a report, which the researcher can open.
On a desktop and on a phone-sized screen."""

from __future__ import annotations

import re

from labbook.extensions import db
from labbook.holidays.services import add_working_days
from labbook.testing.models import ServiceRequest, ServiceRequestState
from tests.e2e.pages import submit

RESEARCHER = "chen@xincai.example.cn"  # a partner-tier enterprise
MANAGER = "nem.manager@jzit.example.cn"
SERVICE = "NEM-S004"  # 磷酸铁锂正极材料物相分析（XRD）: ¥280 a sample for partners, express +50 %
#: What each run asks for, and the quote it must show.
ORDERS = {"desktop": (3, True, "¥1,260.00"), "phone": (2, False, "¥560.00")}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_researcher_requests_a_test_and_the_lab_completes_it(open_visit, viewport, site,
                                                             today):
    service = site.service(SERVICE)
    samples, express, total = ORDERS[viewport]
    researcher = open_visit(viewport, RESEARCHER)
    page = researcher.page

    # Find the service in the catalogue.
    researcher.goto("/services")
    page.fill("#q", "磷酸铁锂")
    submit(page, "form[role=search] [type=submit]")
    researcher.shot("service-search")
    submit(page, f"a[href='/services/{service.id}']")
    assert page.locator("h1").inner_text() == service.name_zh
    researcher.shot("service")

    # Ask for the price first, then submit the request.
    page.fill("#samples", str(samples))
    page.fill("#sample_description", "磷酸铁锂正极粉末，密封袋装，每袋约 1.5 g")
    if express:
        page.check("#express")
    submit(page, "button[name=action][value=quote]")
    assert page.locator("#quote-total").inner_text() == total
    assert page.input_value("#samples") == str(samples)  # what was typed stays
    researcher.shot("quote")
    # A changed number of samples: the old price is not left standing next to it.
    page.fill("#samples", str(samples + 1))
    assert page.locator("#quote-total").is_hidden()
    page.fill("#samples", str(samples))
    submit(page, "button[name=action][value=submit]")
    page.wait_for_url(re.compile(r"/service-requests/\d+$"))
    request_id = int(page.url.rsplit("/", 1)[1])
    assert total in page.inner_text("main")
    researcher.shot("requested")

    # The lab's manager accepts it with a due date, starts and completes it.
    manager = open_visit(viewport, MANAGER)
    mpage = manager.page
    manager.goto("/manage/service-requests")
    card = mpage.locator(f"article:has(#request-{request_id}-title)")
    assert total in card.inner_text()
    due_field = card.locator(f"#due-{request_id}")
    assert due_field.get_attribute("min") == today.isoformat()  # lab time, not the browser's
    due = add_working_days(db.session, service.lab_id, today, 10)
    due_field.fill(due.isoformat())
    manager.shot("test-queue")
    with mpage.expect_navigation():
        card.locator("button[type=submit].btn-success").click()
    card = mpage.locator(f"article:has(#request-{request_id}-title)")
    assert due.isoformat() in card.inner_text()
    with mpage.expect_navigation():
        card.locator(f"form[action$='/{request_id}/start'] [type=submit]").click()
    card = mpage.locator(f"article:has(#request-{request_id}-title)")
    card.locator(f"#report-{request_id}").set_input_files(files=[{
        "name": "检测报告.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    manager.shot("test-in-progress")
    with mpage.expect_navigation():
        card.locator(f"form[action$='/{request_id}/complete'] [type=submit]").click()
    assert mpage.locator(".alert-success").count() >= 1
    manager.shot("test-completed")

    db.session.rollback()
    item = db.session.get(ServiceRequest, request_id)
    assert item.state == ServiceRequestState.COMPLETED
    assert item.due_date == due and item.report_filename

    # The researcher sees it completed and opens the report.
    researcher.goto("/service-requests")
    row = page.locator(f"tr:has(a[href$='/service-requests/{request_id}'])")
    assert total in row.inner_text()
    assert row.locator(".badge.bg-success").count() == 1
    researcher.shot("my-requests")
    researcher.goto(f"/service-requests/{request_id}")
    report = page.request.get(researcher.url(f"/service-requests/{request_id}/report"))
    assert report.ok and report.body() == PDF
    researcher.shot("request-completed")
