"""A researcher's list of testing orders costs the same few statements however many orders,
lines, labs and services it shows."""

from __future__ import annotations

from labbook.extensions import db
from tests.calendars.conftest import count_statements
from tests.factories import create_lab, create_service, create_user
from tests.orders.factories import create_order


def statements_for_the_list(browser) -> int:
    db.session.expunge_all()  # nothing the page reads may come from the test's own session
    with count_statements() as statements:
        response = browser.get("/orders")
    assert response.status_code == 200
    return len(statements)


def test_my_orders_load_their_lines_and_reports_with_the_list(login_as):
    customer = create_user()
    numbers = [create_order(create_service(lab=create_lab()), customer).order.number]
    browser = login_as(customer)
    one_order = statements_for_the_list(browser)
    services = [create_service(lab=create_lab()) for _lab in range(3)]
    numbers += [create_order(service, customer, samples=2).order.number
                for service in services * 2]
    many_orders = statements_for_the_list(browser)
    page = browser.get("/orders").get_data(as_text=True)
    assert all(number in page for number in numbers)
    assert many_orders == one_order
