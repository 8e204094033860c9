"""The reports' sums over a period are planned by PostgreSQL for their own values every time
they run, never prepared (``core.engine.PLANNED_EACH_TIME``): a plan made once for any values
compares every row with each value of the scope's ``IN`` list in turn, several times slower
than a plan made for the values."""

from __future__ import annotations

import pytest
from sqlalchemy import literal_column, select, text

from labbook.core.engine import PLANNED_EACH_TIME
from labbook.extensions import db
from tests.postgresql import skip_unless_postgresql
from tests.reports.test_views import LAB_REPORTS, PERIOD_ARGS
from tests.statements import Sums

PAGES = [f"/reports/{name}?{PERIOD_ARGS}&by={by}" for name, choices in {
    "utilization": ("lab", "category", "instrument", "organization", "month"),
    "attendance": ("instrument", "organization"),
    "revenue": ("category", "organization", "tier"),
    "organizations": ("revenue",),
    "turnaround": ("service", "month"),
}.items() for by in choices]


def test_the_pages_cover_every_lab_report():
    assert {page.split("?")[0].removeprefix("/reports/") for page in PAGES} == set(LAB_REPORTS)


@pytest.mark.parametrize("page", PAGES)
def test_every_sum_of_a_lab_report_is_planned_each_time(client, login_as, world, page):
    login_as(world.admin)
    with Sums() as sums:
        assert client.get(page).status_code == 200
    assert sums
    assert [statement for statement, planned in sums if not planned] == []


def test_a_statement_planned_each_time_is_never_prepared_on_postgresql():
    skip_unless_postgresql("psycopg's prepared statements")
    marked = select(literal_column("'planned each time'")).execution_options(
        **PLANNED_EACH_TIME)
    plain = select(literal_column("'prepared'"))
    with db.engine.connect() as connection:
        for _ in range(8):
            assert connection.execute(marked).scalar() == "planned each time"
            connection.execute(plain)
        prepared = " ".join(connection.scalars(text(
            "SELECT statement FROM pg_prepared_statements")))
    assert "'prepared'" in prepared
    assert "planned each time" not in prepared
