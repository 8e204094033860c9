"""A lab with a testing service, its staff (an analyst, a reviewer and an authorised
signatory besides a manager) and a customer, and helpers that take an order through the API."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from labbook.accounts.models import User
from labbook.catalogue.models import Lab, TestingService
from labbook.extensions import db
from labbook.orders.models import Capability, LabStaff, ServiceMethod, ServiceTestItem
from tests.factories import bearer, create_lab, create_manager, create_service, create_user


@pytest.fixture(autouse=True)
def _order_files(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "LABBOOK_ORDER_FILES_DIR", str(tmp_path / "orders"))


@dataclass
class Scene:
    lab: Lab
    service: TestingService
    customer: User
    manager: User
    analyst: User
    reviewer: User
    signatory: User

    def headers(self, user: User) -> dict[str, str]:
        return bearer(user)


def grant(lab: Lab, user: User, *capabilities: Capability) -> None:
    for capability in capabilities:
        db.session.add(LabStaff(lab_id=lab.id, user_id=user.id, capability=capability))
    db.session.commit()


@pytest.fixture
def scene() -> Scene:
    return build_scene()


def build_scene() -> Scene:
    lab = create_lab(code="FOOD", name_zh="食品检测实验室", name_en="Food Testing Lab")
    service = create_service(lab=lab, code="FOOD-T01", name_zh="蛋白质测定",
                             name_en="Protein content", standard="GB 5009.5-2016",
                             price_external=Decimal("150.00"), express_surcharge_percent=50,
                             turnaround_days=5)
    db.session.add_all([
        ServiceMethod(service_id=service.id, method="ISO 1871:2009"),
        ServiceTestItem(service_id=service.id, position=1, name_zh="蛋白质", name_en="Protein",
                        unit="g/100g", lower_limit="10", upper_limit=None),
        ServiceTestItem(service_id=service.id, position=2, name_zh="水分", name_en="Moisture",
                        unit="%", lower_limit=None, upper_limit=None),
    ])
    db.session.commit()
    analyst, reviewer, signatory = (create_user(name=name) for name in ("张检测", "李审核",
                                                                        "王批准"))
    grant(lab, analyst, Capability.ANALYST)
    grant(lab, reviewer, Capability.REVIEWER, Capability.ANALYST)
    grant(lab, signatory, Capability.SIGNATORY)
    customer = create_user(name="赵客户")
    customer.organization.name = "焦作市示例食品科技有限公司"
    db.session.commit()
    return Scene(lab, service, customer, create_manager(lab), analyst, reviewer, signatory)


def order_body(scene: Scene, *, samples: int = 2, **changes: Any) -> dict[str, Any]:
    body = {
        "lines": [{"service_id": scene.service.id, "express": False,
                   "samples": [{"name": f"奶粉{i}", "batch": f"B{i}", "specification": "400 g/袋",
                                "quantity": "2 袋", "condition": "密封完好", "hazards": ""}
                               for i in range(1, samples + 1)]}],
        "remains": "dispose", "report_language": "zh_CN", "notes": "",
        "terms_confirmed": True,
    }
    body.update(changes)
    return body


def submit(client, scene: Scene, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/v1/orders", headers=scene.headers(scene.customer),
                           json=order_body(scene, **changes))
    assert response.status_code == 201, response.json
    return response.json


def receive_all(client, scene: Scene, order: dict[str, Any], *, refused: int = 0
                ) -> dict[str, Any]:
    samples = [sample for line in order["lines"] for sample in line["samples"]]
    decisions = [{"sample_id": s["id"], "status": "refused" if i < refused else "accepted",
                  "note": "包装破损" if i < refused else ""} for i, s in enumerate(samples)]
    response = client.post(f"/api/v1/orders/{order['id']}/intake",
                           headers=scene.headers(scene.manager), json={"samples": decisions})
    assert response.status_code == 200, response.json
    return response.json


def work_line(client, scene: Scene, order: dict[str, Any], *, protein: str = "12.5"
              ) -> dict[str, Any]:
    """Assign, start, record both items for every accepted sample and complete line 1."""
    line = order["lines"][0]
    base = f"/api/v1/orders/{order['id']}/lines/{line['id']}"
    manager, analyst = scene.headers(scene.manager), scene.headers(scene.analyst)
    assert client.post(f"{base}/assign", headers=manager,
                       json={"analyst_id": scene.analyst.id}).status_code == 200
    assert client.post(f"{base}/start", headers=analyst).status_code == 200
    results = []
    for sample in line["samples"]:
        if sample["intake"]["status"] == "refused":
            continue
        results += [{"sample_id": sample["id"], "item": "蛋白质", "value": protein,
                     "unit": "g/100g"},
                    {"sample_id": sample["id"], "item": "水分", "value": "3.1", "unit": "%"}]
    response = client.post(f"{base}/results", headers=analyst, json={"results": results})
    assert response.status_code == 200, response.json
    response = client.post(f"{base}/complete", headers=analyst)
    assert response.status_code == 200, response.json
    return response.json


def issue_report(client, scene: Scene, order: dict[str, Any], *,
                 conclusion: str = "所检项目符合要求。") -> dict[str, Any]:
    base = f"/api/v1/orders/{order['id']}/reports"
    response = client.post(base, headers=scene.headers(scene.analyst),
                           json={"conclusion": conclusion})
    assert response.status_code == 201, response.json
    report = response.json["reports"][-1]
    response = client.post(f"{base}/{report['id']}/review", headers=scene.headers(scene.reviewer))
    assert response.status_code == 200, response.json
    response = client.post(f"{base}/{report['id']}/approve",
                           headers=scene.headers(scene.signatory))
    assert response.status_code == 200, response.json
    return response.json
