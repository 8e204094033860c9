"""Booking writes per second over HTTP: gunicorn with 2 workers on a SQLite file.

Clients on loopback post bookings for distinct free slots (and a share of deliberately
conflicting ones) for a fixed time; the script then checks the database for overlapping
slot-holding bookings. Prints JSON.

    python benchmarks/http_writes.py --seconds 20 --clients 16
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.booking_api import lab_time, setup, weekdays_ahead  # noqa: E402
from tests.live import live_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conflict-every", type=int, default=5,
                        help="every Nth request asks for a slot that is already taken")
    args = parser.parse_args()
    os.environ.setdefault("LABBOOK_ENV", "testing")

    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.sqlite"
        _app, secret, instruments, busy = setup(database, history=10_000)
        slots = [(instrument_id, lab_time(day, hour)) for day in weekdays_ahead(15)
                 for hour in (10, 12, 14, 16) for instrument_id in instruments]
        next_slot = iter(range(len(slots)))
        slot_lock = threading.Lock()
        stop = threading.Event()
        counts = {"201": 0, "409": 0, "other": 0}
        count_lock = threading.Lock()

        with live_server(f"sqlite:///{database}", workers=args.workers) as base_url:
            host, port = base_url.removeprefix("http://").split(":")

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
                    body = json.dumps({"instrument_id": instrument_id, "purpose": "bench",
                                       "start": start.isoformat(),
                                       "end": (start + dt.timedelta(hours=1)).isoformat()})
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

        with sqlite3.connect(database) as connection:
            overlaps = connection.execute("""
                SELECT count(*) FROM bookings a JOIN bookings b
                  ON a.instrument_id = b.instrument_id AND a.id < b.id
                 AND a.start_at < b.blocked_until AND b.start_at < a.blocked_until
                WHERE a.state IN ('pending', 'approved', 'in_use')
                  AND b.state IN ('pending', 'approved', 'in_use')""").fetchone()[0]
        print(json.dumps({
            "workers": args.workers, "clients": args.clients, "seconds": round(elapsed, 2),
            "created": counts["201"], "refused_overlap": counts["409"],
            "errors": counts["other"],
            "writes_per_second": round((counts["201"] + counts["409"]) / elapsed, 1),
            "bookings_created_per_second": round(counts["201"] / elapsed, 1),
            "overlapping_pairs_in_database": overlaps}, indent=2))


if __name__ == "__main__":
    main()
