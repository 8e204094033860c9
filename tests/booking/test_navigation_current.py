"""The main navigation and the lab-management navigation mark the page shown with
aria-current="page", and only that link is drawn as the active one."""

import re

import pytest

from tests.factories import create_instrument, create_manager, create_user


def current_links(page: str) -> list[str]:
    """The text of each navigation link that says it is the current page."""
    links = re.findall(r'<a ([^>]*)>([^<]*)</a>', page)
    current = [text for attributes, text in links if 'aria-current="page"' in attributes
               and "nav-link" in attributes]
    active = [text for attributes, text in links if re.search(r'class="nav-link[^"]* active"',
                                                               attributes)]
    assert current == active  # the active style follows aria-current
    return current


@pytest.mark.parametrize(("locale", "words"), [("en", ["My bookings"]),
                                               ("zh_CN", ["我的预约"])])
def test_the_top_navigation_marks_the_current_page(login_as, locale, words):
    client = login_as(create_user(locale=locale))
    assert current_links(client.get("/bookings").get_data(as_text=True)) == words
    assert current_links(client.get("/profile").get_data(as_text=True)) == []


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_lab_management_navigation_marks_the_current_page(login_as, locale):
    manager = create_manager(create_instrument().lab, locale=locale)
    page = login_as(manager).get("/manage/approvals").get_data(as_text=True)
    [current] = current_links(page)
    assert re.search(rf'href="/manage/approvals"[^>]*>{re.escape(current)}</a>', page)
