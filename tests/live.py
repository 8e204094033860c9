"""A real labbook server in another process, for tests that need real concurrency or a browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(database_url: str, *, workers: int = 4,
                extra_env: dict[str, str] | None = None,
                log_file: Path | None = None) -> Iterator[str]:
    """Serve the app with gunicorn on a loopback port; yields the base URL.

    The server's output (a log line per request) is read all the time, so that a full pipe
    never blocks a worker; it is kept in ``log_file`` when one is given.
    """
    port = free_port()
    env = {**os.environ, "LABBOOK_DATABASE_URL": database_url,
           "SECRET_KEY": "live-test-secret-key-0123456789abcdef",
           "LABBOOK_BASE_URL": f"http://127.0.0.1:{port}", **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
         f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    recent: deque[str] = deque(maxlen=200)
    reader = threading.Thread(target=_drain, args=(process, recent, log_file), daemon=True)
    reader.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a loaded two-core machine gunicorn's workers take well over 30 s to
        # import the app, and a server that never starts still fails the test.
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/api/v1/labs", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    reader.join(timeout=5)
                    raise RuntimeError("server did not start:\n" + "".join(recent)) from None
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
        if process.stdout:
            process.stdout.close()


def _drain(process: subprocess.Popen, recent: deque[str], log_file: Path | None) -> None:
    assert process.stdout is not None
    log = log_file.open("a", encoding="utf-8") if log_file else None
    try:
        for raw in process.stdout:
            line = raw.decode(errors="replace")
            recent.append(line)
            if log:
                log.write(line)
                log.flush()
    except ValueError:  # the pipe was closed under us
        pass
    finally:
        if log:
            log.close()


@contextmanager
def scheduler_process(database_url: str, *, extra_env: dict[str, str] | None = None,
                      log_file: Path | None = None) -> Iterator[subprocess.Popen]:
    """``flask --app wsgi labbook scheduler`` in a process of its own; stopped with SIGTERM.

    Its output is kept in ``log_file`` (read all the time, like the server's).
    """
    env = {**os.environ, "LABBOOK_DATABASE_URL": database_url,
           "SECRET_KEY": "live-test-secret-key-0123456789abcdef", **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "labbook", "scheduler"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    recent: deque[str] = deque(maxlen=200)
    reader = threading.Thread(target=_drain, args=(process, recent, log_file), daemon=True)
    reader.start()
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=5)
        if process.stdout:
            process.stdout.close()
