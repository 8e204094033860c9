"""The testing agreement (委托协议书) of an order as an A4 PDF: the parties, the services
ordered with their quoted amounts, what becomes of the remains, the report's language, the
lab's terms, and the customer's confirmation (or the lines to sign it on paper)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import pgettext
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from labbook.core.money import format_money
from labbook.core.time import to_lab_time
from labbook.documents.model import AgreementDocument
from labbook.documents.pdf import (
    RULE,
    Margins,
    PageFurniture,
    Styles,
    build_pdf,
    field_table,
    format_day,
    grid_table,
    in_language,
    layout_table,
    paragraph,
    paragraphs,
    styles,
)
from labbook.i18n import lazy_gettext as _l

#: What becomes of the samples' remains once the order is done.
REMAINS_LABELS = {
    "return": _l("Returned to the customer"),
    "dispose": _l("Disposed of by the laboratory"),
}
#: The languages a report can be issued in, as the agreement names them.
REPORT_LANGUAGE_LABELS = {
    "zh_CN": _l("Chinese"),
    "en": _l("English"),
}
NONE_WRITTEN = "—"
CONTENT_WIDTH = Margins().content_width()


def render_agreement(doc: AgreementDocument) -> bytes:
    """The agreement as PDF bytes, in ``doc.language``; the same document gives the same
    bytes."""
    if doc.remains not in REMAINS_LABELS:
        raise ValueError(f"remains are one of {sorted(REMAINS_LABELS)}, not {doc.remains!r}")
    if doc.report_language not in REPORT_LANGUAGE_LABELS:
        raise ValueError(f"a report is issued in one of {sorted(REPORT_LANGUAGE_LABELS)}, "
                         f"not {doc.report_language!r}")
    with in_language(doc.language):
        style = styles(doc.language)
        furniture = PageFurniture(
            running_head=doc.lab_name,
            running_head_right=_("Order number: %(number)s", number=doc.order_number))
        return build_pdf(_story(doc, style), language=doc.language, title=doc.order_number,
                         author=doc.lab_name, subject=pgettext("document", "Testing agreement"),
                         furniture=furniture)


def _story(doc: AgreementDocument, style: Styles) -> list[Flowable]:
    story: list[Flowable] = [paragraph(pgettext("document", "Testing agreement"), style.title),
                             Spacer(1, 3 * mm)]
    story.append(field_table([
        (pgettext("document", "Order number"), doc.order_number),
        (pgettext("document", "Laboratory"), doc.lab_name),
        (pgettext("document", "Customer"), doc.customer_name),
        (pgettext("document", "Contact person"), doc.contact_name),
        (pgettext("document", "Telephone"), doc.contact_phone),
        (pgettext("document", "Email"), doc.contact_email),
    ], [24 * mm, 65 * mm, 24 * mm, 65 * mm], style, columns=2))

    story.append(paragraph(pgettext("document", "Services ordered"), style.heading))
    express = {True: pgettext("document", "Yes"), False: pgettext("document", "No")}
    rows = [[line.service_code, line.service_name, line.method, str(line.samples),
             express[line.express], format_money(line.amount)] for line in doc.lines]
    rows.append(["", pgettext("document", "Total"), "",
                 str(sum(line.samples for line in doc.lines)), "", format_money(doc.total)])
    story.append(grid_table(
        [pgettext("document", "Service code"), pgettext("document", "Service"),
         pgettext("document", "Method"), pgettext("document", "Number of samples"),
         pgettext("document", "Express"), pgettext("document", "Amount")],
        rows, [26 * mm, 52 * mm, 36 * mm, 18 * mm, 16 * mm, 30 * mm], style,
        right_aligned=(3, 5), total_rows=1))

    story.append(Spacer(1, 3 * mm))
    story.append(field_table([
        (pgettext("document", "Sample remains"), str(REMAINS_LABELS[doc.remains])),
        (pgettext("document", "Report language"),
         str(REPORT_LANGUAGE_LABELS[doc.report_language])),
        (pgettext("document", "Notes"), doc.notes or NONE_WRITTEN),
    ], [36 * mm, CONTENT_WIDTH - 36 * mm], style))

    story.append(paragraph(pgettext("document", "Terms"), style.heading))
    story += paragraphs(doc.terms, style.body) or [paragraph(NONE_WRITTEN, style.body)]
    story.append(Spacer(1, 5 * mm))
    story.append(KeepTogether([_confirmation(doc, style)]))
    return story


def _confirmation(doc: AgreementDocument, style: Styles) -> Flowable:
    """The customer's confirmation in labbook, or the two parties' lines to sign on paper."""
    if doc.confirmed_at is not None:
        moment = to_lab_time(doc.confirmed_at)
        return paragraph(_("Confirmed by the customer in labbook on %(day)s at %(time)s "
                           "(Beijing time).", day=format_day(moment.date()),
                           time=moment.strftime("%H:%M")), style.body)
    gap = 12 * mm
    half = (CONTENT_WIDTH - gap) / 2
    return layout_table(
        [[paragraph(_("Customer (signature and seal)"), style.body), "",
          paragraph(_("Laboratory (signature and seal)"), style.body)],
         ["", "", ""],
         [paragraph(pgettext("document", "Date:"), style.cell), "",
          paragraph(pgettext("document", "Date:"), style.cell)]],
        [half, gap, half],
        [("LINEBELOW", (0, 1), (0, 1), 0.4, RULE), ("LINEBELOW", (2, 1), (2, 1), 0.4, RULE)],
        heights=[None, 16 * mm, None])
