"""Load the catalogue data files (labs, categories, instruments, testing services).

Every file is read and checked before anything is written, and all problems are reported with
file, line and column; the database is then updated in one transaction, matching rows by code,
so loading the same files twice changes nothing and a changed row is updated in place.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import PriceTier
from labbook.billing.models import RateCard
from labbook.catalogue.models import Category, Instrument, Lab, OpeningHours, TestingService
from labbook.catalogue.search import instrument_search_text, service_search_text

DATA_DIR = Path(__file__).parent / "data"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FORMULA_PREFIXES = ("=", "+", "-", "@")
FILE_ORDER = ("labs.csv", "categories.csv", "instruments.csv", "services.csv", "manifest.csv")


@dataclass(frozen=True)
class RowError:
    file: str
    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


class CatalogueError(Exception):
    """The data files are not valid; ``errors`` says where and why. Nothing was loaded."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "\n".join(str(error) for error in errors[:50])
        more = f"\n… and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"{len(errors)} problem(s) in the catalogue files:\n{shown}{more}")


class _CellError(ValueError):
    pass


# -- cell parsers ---------------------------------------------------------------------------


def _text(value: str) -> str:
    if not value:
        raise _CellError("is empty")
    if value != value.strip():
        raise _CellError("has leading or trailing spaces")
    if value.startswith(FORMULA_PREFIXES):
        raise _CellError(f"starts with {value[0]!r}, which spreadsheets read as a formula")
    return value


def _optional_text(value: str) -> str:
    return _text(value) if value else ""


def _code(pattern: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def parse(value: str) -> str:
        if not compiled.fullmatch(value):
            raise _CellError(f"{value!r} does not match the code format {pattern}")
        return value

    return parse


def _integer(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise _CellError(f"{value!r} is not a whole number") from None
        if not minimum <= number <= maximum:
            raise _CellError(f"{number} is outside {minimum}–{maximum}")
        return number

    return parse


def _money(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _CellError(f"{value!r} is not an amount in yuan (e.g. 1250.00)") from None
    if not amount.is_finite() or amount <= 0:
        raise _CellError(f"{value!r} must be a positive amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise _CellError(f"{value!r} has more than two decimals (fen)")
    return amount.quantize(Decimal("0.01"))


def _boolean(value: str) -> bool:
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise _CellError(f"{value!r} is not true or false")


_HOURS = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")


def _opening_hours(value: str) -> list[tuple[dt.time, dt.time]]:
    """``08:30-12:00,13:30-17:30``, or empty for closed."""
    intervals = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        match = _HOURS.fullmatch(part)
        if not match:
            raise _CellError(f"{part!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = map(int, match.groups())
        try:
            opens, closes = dt.time(h1, m1), dt.time(h2, m2)
        except ValueError:
            raise _CellError(f"{part!r} is not a valid time range") from None
        if closes <= opens:
            raise _CellError(f"{part!r} closes before it opens")
        intervals.append((opens, closes))
    intervals.sort()
    for (_, first_close), (second_open, _) in itertools.pairwise(intervals):
        if second_open < first_close:
            raise _CellError(f"{value!r} has overlapping intervals")
    return intervals


def _codes(value: str) -> list[str]:
    codes = [code.strip() for code in value.split(";") if code.strip()]
    if not codes:
        raise _CellError("lists no codes")
    return codes


# -- file reading -----------------------------------------------------------------------------

Columns = dict[str, Callable[[str], Any]]

LAB_COLUMNS: Columns = {
    "code": _code(r"[A-Z]{2,8}"), "name_zh": _text, "name_en": _text,
    "location_zh": _text, "location_en": _text,
    **dict.fromkeys(WEEKDAYS, _opening_hours),
}
CATEGORY_COLUMNS: Columns = {
    "key": _code(r"[a-z0-9]+(-[a-z0-9]+)*"), "name_zh": _text, "name_en": _text,
}
RULE_COLUMNS: Columns = {
    "slot_minutes": _integer(5, 1440), "min_minutes": _integer(5, 525600),
    "max_minutes": _integer(5, 525600), "min_notice_minutes": _integer(0, 525600),
    "horizon_days": _integer(1, 730), "buffer_minutes": _integer(0, 1440),
    "cancellation_window_hours": _integer(0, 720),
    "requires_approval": _boolean, "requires_qualification": _boolean,
}
INSTRUMENT_COLUMNS: Columns = {
    "code": _code(r"[A-Z]{2,8}-\d{3,5}"), "lab": _text, "category": _text,
    "name_zh": _text, "name_en": _text, "model": _text, "manufacturer": _text,
    "purchase_year": _integer(1950, 2100), "value_cny": _money, "room": _text,
    "specs_zh": _text, "functions_zh": _text,
    "rate_internal": _money, "rate_partner": _money, "rate_external": _money,
    **RULE_COLUMNS,
}
SERVICE_COLUMNS: Columns = {
    "code": _code(r"[A-Z]{2,8}-S\d{3,5}"), "lab": _text, "category": _text,
    "name_zh": _text, "name_en": _text, "standard": _text,
    "sample_requirements_zh": _text, "sample_requirements_en": _text,
    "turnaround_days": _integer(1, 365),
    "price_internal": _money, "price_partner": _money, "price_external": _money,
    "express_surcharge_percent": _integer(0, 300), "instruments": _codes,
}
MANIFEST_COLUMNS: Columns = {"item": _text, "value": _text}


@dataclass
class Row:
    file: str
    line: int
    values: dict[str, Any]

    def __getitem__(self, column: str) -> Any:
        return self.values[column]


@dataclass
class CatalogueData:
    labs: list[Row] = field(default_factory=list)
    categories: list[Row] = field(default_factory=list)
    instruments: list[Row] = field(default_factory=list)
    services: list[Row] = field(default_factory=list)


def _read(path: Path, columns: Columns, errors: list[RowError]) -> Iterator[Row]:
    name = path.name
    if not path.exists():
        errors.append(RowError(name, 0, None, "file is missing"))
        return
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            errors.append(RowError(name, 1, None, f"unreadable: {exc}"))
            return
        if header != list(columns):
            missing = [c for c in columns if c not in (header or [])]
            unknown = [c for c in header or [] if c not in columns]
            detail = "; ".join(filter(None, [
                missing and f"missing {', '.join(missing)}",
                unknown and f"unknown {', '.join(unknown)}",
                not missing and not unknown and "columns are out of order",
            ]))
            errors.append(RowError(name, 1, None, f"header does not match: {detail}"))
            return
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                errors.append(RowError(name, reader.line_num, None, f"unreadable: {exc}"))
                return
            line = reader.line_num
            if not any(cells):
                continue
            if len(cells) != len(columns):
                errors.append(RowError(name, line, None,
                                       f"has {len(cells)} cells, expected {len(columns)}"))
                continue
            values: dict[str, Any] = {}
            for column, cell in zip(columns, cells, strict=True):
                try:
                    values[column] = columns[column](cell)
                except _CellError as exc:
                    errors.append(RowError(name, line, column, str(exc)))
            if len(values) == len(columns):
                yield Row(name, line, values)


def _unique(rows: list[Row], column: str, errors: list[RowError]) -> None:
    seen: dict[Any, int] = {}
    for row in rows:
        value = row[column]
        if value in seen:
            errors.append(RowError(row.file, row.line, column,
                                   f"{value!r} repeats line {seen[value]}"))
        else:
            seen[value] = row.line


def _check_manifest(data: CatalogueData, manifest: list[Row], errors: list[RowError]) -> None:
    """The manifest holds control totals, so a truncated or mis-edited file cannot slip in."""
    actual = {
        "labs": str(len(data.labs)),
        "instruments": str(len(data.instruments)),
        "services": str(len(data.services)),
        "instrument_value_total": str(sum((r["value_cny"] for r in data.instruments),
                                          Decimal("0.00"))),
    }
    for row in manifest:
        item, expected = row["item"], row["value"]
        if item not in actual:
            errors.append(RowError(row.file, row.line, "item", f"unknown item {item!r}"))
        elif actual[item] != expected:
            errors.append(RowError(row.file, row.line, "value",
                                   f"{item} is {actual[item]} in the files, manifest says "
                                   f"{expected}"))


def read_catalogue(directory: Path = DATA_DIR) -> CatalogueData:
    """Read and check every file; raise CatalogueError listing every problem found."""
    errors: list[RowError] = []
    data = CatalogueData(
        labs=list(_read(directory / "labs.csv", LAB_COLUMNS, errors)),
        categories=list(_read(directory / "categories.csv", CATEGORY_COLUMNS, errors)),
        instruments=list(_read(directory / "instruments.csv", INSTRUMENT_COLUMNS, errors)),
        services=list(_read(directory / "services.csv", SERVICE_COLUMNS, errors)),
    )
    manifest = list(_read(directory / "manifest.csv", MANIFEST_COLUMNS, errors))
    _unique(data.labs, "code", errors)
    _unique(data.categories, "key", errors)
    _unique(data.instruments, "code", errors)
    for column in ("code", "name_zh", "name_en"):
        _unique(data.services, column, errors)

    lab_codes = {row["code"] for row in data.labs}
    category_keys = {row["key"] for row in data.categories}
    instrument_labs = {row["code"]: row["lab"] for row in data.instruments}
    for row in data.instruments + data.services:
        if row["lab"] not in lab_codes:
            errors.append(RowError(row.file, row.line, "lab", f"unknown lab {row['lab']!r}"))
        if row["category"] not in category_keys:
            errors.append(RowError(row.file, row.line, "category",
                                   f"unknown category {row['category']!r}"))
        if not row["code"].startswith(row["lab"] + "-"):
            errors.append(RowError(row.file, row.line, "code",
                                   f"{row['code']!r} does not start with its lab {row['lab']}-"))
    for row in data.instruments:
        _check_rules(row, errors)
        _check_tier_order(row, "rate", errors)
    for row in data.services:
        _check_tier_order(row, "price", errors)
        for code in row["instruments"]:
            if code not in instrument_labs:
                errors.append(RowError(row.file, row.line, "instruments",
                                       f"unknown instrument {code!r}"))
            elif instrument_labs[code] != row["lab"]:
                errors.append(RowError(row.file, row.line, "instruments",
                                       f"instrument {code} belongs to lab "
                                       f"{instrument_labs[code]}, not {row['lab']}"))
        repeated = [code for code, n in Counter(row["instruments"]).items() if n > 1]
        if repeated:
            errors.append(RowError(row.file, row.line, "instruments",
                                   f"lists {', '.join(repeated)} more than once"))
    if not errors:
        _check_manifest(data, manifest, errors)
    if errors:
        # Files in load order: a broken lab row explains the instrument rows that name it.
        order = {name: n for n, name in enumerate(FILE_ORDER)}
        raise CatalogueError(sorted(errors, key=lambda e: (order.get(e.file, 99), e.line)))
    return data


def _check_rules(row: Row, errors: list[RowError]) -> None:
    slot = row["slot_minutes"]
    for column in ("min_minutes", "max_minutes"):
        if row[column] % slot:
            errors.append(RowError(row.file, row.line, column,
                                   f"{row[column]} is not a multiple of slot_minutes ({slot})"))
    if row["min_minutes"] > row["max_minutes"]:
        errors.append(RowError(row.file, row.line, "max_minutes",
                               "is smaller than min_minutes"))


def _check_tier_order(row: Row, prefix: str, errors: list[RowError]) -> None:
    internal, partner, external = (row[f"{prefix}_{tier}"] for tier in PriceTier)
    if not internal <= partner <= external:
        errors.append(RowError(row.file, row.line, f"{prefix}_internal",
                               f"tiers must not get cheaper from internal to external "
                               f"({internal} / {partner} / {external})"))


# -- applying to the database -----------------------------------------------------------------


@dataclass
class LoadReport:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    def count(self, kind: str, outcome: str) -> None:
        getattr(self, outcome)[kind] += 1

    def summary(self) -> str:
        kinds = ("labs", "categories", "instruments", "services")
        return "; ".join(f"{kind}: {self.created[kind]} new, {self.updated[kind]} updated, "
                         f"{self.unchanged[kind]} unchanged" for kind in kinds)


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for attribute, value in values.items():
        if getattr(obj, attribute) != value:
            setattr(obj, attribute, value)
            changed = True
    return changed


def _upsert(session: Session, existing: dict[str, Any], key: str, model: type,
            values: dict[str, Any]) -> tuple[Any, bool]:
    obj = existing.get(key)
    if obj is None:
        obj = model(**values)
        session.add(obj)
        existing[key] = obj
        return obj, True
    return obj, _assign(obj, values)


def apply_catalogue(session: Session, data: CatalogueData, today: dt.date) -> LoadReport:
    """Bring the database in line with ``data``. The caller commits."""
    report = LoadReport()

    labs = {lab.code: lab for lab in session.scalars(
        select(Lab).options(selectinload(Lab.opening_hours)))}
    for row in data.labs:
        values = {k: row[k] for k in ("code", "name_zh", "name_en", "location_zh", "location_en")}
        lab, changed = _upsert(session, labs, row["code"], Lab, values)
        wanted = sorted((day, opens, closes) for day, name in enumerate(WEEKDAYS)
                        for opens, closes in row[name])
        current = sorted((h.weekday, h.opens_at, h.closes_at) for h in lab.opening_hours)
        if wanted != current:
            lab.opening_hours = [OpeningHours(weekday=d, opens_at=o, closes_at=c)
                                 for d, o, c in wanted]
            changed = True
        _tally(report, "labs", lab, changed)

    categories = {c.key: c for c in session.scalars(select(Category))}
    for row in data.categories:
        category, changed = _upsert(session, categories, row["key"], Category,
                                    row.values)
        _tally(report, "categories", category, changed)
    session.flush()

    instruments = {i.code: i for i in session.scalars(
        select(Instrument).options(selectinload(Instrument.rate_cards),
                                   selectinload(Instrument.category)))}
    for row in data.instruments:
        values = {k: v for k, v in row.values.items()
                  if k not in ("lab", "category") and not k.startswith("rate_")}
        values["lab"] = labs[row["lab"]]
        values["category"] = categories[row["category"]]
        instrument, changed = _upsert(session, instruments, row["code"], Instrument,
                                      values)
        changed |= _apply_rates(instrument, row, today)
        changed |= _assign(instrument, {"search_text": instrument_search_text(instrument)})
        _tally(report, "instruments", instrument, changed)
    session.flush()

    services = {s.code: s for s in session.scalars(
        select(TestingService).options(selectinload(TestingService.instruments),
                                       selectinload(TestingService.category)))}
    for row in data.services:
        values = {k: v for k, v in row.values.items()
                  if k not in ("lab", "category", "instruments")}
        values["lab"] = labs[row["lab"]]
        values["category"] = categories[row["category"]]
        service, changed = _upsert(session, services, row["code"], TestingService,
                                   values)
        wanted_instruments = [instruments[code] for code in sorted(row["instruments"])]
        if sorted(i.code for i in service.instruments) != sorted(row["instruments"]):
            service.instruments = wanted_instruments
            changed = True
        changed |= _assign(service, {"search_text": service_search_text(service)})
        _tally(report, "services", service, changed)
    session.flush()
    return report


def _tally(report: LoadReport, kind: str, obj: Any, changed: bool) -> None:
    if obj.id is None:
        report.count(kind, "created")
    elif changed:
        report.count(kind, "updated")
    else:
        report.count(kind, "unchanged")


def _apply_rates(instrument: Instrument, row: Row, today: dt.date) -> bool:
    """A changed rate starts a new rate card from today; history stays for past bookings."""
    changed = False
    for tier in PriceTier:
        rate = row[f"rate_{tier.value}"]
        in_force = instrument.current_rate(tier, today)
        if in_force is not None and in_force.hourly_rate == rate:
            continue
        if in_force is None and not any(c.tier == tier for c in instrument.rate_cards):
            start = dt.date(instrument.purchase_year or today.year, 1, 1)
            instrument.rate_cards.append(RateCard(tier=tier, effective_from=min(start, today),
                                                  hourly_rate=rate))
        elif in_force is not None and in_force.effective_from == today:
            in_force.hourly_rate = rate
        else:
            instrument.rate_cards.append(RateCard(tier=tier, effective_from=today,
                                                  hourly_rate=rate))
        changed = True
    return changed


def load_catalogue(session: Session, today: dt.date, directory: Path = DATA_DIR) -> LoadReport:
    """Read, check and apply the catalogue; commits on success, changes nothing on failure."""
    data = read_catalogue(directory)
    try:
        report = apply_catalogue(session, data, today)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report
