"""The text the catalogue search matches, with common abbreviations folded in.

Lab users search the way they speak ("扫描电镜", "XRD", "液质"), which is often not the formal
name in the catalogue. ``search_aliases.csv`` lists, for a piece of formal text, the informal
terms it should also be found by.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labbook.catalogue.models import Instrument, TestingService

DATA_DIR = Path(__file__).parent / "data"


@cache
def aliases() -> tuple[tuple[str, str], ...]:
    with (DATA_DIR / "search_aliases.csv").open(encoding="utf-8", newline="") as handle:
        return tuple((row["contains"].lower(), row["adds"].lower())
                     for row in csv.DictReader(handle))


def build_search_text(parts: Iterable[str | None]) -> str:
    text = " ".join(part.strip().lower() for part in parts if part)
    extra = [adds for contains, adds in aliases() if contains in text]
    return " ".join([text, *extra])


def instrument_search_text(instrument: Instrument) -> str:
    category = instrument.category
    return build_search_text([
        instrument.code, instrument.name_zh, instrument.name_en, instrument.model,
        instrument.manufacturer, category.key, category.name_zh, category.name_en,
    ])


def service_search_text(service: TestingService) -> str:
    category = service.category
    return build_search_text([
        service.code, service.name_zh, service.name_en, service.standard,
        category.key, category.name_zh, category.name_en,
        *(name for instrument in service.instruments
          for name in (instrument.name_zh, instrument.name_en)),
    ])
