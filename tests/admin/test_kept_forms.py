"""Refused administration forms come back on the page that shows them (Post/Redirect/Get):
what was typed and why it was refused survive a reload and the language switch, and nothing
is written (see labbook.web.keep_refused)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import Organization, User
from labbook.booking.models import Booking
from labbook.catalogue.models import Instrument, InstrumentStatus, Owner, OwnerKind, TestingService
from labbook.extensions import db
from labbook.owners.models import OwnerAgreement, OwnerContact
from labbook.web import FORM_REFUSED
from tests.factories import (
    create_booking,
    create_service,
    create_user,
    lab_time,
    make_uscc,
    next_weekday,
)
from tests.refused_forms import Refusal, assert_kept_through_the_switch

MONDAY = next_weekday(0)


@pytest.fixture
def scene(instrument, manager, admin, researcher):
    """An instrument under maintenance with two bookings ahead, a testing service, an owner
    unit; its manager and the admin read Chinese."""
    instrument.status = InstrumentStatus.MAINTENANCE
    manager.locale = admin.locale = "zh_CN"
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


def _rows() -> tuple:
    """What the administration forms write, beyond the audit trail and the outbox."""
    counted = [db.session.scalar(select(func.count()).select_from(model)) for model in
               (Instrument, TestingService, Organization, User, OwnerAgreement, OwnerContact)]
    # Ordered: PostgreSQL returns rows in the order they lie on disk, which an update of a
    # row (a sign-in's) changes.
    return (*counted, db.session.execute(select(Booking.id, Booking.state)
                                         .order_by(Booking.id)).all(),
            db.session.execute(select(Instrument.name_en, Instrument.status,
                                      Instrument.horizon_days).order_by(Instrument.id)).all(),
            db.session.execute(select(TestingService.name_en, TestingService.price_partner)
                               .order_by(TestingService.id)).all(),
            db.session.execute(select(User.email, User.name).order_by(User.id)).all())


def _instrument_data(s, **changes) -> dict:
    return {"category_id": s.instrument.category_id, "name_en": "Glove box 甲", "name_zh": "手套箱",
            "model": "Universal 2440", "manufacturer": "Mikrouna", "purchase_year": "2024",
            "value_cny": "350000.00", "room": "A105", "specs_zh": "水氧含量<1 ppm",
            "functions_zh": "惰性气氛操作", "slot_minutes": "30", "min_minutes": "60",
            "max_minutes": "480", "min_notice_minutes": "60", "horizon_days": "30",
            "buffer_minutes": "0", "cancellation_window_hours": "24", **changes}


def _service_data(s, **changes) -> dict:
    return {"category_id": s.instrument.category_id, "name_zh": "物相分析",
            "name_en": "Phase analysis 乙", "standard": "JY/T 0587-2020",
            "sample_requirements_zh": "粉末 ≥ 1 g", "sample_requirements_en": "Powder ≥ 1 g",
            "turnaround_days": "5", "price_internal": "200.00",
            "price_partner": "100.00", "price_external": "400.00",
            "express_surcharge_percent": "0", "instrument_ids": [s.instrument.id], **changes}


CHEAPER = ("各价格等级的价格须满足：院内 ≤ 合作单位 ≤ 外部单位。",
           "Prices must not get cheaper from the internal to the external tier.")
EMAIL = ("请填写邮箱地址。", "Give an email address.")

#: Each form of the administration pages, refused, and who sends it.
REFUSED: dict[str, tuple[str, Callable[[SimpleNamespace], Refusal]]] = {
    "new instrument": ("manager", lambda s: Refusal(
        "/admin/labs/NEM/instruments/new", "/admin/labs/NEM/instruments/new",
        _instrument_data(s, code="FOOD-9"), ['value="FOOD-9"', 'value="Glove box 甲"'],
        "请按 NEM-001 的格式填写编号", "Give a code like NEM-001")),
    "instrument": ("manager", lambda s: Refusal(
        f"/admin/instruments/{s.instrument.id}", f"/admin/instruments/{s.instrument.id}",
        _instrument_data(s, horizon_days="999"), ['value="999"', 'value="Glove box 甲"'],
        "请输入 1 到 730 之间的整数。", "Enter a whole number from 1 to 730.")),
    "instrument status": ("manager", lambda s: Refusal(
        f"/admin/instruments/{s.instrument.id}/status",
        f"/admin/instruments/{s.instrument.id}/status",
        {"status": "retired", "reason": " "}, ['<option selected value="retired">'],
        "请说明原因", "Say why, e.g.")),
    "the bookings an instrument out of service hits": ("manager", lambda s: Refusal(
        f"/admin/instruments/{s.instrument.id}/bookings",
        f"/admin/instruments/{s.instrument.id}/bookings",
        {"booking_ids": [s.bookings[0].id], "notice": ""},
        [f'id="cancel-{s.bookings[0].id}" checked'],
        "请告知预约人取消的原因。", "Tell the people who booked why their booking is cancelled.")),
    "new testing service": ("manager", lambda s: Refusal(
        "/admin/labs/NEM/services/new", "/admin/labs/NEM/services/new",
        _service_data(s, code="NEM-S002"), ['value="NEM-S002"', 'value="Phase analysis 乙"'],
        *CHEAPER)),
    "testing service": ("manager", lambda s: Refusal(
        f"/admin/services/{s.service.id}", f"/admin/services/{s.service.id}", _service_data(s),
        ['value="Phase analysis 乙"', 'value="100.00"'], *CHEAPER)),
    "owner's agreement": ("admin", lambda s: Refusal(
        "/admin/owners/OWNA/agreements", "/admin/owners/OWNA",
        {"effective_from": "2027-01-01", "time_share_percent": "101",
         "testing_share_percent": "20"}, ['value="2027-01-01"', 'value="101"'],
        "请填写 0 到 100 之间的整数百分比。", "Give a whole percentage from 0 to 100.")),
    "owner's contact person": ("admin", lambda s: Refusal(
        "/admin/owners/OWNA/contacts", "/admin/owners/OWNA", {"email": ""}, [],
        "请输入电子邮箱。", "Enter an email address.")),
    "new user": ("admin", lambda s: Refusal(
        "/admin/users/new", "/admin/users/new",
        {"email": " ", "name": "王工", "role": "lab_manager", "locale": "zh_CN",
         "organization_id": ""}, ['value="王工"', '<option selected value="lab_manager">'],
        *EMAIL)),
    "user": ("admin", lambda s: Refusal(
        f"/admin/users/{s.researcher.id}", f"/admin/users/{s.researcher.id}",
        {"email": "", "name": "Researcher Zhao 赵", "role": "researcher", "locale": "en",
         "organization_id": s.researcher.organization_id}, ['value="Researcher Zhao 赵"'],
        *EMAIL)),
}


@pytest.mark.parametrize(("who", "refusal_of"), REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_form_comes_back_on_its_page_in_either_language(who, refusal_of, scene,
                                                                  login_as):
    assert_kept_through_the_switch(login_as(getattr(scene, who)), refusal_of(scene), _rows)


#: Refusals only the service makes, when the form is sent: shown again, in the language switched
#: to.
REFUSED_BY_THE_SERVICE: dict[str, Callable[[SimpleNamespace], Refusal]] = {
    "owner's contact person": lambda s: Refusal(
        "/admin/owners/OWNA/contacts", "/admin/owners/OWNA", {"email": "nobody@example.cn"},
        ['value="nobody@example.cn"'], "没有使用该电子邮箱的有效账号。",
        "No active account has this email address."),
    "new organization": lambda s: Refusal(
        "/admin/organizations/new", "/admin/organizations/new",
        {"name": "某储能公司", "uscc": make_uscc(502), "tier": "external",
         "weekly_quota_hours": "200"}, ['value="某储能公司"', 'value="200"'],
        "每周配额须为 1 至 168 小时。", "A weekly quota is from 1 to 168 hours."),
    "organization": lambda s: Refusal(
        f"/admin/organizations/{s.researcher.organization_id}",
        f"/admin/organizations/{s.researcher.organization_id}",
        {"name": "Henan Battery Co., Ltd.", "uscc": s.researcher.organization.uscc,
         "tier": "partner", "status": "active", "billing_contact_id": s.outsider.id},
        ['value="Henan Battery Co., Ltd."'], "财务联系人必须是该单位未停用的成员。",
        "The billing contact must be an active member of the organization."),
}


@pytest.mark.parametrize("refusal_of", REFUSED_BY_THE_SERVICE.values(),
                         ids=REFUSED_BY_THE_SERVICE.keys())
def test_a_refusal_of_the_service_comes_back_in_the_language_switched_to(refusal_of, scene,
                                                                        login_as):
    refusal, before = refusal_of(scene), _rows()
    client = login_as(scene.admin)
    answer = client.post(refusal.post, data=refusal.data)
    assert answer.status_code == 303 and answer.headers["Location"] == refusal.page
    client.post("/language", data={"locale": "en", "next": refusal.page})
    english = client.get(refusal.page).get_data(as_text=True)
    assert '<html lang="en"' in english
    assert refusal.en in english and refusal.zh not in english
    assert all(typed in english for typed in refusal.typed)
    assert _rows() == before


def test_only_the_bookings_ticked_are_ticked_again(scene, login_as):
    client = login_as(scene.manager)
    first, second = scene.bookings
    page = f"/admin/instruments/{scene.instrument.id}/bookings"
    assert f'id="cancel-{second.id}" checked' in client.get(page).get_data(as_text=True)
    client.post(page, data={"booking_ids": [first.id], "notice": ""})
    kept = client.get(page).get_data(as_text=True)
    assert f'id="cancel-{first.id}" checked' in kept
    assert f'id="cancel-{second.id}" checked' not in kept


def test_the_other_form_of_the_owners_page_comes_back_empty(scene, login_as):
    client = login_as(scene.admin)
    client.post("/admin/owners/OWNA/agreements", data={"effective_from": "2027-01-01",
                                                       "time_share_percent": "101"})
    page = client.get("/admin/owners/OWNA").get_data(as_text=True)
    assert 'value="2027-01-01"' in page and "请输入电子邮箱。" not in page


def test_an_upload_refused_for_want_of_files_comes_back_on_the_import_page(scene, login_as):
    client = login_as(scene.admin)
    answer = client.post("/admin/catalogue/import", data={})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/catalogue/import"
    assert "请选择目录文件" in client.get("/admin/catalogue/import").get_data(as_text=True)
    client.post("/language", data={"locale": "en", "next": "/admin/catalogue/import"})
    assert "Choose the catalogue files" in client.get("/admin/catalogue/import").get_data(
        as_text=True)


def test_a_form_too_large_to_keep_is_shown_with_the_answer_as_before(scene, login_as):
    before = _rows()
    answer = login_as(scene.manager).post(
        f"/admin/instruments/{scene.instrument.id}",
        data=_instrument_data(scene, horizon_days="999", specs_zh="长" * 2500))
    assert answer.status_code == FORM_REFUSED
    page = answer.get_data(as_text=True)
    assert "请输入 1 到 730 之间的整数。" in page and "长" * 2500 in page
    assert _rows() == before
