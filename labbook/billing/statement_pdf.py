"""A statement and a voucher redemption pack as PDF (A4), made with the documents' toolkit
(``labbook.documents.pdf``): a statement one can pay from — its lines with their voucher and own
parts, the total to pay in figures and in capitals, the payee, the reference to quote, and the
QR code of its public check on every page; and the redemption pack an issuing authority is
sent with its lines, amounts, statement numbers and the enterprises' confirmation."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from labbook.billing.labels import STATE_LABELS
from labbook.billing.lines import describe, line_date
from labbook.billing.models import Charge, Statement
from labbook.billing.money_exports import RedemptionPack
from labbook.billing.payable import Payee
from labbook.billing.services import lab_subtotals
from labbook.billing.words import amount_in_words
from labbook.core.money import format_money
from labbook.core.time import to_lab_time
from labbook.documents.pdf import (
    Margins,
    PageFurniture,
    build_pdf,
    field_table,
    grid_table,
    in_language,
    paragraph,
    styles,
)
from labbook.i18n import localized

INSTITUTE = {"zh_CN": "焦作市产业技术科学院 · 开放共享实验室",
             "en": "Jiaozuo Institute of Industrial Technology · Open shared laboratories"}


def _statement_story(statement: Statement, lines: list[Charge], payee: Payee,
                     verification_url: str | None, language: str) -> list:
    style = styles(language)
    width = Margins().content_width()
    story = [paragraph(INSTITUTE[language], style.subtitle),
             paragraph(_("Statement %(number)s", number=statement.number), style.title)]
    facts = [(_("Organization"), statement.organization.name),
             (_("Unified social credit code"), statement.organization.uscc),
             (_("Period"), statement.period),
             (_("State"), str(STATE_LABELS[statement.state]))]
    if statement.issued_at is not None:
        facts.append((_("Issued"), to_lab_time(statement.issued_at).strftime("%Y-%m-%d")))
    story.append(field_table(facts, [0.16 * width, 0.34 * width] * 2, style, columns=2))
    rows = []
    for group in lab_subtotals(lines):
        for line in group.lines:
            rows.append([line_date(line).isoformat(), describe(line),
                         format_money(line.amount), format_money(line.voucher_amount),
                         format_money(line.amount - line.voucher_amount)])
        vouchers = sum((line.voucher_amount for line in group.lines), Decimal("0.00"))
        rows.append(["", _("Subtotal %(lab)s", lab=localized(group.lab, "name")),
                     format_money(group.total), format_money(vouchers),
                     format_money(group.total - vouchers)])
    rows.append(["", _("Total"), format_money(statement.total),
                 format_money(statement.voucher_amount), format_money(statement.amount_due)])
    story.append(paragraph(_("Lines"), style.heading))
    story.append(grid_table([_("Date"), _("Description"), _("Amount"), _("Voucher part"),
                             _("Own part")], rows,
                            [0.13 * width, 0.45 * width, 0.14 * width, 0.14 * width,
                             0.14 * width], style, right_aligned=(2, 3, 4), total_rows=1))
    story.append(paragraph(_("Amount to pay"), style.heading))
    pay = [(_("Total to pay"), format_money(statement.amount_due)),
           (_("In words"), "人民币" + amount_in_words(statement.amount_due)),
           (_("Paid so far"), format_money(statement.paid_amount)),
           (_("Still to pay"), format_money(statement.outstanding))]
    pay += [(label, value) for label, value in (
        (_("Payee"), payee.name), (_("Bank"), payee.bank), (_("Account"), payee.account),
        (_("Tax ID"), payee.tax_id)) if value]
    story.append(field_table(pay, [0.25 * width, 0.75 * width], style))
    story.append(paragraph(_("Please quote %(number)s when paying.", number=statement.number),
                           style.body))
    if verification_url:
        story.append(paragraph(_("Verification code") + f": {statement.verification_code} · "
                               + _("Check this statement at") + f" {verification_url}",
                               style.small))
    return story


def render_statement(statement: Statement, lines: list[Charge], payee: Payee,
                     verification_url: str | None, language: str) -> bytes:
    """The statement as an A4 PDF in ``language`` (``zh_CN`` or ``en``), with the QR code of
    its verification page on every page once it is issued."""
    with in_language(language):
        story = _statement_story(statement, lines, payee, verification_url, language)
        caption = _("Verification code") + f" {statement.verification_code}" \
            if verification_url else ""
        return build_pdf(story, language=language, title=statement.number,
                         author=INSTITUTE[language], furniture=PageFurniture(
                             running_head=INSTITUTE[language],
                             running_head_right=statement.number,
                             qr_payload=verification_url, qr_caption=caption))


def render_redemption(pack: RedemptionPack, language: str) -> bytes:
    """The voucher redemption pack (兑付申请) of one authority and month as an A4 PDF."""
    with in_language(language):
        style = styles(language)
        width = Margins().content_width()
        rows = [[line.organization, line.voucher_number, line.statement_number,
                 line.date.isoformat(), line.description, format_money(line.line_amount),
                 format_money(line.voucher_amount), _("yes") if line.confirmed else _("no")]
                for line in pack.lines]
        rows.append([_("Total"), "", "", "", "", "", format_money(pack.total), ""])
        story = [paragraph(INSTITUTE[language], style.subtitle),
                 paragraph(_("Voucher redemption request"), style.title),
                 field_table([(_("Issuing authority"), pack.authority),
                              (_("Period"), pack.period)],
                             [0.2 * width, 0.8 * width], style),
                 paragraph(_("Lines"), style.heading),
                 grid_table([_("Enterprise"), _("Voucher"), _("Statement"), _("Date"),
                             _("Description"), _("Line amount"), _("Voucher part"),
                             _("Enterprise confirmed")], rows,
                            [w * width for w in (0.15, 0.1, 0.13, 0.1, 0.2, 0.11, 0.11, 0.1)],
                            style, right_aligned=(5, 6), total_rows=1),
                 paragraph(_("Amount to redeem") + ": " + format_money(pack.total) + " · "
                           + "人民币" + amount_in_words(pack.total), style.body)]
        return build_pdf(story, language=language,
                         title=_("Voucher redemption request") + f" {pack.period}",
                         author=INSTITUTE[language], margins=Margins(),
                         furniture=PageFurniture(running_head=INSTITUTE[language],
                                                 running_head_right=pack.period))
