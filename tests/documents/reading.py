"""Reading PDFs back in tests, as a person or a phone would read them: the text (pypdf), the
number of pages, and the QR codes on the rendered pages (pypdfium2 renders, zxing-cpp
decodes). For every area's tests of its documents."""

from __future__ import annotations

import io

import pypdfium2
import zxingcpp
from pypdf import PdfReader

#: Rendering resolution for reading QR codes: a 20 mm code of 41 modules is ~6 pixels a module.
QR_DPI = 200


def pdf_text(data: bytes) -> str:
    """The text of every page, pages separated by a form feed."""
    return "\f".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_page_texts(data: bytes) -> list[str]:
    """Each page's text."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def pdf_qr_payloads(data: bytes) -> list[str]:
    """What the QR codes encode, page by page, top to bottom and left to right on a page."""
    return [payload for page in pdf_qr_payloads_by_page(data) for payload in page]


def pdf_qr_payloads_by_page(data: bytes) -> list[list[str]]:
    """What the QR codes on each page encode."""
    document = pypdfium2.PdfDocument(data)
    try:
        pages = []
        for index in range(len(document)):
            image = document[index].render(scale=QR_DPI / 72).to_pil().convert("L")
            found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            found.sort(key=lambda code: (code.position.top_left.y // 50,
                                         code.position.top_left.x))
            pages.append([code.text for code in found])
        return pages
    finally:
        document.close()


def pdf_text_outside(data: bytes, margin_points: float) -> list[str]:
    """The characters printed closer than ``margin_points`` to a page's edge (or off it)."""
    document = pypdfium2.PdfDocument(data)
    try:
        outside = []
        for index in range(len(document)):
            page = document[index]
            width, height = page.get_size()
            text = page.get_textpage()
            for char in range(text.count_chars()):
                left, bottom, right, top = text.get_charbox(char)
                if right <= left:  # a space or line break has no box
                    continue
                if (left < margin_points or bottom < margin_points
                        or right > width - margin_points or top > height - margin_points):
                    outside.append(text.get_text_range(char, 1))
        return outside
    finally:
        document.close()
