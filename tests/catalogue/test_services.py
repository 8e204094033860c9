"""Administration of the catalogue through the services: instruments, their status and the
bookings it hits, testing services, and importing the catalogue files."""

import csv
import datetime as dt
import io
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from labbook.audit.models import AuditEvent
from labbook.booking import closures, schedule
from labbook.booking import services as booking_services
from labbook.booking.models import BookingState
from labbook.catalogue import services as catalogue
from labbook.catalogue.loader import DATA_DIR, FILE_ORDER, CatalogueError, load_catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab, TestingService
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, PermissionDenied, ValidationError
from labbook.extensions import db
from labbook.orders import services as orders
from tests.factories import (
    create_admin,
    create_booking,
    create_category,
    create_instrument,
    create_lab,
    create_manager,
    create_service,
    create_user,
    lab_time,
    next_weekday,
)

NOW = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)  # noon in the labs
MONDAY = next_weekday(0)


@pytest.fixture(autouse=True)
def _english():
    """The services speak the default language (Chinese) outside a request; these tests read
    the English messages."""
    with force_locale("en"):
        yield


@pytest.fixture
def lab():
    return create_lab(code="NEM")


@pytest.fixture
def instrument(lab):
    return create_instrument(lab=lab, code="NEM-001", name_en="X-ray diffractometer")


@pytest.fixture
def manager(lab):
    return create_manager(lab)


def values_of(instrument: Instrument, **changes) -> dict:
    """What the edit form sends for ``instrument``, with ``changes``."""
    fields = (*catalogue.INSTRUMENT_TEXTS, "purchase_year", "value_cny", "slot_minutes",
              "min_minutes", "max_minutes", "min_notice_minutes", "horizon_days",
              "buffer_minutes", "cancellation_window_hours", "channels", "requires_approval",
              "requires_qualification")
    return {"category_id": instrument.category_id,
            **{field: getattr(instrument, field) for field in fields}, **changes}


def problems_of(refused) -> dict:
    return {problem.field: problem.message for problem in refused.value.problems}


# -- editing instruments ------------------------------------------------------------------------


def test_an_edit_changes_the_instrument_and_is_audited_with_before_and_after(manager,
                                                                             instrument):
    changes = catalogue.update_instrument(
        db.session, manager, instrument,
        values_of(instrument, name_en=" Powder diffractometer ", max_minutes=240,
                  requires_approval=True), now=NOW)
    db.session.commit()

    assert set(changes) >= {"name_en", "max_minutes", "requires_approval"}
    assert instrument.name_en == "Powder diffractometer"
    assert "powder diffractometer" in instrument.search_text
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.object_type, event.object_id, event.actor_id) == \
        ("update", "instruments", instrument.id, manager.id)
    assert event.details["changes"]["max_minutes"] == ["480", "240"]
    assert event.details["changes"]["name_en"] == ["X-ray diffractometer",
                                                   "Powder diffractometer"]
    assert "search_text" not in event.details["changes"]


def test_an_edit_without_changes_records_nothing(manager, instrument):
    assert catalogue.update_instrument(db.session, manager, instrument, values_of(instrument),
                                       now=NOW) == {}
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("slot_minutes", 4, "from 5 to 1440"),
    ("horizon_days", 731, "from 1 to 730"),
    ("min_notice_minutes", -1, "from 0 to 525600"),
    ("cancellation_window_hours", 721, "from 0 to 720"),
    ("purchase_year", 1949, "from 1950 to 2100"),
    ("slot_minutes", None, "whole number"),
    ("value_cny", Decimal("0"), "above 0"),
    ("value_cny", Decimal("1000000000"), "At most ¥999,999,999.99"),
    ("name_zh", "  ", "Fill this in"),
    ("model", "=cmd()", "formula"),
    ("room", "R" * 65, "At most 64 characters"),
    ("category_id", 999_999, "Choose a category"),
])
def test_values_outside_the_catalogue_files_rules_are_refused(manager, instrument, field,
                                                              value, message):
    with pytest.raises(ValidationError) as refused:
        catalogue.update_instrument(db.session, manager, instrument,
                                    values_of(instrument, **{field: value}), now=NOW)
    assert message in problems_of(refused)[field]


def test_contradicting_rules_are_refused_all_at_once_and_nothing_changes(manager, instrument):
    with pytest.raises(ValidationError) as refused:
        catalogue.update_instrument(db.session, manager, instrument, values_of(
            instrument, slot_minutes=60, min_minutes=90, max_minutes=60, name_en=""), now=NOW)
    problems = problems_of(refused)
    assert "multiple of the slot length (60 minutes)" in problems["min_minutes"]
    assert "Fill this in" in problems["name_en"]
    assert len(refused.value.problems) == 3  # min off the grid, max below min, no name
    db.session.rollback()
    db.session.refresh(instrument)
    assert (instrument.slot_minutes, instrument.name_en) == (30, "X-ray diffractometer")


def test_only_the_labs_managers_and_admins_edit_an_instrument(instrument):
    other = create_manager(create_lab(code="FOOD"))
    for actor in (other, create_user()):
        with pytest.raises(PermissionDenied):
            catalogue.update_instrument(db.session, actor, instrument, values_of(instrument),
                                        now=NOW)
    catalogue.update_instrument(db.session, create_admin(), instrument,
                                values_of(instrument, room="B202"), now=NOW)
    assert instrument.room == "B202"


def test_new_rules_take_effect_for_the_next_booking_at_once(manager, instrument):
    researcher = create_user()
    start = lab_time(MONDAY, 9)
    with write_transaction(db.session):
        catalogue.update_instrument(db.session, manager, instrument,
                                    values_of(instrument, slot_minutes=60, min_minutes=120,
                                              max_minutes=240), now=NOW)
    with pytest.raises(booking_services.BookingRefused) as refused:
        booking_services.create_booking(db.session, researcher, instrument_id=instrument.id,
                                        start=start, end=start + dt.timedelta(minutes=90),
                                        purpose="XRD", now=booking_services_now())
    assert {p.code for p in refused.value.problems} >= {"not_aligned", "too_short"}


def booking_services_now() -> dt.datetime:
    return lab_time(MONDAY - dt.timedelta(days=3), 12)


def test_a_new_instrument_follows_the_files_code_rules(manager, lab):
    category = create_category()
    create_instrument(lab=lab, code="NEM-007")
    values = {"category_id": category.id, "name_zh": "手套箱", "name_en": "Glove box",
              "model": "G-1", "manufacturer": "Mikrouna", "purchase_year": 2024,
              "value_cny": Decimal("350000.00"), "room": "A105", "specs_zh": "水氧<1ppm",
              "functions_zh": "惰性气氛操作", "slot_minutes": 30, "min_minutes": 60,
              "max_minutes": 480, "min_notice_minutes": 60, "horizon_days": 30,
              "buffer_minutes": 0, "cancellation_window_hours": 24}
    for code, message in (("FOOD-001", "the lab's code"), ("NEM-7", "the lab's code"),
                          ("NEM-007", "taken already")):
        with pytest.raises(ValidationError) as refused:
            catalogue.create_instrument(db.session, manager, lab, {**values, "code": code},
                                        now=NOW)
        assert message in problems_of(refused)["code"]

    instrument = catalogue.create_instrument(db.session, manager, lab,
                                             {**values, "code": " nem-008 "}, now=NOW)
    db.session.commit()
    assert (instrument.code, instrument.status) == ("NEM-008", InstrumentStatus.AVAILABLE)
    assert "glove box" in instrument.search_text
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.to_state) == ("create", "available")
    assert event.details["values"]["category"] == category.key


# -- status and the bookings it hits ---------------------------------------------------------


def test_a_status_change_needs_a_reason_and_is_audited(manager, instrument):
    with pytest.raises(ValidationError) as refused:
        catalogue.change_instrument_status(db.session, manager, instrument, "maintenance", " ",
                                           now=NOW)
    assert "reason" in problems_of(refused)

    assert catalogue.change_instrument_status(db.session, manager, instrument, "maintenance",
                                              "Annual calibration", now=NOW)
    assert (instrument.status, instrument.status_reason) == \
        (InstrumentStatus.MAINTENANCE, "Annual calibration")
    assert catalogue.change_instrument_status(db.session, manager, instrument, "available",
                                              "Calibrated", now=NOW)
    db.session.commit()
    assert instrument.status_reason == ""  # only shown while out of service
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.from_state, e.to_state, e.note) for e in events] == [
        ("available", "maintenance", "Annual calibration"), ("maintenance", "available",
                                                             "Calibrated")]


def test_the_same_status_and_reason_again_changes_nothing(manager, instrument):
    catalogue.change_instrument_status(db.session, manager, instrument, "retired", "Old",
                                       now=NOW)
    assert not catalogue.change_instrument_status(db.session, manager, instrument, "retired",
                                                  "Old", now=NOW)


def test_maintenance_lists_the_upcoming_bookings_and_cancels_the_chosen_ones(manager,
                                                                           instrument):
    researcher = create_user()
    now = lab_time(MONDAY, 8)
    past = create_booking(instrument=instrument, user=researcher,
                          start_at=lab_time(MONDAY - dt.timedelta(days=7), 10))
    in_use = create_booking(instrument=instrument, user=researcher, state=BookingState.IN_USE,
                            start_at=lab_time(MONDAY, 7), end_at=lab_time(MONDAY, 9))
    first = create_booking(instrument=instrument, user=researcher,
                           start_at=lab_time(MONDAY, 10))
    second = create_booking(instrument=instrument, user=researcher, state=BookingState.PENDING,
                            start_at=lab_time(MONDAY, 14))
    kept = create_booking(instrument=instrument, user=researcher,
                          start_at=lab_time(MONDAY, 16))
    cancelled = create_booking(instrument=instrument, user=researcher,
                               state=BookingState.CANCELLED, start_at=lab_time(MONDAY, 12))

    upcoming = closures.bookings_ahead(db.session, instrument, now=now)
    assert [b.id for b in upcoming] == [in_use.id, first.id, second.id, kept.id]
    assert past not in upcoming and cancelled not in upcoming

    with pytest.raises(Conflict):  # still available: its bookings stand
        closures.cancel_bookings_ahead(db.session, manager, instrument, [first.id],
                                       notice="Calibration", now=now)
    catalogue.change_instrument_status(db.session, manager, instrument, "maintenance",
                                       "Calibration", now=now)
    with pytest.raises(ValidationError):  # a notice is required
        closures.cancel_bookings_ahead(db.session, manager, instrument, [first.id],
                                       notice=" ", now=now)
    with pytest.raises(ValidationError):  # not one of its upcoming bookings
        closures.cancel_bookings_ahead(db.session, manager, instrument, [past.id],
                                       notice="Calibration", now=now)

    done = closures.cancel_bookings_ahead(db.session, manager, instrument,
                                          [in_use.id, first.id, second.id],
                                          notice="Calibration until Friday", now=now)
    db.session.commit()
    assert [b.id for b in done] == [first.id, second.id]  # the one in use is left alone
    assert first.state == second.state == BookingState.CANCELLED
    assert not first.is_late_cancellation  # cancelled by the lab, never billed as late
    assert (in_use.state, kept.state) == (BookingState.IN_USE, BookingState.APPROVED)
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "bookings", AuditEvent.object_id == first.id)).one()
    assert (event.action, event.note) == ("cancel", "Calibration until Friday")


def test_an_instrument_out_of_service_cannot_be_booked(manager, instrument):
    catalogue.change_instrument_status(db.session, manager, instrument, "retired",
                                       "Replaced by NEM-002", now=NOW)
    db.session.commit()
    start = lab_time(MONDAY, 9)
    with pytest.raises(booking_services.BookingRefused) as refused:
        booking_services.create_booking(db.session, create_user(), instrument_id=instrument.id,
                                        start=start, end=start + dt.timedelta(hours=1),
                                        purpose="XRD", now=booking_services_now())
    assert "instrument_unavailable" in {p.code for p in refused.value.problems}


# -- testing services -----------------------------------------------------------------------------


def service_values(category, instruments, **changes) -> dict:
    return {"category_id": category.id, "name_zh": "拉伸试验", "name_en": "Tensile test",
            "standard": "GB/T 228.1-2021", "sample_requirements_zh": "哑铃形试样",
            "sample_requirements_en": "Dumbbell specimens", "turnaround_days": 5,
            "price_internal": Decimal("100.00"), "price_partner": Decimal("150.00"),
            "price_external": Decimal("200.00"), "express_surcharge_percent": 50,
            "instrument_ids": [i.id for i in instruments], **changes}


def test_a_new_testing_service_is_checked_like_the_files_and_audited(manager, lab,
                                                                     instrument):
    category = create_category()
    foreign = create_instrument(lab=create_lab(code="MFG"))
    create_service(lab=lab, instruments=[instrument], name_en="Hardness test")
    cases = [
        ({"price_partner": Decimal("90.00")}, "price_internal", "cheaper"),
        ({"instrument_ids": []}, "instrument_ids", "Choose the instruments"),
        ({"instrument_ids": [foreign.id]}, "instrument_ids", "own lab"),
        ({"turnaround_days": 0}, "turnaround_days", "from 1 to 365"),
        ({"express_surcharge_percent": 301}, "express_surcharge_percent", "from 0 to 300"),
        ({"name_en": "Hardness test"}, "name_en", "Another testing service"),
        ({"code": "NEM-001"}, "code", "NEM-S001"),
    ]
    for changes, field, message in cases:
        with pytest.raises(ValidationError) as refused:
            catalogue.create_service(db.session, manager, lab, {
                "code": "NEM-S100", **service_values(category, [instrument], **changes)},
                now=NOW)
        assert message in problems_of(refused)[field]

    service = catalogue.create_service(
        db.session, manager, lab, {"code": "NEM-S100",
                                   **service_values(category, [instrument])}, now=NOW)
    db.session.commit()
    assert service.is_active and service.instruments == [instrument]
    assert "gb/t 228.1-2021" in service.search_text
    event = db.session.scalars(select(AuditEvent)).one()
    assert event.details["instruments"] == ["NEM-001"]


def test_a_retired_testing_service_takes_no_new_requests(manager, instrument):
    service = create_service(lab=instrument.lab, instruments=[instrument])
    assert catalogue.set_service_offered(db.session, manager, service, offered=False, now=NOW)
    assert not catalogue.set_service_offered(db.session, manager, service, offered=False,
                                             now=NOW)
    db.session.commit()
    with pytest.raises(ValidationError) as refused:
        orders.quote_order(db.session, create_user(), orders.OrderInput(lines=[
            orders.LineInput(service_id=service.id, samples=[
                orders.SampleInput(name="钢", quantity="1")])]))
    assert refused.value.code == "unknown_service"
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.from_state, event.to_state) == ("retire", "active", "retired")


def test_editing_a_testing_service_records_its_instruments_change(manager, lab, instrument):
    second = create_instrument(lab=lab, code="NEM-002")
    service = create_service(lab=lab, instruments=[instrument])
    values = service_values(service.category, [instrument, second], name_en=service.name_en,
                            name_zh=service.name_zh)
    changes = catalogue.update_service(db.session, manager, service, values, now=NOW)
    db.session.commit()
    assert changes["instruments"] == ("NEM-001", "NEM-001; NEM-002")
    assert [i.code for i in service.instruments] == ["NEM-001", "NEM-002"]


# -- importing the catalogue files ----------------------------------------------------------------


TODAY = dt.date(2026, 11, 27)


@pytest.fixture
def loaded():
    load_catalogue(db.session, TODAY)


def shipped_files(change=None) -> list[tuple[str, bytes]]:
    """The shipped catalogue files as uploaded, ``change(name, rows)`` applied to each."""
    uploads = []
    for name in FILE_ORDER:
        with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        if change:
            change(name, rows)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        uploads.append((name, buffer.getvalue().encode()))
    return uploads


def rename_first_instrument(name, rows):
    if name == "instruments.csv":
        rows[1][rows[0].index("name_en")] = "Renamed by the file"


def test_a_preview_lists_what_changes_and_changes_nothing(loaded):
    admin = create_admin()
    preview = catalogue.preview_import(db.session, admin, shipped_files(rename_first_instrument),
                                       today=TODAY)
    db.session.commit()

    assert preview.report.updated["instruments"] == 1
    assert preview.report.unchanged["instruments"] == 162
    [change] = [c for c in preview.report.changes if c.kind == "instruments"]
    assert change.changes["name_en"][1] == "Renamed by the file"
    # its services are found by its names too
    assert {tuple(c.changes) for c in preview.report.changes if c.kind == "services"} == \
        {("search_text",)}
    assert db.session.scalar(select(func.count()).where(
        Instrument.name_en == "Renamed by the file")) == 0


def test_applying_the_preview_changes_and_audits_each_row(loaded):
    admin = create_admin()
    preview = catalogue.preview_import(db.session, admin, shipped_files(rename_first_instrument),
                                       today=TODAY)
    with write_transaction(db.session):
        report = catalogue.apply_import(db.session, admin, preview.payload,
                                        preview.fingerprint, now=NOW)
    assert report.updated["instruments"] == 1
    instrument = db.session.scalar(select(Instrument).where(
        Instrument.name_en == "Renamed by the file"))
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.object_type == "instruments")).one()
    assert (event.object_id, event.action) == (instrument.id, "update")
    assert event.details["source"] == "catalogue import"
    assert event.details["changes"]["name_en"][1] == "Renamed by the file"


def test_a_change_made_after_the_preview_stops_the_import(loaded):
    admin = create_admin()
    preview = catalogue.preview_import(db.session, admin, shipped_files(rename_first_instrument),
                                       today=TODAY)
    instrument = db.session.scalars(select(Instrument).order_by(Instrument.code)).first()
    with write_transaction(db.session):
        catalogue.update_instrument(db.session, admin, instrument,
                                    values_of(instrument, room="Z999"), now=NOW)
    with pytest.raises(catalogue.ImportChanged), write_transaction(db.session):
        catalogue.apply_import(db.session, admin, preview.payload, preview.fingerprint, now=NOW)
    assert db.session.scalar(select(func.count()).where(
        Instrument.name_en == "Renamed by the file")) == 0


def test_opening_hours_from_an_import_reach_the_booking_rules_at_once(loaded):
    """The booking rules read the labs' hours from a per-process cache: a preview (rolled
    back) must leave it right, and an applied import must be seen at once."""
    def shorter_mondays(name, rows):
        if name == "labs.csv":
            for row in rows[1:]:
                row[rows[0].index("mon")] = "09:00-12:00"

    admin = create_admin()
    lab = db.session.scalar(select(Lab).where(Lab.code == "NEM"))
    before = schedule.lab_schedule(db.session, lab.id).hours[0]
    preview = catalogue.preview_import(db.session, admin, shipped_files(shorter_mondays),
                                       today=TODAY)
    db.session.commit()
    assert schedule.lab_schedule(db.session, lab.id).hours[0] == before
    with write_transaction(db.session):
        catalogue.apply_import(db.session, admin, preview.payload, preview.fingerprint, now=NOW)
    assert schedule.lab_schedule(db.session, lab.id).hours[0] == [(dt.time(9), dt.time(12))]


def test_a_broken_file_says_where_and_changes_nothing(loaded):
    def spoil(name, rows):
        if name == "services.csv":
            rows[5][rows[0].index("turnaround_days")] = "soon"

    with pytest.raises(CatalogueError) as refused:
        catalogue.preview_import(db.session, create_admin(), shipped_files(spoil), today=TODAY)
    error = refused.value.errors[0]
    assert (error.file, error.line, error.column) == ("services.csv", 6, "turnaround_days")


def test_a_zip_in_a_folder_is_unpacked_and_other_files_are_set_aside():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in shipped_files():
            archive.writestr(f"data/{name}", content)
        archive.writestr("data/search_aliases.csv", b"alias,term\n")
    files, ignored = catalogue.unpack_upload([("catalogue.zip", buffer.getvalue())])
    assert sorted(files) == sorted(FILE_ORDER)
    assert ignored == ["search_aliases.csv"]


def many_files_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(catalogue.MAX_ZIP_ENTRIES + 1):
            archive.writestr(f"{n}.csv", b"")
    return buffer.getvalue()


@pytest.mark.parametrize(("uploads", "message"), [
    ([("catalogue.zip", b"not a zip")], "cannot be read"),
    ([("notes.txt", b"hello")], "None of the files"),
    ([("labs.csv", b"x"), ("labs.csv", b"y")], "twice"),
    ([("labs.csv", b"x" * (catalogue.MAX_IMPORT_BYTES + 1))], "larger than"),
    ([("many.zip", many_files_zip())], "more than 100 files"),
])
def test_unusable_uploads_are_refused(uploads, message):
    with pytest.raises(ValidationError, match=message):
        catalogue.unpack_upload(uploads)


def test_files_too_large_to_carry_through_the_confirmation_are_refused(loaded, monkeypatch):
    monkeypatch.setattr(catalogue, "MAX_PAYLOAD_CHARS", 1000)
    with pytest.raises(ValidationError, match="load-catalogue"):
        catalogue.preview_import(db.session, create_admin(), shipped_files(), today=TODAY)


def test_only_admins_import(manager):
    with pytest.raises(PermissionDenied):
        catalogue.preview_import(db.session, manager, shipped_files(), today=TODAY)


# -- the command line's init keeps what was edited in labbook -----------------------------


def test_keep_existing_adds_new_rows_and_leaves_edited_ones(tmp_path: Path):
    load_catalogue(db.session, TODAY)
    admin = create_admin()
    instrument = db.session.scalars(select(Instrument).order_by(Instrument.code)).first()
    with write_transaction(db.session):
        catalogue.update_instrument(db.session, admin, instrument,
                                    values_of(instrument, max_minutes=120), now=NOW)
    db.session.execute(TestingService.__table__.delete().where(
        TestingService.code == db.session.scalar(select(func.max(TestingService.code)))))
    db.session.commit()

    report = load_catalogue(db.session, TODAY, keep_existing=True)

    assert report.created["services"] == 1
    assert report.kept["instruments"] == 1 and report.updated.total() == 0
    assert "1 kept as edited" in report.summary()
    db.session.refresh(instrument)
    assert instrument.max_minutes == 120
    assert db.session.scalar(select(func.count()).select_from(Lab)) == 3
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    load_catalogue(db.session, TODAY, copy)  # an explicit load: the files win
    db.session.refresh(instrument)
    assert instrument.max_minutes != 120
