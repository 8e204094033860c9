import csv
import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import PriceTier
from labbook.billing.models import RateCard
from labbook.catalogue.loader import DATA_DIR, CatalogueError, load_catalogue, read_catalogue
from labbook.catalogue.models import Instrument, Lab, TestingService
from labbook.extensions import db

TODAY = dt.date(2026, 11, 27)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped catalogue."""
    copy = tmp_path / "data"
    shutil.copytree(DATA_DIR, copy)
    return copy


def rewrite(path: Path, change) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    change(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def column(path: Path, name: str) -> int:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle)).index(name)


def test_shipped_catalogue_has_the_labs_published_figures():
    data = read_catalogue()
    assert len(data.labs) == 3
    assert {row["code"] for row in data.labs} == {"NEM", "FOOD", "MFG"}
    assert len(data.instruments) == 163
    assert len(data.services) == 277
    total = sum(row["value_cny"] for row in data.instruments)
    assert Decimal("124500000") <= total <= Decimal("125500000")


def test_every_lab_has_instruments_and_services_of_its_own():
    data = read_catalogue()
    for lab in ("NEM", "FOOD", "MFG"):
        assert sum(row["lab"] == lab for row in data.instruments) >= 40
        assert sum(row["lab"] == lab for row in data.services) >= 60


def test_loading_fills_the_database():
    report = load_catalogue(db.session, TODAY)

    assert report.created["instruments"] == 163
    assert db.session.scalar(select(func.count()).select_from(Lab)) == 3
    assert db.session.scalar(select(func.count()).select_from(Instrument)) == 163
    assert db.session.scalar(select(func.count()).select_from(TestingService)) == 277
    total = db.session.scalar(select(func.sum(Instrument.value_cny)))
    assert Decimal("124500000") <= total <= Decimal("125500000")
    assert db.session.scalar(select(func.count()).select_from(RateCard)) == 163 * 3


def test_loading_twice_changes_nothing():
    load_catalogue(db.session, TODAY)
    report = load_catalogue(db.session, TODAY)

    assert sum(report.created.values()) == 0
    assert sum(report.updated.values()) == 0
    assert report.unchanged["instruments"] == 163
    assert report.unchanged["services"] == 277


def test_a_changed_row_is_updated_in_place(data_dir):
    load_catalogue(db.session, TODAY, data_dir)
    instruments = data_dir / "instruments.csv"
    name_en, code = column(instruments, "name_en"), column(instruments, "code")

    def rename_first(rows):
        rows[1][name_en] = "Renamed instrument"

    rewrite(instruments, rename_first)
    with instruments.open(encoding="utf-8") as handle:
        first_code = list(csv.reader(handle))[1][code]
    report = load_catalogue(db.session, TODAY, data_dir)

    assert report.updated["instruments"] == 1
    assert report.created["instruments"] == 0
    instrument = db.session.scalar(select(Instrument).where(Instrument.code == first_code))
    assert instrument.name_en == "Renamed instrument"
    assert "renamed instrument" in instrument.search_text


def test_a_rate_change_starts_a_new_rate_card_and_keeps_the_old_one(data_dir):
    load_catalogue(db.session, TODAY, data_dir)
    instruments = data_dir / "instruments.csv"
    rate, code = column(instruments, "rate_external"), column(instruments, "code")
    with instruments.open(encoding="utf-8") as handle:
        first = list(csv.reader(handle))[1]
    old_rate = Decimal(first[rate])

    def raise_rate(rows):
        rows[1][rate] = str(old_rate + Decimal("10.00"))

    rewrite(instruments, raise_rate)
    load_catalogue(db.session, TODAY + dt.timedelta(days=3), data_dir)

    instrument = db.session.scalar(select(Instrument).where(Instrument.code == first[code]))
    assert instrument.current_rate(PriceTier.EXTERNAL, TODAY).hourly_rate == old_rate
    new_card = instrument.current_rate(PriceTier.EXTERNAL, TODAY + dt.timedelta(days=3))
    assert new_card.hourly_rate == old_rate + Decimal("10.00")
    assert new_card.effective_from == TODAY + dt.timedelta(days=3)


@pytest.mark.parametrize(("file", "column_name", "bad_value", "reason"), [
    ("instruments.csv", "value_cny", "12,5万", "not an amount"),
    ("instruments.csv", "value_cny", "100.005", "more than two decimals"),
    # Read as strictly as forms and the API read amounts (labbook.core.money.read_amount).
    ("instruments.csv", "value_cny", "1e5", "not an amount"),
    ("instruments.csv", "rate_external", "1_000", "not an amount"),
    ("services.csv", "price_external", "NaN", "not an amount"),
    ("instruments.csv", "lab", "XYZ", "unknown lab"),
    ("instruments.csv", "category", "no-such-category", "unknown category"),
    ("instruments.csv", "slot_minutes", "abc", "not a whole number"),
    ("instruments.csv", "name_zh", "=HYPERLINK(\"x\")", "formula"),
    ("services.csv", "instruments", "NEM-999", "unknown instrument"),
    ("services.csv", "turnaround_days", "0", "outside"),
    ("labs.csv", "mon", "8:30-17:30", "not HH:MM-HH:MM"),
    ("labs.csv", "contact_phone", "call me", "not valid here"),
    ("labs.csv", "contact_email", "nem.manager", "not valid here"),
    ("labs.csv", "contact_name", " 王磊", "spaces"),
])
def test_a_malformed_row_is_refused_with_file_line_and_reason(data_dir, file, column_name,
                                                              bad_value, reason):
    path = data_dir / file
    index = column(path, column_name)

    def spoil_third_row(rows):
        rows[3][index] = bad_value

    rewrite(path, spoil_third_row)
    with pytest.raises(CatalogueError) as refused:
        load_catalogue(db.session, TODAY, data_dir)

    error = refused.value.errors[0]
    assert (error.file, error.line, error.column) == (file, 4, column_name)
    assert reason in error.reason
    assert f"{file} line 4, column {column_name}" in str(refused.value)
    assert db.session.scalar(select(func.count()).select_from(Lab)) == 0


def test_a_bad_file_leaves_an_earlier_load_untouched(data_dir):
    load_catalogue(db.session, TODAY, data_dir)
    instruments = data_dir / "instruments.csv"
    name_en, lab = column(instruments, "name_en"), column(instruments, "lab")

    def rename_first_and_spoil_last(rows):
        rows[1][name_en] = "Should not be saved"
        rows[-1][lab] = "NOPE"

    rewrite(instruments, rename_first_and_spoil_last)
    with pytest.raises(CatalogueError):
        load_catalogue(db.session, TODAY, data_dir)

    assert db.session.scalar(select(func.count()).where(
        Instrument.name_en == "Should not be saved")) == 0


def test_duplicate_codes_name_both_lines(data_dir):
    instruments = data_dir / "instruments.csv"

    def duplicate_second_row(rows):
        rows.append(list(rows[2]))

    rewrite(instruments, duplicate_second_row)
    with pytest.raises(CatalogueError) as refused:
        read_catalogue(data_dir)
    messages = [str(e) for e in refused.value.errors]
    assert any("repeats line 3" in m and "column code" in m for m in messages)


def test_a_truncated_file_is_caught_by_the_manifest(data_dir):
    services = data_dir / "services.csv"

    def drop_last_row(rows):
        del rows[-1]

    rewrite(services, drop_last_row)
    with pytest.raises(CatalogueError) as refused:
        read_catalogue(data_dir)
    assert any(e.file == "manifest.csv" and "services is 276" in e.reason
               for e in refused.value.errors)


def test_a_missing_column_is_reported_on_the_header_line(data_dir):
    labs = data_dir / "labs.csv"
    sunday = column(labs, "sun")

    def drop_sunday(rows):
        for row in rows:
            del row[sunday]

    rewrite(labs, drop_sunday)
    with pytest.raises(CatalogueError) as refused:
        read_catalogue(data_dir)
    error = refused.value.errors[0]
    assert (error.file, error.line) == ("labs.csv", 1)
    assert "missing sun" in error.reason
