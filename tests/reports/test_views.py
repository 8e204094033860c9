"""Report pages and exports: who may see what, what the pages show, and the files."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.factories import PASSWORD

PERIOD_ARGS = "from=2025-03-07&to=2025-03-10"
LAB_REPORTS = ["utilization", "attendance", "revenue", "organizations", "turnaround"]
#: The most detailed rows of each lab report.
FINEST = {"utilization": "instrument", "attendance": "instrument", "revenue": "instrument",
          "organizations": "revenue", "turnaround": "service"}
ROLES = ["anonymous", "researcher_p", "researcher_q", "manager_b", "manager_a", "admin"]


def open_as(client, login_as, world, role):
    return client if role == "anonymous" else login_as(getattr(world, role))


def urls(name):
    base = f"/reports/{name}"
    return [f"{base}?{PERIOD_ARGS}", f"{base}.csv?{PERIOD_ARGS}", f"{base}.xlsx?{PERIOD_ARGS}"]


# What each role gets from a lab report about lab A (lab=LA): the managers of other labs and
# researchers are refused, whatever the file format.
LAB_A_STATUS = {"researcher_p": 403, "researcher_q": 403, "manager_b": 403, "manager_a": 200,
                "admin": 200}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", LAB_REPORTS)
def test_lab_reports_permission_matrix(client, login_as, world, role, name):
    http = open_as(client, login_as, world, role)
    for url in urls(name):
        response = http.get(url + "&lab=LA")
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.location
        else:
            assert response.status_code == LAB_A_STATUS[role], url
        # Without a lab filter a manager sees their own labs; a researcher still nothing.
        unfiltered = http.get(url)
        assert unfiltered.status_code == {"anonymous": 302, "researcher_p": 403,
                                          "researcher_q": 403}.get(role, 200), url


@pytest.mark.parametrize("name", LAB_REPORTS)
def test_a_manager_of_another_lab_sees_none_of_lab_a(client, login_as, world, name):
    http = login_as(world.manager_b)
    for url in urls(name):
        response = http.get(url + "&by=" + FINEST[name])
        assert response.status_code == 200
        body = _xlsx_text(response.data).encode() if ".xlsx" in url else response.data
        # Lab A's instruments, and Q, who used only lab A, never appear; P also used lab B.
        assert b"LA-0" not in body and b"=QQ" not in body
    page = http.get(f"/reports/revenue?{PERIOD_ARGS}&by=lab").get_data(as_text=True)
    assert "¥120.00" in page and "¥1,100.00" not in page and "甲实验室" not in page


def _xlsx_text(data: bytes) -> str:
    sheet = load_workbook(io.BytesIO(data)).active
    return " ".join(str(cell.value) for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize("role", ROLES)
def test_usage_shows_only_the_own_organization(client, login_as, world, role):
    http = open_as(client, login_as, world, role)
    for url in urls("usage"):
        response = http.get(url + "&by=instrument")
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.location
            continue
        assert response.status_code == 200, url
        body = response.get_data()
        own = getattr(world, role).organization.name
        others = {world.org_p.name, world.org_q.name} - {own}
        assert all(other.encode() not in body for other in others)
    if role == "researcher_q":
        page = http.get(f"/reports/usage?{PERIOD_ARGS}&by=instrument").get_data(as_text=True)
        # Q's own: the no-show on A1 (2 h, ¥200), A2 5 h and its late cancellation (¥50),
        # A3 1 h (¥100) — never P's ¥300 or ¥480.
        assert "¥350.00" in page and "¥480.00" not in page and "¥300.00" not in page


def test_reports_index_leads_each_role_to_what_it_may_see(client, login_as, world):
    assert client.get("/reports").status_code == 302
    assert login_as(world.researcher_p).get("/reports").location.endswith("/reports/usage")
    assert login_as(world.manager_a).get("/reports").location.endswith("/reports/utilization")


@pytest.mark.parametrize(("role", "dashboard", "institute"), [
    ("researcher_p", 403, 403), ("manager_b", 200, 403), ("manager_a", 200, 403),
    ("admin", 200, 200)])
def test_dashboard_permissions(client, login_as, world, role, dashboard, institute):
    http = login_as(getattr(world, role))
    assert http.get("/dashboard").status_code == dashboard
    assert http.get("/dashboard/institute").status_code == institute


def test_dashboards_ask_anonymous_visitors_to_sign_in(client):
    for url in ["/dashboard", "/dashboard/institute"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize(("role", "landing"), [
    ("researcher_p", "/"), ("manager_a", "/dashboard"), ("admin", "/dashboard/institute")])
def test_signing_in_lands_on_the_role_s_home(client, world, role, landing):
    user = getattr(world, role)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.location == landing
    client.post("/logout")
    asked = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                        "next": "/reports"})
    assert asked.location == "/reports"  # a page that asked for sign-in still wins


def test_report_page_shows_table_chart_data_and_definition(client, login_as, world):
    page = login_as(world.manager_a).get(
        f"/reports/utilization?{PERIOD_ARGS}&by=instrument").get_data(as_text=True)
    assert "LA-001" in page and "21.7" in page and "39.1" in page
    assert "data-chart=" in page and "vendor/echarts/echarts.min.js" in page
    assert "<script>" not in page  # the CSP allows no inline script
    assert "/reports/utilization.csv?" in page and "by=instrument" in page


def test_organizations_page_shows_both_rankings(client, login_as, world):
    page = login_as(world.admin).get(f"/reports/organizations?{PERIOD_ARGS}&lab=LA")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.count("¥750.00") == 2  # P's revenue in both tables
    assert "by=revenue" in text and "by=hours" in text


@pytest.mark.parametrize(("query", "status"), [
    ("from=2025-03-10&to=2025-03-07", 422), ("from=nonsense", 422), ("by=weekday", 422),
    ("lab=NOPE", 404)])
def test_bad_filters_are_explained(client, login_as, world, query, status):
    assert login_as(world.admin).get(f"/reports/utilization?{query}").status_code == status
    assert login_as(world.admin).get(f"/reports/utilization.csv?{query}").status_code == status


def test_csv_export_has_a_bom_plain_numbers_and_escaped_text(client, login_as, world):
    response = login_as(world.admin).get(
        f"/reports/organizations.csv?{PERIOD_ARGS}&lab=LA&by=hours")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # charset once
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    table = lines[lines.index([]) + 1:]
    # Q's name starts with "=", so a spreadsheet must not take it for a formula.
    assert table[1][0] == "'=QQ科技"
    assert table[2][0] == "鹏程新材料有限公司"
    assert table[2][-2:] == ["-30.00", "750.00"]  # a credit stays a number


def test_xlsx_export_holds_numbers_as_numbers_and_text_as_text(client, login_as, world):
    response = login_as(world.admin).get(f"/reports/revenue.xlsx?{PERIOD_ARGS}&lab=LA&by=tier")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    # The heading (report, rows, period, labs), an empty row, then the column headings.
    header = next(i for i, row in enumerate(values) if not any(row)) + 1
    partner = values[header + 2]
    assert [Decimal(str(v)) for v in partner[1:]] == [Decimal("300"), Decimal("480"),
                                                      Decimal("-30"), Decimal("750")]
    assert all(isinstance(v, int | float) for v in partner[1:])
    assert sheet.cell(row=header + 5, column=5).value == 1100  # the total row
    formulas = [cell for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == []


def test_xlsx_keeps_formula_like_names_as_text(client, login_as, world):
    response = login_as(world.admin).get(
        f"/reports/organizations.xlsx?{PERIOD_ARGS}&lab=LA&by=hours")
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == "=QQ科技"]
    assert len(cells) == 1 and cells[0].data_type == "s"
