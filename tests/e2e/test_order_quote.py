"""Money before commitment on a testing order: the quote follows the samples and express as
they are typed, in both languages and on both screens, and the order is placed at the total
shown; without JavaScript "Show price and terms" does the same."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from labbook.billing.pricing import quote
from labbook.core.money import format_money
from labbook.extensions import db
from tests.e2e.pages import submit, unfold_menu
from tests.e2e.test_languages import switch_language as switch_on_screen

CUSTOMER = "liu@jinggong.example.cn"  # external tier
SERVICE = "FOOD-S002"  # 50 % express surcharge
SAMPLES = "鸡肉丸 | B1 | 500 g | 1 袋\n牛肉干 | B2 | 200 g | 1 袋"


@pytest.fixture(autouse=True)
def customer_reads_chinese(site) -> None:
    """The switch saves the customer's language, and tests of other files sign in as this
    customer too and leave it in English: each test here starts from Chinese."""
    db.session.rollback()
    site.user(CUSTOMER).locale = "zh_CN"
    db.session.commit()


def switch_language(page) -> None:
    """The 中文/English switch, in the collapsed menu on a phone."""
    unfold_menu(page)
    switch_on_screen(page)


EMPTY = {"zh_CN": "填写服务代码和样品后，这里即显示价格。",
         "en": "The price shows here as soon as a line has a service code and its samples."}


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_the_quote_follows_samples_and_express_and_binds_the_order(open_visit, site, viewport,
                                                                   language):
    customer = site.user(CUSTOMER)
    service = site.service(SERVICE)
    plain, express = (quote(service, customer.organization.tier, 2, fast)
                      for fast in (False, True))
    visit = open_visit(viewport, CUSTOMER)
    page = visit.page
    visit.goto(f"/orders/new?service_id={service.id}")
    try:
        if language == "en":
            switch_language(page)
        total = page.locator("#order-quote [data-quote-total]")
        expect(page.locator("#order-quote")).to_contain_text(EMPTY[language])
        page.fill("#samples_0", SAMPLES.split("\n")[0])
        expect(total).to_have_text(format_money(plain.unit_price))
        page.fill("#samples_0", SAMPLES)
        expect(total).to_have_text(format_money(plain.total))
        page.check("#express_0")
        expect(total).to_have_text(format_money(express.total))
        expect(page.locator("input[name=shown_total]")).to_have_value(str(express.total))
        expect(page.locator("#order-quote-status")).to_contain_text(format_money(express.total))
        expect(page.locator("#order-quote")).to_contain_text(
            format_money(express.express_surcharge))
        visit.shot("live-quote")
        page.check("#terms_confirmed")
        submit(page, "button[value=submit]")
        assert page.url.rsplit("/", 1)[-1].isdigit(), page.url
        expect(page.locator("main")).to_contain_text(format_money(express.total))
    finally:
        if language == "en":  # the choice is the account's: back to Chinese for other tests
            switch_language(page)


def test_without_javascript_the_quote_is_recalculated_by_the_button(open_visit, site):
    service = site.service(SERVICE)
    price = quote(service, site.user(CUSTOMER).organization.tier, 2, False)
    visit = open_visit("phone", CUSTOMER, javascript=False)
    page = visit.page
    visit.goto(f"/orders/new?service_id={service.id}")
    page.fill("#samples_0", SAMPLES)
    submit(page, "button[value=quote]")
    expect(page.locator("#order-quote [data-quote-total]")).to_have_text(
        format_money(price.total))
    assert page.input_value("#samples_0") == SAMPLES
    visit.shot("recalculated")


def test_a_refused_order_keeps_everything_through_the_language_switch_and_back(open_visit,
                                                                               site):
    """Submitted without confirming the terms: the order page comes back after a redirect with
    the samples, express and notes; the language switch keeps them, the refusal now in English,
    and Back shows a page, never "Confirm Form Resubmission" or ERR_CACHE_MISS."""
    service = site.service(SERVICE)
    visit = open_visit("desktop", CUSTOMER)
    page = visit.page
    visit.goto(f"/orders/new?service_id={service.id}")
    refusal = page.locator("main .alert-danger")
    switched = False
    try:
        page.fill("#samples_0", SAMPLES)
        page.check("#express_0")
        page.fill("#notes", "请尽快出报告")
        expect(page.locator("#order-quote [data-quote-total]")).to_be_visible()
        submit(page, "button[value=submit]")
        assert page.url.endswith("/orders/new"), page.url
        expect(refusal).to_contain_text("请确认实验室的委托协议条款后再提交")
        switch_language(page)
        switched = True
        assert page.url.endswith("/orders/new"), page.url
        expect(refusal).to_contain_text("Confirm the lab's terms to submit the order.")
        assert page.input_value("#samples_0") == SAMPLES and page.is_checked("#express_0")
        assert page.input_value("#notes") == "请尽快出报告"
        answer = page.go_back()
        assert answer is None or answer.ok
        expect(page.locator("#samples_0")).to_have_value(SAMPLES)
    finally:
        if switched:  # the choice is the account's: back to Chinese for other tests
            page.goto(site.url + "/orders")
            switch_language(page)
