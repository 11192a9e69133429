"""The operator's metrics: counted per reconcile, errors counted and re-raised, and read back."""

import pytest
from prometheus_client import generate_latest

from ecs_facade.metrics import instrumented, parse


def sample(name: str) -> float:
    return parse(generate_latest().decode()).get(name, 0.0)


def test_reconciles_and_errors_are_counted_and_timed() -> None:
    ok = 'controller_runtime_reconcile_total{controller="unit-test",result="success"}'
    failed = 'controller_runtime_reconcile_total{controller="unit-test",result="error"}'
    errors = 'controller_runtime_reconcile_errors_total{controller="unit-test"}'
    timed = 'controller_runtime_reconcile_time_seconds_count{controller="unit-test"}'
    before = {k: sample(k) for k in (ok, failed, errors, timed)}

    @instrumented("unit-test")
    def reconcile(fail: bool) -> str:
        if fail:
            raise RuntimeError("boom")
        return "done"

    assert reconcile(False) == "done"
    with pytest.raises(RuntimeError):
        reconcile(True)
    assert sample(ok) - before[ok] == 1
    assert sample(failed) - before[failed] == 1
    assert sample(errors) - before[errors] == 1
    assert sample(timed) - before[timed] == 2
    assert sample('controller_runtime_active_workers{controller="unit-test"}') == 0


def test_the_collectors_pauses_are_timed_by_generation() -> None:
    import gc

    from ecs_facade.metrics import time_gc

    full = 'python_gc_pause_seconds_count{generation="2"}'
    before = sample(full)
    time_gc()
    time_gc()  # once only
    gc.collect()
    assert sample(full) - before == 1
    assert sample('python_gc_pause_seconds_sum{generation="2"}') > 0
    assert sample('python_gc_pause_seconds_bucket{generation="2",le="+Inf"}') == sample(full)


def test_a_collection_while_a_scrape_holds_the_metrics_locks_completes() -> None:
    """A collection can fall due in a thread that holds a metric's lock (a scrape copying
    it; the locks are not reentrant): the collector's callback must take none of them."""
    import gc
    import threading

    from prometheus_client import REGISTRY

    from ecs_facade.metrics import time_gc

    time_gc()
    locks = [
        lock
        for collector in list(REGISTRY._collector_to_names)
        if isinstance(lock := getattr(collector, "_lock", None), type(threading.Lock()))
    ]
    assert locks, "the registry's metrics have locks to hold"
    done = threading.Event()

    def collect_holding_the_locks() -> None:
        for lock in locks:
            lock.acquire()
        try:
            gc.collect()
        finally:
            for lock in locks:
                lock.release()
        done.set()

    threading.Thread(target=collect_holding_the_locks, daemon=True).start()
    hung = not done.wait(10)
    if hung:  # let the stuck callback go (a plain Lock may be released by any thread)
        for lock in locks:
            if lock.locked():
                lock.release()
    assert not hung, "the collector's callback waited for a metric's lock"
