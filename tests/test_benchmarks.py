"""Every benchmark still runs: each one's smoke mode, on tiny data, prints its JSON — on the
database the suite runs on: SQLite, or PostgreSQL when LABBOOK_TEST_DATABASE_URL names one (CI
runs the suite on both, so each benchmark runs on both)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(path.name for path in BENCHMARKS.glob("*.py")
                 if path.name not in ("__init__.py", "cli.py"))
#: Benchmarks that use no database (so take no --database-url).
WITHOUT_DATABASE = {"free_slots.py", "report_pdf.py"}
#: Benchmarks that need a program besides Python, which the machine may lack.
NEEDS = {"instructions.py": "valgrind"}
POSTGRESQL_URL = os.environ.get("LABBOOK_TEST_DATABASE_URL")
RUNS = [(script, "postgresql") for script in SCRIPTS if script not in WITHOUT_DATABASE] \
    if POSTGRESQL_URL else [(script, "sqlite") for script in SCRIPTS]


def test_every_benchmark_is_covered():
    assert {"booking_api.py", "free_slots.py", "http_writes.py", "ical_feed.py", "instructions.py",
            "month_close.py", "report_pdf.py", "reports.py", "search.py", "stack_floor.py",
            "verification.py"} <= set(SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize(("script", "database"), RUNS)
def test_smoke_mode_runs_and_prints_its_figures(script, database):
    if script in NEEDS and shutil.which(NEEDS[script]) is None:
        lacking = f"{script} needs {NEEDS[script]}, which this machine lacks: " \
                  "`make bench-tools` installs it"
        if os.environ.get("LABBOOK_BENCH_TOOLS_REQUIRED"):
            pytest.fail(f"{lacking} (CI runs it, and requires this benchmark to run)")
        pytest.skip(lacking)
    options = ["--database-url", POSTGRESQL_URL] if database == "postgresql" else []
    finished = subprocess.run([sys.executable, str(BENCHMARKS / script), "--smoke", *options],
                              capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(finished.stdout)
    assert result["smoke"] is True
    assert result["wall_seconds"] > 0 and result["cpu_seconds"] > 0
    assert result["machine"]["cores"] >= 1
    assert len(result["machine"]["load_average_at_start"]) == 3
    if script not in WITHOUT_DATABASE:
        assert result["database"] == database

    if script == "booking_api.py":
        assert_books_as_researcher_and_admin_in_each_placement(result)
    if script == "instructions.py":
        # Millions of instructions for a booking: the requests were counted, and nothing else
        # (start-up alone is hundreds of millions).
        counted = result["by_actor"]["admin"]
        assert 1_000_000 < counted["create"]["instructions_per_request"] < 100_000_000
        # Labbook's booking against the bare one that does only its SQL: dearer, not absurdly.
        assert 1 < counted["create"]["per_bare_create"] < 10


def assert_books_as_researcher_and_admin_in_each_placement(result: dict) -> None:
    assert [run["placement"] for run in result["runs"]] == ["past", "future"]
    for run in result["runs"]:
        for actor in ("researcher", "admin"):
            create = run[actor]["create"]
            assert create["cpu_p50_ms"] > 0 and create["python_calls"] > 0
        # The researcher's bookings of instruments that need approval e-mail the lab's manager.
        assert run["researcher"]["approval_emails_queued"] > 0
    assert result["ratios_to_first"][0]["placement"] == "future"
