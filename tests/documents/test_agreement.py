"""The testing agreement (委托协议书) PDF, read back."""

import dataclasses
import hashlib
from decimal import Decimal

import pytest

from labbook.documents.agreement import render_agreement
from labbook.documents.model import AgreementLine
from tests.documents.examples import agreement_document
from tests.documents.reading import pdf_page_count, pdf_page_texts, pdf_qr_payloads, pdf_text


def flat(text: str) -> str:
    return "".join(text.split())


def test_a_chinese_agreement_prints_the_parties_services_amounts_and_terms():
    text = flat(pdf_text(render_agreement(agreement_document())))
    for expected in ("委托协议书", "委托单号", "FOOD-O-2026-00017", "实验室",
                     "绿色食品开放共享实验室", "委托单位", "焦作明仁食品有限公司", "联系人", "赵敏",
                     "电话", "13939112233", "zhaomin@mingren.example.cn", "委托检测项目",
                     "FOOD-S-001", "食品中蛋白质的测定", "GB5009.5-2016", "¥360.00", "¥1,248.50",
                     "合计", "¥1,608.50", "余样处置", "退还委托方", "报告语言", "中文",
                     "请随报告寄回剩余样品。", "协议条款", "一、委托方对样品及其资料的真实性负责。",
                     "三、检测周期自收样之日起按工作日计算。", "第1页，共1页"):
        assert expected in text, expected


def test_express_lines_and_the_sample_count_are_shown():
    text = flat(pdf_text(render_agreement(agreement_document(language="en"))))
    assert "FOOD-S-0013No¥360.00" in text.replace("食品中蛋白质的测定GB5009.5-2016", "")
    assert "FOOD-S-0142Yes¥1,248.50" in text.replace("食品中铅的测定GB5009.12-2023", "")
    assert "Total5¥1,608.50" in text


def test_an_english_agreement_speaks_english():
    text = flat(pdf_text(render_agreement(agreement_document(
        language="en", remains="dispose", report_language="en"))))
    for expected in ("Testingagreement", "Ordernumber", "Contactperson", "Servicesordered",
                     "Numberofsamples", "Express", "Amount", "Total", "Sampleremains",
                     "Disposedofbythelaboratory", "Reportlanguage", "English", "Terms",
                     "Page1of1"):
        assert expected in text, expected
    assert "委托协议书" not in text and "退还委托方" not in text


def test_a_confirmed_agreement_names_the_moment_in_lab_time():
    # Confirmed at 16:45 UTC on 1 November: 00:45 on 2 November in Jiaozuo.
    english = flat(pdf_text(render_agreement(agreement_document(language="en"))))
    assert "ConfirmedbythecustomerinlabbookonNovember2,2026at00:45(Beijingtime)." in english
    chinese = flat(pdf_text(render_agreement(agreement_document())))
    assert "委托方已于2026年11月2日00:45（北京时间）在labbook中确认本协议。" in chinese
    assert "签字/盖章" not in chinese


def test_an_unconfirmed_agreement_leaves_room_to_sign_on_paper():
    text = flat(pdf_text(render_agreement(agreement_document(confirmed_at=None))))
    assert "委托方（签字/盖章）" in text and "实验室（签字/盖章）" in text
    assert "确认本协议" not in text


def test_long_terms_run_over_numbered_pages():
    clause = "委托方应如实提供样品信息，并对其真实性负责。" * 6
    terms = "\n\n".join(f"{n}、{clause}" for n in range(1, 41))
    data = render_agreement(agreement_document(terms=terms))
    pages = pdf_page_count(data)
    assert pages >= 2
    for number, text in enumerate(pdf_page_texts(data), start=1):
        assert f"第 {number} 页，共 {pages} 页" in text
        assert "委托单号：FOOD-O-2026-00017" in text
    assert "40、委托方" in flat(pdf_text(data))
    assert pdf_qr_payloads(data) == []


def test_many_lines_all_print_with_the_total():
    lines = tuple(AgreementLine(service_code=f"FOOD-S-{n:03d}", service_name=f"检测服务{n}",
                                method="GB 5009.5-2016", samples=1, express=False,
                                amount=Decimal("10.00")) for n in range(1, 61))
    text = flat(pdf_text(render_agreement(agreement_document(lines=lines,
                                                             total=Decimal("600.00")))))
    assert all(f"FOOD-S-{n:03d}" in text for n in range(1, 61))
    assert "合计60¥600.00" in text


def test_empty_notes_and_terms_print_a_dash():
    text = flat(pdf_text(render_agreement(agreement_document(notes="", terms=""))))
    assert "备注—" in text and "协议条款—" in text


def test_the_same_agreement_gives_the_same_bytes():
    document = agreement_document()
    first = hashlib.sha256(render_agreement(document)).hexdigest()
    assert hashlib.sha256(render_agreement(document)).hexdigest() == first
    assert hashlib.sha256(render_agreement(dataclasses.replace(
        document, total=Decimal("1608.51")))).hexdigest() != first


def test_unknown_remains_or_report_language_are_refused():
    with pytest.raises(ValueError, match="remains"):
        render_agreement(agreement_document(remains="keep"))
    with pytest.raises(ValueError, match="report is issued"):
        render_agreement(agreement_document(report_language="fr"))
