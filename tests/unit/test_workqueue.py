"""The reconcile work queue: one entry per key, urgent keys first, batched status work,
a key never worked on twice at once, retries with backoff."""

import threading
import time
from collections.abc import Hashable
from typing import Any

import pytest

from ecs_facade.controllers.workqueue import WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(batch: float = 1.0, fail: set[Hashable] | None = None) -> tuple[WorkQueue, list[tuple[Any, bool, Any]], Clock]:
    calls: list[tuple[Any, bool, Any]] = []
    clock = Clock()

    def work(key: Hashable, apply: bool, context: Any) -> None:
        calls.append((key, apply, context))
        if fail and key in fail:
            raise RuntimeError("boom")

    return WorkQueue("test", work, workers=1, batch_seconds=batch, clock=clock), calls, clock


def drain(queue: WorkQueue) -> None:
    while queue.run_one(block=False):
        pass


def test_many_events_for_one_key_are_one_reconcile_with_apply_if_any_asked() -> None:
    queue, calls, clock = make()
    for apply in (False, True, False):
        queue.add("a", urgent=False, apply=apply, context=apply)
    assert queue.depth() == 1
    drain(queue)
    assert calls == []  # not due yet: status work waits for the batch
    clock.now += 1.0
    drain(queue)
    assert calls == [("a", True, False)]  # the latest context, apply because one asked
    assert queue.depth() == 0


def test_urgent_keys_go_first_and_do_not_wait_for_the_batch() -> None:
    queue, calls, clock = make()
    queue.add("status", urgent=False, apply=False, context=None)
    clock.now += 2
    queue.add("created-1", urgent=True, apply=True, context=None)
    queue.add("created-2", urgent=True, apply=True, context=None)
    drain(queue)
    assert [key for key, _, _ in calls] == ["created-1", "created-2", "status"]


def test_an_urgent_add_makes_a_batched_key_due_now() -> None:
    queue, calls, _ = make(batch=60)
    queue.add("a", urgent=False, apply=False, context=None)
    queue.add("a", urgent=True, apply=True, context=None)
    drain(queue)
    assert calls == [("a", True, None)]
    assert queue.depth() == 0


def test_a_batch_starts_with_the_first_event_and_later_events_do_not_postpone_it() -> None:
    queue, calls, clock = make(batch=1.0)
    queue.add("a", urgent=False, apply=False, context=None)
    clock.now += 0.9
    queue.add("a", urgent=False, apply=False, context=None)
    clock.now += 0.1
    drain(queue)
    assert len(calls) == 1


def test_a_key_added_while_it_runs_runs_once_more_afterwards_never_concurrently() -> None:
    running, release = threading.Event(), threading.Event()
    calls: list[bool] = []
    active = []

    def work(key: Hashable, apply: bool, context: Any) -> None:
        active.append(key)
        assert active.count(key) == 1, "two workers on one key"
        calls.append(apply)
        if len(calls) == 1:
            running.set()
            release.wait(5)
        active.remove(key)

    queue = WorkQueue("test", work, workers=2, batch_seconds=0)
    queue.add("a", urgent=True, apply=False, context=None)
    queue.start()
    try:
        assert running.wait(5)
        for apply in (False, True, False):
            queue.add("a", urgent=True, apply=apply, context=None)
        assert queue.depth() == 0  # held aside while it runs: the second worker must not take it
        release.set()
        for _ in range(100):
            if len(calls) == 2 and queue.depth() == 0:
                break
            threading.Event().wait(0.05)
    finally:
        queue.stop()
    assert calls == [False, True]


def test_a_failure_is_retried_with_a_growing_delay_and_a_success_resets_it() -> None:
    failing: set[Hashable] = {"a"}
    queue, calls, clock = make(fail=failing)
    queue.add("a", urgent=True, apply=True, context=None)
    drain(queue)
    assert len(calls) == 1 and queue.failures("a") == 1
    drain(queue)
    assert len(calls) == 1  # backing off: 0.5 s
    clock.now += 0.5
    drain(queue)
    assert len(calls) == 2 and queue.failures("a") == 2
    clock.now += 0.5
    drain(queue)
    assert len(calls) == 2  # now 1 s
    clock.now += 0.5
    failing.clear()
    drain(queue)
    assert len(calls) == 3 and queue.failures("a") == 0
    clock.now += 1000
    drain(queue)
    assert len(calls) == 3  # nothing queued after a success


def test_backoff_is_capped() -> None:
    queue, calls, clock = make(fail={"a"})
    queue.add("a", urgent=True, apply=True, context=None)
    drain(queue)
    for _ in range(30):
        clock.now += 300
        drain(queue)
    assert len(calls) == 31  # each retry due within the 300 s cap


def test_stop_ends_the_workers() -> None:
    queue, _, _ = make()
    queue.start()
    queue.stop(timeout=2)
    assert not queue.run_one()


@pytest.mark.parametrize("count", [1, 50])
def test_every_key_is_worked_on_once(count: int) -> None:
    queue, calls, clock = make()
    for number in range(count):
        queue.add(number, urgent=number % 2 == 0, apply=False, context=None)
    clock.now += 1
    drain(queue)
    assert sorted(key for key, _, _ in calls) == list(range(count))


def test_a_worker_for_urgent_keys_takes_no_other() -> None:
    queue, calls, clock = make()
    queue.add("status", urgent=False, apply=False, context=None)
    clock.now += 5
    assert not queue.run_one(block=False, urgent_only=True)
    queue.add("created", urgent=True, apply=True, context=None)
    assert queue.run_one(block=False, urgent_only=True)
    assert calls == [("created", True, None)]
    assert queue.run_one(block=False)
    assert [key for key, _, _ in calls] == ["created", "status"]


def test_with_busy_workers_an_urgent_key_is_taken_by_a_reserved_one() -> None:
    release = threading.Event()
    started: list[Hashable] = []

    def work(key: Hashable, apply: bool, context: Any) -> None:
        started.append(key)
        if key != "created":
            release.wait(5)

    queue = WorkQueue("test", work, workers=3, urgent_workers=1, batch_seconds=0)
    queue.start()
    try:
        for number in range(4):
            queue.add(f"status-{number}", urgent=False, apply=False, context=None)
        for _ in range(100):
            if len(started) >= 2:
                break
            threading.Event().wait(0.02)
        queue.add("created", urgent=True, apply=True, context=None)
        for _ in range(100):
            if "created" in started:
                break
            threading.Event().wait(0.02)
        assert "created" in started  # the two general workers are both still busy
        assert len([key for key in started if key != "created"]) == 2
    finally:
        release.set()
        queue.stop()


def test_a_held_queue_takes_nothing_until_released() -> None:
    calls: list[Hashable] = []
    queue = WorkQueue(
        "test", lambda key, *_: calls.append(key), workers=2, urgent_workers=1, batch_seconds=0, held=True
    )
    queue.add("created", urgent=True, apply=True, context=None)
    assert not queue.run_one(block=False) and not queue.run_one(block=False, urgent_only=True)
    queue.start()
    try:
        threading.Event().wait(0.2)
        assert calls == [] and queue.depth() == 1  # the workers wait, the key stays queued
        queue.release()
        for _ in range(100):
            if calls:
                break
            threading.Event().wait(0.02)
        assert calls == ["created"]
    finally:
        queue.stop(timeout=2)


def test_delayed_keys_are_taken_when_due_whatever_the_order_they_were_added_in() -> None:
    """Adding a key due after the earliest waiting one wakes no worker (their timeouts do);
    one due before it must wake them, or it would wait for the later one."""
    taken: dict[Hashable, float] = {}

    def work(key: Hashable, apply: bool, context: Any) -> None:
        taken.setdefault(key, time.monotonic())

    queue = WorkQueue("test", work, workers=2, urgent_workers=0, batch_seconds=0)
    queue.start()
    try:
        threading.Event().wait(0.05)  # both workers wait, nothing queued
        start = time.monotonic()
        queue.add("late", urgent=False, apply=False, context=None, delay=1.0)
        queue.add("later", urgent=False, apply=False, context=None, delay=1.2)  # no wake-up
        queue.add("early", urgent=False, apply=False, context=None, delay=0.2)  # a wake-up
        for _ in range(200):
            if len(taken) == 3:
                break
            threading.Event().wait(0.02)
        assert sorted(taken, key=taken.__getitem__) == ["early", "late", "later"]
        assert taken["early"] - start >= 0.15
        assert taken["late"] - taken["early"] >= 0.3  # not held until "late" was due
        assert taken["late"] - start >= 0.95
        assert taken["later"] - start >= 1.15
    finally:
        queue.stop(timeout=2)


def test_a_delayed_urgent_key_behind_another_waiting_one_is_taken_while_the_others_are_busy() -> None:
    """The workers kept for urgent keys wait with no timeout when nothing waited as they
    began: a delayed urgent key (a throttle's end) must wake them even when a key due sooner
    is waiting already, or it would wait for a busy general worker."""
    release = threading.Event()
    started: list[Hashable] = []

    def work(key: Hashable, apply: bool, context: Any) -> None:
        started.append(key)
        if key == "busy":
            release.wait(10)

    queue = WorkQueue("test", work, workers=2, urgent_workers=1, batch_seconds=0)
    queue.start()
    try:
        queue.add("busy", urgent=False, apply=False, context=None)
        for _ in range(100):
            if started:
                break
            threading.Event().wait(0.02)
        queue.add("status", urgent=False, apply=False, context=None, delay=0.2)
        queue.add("throttle-end", urgent=True, apply=True, context=None, delay=0.4)
        for _ in range(150):
            if "throttle-end" in started:
                break
            threading.Event().wait(0.02)
        assert started == ["busy", "throttle-end"]  # the general worker is still busy
    finally:
        release.set()
        queue.stop(timeout=2)
