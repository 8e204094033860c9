"""The billing pages on a phone (390 px), in Chinese and in English: their tables scroll in
their own box and the page never scrolls sideways."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from labbook.billing import payments
from labbook.billing.models import Statement, StatementState
from labbook.core.time import utcnow
from labbook.extensions import db
from tests.e2e.pages import basics
from tests.factories import create_charge, create_statement, lab_time

ADMIN = "admin@jzit.example.cn"
RESEARCHER = "chen@xincai.example.cn"
NUMBER = "LB-2025-900031"


@pytest.fixture
def statement_to_pay(site) -> int:
    """An issued statement of the researcher's organization, still to pay; its organization."""
    researcher = site.user(RESEARCHER)
    if not db.session.scalar(select(Statement.id).where(Statement.number == NUMBER)):
        charge = create_charge(organization=researcher.organization,
                               lab=site.instrument("NEM-006").lab,
                               occurred_at=lab_time(dt.date(2025, 9, 8), 10))
        create_statement([charge], number=NUMBER, year=2025, sequence=900031,
                         state=StatementState.ISSUED, issued_at=utcnow(),
                         verification_code=payments.new_verification_code())
    return researcher.organization_id


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_organizations_billing_page_fits_a_phone(visit_in, language, statement_to_pay):
    visit = visit_in("phone", ADMIN, language)
    page = visit.goto(f"/billing/organizations/{statement_to_pay}")
    assert page.get_by_role("link", name=NUMBER).count() == 1
    overflow = basics(page)["overflow"]
    assert overflow <= 1, f"the page is {overflow}px wider than the screen"
    table = page.locator("section[aria-labelledby=open-title] .lb-table-scroll table")
    assert table.count() == 1, "the statements still to pay are not in a box of their own"
