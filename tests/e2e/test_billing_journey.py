"""An admin closes last month, opens a statement, prints it and downloads it as CSV.

The demo data holds last month's use (completed bookings, a no-show, a late cancellation,
completed tests), charged as the real flows charge it: closing that month builds one draft
statement per organization.
"""

from __future__ import annotations

import csv
import io
import re

from labbook.billing.services import previous_period
from labbook.core.time import utcnow
from tests.e2e.pages import submit

ADMIN = "admin@jzit.example.cn"
ORGANIZATION = "焦作新材储能科技有限公司"  # chen's enterprise, with bookings in NEM last month


def test_admin_closes_the_month_and_prints_a_statement(open_visit, site):
    period = previous_period(utcnow())
    admin = open_visit("desktop", ADMIN)
    page = admin.page
    admin.goto("/statements")
    admin.shot("statements-before")

    # Close last month (the form asks for confirmation first).
    assert page.input_value("#close-period") == period
    page.once("dialog", lambda dialog: dialog.accept())
    submit(page, "form[action$='/statements/close'] [type=submit]")
    assert page.locator(".alert-success").count() == 1
    rows = page.locator("table tbody tr")
    assert rows.count() >= 3  # one draft per organization that used the labs
    admin.shot("month-closed")

    # Open the statement of one enterprise.
    row = page.locator(f"tr:has-text('{ORGANIZATION}')")
    number = row.locator("a").inner_text()
    assert re.fullmatch(r"LB-\d{4}-\d{6}", number)
    submit(page, f"tr:has-text('{ORGANIZATION}') a")
    assert number in page.locator("h1").inner_text()
    total = page.locator(".statement-lines .grand-total td").last.inner_text()
    assert total.startswith("¥")
    admin.shot("statement")

    # The print view: only the statement, on A4.
    page.emulate_media(media="print")
    assert all(bar.is_hidden() for bar in page.locator("nav.navbar").all())  # top, lab menu
    assert page.locator("footer").is_hidden()
    assert page.locator("a[href$='.csv']").is_hidden()
    assert page.locator(".statement-lines").is_visible()
    admin.shot("statement-print", check=False)
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF-")
    page.emulate_media(media="screen")

    # The CSV download: the statement's lines and total.
    with page.expect_download() as download:
        page.locator("a[href$='.csv']").click()
    assert download.value.suggested_filename.endswith(".csv")
    text = download.value.path().read_text(encoding="utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert number in text and ORGANIZATION in text
    assert total.lstrip("¥").replace(",", "") in cells
    with page.expect_download() as download:
        page.locator("a[href$='.xlsx']").click()
    assert download.value.path().read_bytes().startswith(b"PK")  # an Office Open XML file

    # The same pages on a phone.
    phone = open_visit("phone", ADMIN)
    phone.goto(f"/statements?period={period}")
    phone.shot("statements")
    phone.goto(admin.path())
    phone.shot("statement")
