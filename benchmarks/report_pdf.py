"""Test report PDF rendering cost, in-process (the target: 20 samples × 10 items in ≤ 1 s).

Renders the same report ITERATIONS times (no database) and prints JSON: wall-clock and CPU time
per render (p50/p95 in milliseconds), the first render on its own (it also loads the font), the
report's pages and bytes, and whether every render gave the same bytes (the SHA-256 the verification
page shows depends on it).

    python benchmarks/report_pdf.py --samples 20 --items 10 --iterations 30
    python benchmarks/report_pdf.py --smoke   # does it still run? (tiny data, no figures)
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cli import Run, Timings
from labbook import create_app
from labbook.config import TestingConfig
from labbook.documents.report import render_report
from tests.documents.examples import report_document
from tests.documents.reading import pdf_page_count


def measure(samples: int, items: int, iterations: int, language: str) -> dict:
    app = create_app(TestingConfig)
    document = report_document(samples=samples, items=items, language=language)
    timed, digests = Timings(), set()
    with app.app_context():
        first_started = time.perf_counter()
        data = render_report(document)
        first = time.perf_counter() - first_started
        for _ in range(iterations):
            data = timed(render_report, document)
            digests.add(hashlib.sha256(data).hexdigest())
    return {
        "benchmark": "report_pdf", "samples": samples, "items": items, "language": language,
        "pages": pdf_page_count(data), "bytes": len(data),
        "first_render_ms": round(first * 1000, 3),
        "render": timed.summary(),
        "same_bytes_every_time": len(digests) == 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--language", choices=("zh_CN", "en"), default="zh_CN")
    run = Run(parser, database=False, smoke={"samples": 2, "items": 2, "iterations": 3})
    args = run.args
    run.report(measure(args.samples, args.items, args.iterations, args.language))


if __name__ == "__main__":
    main()
