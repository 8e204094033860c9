"""What the walk through every admin and finance page found: the month-close form offers only
months left to close, and the invoices' export looks like the other export buttons."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from labbook.billing import services
from labbook.core.engine import write_transaction
from labbook.core.time import to_lab_time
from labbook.extensions import db
from tests.factories import create_admin, lab_time

NOW = lab_time(dt.date(2026, 12, 5), 10)


def close(period: str) -> None:
    with write_transaction(db.session):
        services.close_month(db.session, None, period, now=NOW)


def offered(page: str) -> list[str]:
    select = page.split('id="close-period"', 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option[^>]*value="([^"]+)"', select)


def test_every_ended_month_is_closable_until_one_is_closed(app):
    periods = services.closable_periods(db.session, now=NOW)
    assert periods[:3] == ["2026-11", "2026-10", "2026-09"]
    assert len(periods) == services.CLOSABLE_MONTHS and "2026-12" not in periods


def test_months_closed_and_those_before_them_are_not_offered(app):
    close("2026-09")
    assert services.closable_periods(db.session, now=NOW) == ["2026-11", "2026-10"]
    close("2026-11")
    assert services.closable_periods(db.session, now=NOW) == []


def test_the_form_offers_only_months_left_to_close(login_as):
    now = dt.datetime.now(dt.UTC)
    last_month = services.previous_period(now)
    month_before = services.previous_period(services.period_bounds(last_month)[0])
    with write_transaction(db.session):
        services.close_month(db.session, None, month_before, now=now)
    page = login_as(create_admin(locale="en")).get("/statements").get_data(as_text=True)
    assert offered(page) == [last_month]
    assert f'<option selected value="{last_month}">' in page


@pytest.mark.parametrize(("locale", "says"), [
    ("zh_CN", "已结束的月份均已月结：{period} 自 {date} 起可以月结。"),
    ("en", "Every month that has ended is closed: {period} can be closed from {date} on."),
])
def test_when_every_ended_month_is_closed_the_page_says_so(login_as, locale, says):
    now = dt.datetime.now(dt.UTC)
    with write_transaction(db.session):
        services.close_month(db.session, None, services.previous_period(now), now=now)
    page = html.unescape(login_as(create_admin(locale=locale)).get("/statements")
                         .get_data(as_text=True))
    this_month = to_lab_time(now).strftime("%Y-%m")
    opens = to_lab_time(services.period_bounds(this_month)[1]).date().isoformat()
    assert says.format(period=this_month, date=opens) in page
    assert 'id="close-period"' not in page and "/statements/close" not in page


def test_the_invoices_export_is_a_small_button_outside_the_filter(login_as):
    page = login_as(create_admin(locale="en")).get("/billing/invoices").get_data(as_text=True)
    form = page.split('role="search"', 1)[1].split("</form>", 1)[0]
    assert "invoices.xlsx" not in form
    assert re.search(r'<a class="btn btn-outline-secondary btn-sm" href="[^"]*invoices\.xlsx',
                     page)
