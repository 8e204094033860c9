"""Every benchmark still runs: each one's smoke mode, on tiny data, prints its JSON."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(path.name for path in BENCHMARKS.glob("*.py")
                 if path.name not in ("__init__.py", "cli.py"))


def test_every_benchmark_is_covered():
    assert {"booking_api.py", "http_writes.py", "ical_feed.py", "month_close.py",
            "report_pdf.py", "reports.py", "search.py", "stack_floor.py",
            "verification.py"} <= set(SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_smoke_mode_runs_and_prints_its_figures(script):
    finished = subprocess.run([sys.executable, str(BENCHMARKS / script), "--smoke"],
                              capture_output=True, text=True, timeout=180, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(finished.stdout)
    assert result["smoke"] is True
    assert result["wall_seconds"] > 0 and result["cpu_seconds"] > 0
