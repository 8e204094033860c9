"""The search on the pages: both kinds at once, prices in the lists, suggestions while typing."""

import re

from labbook.accounts.models import PriceTier
from tests.factories import create_instrument, create_organization, create_service, create_user


def page_text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_standard_searched_among_instruments_points_at_the_services(client, catalogue):
    page = page_text(client.get("/instruments", query_string={"q": "GB/T 228.1"}))
    assert "0 台仪器" in page or "没有与“GB/T 228.1”相符的仪器" in page
    assert "没有与“GB/T 228.1”相符的仪器，但有 2 项检测服务相符。" in page
    assert 'href="/services?q=GB/T+228.1"' in page or 'href="/services?q=GB%2FT+228.1"' in page


def test_an_instrument_searched_among_services_points_at_the_instruments(client, catalogue):
    client.post("/language", data={"locale": "en"})
    page = page_text(client.get("/services", query_string={"q": "岛津"}))
    assert "No testing service matches “岛津” — 7 instruments do." in page
    page = page_text(client.get("/instruments", query_string={"q": "TEM"}))
    assert "3 testing services also match “TEM”." in page


def test_the_home_page_searches_both_kinds(client, catalogue):
    home = page_text(client.get("/"))
    assert 'action="/search"' in home and 'data-suggest="/search/suggestions"' in home
    page = page_text(client.get("/search", query_string={"q": "液质"}))
    assert "超高效液相色谱-三重四极杆质谱联用仪" in page
    assert "LC-MS/MS" in page
    assert page.index("超高效液相色谱-三重四极杆质谱联用仪") < page.index("LC-MS/MS")


def test_the_search_page_without_a_query_and_with_bad_input(client, catalogue):
    assert client.get("/search").status_code == 200
    assert client.get("/search", query_string={"q": "x" * 5000}).status_code == 422
    assert client.get("/search", query_string={"q": "[(*'\x01"}).status_code == 200


def test_a_visitor_sees_the_lowest_price_a_member_their_own(client, login_as):
    instrument = create_instrument(name_en="Spectrometer")
    create_service(instruments=[instrument], name_en="Spectrum test")
    page = page_text(client.get("/instruments", query_string={"q": "spectrometer"}))
    assert "¥60.00/小时起" in page
    page = page_text(client.get("/services", query_string={"q": "spectrum"}))
    assert "每样 ¥60.00 起" in page

    member = login_as(create_user(organization=create_organization(tier=PriceTier.EXTERNAL)))
    page = page_text(member.get("/instruments", query_string={"q": "spectrometer"}))
    assert "¥100.00/小时" in page and "¥60.00" not in page
    page = page_text(member.get("/services", query_string={"q": "spectrum"}))
    assert "每样 ¥100.00" in page and "起" not in re.sub(r"<[^>]+>", "", page).split("每样")[1][:12]


def test_suggestions_are_the_best_eight_of_both_kinds_with_lab_and_price(client, catalogue):
    answer = client.get("/search/suggestions", query_string={"q": "电镜"}).json
    items = answer["items"]
    assert len(items) == 8
    assert items[0]["kind"] == "instrument" and items[0]["code"] == "MFG-034"
    assert {item["kind"] for item in items} == {"instrument", "service"}
    assert all(item["lab"] and "¥" in item["price"] for item in items)
    assert items[0]["url"].startswith("/instruments/")
    assert answer["message"] == "8 条建议，用上下方向键选择。"


def test_suggestions_for_a_standard_and_for_nothing(client, catalogue):
    items = client.get("/search/suggestions", query_string={"q": "gb5009.5"}).json["items"]
    assert [item["code"] for item in items] == ["FOOD-S001", "FOOD-S002", "FOOD-S003"]
    assert items[0]["url"].startswith("/services/")
    empty = client.get("/search/suggestions", query_string={"q": ""}).json
    assert empty["items"] == [] and empty["message"]
    assert client.get("/search/suggestions", query_string={"q": "\x00"}).status_code == 422


def test_suggestions_leave_out_retired_instruments_and_services_not_offered(client):
    create_instrument(name_en="Old Rheometer", status="retired")
    create_service(name_en="Old rheometry", is_active=False)
    kept = create_instrument(name_en="New Rheometer")
    items = client.get("/search/suggestions", query_string={"q": "rheometer"}).json["items"]
    assert [item["code"] for item in items] == [kept.code]


def test_the_search_boxes_work_without_javascript(client, catalogue):
    page = page_text(client.get("/instruments"))
    form = re.search(r'<form method="get" action="/instruments".*?</form>', page, re.S).group(0)
    assert 'name="q"' in form and 'type="submit"' in form
    assert "js/search-suggest.js" in page
