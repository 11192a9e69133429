"""A burst of events for one service costs two reconciles, not one per event."""

import logging
import threading
from typing import Any, cast

import pytest

from ecs_facade.controllers import service as controller
from ecs_facade.controllers.indexes import Indexes

INDEXES = cast(Indexes, None)  # reconcile is replaced: nothing reads them
LOGGER = logging.getLogger("test")


def test_a_burst_during_a_reconcile_runs_it_once_more_with_apply_if_any_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    running, release = threading.Event(), threading.Event()

    def reconcile(namespace: str, name: str, indexes: Any, logger: Any, apply: bool = True) -> None:
        calls.append(apply)
        if len(calls) == 1:
            running.set()
            release.wait(5)

    monkeypatch.setattr(controller, "reconcile", reconcile)
    first = threading.Thread(target=controller.coalesced, args=("ns", "web", None, None, False))
    first.start()
    assert running.wait(5)
    for apply in (False, True, False, False):  # arrive while the first one runs: they return at once
        controller.coalesced("ns", "web", INDEXES, LOGGER, apply)
    release.set()
    first.join(5)
    assert calls == [False, True]
    assert ("ns", "web") not in controller._again


def test_an_error_does_not_leave_the_service_marked_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(controller, "reconcile", failing)
    with pytest.raises(RuntimeError):
        controller.coalesced("ns", "api", INDEXES, LOGGER, True)
    assert ("ns", "api") not in controller._again
