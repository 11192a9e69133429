"""A work queue of reconciles, as controller-runtime has one and kopf has not.

kopf runs a sync handler per event in its thread pool: a burst of pod events took every
thread, and a new service's first reconcile waited behind the status work of the services
created before it (docs/performance.md). Here an event only queues its object's key, in
the event loop; worker threads take keys from the queue:

- a key is queued once, however many events name it, and never worked on by two threads at
  once: added again while it runs, it runs once more afterwards (controller-runtime's dirty
  and processing sets);
- urgent keys (the spec changed, a child was deleted by hand) go before the others, and a
  few workers take nothing else, so that a new service never waits for every worker to be
  busy with status refreshes (on a saturated machine urgent keys still wait for each other,
  behind workers that wait on the API server);
- the others wait ``batch_seconds`` from their first event, so that the tasks of a service
  starting together cost one status write instead of one each;
- a failed reconcile is retried with a per-key exponential backoff;
- a queue can start ``held``: keys are queued but not taken until ``release()``.
"""

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

DEPTH = Gauge("workqueue_depth", "Keys waiting in the work queue (due or not).", ["name"])
ADDS = Counter("workqueue_adds_total", "Keys added to the work queue.", ["name"])
RETRIES = Counter("workqueue_retries_total", "Keys queued again after a failed reconcile.", ["name"])
LATENCY = Histogram(
    "workqueue_queue_duration_seconds",
    "Time from a key being due to a worker taking it (urgent: a spec change, a failure).",
    ["name", "urgent"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

logger = logging.getLogger(__name__)


@dataclass
class Item:
    urgent: bool
    apply: bool
    due: float
    context: Any  # what the work function needs besides the key (the latest caller's)
    seq: int = 0  # of its newest heap entry: older entries of the key are stale


Work = Callable[[Hashable, bool, Any], None]


class WorkQueue:
    def __init__(
        self,
        name: str,
        work: Work,
        *,
        workers: int,
        batch_seconds: float,
        urgent_workers: int = 0,
        backoff_first: float = 0.5,
        backoff_max: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        held: bool = False,
    ) -> None:
        self.name = name
        self._work = work
        self._workers = workers
        self._urgent_workers = urgent_workers
        self._batch = batch_seconds
        self._backoff = (backoff_first, backoff_max)
        self._clock = clock
        self._lock = threading.Lock()
        self._anything = threading.Condition(self._lock)  # the workers that take any key wait here
        self._urgent = threading.Condition(self._lock)  # those that take urgent keys only, here
        self._pending: dict[Hashable, Item] = {}  # queued, not running
        self._dirty: dict[Hashable, Item] = {}  # added again while running
        self._running: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._ready: list[tuple[int, int, Hashable]] = []  # (0 urgent | 1 not, seq, key)
        self._waiting: list[tuple[float, int, Hashable]] = []  # (due, seq, key)
        self._seq = itertools.count()
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._held = held  # keys are queued, none is taken, until release()

    # --- adding --------------------------------------------------------------------------

    def add(self, key: Hashable, *, urgent: bool, apply: bool, context: Any, delay: float | None = None) -> None:
        """Queue ``key``; not urgent, it is due after ``batch_seconds`` (or ``delay``)."""
        wait = (0.0 if urgent else self._batch) if delay is None else delay
        with self._lock:
            ADDS.labels(self.name).inc()
            self._add(key, Item(urgent, apply, self._clock() + wait, context))

    def _add(self, key: Hashable, item: Item) -> None:
        if key in self._running:
            self._dirty[key] = _merged(self._dirty.get(key), item)
            return
        queued = self._pending.get(key)
        merged = _merged(queued, item)
        if queued is not None and (merged.urgent, merged.due) == (queued.urgent, queued.due):
            queued.apply, queued.context = merged.apply, merged.context
            return
        merged.seq = next(self._seq)
        self._pending[key] = merged
        ready = merged.due <= self._clock()
        if ready:
            heapq.heappush(self._ready, (0 if merged.urgent else 1, merged.seq, key))
        else:
            heapq.heappush(self._waiting, (merged.due, merged.seq, key))
        DEPTH.labels(self.name).set(len(self._pending))
        if not ready and not merged.urgent and self._waiting[0][1] != merged.seq:
            # due after the earliest waiting key: the workers' timeouts already wake them
            # sooner; waking one now only has it find nothing and wait again. (Not so for an
            # urgent key: the workers kept for those may wait with no timeout, woken only by
            # urgent keys.)
            return
        if merged.urgent:
            self._urgent.notify()
        self._anything.notify()

    # --- working -------------------------------------------------------------------------

    def _take(self, block: bool = True, urgent_only: bool = False) -> tuple[Hashable, Item] | None:
        """The next due key (urgent ones first; ``urgent_only``: no other); blocks until there
        is one. None: stopping (or, not blocking, nothing is due)."""
        with self._lock:
            while not self._stopping:
                if self._held:
                    if not block:
                        return None
                    (self._urgent if urgent_only else self._anything).wait()
                    continue
                now = self._clock()
                while self._waiting and self._waiting[0][0] <= now:
                    _, seq, key = heapq.heappop(self._waiting)
                    item = self._pending.get(key)
                    if item is not None and item.seq == seq:
                        heapq.heappush(self._ready, (0 if item.urgent else 1, seq, key))
                while self._ready:
                    if urgent_only and self._ready[0][0] != 0:
                        break
                    _, seq, key = heapq.heappop(self._ready)
                    item = self._pending.get(key)
                    if item is None or item.seq != seq:
                        continue  # superseded by a newer entry of the key
                    del self._pending[key]
                    self._running.add(key)
                    DEPTH.labels(self.name).set(len(self._pending))
                    LATENCY.labels(self.name, str(item.urgent).lower()).observe(max(0.0, now - item.due))
                    return key, item
                if not block:
                    return None
                timeout = self._waiting[0][0] - now if self._waiting else None
                (self._urgent if urgent_only else self._anything).wait(timeout)
            return None

    def _done(self, key: Hashable, item: Item, failed: bool) -> None:
        with self._lock:
            self._running.discard(key)
            again = self._dirty.pop(key, None)
            if failed:
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                first, most = self._backoff
                delay = min(most, first * 2 ** (failures - 1))
                RETRIES.labels(self.name).inc()
                retry = Item(item.urgent, item.apply, self._clock() + delay, item.context)
                if again is not None:
                    # asked again while it ran: once more, at the retry's time: an event that
                    # came meanwhile does not cut the backoff short, and a refresh asked for
                    # later (a paced status, a budget's wait) does not hold the retry back
                    retry = _merged(retry, again)
                    retry.due = self._clock() + delay
                again = retry
            else:
                self._failures.pop(key, None)
            if again is not None:
                self._add(key, again)

    def run_one(self, block: bool = True, urgent_only: bool = False) -> bool:
        """Take one key and work on it (a worker's loop body). False: the queue is stopping
        (or, not blocking, nothing was due)."""
        taken = self._take(block, urgent_only)
        if taken is None:
            return False
        key, item = taken
        failed = False
        try:
            self._work(key, item.apply, item.context)
        except Exception:
            failed = True
            logger.exception("reconcile of %s failed; retrying", key)
        finally:
            self._done(key, item, failed)
        return True

    def release(self) -> None:
        """Let the workers take keys (a queue made ``held`` waits for what its reconciles
        read to be complete)."""
        with self._lock:
            self._held = False
            self._anything.notify_all()
            self._urgent.notify_all()

    def start(self) -> None:
        for number in range(self._workers):
            urgent_only = number < self._urgent_workers
            thread = threading.Thread(
                target=self._loop, args=(urgent_only,), name=f"{self.name}-worker-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, urgent_only: bool) -> None:
        while self.run_one(urgent_only=urgent_only):
            pass

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopping = True
            self._anything.notify_all()
            self._urgent.notify_all()
        deadline = self._clock() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - self._clock()))
        self._threads.clear()

    # --- looking -------------------------------------------------------------------------

    def depth(self) -> int:
        with self._lock:
            return len(self._pending)

    def failures(self, key: Hashable) -> int:
        with self._lock:
            return self._failures.get(key, 0)

    def sizes(self) -> dict[str, int]:
        """Keys queued, queued again while running, running, and failed (backing off): each
        goes back to 0 once its work is done, whether its object is there or gone."""
        with self._lock:
            return {
                "pending": len(self._pending),
                "dirty": len(self._dirty),
                "running": len(self._running),
                "failures": len(self._failures),
                "heap_entries": len(self._ready) + len(self._waiting),  # superseded ones until due
            }


def _merged(old: Item | None, new: Item) -> Item:
    """Two requests for one key as one: urgent and applying if either is, due at the earlier
    time."""
    if old is None:
        return Item(new.urgent, new.apply, new.due, new.context)
    due = min(old.due, new.due)
    return Item(old.urgent or new.urgent, old.apply or new.apply, due, new.context)
