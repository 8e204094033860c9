"""Sample label sheets and an instrument's A6 label, read and scanned back."""

import hashlib
import io

import pytest
from flask_babel import force_locale
from pypdf import PdfReader
from reportlab.lib.units import mm

from labbook.documents.labels import render_instrument_label, render_sample_labels
from tests.documents.examples import instrument_label, sample_label
from tests.documents.reading import (
    pdf_page_count,
    pdf_qr_payloads,
    pdf_qr_payloads_by_page,
    pdf_text,
    pdf_text_outside,
)


def flat(text: str) -> str:
    return "".join(text.split())


def test_a_sheet_holds_24_labels_and_each_qr_code_scans_to_its_sample():
    labels = [sample_label(n) for n in range(1, 30)]
    data = render_sample_labels(labels)
    assert pdf_page_count(data) == 2
    by_page = pdf_qr_payloads_by_page(data)
    assert [len(page) for page in by_page] == [24, 5]
    assert pdf_qr_payloads(data) == [label.qr_payload for label in labels]


def test_a_label_prints_the_sample_its_order_lab_and_day():
    text = flat(pdf_text(render_sample_labels([sample_label(7)])))
    for expected in ("FOOD-2026-000007", "全麦饼干（样品7）", "委托单FOOD-O-2026-00017",
                     "收样2026-11-02", "绿色食品开放共享实验室"):
        assert expected in text, expected


def test_a_labels_words_are_in_the_language_of_whoever_prints_it():
    with force_locale("en"):
        text = flat(pdf_text(render_sample_labels([sample_label(7)])))
    assert "OrderFOOD-O-2026-00017" in text and "Received2026-11-02" in text
    assert "委托单" not in text


def test_a_url_payload_scans_too():
    url = "https://labbook.jzit.example.cn/samples/FOOD-2026-000123"
    data = render_sample_labels([sample_label(123, qr_payload=url)])
    assert pdf_qr_payloads(data) == [url]


def test_a_long_sample_name_is_cut_short_on_its_label_and_stays_inside_the_sheet():
    long_name = "高钙高蛋白全麦膳食纤维营养强化型早餐饼干（低糖配方，家庭分享装）" * 3
    data = render_sample_labels([sample_label(n, sample_name=long_name) for n in range(1, 25)])
    text = pdf_text(data)
    assert "…" in text
    assert long_name not in flat(text)
    assert "高钙高蛋白" in text
    assert pdf_text_outside(data, margin_points=4 * mm) == []
    assert len(pdf_qr_payloads(data)) == 24


def test_the_same_labels_give_the_same_bytes():
    labels = [sample_label(n) for n in range(1, 4)]
    assert hashlib.sha256(render_sample_labels(labels)).hexdigest() == \
        hashlib.sha256(render_sample_labels(labels)).hexdigest()


def test_an_empty_sheet_is_refused():
    with pytest.raises(ValueError, match="at least one label"):
        render_sample_labels([])


def test_an_instrument_label_is_one_a6_page_with_name_code_lab_and_qr_code():
    label = instrument_label()
    data = render_instrument_label(label, "zh_CN")
    page = PdfReader(io.BytesIO(data)).pages[0]
    assert pdf_page_count(data) == 1
    assert (round(float(page.mediabox.width) / mm), round(float(page.mediabox.height) / mm)) \
        == (105, 148)
    text = flat(pdf_text(data))
    for expected in ("新能源材料开放共享实验室", "场发射扫描电子显微镜", "编号NEM-017",
                     "扫码预约本仪器或报告故障", label.url):
        assert expected in text, expected
    assert pdf_qr_payloads(data) == [label.url]


def test_an_instrument_label_in_english():
    with force_locale("zh_CN"):
        text = flat(pdf_text(render_instrument_label(
            instrument_label(name="Field-emission scanning electron microscope"), "en")))
    assert "CodeNEM-017" in text
    assert "Scantobookthisinstrumentortoreportaproblemwithit" in text
    assert "Field-emissionscanningelectronmicroscope" in text
    assert "扫码" not in text


def test_a_very_long_instrument_name_stays_on_the_label():
    name = "高分辨场发射扫描电子显微镜与能谱仪联用系统" * 4
    data = render_instrument_label(instrument_label(name=name), "zh_CN")
    assert "…" in pdf_text(data)
    assert pdf_text_outside(data, margin_points=5 * mm) == []
    assert pdf_qr_payloads(data) == [instrument_label().url]
