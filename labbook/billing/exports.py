"""A statement as a table, and that table as CSV and XLSX.

Both files carry the statement's heading (number, organization, USCC, period, state), one row
per line (with who booked it and the project or PO reference given), a subtotal per lab and a
total. Amounts stay numbers (Decimal in the table, plain
numbers in CSV, numeric cells in XLSX) so that a spreadsheet can add them up; only text is
guarded against being read as a formula. ``labbook.core.tables`` writes both files, as it does
the reports'.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from labbook.billing.labels import STATE_LABELS
from labbook.billing.lines import (
    booked_by,
    computation,
    describe,
    kind_label,
    line_date,
    project_ref,
)
from labbook.billing.models import Charge, ChargeKind, Statement
from labbook.billing.services import lab_subtotals
from labbook.core.tables import Cell, Column, Kind, Table, to_csv, to_xlsx
from labbook.i18n import localized


def statement_heading(statement: Statement) -> list[tuple[str, str]]:
    """The label/value pairs printed above the table."""
    return [(_("Statement"), statement.number),
            (_("Organization"), statement.organization.name),
            (_("Unified social credit code"), statement.organization.uscc),
            (_("Period"), statement.period),
            (_("State"), str(STATE_LABELS[statement.state]))]


def _columns() -> list[Column]:
    return [Column("date", _("Date"), width=12),
            Column("lab", _("Lab"), width=10),
            Column("kind", _("Kind"), width=14),
            Column("description", _("Description"), width=48, wrap=True),
            Column("booked_by", _("Booked or requested by"), width=16),
            Column("project_ref", _("Project or PO reference"), width=20, wrap=True),
            Column("computation", _("Computation"), width=60, wrap=True),
            Column("quantity", _("Quantity"), Kind.COUNT, width=10),
            Column("unit", _("Unit"), width=8),
            Column("rate", _("Rate (¥/h or ¥/sample)"), Kind.MONEY, width=12),
            # A whole percent: a count's format keeps "100" from showing as "100.0".
            Column("share", _("Share %"), Kind.COUNT, width=8),
            Column("amount", _("Amount (¥)"), Kind.MONEY, width=14)]


def _quantity(charge: Charge) -> tuple[int | None, str, Decimal | None]:
    """Quantity, its unit and the price per unit of rate (hour or sample)."""
    if charge.kind == ChargeKind.SERVICE:
        return charge.samples, _("samples"), charge.unit_price
    if charge.kind == ChargeKind.ADJUSTMENT:
        return None, "", None
    return charge.billed_minutes, _("min"), charge.unit_price


def _line_row(charge: Charge) -> tuple[Cell, ...]:
    quantity, unit, price = _quantity(charge)
    share = None if charge.kind == ChargeKind.ADJUSTMENT else charge.share_percent
    person = booked_by(charge)
    return (line_date(charge), charge.lab.code, kind_label(charge.kind), describe(charge),
            person.name if person else None, project_ref(charge) or None,
            computation(charge), quantity, unit, price, share, charge.amount)


def _sum_row(label: str, amount: Decimal) -> tuple[Cell, ...]:
    return (None, None, None, label, None, None, None, None, None, None, None, amount)


def _voucher_parts(lines: list[Charge]) -> tuple[Cell, Cell]:
    voucher = sum((line.voucher_amount for line in lines), Decimal("0.00"))
    return voucher, sum((line.amount for line in lines), Decimal("0.00")) - voucher


def statement_table(statement: Statement, lines: list[Charge]) -> Table:
    """The ``lines`` grouped by lab with a subtotal each, and their total; when innovation
    vouchers pay part of the lines, each row also has its voucher part and own part.

    ``lines`` are what the reader may see (a lab manager: only their labs' lines); when that is
    not the whole statement, the total row totals the lines shown, not the statement.
    """
    with_vouchers = any(line.voucher_amount for line in lines)

    def parts(row: tuple[Cell, ...], covered: list[Charge]) -> tuple[Cell, ...]:
        return row + _voucher_parts(covered) if with_vouchers else row

    rows: list[tuple[Cell, ...]] = []
    subtotals = []
    total = Decimal("0.00")
    for group in lab_subtotals(lines):
        rows += [parts(_line_row(charge), [charge]) for charge in group.lines]
        subtotals.append(len(rows))
        rows.append(parts(_sum_row(_("Subtotal %(lab)s %(name)s", lab=group.lab.code,
                                      name=localized(group.lab, "name")), group.total),
                          group.lines))
        total += group.total
    whole = {charge.id for charge in lines} == {charge.id for charge in statement.charges}
    columns = _columns()
    if with_vouchers:
        columns += [Column("voucher", _("Voucher part (¥)"), Kind.MONEY, width=14),
                    Column("own", _("Own part (¥)"), Kind.MONEY, width=14)]
    return Table(columns, rows,
                 parts(_sum_row(_("Total") if whole else _("Total of the lines shown"), total),
                       lines),
                 subtotals)


def export_filename(statement: Statement, extension: str) -> str:
    return f"{statement.number}.{extension}"


def statement_csv(statement: Statement, lines: list[Charge]) -> bytes:
    return to_csv(statement_table(statement, lines), statement_heading(statement))


def statement_xlsx(statement: Statement, lines: list[Charge]) -> bytes:
    return to_xlsx(statement_table(statement, lines), statement.number,
                   statement_heading(statement))
