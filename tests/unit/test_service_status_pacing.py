"""When a service's status is written, and when the service is looked at again."""

import datetime
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest

from ecs_facade.config import Config
from ecs_facade.controllers.indexes import Snapshot
from ecs_facade.controllers.service import pacing, report, triggers
from ecs_facade.controllers.state import OperatorState
from ecs_facade.controllers.workqueue import WorkQueue
from tests.unit.test_views_service import rolling_status

MEMORY = ("default", "web", "uid-1")
CONFIG = Config(status_min_interval_seconds=10.0)


@pytest.fixture
def state() -> OperatorState:
    """A fresh operator's state, its service work queue made (not started)."""
    fresh = OperatorState(config=CONFIG)
    fresh.queue = WorkQueue("test", lambda *_: None, workers=1, batch_seconds=2.0)
    return fresh


def written(state: OperatorState, memory: tuple[str, str, str] = MEMORY, ago: float = 0.0) -> None:
    state.services.written[memory] = {}
    state.services.written_at[memory] = time.monotonic() - ago


def test_a_status_is_written_at_once_when_nothing_was_written_or_created(state: OperatorState) -> None:
    # e.g. the first reconcile after a restart
    assert pacing.status_wait(state, MEMORY, {}, rolling_status(0, 4), CONFIG) == 0.0


def test_a_new_services_first_status_waits_for_the_interval_from_its_creation(state: OperatorState) -> None:
    state.services.written_at[MEMORY] = time.monotonic() - 2.0  # the workload was created 2 s ago
    wait = pacing.status_wait(state, MEMORY, {}, rolling_status(0, 4), CONFIG)
    assert 7.5 < wait <= 8.0
    state.services.written_at[MEMORY] = time.monotonic() - 10.5
    assert pacing.status_wait(state, MEMORY, {}, rolling_status(1, 3), CONFIG) == 0.0


def test_a_new_services_first_status_with_news_is_written_at_once(state: OperatorState) -> None:
    state.services.written_at[MEMORY] = time.monotonic()
    assert pacing.status_wait(state, MEMORY, {}, rolling_status(4, 0, rolloutState="COMPLETED"), CONFIG) == 0.0
    assert pacing.status_wait(state, MEMORY, {}, rolling_status(0, 4, failedTasks=1), CONFIG) == 0.0


def test_counts_only_wait_for_the_rest_of_the_interval(state: OperatorState) -> None:
    written(state, ago=4.0)
    wait = pacing.status_wait(state, MEMORY, rolling_status(0, 4), rolling_status(2, 2), CONFIG)
    assert 5.5 < wait <= 6.0


def test_counts_only_are_written_once_the_interval_is_over(state: OperatorState) -> None:
    written(state, ago=10.5)
    assert pacing.status_wait(state, MEMORY, rolling_status(0, 4), rolling_status(2, 2), CONFIG) == 0.0


def test_the_steady_state_and_failures_never_wait(state: OperatorState) -> None:
    written(
        state,
    )
    before = rolling_status(3, 1)
    assert pacing.status_wait(state, MEMORY, before, rolling_status(4, 0, rolloutState="COMPLETED"), CONFIG) == 0.0
    assert pacing.status_wait(state, MEMORY, before, rolling_status(3, 1, failedTasks=1), CONFIG) == 0.0


def test_a_deleted_service_forgets_when_it_was_written(state: OperatorState) -> None:
    written(
        state,
    )
    state.services.progress_turns.wait(("default", "other", "uid-0"), 1.0)  # the turn now
    assert state.services.progress_turns.wait(MEMORY, 1.0) > 0  # the next one, reserved
    triggers._forget(state, MEMORY[:2], MEMORY[2])
    assert MEMORY not in state.services.written_at
    assert MEMORY not in state.services.progress_turns


def test_progress_writes_of_many_services_take_turns(state: OperatorState) -> None:
    config = Config(status_min_interval_seconds=10.0, status_progress_writes_per_second=2.0)
    memories = [("default", f"web-{i}", f"uid-{i}") for i in range(4)]
    for memory in memories:
        written(state, memory, ago=11.0)
    waits = [pacing.status_wait(state, m, rolling_status(0, 4), rolling_status(2, 2), config) for m in memories]
    assert waits[0] == 0.0  # the first turn is now
    assert [round(w, 1) for w in waits[1:]] == [0.5, 1.0, 1.5]
    # asked again before its turn, a service keeps its place instead of queueing anew
    again = pacing.status_wait(state, memories[3], rolling_status(0, 4), rolling_status(3, 1), config)
    assert 1.4 < again <= 1.5


def test_a_services_turn_is_used_once_it_comes(state: OperatorState) -> None:
    config = Config(status_min_interval_seconds=10.0, status_progress_writes_per_second=20.0)
    written(state, ("default", "other", "uid-0"), ago=11.0)
    written(state, ago=11.0)
    other = ("default", "other", "uid-0")
    assert pacing.status_wait(state, other, rolling_status(0, 4), rolling_status(2, 2), config) == 0.0
    wait = pacing.status_wait(state, MEMORY, rolling_status(0, 4), rolling_status(2, 2), config)
    assert 0.0 < wait <= 0.05 and MEMORY in state.services.progress_turns
    time.sleep(wait)
    assert pacing.status_wait(state, MEMORY, rolling_status(0, 4), rolling_status(2, 2), config) == 0.0
    assert MEMORY not in state.services.progress_turns


def test_no_turns_without_a_rate(state: OperatorState) -> None:
    config = Config(status_min_interval_seconds=10.0, status_progress_writes_per_second=0.0)
    for i in range(3):
        memory = ("default", f"web-{i}", f"uid-{i}")
        written(state, memory, ago=11.0)
        assert pacing.status_wait(state, memory, rolling_status(0, 4), rolling_status(2, 2), config) == 0.0


def test_a_held_service_is_looked_at_again_just_after_the_hold(state: OperatorState) -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    wait = report._until({"nextAttemptAt": later.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert 29.0 < wait <= 31.0
    assert report._until({"nextAttemptAt": "2026-01-01T00:00:00Z"}) == 1.0  # over already: at once, nearly


def _indexes() -> Any:
    web = Snapshot(name="web", namespace="default", uid="uid-1", generation=1, spec={}, status={})
    return SimpleNamespace(services={("default", "web"): [web]}, nodes={})


def _pod(phase: str = "Pending", node: str | None = "n1") -> dict[str, Any]:
    spec = {"nodeName": node} if node else {}
    return {"kind": "Pod", "metadata": {"name": "web-1"}, "spec": spec, "status": {"phase": phase}}


def _due(state: OperatorState) -> float:
    assert state.queue is not None
    item = state.queue._pending[("default", "web")]
    return item.due - time.monotonic()


def test_a_task_on_its_way_is_counted_by_the_refresh_queued_for_a_waiting_status(state: OperatorState) -> None:
    indexes, logger = _indexes(), logging.getLogger("test")
    state.services.status_due[MEMORY] = time.monotonic() + 30.0  # a progress write waits for its turn
    triggers.tasks_changed(state, _pod(node=None), "default", "web", indexes, logger)
    assert 29.0 < _due(state) <= 30.0  # not a reconcile in 2 s that would find it must wait
    triggers.tasks_changed(state, _pod(), "default", "web", indexes, logger)  # bound: the same
    assert 29.0 < _due(state) <= 30.0


def test_a_running_task_or_nothing_waiting_gets_the_usual_batch(state: OperatorState) -> None:
    indexes, logger = _indexes(), logging.getLogger("test")
    triggers.tasks_changed(state, _pod(), "default", "web", indexes, logger)
    assert 1.5 < _due(state) <= 2.0  # no status waits: the batch
    state.services.status_due[MEMORY] = time.monotonic() + 30.0
    triggers.tasks_changed(state, _pod(phase="Running"), "default", "web", indexes, logger)
    assert 1.5 < _due(state) <= 2.0  # may be the rollout's end: news does not wait


def test_a_refresh_that_is_due_already_holds_nothing_back(state: OperatorState) -> None:
    state.services.status_due[MEMORY] = time.monotonic() - 1.0
    assert triggers._counted_later(state, "default", "web", _pod(), _indexes()) is None
    state.services.status_due[MEMORY] = time.monotonic() + 5.0
    assert triggers._counted_later(state, "default", "other", _pod(), _indexes()) is None  # not indexed: gone
    triggers._forget(state, MEMORY[:2], MEMORY[2])
    assert MEMORY not in state.services.status_due
