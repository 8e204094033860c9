"""The PDF toolkit every labbook document is made with (ReportLab).

- One CJK font, embedded (subset) in every PDF: WenQuanYi Zen Hei, a TrueType collection that
  Debian's ``fonts-wqy-zenhei`` installs (``make install`` installs it when missing). Another
  TrueType font (.ttf, or a .ttc whose first face is TrueType) can be named with the environment
  variable ``LABBOOK_PDF_FONT``. Nothing is fetched at run time.
- ``in_language``: a document's texts come from the catalogues in the document's language, not
  the reader's.
- ``styles`` and ``paragraph``, ``grid_table`` and ``field_table``: text that wraps (Chinese
  included) inside the cells of tables whose header repeats on every page.
- ``qr_drawing`` and ``draw_qr``: a QR code (segno) as vector shapes.
- ``build_pdf``: a flowing document with a running head, "page x of y" and a QR code on every
  page; ``new_canvas`` for pages drawn by hand (label sheets).

A document of another area, in outline::

    with in_language(language):
        style = styles(language)
        story = [paragraph(_("Statement"), style.title),
                 grid_table([_("Date"), _("Amount")], rows, [40 * mm, 30 * mm], style,
                            right_aligned=(1,), total_rows=1)]
        return build_pdf(story, language=language, title=number, author=lab_name,
                         furniture=PageFurniture(running_head=lab_name,
                                                 running_head_right=number,
                                                 qr_payload=verification_url))

Every PDF is made in ReportLab's invariant mode (a fixed creation date and document id), so
the same input gives the same bytes and a PDF's SHA-256 identifies it.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import segno
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

#: The one font of every document; it has both Chinese and Latin letters.
FONT_NAME = "LabbookCJK"
#: Names a TrueType font to use instead of WenQuanYi Zen Hei.
FONT_VARIABLE = "LABBOOK_PDF_FONT"
#: Where the font packages put WenQuanYi Zen Hei (Debian and Ubuntu; Fedora).
FONT_LOCATIONS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),
)
#: The languages a document can be printed in.
LANGUAGES = ("zh_CN", "en")

INK = colors.black
RULE = colors.Color(0.55, 0.55, 0.55)
SHADE = colors.Color(0.92, 0.92, 0.92)
QUIET = colors.Color(0.35, 0.35, 0.35)
#: Space between a table cell's text and its rules, left and right.
CELL_PADDING = 3


class FontMissingError(RuntimeError):
    """No CJK font to embed: the PDFs cannot be made on this machine."""


@functools.cache
def register_font() -> str:
    """Register the CJK font with ReportLab once per process and return its name."""
    chosen = os.environ.get(FONT_VARIABLE)
    candidates = [Path(chosen)] if chosen else list(FONT_LOCATIONS)
    for candidate in candidates:
        if candidate.is_file():
            try:
                font = TTFont(FONT_NAME, str(candidate), subfontIndex=0)
            except TTFError as error:
                raise FontMissingError(f"{candidate} is no TrueType font ReportLab can embed: "
                                       f"{error}") from error
            pdfmetrics.registerFont(font)
            # The font has no bold or italic face: <b> and <i> in a paragraph print it as is.
            pdfmetrics.registerFontFamily(FONT_NAME, normal=FONT_NAME, bold=FONT_NAME,
                                          italic=FONT_NAME, boldItalic=FONT_NAME)
            return FONT_NAME
    where = chosen or " or ".join(str(path) for path in FONT_LOCATIONS)
    raise FontMissingError(f"no CJK font at {where}: install Debian's fonts-wqy-zenhei "
                           f"(make install does), or name a TrueType font in {FONT_VARIABLE}")


@contextmanager
def in_language(language: str) -> Iterator[None]:
    """Texts from the catalogues in ``language`` (``zh_CN`` or ``en``) within the block."""
    if language not in LANGUAGES:
        raise ValueError(f"a document is printed in one of {LANGUAGES}, not {language!r}")
    with force_locale(language):
        yield


def pdf_language(language: str) -> str:
    """The PDF's /Lang entry (a BCP 47 tag: zh-CN, en), which screen readers go by."""
    return language.replace("_", "-")


def format_day(day: date) -> str:
    """A date as the current language writes it in full (2026年12月5日, December 5, 2026)."""
    return format_date(day, "long")


# -- text -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Styles:
    """The paragraph styles of a document in one language."""

    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    small_centred: ParagraphStyle
    cell: ParagraphStyle
    cell_right: ParagraphStyle
    cell_header: ParagraphStyle


@functools.cache
def styles(language: str) -> Styles:
    """Styles in the CJK font. Chinese wraps by its own rules (no line starts with 。or ）)."""
    font = register_font()
    wrap = "CJK" if language.startswith("zh") else None

    def style(name: str, size: float, **extra: Any) -> ParagraphStyle:
        return ParagraphStyle(f"{name}-{language}", **{
            "fontName": font, "fontSize": size, "leading": round(size * 1.35, 1),
            "wordWrap": wrap, "textColor": INK, **extra})

    return Styles(
        title=style("title", 18, alignment=TA_CENTER, spaceAfter=2 * mm),
        subtitle=style("subtitle", 10.5, alignment=TA_CENTER, spaceAfter=4 * mm),
        heading=style("heading", 11.5, spaceBefore=4 * mm, spaceAfter=2 * mm),
        body=style("body", 9.5, spaceAfter=1.5 * mm, alignment=TA_LEFT),
        small=style("small", 8, textColor=QUIET),
        small_centred=style("small-centred", 8, textColor=QUIET, alignment=TA_CENTER,
                            spaceBefore=3 * mm),
        cell=style("cell", 8.5),
        cell_right=style("cell-right", 8.5, alignment=TA_RIGHT),
        cell_header=style("cell-header", 8.5),
    )


def paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """``text`` as it is written (no markup), line breaks kept."""
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def paragraphs(text: str, style: ParagraphStyle) -> list[Paragraph]:
    """Plain text with paragraphs separated by blank lines, one Paragraph each."""
    blocks = [block.strip() for block in text.replace("\r\n", "\n").split("\n\n")]
    return [paragraph(block, style) for block in blocks if block]


def fit_lines(text: str, size: float, width: float, max_lines: int) -> list[str]:
    """``text`` broken into lines at most ``width`` points wide in the font at ``size``
    (between words where it can, anywhere in Chinese), at most ``max_lines`` of them: the
    last ends in "…" when the text does not fit. For pages drawn by hand (labels)."""
    font = register_font()
    rest = " ".join(text.split())
    lines: list[str] = []
    while rest and len(lines) < max_lines:
        end = _longest_fit(rest, font, size, width)
        if end < len(rest):
            space = rest.rfind(" ", 0, end + 1)
            end = space if space > 0 else end
        lines.append(rest[:end].rstrip())
        rest = rest[end:].lstrip()
    if rest:
        last = lines[-1]
        while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def _longest_fit(text: str, font: str, size: float, width: float) -> int:
    """How many of ``text``'s first characters fit in ``width`` (at least one)."""
    used = 0.0
    for index, character in enumerate(text):
        used += pdfmetrics.stringWidth(character, font, size)
        if used > width:
            return max(index, 1)
    return len(text)


# -- tables -----------------------------------------------------------------------------------


def layout_table(rows: Sequence[Sequence[Any]], widths: Sequence[float],
                 commands: Sequence[tuple[Any, ...]] = (),
                 heights: Sequence[float | None] | None = None) -> Table:
    """A table for layout (signature blocks, a masthead) in the document's font, so that no
    other font (ReportLab's Helvetica) enters the PDF."""
    table = Table([list(row) for row in rows], colWidths=list(widths), rowHeights=heights)
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT_NAME), *commands]))
    return table


def grid_table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float],
               style: Styles, *, right_aligned: Sequence[int] = (),
               total_rows: int = 0) -> Table:
    """A ruled table whose cells wrap their text and whose header repeats on every page; the
    columns ``right_aligned`` (amounts, counts) are set flush right, and the last
    ``total_rows`` rows (totals) are shaded like the header."""
    cell_style = style.cell
    room = [width - 2 * CELL_PADDING for width in widths]

    def cell(text: str, column: int) -> str | Paragraph:
        # Text that fits on one line is set as it is: a Paragraph costs some 40 times more,
        # and a report has thousands of cells.
        if "\n" not in text and pdfmetrics.stringWidth(
                text, FONT_NAME, cell_style.fontSize) <= room[column]:
            return text
        return paragraph(text, style.cell_right if column in right_aligned else cell_style)

    data: list[list[Any]] = [[paragraph(text, style.cell_header) for text in header]]
    data += [[cell(text, column) for column, text in enumerate(row)] for row in rows]
    table = Table(data, colWidths=list(widths), repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
        ("FONTSIZE", (0, 0), (-1, -1), cell_style.fontSize),
        ("LEADING", (0, 0), (-1, -1), cell_style.leading),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        *[("ALIGN", (column, 1), (column, -1), "RIGHT") for column in right_aligned],
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        *([("BACKGROUND", (0, -total_rows), (-1, -1), SHADE)] if total_rows else []),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
    ]))
    return table


def field_table(pairs: Sequence[tuple[str, str]], widths: Sequence[float], style: Styles,
                *, columns: int = 1) -> Table:
    """Label and value side by side, ``columns`` pairs a row (labels shaded)."""
    rows: list[list[Any]] = []
    for start in range(0, len(pairs), columns):
        row: list[Any] = []
        for label, value in pairs[start:start + columns]:
            row += [paragraph(label, style.cell_header), paragraph(value, style.cell)]
        row += [""] * (2 * columns - len(row))
        rows.append(row)
    table = Table(rows, colWidths=list(widths))
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        *[("BACKGROUND", (2 * n, 0), (2 * n, -1), SHADE) for n in range(columns)],
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


# -- QR codes ---------------------------------------------------------------------------------


def _qr_modules(payload: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The QR code of ``payload`` (error correction M) with its quiet zone of four modules: its
    width in modules, and its dark runs as (row from the top, first column, column after)."""
    code = segno.make(payload, error="m", micro=False)
    rows = list(code.matrix_iter(border=4))
    runs = []
    for number, row in enumerate(rows):
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            end = column
            while end < len(row) and row[end]:
                end += 1
            runs.append((number, column, end))
            column = end
    return len(rows), runs


class QRCode(Flowable):
    """A QR code as a flowable, ``size`` points square with its quiet zone."""

    def __init__(self, payload: str, size: float) -> None:
        super().__init__()
        self.payload = payload
        self.size = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        draw_qr(self.canv, self.payload, 0, 0, self.size)


def qr_drawing(payload: str, size: float) -> QRCode:
    """``payload`` as a QR code ``size`` points square, its quiet zone included and painted
    white, so that it scans wherever it is placed: a flowable for a story."""
    return QRCode(payload, size)


def draw_qr(canvas: Canvas, payload: str, x: float, y: float, size: float) -> None:
    """Draw ``payload``'s QR code ``size`` points square (quiet zone included) with its lower
    left corner at (x, y)."""
    modules, runs = _qr_modules(payload)
    module = size / modules
    canvas.saveState()
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    dark = canvas.beginPath()
    for row, first, after in runs:
        dark.rect(x + first * module, y + size - (row + 1) * module,
                  (after - first) * module, module)
    canvas.setFillColor(INK)
    canvas.drawPath(dark, stroke=0, fill=1)
    canvas.restoreState()


# -- pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Margins:
    top: float = 22 * mm
    right: float = 16 * mm
    bottom: float = 20 * mm
    left: float = 16 * mm

    def content_width(self, page_size: tuple[float, float] = A4) -> float:
        """The width a story's tables may take: the page less the side margins."""
        return page_size[0] - self.left - self.right


@dataclass(frozen=True)
class PageFurniture:
    """What every page of a flowing document carries besides its story."""

    running_head: str = ""        # top left, small
    running_head_right: str = ""  # top right, small (a document number)
    qr_payload: str | None = None  # a QR code in the bottom right corner of every page
    qr_caption: str = ""          # printed beside the QR code
    qr_size: float = 20 * mm


def page_x_of_y(page: int, pages: int) -> str:
    return _("Page %(page)d of %(pages)d", page=page, pages=pages)


class _NumberedCanvas(Canvas):
    """Holds every page back until the last one is known, then writes "page x of y" on each."""

    def __init__(self, *args: Any, page_label: Callable[[int, int], str],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_label = page_label
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            width = self._pagesize[0]
            self.setFont(FONT_NAME, 8)
            self.setFillColor(QUIET)
            self.drawCentredString(width / 2, 10 * mm, self._page_label(number, total))
            Canvas.showPage(self)
        Canvas.save(self)


def _draw_furniture(furniture: PageFurniture, margins: Margins, language: str,
                    canvas: Canvas, document: BaseDocTemplate) -> None:
    width, height = document.pagesize
    canvas.saveState()
    canvas.setFont(FONT_NAME, 8)
    canvas.setFillColor(QUIET)
    head_y = height - margins.top + 5 * mm
    if furniture.running_head or furniture.running_head_right:
        canvas.drawString(margins.left, head_y, furniture.running_head)
        canvas.drawRightString(width - margins.right, head_y, furniture.running_head_right)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(margins.left, head_y - 1.8 * mm, width - margins.right, head_y - 1.8 * mm)
    if furniture.qr_payload is not None:
        # Drawn once as a form and placed on every page: the PDF holds the code once.
        if not canvas.hasForm("page-qr"):
            canvas.beginForm("page-qr")
            draw_qr(canvas, furniture.qr_payload, 0, 0, furniture.qr_size)
            canvas.endForm()
        x = width - margins.right - furniture.qr_size
        y = 7 * mm
        canvas.saveState()
        canvas.translate(x, y)
        canvas.doForm("page-qr")
        canvas.restoreState()
        if furniture.qr_caption:
            caption = paragraph(furniture.qr_caption, styles(language).small)
            caption_width = width / 2 - margins.left
            _, caption_height = caption.wrap(caption_width, furniture.qr_size)
            caption.drawOn(canvas, x - caption_width - 2 * mm,
                           y + (furniture.qr_size - caption_height) / 2)
    canvas.restoreState()


def build_pdf(story: Sequence[Flowable], *, language: str, title: str, author: str,
              subject: str = "", page_size: tuple[float, float] = A4,
              margins: Margins | None = None, furniture: PageFurniture | None = None) -> bytes:
    """Lay ``story`` out on pages with ``furniture`` and "page x of y" (in ``language``) on
    each; the PDF's bytes."""
    register_font()
    furniture = furniture or PageFurniture()
    margins = margins or Margins()
    if furniture.qr_payload is not None:
        margins = Margins(margins.top, margins.right,
                          max(margins.bottom, 7 * mm + furniture.qr_size + 4 * mm), margins.left)
    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer, pagesize=page_size, title=title, author=author, subject=subject,
        creator="labbook", invariant=1, initialFontName=FONT_NAME,
        lang=pdf_language(language))
    # No padding inside the frame: a table as wide as the content width fits it exactly.
    frame = Frame(margins.left, margins.bottom, margins.content_width(page_size),
                  page_size[1] - margins.top - margins.bottom, leftPadding=0, rightPadding=0,
                  topPadding=0, bottomPadding=0)
    document.addPageTemplates([PageTemplate(
        "page", frames=[frame], pagesize=page_size,
        onPage=functools.partial(_draw_furniture, furniture, margins, language))])
    with in_language(language):
        document.build(list(story),
                       canvasmaker=functools.partial(_NumberedCanvas, page_label=page_x_of_y))
    return buffer.getvalue()


def new_canvas(buffer: io.BytesIO, *, title: str, author: str, language: str,
               page_size: tuple[float, float] = A4) -> Canvas:
    """A canvas for pages drawn by hand, in invariant mode, with the CJK font registered."""
    register_font()
    canvas = Canvas(buffer, pagesize=page_size, invariant=1, initialFontName=FONT_NAME,
                    lang=pdf_language(language))
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setCreator("labbook")
    return canvas
