"""Refused administration forms come back on the page that shows them (Post/Redirect/Get):
what was typed and why it was refused survive a reload and the language switch, and nothing
is written (see labbook.web.keep_refused)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from labbook.audit.models import AuditEvent
from labbook.catalogue.models import InstrumentStatus, Owner, OwnerKind
from labbook.extensions import db
from labbook.web import FORM_REFUSED
from tests.factories import (
    create_booking,
    create_service,
    create_user,
    lab_time,
    make_uscc,
    next_weekday,
)

MONDAY = next_weekday(0)


@dataclass(frozen=True)
class Refusal:
    who: str  # who sends the form: one of the scene's people
    post: str  # where the form is sent
    data: dict
    typed: list[str]  # what was typed, as the page shows it
    en: str  # why it was refused, in English
    # The same in Chinese; None for a refusal only sending the form again can ask for (an
    # account's, an organization's): it is shown again in the words it was given.
    zh: str | None
    page: str = ""  # the page that shows the form, when the form is sent elsewhere
    not_typed: list[str] = field(default_factory=list)  # what the page shows unless kept


@pytest.fixture
def scene(instrument, manager, admin, researcher):
    instrument.status = InstrumentStatus.MAINTENANCE
    owner = Owner(code="OWNA", name_zh="所属单位", name_en="Owner A", kind=OwnerKind.INSTITUTE)
    db.session.add(owner)
    db.session.commit()
    return SimpleNamespace(
        instrument=instrument, manager=manager, admin=admin, researcher=researcher,
        owner=owner, outsider=create_user(name="Outsider"),
        service=create_service(lab=instrument.lab, instruments=[instrument], code="NEM-S001"),
        bookings=[create_booking(instrument=instrument, user=researcher,
                                 start_at=lab_time(MONDAY, hour), end_at=lab_time(MONDAY, hour + 1))
                  for hour in (9, 14)])


def _instrument_data(s, **changes) -> dict:
    return {"category_id": s.instrument.category_id, "name_en": "Glove box 甲", "name_zh": "手套箱",
            "slot_minutes": "30", "min_minutes": "60", "max_minutes": "480",
            "min_notice_minutes": "60", "horizon_days": "30", "buffer_minutes": "0",
            "cancellation_window_hours": "24", **changes}


def _service_data(s, **changes) -> dict:
    return {"category_id": s.instrument.category_id, "name_zh": "物相分析",
            "name_en": "Phase analysis 乙", "turnaround_days": "5", "price_internal": "200.00",
            "price_partner": "100.00", "price_external": "400.00",
            "express_surcharge_percent": "0", "instrument_ids": [s.instrument.id], **changes}


CHEAPER = ("Prices must not get cheaper from the internal to the external tier.",
           "各价格等级的价格须满足：院内 ≤ 合作单位 ≤ 外部单位。")

REFUSALS: dict[str, Callable[[SimpleNamespace], Refusal]] = {
    "new instrument": lambda s: Refusal(
        "manager", "/admin/labs/NEM/instruments/new", _instrument_data(s, code="FOOD-9"),
        ['value="FOOD-9"', 'value="Glove box 甲"'],
        "Give a code like NEM-001", "请按 NEM-001 的格式填写编号"),
    "instrument": lambda s: Refusal(
        "manager", f"/admin/instruments/{s.instrument.id}",
        _instrument_data(s, horizon_days="999"), ['value="999"', 'value="Glove box 甲"'],
        "Enter a whole number from 1 to 730.", "请输入 1 到 730 之间的整数。"),
    "instrument status": lambda s: Refusal(
        "manager", f"/admin/instruments/{s.instrument.id}/status",
        {"status": "retired", "reason": " "}, ['<option selected value="retired">'],
        "Say why, e.g.", "请说明原因"),
    "cancelling the bookings an instrument out of service hits": lambda s: Refusal(
        "manager", f"/admin/instruments/{s.instrument.id}/bookings",
        {"booking_ids": [s.bookings[0].id], "notice": ""},
        [f'id="cancel-{s.bookings[0].id}" checked'],
        "Tell the people who booked why their booking is cancelled.", "请告知预约人取消的原因。",
        not_typed=[f'id="cancel-{s.bookings[1].id}" checked']),
    "new testing service": lambda s: Refusal(
        "manager", "/admin/labs/NEM/services/new", _service_data(s, code="NEM-S002"),
        ['value="NEM-S002"', 'value="Phase analysis 乙"'], *CHEAPER),
    "testing service": lambda s: Refusal(
        "manager", f"/admin/services/{s.service.id}", _service_data(s),
        ['value="Phase analysis 乙"', 'value="100.00"'], *CHEAPER),
    "owner's agreement": lambda s: Refusal(
        "admin", "/admin/owners/OWNA/agreements",
        {"effective_from": "2027-01-01", "time_share_percent": "101",
         "testing_share_percent": "20"}, ['value="2027-01-01"', 'value="101"'],
        "Give a whole percentage from 0 to 100.", "请填写 0 到 100 之间的整数百分比。",
        page="/admin/owners/OWNA"),
    "owner's contact person": lambda s: Refusal(
        "admin", "/admin/owners/OWNA/contacts", {"email": "nobody@example.cn"},
        ['value="nobody@example.cn"'],
        "No active account has this email address.", None, page="/admin/owners/OWNA"),
    "new organization": lambda s: Refusal(
        "admin", "/admin/organizations/new",
        {"name": "某储能公司", "uscc": make_uscc(502), "tier": "external",
         "weekly_quota_hours": "200"}, ['value="某储能公司"', 'value="200"'],
        "A weekly quota is from 1 to 168 hours.", None),
    "organization": lambda s: Refusal(
        "admin", f"/admin/organizations/{s.researcher.organization_id}",
        {"name": "Henan Battery Co., Ltd.", "uscc": s.researcher.organization.uscc,
         "tier": "partner", "status": "active", "billing_contact_id": s.outsider.id},
        ['value="Henan Battery Co., Ltd."'],
        "The billing contact must be an active member of the organization.", None),
    "new user": lambda s: Refusal(
        "admin", "/admin/users/new",
        {"email": " ", "name": "王工", "role": "lab_manager", "locale": "zh_CN",
         "organization_id": ""}, ['value="王工"', '<option selected value="lab_manager">'],
        "Give an email address.", "请填写邮箱地址。"),
    "user": lambda s: Refusal(
        "admin", f"/admin/users/{s.researcher.id}",
        {"email": "", "name": "Researcher Zhao 赵", "role": "researcher", "locale": "en",
         "organization_id": s.researcher.organization_id}, ['value="Researcher Zhao 赵"'],
        "Give an email address.", "请填写邮箱地址。"),
}


def _audit_events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("refusal_of", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_form_comes_back_on_its_page_in_either_language(refusal_of, scene, login_as):
    refusal = refusal_of(scene)
    page = refusal.page or refusal.post
    client = login_as(getattr(scene, refusal.who))

    answer = client.post(refusal.post, data=refusal.data)

    assert answer.status_code == 303 and answer.headers["Location"] == page
    for _time in ("shown", "reloaded"):
        english = client.get(page).get_data(as_text=True)
        assert refusal.en in english
        assert all(typed in english for typed in refusal.typed)
        assert not any(shown in english for shown in refusal.not_typed)
    switched = client.post("/language", data={"locale": "zh_CN", "next": page})
    assert switched.status_code == 303 and switched.headers["Location"] == page
    chinese = client.get(page).get_data(as_text=True)
    assert '<html lang="zh-CN"' in chinese
    if refusal.zh is None:
        assert refusal.en in chinese
    else:
        assert refusal.zh in chinese and refusal.en not in chinese
    assert all(typed in chinese for typed in refusal.typed)
    assert _audit_events() == 0


def test_the_other_form_of_the_owners_page_comes_back_empty(scene, login_as):
    client = login_as(scene.admin)
    client.post("/admin/owners/OWNA/contacts", data={"email": "nobody@example.cn"})
    page = client.get("/admin/owners/OWNA").get_data(as_text=True)
    assert page.count("No active account has this email address.") == 1
    assert "Give a whole percentage" not in page and "Enter a date." not in page


def test_an_upload_refused_for_want_of_files_comes_back_on_the_import_page(admin, login_as):
    client = login_as(admin)
    answer = client.post("/admin/catalogue/import", data={})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/catalogue/import"
    assert "Choose the catalogue files" in client.get(answer.headers["Location"]).get_data(
        as_text=True)
    client.post("/language", data={"locale": "zh_CN", "next": "/admin/catalogue/import"})
    assert "请选择目录文件" in client.get("/admin/catalogue/import").get_data(as_text=True)


def test_a_form_too_large_to_keep_is_shown_with_the_answer_as_before(scene, login_as):
    answer = login_as(scene.manager).post(
        f"/admin/instruments/{scene.instrument.id}",
        data=_instrument_data(scene, horizon_days="999", specs_zh="长" * 2500))
    assert answer.status_code == FORM_REFUSED
    page = answer.get_data(as_text=True)
    assert "Enter a whole number from 1 to 730." in page and "长" * 2500 in page
    assert _audit_events() == 0
