"""The operator's Prometheus metrics, named as controller-runtime names them so that
dashboards and alerts made for Kubernetes controllers work unchanged."""

import bisect
import functools
import gc
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

RECONCILE_TOTAL = Counter(
    "controller_runtime_reconcile_total", "Reconciliations per controller and result.", ["controller", "result"]
)
RECONCILE_ERRORS = Counter("controller_runtime_reconcile_errors_total", "Reconciliation errors.", ["controller"])
RECONCILE_TIME = Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Time per reconciliation.",
    ["controller"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ACTIVE_WORKERS = Gauge(
    "controller_runtime_active_workers",
    "Reconciliations running now per controller (the ECSService queue: workqueue_depth).",
    ["controller"],
)
WATCH_LAG = Histogram(
    "ecs_facade_watch_lag_seconds",
    "From an object's creation (its creationTimestamp, whole seconds) to the operator seeing it.",
    ["kind"],
    buckets=(0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0),
)
REST_REQUESTS = Counter(
    "rest_client_requests_total",
    "Kubernetes API requests the operator's own client made (kopf's watches and patches not counted),"
    " by method and status code.",
    ["method", "code"],
)
GC_PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class GcPauses(Collector):
    """The cyclic garbage collector's pauses by generation (python_gc_pause_seconds), kept
    by its callback in plain numbers and read when /metrics is: a metric's lock taken in the
    callback would deadlock when a collection falls due in a thread that holds that lock
    (a scrape copying the metric), and leave the collector switched off for good."""

    def __init__(self) -> None:
        self.started = 0.0
        self.counts = [[0] * (len(GC_PAUSE_BUCKETS) + 1) for _ in range(3)]  # per bucket, +Inf last
        self.sums = [0.0, 0.0, 0.0]

    def callback(self, phase: str, info: dict[str, int]) -> None:
        # runs in the collecting thread, under the GIL, no other collection meanwhile: no lock
        if phase == "start":
            self.started = time.perf_counter()
            return
        generation, took = min(max(int(info.get("generation", 2)), 0), 2), time.perf_counter() - self.started
        self.sums[generation] += took
        self.counts[generation][bisect.bisect_left(GC_PAUSE_BUCKETS, took)] += 1

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            "python_gc_pause_seconds",
            "The cyclic garbage collector's pauses by generation: every thread waits for them (the GIL).",
            labels=["generation"],
        )
        for generation in range(3):
            counts, total, cumulative = list(self.counts[generation]), self.sums[generation], []
            running = 0
            for bound, count in zip((*GC_PAUSE_BUCKETS, math.inf), counts, strict=True):
                running += count
                cumulative.append(("+Inf" if bound == math.inf else str(bound), running))
            family.add_metric([str(generation)], cumulative, total)
        yield family


GC_PAUSES = GcPauses()

logger = logging.getLogger(__name__)


class Sizes(Collector):
    """A gauge per entry of what its sources count when /metrics is read (lengths of the
    operator's per-object memories and indexes: no bookkeeping on the way, nothing to
    forget to update). A source is set by name (a restart of the operator's start-up
    replaces its own); one that fails is left out of that scrape, not the whole page."""

    def __init__(self, name: str, documentation: str, label: str) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        self.sources: dict[str, Callable[[], Mapping[str, int]]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for source_name, source in sorted(self.sources.items()):
            try:
                counted = dict(source())
            except Exception:  # a scrape must not fail for one source
                logger.debug("counting %s for %s failed", source_name, self.name, exc_info=True)
                continue
            for entry, count in sorted(counted.items()):
                family.add_metric([entry], float(count))
        yield family


STATE_ENTRIES = Sizes(
    "ecs_facade_state_entries",
    "Entries per per-object memory of the operator (its state, work queues, informers' loggers, kopf's"
    " per-object memories and workers): back to what the objects that exist need once deleted ones are gone.",
    "store",
)
INDEX_OBJECTS = Sizes(
    "ecs_facade_index_objects",
    "Objects held per kind in the operator's indexes (kept by its informers).",
    "kind",
)


def time_gc() -> None:
    """Time the collector's pauses: a full collection over a large heap holds every reconcile
    and watch back at once."""
    if GC_PAUSES.callback not in gc.callbacks:
        REGISTRY.register(GC_PAUSES)
        gc.callbacks.append(GC_PAUSES.callback)


@contextmanager
def reconciling(controller: str) -> Iterator[None]:
    """Count and time one reconciliation; an exception counts as an error and propagates."""
    start = time.perf_counter()
    ACTIVE_WORKERS.labels(controller).inc()
    try:
        yield
    except Exception:
        RECONCILE_TOTAL.labels(controller, "error").inc()
        RECONCILE_ERRORS.labels(controller).inc()
        raise
    else:
        RECONCILE_TOTAL.labels(controller, "success").inc()
    finally:
        ACTIVE_WORKERS.labels(controller).dec()
        RECONCILE_TIME.labels(controller).observe(time.perf_counter() - start)


P = ParamSpec("P")
R = TypeVar("R")


def instrumented(controller: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a controller's reconcile function: counted and timed per call."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with reconciling(controller):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def count_sizes() -> None:
    """Serve the sizes of the operator's memories and indexes (their sources are set by the
    operator's start-up: controllers/informers.py)."""
    for sizes in (STATE_ENTRIES, INDEX_OBJECTS):
        if sizes not in _REGISTERED:
            REGISTRY.register(sizes)
            _REGISTERED.append(sizes)


_REGISTERED: list[Collector] = []


def serve(port: int) -> None:
    """The /metrics endpoint, in a thread of its own."""
    time_gc()
    count_sizes()
    start_http_server(port)


def parse(text: str) -> dict[str, float]:
    """The samples of a /metrics page, keyed like the page writes them: name{label="value",...}."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
    return samples
