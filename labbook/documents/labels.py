"""Labels: a sheet of sample labels (A4, 3 × 8 labels of 70 × 37 mm, the common self-adhesive
sheet) and an instrument's A6 label, each with its QR code.

A sample label names no language of its own: its few words (order, received) are printed in
the language of whoever prints the sheet.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from flask_babel import get_locale
from flask_babel import gettext as _
from reportlab.lib.pagesizes import A4, A6
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from labbook.documents.model import InstrumentLabel, SampleLabel
from labbook.documents.pdf import (
    FONT_NAME,
    INK,
    QUIET,
    RULE,
    draw_qr,
    fit_lines,
    in_language,
    new_canvas,
)

COLUMNS = 3
ROWS = 8
LABEL_WIDTH = 70 * mm
LABEL_HEIGHT = 37 * mm
#: Inside each label nothing is printed closer than this to its edge.
INSET = 4 * mm
SAMPLE_QR_SIZE = LABEL_HEIGHT - 2 * INSET
INSTRUMENT_QR_SIZE = 64 * mm


def render_sample_labels(labels: Sequence[SampleLabel]) -> bytes:
    """The labels on A4 sheets, row by row, as many pages as they need."""
    if not labels:
        raise ValueError("a label sheet needs at least one label")
    buffer = io.BytesIO()
    canvas = new_canvas(buffer, title=_("Sample labels"), author=labels[0].lab_name,
                        language=_printing_language())
    sheet_width, sheet_height = A4
    left = (sheet_width - COLUMNS * LABEL_WIDTH) / 2
    top = sheet_height - (sheet_height - ROWS * LABEL_HEIGHT) / 2
    per_sheet = COLUMNS * ROWS
    for index, label in enumerate(labels):
        if index and index % per_sheet == 0:
            canvas.showPage()
        place = index % per_sheet
        x = left + (place % COLUMNS) * LABEL_WIDTH
        y = top - (place // COLUMNS + 1) * LABEL_HEIGHT
        _draw_sample_label(canvas, label, x, y)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _printing_language() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def _draw_sample_label(canvas: Canvas, label: SampleLabel, x: float, y: float) -> None:
    # A faint outline to cut along when the sheet is plain paper.
    canvas.setStrokeColor(RULE)
    canvas.setLineWidth(0.2)
    canvas.setDash(1, 2)
    canvas.rect(x, y, LABEL_WIDTH, LABEL_HEIGHT)
    canvas.setDash()
    draw_qr(canvas, label.qr_payload, x + INSET, y + INSET, SAMPLE_QR_SIZE)
    text_x = x + INSET + SAMPLE_QR_SIZE + 1.5 * mm
    text_width = x + LABEL_WIDTH - INSET - text_x
    lines: list[tuple[str, float, object]] = []
    lines += [(line, 9, INK) for line in fit_lines(label.sample_number, 9, text_width, 2)]
    lines += [(line, 8, INK) for line in fit_lines(label.sample_name, 8, text_width, 2)]
    lines += [(line, 6.5, QUIET) for line in
              fit_lines(_("Order %(number)s", number=label.order_number), 6.5, text_width, 2)]
    lines += [(line, 6.5, QUIET) for line in
              fit_lines(_("Received %(day)s", day=label.received_on.isoformat()), 6.5,
                        text_width, 1)]
    lines += [(line, 6.5, QUIET) for line in fit_lines(label.lab_name, 6.5, text_width, 2)]
    baseline = y + LABEL_HEIGHT - INSET - 8
    for text, size, color in lines:
        if baseline < y + INSET:
            break
        canvas.setFillColor(color)
        canvas.setFont(FONT_NAME, size)
        canvas.drawString(text_x, baseline, text)
        baseline -= size * 1.3


def render_instrument_label(label: InstrumentLabel, language: str) -> bytes:
    """One A6 page to stick on the instrument: lab, name, code and the QR code of its mobile
    page, with what scanning it is for, in ``language``."""
    buffer = io.BytesIO()
    with in_language(language):
        canvas = new_canvas(buffer, title=label.code, author=label.lab_name,
                            language=language, page_size=A6)
        width, height = A6
        margin = 8 * mm
        text_width = width - 2 * margin
        baseline = height - margin - 9
        baseline = _centred_lines(canvas, fit_lines(label.lab_name, 9, text_width, 2), 9,
                                  QUIET, width, baseline)
        baseline = _centred_lines(canvas, fit_lines(label.name, 15, text_width, 3), 15, INK,
                                  width, baseline - 3 * mm)
        baseline = _centred_lines(canvas, [_("Code %(code)s", code=label.code)], 11, INK,
                                  width, baseline - 1 * mm)
        qr_top = baseline - 1 * mm
        draw_qr(canvas, label.url, (width - INSTRUMENT_QR_SIZE) / 2,
                qr_top - INSTRUMENT_QR_SIZE, INSTRUMENT_QR_SIZE)
        baseline = qr_top - INSTRUMENT_QR_SIZE - 4 * mm
        caption = _("Scan to book this instrument or to report a problem with it")
        baseline = _centred_lines(canvas, fit_lines(caption, 9, text_width, 2), 9, INK, width,
                                  baseline)
        _centred_lines(canvas, fit_lines(label.url, 6.5, text_width, 2), 6.5, QUIET, width,
                       baseline)
        canvas.showPage()
        canvas.save()
    return buffer.getvalue()


def _centred_lines(canvas: Canvas, lines: Sequence[str], size: float, color: object,
                   width: float, baseline: float) -> float:
    """Draw ``lines`` centred from ``baseline`` down; the baseline of the line after them."""
    canvas.setFillColor(color)
    canvas.setFont(FONT_NAME, size)
    for line in lines:
        canvas.drawCentredString(width / 2, baseline, line)
        baseline -= size * 1.3
    return baseline
