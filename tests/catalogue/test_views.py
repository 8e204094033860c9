import re

from labbook.accounts.models import PriceTier
from tests.factories import create_instrument, create_organization, create_service, create_user


def page_text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_home_shows_the_three_labs_with_their_counts(client, catalogue):
    page = page_text(client.get("/"))
    for name in ("新能源材料开放共享实验室", "绿色食品开放共享实验室", "装备制造开放共享实验室"):
        assert name in page
    counts = [int(n) for n in re.findall(r'class="display-6">(\d+)<', page)]
    assert sum(counts) == 163 + 277


def test_searching_the_instrument_list(client, catalogue):
    page = page_text(client.get("/instruments", query_string={"q": "扫描电镜"}))
    assert "扫描电子显微镜" in page
    assert "X射线衍射仪" not in page

    page = page_text(client.get("/instruments", query_string={"q": "XRD"}))
    assert "衍射" in page


def test_searching_services_by_standard(client, catalogue):
    page = page_text(client.get("/services", query_string={"q": "GB/T 228.1"}))
    assert "GB/T 228.1" in page
    assert "拉伸" in page


def test_english_shows_english_names_throughout(client, catalogue):
    client.post("/language", data={"locale": "en"})
    page = page_text(client.get("/instruments", query_string={"q": "XRD"}))
    assert "X-ray" in page or "Diffract" in page
    assert "衍射仪" not in page
    home = page_text(client.get("/"))
    assert "New-Energy Materials" in home and "新能源材料开放共享实验室" not in home


def test_instrument_page_shows_specs_and_all_rates_to_visitors(client):
    instrument = create_instrument(specs_zh="角度重现性±0.0001°", room="A301")
    page = page_text(client.get(f"/instruments/{instrument.id}"))
    assert "角度重现性±0.0001°" in page and "A301" in page
    for rate in ("¥60.00", "¥80.00", "¥100.00"):
        assert rate in page


def test_instrument_page_shows_a_signed_in_user_only_their_tier(login_as):
    instrument = create_instrument()
    client = login_as(create_user(organization=create_organization(tier=PriceTier.PARTNER)))
    page = page_text(client.get(f"/instruments/{instrument.id}"))
    assert "¥80.00" in page
    assert "¥100.00" not in page and "¥60.00" not in page


def test_service_page(client):
    instrument = create_instrument(name_zh="电子万能试验机")
    service = create_service(instruments=[instrument], standard="GB/T 228.1",
                             name_zh="金属材料室温拉伸试验", turnaround_days=5)
    page = page_text(client.get(f"/services/{service.id}"))
    assert "金属材料室温拉伸试验" in page and "GB/T 228.1" in page
    assert "电子万能试验机" in page and "5 个工作日" in page


def test_filters_and_pagination_in_the_ui(client, catalogue):
    page = page_text(client.get("/instruments", query_string={"lab": "MFG"}))
    assert "MFG-" in page and "NEM-" not in page
    assert 'aria-label="分页"' in page
    second = page_text(client.get("/instruments", query_string={"lab": "MFG", "page": 2}))
    assert "MFG-" in second


def test_unknown_pages_and_bad_filters_get_a_clear_page(client):
    assert client.get("/instruments/424242").status_code == 404
    response = client.get("/instruments", query_string={"status": "broken"})
    assert response.status_code == 422
    assert "未知状态" in response.get_data(as_text=True)
