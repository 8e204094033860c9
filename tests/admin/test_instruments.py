"""Instrument and testing-service administration through the pages."""

from sqlalchemy import select

from labbook.audit.models import AuditEvent
from labbook.booking.models import BookingState
from labbook.catalogue.models import Instrument, InstrumentStatus, TestingService
from labbook.extensions import db
from tests.admin.conftest import shown_again, text
from tests.factories import (
    create_booking,
    create_instrument,
    create_service,
    lab_time,
    next_weekday,
    reload,
)

MONDAY = next_weekday(0)


def form_of(instrument: Instrument, **changes) -> dict:
    """What the edit page posts for ``instrument`` unchanged, with ``changes``."""
    data = {"category_id": instrument.category_id, "value_cny": str(instrument.value_cny)}
    for field in ("name_zh", "name_en", "model", "manufacturer", "room", "specs_zh",
                  "functions_zh", "purchase_year", "slot_minutes", "min_minutes",
                  "max_minutes", "min_notice_minutes", "horizon_days", "buffer_minutes",
                  "cancellation_window_hours", "channels"):
        data[field] = getattr(instrument, field)
    for flag in ("requires_approval", "requires_qualification"):
        if getattr(instrument, flag):
            data[flag] = "y"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_the_edit_page_shows_the_instrument_and_its_history(login_as, manager, instrument):
    page = text(login_as(manager).get(f"/admin/instruments/{instrument.id}"))
    assert 'value="X-ray diffractometer"' in page
    assert f'href="/instruments/{instrument.id}/rates"' in page
    assert "Nothing recorded." in page


def test_a_manager_edits_details_and_rules(login_as, manager, instrument):
    client = login_as(manager)
    response = client.post(f"/admin/instruments/{instrument.id}", data=form_of(
        instrument, name_en="Powder X-ray diffractometer", room="B204", max_minutes="240",
        requires_approval="y"))

    assert response.status_code == 302
    instrument = reload(instrument)
    assert (instrument.name_en, instrument.room, instrument.max_minutes) == \
        ("Powder X-ray diffractometer", "B204", 240)
    assert instrument.requires_approval
    page = text(client.get(f"/admin/instruments/{instrument.id}"))
    assert "The instrument was saved." in page
    assert "changed" in page and "480 → 240" in page  # the history


def test_invalid_values_are_shown_on_the_form_and_nothing_is_saved(login_as, manager,
                                                                   instrument):
    response = login_as(manager).post(f"/admin/instruments/{instrument.id}", data=form_of(
        instrument, name_en="Renamed", slot_minutes="45", min_minutes="60", horizon_days="999",
        value_cny="12,5万", purchase_year="soon"), follow_redirects=True)

    page = shown_again(response, f"/admin/instruments/{instrument.id}")
    assert "Must be a multiple of the slot length (45 minutes)." in page
    assert "Enter a whole number from 1 to 730." in page
    assert "Enter a whole number." in page  # the year
    assert 'value="999"' in page  # what was typed stays in the form
    instrument = reload(instrument)
    assert (instrument.name_en, instrument.slot_minutes) == ("X-ray diffractometer", 30)
    assert db.session.scalar(select(AuditEvent.id)) is None


def test_maintenance_shows_the_bookings_it_hits_and_cancels_them_with_a_notice(
        app, monkeypatch, login_as, manager, instrument, researcher):
    monkeypatch.setitem(app.config, "LABBOOK_SMTP_URL", "smtp://mail.example.cn:25")
    first = create_booking(instrument=instrument, user=researcher,
                           start_at=lab_time(MONDAY, 9), end_at=lab_time(MONDAY, 10))
    second = create_booking(instrument=instrument, user=researcher,
                            start_at=lab_time(MONDAY, 14), end_at=lab_time(MONDAY, 15))
    client = login_as(manager)
    page = text(client.get(f"/admin/instruments/{instrument.id}/status"))
    assert "hits 2 bookings" in page and "Researcher Zhao" in page

    response = client.post(f"/admin/instruments/{instrument.id}/status", data={
        "status": "maintenance", "reason": "Tube replacement"})

    assert response.headers["Location"] == f"/admin/instruments/{instrument.id}/bookings"
    assert reload(instrument).status == InstrumentStatus.MAINTENANCE
    page = text(client.get(response.headers["Location"]))
    assert "2 bookings still hold time" in page
    assert f'value="{first.id}"' in page and f'value="{second.id}"' in page

    assert "emailed to the people who booked" in page  # email is delivered (SMTP is set)
    refused = client.post(f"/admin/instruments/{instrument.id}/bookings",
                          data={"booking_ids": [first.id], "notice": ""},
                          follow_redirects=True)
    refused_page = shown_again(refused, f"/admin/instruments/{instrument.id}/bookings")
    assert "Tell the people who booked why" in refused_page
    assert reload(first).state == BookingState.APPROVED

    response = client.post(f"/admin/instruments/{instrument.id}/bookings", data={
        "booking_ids": [first.id], "notice": "The X-ray tube is being replaced."})

    assert response.status_code == 302
    assert reload(first).state == BookingState.CANCELLED
    assert reload(second).state == BookingState.APPROVED
    done = text(client.get(response.headers["Location"]))
    assert "1 booking was cancelled." in done
    assert "1 email telling the person who booked was queued for sending." in done
    assert "not set up" not in done
    assert not reload(first).is_late_cancellation
    status_event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "instruments")).one()
    assert (status_event.action, status_event.from_state, status_event.to_state,
            status_event.note) == ("status", "available", "maintenance", "Tube replacement")


def test_a_status_change_needs_a_reason(login_as, manager, instrument):
    response = login_as(manager).post(f"/admin/instruments/{instrument.id}/status",
                                      data={"status": "retired", "reason": " "},
                                      follow_redirects=True)
    assert "Say why" in shown_again(response, f"/admin/instruments/{instrument.id}/status")
    assert reload(instrument).status == InstrumentStatus.AVAILABLE


def test_a_change_that_hits_nothing_goes_back_to_the_instrument(login_as, manager, instrument):
    response = login_as(manager).post(f"/admin/instruments/{instrument.id}/status", data={
        "status": "retired", "reason": "Replaced by NEM-002"})
    assert response.headers["Location"] == f"/admin/instruments/{instrument.id}"
    assert reload(instrument).status == InstrumentStatus.RETIRED
    page = text(login_as(manager).get(f"/instruments/{instrument.id}"))
    assert "Replaced by NEM-002" in page  # on the public page


def test_a_manager_adds_an_instrument(login_as, manager, lab, category):
    client = login_as(manager)
    form = text(client.get("/admin/labs/NEM/instruments/new"))
    assert 'name="slot_minutes" type="number" value="30"' in form  # the model's defaults
    data = {"code": "NEM-002", "category_id": category.id, "name_zh": "手套箱",
            "name_en": "Glove box", "model": "Universal 2440", "manufacturer": "Mikrouna",
            "purchase_year": "2024", "value_cny": "350000.00", "room": "A105",
            "specs_zh": "水氧含量<1 ppm", "functions_zh": "惰性气氛操作", "slot_minutes": "30",
            "min_minutes": "60", "max_minutes": "480", "min_notice_minutes": "60",
            "horizon_days": "30", "buffer_minutes": "0", "cancellation_window_hours": "24"}

    response = client.post("/admin/labs/NEM/instruments/new", data=data)

    instrument = db.session.scalar(select(Instrument).where(Instrument.code == "NEM-002"))
    assert response.headers["Location"] == f"/admin/instruments/{instrument.id}"
    page = text(client.get(response.headers["Location"]))
    assert "Set its hourly rates" in page
    assert "No hourly rate is in force" in page
    refused = client.post("/admin/labs/NEM/instruments/new", data={**data, "code": "FOOD-9"},
                          follow_redirects=True)
    assert "Give a code like NEM-001" in shown_again(refused, "/admin/labs/NEM/instruments/new")


def test_the_public_page_links_its_managers_to_the_edit_page(login_as, manager, other_manager,
                                                             instrument):
    link = f'href="/admin/instruments/{instrument.id}"'
    assert link in text(login_as(manager).get(f"/instruments/{instrument.id}"))
    assert link not in text(login_as(other_manager).get(f"/instruments/{instrument.id}"))


# -- testing services -----------------------------------------------------------------------------


def service_form(instruments, **changes) -> dict:
    data = {"category_id": instruments[0].category_id, "name_zh": "X射线衍射物相分析",
            "name_en": "XRD phase analysis", "standard": "JY/T 0587-2020",
            "sample_requirements_zh": "粉末 ≥ 1 g", "sample_requirements_en": "Powder ≥ 1 g",
            "turnaround_days": "5", "price_internal": "200.00", "price_partner": "300.00",
            "price_external": "400.00", "express_surcharge_percent": "50",
            "instrument_ids": [i.id for i in instruments]}
    data.update(changes)
    return data


def test_a_manager_adds_edits_and_retires_a_testing_service(login_as, manager, instrument):
    client = login_as(manager)
    refused = client.post("/admin/labs/NEM/services/new", data=service_form(
        [instrument], code="NEM-S001", price_partner="100.00"), follow_redirects=True)
    assert "must not get cheaper" in shown_again(refused, "/admin/labs/NEM/services/new")

    response = client.post("/admin/labs/NEM/services/new",
                           data=service_form([instrument], code="NEM-S001"))
    service = db.session.scalar(select(TestingService))
    assert response.headers["Location"] == f"/admin/services/{service.id}"
    assert service.instruments == [instrument] and service.is_active

    second = create_instrument(lab=instrument.lab, code="NEM-002")
    client.post(f"/admin/services/{service.id}", data=service_form(
        [instrument, second], turnaround_days="7"))
    service = reload(service)
    assert service.turnaround_days == 7 and len(service.instruments) == 2

    client.post(f"/admin/services/{service.id}/retire")
    assert not reload(service).is_active
    page = text(client.get(f"/services/{service.id}"))
    assert "not offered at the moment" in page
    client.post(f"/admin/services/{service.id}/offer")
    assert reload(service).is_active
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["create", "update", "retire", "reactivate"]


def test_managers_of_another_lab_cannot_retire_a_service(login_as, other_manager, instrument):
    service = create_service(lab=instrument.lab, instruments=[instrument])
    assert login_as(other_manager).post(
        f"/admin/services/{service.id}/retire").status_code == 404
    assert reload(service).is_active


def test_the_instrument_list_searches_and_filters_by_status(login_as, manager, instrument):
    retired = create_instrument(lab=instrument.lab, code="NEM-009", name_en="Old furnace",
                                status=InstrumentStatus.RETIRED)
    client = login_as(manager)
    page = text(client.get("/admin/instruments", query_string={"status": "retired"}))
    assert retired.code in page and instrument.code not in page
    page = text(client.get("/admin/instruments", query_string={"q": "diffractometer"}))
    assert instrument.code in page and retired.code not in page


def test_rules_edited_in_the_page_govern_the_booking_form_at_once(login_as, manager,
                                                                  instrument, researcher):
    login_as(manager).post(f"/admin/instruments/{instrument.id}", data=form_of(
        instrument, min_minutes="120", max_minutes="240"))
    response = login_as(researcher).post(f"/instruments/{instrument.id}/book", data={
        "date": MONDAY.isoformat(), "start_time": "09:00", "end_time": "10:00",
        "purpose": "XRD"}, follow_redirects=True)
    assert "The shortest booking on this instrument is 2 hours." in text(response)
    assert db.session.scalar(select(AuditEvent.id).where(
        AuditEvent.object_type == "bookings")) is None
