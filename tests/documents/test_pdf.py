"""The PDF toolkit other areas print their documents with."""

import pytest
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from labbook.documents import pdf
from labbook.documents.pdf import (
    FONT_NAME,
    FontMissingError,
    PageFurniture,
    build_pdf,
    fit_lines,
    grid_table,
    in_language,
    qr_drawing,
    styles,
)
from labbook.documents.report import render_report
from tests.documents.examples import report_document
from tests.documents.reading import pdf_page_count, pdf_qr_payloads_by_page, pdf_text


def test_fit_lines_breaks_english_between_words_and_chinese_anywhere():
    english = fit_lines("Field emission scanning electron microscope", 10, 30 * mm, 5)
    assert " ".join(english) == "Field emission scanning electron microscope"
    assert len(english) > 1
    chinese = fit_lines("场发射扫描电子显微镜与能谱仪联用系统", 10, 30 * mm, 5)
    assert "".join(chinese) == "场发射扫描电子显微镜与能谱仪联用系统" and len(chinese) > 1
    for line in english + chinese:
        assert stringWidth(line, FONT_NAME, 10) <= 30 * mm


def test_fit_lines_ends_what_does_not_fit_with_an_ellipsis():
    lines = fit_lines("场发射扫描电子显微镜" * 10, 10, 30 * mm, 2)
    assert len(lines) == 2 and lines[-1].endswith("…")
    assert stringWidth(lines[-1], FONT_NAME, 10) <= 30 * mm
    assert fit_lines("", 10, 30 * mm, 2) == []


def test_a_story_of_the_toolkit_numbers_its_pages_and_carries_the_qr_code():
    style = styles("en")
    rows = [[f"row {n}", "长的名称 " * 3] for n in range(120)]
    with in_language("en"):
        data = build_pdf([grid_table(["Row", "Name"], rows, [40 * mm, 80 * mm], style),
                          qr_drawing("inline", 30 * mm)],
                         language="en", title="statement", author="lab",
                         furniture=PageFurniture(running_head="Statement", qr_payload="page"))
    pages = pdf_page_count(data)
    assert pages >= 2
    assert f"Page {pages} of {pages}" in pdf_text(data)
    by_page = pdf_qr_payloads_by_page(data)
    assert all("page" in payloads for payloads in by_page)
    assert "inline" in by_page[-1]


def test_a_document_language_labbook_does_not_speak_is_refused():
    with pytest.raises(ValueError, match="printed in one of"):
        render_report(report_document(language="de"))


def test_a_missing_font_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv(pdf.FONT_VARIABLE, str(tmp_path / "none.ttc"))
    pdf.register_font.cache_clear()
    try:
        with pytest.raises(FontMissingError, match="fonts-wqy-zenhei"):
            pdf.register_font()
        not_a_font = tmp_path / "font.ttf"
        not_a_font.write_bytes(b"not a font")
        monkeypatch.setenv(pdf.FONT_VARIABLE, str(not_a_font))
        with pytest.raises(FontMissingError, match="no TrueType font"):
            pdf.register_font()
    finally:
        monkeypatch.delenv(pdf.FONT_VARIABLE)
        pdf.register_font.cache_clear()
    assert pdf.register_font() == FONT_NAME
