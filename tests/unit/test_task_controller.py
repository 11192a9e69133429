"""The ECSTask controller's part of observing a pod: what it writes (stamped), and when it
deletes the pod; the status itself is views.task.observe_task's (test_views_task_stops)."""

import json
import logging
from typing import Any

import pytest

from ecs_facade.config import Config
from ecs_facade.controllers import task as controller
from ecs_facade.controllers.indexes import Indexes, Snapshot
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


# --- a pod the API server refuses (views/refusals.py) -------------------------------------------------

PRIVILEGED = {"name": "app", "image": "nginx:1.27", "memory": 64, "privileged": True}
BASELINE_REFUSAL = (
    'pods "job-1" is forbidden: violates PodSecurity "baseline:latest": privileged (container "app" must not '
    "set securityContext.privileged=true)"
)


def refusing(code: int, message: str) -> Any:
    """An API server that applies ServiceAccounts and answers a pod with ``code``."""
    from kubernetes.client.exceptions import ApiException

    applied: list[str] = []

    def apply_core(manifest: dict[str, Any]) -> None:
        applied.append(f"{manifest['kind']}/{manifest['metadata']['name']}")
        if manifest["kind"] == "Pod":
            error = ApiException(status=code, reason="Forbidden")
            error.body = json.dumps({"kind": "Status", "message": message, "code": code})
            raise error

    return apply_core, applied


def task_indexes(status: dict[str, Any] | None = None) -> Indexes:
    """A task of a privileged task definition with a task role, registered, in the default cluster."""
    views = Indexes.create()
    meta = {"namespace": "ns", "resourceVersion": "1"}
    spec = {"containerDefinitions": [PRIVILEGED], "taskRoleArn": "arn:aws:iam::000000000000:role/jobs"}
    views.objects["ECSTaskDefinition"].put({"metadata": {**meta, "name": "priv", "uid": "td"}, "spec": spec})
    owner = [{"kind": "ECSTaskDefinition", "name": "priv", "uid": "td"}]
    views.objects["ControllerRevision"].put(
        {
            "metadata": {**meta, "name": "priv-1", "uid": "rev", "ownerReferences": owner},
            "revision": 1,
            "data": {"taskDefinition": {"family": "priv", **spec}},
        }
    )
    views.objects["ECSTask"].put(
        {
            "metadata": {**meta, "name": "job-1", "uid": "uid-1", "generation": 1},
            "spec": {"taskDefinition": "priv"},
            "status": status or {},
        }
    )
    return views


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    events: list[tuple[str, str, str]] = []
    monkeypatch.setattr(
        kube, "post_event", lambda involved, type_, reason, message, at: events.append((type_, reason, message))
    )
    return events


def test_a_pod_refused_by_pod_security_stops_the_task_failed_to_start(
    cluster: Cluster, posted: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.status = {}
    apply_core, applied = refusing(403, BASELINE_REFUSAL)
    monkeypatch.setattr(kube, "apply_core", apply_core)
    controller.reconcile(cluster.state, "ns", "job-1", task_indexes(), logging.getLogger("test"))
    status = cluster.status
    assert (status["lastStatus"], status["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert status["stopCode"] == "TaskFailedToStart"
    assert status["stoppedReason"] == f"PodSecurityRefused: {BASELINE_REFUSAL}"
    assert status["stoppingAt"] == status["stoppedAt"]
    assert status["taskDefinitionArn"].endswith("task-definition/priv:1")
    assert status["taskArn"].endswith("task/default/uid1") and status["group"] == "family:priv"
    assert status["observedGeneration"] == 1
    (ready,) = status["conditions"]
    assert (ready["type"], ready["status"], ready["reason"], ready["message"]) == (
        "Ready",
        "False",
        "PodSecurityRefused",
        BASELINE_REFUSAL,
    )
    assert posted == [("Warning", "PodSecurityRefused", f"PodSecurityRefused: {BASELINE_REFUSAL}")]
    # the role's ServiceAccount was applied before the pod, and stays (shared, owned by none)
    assert applied == ["ServiceAccount/ecs-task-role-jobs", "Pod/job-1"]


def test_a_refused_task_is_not_tried_again(
    cluster: Cluster, posted: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.status = {}
    apply_core, applied = refusing(403, BASELINE_REFUSAL)
    monkeypatch.setattr(kube, "apply_core", apply_core)
    controller.reconcile(cluster.state, "ns", "job-1", task_indexes(), logging.getLogger("test"))
    written = dict(cluster.status)
    # the next event (kopf's resume, the informer's): the index holds the status written
    controller.reconcile(cluster.state, "ns", "job-1", task_indexes(written), logging.getLogger("test"))
    assert applied == ["ServiceAccount/ecs-task-role-jobs", "Pod/job-1"]  # no second try
    assert cluster.status == written and len(posted) == 1


def test_an_invalid_pod_fails_to_start_too(
    cluster: Cluster, posted: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.status = {}
    invalid = 'Pod "job-1" is invalid: spec.containers[0].securityContext: Forbidden: disallowed by cluster policy'
    apply_core, _ = refusing(422, invalid)
    monkeypatch.setattr(kube, "apply_core", apply_core)
    controller.reconcile(cluster.state, "ns", "job-1", task_indexes(), logging.getLogger("test"))
    assert (cluster.status["stopCode"], cluster.status["stoppedReason"]) == (
        "TaskFailedToStart",
        f"TaskLaunchFailed: {invalid}",
    )
    assert [c["reason"] for c in cluster.status["conditions"]] == ["TaskLaunchFailed"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (403, 'pods "job-1" is forbidden: User "system:serviceaccount:e:ecs-facade" cannot patch resource "pods"'),
        (500, "etcdserver: request timed out"),
    ],
)
def test_an_error_a_retry_may_mend_is_raised_for_kopf_to_retry(
    cluster: Cluster, posted: list[tuple[str, str, str]], monkeypatch: pytest.MonkeyPatch, code: int, message: str
) -> None:
    from kubernetes.client.exceptions import ApiException

    cluster.status = {}
    apply_core, _ = refusing(code, message)
    monkeypatch.setattr(kube, "apply_core", apply_core)
    with pytest.raises(ApiException):
        controller.reconcile(cluster.state, "ns", "job-1", task_indexes(), logging.getLogger("test"))
    assert cluster.status == {} and posted == []
