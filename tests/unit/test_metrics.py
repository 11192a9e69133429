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


def test_a_collection_during_a_scrape_in_the_same_thread_completes() -> None:
    """The callback takes no lock a scrape could hold (a metric's lock is not reentrant)."""
    import gc
    import threading

    from ecs_facade.metrics import GC_PAUSES, time_gc

    time_gc()
    done = threading.Event()

    def scrape_with_a_collection() -> None:
        for _ in GC_PAUSES.collect():
            gc.collect()  # falls due while the scrape is under way
        generate_latest()
        done.set()

    thread = threading.Thread(target=scrape_with_a_collection, daemon=True)
    thread.start()
    assert done.wait(10), "a collection during a scrape hung"
