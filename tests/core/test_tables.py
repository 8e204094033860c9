"""The generic table writer: CSV with a BOM and guarded text, XLSX with numeric cells."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from openpyxl import load_workbook

from labbook.core.tables import Column, Kind, Table, to_csv, to_xlsx

EVIL = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


def table() -> Table:
    return Table([Column("name", "Name"), Column("count", "Count", Kind.COUNT),
                  Column("amount", "Amount (¥)", Kind.MONEY),
                  Column("share", "Share (%)", Kind.PERCENT),
                  Column("day", "Day")],
                 [(text, 3, Decimal("-30.50"), Decimal("12.5"), dt.date(2025, 3, 7))
                  for text in EVIL] + [("普通", 0, Decimal("0.00"), None, None)],
                 ("Total", 18, Decimal("-183.00"), None, None))


def test_csv_has_a_bom_escapes_formula_text_and_keeps_numbers():
    data = to_csv(table(), [("Report", "=report"), ("Period", "2025-03")])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[:3] == [["Report", "'=report"], ["Period", "2025-03"], []]
    assert rows[3] == ["Name", "Count", "Amount (¥)", "Share (%)", "Day"]
    assert [row[0] for row in rows[4:10]] == ["'" + text for text in EVIL]
    # Negative numbers are numbers, not formulas, and stay unescaped.
    assert rows[4][1:] == ["3", "-30.50", "12.5", "2025-03-07"]
    assert rows[10] == ["普通", "0", "0.00", "", ""]
    assert rows[11] == ["Total", "18", "-183.00", "", ""]


def test_xlsx_cells_are_numbers_or_text_never_formulas():
    book = load_workbook(io.BytesIO(to_xlsx(table(), "Revenue: 2025/03 [A]",
                                            [("Report", "@x")])))
    sheet = book.active
    assert sheet.title == "Revenue  2025 03  A "
    assert sheet["B1"].value == "@x" and sheet["B1"].data_type == "s"
    assert [cell.value for cell in sheet[3]] == ["Name", "Count", "Amount (¥)", "Share (%)",
                                                 "Day"]
    first = sheet[4]
    assert first[0].value == EVIL[0] and first[0].data_type == "s"
    assert first[1].value == 3 and first[1].data_type == "n"
    assert first[2].value == -30.5 and first[2].number_format == '"¥"#,##0.00'
    assert first[3].value == 12.5 and first[3].number_format == "0.0"
    assert first[4].value.date() == dt.date(2025, 3, 7)
    total = sheet[11]
    assert total[0].font.bold and total[2].value == -183
    assert not [cell for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
