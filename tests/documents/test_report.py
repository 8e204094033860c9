"""The test report PDF, read back as its reader and a phone would read it."""

import dataclasses
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from flask import session
from flask_babel import force_locale, gettext, refresh
from pypdf import PdfReader
from reportlab.lib.units import mm

from labbook.documents.agreement import render_agreement
from labbook.documents.report import render_report
from tests.documents.examples import VERIFICATION_URL, agreement_document, report_document
from tests.documents.reading import (
    pdf_page_count,
    pdf_page_texts,
    pdf_qr_payloads,
    pdf_qr_payloads_by_page,
    pdf_text,
    pdf_text_outside,
)


def flat(text: str) -> str:
    """The text without line breaks: what wrapped over lines reads as one again."""
    return "".join(text.split())


def test_a_chinese_report_prints_everything_a_report_carries():
    text = pdf_text(render_report(report_document(samples=2, items=3)))
    for expected in ("检测报告", "绿色食品开放共享实验室", "报告编号", "FOOD-R-2026-00042",
                     "委托单位", "焦作明仁食品有限公司", "委托单号", "FOOD-O-2026-00017",
                     "签发日期", "2026年11月6日", "样品信息", "FOOD-2026-000002",
                     "全麦饼干（样品2）", "20261101-02", "200 g/袋", "包装完好，常温",
                     "2026-11-02", "检测依据", "1. GB 5009.5-2016", "检测结果", "蛋白质",
                     "g/100g", "≥ 12.0", "检测结论", "过氧化值不符合", "编制", "李晓燕", "审核",
                     "王建国", "批准", "张海峰", "CMA", "CNAS", "7KQ2M9XW4PTA",
                     "（以下空白）", "第 1 页，共 1 页",
                     # words other areas also use in English, here in the report's sense
                     "检测方法", "收样日期"):
        assert expected in text, expected


def test_each_result_prints_its_conclusion_in_the_reports_language():
    document = report_document(samples=1, items=3)
    assert [row.conclusion for row in document.results] == ["pass", "pass", "fail"]
    chinese = pdf_text(render_report(document))
    assert chinese.count("不合格") == 1 and chinese.count("合格") == 3
    english = pdf_text(render_report(dataclasses.replace(document, language="en")))
    assert english.count("Pass") == 2 and english.count("Fail") == 1


def test_a_result_without_a_limit_prints_a_dash_and_is_not_judged():
    document = report_document(samples=1, items=4)
    row = document.results[3]
    assert row.limit == "" and row.conclusion == "not_judged"
    chinese = flat(pdf_text(render_report(document)))
    assert "灰分GB5009.4-20165.41g/100g—不判定" in chinese
    english = flat(pdf_text(render_report(dataclasses.replace(document, language="en"))))
    assert "灰分GB5009.4-20165.41g/100g—Notjudged" in english


def test_an_english_report_speaks_english_whatever_the_readers_language():
    with force_locale("zh_CN"):
        text = flat(pdf_text(render_report(report_document(language="en"))))
    for expected in ("Test report", "Report number", "Customer", "Order number", "Issue date",
                     "November 6, 2026", "Sample information", "Sample number",
                     "Test methods", "Test results", "Measured value", "Limit", "Conclusion",
                     "Overall conclusion", "Prepared by", "Reviewed by", "Approved by",
                     "Page 1 of 1", "Scan to verify this report", "(Nothing follows)"):
        assert flat(expected) in text, expected
    for chinese_word in ("检测报告", "报告编号", "合格", "编制", "第 1 页"):
        assert chinese_word not in text


def test_a_page_that_renders_a_report_goes_on_in_the_readers_language(app):
    with app.test_request_context("/"):
        session["locale"] = "zh_CN"
        refresh()
        text = pdf_text(render_report(report_document(language="en")))
        assert "Test report" in text
        assert gettext("Test report") == "检测报告"


def test_signatures_are_dated_by_the_lab_calendar():
    # Signed at 23:30 UTC on 3, 4 and 5 November: already the next day in Jiaozuo.
    text = pdf_text(render_report(report_document(language="en")))
    for day in ("November 4, 2026", "November 5, 2026", "November 6, 2026"):
        assert f"Date: {day}" in text


def test_a_long_report_numbers_its_pages_and_carries_the_qr_code_on_each():
    data = render_report(report_document(samples=20, items=10))
    pages = pdf_page_count(data)
    assert pages >= 3
    for number, text in enumerate(pdf_page_texts(data), start=1):
        assert f"第 {number} 页，共 {pages} 页" in text
        assert "报告编号：FOOD-R-2026-00042" in text
        assert "验证码：7KQ2M9XW4PTA" in text
    assert pdf_qr_payloads_by_page(data) == [[VERIFICATION_URL]] * pages


def test_the_results_tables_header_repeats_on_every_page_it_runs_over():
    data = render_report(report_document(samples=20, items=10, language="en"))
    pages = [flat(text) for text in pdf_page_texts(data)]
    first = next(number for number, text in enumerate(pages) if "Testresults" in text)
    carrying_results = [text for text in pages[first:] if "FOOD-2026-0000" in text]
    assert len(carrying_results) >= 3
    assert all("SamplenumberTestitemMethodMeasuredvalue" in text for text in carrying_results)


def test_every_result_row_is_printed_once():
    document = report_document(samples=20, items=10)
    text = pdf_text(render_report(document))
    # Each sample number: once in the sample table, once per result.
    for sample in document.samples:
        assert text.count(sample.number) == 1 + 10


def test_long_names_wrap_inside_the_page():
    long_name = "超长样品名称" * 12 + " with an English tail that also has to wrap somewhere"
    long_method = "Q/JZIT 0001-2026 企业标准：某复合功能饮料中多种水溶性维生素的同时测定方法"
    document = report_document(samples=1, items=2)
    document = dataclasses.replace(
        document,
        samples=(dataclasses.replace(document.samples[0], name=long_name),),
        results=(dataclasses.replace(document.results[0], method=long_method),),
        methods=(long_method,))
    data = render_report(document)
    text = pdf_text(data)
    assert long_name not in text  # broken over lines …
    assert flat(long_name) in flat(text)  # … and nothing lost
    assert flat(long_method) in flat(text)
    assert pdf_text_outside(data, margin_points=5 * mm) == []


def test_what_the_customer_wrote_is_printed_as_written_never_as_markup():
    document = report_document(customer_name="<b>焦作&amp;明仁</b>",
                               conclusion="铅 < 0.2 mg/kg & 砷 > 0\n\n第二段")
    text = pdf_text(render_report(document))
    assert "<b>焦作&amp;明仁</b>" in text
    assert "铅 < 0.2 mg/kg & 砷 > 0" in text and "第二段" in text


def test_a_report_without_samples_or_results_still_prints():
    document = report_document(samples=0, items=0, methods=(), conclusion="")
    text = pdf_text(render_report(document))
    assert "FOOD-R-2026-00042" in text and "第 1 页，共 1 页" in text


def test_an_amended_report_names_the_one_it_replaces():
    document = report_document(replaces_number="FOOD-R-2026-00041",
                               report_number="FOOD-R-2026-00043")
    text = pdf_text(render_report(document))
    assert "更正报告，替代报告 FOOD-R-2026-00041" in text
    assert "更正报告" not in pdf_text(render_report(report_document()))


def test_a_lab_without_accreditation_prints_no_marks():
    text = pdf_text(render_report(report_document(accreditation_marks=())))
    assert "CMA" not in text and "CNAS" not in text


def test_the_same_report_gives_the_same_bytes():
    document = report_document(samples=3, items=4)
    first = hashlib.sha256(render_report(document)).hexdigest()
    assert hashlib.sha256(render_report(document)).hexdigest() == first
    changed = dataclasses.replace(document, customer_name="焦作明仁药业有限公司")
    assert hashlib.sha256(render_report(changed)).hexdigest() != first


def test_a_report_has_the_same_bytes_after_other_documents_and_in_another_process():
    """The SHA-256 the verification page shows must hold after a restart, on any worker."""
    document = report_document(samples=3, items=4)
    first = hashlib.sha256(render_report(document)).hexdigest()
    render_agreement(agreement_document(language="en"))
    render_report(report_document(samples=1, items=1, language="en"))
    assert hashlib.sha256(render_report(document)).hexdigest() == first
    script = (
        "import hashlib\n"
        "from labbook import create_app\n"
        "from labbook.config import TestingConfig\n"
        "from labbook.documents.report import render_report\n"
        "from tests.documents.examples import report_document\n"
        "with create_app(TestingConfig).app_context():\n"
        "    data = render_report(report_document(samples=3, items=4))\n"
        "print(hashlib.sha256(data).hexdigest())\n")
    root = Path(__file__).resolve().parents[2]
    finished = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                              text=True, timeout=120, check=True)
    assert finished.stdout.strip() == first


def test_the_font_is_embedded_so_no_reader_needs_its_own():
    reader = PdfReader(io.BytesIO(render_report(report_document())))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    for reference in fonts.values():
        font = reference.get_object()
        described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font \
            else font
        assert "/FontFile2" in described["/FontDescriptor"], font["/BaseFont"]


def test_the_pdf_names_its_report_lab_and_language():
    reader = PdfReader(io.BytesIO(render_report(report_document())))
    assert reader.metadata.title == "FOOD-R-2026-00042"
    assert reader.metadata.author == "绿色食品开放共享实验室"
    assert reader.trailer["/Root"]["/Lang"] == "zh-CN"
    english = PdfReader(io.BytesIO(render_report(report_document(language="en"))))
    assert english.trailer["/Root"]["/Lang"] == "en"


def test_an_unknown_conclusion_or_language_is_refused():
    document = report_document(samples=1, items=1)
    wrong = dataclasses.replace(document.results[0], conclusion="ok")
    with pytest.raises(ValueError, match="unknown conclusions"):
        render_report(dataclasses.replace(document, results=(wrong,)))
    with pytest.raises(ValueError, match="printed in one of"):
        render_report(dataclasses.replace(document, language="fr"))


def test_the_qr_code_is_the_verification_url():
    assert pdf_qr_payloads(render_report(report_document())) == [VERIFICATION_URL]
