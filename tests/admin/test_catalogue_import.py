"""Importing the catalogue files through the page: upload, preview, confirm."""

import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from labbook.audit.models import AuditEvent
from labbook.catalogue.loader import load_catalogue
from labbook.catalogue.models import Instrument
from labbook.extensions import db
from labbook.web import FORM_REFUSED
from tests.admin.conftest import text
from tests.catalogue.test_services import TODAY, rename_first_instrument, shipped_files


@pytest.fixture
def catalogue():
    load_catalogue(db.session, TODAY)


def upload(client, files):
    return client.post("/admin/catalogue/import", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(content), name) for name, content in files]})


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page).group(1)


def renamed() -> int:
    return db.session.scalar(select(func.count()).where(
        Instrument.name_en == "Renamed by the file"))


def test_a_preview_shows_the_changes_and_applies_them_once_confirmed(catalogue, login_as,
                                                                     admin):
    client = login_as(admin)
    response = upload(client, shipped_files(rename_first_instrument))

    assert response.status_code == 200
    page = text(response)
    assert "Renamed by the file" in page
    assert re.search(r"Instruments</th><td[^>]*>0</td><td[^>]*>1</td><td[^>]*>162</td>", page)
    assert renamed() == 0
    payload, fingerprint = hidden(page, "payload"), hidden(page, "fingerprint")

    unconfirmed = client.post("/admin/catalogue/import/apply",
                              data={"payload": payload, "fingerprint": fingerprint})
    assert unconfirmed.status_code == FORM_REFUSED
    assert "Tick the box" in text(unconfirmed)
    assert renamed() == 0

    response = client.post("/admin/catalogue/import/apply", data={
        "payload": payload, "fingerprint": fingerprint, "confirm": "y"})

    assert response.headers["Location"] == "/admin/catalogue/import"
    assert renamed() == 1
    assert "5 changed" in text(client.get("/admin/catalogue/import"))  # 1 instrument, 4 services
    assert db.session.scalar(select(func.count()).where(
        AuditEvent.action == "update", AuditEvent.object_type == "instruments")) == 1


def test_a_zip_of_the_files_is_accepted(catalogue, login_as, admin):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in shipped_files():
            archive.writestr(f"catalogue/{name}", content)
    page = text(upload(login_as(admin), [("catalogue.zip", buffer.getvalue())]))
    assert "importing them changes nothing" in page


def test_a_broken_file_lists_file_line_and_column_and_changes_nothing(catalogue, login_as,
                                                                     admin):
    def spoil(name, rows):
        rename_first_instrument(name, rows)
        if name == "instruments.csv":
            rows[3][rows[0].index("slot_minutes")] = "half an hour"

    response = upload(login_as(admin), shipped_files(spoil))

    assert response.status_code == FORM_REFUSED
    page = text(response)
    assert "nothing was imported" in page
    assert re.search(r"<td>instruments.csv</td><td>4</td><td>slot_minutes</td>"
                     r"<td>&#39;half an hour&#39; is not a whole number</td>", page)
    assert renamed() == 0


def test_a_missing_file_is_named(catalogue, login_as, admin):
    files = [(name, content) for name, content in shipped_files() if name != "labs.csv"]
    page = text(upload(login_as(admin), files))
    assert "<td>labs.csv</td><td>0</td><td></td><td>file is missing</td>" in page


def test_a_change_since_the_preview_shows_the_new_preview(catalogue, login_as, admin):
    client = login_as(admin)
    page = text(upload(client, shipped_files(rename_first_instrument)))
    instrument = db.session.scalars(select(Instrument).order_by(Instrument.code)).first()
    instrument.room = "Moved meanwhile"
    db.session.commit()

    response = client.post("/admin/catalogue/import/apply", data={
        "payload": hidden(page, "payload"), "fingerprint": hidden(page, "fingerprint"),
        "confirm": "y"})

    assert response.status_code == FORM_REFUSED
    page = text(response)
    assert "The catalogue changed since the preview" in page
    assert "Moved meanwhile" in page  # the room the files would now change back
    assert renamed() == 0


def test_a_lost_payload_asks_for_the_files_again(catalogue, login_as, admin):
    response = login_as(admin).post("/admin/catalogue/import/apply", data={
        "payload": "not-a-zip", "fingerprint": "x", "confirm": "y"})
    assert response.headers["Location"] == "/admin/catalogue/import"
