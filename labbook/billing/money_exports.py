"""Finance's tables: receivables by age, invoices, and the voucher redemption pack (兑付申请)
that asks an issuing authority to pay the voucher part of a month's lines — as XLSX through
``labbook.core.tables``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from labbook.billing import vouchers
from labbook.billing.labels import (
    AGEING_LABELS,
    INVOICE_KIND_LABELS,
    INVOICE_MEDIUM_LABELS,
    INVOICE_STATE_LABELS,
)
from labbook.billing.lines import describe
from labbook.billing.models import Invoice, StatementState
from labbook.billing.receivables import AgeingRow
from labbook.core.tables import Cell, Column, Kind, Table, to_xlsx
from labbook.core.time import to_lab_time


def receivables_table(rows: list[AgeingRow]) -> Table:
    columns = [Column("organization", _("Organization"), width=36),
               *[Column(f"bucket{index}", str(label), Kind.MONEY, width=14)
                 for index, label in enumerate(AGEING_LABELS)],
               Column("total", _("Outstanding"), Kind.MONEY, width=14),
               Column("statements", _("Statements"), Kind.COUNT, width=10)]
    cells: list[tuple[Cell, ...]] = [(row.name, *row.buckets, row.total, row.statements)
                                     for row in rows]
    sums = tuple(sum((row.buckets[index] for row in rows), Decimal("0.00"))
                 for index in range(4))
    total: tuple[Cell, ...] = (_("Total"), *sums, sum(sums, Decimal("0.00")),
                               sum(row.statements for row in rows))
    return Table(columns, cells, total)


def receivables_xlsx(rows: list[AgeingRow], *, now: dt.datetime) -> bytes:
    return to_xlsx(receivables_table(rows), _("Receivables"),
                   [(_("Receivables by age on"), f"{to_lab_time(now):%Y-%m-%d}")])


def invoices_table(items: list[Invoice]) -> Table:
    columns = [Column("requested", _("Requested"), width=12),
               Column("organization", _("Organization"), width=30),
               Column("title", _("Invoice title"), width=30),
               Column("taxpayer_id", _("Taxpayer ID"), width=20),
               Column("kind", _("Kind"), width=20), Column("medium", _("Medium"), width=10),
               Column("statements", _("Statements"), width=30, wrap=True),
               Column("amount", _("Amount (¥)"), Kind.MONEY, width=14),
               Column("state", _("State"), width=14),
               Column("number", _("Invoice number"), width=20),
               Column("issued_on", _("Invoice date"), width=12),
               Column("issued_amount", _("Invoiced (¥)"), Kind.MONEY, width=14)]
    rows: list[tuple[Cell, ...]] = [(
        to_lab_time(invoice.requested_at).date(), invoice.organization.name, invoice.title,
        invoice.taxpayer_id, str(INVOICE_KIND_LABELS[invoice.kind]),
        str(INVOICE_MEDIUM_LABELS[invoice.medium]),
        ", ".join(cover.statement.number for cover in invoice.covers), invoice.amount,
        str(INVOICE_STATE_LABELS[invoice.state]), invoice.invoice_number, invoice.issued_on,
        invoice.issued_amount) for invoice in items]
    return Table(columns, rows)


def invoices_xlsx(items: list[Invoice]) -> bytes:
    return to_xlsx(invoices_table(items), _("Invoices"))


@dataclass(frozen=True)
class RedemptionLine:
    organization: str
    uscc: str
    voucher_number: str
    statement_number: str
    date: dt.date
    description: str
    line_amount: Decimal
    voucher_amount: Decimal
    #: The enterprise confirmed the statement by paying its own part.
    confirmed: bool


@dataclass(frozen=True)
class RedemptionPack:
    authority: str
    period: str
    lines: list[RedemptionLine]

    @property
    def total(self) -> Decimal:
        return sum((line.voucher_amount for line in self.lines), Decimal("0.00"))


def redemption_pack(session: Session, authority: str, period: str) -> RedemptionPack:
    """What ``authority``'s vouchers paid of the lines of ``period``'s issued statements (net
    of what corrections gave back), line by line."""
    lines = [RedemptionLine(
        organization=use.statement.organization.name, uscc=use.statement.organization.uscc,
        voucher_number=use.voucher.number, statement_number=use.statement.number,
        date=to_lab_time(use.charge.occurred_at).date(), description=describe(use.charge),
        line_amount=use.charge.amount, voucher_amount=use.amount,
        confirmed=use.statement.state == StatementState.PAID)
        for use in vouchers.redemption_lines(session, authority, period)]
    return RedemptionPack(authority, period, lines)


def redemption_heading(pack: RedemptionPack) -> list[tuple[str, str]]:
    return [(_("Voucher redemption request"), pack.authority), (_("Period"), pack.period)]


def redemption_table(pack: RedemptionPack) -> Table:
    columns = [Column("organization", _("Enterprise"), width=30),
               Column("uscc", _("Unified social credit code"), width=20),
               Column("voucher", _("Voucher"), width=18),
               Column("statement", _("Statement"), width=16),
               Column("date", _("Date"), width=12),
               Column("description", _("Description"), width=40, wrap=True),
               Column("line_amount", _("Line amount (¥)"), Kind.MONEY, width=14),
               Column("voucher_amount", _("Voucher part (¥)"), Kind.MONEY, width=14),
               Column("confirmed", _("Enterprise confirmed (own part paid)"), width=14)]
    rows: list[tuple[Cell, ...]] = [(
        line.organization, line.uscc, line.voucher_number, line.statement_number, line.date,
        line.description, line.line_amount, line.voucher_amount,
        _("yes") if line.confirmed else _("no")) for line in pack.lines]
    total: tuple[Cell, ...] = (_("Total"), None, None, None, None, None, None, pack.total, None)
    return Table(columns, rows, total)


def redemption_xlsx(pack: RedemptionPack) -> bytes:
    return to_xlsx(redemption_table(pack), _("Voucher redemption"), redemption_heading(pack))
