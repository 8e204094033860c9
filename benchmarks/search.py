"""Catalogue search speed, measured in-process on a SQLite file or PostgreSQL.

Loads the shipped catalogue (163 instruments, 277 services), then a made-up one TIMES as large
(copies of every instrument and service under new codes: 1,630 and 2,770 at ×10), and for
each prints JSON: how long building the search index took (done once per catalogue change),
and the wall-clock and CPU p50/p95 of the queries people type at a front desk — ranking alone
on the index in memory, the instrument and service lists' search as the pages call it (the
catalogue token read, the ranking, the page's rows loaded), and the suggestions while typing.
(The two
catalogues are measured one after the other, not alternated: a process keeps the index of one
catalogue, so alternating would measure rebuilding it.)

    python benchmarks/search.py --times 10 --iterations 20
    python benchmarks/search.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/search.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from benchmarks.cli import Run, Timings, settle
from labbook import create_app
from labbook.accounts.models import PriceTier
from labbook.billing.models import RateCard
from labbook.catalogue import listing, search
from labbook.catalogue.loader import load_catalogue
from labbook.catalogue.models import Instrument, TestingService
from labbook.catalogue.services import CatalogueFilter, search_instruments, search_services
from labbook.config import TestingConfig
from labbook.extensions import db

QUERIES = ("TEM", "液质", "岛津", "GB5009.5", "gb 5009.5", "ＧＢ５００９．５", "gb/t228.1",
           "saomiaodianjing", "smdj", "扫描电镜", "XRD", "ICP-MS", "电池", "蛋白质",
           "scanning electron microscope", "tensile test", "Shimadzu", "三坐标", "NEM-009",
           "农药残留")
TODAY = dt.date(2026, 11, 27)
INSTRUMENT_COLUMNS = [c.key for c in Instrument.__table__.columns
                      if c.key not in ("id", "code", "lab_id", "category_id")]
SERVICE_COLUMNS = [c.key for c in TestingService.__table__.columns
                   if c.key not in ("id", "code", "lab_id", "category_id")]


def multiply(times: int) -> None:
    """Add ``times - 1`` copies of every instrument and service under new codes (the copy of a
    service uses the copies of its instruments), committed (which renews the index's token)."""
    instruments = db.session.scalars(select(Instrument).options(
        selectinload(Instrument.rate_cards))).all()
    services = db.session.scalars(select(TestingService).options(
        selectinload(TestingService.instruments))).all()
    for copy in range(1, times):
        twins: dict[int, Instrument] = {}
        for original in instruments:
            twin = Instrument(code=f"{original.code}-{copy}", lab=original.lab,
                              category=original.category,
                              **{key: getattr(original, key) for key in INSTRUMENT_COLUMNS})
            twin.rate_cards = [RateCard(tier=card.tier, effective_from=card.effective_from,
                                        hourly_rate=card.hourly_rate) for card in
                               original.rate_cards]
            twins[original.id] = twin
            db.session.add(twin)
        for original in services:
            twin = TestingService(code=f"{original.code}-{copy}", lab=original.lab,
                                  category=original.category,
                                  **{key: getattr(original, key) for key in SERVICE_COLUMNS})
            twin.name_zh = f"{original.name_zh}（{copy}）"
            twin.name_en = f"{original.name_en} ({copy})"
            twin.instruments = [twins[i.id] for i in original.instruments]
            db.session.add(twin)
        db.session.flush()
    db.session.commit()


def timings(call: Callable[[str], Any], iterations: int) -> dict[str, float]:
    """p50 and p95 in milliseconds of ``call`` over every query, ``iterations`` times: wall
    time (which other processes on a busy machine stretch) and this process's CPU time."""
    timed = Timings()
    for _ in range(iterations):
        for query in QUERIES:
            timed(call, query)
    return timed.summary()


def measure(iterations: int) -> dict[str, Any]:
    session = db.session
    started = time.perf_counter()
    index = search.current_index(session)
    build_seconds = time.perf_counter() - started
    assert search.current_index(session) is index  # built once, kept until the next change

    def rank(query: str) -> None:
        search.current_index(session).instruments.rank(query)
        search.current_index(session).services.rank(query)

    return {
        "instruments": len(index.instruments.items),
        "services": len(index.services.items),
        "index_build_seconds": round(build_seconds, 3),
        "rank_both_kinds": timings(rank, iterations),
        "instrument_list": timings(lambda q: search_instruments(
            session, CatalogueFilter(q=q)), iterations),
        "service_list": timings(lambda q: search_services(
            session, CatalogueFilter(q=q)), iterations),
        "suggestions": timings(lambda q: listing.suggestions(
            session, q, PriceTier.EXTERNAL, TODAY), iterations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=10,
                        help="the made-up catalogue is this many times the real one")
    parser.add_argument("--iterations", type=int, default=20,
                        help="how often each query is timed")
    run = Run(parser, smoke={"times": 2, "iterations": 1})
    args = run.args
    with tempfile.TemporaryDirectory() as tmp, run.database(tmp) as database_url:
        class Config(TestingConfig):
            SQLALCHEMY_DATABASE_URI = database_url

        app = create_app(Config)
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            load_catalogue(db.session, TODAY)
            db.session.commit()
            settle(db.engine)
            real = measure(args.iterations)
            multiply(args.times)
            settle(db.engine)
            larger = measure(args.iterations)
            db.session.close()
            db.engine.dispose()
            run.report({"real_catalogue": real, f"catalogue_x{args.times}": larger,
                        "queries": list(QUERIES), "target_p50_ms": 5})


if __name__ == "__main__":
    main()
