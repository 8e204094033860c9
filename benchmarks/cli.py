"""What every benchmark's command line shares: a smoke mode, and the run's wall and CPU time.

``--smoke`` runs a benchmark on tiny data for a few iterations: its figures mean nothing, but
every step runs and its JSON is printed, so that CI (``make bench-smoke``) notices a benchmark
that no longer works long before anyone needs its figures. Options given on the command line
win over the smoke mode's.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any


class Run:
    """A benchmark run: its options, and the clock and CPU time since it started."""

    def __init__(self, parser: argparse.ArgumentParser, smoke: dict[str, Any]) -> None:
        parser.add_argument("--smoke", action="store_true",
                            help="tiny data and a few iterations, to check that the benchmark "
                                 "runs; its figures mean nothing")
        self.args = parser.parse_args()
        if self.args.smoke:
            for name, value in smoke.items():
                if getattr(self.args, name) == parser.get_default(name):
                    setattr(self.args, name, value)
        self._wall = time.perf_counter()
        self._cpu = _cpu_seconds()

    def report(self, result: dict[str, Any]) -> None:
        """Print ``result`` as JSON with the whole run's wall and CPU time (this process and
        the servers it started and waited for)."""
        print(json.dumps({
            **result, "smoke": self.args.smoke,
            "wall_seconds": round(time.perf_counter() - self._wall, 2),
            "cpu_seconds": round(_cpu_seconds() - self._cpu, 2),
        }, indent=2, ensure_ascii=False))


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
