"""What every benchmark shares: its command line, its database, its clocks and its report.

``--smoke`` runs a benchmark on tiny data for a few iterations: its figures mean nothing, but
every step runs and its JSON is printed, so that CI (``tests/test_benchmarks.py``) notices a
benchmark that no longer works long before anyone needs its figures. Options given on the
command line win over the smoke mode's.

``--database-url`` chooses the database: by default a temporary SQLite file; given a
PostgreSQL server (``postgresql://postgres@127.0.0.1:5432/postgres``), the benchmark creates a
scratch database of its own beside the one the URL names for each database it needs, and
drops it at the end, so the database the URL names is never touched.

Timings are taken in wall-clock time *and* in CPU time (``time.process_time()`` in-process;
the server's workers' CPU over HTTP). On a shared machine the wall clock also counts whatever
else the cores were doing, the CPU time much less so: compare CPU figures across runs, and
read wall figures beside the machine's load, which every report prints (load average at the
start and end of the run, and the number of cores). What a benchmark compares (history sizes,
actors, databases …) it measures in alternation within one run (A, B, A, B …), so that both
see the same machine.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import os
import pstats
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

T = TypeVar("T")
R = TypeVar("R")

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Run:
    """A benchmark run: its options, its databases, and the clock, CPU time and machine load
    since it started."""

    def __init__(self, parser: argparse.ArgumentParser, smoke: dict[str, Any], *,
                 database: bool = True, compare_databases: bool = False) -> None:
        """``database``: the benchmark uses one, and takes ``--database-url``;
        ``compare_databases``: it takes several, to measure side by side."""
        parser.add_argument("--smoke", action="store_true",
                            help="tiny data and a few iterations, to check that the benchmark "
                                 "runs; its figures mean nothing")
        if compare_databases:
            parser.add_argument(
                "--database-url", action="append",
                help="sqlite (a temporary SQLite file) or a PostgreSQL server, e.g. "
                     "postgresql://postgres@127.0.0.1:5432/postgres, on which a scratch "
                     "database is created beside the one named (which is left alone) and "
                     "dropped at the end; repeatable, to compare them in one run; default: "
                     "sqlite")
        elif database:
            parser.add_argument(
                "--database-url", default=None,
                help="a PostgreSQL server to run on, e.g. "
                     "postgresql://postgres@127.0.0.1:5432/postgres: a scratch database is "
                     "created beside the one named (which is left alone) and dropped at the "
                     "end; default: a temporary SQLite file")
        self.args = parser.parse_args()
        if self.args.smoke:
            for name, value in smoke.items():
                if getattr(self.args, name) == parser.get_default(name):
                    setattr(self.args, name, value)
        given = getattr(self.args, "database_url", None)
        #: The database servers to run on: None for a temporary SQLite file.
        self.servers: list[str | None] = [
            None if url in (None, "sqlite") else url
            for url in (given if isinstance(given, list) else [given])]
        for url in self.servers:
            if url is not None and not url.startswith(
                    ("postgresql://", "postgresql+psycopg://", "postgres://")):
                parser.error("--database-url takes a PostgreSQL URL (postgresql://…) or "
                             "sqlite, for a temporary SQLite file")
        self._scratch = itertools.count(1)
        self._load_at_start = os.getloadavg()
        self._wall = time.perf_counter()
        self._cpu = _cpu_seconds()

    @staticmethod
    def dialect(server: str | None) -> str:
        """The database a server URL names, as reports name it: ``sqlite``, ``postgresql``, or
        ``postgresql`` with the connection's settings when the URL gives some (``?options=-c
        synchronous_commit=off``, for commits that do not wait for the disk)."""
        if server is None:
            return "sqlite"
        options = make_url(server).query.get("options")
        return f"postgresql ({' '.join(options.split())})" if isinstance(options, str) \
            else "postgresql"

    @contextmanager
    def database(self, folder: str | Path, server: str | None = None) -> Iterator[str]:
        """The URL of a new, empty database for this run: a SQLite file in ``folder``, or a
        scratch database on the PostgreSQL ``server`` (by default the one ``--database-url``
        names), dropped afterwards."""
        number = next(self._scratch)
        server = server or self.servers[0]
        if server is None:
            yield f"sqlite:///{Path(folder) / f'bench-{number}.sqlite'}"
            return
        server_url = make_url(server).set(drivername="postgresql+psycopg")
        name = f"{server_url.database or 'labbook'}_bench_{os.getpid()}_{number}"
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            yield server_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    def report(self, result: dict[str, Any]) -> None:
        """Print ``result`` as JSON with the database, the machine's load during the run, and
        the whole run's wall and CPU time (this process and the servers it started and waited
        for)."""
        databases = [self.dialect(server) for server in self.servers]
        print(json.dumps({
            **result, "smoke": self.args.smoke,
            **({"database": databases[0] if len(databases) == 1 else databases}
               if hasattr(self.args, "database_url") else {}),
            "machine": {"cores": os.cpu_count(),
                        "load_average_at_start": [round(x, 2) for x in self._load_at_start],
                        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
            "wall_seconds": round(time.perf_counter() - self._wall, 2),
            "cpu_seconds": round(_cpu_seconds() - self._cpu, 2),
        }, indent=2, ensure_ascii=False))


def settle(engine: Engine) -> None:
    """Bring a database the benchmark has just filled to the state of one in use: on PostgreSQL,
    ``VACUUM ANALYZE``, which autovacuum does within a minute or two of a bulk load. Measured
    straight after the load, PostgreSQL plans without statistics of the new rows, first reads
    mark each row as visible to all (writing the pages again), and autovacuum may start in the
    middle of the measurement, on the same cores. SQLite keeps no statistics unless asked, and
    labbook does not ask, so it is left as it is."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))


class Timings:
    """The wall-clock and CPU time of each of a series of calls, taken in-process."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __call__(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call ``function`` and keep how long it took."""
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(*args, **kwargs)
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(time.perf_counter() - wall)
        return result

    def summary(self, skip: int = 0) -> dict[str, float]:
        """Percentiles of all but the first ``skip`` calls (which warm caches and pools)."""
        return percentiles(self.wall[skip:], self.cpu[skip:])


def percentiles(wall: Sequence[float], cpu: Sequence[float] | None = None) -> dict[str, float]:
    """p50/p95 in milliseconds of wall-clock seconds (``p50_ms``) and, given, of CPU seconds
    (``cpu_p50_ms``)."""
    figures = {"p50_ms": _ms(statistics.median(wall)), "p95_ms": _ms(_p95(wall))}
    if cpu:
        figures |= {"cpu_p50_ms": _ms(statistics.median(cpu)), "cpu_p95_ms": _ms(_p95(cpu))}
    return figures | {"n": len(wall)}


def calls_per_request(request: Callable[[int], object], samples: int) -> int:
    """Function calls (Python and C) that one request makes, on average over ``samples`` calls
    of ``request(n)``: the work done, whatever else the machine is doing."""
    profile = cProfile.Profile()
    profile.enable()
    for n in range(samples):
        request(n)
    profile.disable()
    return round(pstats.Stats(profile).total_calls / samples)


def alternating(rounds: int, contestants: Iterable[T]) -> Iterator[tuple[int, T]]:
    """``(round, contestant)`` for each round, each contestant in turn (A, B, A, B …), so that
    what is compared is measured under the same load."""
    contestants = list(contestants)
    for number in range(rounds):
        for contestant in contestants:
            yield number, contestant


def processes_cpu_seconds(pids: Iterable[int]) -> float:
    """User and system CPU seconds that the processes ``pids`` have used so far (from
    /proc/<pid>/stat; processes that are gone count nothing)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: the stat's 14th and 15th
    return total / _CLOCK_TICKS


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (e.g. a server's workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            children.append(int(entry.name))
    return children


def _p95(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
