"""An in-process ETag memo for serving feeds.

It lives in the memory of one worker process: with several workers each learns a feed's ETag
once, which does not affect correctness. (The per-link rate limit is shared by all workers: see
``labbook.ratelimit``.)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

ValueT = TypeVar("ValueT")


class ExpiringMemo(Generic[ValueT]):
    """A bounded, thread-safe mapping whose entries are forgotten after ``ttl`` seconds."""

    def __init__(self, max_entries: int, ttl: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, ValueT]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> ValueT | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, value = entry
            if self.clock() - stored_at > self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: ValueT) -> None:
        with self._lock:
            self._entries[key] = (self.clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
