"""Documents as the areas fill them in, for the tests and the report benchmark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from labbook.documents.model import (
    AgreementDocument,
    AgreementLine,
    InstrumentLabel,
    ReportDocument,
    ReportSample,
    ResultRow,
    SampleLabel,
    Signature,
)

VERIFICATION_URL = "https://labbook.jzit.example.cn/verify/7KQ2M9XW4PTA"
ITEMS = (("蛋白质", "GB 5009.5-2016", "g/100g", "≥ 12.0"),
         ("脂肪", "GB 5009.6-2016", "g/100g", "≤ 25.0"),
         ("水分", "GB 5009.3-2016", "g/100g", "≤ 13.0"),
         ("灰分", "GB 5009.4-2016", "g/100g", ""),
         ("铅（以Pb计）", "GB 5009.12-2023", "mg/kg", "≤ 0.2"),
         ("总砷（以As计）", "GB 5009.11-2024", "mg/kg", "≤ 0.5"),
         ("黄曲霉毒素B₁", "GB 5009.22-2016", "μg/kg", "≤ 5.0"),
         ("菌落总数", "GB 4789.2-2022", "CFU/g", "≤ 10000"),
         ("大肠菌群", "GB 4789.3-2016", "MPN/g", ""),
         ("过氧化值", "GB 5009.227-2023", "g/100g", "≤ 0.25"))


def signature(name: str, day: int) -> Signature:
    # 23:30 UTC is the next morning in Jiaozuo: the printed date is the lab's.
    return Signature(name=name, signed_at=dt.datetime(2026, 11, day, 23, 30, tzinfo=dt.UTC))


def report_document(*, samples: int = 2, items: int = 3, language: str = "zh_CN",
                    **changes) -> ReportDocument:
    """A report of ``samples`` samples with ``items`` results each (every third judged
    "fail", every limit-less item "not judged")."""
    sample_rows = tuple(
        ReportSample(number=f"FOOD-2026-{n + 1:06d}", name=f"全麦饼干（样品{n + 1}）",
                     batch=f"20261101-{n + 1:02d}", specification="200 g/袋",
                     quantity="6 袋", condition="包装完好，常温", received_on=dt.date(2026, 11, 2))
        for n in range(samples))
    results = []
    for sample in sample_rows:
        for index in range(items):
            item, method, unit, limit = ITEMS[index % len(ITEMS)]
            conclusion = "not_judged" if not limit else ("fail" if index % 3 == 2 else "pass")
            results.append(ResultRow(sample_number=sample.number, item=item, method=method,
                                     value=f"{index * 1.7 + 0.31:.2f}", unit=unit, limit=limit,
                                     conclusion=conclusion))
    methods = tuple(dict.fromkeys(row.method for row in results))
    document = ReportDocument(
        language=language, report_number="FOOD-R-2026-00042", replaces_number=None,
        lab_name="绿色食品开放共享实验室", lab_address="河南省焦作市高新区神州路 2299 号",
        lab_phone="0391-3987654", accreditation_marks=("CMA", "CNAS"),
        customer_name="焦作明仁食品有限公司", customer_address="河南省焦作市解放区民主路 88 号",
        order_number="FOOD-O-2026-00017", samples=sample_rows, methods=methods,
        results=tuple(results),
        conclusion="所检项目中，过氧化值不符合 GB 7100-2015 的要求，其余项目符合要求。",
        prepared_by=signature("李晓燕", 3), reviewed_by=signature("王建国", 4),
        approved_by=signature("张海峰", 5), issued_on=dt.date(2026, 11, 6),
        verification_code="7KQ2M9XW4PTA", verification_url=VERIFICATION_URL)
    return _replace(document, changes)


def agreement_document(*, language: str = "zh_CN", **changes) -> AgreementDocument:
    document = AgreementDocument(
        language=language, order_number="FOOD-O-2026-00017", lab_name="绿色食品开放共享实验室",
        customer_name="焦作明仁食品有限公司", contact_name="赵敏", contact_phone="13939112233",
        contact_email="zhaomin@mingren.example.cn",
        lines=(AgreementLine(service_code="FOOD-S-001", service_name="食品中蛋白质的测定",
                             method="GB 5009.5-2016", samples=3, express=False,
                             amount=Decimal("360.00")),
               AgreementLine(service_code="FOOD-S-014", service_name="食品中铅的测定",
                             method="GB 5009.12-2023", samples=2, express=True,
                             amount=Decimal("1248.50"))),
        total=Decimal("1608.50"), remains="return", report_language="zh_CN",
        terms="一、委托方对样品及其资料的真实性负责。\n\n二、检测结果仅对来样负责。\n\n"
              "三、检测周期自收样之日起按工作日计算。",
        notes="请随报告寄回剩余样品。",
        confirmed_at=dt.datetime(2026, 11, 1, 16, 45, tzinfo=dt.UTC))
    return _replace(document, changes)


def sample_label(n: int = 1, **changes) -> SampleLabel:
    label = SampleLabel(sample_number=f"FOOD-2026-{n:06d}", sample_name=f"全麦饼干（样品{n}）",
                        order_number="FOOD-O-2026-00017", lab_name="绿色食品开放共享实验室",
                        received_on=dt.date(2026, 11, 2), qr_payload=f"FOOD-2026-{n:06d}")
    return _replace(label, changes)


def instrument_label(**changes) -> InstrumentLabel:
    label = InstrumentLabel(code="NEM-017", name="场发射扫描电子显微镜",
                            lab_name="新能源材料开放共享实验室",
                            url="https://labbook.jzit.example.cn/m/instruments/17")
    return _replace(label, changes)


def _replace(document, changes):
    import dataclasses

    return dataclasses.replace(document, **changes) if changes else document
