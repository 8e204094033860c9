"""Machine instructions per request of the booking API, counted by valgrind's callgrind: a
figure that does not move with whatever else the machine is doing, nor with how fast its cores
run that day.

CPU time on a shared machine drifts by ±10 % from one run to the next, and machines of the
same kind differ by 2× from one day to the next: a change that saves 5 % cannot be told from
the noise by timing it. Instructions can. The same code on the same interpreter counts the
same to within a few tenths of a percent, run after run, loaded or quiet, so two versions are
compared by running this script in each (a worktree of the release before, say) on any day.
What it does not see: time spent waiting (for the disk, the database server, the lock), and
what memory and caches cost beyond the instructions themselves.

The requests are booking_api.py's (the API in-process through the Flask test client; a
researcher trained on every instrument and an administrator; ``--history`` past bookings):
create a booking, move it an hour later, a refused one (overlap, with suggestions) and a
week's availability; and, for scale, stack_floor.py's bare booking (``bare_create``: only the
SQL of a booking, in Core, no rules) and ``/healthz`` (the app's request hooks and no more),
which the report divides the others by (``per_bare_create``). Each kind, as each actor, runs
in a process of its own under callgrind on a database of its own: first ``--requests``
requests uncounted (caches, pool, the interpreter's own warming), then the same number
counted. Counting is switched on from outside (``callgrind_control``) while the process waits
between the two, so that neither start-up nor set-up is counted. On PostgreSQL only this
process's instructions count, not the server's.

Needs valgrind (``apt-get install valgrind``); each process takes some 20 s, the whole run a
few minutes.

    python benchmarks/instructions.py
    python benchmarks/instructions.py --kind create --actor admin --requests 30
    python benchmarks/instructions.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/instructions.py --smoke   # does it still run? (a create and a bare one)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.booking_api import ACTORS, Bench, Requests, bench_app, free_slots, setup
from benchmarks.cli import Run
from benchmarks.stack_floor import add_bare_endpoint
from labbook.extensions import db

KINDS = ("create", "move", "refuse_overlap", "availability_week", "bare_create", "healthz")
#: The first argument of the process that makes the requests under callgrind.
CHILD = "--counted-requests"
VALGRIND, CALLGRIND_CONTROL = shutil.which("valgrind"), shutil.which("callgrind_control")


def count(database_url: str, bench: Bench, kind: str, actor: str, requests: int,
          folder: Path) -> int:
    """Instructions of ``requests`` requests of ``kind`` as ``actor``, after as many
    uncounted ones, in a process of its own under callgrind."""
    described = folder / f"{kind}-{actor}.json"
    described.write_text(json.dumps({
        "database_url": database_url, "secrets": bench.secrets,
        "instrument_ids": bench.instrument_ids,
        "busy_slots": [(instrument_id, start.isoformat())
                       for instrument_id, start in bench.busy_slots]}))
    counts = folder / f"callgrind-{kind}-{actor}.out"
    with (folder / f"{kind}-{actor}.log").open("w") as log:
        process = subprocess.Popen(  # noqa: S603  (our own command line)
            [VALGRIND, "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={counts}", sys.executable, __file__, CHILD, str(described),
             kind, actor, str(requests)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
            # The same hashes, hence the same dict and set layouts, in every run.
            env={**os.environ, "PYTHONHASHSEED": "0"})
        try:
            _wait_for(process, "warm", log)
            _callgrind_control(process, "--instr=on")
            _go_on(process)
            _wait_for(process, "uncounted", log)
            # A dump (callgrind-….out.1) ends the uncounted part; the next one (.2) holds
            # the counted requests and nothing else.
            _callgrind_control(process, "--dump")
            _go_on(process)
            _wait_for(process, "counted", log)
            _callgrind_control(process, "--dump")
            _go_on(process)
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    return _total_instructions(Path(f"{counts}.2"))


def _go_on(process: subprocess.Popen) -> None:
    """Let the requesting process, waiting between two parts, go on."""
    process.stdin.write("go\n")
    process.stdin.flush()


def _wait_for(process: subprocess.Popen, part: str, log: IO[str]) -> None:
    """Wait until the requesting process says it has done ``part``."""
    said = process.stdout.readline().strip()
    if said != part:
        log.flush()
        raise RuntimeError(f"the requests under callgrind stopped ({said!r}, expected "
                           f"{part!r}):\n" + Path(log.name).read_text()[-3000:])


def _callgrind_control(process: subprocess.Popen, command: str) -> None:
    subprocess.run([CALLGRIND_CONTROL, command, str(process.pid)], check=True,  # noqa: S603
                   capture_output=True, timeout=120)


def _total_instructions(counts: Path) -> int:
    for line in counts.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction count in {counts}")


def counted_requests(described: Path, kind: str, actor: str, requests: int) -> None:
    """In the process under callgrind: ``requests`` requests uncounted, then as many counted,
    waiting for the parent between the parts (it switches counting on and dumps it)."""
    description = json.loads(described.read_text())
    bench = Bench(bench_app(description["database_url"]), description["secrets"],
                  description["instrument_ids"],
                  [(instrument_id, dt.datetime.fromisoformat(start))
                   for instrument_id, start in description["busy_slots"]])
    add_bare_endpoint(bench.app)
    made = Requests(bench, actor, free_slots(bench, actor))
    booking_ids = [made.create(n) for n in range(2 * requests)] if kind == "move" else []
    request = {"create": made.create, "refuse_overlap": made.refuse,
               "availability_week": made.availability,
               "move": lambda n: made.move(n, booking_ids[n]),
               "bare_create": lambda n: _bare_create(made, n),
               "healthz": lambda _n: made.client.get("/healthz")}[kind]
    # Ahead of the counted requests: those of a move, their creates (uncounted, counting is
    # off), and whatever the first request of a process does once.
    request(0)
    _tell_and_wait("warm")
    for n in range(1, requests):
        request(n)
    # A full collection of the garbage (the set-up's, the warm-up's) now, uncounted, rather
    # than one falling among the counted requests, or not, by how many there are: it costs as
    # much as some twenty requests, and would be charged to them.
    gc.collect()
    _tell_and_wait("uncounted")
    for n in range(requests, 2 * requests):
        request(n)
    _tell_and_wait("counted")
    os._exit(0)  # at once: nothing more for callgrind to count, no teardown to wait for


def _bare_create(made: Requests, n: int) -> None:
    instrument_id, start = made.free[n]
    response = made.open("POST", "/bare/bookings", json={
        "instrument_id": instrument_id, "start": start.isoformat(),
        "end": (start + dt.timedelta(hours=1)).isoformat(), "purpose": "bench"})
    assert response.status_code == 201, response.json


def _tell_and_wait(done: str) -> None:
    sys.stdout.write(done + "\n")
    sys.stdout.flush()
    sys.stdin.readline()


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == CHILD:
        counted_requests(Path(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, default=1000,
                        help="past bookings in the database besides the benchmark's")
    parser.add_argument("--requests", type=int, default=20,
                        help="requests counted (after as many uncounted) of each kind, as "
                             "each actor")
    parser.add_argument("--kind", choices=KINDS, action="append",
                        help="the kind of request (repeatable); default: all")
    parser.add_argument("--actor", choices=ACTORS, action="append",
                        help="who makes them (repeatable); default: both")
    run = Run(parser, smoke={"history": 50, "requests": 2, "kind": ["create", "bare_create"],
                             "actor": ["admin"]})
    args = run.args
    if VALGRIND is None or CALLGRIND_CONTROL is None:
        parser.error("valgrind is not on PATH (apt-get install valgrind)")
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    os.environ.setdefault("LABBOOK_ENV", "testing")
    instructions: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for actor in args.actor or ACTORS:
            for kind in args.kind or KINDS:
                # A database of its own for each process: what one booked, the next would
                # find taken.
                with run.database(folder) as database_url:
                    bench = setup(database_url, args.history)
                    with bench.app.app_context():
                        db.engine.dispose()
                    total = count(database_url, bench, kind, actor, args.requests,
                                  Path(folder))
                instructions.setdefault(actor, {})[kind] = {
                    "instructions_per_request": round(total / args.requests),
                    "millions_per_request": round(total / args.requests / 1e6, 3)}
    for counted in instructions.values():
        if "bare_create" in counted:
            floor = counted["bare_create"]["instructions_per_request"]
            for kind in counted.keys() - {"bare_create"}:
                counted[kind]["per_bare_create"] = round(
                    counted[kind]["instructions_per_request"] / floor, 2)
    run.report({"history_bookings": args.history, "requests_counted": args.requests,
                "python": sys.version.split()[0], "by_actor": instructions})


if __name__ == "__main__":
    main()
