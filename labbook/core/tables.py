"""A table of figures, and that table as CSV and XLSX.

Any page that shows numbers in a table can offer them as files with the same rows: numbers stay
numbers (plain in CSV, numeric cells in XLSX) so that a spreadsheet can add them up, and text is
never read as a formula. Labels arrive already translated; nothing here knows about Flask.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import enum
import io
from collections.abc import Collection, Sequence
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

Cell = str | int | Decimal | dt.date | None

#: Text starting with these is a formula (or becomes one) in Excel and LibreOffice.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Excel refuses sheet titles longer than this.
MAX_SHEET_TITLE = 31
#: The files' media types. Werkzeug adds ``charset=utf-8`` to a text type itself.
CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Kind(enum.StrEnum):
    """What a column holds, which decides its alignment and its number format."""

    TEXT = "text"
    COUNT = "count"
    HOURS = "hours"
    PERCENT = "percent"  # a percentage (43.8 means 43.8 %), not a fraction
    MONEY = "money"
    DAYS = "days"

    @property
    def is_number(self) -> bool:
        return self is not Kind.TEXT


NUMBER_FORMATS = {
    Kind.COUNT: "#,##0",
    Kind.HOURS: "#,##0.00",
    Kind.PERCENT: "0.0",
    Kind.MONEY: '"¥"#,##0.00',
    Kind.DAYS: "0.0",
}


@dataclasses.dataclass(frozen=True)
class Column:
    """``width`` (in characters) and ``wrap`` are for XLSX: long texts such as a statement
    line's description stay readable; without a width, the label's length decides."""

    key: str
    label: str
    kind: Kind = Kind.TEXT
    width: int | None = None
    wrap: bool = False


@dataclasses.dataclass
class Table:
    """Columns, rows of cells in column order, and an optional total row.

    ``subtotals`` are the indexes of rows that sum rows above them (a statement's lab
    subtotals); XLSX shows them bold, like the total.
    """

    columns: Sequence[Column]
    rows: list[tuple[Cell, ...]]
    total: tuple[Cell, ...] | None = None
    subtotals: Collection[int] = ()

    def column(self, key: str) -> list[Cell]:
        """The cells of one column, without the total."""
        index = [column.key for column in self.columns].index(key)
        return [row[index] for row in self.rows]


def csv_text(value: Cell) -> str | int | Decimal:
    """A cell as CSV writes it: numbers as they are, text guarded against formulas."""
    if value is None:
        return ""
    if isinstance(value, Decimal | int):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    # A leading quote makes a spreadsheet show the text instead of evaluating it.
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def to_csv(table: Table, heading: Sequence[tuple[str, str]] = ()) -> bytes:
    """The table as UTF-8 CSV with a byte order mark, so that Excel reads Chinese correctly.

    ``heading`` holds label/value pairs (the report, the filters) written above the table.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    for label, value in heading:
        writer.writerow([csv_text(label), csv_text(value)])
    if heading:
        writer.writerow([])
    writer.writerow([csv_text(column.label) for column in table.columns])
    for row in _all_rows(table):
        writer.writerow([csv_text(cell) for cell in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _all_rows(table: Table) -> list[tuple[Cell, ...]]:
    return [*table.rows, table.total] if table.total is not None else list(table.rows)


def _put(sheet, row: int, column: int, value: Cell, *, bold: bool = False):
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        # openpyxl stores text starting with "=" as a formula; force it to stay text.
        cell.data_type = "s"
    else:
        cell.value = value
    if isinstance(value, dt.date):
        cell.number_format = "yyyy-mm-dd"
    if bold:
        cell.font = Font(bold=True)
    return cell


def to_xlsx(table: Table, title: str, heading: Sequence[tuple[str, str]] = ()) -> bytes:
    """The table as an Excel workbook of one sheet: numbers as numbers, never formulas."""
    book = Workbook()
    sheet = book.active
    # Excel forbids these in sheet titles.
    sheet.title = "".join(" " if char in "[]:*?/\\" else char for char in title)[
        :MAX_SHEET_TITLE] or "Sheet1"
    row = 1
    for label, value in heading:
        _put(sheet, row, 1, label, bold=True)
        _put(sheet, row, 2, value)
        row += 1
    if heading:
        row += 1
    wrap = Alignment(wrap_text=True, vertical="top")
    for number, column in enumerate(table.columns, start=1):
        cell = _put(sheet, row, number, column.label, bold=True)
        if column.wrap:
            cell.alignment = wrap
        width = column.width or max(10, min(48, len(column.label) * 2 + 2))
        sheet.column_dimensions[get_column_letter(number)].width = width
    for index, cells in enumerate(_all_rows(table)):
        row += 1
        bold = cells is table.total or index in table.subtotals
        for number, (column, value) in enumerate(zip(table.columns, cells, strict=True),
                                                 start=1):
            cell = _put(sheet, row, number, value, bold=bold)
            if column.kind.is_number:
                cell.number_format = NUMBER_FORMATS[column.kind]
            if column.wrap:
                cell.alignment = wrap
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
