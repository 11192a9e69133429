"""When a service's status is written, and when the service is looked at again."""

import datetime
import time

import pytest

from ecs_facade.config import Config
from ecs_facade.controllers import service
from ecs_facade.controllers.turns import Turns
from ecs_facade.controllers.workqueue import WorkQueue
from tests.unit.test_views_service import rolling_status

MEMORY = ("default", "web", "uid-1")
CONFIG = Config(status_min_interval_seconds=10.0)


@pytest.fixture(autouse=True)
def queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "_queue", WorkQueue("test", lambda *_: None, workers=1, batch_seconds=2.0))
    monkeypatch.setattr(service, "_written_at", {})
    monkeypatch.setattr(service, "_written", {})
    monkeypatch.setattr(service, "_progress_turns", Turns())


def written(memory: tuple[str, str, str] = MEMORY, ago: float = 0.0) -> None:
    service._written[memory] = {}
    service._written_at[memory] = time.monotonic() - ago


def test_a_status_is_written_at_once_when_nothing_was_written_or_created() -> None:
    # e.g. the first reconcile after a restart
    assert service._status_wait(MEMORY, {}, rolling_status(0, 4), CONFIG) == 0.0


def test_a_new_services_first_status_waits_for_the_interval_from_its_creation() -> None:
    service._written_at[MEMORY] = time.monotonic() - 2.0  # the workload was created 2 s ago
    wait = service._status_wait(MEMORY, {}, rolling_status(0, 4), CONFIG)
    assert 7.5 < wait <= 8.0
    service._written_at[MEMORY] = time.monotonic() - 10.5
    assert service._status_wait(MEMORY, {}, rolling_status(1, 3), CONFIG) == 0.0


def test_a_new_services_first_status_with_news_is_written_at_once() -> None:
    service._written_at[MEMORY] = time.monotonic()
    assert service._status_wait(MEMORY, {}, rolling_status(4, 0, rolloutState="COMPLETED"), CONFIG) == 0.0
    assert service._status_wait(MEMORY, {}, rolling_status(0, 4, failedTasks=1), CONFIG) == 0.0


def test_counts_only_wait_for_the_rest_of_the_interval() -> None:
    written(ago=4.0)
    wait = service._status_wait(MEMORY, rolling_status(0, 4), rolling_status(2, 2), CONFIG)
    assert 5.5 < wait <= 6.0


def test_counts_only_are_written_once_the_interval_is_over() -> None:
    written(ago=10.5)
    assert service._status_wait(MEMORY, rolling_status(0, 4), rolling_status(2, 2), CONFIG) == 0.0


def test_the_steady_state_and_failures_never_wait() -> None:
    written()
    before = rolling_status(3, 1)
    assert service._status_wait(MEMORY, before, rolling_status(4, 0, rolloutState="COMPLETED"), CONFIG) == 0.0
    assert service._status_wait(MEMORY, before, rolling_status(3, 1, failedTasks=1), CONFIG) == 0.0


def test_a_deleted_service_forgets_when_it_was_written() -> None:
    written()
    service._progress_turns.wait(("default", "other", "uid-0"), 1.0)  # the turn now
    assert service._progress_turns.wait(MEMORY, 1.0) > 0  # the next one, reserved
    service._forget(MEMORY[:2], MEMORY[2])
    assert MEMORY not in service._written_at
    assert MEMORY not in service._progress_turns


def test_progress_writes_of_many_services_take_turns() -> None:
    config = Config(status_min_interval_seconds=10.0, status_progress_writes_per_second=2.0)
    memories = [("default", f"web-{i}", f"uid-{i}") for i in range(4)]
    for memory in memories:
        written(memory, ago=11.0)
    waits = [service._status_wait(m, rolling_status(0, 4), rolling_status(2, 2), config) for m in memories]
    assert waits[0] == 0.0  # the first turn is now
    assert [round(w, 1) for w in waits[1:]] == [0.5, 1.0, 1.5]
    # asked again before its turn, a service keeps its place instead of queueing anew
    again = service._status_wait(memories[3], rolling_status(0, 4), rolling_status(3, 1), config)
    assert 1.4 < again <= 1.5


def test_a_services_turn_is_used_once_it_comes() -> None:
    config = Config(status_min_interval_seconds=10.0, status_progress_writes_per_second=20.0)
    written(("default", "other", "uid-0"), ago=11.0)
    written(ago=11.0)
    other = ("default", "other", "uid-0")
    assert service._status_wait(other, rolling_status(0, 4), rolling_status(2, 2), config) == 0.0
    wait = service._status_wait(MEMORY, rolling_status(0, 4), rolling_status(2, 2), config)
    assert 0.0 < wait <= 0.05 and MEMORY in service._progress_turns
    time.sleep(wait)
    assert service._status_wait(MEMORY, rolling_status(0, 4), rolling_status(2, 2), config) == 0.0
    assert MEMORY not in service._progress_turns


def test_no_turns_without_a_rate() -> None:
    config = Config(status_min_interval_seconds=10.0, status_progress_writes_per_second=0.0)
    for i in range(3):
        memory = ("default", f"web-{i}", f"uid-{i}")
        written(memory, ago=11.0)
        assert service._status_wait(memory, rolling_status(0, 4), rolling_status(2, 2), config) == 0.0


def test_a_held_service_is_looked_at_again_just_after_the_hold() -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    wait = service._until({"nextAttemptAt": later.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert 29.0 < wait <= 31.0
    assert service._until({"nextAttemptAt": "2026-01-01T00:00:00Z"}) == 1.0  # over already: at once, nearly
