"""A real labbook server in another process, for tests that need real concurrency or a browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.cli import child_pids

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(database_url: str, *, workers: int = 4,
                extra_env: dict[str, str] | None = None,
                log_file: Path | None = None) -> Iterator[str]:
    """Serve the app with gunicorn on a loopback port, its workers set up as deployed
    (``labbook.serving``); yields the base URL.

    The server writes its output (a log line per request) straight to ``log_file``, or to a
    temporary file: no process of the test's reads it while it runs, so none takes CPU time
    from the server, as journald does not in production. A server that does not start fails
    with the end of its output.
    """
    port = free_port()
    env = {**os.environ, "LABBOOK_DATABASE_URL": database_url,
           "SECRET_KEY": "live-test-secret-key-0123456789abcdef",
           "LABBOOK_BASE_URL": f"http://127.0.0.1:{port}", **(extra_env or {})}
    with _output_path(log_file) as output_path, output_path.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "python:labbook.serving",
             "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
             "wsgi:app"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
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
                        lines = output_path.read_text(errors="replace").splitlines()[-200:]
                        raise RuntimeError("server did not start:\n" + "\n".join(lines)) \
                            from None
                    time.sleep(0.2)
            yield base_url
        finally:
            _stop(process, timeout=15)


def server_workers() -> list[int]:
    """The worker processes of the gunicorn servers this process started (``live_server``;
    gunicorn retitles its master ``gunicorn: master``)."""
    masters = [pid for pid in child_pids(os.getpid())
               if b"gunicorn" in _cmdline(pid)]
    return [worker for master in masters for worker in child_pids(master)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone since it was listed
        return b""


@contextmanager
def _output_path(log_file: Path | None) -> Iterator[Path]:
    if log_file is not None:
        yield log_file
        return
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "server.log"


@contextmanager
def scheduler_process(database_url: str, *, extra_env: dict[str, str] | None = None,
                      log_file: Path | None = None) -> Iterator[subprocess.Popen]:
    """``flask --app wsgi labbook scheduler`` in a process of its own; stopped with SIGTERM.

    Its output goes to ``log_file`` (or a temporary file), as the server's does.
    """
    env = {**os.environ, "LABBOOK_DATABASE_URL": database_url,
           "SECRET_KEY": "live-test-secret-key-0123456789abcdef", **(extra_env or {})}
    with _output_path(log_file) as output_path, output_path.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "labbook", "scheduler"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            _stop(process, timeout=30)


def _stop(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM, and SIGKILL if the process has not ended within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
