"""A WeCom (企业微信) group-robot webhook on loopback, for tests: it speaks the robot's protocol
(POST /cgi-bin/webhook/send?key=… with a JSON message, answered with {"errcode", "errmsg"}),
records what it was sent, and answers what the test tells it to."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

OK = {"errcode": 0, "errmsg": "ok"}
RATE_LIMITED = {"errcode": 45009,
                "errmsg": "api freq out of limit, more than 20 messages per minute"}
INVALID_WEBHOOK = {"errcode": 93000, "errmsg": "invalid webhook url"}


class WecomServer:
    def __init__(self) -> None:
        #: Every message received: {"key": …, "body": the JSON sent}.
        self.received: list[dict[str, Any]] = []
        #: Answers to give, first in first out; OK once none is left.
        self.answers: deque[dict[str, Any]] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", 0))
                if parts.path != "/cgi-bin/webhook/send":
                    self.send_error(404)
                    return
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    self._answer({"errcode": 40035, "errmsg": "invalid json"})
                    return
                if body.get("msgtype") not in ("text", "markdown") \
                        or "content" not in body.get(body.get("msgtype"), {}):
                    self._answer({"errcode": 40008, "errmsg": "invalid message type"})
                    return
                server.received.append({"key": parse_qs(parts.query).get("key", [""])[0],
                                        "body": body})
                self._answer(server.answers.popleft() if server.answers else OK)

            def _answer(self, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                """Quiet: the tests read what the robot received, not its access log."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def webhook(self, key: str = "test-key") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/cgi-bin/webhook/send?key={key}"

    def start(self) -> WecomServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
