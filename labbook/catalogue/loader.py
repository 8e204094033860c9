"""Load the catalogue data files (labs, categories, owner units, instruments, testing
services).

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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from labbook.accounts.models import PriceTier
from labbook.billing.models import RateCard
from labbook.catalogue.models import (
    MAX_CHANNELS,
    Category,
    Instrument,
    Lab,
    OpeningHours,
    Owner,
    OwnerKind,
    TestingService,
)
from labbook.catalogue.search import instrument_search_text, service_search_text
from labbook.core.money import AmountError, AmountFault, read_amount, to_fen

DATA_DIR = Path(__file__).parent / "data"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FORMULA_PREFIXES = ("=", "+", "-", "@")
FILE_ORDER = ("labs.csv", "categories.csv", "owners.csv", "instruments.csv", "services.csv",
              "manifest.csv")

# What the files accept. The administration pages accept exactly the same (they read these),
# so an instrument edited in labbook could always be written back to a valid file.
INSTRUMENT_CODE = r"[A-Z]{2,8}-\d{3,5}"
SERVICE_CODE = r"[A-Z]{2,8}-S\d{3,5}"
OWNER_CODE = r"[A-Z][A-Z0-9]{1,15}"
RULE_RANGES: dict[str, tuple[int, int]] = {
    "slot_minutes": (5, 1440), "min_minutes": (5, 525600), "max_minutes": (5, 525600),
    "min_notice_minutes": (0, 525600), "horizon_days": (1, 730), "buffer_minutes": (0, 1440),
    "cancellation_window_hours": (0, 720), "channels": (1, MAX_CHANNELS),
}
RULE_FLAGS = ("requires_approval", "requires_qualification")
PURCHASE_YEARS = (1950, 2100)
#: A lab's contact person: a phone number as people write it (0391-3987101, +86 391 398 7101,
#: (0391) 3987101 转 8012) and an email address.
CONTACT_PHONE = r"\+?[0-9][0-9 ()\-]{4,28}[0-9]( ?(转|ext\.?|x) ?[0-9]{1,6})?"
CONTACT_EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
MAX_CONTACT = {"contact_name": 100, "contact_phone": 40, "contact_email": 254}
TURNAROUND_DAYS = (1, 365)
EXPRESS_SURCHARGE_PERCENT = (0, 300)
#: A larger amount is a typing mistake (and would not fit the fen column).
MAX_AMOUNT = Decimal("999999999.99")


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


def _optional_matching(pattern: str, limit: int) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def parse(value: str) -> str:
        value = _optional_text(value)
        if value and (len(value) > limit or not compiled.fullmatch(value)):
            raise _CellError(f"{value!r} is not valid here")
        return value
    return parse


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


def amount_fault(amount: Decimal) -> str | None:
    """Why ``amount`` is no price or value in yuan (``not_positive``, ``too_large``,
    ``sub_fen``), or None when it is one."""
    if not amount.is_finite() or amount <= 0:
        return "not_positive"
    if amount > MAX_AMOUNT:
        return "too_large"
    if amount != to_fen(amount):
        return "sub_fen"
    return None


def _money(value: str) -> Decimal:
    try:
        amount = read_amount(value)
    except AmountError as error:
        if error.fault == AmountFault.SUB_FEN:
            raise _CellError(f"{value!r} has more than two decimals (fen)") from None
        raise _CellError(f"{value!r} is not an amount in yuan (e.g. 1250.00)") from None
    fault = amount_fault(amount)
    if fault == "not_positive":
        raise _CellError(f"{value!r} must be a positive amount")
    if fault == "too_large":
        raise _CellError(f"{value!r} is more than {MAX_AMOUNT}")
    return amount


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


def _owner_kind(value: str) -> OwnerKind:
    try:
        return OwnerKind(value)
    except ValueError:
        kinds = ", ".join(kind.value for kind in OwnerKind)
        raise _CellError(f"{value!r} is not one of {kinds}") from None


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
    "contact_name": _optional_matching(r"\S.*", MAX_CONTACT["contact_name"]),
    "contact_phone": _optional_matching(CONTACT_PHONE, MAX_CONTACT["contact_phone"]),
    "contact_email": _optional_matching(CONTACT_EMAIL, MAX_CONTACT["contact_email"]),
}
CATEGORY_COLUMNS: Columns = {
    "key": _code(r"[a-z0-9]+(-[a-z0-9]+)*"), "name_zh": _text, "name_en": _text,
}
RULE_COLUMNS: Columns = {
    **{name: _integer(*bounds) for name, bounds in RULE_RANGES.items()},
    **dict.fromkeys(RULE_FLAGS, _boolean),
}
OWNER_COLUMNS: Columns = {
    "code": _code(OWNER_CODE), "name_zh": _text, "name_en": _text, "kind": _owner_kind,
    "note": _optional_text,
}
INSTRUMENT_COLUMNS: Columns = {
    "code": _code(INSTRUMENT_CODE), "lab": _text, "category": _text,
    "name_zh": _text, "name_en": _text, "model": _text, "manufacturer": _text,
    "purchase_year": _integer(*PURCHASE_YEARS), "value_cny": _money, "room": _text,
    "specs_zh": _text, "functions_zh": _text,
    "rate_internal": _money, "rate_partner": _money, "rate_external": _money,
    **RULE_COLUMNS,
    # The owner unit's code (owners.csv); empty for an instrument that has none.
    "owner": _optional_text,
}
SERVICE_COLUMNS: Columns = {
    "code": _code(SERVICE_CODE), "lab": _text, "category": _text,
    "name_zh": _text, "name_en": _text, "standard": _text,
    "sample_requirements_zh": _text, "sample_requirements_en": _text,
    "turnaround_days": _integer(*TURNAROUND_DAYS),
    "price_internal": _money, "price_partner": _money, "price_external": _money,
    "express_surcharge_percent": _integer(*EXPRESS_SURCHARGE_PERCENT), "instruments": _codes,
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
    owners: list[Row] = field(default_factory=list)
    instruments: list[Row] = field(default_factory=list)
    services: list[Row] = field(default_factory=list)


def _read(path: Path, columns: Columns, errors: list[RowError]) -> Iterator[Row]:
    name = path.name
    if not path.exists():
        errors.append(RowError(name, 0, None, "file is missing"))
        return
    # utf-8-sig: spreadsheets save UTF-8 CSV with a byte-order mark, which is no part of the
    # first column's name.
    with path.open(encoding="utf-8-sig", newline="") as handle:
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
        "owners": str(len(data.owners)),
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
        owners=list(_read(directory / "owners.csv", OWNER_COLUMNS, errors)),
        instruments=list(_read(directory / "instruments.csv", INSTRUMENT_COLUMNS, errors)),
        services=list(_read(directory / "services.csv", SERVICE_COLUMNS, errors)),
    )
    manifest = list(_read(directory / "manifest.csv", MANIFEST_COLUMNS, errors))
    _unique(data.labs, "code", errors)
    _unique(data.categories, "key", errors)
    _unique(data.owners, "code", errors)
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
    owner_codes = {row["code"] for row in data.owners}
    for row in data.instruments:
        if row["owner"] and row["owner"] not in owner_codes:
            errors.append(RowError(row.file, row.line, "owner",
                                   f"unknown owner {row['owner']!r}"))
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


def rule_conflicts(slot_minutes: int, min_minutes: int, max_minutes: int
                   ) -> list[tuple[str, str]]:
    """Booking rules that contradict each other, as (column at fault, ``off_grid`` or
    ``below_min``): the shortest and longest booking must fit the slot grid, in that order."""
    conflicts = [(column, "off_grid")
                 for column, minutes in (("min_minutes", min_minutes),
                                         ("max_minutes", max_minutes))
                 if minutes % slot_minutes]
    if min_minutes > max_minutes:
        conflicts.append(("max_minutes", "below_min"))
    return conflicts


def _check_rules(row: Row, errors: list[RowError]) -> None:
    slot = row["slot_minutes"]
    for column, conflict in rule_conflicts(slot, row["min_minutes"], row["max_minutes"]):
        reason = f"{row[column]} is not a multiple of slot_minutes ({slot})" \
            if conflict == "off_grid" else "is smaller than min_minutes"
        errors.append(RowError(row.file, row.line, column, reason))


def tiers_in_order(internal: Decimal, partner: Decimal, external: Decimal) -> bool:
    """Prices must not get cheaper from the internal to the external tier."""
    return internal <= partner <= external


def _check_tier_order(row: Row, prefix: str, errors: list[RowError]) -> None:
    internal, partner, external = (row[f"{prefix}_{tier}"] for tier in PriceTier)
    if not tiers_in_order(internal, partner, external):
        errors.append(RowError(row.file, row.line, f"{prefix}_internal",
                               f"tiers must not get cheaper from internal to external "
                               f"({internal} / {partner} / {external})"))


# -- applying to the database -----------------------------------------------------------------


KINDS = ("labs", "categories", "owners", "instruments", "services")

#: What changed in a row: attribute -> (before, after), both as shown to people.
Changes = dict[str, tuple[str | None, str | None]]


@dataclass
class RowChange:
    """A row the files add (``created``) or change (``updated``), and what changes in it."""

    kind: str
    key: str
    outcome: str
    changes: Changes
    #: The database object, for callers that record the change once it is written.
    obj: Any = field(repr=False, compare=False)


@dataclass
class LoadReport:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    #: Rows the files would change but that were left as edited in labbook (``keep_existing``).
    kept: Counter[str] = field(default_factory=Counter)
    changes: list[RowChange] = field(default_factory=list)

    def count(self, kind: str, outcome: str) -> None:
        getattr(self, outcome)[kind] += 1

    def summary(self) -> str:
        return "; ".join(f"{kind}: {self.created[kind]} new, {self.updated[kind]} updated, "
                         f"{self.unchanged[kind]} unchanged"
                         + (f", {self.kept[kind]} kept as edited" if self.kept[kind] else "")
                         for kind in KINDS)


def shown_value(value: Any) -> str | None:
    """A value as a person reads it in a list of changes (a lab by code, a category by key)."""
    if value is None:
        return None
    if isinstance(value, Lab):
        return value.code
    if isinstance(value, Category):
        return value.key
    if isinstance(value, Owner):
        return value.code
    return str(value)


def assign_changes(obj: Any, values: Mapping[str, Any]) -> Changes:
    """Set ``values`` on ``obj``; what that changed."""
    changes: Changes = {}
    for attribute, value in values.items():
        before = getattr(obj, attribute)
        if before != value:
            setattr(obj, attribute, value)
            changes[attribute] = (shown_value(before), shown_value(value))
    return changes


def _upsert(session: Session, existing: dict[str, Any], key: str, model: type,
            values: dict[str, Any]) -> tuple[Any, bool, Changes]:
    """The row of ``key`` brought in line with ``values``: the row, whether it is new, and what
    changed in it."""
    obj = existing.get(key)
    if obj is None:
        obj = model(**values)
        session.add(obj)
        existing[key] = obj
        return obj, True, {}
    return obj, False, assign_changes(obj, values)


def _hours_text(intervals: list[tuple[int, dt.time, dt.time]]) -> str:
    return ", ".join(f"{WEEKDAYS[day]} {opens:%H:%M}-{closes:%H:%M}"
                     for day, opens, closes in intervals)


def apply_catalogue(session: Session, data: CatalogueData, today: dt.date) -> LoadReport:
    """Bring the database in line with ``data``. The caller commits."""
    report = LoadReport()

    labs = {lab.code: lab for lab in session.scalars(
        select(Lab).options(selectinload(Lab.opening_hours)))}
    for row in data.labs:
        values = {k: row[k] for k in ("code", "name_zh", "name_en", "location_zh", "location_en")}
        # The contact person as the file names it; where it names nobody, the one the lab's
        # managers keep in labbook stays.
        values |= {k: row[k] for k in MAX_CONTACT if row[k]}
        lab, created, changes = _upsert(session, labs, row["code"], Lab, values)
        wanted = sorted((day, opens, closes) for day, name in enumerate(WEEKDAYS)
                        for opens, closes in row[name])
        current = sorted((h.weekday, h.opens_at, h.closes_at) for h in lab.opening_hours)
        if wanted != current:
            # The old intervals go first: a new one may open on the same weekday at the same
            # time, which the table's unique constraint refuses while the old one is there.
            lab.opening_hours.clear()
            session.flush()
            lab.opening_hours = [OpeningHours(weekday=d, opens_at=o, closes_at=c)
                                 for d, o, c in wanted]
            changes["opening_hours"] = (_hours_text(current), _hours_text(wanted))
        _tally(report, "labs", row["code"], lab, created, changes)

    categories = {c.key: c for c in session.scalars(select(Category))}
    for row in data.categories:
        category, created, changes = _upsert(session, categories, row["key"], Category,
                                             row.values)
        _tally(report, "categories", row["key"], category, created, changes)

    owners = {o.code: o for o in session.scalars(select(Owner))}
    for row in data.owners:
        owner, created, changes = _upsert(session, owners, row["code"], Owner, row.values)
        _tally(report, "owners", row["code"], owner, created, changes)
    session.flush()

    instruments = {i.code: i for i in session.scalars(
        select(Instrument).options(selectinload(Instrument.rate_cards),
                                   selectinload(Instrument.category)))}
    for row in data.instruments:
        values = {k: v for k, v in row.values.items()
                  if k not in ("lab", "category", "owner") and not k.startswith("rate_")}
        values["lab"] = labs[row["lab"]]
        values["category"] = categories[row["category"]]
        values["owner"] = owners[row["owner"]] if row["owner"] else None
        instrument, created, changes = _upsert(session, instruments, row["code"],
                                               Instrument, values)
        changes.update(_apply_rates(instrument, row, today))
        changes.update(assign_changes(instrument,
                               {"search_text": instrument_search_text(instrument)}))
        _tally(report, "instruments", row["code"], instrument, created, changes)
    session.flush()

    services = {s.code: s for s in session.scalars(
        select(TestingService).options(selectinload(TestingService.instruments),
                                       selectinload(TestingService.category)))}
    for row in data.services:
        values = {k: v for k, v in row.values.items()
                  if k not in ("lab", "category", "instruments")}
        values["lab"] = labs[row["lab"]]
        values["category"] = categories[row["category"]]
        service, created, changes = _upsert(session, services, row["code"],
                                            TestingService, values)
        wanted_instruments = [instruments[code] for code in sorted(row["instruments"])]
        current_codes = sorted(i.code for i in service.instruments)
        if current_codes != sorted(row["instruments"]):
            service.instruments = wanted_instruments
            changes["instruments"] = ("; ".join(current_codes),
                                      "; ".join(sorted(row["instruments"])))
        changes.update(assign_changes(service, {"search_text": service_search_text(service)}))
        _tally(report, "services", row["code"], service, created, changes)
    session.flush()
    return report


def _tally(report: LoadReport, kind: str, key: str, obj: Any, created: bool,
           changes: Changes) -> None:
    # Not ``obj.id is None``: a flush on the way (a new lab's opening hours) gives it an id.
    if created:
        outcome = "created"
    elif changes:
        outcome = "updated"
    else:
        outcome = "unchanged"
    report.count(kind, outcome)
    if outcome != "unchanged":
        report.changes.append(RowChange(kind, key, outcome, changes, obj))


def _apply_rates(instrument: Instrument, row: Row, today: dt.date) -> Changes:
    """A changed rate starts a new rate card from today; history stays for past bookings."""
    changes: Changes = {}
    for tier in PriceTier:
        rate = row[f"rate_{tier.value}"]
        in_force = instrument.current_rate(tier, today)
        if in_force is not None and in_force.hourly_rate == rate:
            continue
        before = in_force.hourly_rate if in_force else None
        changes[f"rate_{tier.value}"] = (shown_value(before), shown_value(rate))
        if in_force is None and not any(c.tier == tier for c in instrument.rate_cards):
            start = dt.date(instrument.purchase_year or today.year, 1, 1)
            instrument.rate_cards.append(RateCard(tier=tier, effective_from=min(start, today),
                                                  hourly_rate=rate))
        elif in_force is not None and in_force.effective_from == today:
            in_force.hourly_rate = rate
        else:
            instrument.rate_cards.append(RateCard(tier=tier, effective_from=today,
                                                  hourly_rate=rate))
    return changes


def preview_catalogue(session: Session, data: CatalogueData, today: dt.date) -> LoadReport:
    """What applying ``data`` would change, without changing anything.

    It is applied for real inside a savepoint that is then rolled back, so the preview can never
    disagree with what applying does.
    """
    savepoint = session.begin_nested()
    try:
        return apply_catalogue(session, data, today)
    finally:
        savepoint.rollback()


def new_rows(session: Session, data: CatalogueData) -> CatalogueData:
    """Only the rows of ``data`` whose code (or key) is not in the database yet."""
    def missing(rows: list[Row], column: str, key: Any) -> list[Row]:
        have = set(session.scalars(select(key)))
        return [row for row in rows if row[column] not in have]

    return CatalogueData(labs=missing(data.labs, "code", Lab.code),
                         categories=missing(data.categories, "key", Category.key),
                         owners=missing(data.owners, "code", Owner.code),
                         instruments=missing(data.instruments, "code", Instrument.code),
                         services=missing(data.services, "code", TestingService.code))


def load_catalogue(session: Session, today: dt.date, directory: Path = DATA_DIR, *,
                   keep_existing: bool = False) -> LoadReport:
    """Read, check and apply the catalogue; commits on success, changes nothing on failure.

    With ``keep_existing`` only rows that are not in the database yet are added; rows already
    there keep what was edited in labbook, and those the files would change are counted as
    ``kept`` (the report's ``changes`` say how they differ).
    """
    data = read_catalogue(directory)
    try:
        if keep_existing:
            report = preview_catalogue(session, data, today)
            apply_catalogue(session, new_rows(session, data), today)
            report.kept, report.updated = report.updated, Counter()
        else:
            report = apply_catalogue(session, data, today)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return report
