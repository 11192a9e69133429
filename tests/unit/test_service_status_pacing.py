"""When a service's status is written, and when the service is looked at again."""

import datetime
import time

import pytest

from ecs_facade.config import Config
from ecs_facade.controllers import service
from ecs_facade.controllers.workqueue import WorkQueue
from tests.unit.test_views_service import rolling_status

MEMORY = ("default", "web", "uid-1")
CONFIG = Config(status_min_interval_seconds=10.0)


@pytest.fixture(autouse=True)
def queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "_queue", WorkQueue("test", lambda *_: None, workers=1, batch_seconds=2.0))
    monkeypatch.setattr(service, "_written_at", {})


def test_the_first_status_is_written_at_once() -> None:
    assert service._status_wait(MEMORY, {}, rolling_status(0, 4), CONFIG) == 0.0


def test_counts_only_wait_for_the_rest_of_the_interval() -> None:
    service._written_at[MEMORY] = time.monotonic() - 4.0
    wait = service._status_wait(MEMORY, rolling_status(0, 4), rolling_status(2, 2), CONFIG)
    assert 5.5 < wait <= 6.0


def test_counts_only_are_written_once_the_interval_is_over() -> None:
    service._written_at[MEMORY] = time.monotonic() - 10.5
    assert service._status_wait(MEMORY, rolling_status(0, 4), rolling_status(2, 2), CONFIG) == 0.0


def test_the_steady_state_and_failures_never_wait() -> None:
    service._written_at[MEMORY] = time.monotonic()
    before = rolling_status(3, 1)
    assert service._status_wait(MEMORY, before, rolling_status(4, 0, rolloutState="COMPLETED"), CONFIG) == 0.0
    assert service._status_wait(MEMORY, before, rolling_status(3, 1, failedTasks=1), CONFIG) == 0.0


def test_a_deleted_service_forgets_when_it_was_written() -> None:
    service._written_at[MEMORY] = time.monotonic()
    service._forget(MEMORY[:2], MEMORY[2])
    assert MEMORY not in service._written_at


def test_a_held_service_is_looked_at_again_just_after_the_hold() -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)
    wait = service._until({"nextAttemptAt": later.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert 29.0 < wait <= 31.0
    assert service._until({"nextAttemptAt": "2026-01-01T00:00:00Z"}) == 1.0  # over already: at once, nearly
