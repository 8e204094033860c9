"""Factories that build valid objects with sensible defaults: ``create_x(**overrides)``."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from labbook.accounts.models import Organization, PriceTier, Role, User
from labbook.accounts.uscc import check_character
from labbook.billing.models import Charge, ChargeKind, RateCard, Statement
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Category, Instrument, Lab, OpeningHours, TestingService
from labbook.catalogue.search import instrument_search_text, service_search_text
from labbook.core.engine import write_transaction
from labbook.extensions import db

PASSWORD = "correct-horse-42"
_sequence = itertools.count(1)


@cache
def password_hash() -> str:
    from labbook.accounts.services import hash_password

    return hash_password(PASSWORD)


def make_uscc(n: int) -> str:
    first17 = f"91410800MA{n:07d}"
    return first17 + check_character(first17)


def _save(obj: Any) -> Any:
    db.session.add(obj)
    db.session.commit()
    return obj


def create_lab(**overrides: Any) -> Lab:
    n = next(_sequence)
    hours = overrides.pop("hours", {day: [(dt.time(8, 0), dt.time(18, 0))] for day in range(5)})
    values: dict[str, Any] = {
        "code": f"L{n}", "name_zh": f"实验室{n}", "name_en": f"Lab {n}",
        "location_zh": "A座", "location_en": "Building A",
    }
    values.update(overrides)
    lab = Lab(**values)
    lab.opening_hours = [OpeningHours(weekday=day, opens_at=o, closes_at=c)
                         for day, intervals in hours.items() for o, c in intervals]
    return _save(lab)


def create_category(**overrides: Any) -> Category:
    n = next(_sequence)
    values = {"key": f"category-{n}", "name_zh": f"类别{n}", "name_en": f"Category {n}"}
    values.update(overrides)
    return _save(Category(**values))


def create_instrument(**overrides: Any) -> Instrument:
    n = next(_sequence)
    rates = overrides.pop("rates", {PriceTier.INTERNAL: Decimal("60.00"),
                                    PriceTier.PARTNER: Decimal("80.00"),
                                    PriceTier.EXTERNAL: Decimal("100.00")})
    lab = overrides.pop("lab", None) or create_lab()
    category = overrides.pop("category", None) or create_category()
    values: dict[str, Any] = {
        "code": f"{lab.code}-{n:03d}", "name_zh": f"仪器{n}", "name_en": f"Instrument {n}",
        "model": f"M-{n}", "manufacturer": "Acme", "purchase_year": 2020,
        "value_cny": Decimal("100000.00"), "room": "A101", "specs_zh": "规格",
        "functions_zh": "功能",
    }
    values.update(overrides)
    instrument = Instrument(lab=lab, category=category, **values)
    db.session.add(instrument)
    instrument.rate_cards = [RateCard(tier=tier, effective_from=dt.date(2020, 1, 1),
                                      hourly_rate=rate) for tier, rate in rates.items()]
    instrument.search_text = instrument_search_text(instrument)
    return _save(instrument)


def create_service(**overrides: Any) -> TestingService:
    n = next(_sequence)
    instruments = overrides.pop("instruments", None)
    lab = overrides.pop("lab", None) or (instruments[0].lab if instruments else create_lab())
    if instruments is None:
        instruments = [create_instrument(lab=lab)]
    category = overrides.pop("category", None) or create_category()
    values: dict[str, Any] = {
        "code": f"{lab.code}-S{n:03d}", "name_zh": f"检测{n}", "name_en": f"Test {n}",
        "standard": "GB/T 228.1", "sample_requirements_zh": "样品",
        "sample_requirements_en": "Sample",
        "turnaround_days": 5, "price_internal": Decimal("60.00"),
        "price_partner": Decimal("80.00"), "price_external": Decimal("100.00"),
    }
    values.update(overrides)
    service = TestingService(lab=lab, category=category, **values)
    db.session.add(service)
    service.instruments = instruments
    service.search_text = service_search_text(service)
    return _save(service)


def create_organization(**overrides: Any) -> Organization:
    n = next(_sequence)
    values: dict[str, Any] = {"name": f"企业{n}", "uscc": make_uscc(n), "tier": PriceTier.EXTERNAL}
    values.update(overrides)
    return _save(Organization(**values))


def create_user(**overrides: Any) -> User:
    n = next(_sequence)
    role = overrides.get("role", Role.RESEARCHER)
    if "organization" not in overrides:
        overrides["organization"] = create_organization(
            tier=PriceTier.INTERNAL if role != Role.RESEARCHER else PriceTier.EXTERNAL)
    values: dict[str, Any] = {"email": f"user{n}@example.cn", "name": f"用户{n}",
                              "password_hash": password_hash(), "role": role}
    values.update(overrides)
    return _save(User(**values))


def create_manager(lab: Lab, **overrides: Any) -> User:
    return create_user(role=Role.LAB_MANAGER, managed_labs=[lab], **overrides)


def create_admin(**overrides: Any) -> User:
    return create_user(role=Role.ADMIN, **overrides)


def reload(obj: Any) -> Any:
    """``obj`` as the database has it now, after requests made in other sessions.

    Ending the test's transaction matters: an open one keeps reading its old snapshot.
    """
    db.session.rollback()
    db.session.refresh(obj)
    return obj


LAB_TZ = ZoneInfo("Asia/Shanghai")


def lab_time(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """An aware UTC moment from a lab-local date and time."""
    return dt.datetime.combine(day, dt.time(hour, minute), LAB_TZ).astimezone(dt.UTC)


def next_weekday(weekday: int = 0, *, weeks_ahead: int = 1) -> dt.date:
    """A date (lab time) on ``weekday`` (0 = Monday) at least a few days from today."""
    today = dt.datetime.now(LAB_TZ).date()
    days = (weekday - today.weekday()) % 7 + 7 * weeks_ahead
    return today + dt.timedelta(days=days)


def create_booking(**overrides: Any) -> Booking:
    """A booking written straight to the database, without the rules (for setting scenes)."""
    instrument = overrides.pop("instrument", None) or create_instrument()
    user = overrides.pop("user", None) or create_user()
    start = overrides.pop("start_at", None) or lab_time(next_weekday(0), 10)
    end = overrides.pop("end_at", None) or start + dt.timedelta(hours=1)
    values: dict[str, Any] = {
        "instrument": instrument, "user": user, "organization": user.organization,
        "start_at": start, "end_at": end,
        "blocked_until": end + dt.timedelta(minutes=instrument.buffer_minutes),
        "state": BookingState.APPROVED, "purpose": "测试",
    }
    values.update(overrides)
    return _save(Booking(**values))


def create_charge(**overrides: Any) -> Charge:
    """A charge line written straight to the database (an adjustment unless told otherwise)."""
    organization = overrides.pop("organization", None) or create_organization()
    lab = overrides.pop("lab", None) or create_lab()
    occurred_at = overrides.pop("occurred_at", None) or lab_time(dt.date(2026, 11, 2), 10)
    values: dict[str, Any] = {
        "kind": ChargeKind.ADJUSTMENT, "organization": organization, "lab": lab,
        "occurred_at": occurred_at,
        "period": occurred_at.astimezone(LAB_TZ).strftime("%Y-%m"),
        "tier": organization.tier, "amount": Decimal("100.00"), "reason": "测试",
    }
    values.update(overrides)
    return _save(Charge(**values))


def create_statement(charges: list[Charge], **overrides: Any) -> Statement:
    """A draft statement holding ``charges`` (of one organization), totalled."""
    n = next(_sequence)
    values: dict[str, Any] = {
        "number": f"LB-2026-{n:06d}", "year": 2026, "sequence": n,
        "organization": charges[0].organization, "period": charges[0].period,
        "total": sum((charge.amount for charge in charges), Decimal("0.00")),
    }
    values.update(overrides)
    statement = Statement(**values)
    statement.charges = charges
    return _save(statement)


@contextmanager
def another_session() -> Iterator[Session]:
    """A write transaction in a session of its own, as another request would run it: what it
    does is committed at the end, behind the back of the objects the test holds."""
    with Session(db.engine) as session, write_transaction(session):
        yield session


def session_id(user: User) -> str:
    """What a browser's session keeps once ``user`` has signed in: a new sign-in of theirs."""
    from labbook.accounts.services import start_login_session

    start_login_session(db.session, user, lifetime=dt.timedelta(days=1),
                        now=dt.datetime.now(dt.UTC))
    db.session.commit()
    return user.get_id()


def bearer(user: User) -> dict[str, str]:
    """Authorization headers with a fresh API token of ``user``."""
    from labbook.accounts.services import create_api_token

    _token, secret = create_api_token(db.session, user, name="test",
                                      now=dt.datetime.now(dt.UTC))
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}
