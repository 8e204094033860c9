"""Who may open which administration page: anonymous, researcher, manager of another lab,
manager of the lab, admin."""

import pytest

from labbook.catalogue.models import Instrument
from labbook.extensions import db
from tests.admin.conftest import text
from tests.factories import create_service, reload

LAB_PAGES = [
    "/admin/instruments/{instrument}",
    "/admin/instruments/{instrument}/status",
    "/admin/instruments/{instrument}/bookings",
    "/admin/labs/NEM/instruments/new",
    "/admin/labs/NEM/services/new",
    "/admin/services/{service}",
]
MANAGER_PAGES = ["/admin/", "/admin/instruments", "/admin/services"]
ADMIN_PAGES = [
    "/admin/catalogue/import",
    "/admin/organizations",
    "/admin/organizations/new",
    "/admin/organizations/{organization}",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/{user}",
    "/admin/audit",
]


@pytest.fixture
def urls(instrument, researcher):
    service = create_service(lab=instrument.lab, instruments=[instrument], code="NEM-S001")
    ids = {"instrument": instrument.id, "service": service.id,
           "organization": researcher.organization_id, "user": researcher.id}
    return lambda path: path.format(**ids)


@pytest.mark.parametrize("path", LAB_PAGES + MANAGER_PAGES + ADMIN_PAGES)
def test_anonymous_users_are_sent_to_sign_in(client, urls, path):
    response = client.get(urls(path))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", LAB_PAGES + MANAGER_PAGES + ADMIN_PAGES)
def test_researchers_get_403(login_as, researcher, urls, path):
    assert login_as(researcher).get(urls(path)).status_code == 403


@pytest.mark.parametrize("path", LAB_PAGES)
def test_managers_of_another_lab_do_not_find_the_labs_objects(login_as, other_manager, urls,
                                                               path):
    assert login_as(other_manager).get(urls(path)).status_code == 404


@pytest.mark.parametrize("path", LAB_PAGES + MANAGER_PAGES)
def test_the_labs_manager_opens_its_pages(login_as, manager, urls, path):
    assert login_as(manager).get(urls(path)).status_code == 200


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_managers_cannot_open_the_admins_pages(login_as, manager, urls, path):
    assert login_as(manager).get(urls(path)).status_code == 403


@pytest.mark.parametrize("path", LAB_PAGES + MANAGER_PAGES + ADMIN_PAGES)
def test_admins_open_every_page(login_as, admin, urls, path):
    assert login_as(admin).get(urls(path)).status_code == 200


def test_lists_show_a_manager_only_their_labs(login_as, other_manager, instrument):
    client = login_as(other_manager)
    assert instrument.code not in text(client.get("/admin/instruments"))
    assert "NEM-S" not in text(client.get("/admin/services"))


def test_the_navigation_offers_administration_to_managers_only(login_as, manager, researcher):
    assert "/admin/" in text(login_as(manager).get("/"))
    assert "/admin/" not in text(login_as(researcher).get("/"))


def test_others_cannot_change_an_instrument(login_as, researcher, other_manager, instrument):
    data = {"name_en": "Hijacked"}
    assert login_as(researcher).post(f"/admin/instruments/{instrument.id}",
                                     data=data).status_code == 403
    assert login_as(other_manager).post(f"/admin/instruments/{instrument.id}",
                                        data=data).status_code == 404
    assert login_as(other_manager).post(f"/admin/instruments/{instrument.id}/status", data={
        "status": "retired", "reason": "Hijacked"}).status_code == 404
    assert reload(instrument).name_en == "X-ray diffractometer"
    assert db.session.get(Instrument, instrument.id).status.value == "available"


def test_managers_cannot_post_to_the_admins_pages(login_as, manager, researcher):
    client = login_as(manager)
    organization = researcher.organization
    assert client.post(f"/admin/organizations/{organization.id}", data={
        "name": "Renamed", "uscc": organization.uscc, "tier": "internal",
        "status": "active"}).status_code == 403
    assert client.post(f"/admin/users/{researcher.id}/deactivate").status_code == 403
    assert client.post(f"/admin/users/{researcher.id}/reset-link").status_code == 403
    assert client.post("/admin/catalogue/import/apply", data={
        "payload": "x", "fingerprint": "y", "confirm": "y"}).status_code == 403
    assert reload(organization).name == "Henan Battery Co."
    assert reload(researcher).is_active
