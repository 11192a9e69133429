"""The cluster timer: kopf fixes a timer's interval at import, before the settings are read,
so it ticks every second and syncs a cluster once cluster_sync_seconds have passed."""

import dataclasses
from collections.abc import Callable
from typing import Any, cast

import kopf
import pytest

from ecs_facade.config import Config
from ecs_facade.controllers import cluster
from ecs_facade.controllers.indexes import Indexes
from ecs_facade.controllers.state import OperatorState

cluster_sync = cast(Callable[..., None], cluster.cluster_sync)  # as kopf calls it


def test_a_cluster_is_synced_every_cluster_sync_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    now = [100.0]
    monkeypatch.setattr(cluster, "reconcile", lambda state, name, *_, **__: synced.append(name))
    monkeypatch.setattr("time.monotonic", lambda: now[0])
    state = OperatorState(config=Config(cluster_sync_seconds=5.0))
    memo = kopf.Memo(state=state, indexes=Indexes.create())  # kopf's memo of this cluster: a copy of the operator's
    body: dict[str, Any] = {"metadata": {}}

    def tick(seconds: float) -> None:
        now[0] += seconds
        cluster_sync(name="default", body=body, logger=None, memo=memo)

    tick(0)  # the first tick syncs at once
    tick(1)
    tick(3.9)
    assert synced == ["default"]
    tick(0.1)  # 5 s after the last sync
    assert synced == ["default"] * 2
    state.config = dataclasses.replace(state.config, cluster_sync_seconds=1.0)  # read on each tick
    tick(1)
    assert synced == ["default"] * 3


def test_a_deleted_cluster_is_left_to_its_deletion_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    monkeypatch.setattr(cluster, "reconcile", lambda state, name, *_, **__: synced.append(name))
    body = {"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}
    cluster_sync(name="gone", body=body, logger=None, memo=kopf.Memo(state=OperatorState(config=Config())))
    assert synced == []
