"""The test report (检测报告) as an A4 PDF.

Report number, customer, the sample table, methods, results and conclusion, the three
signatures (编制 prepared, 审核 reviewed, 批准 approved) and the issue date, with the report
number, "page x of y" and the QR code of the public verification page on every page.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import pgettext
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer

from labbook.core.time import to_lab_time
from labbook.documents.model import ReportDocument, Signature
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

#: A result's conclusions (printed 合格 / 不合格 / 不判定).
CONCLUSIONS = ("pass", "fail", "not_judged")
#: A result row whose service defines no limit prints this in the limit column.
NO_LIMIT = "—"
CONTENT_WIDTH = Margins().content_width()


def render_report(doc: ReportDocument) -> bytes:
    """The report as PDF bytes, in ``doc.language``; the same document gives the same bytes."""
    unknown = {row.conclusion for row in doc.results} - set(CONCLUSIONS)
    if unknown:
        raise ValueError(f"unknown conclusions {sorted(unknown)}: "
                         f"a result is one of {list(CONCLUSIONS)}")
    with in_language(doc.language):
        style = styles(doc.language)
        story = _story(doc, style)
        furniture = PageFurniture(
            running_head=doc.lab_name,
            running_head_right=_("Report number: %(number)s", number=doc.report_number),
            qr_payload=doc.verification_url,
            qr_caption=_("Scan to verify this report. Verification code: %(code)s",
                         code=doc.verification_code))
        return build_pdf(story, language=doc.language, title=doc.report_number,
                         author=doc.lab_name, subject=pgettext("document", "Test report"),
                         furniture=furniture)


def _story(doc: ReportDocument, style: Styles) -> list[Flowable]:
    story: list[Flowable] = [_masthead(doc, style),
                             paragraph(pgettext("document", "Test report"), style.title)]
    if doc.replaces_number:
        story.append(paragraph(_("Amended report, replacing report %(number)s",
                                 number=doc.replaces_number), style.subtitle))
    else:
        story.append(Spacer(1, 3 * mm))
    story.append(field_table([
        (pgettext("document", "Report number"), doc.report_number),
        (pgettext("document", "Issue date"), format_day(doc.issued_on)),
        (pgettext("document", "Customer"), doc.customer_name),
        (pgettext("document", "Order number"), doc.order_number),
        (pgettext("document", "Customer address"), doc.customer_address),
        (pgettext("document", "Laboratory"), doc.lab_name),
        (pgettext("document", "Laboratory address"), doc.lab_address),
        (pgettext("document", "Telephone"), doc.lab_phone),
    ], [24 * mm, 65 * mm, 24 * mm, 65 * mm], style, columns=2))

    story.append(paragraph(pgettext("document", "Sample information"), style.heading))
    story.append(grid_table(
        [pgettext("document", "Sample number"), pgettext("document", "Sample name"),
         pgettext("document", "Batch"), pgettext("document", "Specification"),
         pgettext("document", "Quantity"), pgettext("document", "Condition"),
         pgettext("document", "Received on")],
        [[sample.number, sample.name, sample.batch, sample.specification, sample.quantity,
          sample.condition, sample.received_on.isoformat()] for sample in doc.samples],
        [31 * mm, 33 * mm, 22 * mm, 25 * mm, 18 * mm, 27 * mm, 22 * mm], style))

    story.append(paragraph(pgettext("document", "Test methods"), style.heading))
    story += [paragraph(f"{number}. {method}", style.body)
              for number, method in enumerate(doc.methods, start=1)]

    story.append(paragraph(pgettext("document", "Test results"), style.heading))
    conclusions = {"pass": pgettext("document", "Pass"),
                   "fail": pgettext("document", "Fail"),
                   "not_judged": pgettext("document", "Not judged")}
    story.append(grid_table(
        [pgettext("document", "Sample number"), pgettext("document", "Test item"),
         pgettext("document", "Method"), pgettext("document", "Measured value"),
         pgettext("document", "Unit"), pgettext("document", "Limit"),
         pgettext("document", "Conclusion")],
        [[row.sample_number, row.item, row.method, row.value, row.unit,
          row.limit or NO_LIMIT, conclusions[row.conclusion]] for row in doc.results],
        [31 * mm, 30 * mm, 31 * mm, 22 * mm, 16 * mm, 28 * mm, 20 * mm], style,
        right_aligned=(3,)))

    story.append(KeepTogether([
        paragraph(pgettext("document", "Overall conclusion"), style.heading),
        *paragraphs(doc.conclusion, style.body),
        Spacer(1, 4 * mm),
        _signatures(doc, style),
        Spacer(1, 4 * mm),
        paragraph(_("The results relate only to the samples tested. This report is void if "
                    "altered and may be reproduced only in full."), style.small),
        paragraph(_("Verify this report at %(url)s with the verification code %(code)s, or "
                    "scan the QR code on any of its pages.", url=doc.verification_url,
                    code=doc.verification_code), style.small),
        # 以下空白: nothing can be added to the report after its last line.
        paragraph(_("(Nothing follows)"), style.small_centred),
    ]))
    return story


def _masthead(doc: ReportDocument, style: Styles) -> Flowable:
    """The lab's name, and its accreditation marks (CMA, CNAS) when it has any."""
    name = paragraph(doc.lab_name, style.heading)
    if not doc.accreditation_marks:
        return name
    marks = layout_table([[paragraph(mark, style.cell_header)
                           for mark in doc.accreditation_marks]],
                         [15 * mm] * len(doc.accreditation_marks),
                         [("BOX", (0, 0), (-1, -1), 0.8, RULE),
                          ("INNERGRID", (0, 0), (-1, -1), 0.8, RULE)])
    marks_width = 15 * mm * len(doc.accreditation_marks)
    return layout_table([[name, marks]], [CONTENT_WIDTH - marks_width, marks_width],
                        [("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                         ("LEFTPADDING", (0, 0), (-1, -1), 0),
                         ("RIGHTPADDING", (0, 0), (-1, -1), 0)])


def _signatures(doc: ReportDocument, style: Styles) -> Flowable:
    """编制, 审核, 批准: each signer's name and the lab-time date they signed."""
    signed: list[tuple[str, Signature]] = [
        (pgettext("document", "Prepared by"), doc.prepared_by),
        (pgettext("document", "Reviewed by"), doc.reviewed_by),
        (pgettext("document", "Approved by"), doc.approved_by)]
    third = CONTENT_WIDTH / 3
    rows = [[paragraph(role, style.cell_header) for role, _signature in signed],
            [paragraph(signature.name, style.body) for _role, signature in signed],
            [paragraph(_("Date: %(day)s", day=format_day(to_lab_time(signature.signed_at)
                                                          .date())), style.cell)
             for _role, signature in signed]]
    return layout_table(rows, [third] * 3, [("LINEBELOW", (0, 1), (-1, 1), 0.4, RULE),
                                            ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                            ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                            ("TOPPADDING", (0, 1), (-1, 1), 3 * mm)])
