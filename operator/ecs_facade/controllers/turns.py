"""Turns for writes that can wait, so that a burst of them keeps to a rate.

Hundreds of services created at once each have their rollout's progress to report. That is
not what a user waits for (a rollout's end and its failures are written at once), and those
status writes were most of the API server's extra work in the benchmark
(docs/performance.md). Each key reserves the next free turn, 1/rate after
the one reserved before it, and keeps it until it is used or forgotten: a key asked again
before its turn keeps its place instead of queueing anew. With few keys at a time, a turn
is now and nobody waits.
"""

import threading
import time
from collections.abc import Hashable


class Turns:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reserved: dict[Hashable, float] = {}  # key -> its turn (time.monotonic())
        self._last = 0.0

    def wait(self, key: Hashable, rate: float, now: float | None = None) -> float:
        """Seconds until ``key``'s turn (0: now, and the turn is used); ``rate`` turns per
        second at most (0 or less: no limit); ``now`` on time.monotonic()'s clock."""
        if rate <= 0:
            return 0.0
        if now is None:
            now = time.monotonic()
        with self._lock:
            turn = self._reserved.get(key)
            if turn is None:
                turn = self._reserved[key] = max(now, self._last + 1.0 / rate)
                self._last = turn
            if turn <= now + 0.01:  # a delayed key can wake a hair early
                del self._reserved[key]
                return 0.0
            return turn - now

    def forget(self, key: Hashable) -> None:
        """The key wrote anyway (news goes first) or is gone: its turn is given up."""
        with self._lock:
            self._reserved.pop(key, None)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._reserved

    def __len__(self) -> int:
        return len(self._reserved)
