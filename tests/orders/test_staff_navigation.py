"""Lab staff who work on testing orders without managing the lab find their way to the lab's
testing queue: from the navigation and from their own (often empty) list of orders."""

import re

from labbook.extensions import db

MAIN_NAV = re.compile(r'<div class="collapse navbar-collapse" id="main-nav">(.*?)</ul>', re.S)


def main_nav(html: str) -> str:
    found = MAIN_NAV.search(html)
    assert found is not None
    return found.group(1)


def test_an_analyst_reaches_the_testing_queue_from_the_navigation(client, scene, login_as):
    browser = login_as(scene.analyst)
    nav = main_nav(browser.get("/").get_data(as_text=True))
    assert 'href="/lab/orders">检测工作台</a>' in nav
    queue = browser.get("/lab/orders")
    assert queue.status_code == 200
    assert "检测工作台" in queue.get_data(as_text=True)
    assert 'aria-current="page" href="/lab/orders"' in main_nav(queue.get_data(as_text=True))

    scene.analyst.locale = "en"
    db.session.commit()
    assert 'href="/lab/orders">Testing queue</a>' in main_nav(browser.get("/").get_data(
        as_text=True))


def test_a_signatory_is_pointed_from_their_orders_to_the_queue(client, scene, login_as):
    browser = login_as(scene.signatory)
    mine = browser.get("/orders").get_data(as_text=True)
    assert "您所在实验室承接的检测委托在检测工作台中办理。" in mine
    assert '<a href="/lab/orders">检测工作台</a>' in mine
    scene.signatory.locale = "en"
    db.session.commit()
    english = browser.get("/orders").get_data(as_text=True)
    assert "The orders your lab works on are in its testing queue." in english


def test_a_researcher_has_no_testing_queue(client, scene, login_as):
    browser = login_as(scene.customer)
    for locale in ("zh_CN", "en"):
        scene.customer.locale = locale
        db.session.commit()
        home = browser.get("/").get_data(as_text=True)
        mine = browser.get("/orders").get_data(as_text=True)
        assert "/lab/orders" not in home and "/lab/orders" not in mine
    assert browser.get("/lab/orders").status_code == 404


def test_a_manager_keeps_the_queue_in_the_lab_management_row_only(client, scene, login_as):
    home = login_as(scene.manager).get("/").get_data(as_text=True)
    assert "/lab/orders" not in main_nav(home)
    assert home.count('href="/lab/orders"') == 1
