"""Statement exports: the table, CSV (escaped text, plain numbers) and XLSX read back."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook

from labbook.billing import services as billing
from labbook.billing.exports import statement_csv, statement_table, statement_xlsx
from labbook.billing.models import ChargeKind
from labbook.booking.models import BookingState
from labbook.extensions import db
from tests.factories import (
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_organization,
    create_service,
    create_statement,
    create_user,
    lab_time,
)

EVIL = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


@pytest.fixture(autouse=True)
def _english():
    with force_locale("en"):
        yield


@pytest.fixture
def statement():
    organization = create_organization(name="=cmd|' /C calc'!A0 焦作新材料有限公司")
    food = create_lab(code="FOOD", name_en="Green Food Lab")
    nem = create_lab(code="NEM", name_en="New-Energy Materials Lab")
    service = create_service(lab=food, code="FOOD-S001", name_en="Pesticide residues")
    lines = [
        create_charge(organization=organization, lab=nem, amount=Decimal("28.13"),
                      reason="+ calibration", occurred_at=lab_time(dt.date(2026, 11, 3), 9)),
        create_charge(organization=organization, lab=nem, amount=Decimal("-12.50"),
                      reason="-credit for downtime",
                      occurred_at=lab_time(dt.date(2026, 11, 2), 9)),
        create_charge(organization=organization, lab=food, kind=ChargeKind.SERVICE,
                      service=service, samples=5, unit_price=Decimal("120.00"),
                      surcharge=Decimal("300.00"), amount=Decimal("900.00"), reason="",
                      occurred_at=lab_time(dt.date(2026, 11, 20), 15)),
    ]
    return create_statement(lines, number="LB-2026-000042", period="2026-11")


def test_the_table_groups_by_lab_with_subtotals_and_a_total(statement):
    table = statement_table(statement, list(statement.charges))
    rows = table.rows
    assert len(rows) == 5 and list(table.subtotals) == [1, 4]
    food, nem_credit, nem_charge = rows[0], rows[2], rows[3]
    assert food[:3] == (dt.date(2026, 11, 20), "FOOD", "Testing service")
    assert food[7:] == (5, "samples", Decimal("120.00"), 100, Decimal("900.00"))
    assert nem_credit[0] == dt.date(2026, 11, 2)
    assert nem_charge[-1] == Decimal("28.13")
    assert rows[1][-1] == Decimal("900.00")
    assert rows[4][-1] == Decimal("15.63")
    assert table.total[3] == "Total"
    assert table.total[-1] == Decimal("915.63") == statement.total


def test_a_partial_view_totals_only_the_lines_shown(statement):
    nem_lines = [line for line in statement.charges if line.lab.code == "NEM"]
    table = statement_table(statement, nem_lines)
    assert "FOOD" not in {row[1] for row in table.rows}
    assert table.total[3] == "Total of the lines shown"
    assert table.total[-1] == Decimal("15.63")


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_has_a_bom_the_heading_and_escaped_text(statement):
    rows = read_csv(statement_csv(statement, list(statement.charges)))
    assert rows[0] == ["Statement", "LB-2026-000042"]
    assert rows[1] == ["Organization", "'=cmd|' /C calc'!A0 焦作新材料有限公司"]
    assert rows[3] == ["Period", "2026-11"]
    assert rows[4] == ["State", "Draft"]
    descriptions = {row[3]: row for row in rows[6:]}
    assert "'Adjustment: + calibration" not in descriptions  # only a leading trigger is escaped
    assert "Adjustment: + calibration" in descriptions
    credit = descriptions["Adjustment: -credit for downtime"]
    # Amounts are plain numbers, even negative ones: a leading minus is not escaped.
    assert credit[-1] == "-12.50"
    assert rows[-1][3] == "Total" and rows[-1][-1] == "915.63"


@pytest.mark.parametrize("text", EVIL)
def test_every_formula_trigger_in_text_is_escaped(text):
    organization = create_organization(name=text)
    charge = create_charge(organization=organization, reason="x")
    statement = create_statement([charge])
    rows = read_csv(statement_csv(statement, [charge]))
    assert rows[1][1] == "'" + text


def test_csv_amounts_are_numbers_and_the_total_is_the_sum_of_the_lines(statement):
    rows = read_csv(statement_csv(statement, list(statement.charges)))
    lines = [row for row in rows[7:-1] if row[0]]
    assert sum(Decimal(row[-1]) for row in lines) == Decimal(rows[-1][-1])


def test_xlsx_reads_back_with_numbers_dates_and_no_formulas(statement):
    book = load_workbook(io.BytesIO(statement_xlsx(statement, list(statement.charges))))
    sheet = book.active
    assert sheet.title == "LB-2026-000042"
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:2] == ["Statement", "LB-2026-000042"]
    assert values[1][:2] == ["Organization", "=cmd|' /C calc'!A0 焦作新材料有限公司"]
    assert values[2][:2] == ["Unified social credit code", statement.organization.uscc]
    assert values[3][:2] == ["Period", "2026-11"]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    assert sheet["B2"].data_type == "s"
    table = values[6:]
    amounts = [row[-1] for row in table[1:]]
    assert all(isinstance(amount, int | float) for amount in amounts)
    assert [Decimal(str(a)).quantize(Decimal("0.01")) for a in amounts] == [
        Decimal("900.00"), Decimal("900.00"), Decimal("-12.50"), Decimal("28.13"),
        Decimal("15.63"), Decimal("915.63")]
    first_line = sheet.cell(row=8, column=1)
    assert first_line.is_date and first_line.value.date() == dt.date(2026, 11, 20)
    assert sheet.cell(row=8, column=12).number_format == '"¥"#,##0.00'
    total = sheet.cell(row=sheet.max_row, column=12)
    assert total.font.bold and sheet.cell(row=sheet.max_row, column=4).value == "Total"
    assert sheet.column_dimensions["D"].width > 20


@pytest.fixture
def booked():
    """A statement with one line of instrument time, booked by 李雷 for a purchase order."""
    organization = create_organization()
    instrument = create_instrument(rates={organization.tier: Decimal("60.00")})
    start = lab_time(dt.date(2026, 11, 2), 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=1),
                             user=create_user(organization=organization, name="李雷"),
                             state=BookingState.COMPLETED, project_ref="=PO-2026-118")
    charge = billing.charge_completed_booking(db.session, booking, now=start)
    db.session.commit()
    return create_statement([charge], period="2026-11")


def test_the_files_say_who_booked_each_line_and_the_project_reference(booked):
    rows = read_csv(statement_csv(booked, list(booked.charges)))
    header = rows[6]
    line = dict(zip(header, rows[7], strict=True))
    assert line["Booked or requested by"] == "李雷"
    assert line["Project or PO reference"] == "'=PO-2026-118"  # text, never a formula
    assert header[-1] == "Amount (¥)" and line["Amount (¥)"] == "60.00"
    sheet = load_workbook(io.BytesIO(statement_xlsx(booked, list(booked.charges)))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    line = dict(zip(values[6], values[7], strict=True))
    assert (line["Booked or requested by"], line["Project or PO reference"]) \
        == ("李雷", "=PO-2026-118")


def test_xlsx_drops_control_characters_that_excel_cannot_hold():
    charge = create_charge(reason="bell\x07 here")
    statement = create_statement([charge])
    sheet = load_workbook(io.BytesIO(statement_xlsx(statement, [charge]))).active
    assert sheet.cell(row=8, column=4).value == "Adjustment: bell here"
