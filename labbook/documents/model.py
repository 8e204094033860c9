"""What a document prints: plain frozen dataclasses, filled by the area that issues it.

No ORM object and no request reaches the renderers, so a document can be rendered again from
what was recorded, in a job as in a page, and gives the same bytes for the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class Signature:
    name: str                 # the signer's name as printed
    signed_at: datetime       # aware UTC; printed as the lab-time date


@dataclass(frozen=True)
class ReportSample:
    number: str               # e.g. "FOOD-2026-000123"
    name: str
    batch: str
    specification: str
    quantity: str             # as written, e.g. "500 g"
    condition: str            # the condition recorded at intake
    received_on: date


@dataclass(frozen=True)
class ResultRow:
    sample_number: str
    item: str                 # test item, e.g. "蛋白质"
    method: str               # standard or method, e.g. "GB 5009.5-2016"
    value: str
    unit: str
    limit: str                # "" when the service defines none
    conclusion: str           # "pass" | "fail" | "not_judged"


@dataclass(frozen=True)
class ReportDocument:
    language: str             # "zh_CN" or "en": the report's language, not the viewer's
    report_number: str
    replaces_number: str | None   # an amended report names the one it replaces
    lab_name: str
    lab_address: str
    lab_phone: str
    accreditation_marks: tuple[str, ...]   # e.g. ("CMA", "CNAS"); () prints none
    customer_name: str
    customer_address: str
    order_number: str
    samples: tuple[ReportSample, ...]
    methods: tuple[str, ...]  # the standards/methods used
    results: tuple[ResultRow, ...]
    conclusion: str
    prepared_by: Signature
    reviewed_by: Signature
    approved_by: Signature
    issued_on: date
    verification_code: str
    verification_url: str     # absolute URL of /verify/<code>; the QR payload on every page


@dataclass(frozen=True)
class AgreementLine:
    service_code: str
    service_name: str
    method: str
    samples: int
    express: bool
    amount: Decimal           # the quoted amount in yuan


@dataclass(frozen=True)
class AgreementDocument:
    language: str
    order_number: str
    lab_name: str
    customer_name: str
    contact_name: str
    contact_phone: str
    contact_email: str
    lines: tuple[AgreementLine, ...]
    total: Decimal
    remains: str              # "return" | "dispose"
    report_language: str      # "zh_CN" | "en"
    terms: str                # the lab's terms, plain text with paragraphs
    notes: str
    confirmed_at: datetime | None


@dataclass(frozen=True)
class SampleLabel:
    sample_number: str
    sample_name: str
    order_number: str
    lab_name: str
    received_on: date
    qr_payload: str           # what the QR encodes (the sample number, or a URL)


@dataclass(frozen=True)
class InstrumentLabel:
    code: str
    name: str
    lab_name: str
    url: str                  # the QR payload: the instrument's mobile page
