"""Each lab's contact person for bookings and training: loaded from labs.csv, kept by the lab's
managers on their page, shown on the instrument page and in the API."""

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from labbook.accounts.models import Role
from labbook.audit.models import AuditEvent
from labbook.catalogue import services as catalogue
from labbook.catalogue.loader import DATA_DIR, load_catalogue
from labbook.catalogue.models import Lab
from labbook.core.errors import PermissionDenied, ValidationError
from labbook.extensions import db
from tests.catalogue.test_loader import TODAY, column, rewrite
from tests.factories import (
    bearer,
    create_instrument,
    create_lab,
    create_manager,
    create_user,
    reload,
)
from tests.refusals import problem, refusal

NOW = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped catalogue."""
    return Path(shutil.copytree(DATA_DIR, tmp_path / "data"))


def lab_by_code(code: str) -> Lab:
    return db.session.scalar(select(Lab).where(Lab.code == code))


def test_the_shipped_labs_name_their_contact_person():
    load_catalogue(db.session, TODAY)
    assert [(lab.code, lab.contact_name, lab.contact_phone, lab.contact_email)
            for lab in db.session.scalars(select(Lab).order_by(Lab.code))] == [
        ("FOOD", "李静", "0391-3987201", "food.manager@jzit.example.cn"),
        ("MFG", "张伟", "0391-3987301", "mfg.manager@jzit.example.cn"),
        ("NEM", "王磊", "0391-3987101", "nem.manager@jzit.example.cn")]


def test_a_file_naming_nobody_keeps_the_contact_the_managers_set(data_dir):
    load_catalogue(db.session, TODAY, data_dir)
    lab = lab_by_code("NEM")
    admin = create_user(role=Role.ADMIN)
    catalogue.update_lab_contact(db.session, admin, lab, name="赵刚", phone="0391-3987199",
                                 email="zhao@jzit.example.cn", now=NOW)
    db.session.commit()
    path = data_dir / "labs.csv"
    indexes = [column(path, name) for name in ("contact_name", "contact_phone", "contact_email")]

    def name_nobody(rows):
        for row in rows[1:]:
            for index in indexes:
                row[index] = ""

    rewrite(path, name_nobody)
    report = load_catalogue(db.session, TODAY, data_dir)
    assert report.updated.get("labs", 0) == 0
    assert reload(lab).contact_name == "赵刚"


def test_a_manager_sets_the_contact_and_it_is_audited():
    lab = create_lab()
    manager = create_manager(lab)
    changes = catalogue.update_lab_contact(
        db.session, manager, lab, name=" 王磊 ", phone="0391-3987101 转 8012",
        email="NEM.Manager@JZIT.example.cn", now=NOW)
    db.session.commit()
    lab = reload(lab)
    assert lab.contact == {"name": "王磊", "phone": "0391-3987101 转 8012",
                           "email": "nem.manager@jzit.example.cn"}
    assert set(changes) == {"contact_name", "contact_phone", "contact_email"}
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "labs")).one()
    assert (event.action, event.actor_id) == ("update", manager.id)


def test_contact_values_are_checked_field_by_field():
    lab = create_lab()
    manager = create_manager(lab, locale="en")
    with pytest.raises(ValidationError) as refused:
        catalogue.update_lab_contact(db.session, manager, lab, name="王磊", phone="ask me",
                                     email="", now=NOW)
    assert refusal(refused)[2] == [
        problem("invalid", "请填写电话号码，例如 0391-3987101。", "contact_phone"),
        problem("invalid", "请填写邮箱地址，例如 lab@example.cn。", "contact_email")]


def test_naming_nobody_is_allowed_and_only_the_labs_managers_change_it():
    lab = create_lab(contact_name="王磊", contact_phone="0391-3987101",
                     contact_email="nem@jzit.example.cn")
    with pytest.raises(PermissionDenied):
        catalogue.update_lab_contact(db.session, create_manager(create_lab()), lab, name="x",
                                     phone="", email="", now=NOW)
    catalogue.update_lab_contact(db.session, create_manager(lab), lab, name="", phone="",
                                 email="", now=NOW)
    db.session.commit()
    assert reload(lab).contact is None


def test_the_managers_page_saves_the_contact(login_as):
    lab = create_lab()
    client = login_as(create_manager(lab, locale="en"))
    page = client.get("/manage/discipline")
    assert "Contact for bookings and training" in page.text
    prefix = f"contact-{lab.code}-"
    refused = client.post(f"/manage/labs/{lab.code}/contact", data={
        prefix + "contact_name": "王磊", prefix + "contact_phone": "0391",
        prefix + "contact_email": "nem@jzit.example.cn"}, follow_redirects=True)
    assert refused.status_code == 200
    assert "Give a phone number such as 0391-3987101." in refused.text
    assert reload(lab).contact is None
    saved = client.post(f"/manage/labs/{lab.code}/contact", data={
        prefix + "contact_name": "王磊", prefix + "contact_phone": "0391-3987101",
        prefix + "contact_email": "nem@jzit.example.cn"})
    assert saved.status_code == 302
    assert reload(lab).contact == {"name": "王磊", "phone": "0391-3987101",
                                   "email": "nem@jzit.example.cn"}


def test_the_instrument_page_and_the_api_show_whom_to_ask(client):
    lab = create_lab(contact_name="王磊", contact_phone="0391-3987101",
                     contact_email="nem@jzit.example.cn")
    instrument = create_instrument(lab=lab, requires_qualification=True)
    client.post("/language", data={"locale": "en"})
    page = client.get(f"/instruments/{instrument.id}")
    assert "Bookings and training: whom to ask" in page.text
    assert 'href="tel:0391-3987101"' in page.text
    assert 'href="mailto:nem@jzit.example.cn"' in page.text
    nobody = create_instrument(lab=create_lab())
    page = client.get(f"/instruments/{nobody.id}")
    assert "The lab names no contact person yet; ask its managers." in page.text
    labs = client.get("/api/v1/labs", headers=bearer(create_user())).json["items"]
    assert {item["code"]: item["contact"] for item in labs} == {
        lab.code: {"name": "王磊", "phone": "0391-3987101", "email": "nem@jzit.example.cn"},
        nobody.lab.code: None}
