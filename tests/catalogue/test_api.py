from decimal import Decimal

import pytest


def all_items(client, path, **params):
    items, page = [], 1
    while True:
        body = client.get(path, query_string={**params, "page": page, "per_page": 200}).json
        items += body["items"]
        if len(items) >= body["total"]:
            return items, body["total"]
        page += 1


def test_catalogue_figures_through_the_api(client, catalogue):
    labs = client.get("/api/v1/labs").json
    assert labs["total"] == 3
    assert {lab["code"] for lab in labs["items"]} == {"NEM", "FOOD", "MFG"}
    assert all(lab["timezone"] == "Asia/Shanghai" for lab in labs["items"])
    assert labs["items"][0]["opening_hours"]["mon"]

    instruments, total = all_items(client, "/api/v1/instruments")
    assert total == len(instruments) == 163
    value = sum(Decimal(item["value_cny"]) for item in instruments)
    assert Decimal("124500000") <= value <= Decimal("125500000")

    _, services_total = all_items(client, "/api/v1/services")
    assert services_total == 277


def test_instrument_items_carry_the_documented_fields(client, catalogue):
    item = client.get("/api/v1/instruments", query_string={"per_page": 1}).json["items"][0]
    assert set(item) == {"id", "code", "lab", "name", "name_en", "category", "model",
                         "manufacturer", "value_cny", "status", "channels"}
    assert isinstance(item["value_cny"], str) and "." in item["value_cny"]


def test_searching_xrd_finds_the_diffractometers(client, catalogue):
    items, total = all_items(client, "/api/v1/instruments", q="XRD")
    assert total >= 2
    assert {item["category"] for item in items} == {"xrd"}
    assert sum("衍射" in item["name"] for item in items) >= 2


def test_searching_the_informal_chinese_name(client, catalogue):
    items, _total = all_items(client, "/api/v1/instruments", q="扫描电镜")
    microscopes = [item for item in items if "扫描电子显微镜" in item["name"]]
    assert len(microscopes) == 4
    assert items[:4] == microscopes  # instruments that only mention one come after


def test_searching_a_manufacturer(client, catalogue):
    items, total = all_items(client, "/api/v1/instruments", q="bruker")
    assert total >= 1
    assert all(item["manufacturer"].lower().startswith("bruker") for item in items)


def test_service_search_by_standard(client, catalogue):
    items, total = all_items(client, "/api/v1/services", q="GB/T 228.1")
    assert total >= 1
    detail = client.get(f"/api/v1/services/{items[0]['id']}").json
    assert "228.1" in detail["standard"]
    assert detail["instruments"]
    assert items[0]["instruments"] == detail["instruments"]  # the list names them too
    assert detail["sample_requirements"]


def test_filters_combine(client, catalogue):
    items, total = all_items(client, "/api/v1/instruments", lab="FOOD", status="available")
    assert total > 0
    assert {item["lab"] for item in items} == {"FOOD"}
    assert {item["status"] for item in items} == {"available"}
    category = items[0]["category"]
    narrowed, _ = all_items(client, "/api/v1/instruments", lab="FOOD", category=category)
    assert {item["category"] for item in narrowed} == {category}


def test_pagination(client, catalogue):
    first = client.get("/api/v1/instruments", query_string={"per_page": 10}).json
    second = client.get("/api/v1/instruments", query_string={"per_page": 10, "page": 2}).json
    assert (first["total"], first["page"], len(first["items"])) == (163, 1, 10)
    assert second["page"] == 2
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
    beyond = client.get("/api/v1/instruments", query_string={"page": 99}).json
    assert beyond["items"] == [] and beyond["total"] == 163


def test_instrument_detail(client, catalogue):
    item = client.get("/api/v1/instruments", query_string={"q": "XRD"}).json["items"][0]
    detail = client.get(f"/api/v1/instruments/{item['id']}").json
    assert detail["code"] == item["code"]
    assert detail["specs"] and detail["functions"] and detail["room"]
    assert {card["tier"] for card in detail["rate_cards"]} == {"internal", "partner", "external"}


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/instruments", {"page": "0"}, "page"),
    ("/api/v1/instruments", {"per_page": "100000"}, "per_page"),
    ("/api/v1/instruments", {"page": "abc"}, "page"),
    ("/api/v1/instruments", {"status": "broken"}, "status"),
    ("/api/v1/services", {"q": "x" * 201}, "q"),
])
def test_bad_parameters_are_a_422_problem(client, path, params, field):
    response = client.get(path, query_string=params)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "invalid_parameter"
    assert response.json["problems"][0]["field"] == field


@pytest.mark.parametrize("path", ["/api/v1/instruments/999999", "/api/v1/services/999999",
                                  "/api/v1/no-such-thing"])
def test_unknown_things_are_a_404_problem(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == 404 and response.json["code"]


def test_wrong_method_is_a_405_problem(client):
    response = client.delete("/api/v1/labs")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"


def test_a_405_names_the_allowed_methods(client):
    response = client.put("/api/v1/labs")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
