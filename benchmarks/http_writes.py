"""Booking writes per second over HTTP: gunicorn with 2 workers, on a SQLite file or PostgreSQL.

Clients on loopback post bookings for distinct free slots (and every Nth request a deliberately
conflicting one) for a fixed time; the script then checks the database for overlapping
slot-holding bookings. Prints JSON: writes (created + refused) per second, errors, overlaps,
and the CPU time the server's workers spent per write (read from /proc before and after the
load, so it counts the server's work only, not the load generator's nor anything else on the
machine). Bookings are made as the administrator, or with ``--actor researcher`` as a trained
researcher whose bookings of instruments that need approval wait for it (see booking_api.py).

Two load generators:

- ``wrk`` (the default when the ``wrk`` executable is on PATH): a C load generator driven by a
  Lua script written to the temporary folder. Its threads (``--threads``) share the
  ``--clients`` connections; each thread posts its own disjoint share of the free slots,
  read from a data file, and counts 201 / 409 / other answers. Light enough not to take the
  CPU from the server on the same machine.
- ``python``: ``--clients`` Python threads with ``http.client``, one connection per request.
  On a small machine it competes with the server for the CPU (and holds the GIL), so it
  measures itself as much as the server.

The free slots are every one-hour booking the rules allow on the usable instruments (grid,
opening hours, buffer, notice and horizon), packed per instrument and day and ordered by start
time: some 20,000, forty seconds' worth at 600 writes per second. Should they run out, the
run stops sending new bookings and the JSON says ``"slots_exhausted": true``.

    python benchmarks/http_writes.py --seconds 20 --clients 16
    python benchmarks/http_writes.py --generator python --seconds 20 --clients 16
    python benchmarks/http_writes.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/http_writes.py --smoke   # does it still run? (one second, no figures)
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.orm import selectinload  # noqa: E402

from benchmarks.booking_api import ACTORS, TODAY, setup  # noqa: E402
from benchmarks.cli import Run, processes_cpu_seconds  # noqa: E402
from labbook.catalogue.models import Instrument, Lab  # noqa: E402
from labbook.extensions import db  # noqa: E402
from tests.live import live_server, server_workers  # noqa: E402

#: Every booking the benchmark makes lasts an hour.
LENGTH = dt.timedelta(hours=1)
#: Added to an instrument's notice, so that no slot comes too soon while the run lasts.
NOTICE_MARGIN = dt.timedelta(hours=2)

# Each wrk thread posts its own share of the free slots (every ``stride``th line of the data
# file, from its ``id``), and every ``conflict_every``th request one of the busy slots, as the
# Python clients do. done() sums the threads' counts into one JSON line. (wrk calls request()
# once in the first thread to check the script before the run: that thread skips one slot.)
WRK_SCRIPT = """\
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function read_lines(path, keep)
  local lines, n = {}, 0
  for line in io.lines(path) do
    if keep(n) then lines[#lines + 1] = line end
    n = n + 1
  end
  return lines
end

function init(args)
  local stride = tonumber(args[3])
  free = read_lines(args[1], function(n) return n % stride == id end)
  busy = read_lines(args[2], function() return true end)
  conflict_every = tonumber(args[4])
  headers = {["Authorization"] = "Bearer " .. args[5],
             ["Content-Type"] = "application/json"}
  sent, next_free = 0, 1
  created, refused, other, exhausted = 0, 0, 0, false
end

function request()
  sent = sent + 1
  local body
  if sent % conflict_every == 0 then
    body = busy[(id * 7 + sent) % #busy + 1]
  else
    body = free[next_free]
    next_free = next_free + 1
    if body == nil then
      -- Out of free slots: stop rather than count repeats as refusals. (This last request
      -- must still be a valid one; stopping, the thread does not count its answer.)
      exhausted = true
      wrk.thread:stop()
      body = busy[1]
    end
  end
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 409 then
    refused = refused + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local created, refused, other, exhausted = 0, 0, 0, false
  for _, thread in ipairs(threads) do
    created = created + thread:get("created")
    refused = refused + thread:get("refused")
    other = other + thread:get("other")
    exhausted = exhausted or thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    'labbook-result {"created": %d, "refused": %d, "other": %d, "socket_errors": %d, '
    .. '"duration_us": %d, "latency_p50_us": %d, "latency_p99_us": %d, '
    .. '"slots_exhausted": %s}\\n',
    created, refused, other, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), tostring(exhausted)))
end
"""


def free_slots(app, instrument_ids: list[int], busy: list[tuple[int, dt.datetime]]
               ) -> list[tuple[int, dt.datetime]]:
    """Every one-hour booking the rules allow on the instruments, none meeting another (its
    buffer included) nor a busy slot: packed from opening time on every open day between the
    instrument's notice and its horizon; ordered by start, instruments interleaved."""
    now = dt.datetime.now(dt.UTC)
    held = {}
    for instrument_id, start in busy:
        held.setdefault(instrument_id, []).append((start, start + LENGTH))
    slots = []
    with app.app_context():
        instruments = db.session.scalars(
            select(Instrument).where(Instrument.id.in_(instrument_ids))
            .options(selectinload(Instrument.lab).selectinload(Lab.opening_hours)))
        for instrument in instruments:
            grid = dt.timedelta(minutes=instrument.slot_minutes)
            buffer = dt.timedelta(minutes=instrument.buffer_minutes)
            tz = ZoneInfo(instrument.lab.timezone)
            earliest = now + dt.timedelta(minutes=instrument.min_notice_minutes) + NOTICE_MARGIN
            latest = now + dt.timedelta(days=instrument.horizon_days)
            for offset in range(instrument.horizon_days + 1):
                day = TODAY + dt.timedelta(days=offset)
                midnight = dt.datetime.combine(day, dt.time(0), tz)
                for hours in instrument.lab.opening_hours:
                    if hours.weekday != day.weekday():
                        continue
                    opens = dt.datetime.combine(day, hours.opens_at, tz)
                    closes = dt.datetime.combine(day, hours.closes_at, tz)
                    start = midnight + math.ceil((opens - midnight) / grid) * grid
                    while start + LENGTH <= closes:
                        if not earliest <= start <= latest:
                            start += grid
                            continue
                        clash = [until for since, until in held.get(instrument.id, [])
                                 if since < start + LENGTH + buffer and start < until]
                        if clash:
                            start = midnight + math.ceil((max(clash) - midnight) / grid) * grid
                            continue
                        slots.append((instrument.id, start.astimezone(dt.UTC)))
                        start += math.ceil((LENGTH + buffer) / grid) * grid
    return sorted(slots, key=lambda slot: (slot[1], slot[0]))


def booking_body(instrument_id: int, start: dt.datetime) -> str:
    return json.dumps({"instrument_id": instrument_id, "purpose": "bench",
                       "start": start.isoformat(), "end": (start + LENGTH).isoformat()})


def run_python(base_url: str, secret: str, slots, busy, args) -> dict:
    """Python threads with http.client, a new connection per request."""
    host, port = base_url.removeprefix("http://").split(":")
    next_slot = iter(range(len(slots)))
    slot_lock = threading.Lock()
    stop = threading.Event()
    counts = {"201": 0, "409": 0, "other": 0}
    count_lock = threading.Lock()

    def client(number: int) -> None:
        sent = 0
        while not stop.is_set():
            sent += 1
            if sent % args.conflict_every == 0:
                instrument_id, start = busy[(number * 7 + sent) % len(busy)]
            else:
                with slot_lock:
                    index = next(next_slot, None)
                if index is None:
                    return
                instrument_id, start = slots[index]
            body = booking_body(instrument_id, start)
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            connection.request("POST", "/api/v1/bookings", body=body, headers={
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json"})
            status = connection.getresponse().status
            connection.close()
            key = str(status) if status in (201, 409) else "other"
            with count_lock:
                counts[key] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "created": counts["201"], "refused": counts["409"],
            "errors": counts["other"], "slots_exhausted": next(next_slot, None) is None}


def run_wrk(wrk: str, folder: Path, base_url: str, secret: str, slots, busy, args) -> dict:
    """wrk with the Lua script above; the slots go to the threads through data files."""
    script, free_file, busy_file = folder / "bookings.lua", folder / "free", folder / "busy"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    free_file.write_text("".join(booking_body(*slot) + "\n" for slot in slots),
                         encoding="utf-8")
    busy_file.write_text("".join(booking_body(*slot) + "\n" for slot in busy),
                         encoding="utf-8")
    seconds = max(1, math.ceil(args.seconds))  # wrk takes whole seconds
    command = [wrk, "--threads", str(args.threads), "--connections", str(args.clients),
               "--duration", f"{seconds}s", "--timeout", "30s", "--script", str(script),
               f"{base_url}/api/v1/bookings", "--", str(free_file), str(busy_file),
               str(args.threads), str(args.conflict_every), secret]
    output = subprocess.run(command, capture_output=True, text=True, check=True,  # noqa: S603
                            timeout=seconds + 120).stdout
    line = next((line for line in output.splitlines() if line.startswith("labbook-result ")),
                None)
    if line is None:
        raise RuntimeError(f"no result from wrk:\n{output}")
    result = json.loads(line.removeprefix("labbook-result "))
    return {"seconds": result["duration_us"] / 1e6, "created": result["created"],
            "refused": result["refused"],
            "errors": result["other"] + result["socket_errors"],
            "socket_errors": result["socket_errors"],
            "latency_p50_ms": round(result["latency_p50_us"] / 1000, 1),
            "latency_p99_ms": round(result["latency_p99_us"] / 1000, 1),
            "slots_exhausted": result["slots_exhausted"]}


def main() -> None:
    wrk = shutil.which("wrk")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", choices=("python", "wrk"),
                        default="wrk" if wrk else "python",
                        help="load generator (default: wrk when it is on PATH, else python)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16,
                        help="concurrent clients (python threads, or wrk connections)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conflict-every", type=int, default=5,
                        help="every Nth request asks for a slot that is already taken")
    parser.add_argument("--history", type=int, default=10_000,
                        help="finished bookings in the database")
    parser.add_argument("--actor", choices=ACTORS, default="admin",
                        help="who books: the administrator, or a trained researcher")
    run = Run(parser, smoke={"seconds": 1.0, "clients": 2, "threads": 1, "workers": 1,
                             "history": 200})
    args = run.args
    if args.generator == "wrk" and wrk is None:
        parser.error("wrk is not on PATH (apt-get install wrk), or use --generator python")
    if args.generator == "wrk" and not 1 <= args.threads <= args.clients:
        parser.error("--threads must be between 1 and --clients")
    os.environ.setdefault("LABBOOK_ENV", "testing")

    with tempfile.TemporaryDirectory() as folder, run.database(folder) as database_url:
        bench = setup(database_url, history=args.history)
        with bench.app.app_context():
            db.engine.dispose()
        slots = free_slots(bench.app, bench.instrument_ids, bench.busy_slots)
        secret = bench.secrets[args.actor]

        with live_server(database_url, workers=args.workers) as base_url:
            workers = server_workers()
            workers_cpu = processes_cpu_seconds(workers)
            if args.generator == "wrk":
                outcome = run_wrk(wrk, Path(folder), base_url, secret, slots,
                                  bench.busy_slots, args)
            else:
                outcome = run_python(base_url, secret, slots, bench.busy_slots, args)
            workers_cpu = processes_cpu_seconds(workers) - workers_cpu
        overlaps = count_overlaps(database_url)
    elapsed = outcome.pop("seconds")
    created, refused, errors = (outcome.pop("created"), outcome.pop("refused"),
                                outcome.pop("errors"))
    run.report({
        "generator": args.generator, "actor": args.actor, "workers": args.workers,
        "clients": args.clients,
        **({"threads": args.threads} if args.generator == "wrk" else {}),
        "seconds": round(elapsed, 2), "free_slots": len(slots),
        "created": created, "refused_overlap": refused, "errors": errors,
        "writes_per_second": round((created + refused) / elapsed, 1),
        "workers_cpu_ms_per_write": round(workers_cpu / max(1, created + refused) * 1000, 3),
        "workers_busy": round(workers_cpu / (elapsed * args.workers), 2),
        "created_per_second": round(created / elapsed, 1),
        "refused_per_second": round(refused / elapsed, 1),
        **outcome, "overlaps": overlaps})


def count_overlaps(database_url: str) -> int:
    """Slot-holding bookings of one instrument whose held times meet: there must be none."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.scalar(text("""
                SELECT count(*) FROM bookings a JOIN bookings b
                  ON a.instrument_id = b.instrument_id AND a.id < b.id
                 AND a.start_at < b.blocked_until AND b.start_at < a.blocked_until
                 AND (a.channel_mask & b.channel_mask) != 0
                WHERE a.state IN ('pending', 'approved', 'in_use')
                  AND b.state IN ('pending', 'approved', 'in_use')"""))
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
