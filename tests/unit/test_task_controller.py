"""The ECSTask controller's part of observing a pod: what it writes (stamped), and when it
deletes the pod; the status itself is views.task.observe_task's (test_views_task_stops)."""

from typing import Any

import pytest

from ecs_facade.config import Config
from ecs_facade.controllers import task as controller
from ecs_facade.controllers.indexes import Snapshot
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from tests.unit.test_views_task_stops import RUNNING_TASK, observed, running, terminated, trapping


class Cluster:
    """The API calls the controller makes, recorded; the status written is the next one read."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = dict(RUNNING_TASK)
        self.deleted: list[str] = []
        self.state = OperatorState(config=Config())  # the operator's, with what it wrote

    def patch_status(self, api_version: str, plural: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.status = {**self.status, **status}

    def delete_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
        self.deleted.append(name)


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    fake = Cluster()
    monkeypatch.setattr(kube, "patch_status", fake.patch_status)
    monkeypatch.setattr(kube, "delete_pod", fake.delete_pod)
    stamps = iter(f"2026-01-01T00:00:{n:02d}Z" for n in range(10, 60))
    monkeypatch.setattr(controller, "now", lambda: next(stamps))
    return fake


def observe(cluster: Cluster, pod: dict[str, Any] | None, spec: dict[str, Any]) -> dict[str, Any]:
    snapshot = Snapshot("job-1", "ns", "uid-1", 2, {"taskDefinition": "f:1", **spec}, cluster.status)
    controller._observe(cluster.state, snapshot, dict(cluster.status), pod)
    return cluster.status


def test_stop_task_on_a_container_that_traps_sigterm_ends_user_initiated_with_its_exit_code(cluster: Cluster) -> None:
    stop = {"desiredStatus": "STOPPED", "reason": "maintenance window"}
    status = observe(cluster, observed(trapping(), "Running", [running("app")]), stop)
    assert cluster.deleted == ["job-1"]
    assert (status["lastStatus"], status["stopCode"]) == ("STOPPING", "UserInitiated")
    stopping_at = status["stoppingAt"]
    assert "stoppedAt" not in status
    status = observe(cluster, observed(trapping(), "Running", [running("app")], deleting=True), stop)
    assert status["lastStatus"] == "STOPPING" and cluster.deleted == ["job-1"]
    status = observe(cluster, observed(trapping(), "Failed", [terminated("app", 137)], deleting=True), stop)
    assert cluster.deleted == ["job-1"]
    assert (status["lastStatus"], status["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert (status["stopCode"], status["stoppedReason"], status["exitCode"]) == (
        "UserInitiated",
        "maintenance window",
        137,
    )
    assert status["stoppingAt"] == stopping_at  # when StopTask was seen, not later
    assert status["stoppedAt"] > status["stoppingAt"]
    assert [(c["name"], c["lastStatus"], c["exitCode"]) for c in status["containers"]] == [("app", "STOPPED", 137)]
    assert [c["reason"] for c in status["conditions"] if c["type"] == "Ready"] == ["Stopped"]


def test_stop_task_without_a_reason_says_task_stopped_by_user_also_once_the_pod_is_gone(cluster: Cluster) -> None:
    stop = {"desiredStatus": "STOPPED"}
    observe(cluster, observed(trapping(), "Running", [running("app")]), stop)
    status = observe(cluster, None, stop)
    assert (status["lastStatus"], status["stopCode"], status["stoppedReason"]) == (
        "STOPPED",
        "UserInitiated",
        "Task stopped by user",
    )
    assert "exitCode" not in status
    assert [(c["name"], c["lastStatus"]) for c in status["containers"]] == [("app", "STOPPED")]


def test_an_essential_exit_stops_the_task_at_once_and_deletes_the_pod(cluster: Cluster) -> None:
    status = observe(cluster, observed(trapping(), "Running", [terminated("app", 137, "OOMKilled")]), {})
    assert cluster.deleted == ["job-1"]
    assert (status["lastStatus"], status["stopCode"], status["exitCode"]) == (
        "STOPPED",
        "EssentialContainerExited",
        137,
    )
    assert status["stoppedReason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert status["stoppingAt"] == status["stoppedAt"]
