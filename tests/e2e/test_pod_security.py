"""Pod Security admission on a real API server: a privileged task definition in a namespace
that enforces ``baseline`` is refused, and the service and the task say why in ECS's words;
without enforcement the same objects run (simulated nodes)."""

import sys
import time
from typing import Any

import pytest

from tests.e2e.kube import Kubectl, condition, wait_for
from tests.e2e.kube import apply_objects as apply

pytestmark = pytest.mark.e2e

REFUSED = (
    'violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)'
)
LAUNCH_FAILED = "(service web) failed to launch a task with (error "


def objects() -> list[dict[str, Any]]:
    """A privileged task definition, a service of one task and a standalone task of it."""
    container = {"name": "app", "image": "example/app:1", "memory": 64, "privileged": True}
    return [
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSTaskDefinition",
            "metadata": {"name": "priv"},
            "spec": {"containerDefinitions": [container]},
        },
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSService",
            "metadata": {"name": "web"},
            "spec": {"taskDefinition": "priv", "desiredCount": 1},
        },
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSTask",
            "metadata": {"name": "job"},
            "spec": {"taskDefinition": "priv"},
        },
    ]


def status(kubectl: Kubectl, kind: str, namespace: str, name: str) -> dict[str, Any]:
    return (kubectl.get(kind, name, namespace) or {}).get("status") or {}


def launch_events(kubectl: Kubectl, namespace: str) -> tuple[list[str], list[str]]:
    """The service's "failed to launch" events: in its status, and as Kubernetes Events."""
    said = [e["message"] for e in status(kubectl, "ecsservice", namespace, "web").get("events") or []]
    posted = [
        e["message"]
        for e in kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=ECSService")[
            "items"
        ]
    ]
    return [m for m in said if m.startswith(LAUNCH_FAILED)], [m for m in posted if m.startswith(LAUNCH_FAILED)]


def test_privileged_tasks_refused_by_baseline_say_why(kubectl: Kubectl, namespace: str) -> None:
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=baseline")
    started = time.monotonic()
    apply(kubectl, namespace, *objects())

    # the standalone task: STOPPED at once, TaskFailedToStart with the admission's message
    def task_stopped() -> dict[str, Any] | None:
        s = status(kubectl, "ecstask", namespace, "job")
        return s if s.get("lastStatus") == "STOPPED" else None

    task = wait_for("the task STOPPED", task_stopped, timeout=60)
    task_seconds = time.monotonic() - started
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"] == f'PodSecurityRefused: pods "job" is forbidden: {REFUSED}'
    assert task["desiredStatus"] == "STOPPED" and task["stoppedAt"]
    ready = condition({"status": task}, "Ready") or {}
    assert (ready.get("status"), ready.get("reason")) == ("False", "PodSecurityRefused")
    assert REFUSED in ready["message"]
    warnings = kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=job")["items"]
    assert [(e["type"], e["reason"]) for e in warnings if e["involvedObject"]["kind"] == "ECSTask"] == [
        ("Warning", "PodSecurityRefused")
    ]
    assert kubectl.get("pod", "job", namespace) is None

    # the service: Ready False with the refusal, and ECS's "failed to launch" event once
    def refused() -> dict[str, Any] | None:
        said = condition({"status": status(kubectl, "ecsservice", namespace, "web")}, "Ready") or {}
        return said if said.get("reason") == "PodSecurityRefused" else None

    said = wait_for("the service's Ready condition to say the refusal", refused, timeout=60)
    service_seconds = time.monotonic() - started
    assert said["status"] == "False"
    assert said["message"].startswith('tasks cannot be created: pods "web-')
    assert said["message"].endswith(f'-…" is forbidden: {REFUSED}')
    in_status, posted = wait_for("the event posted", lambda: (e := launch_events(kubectl, namespace))[1] and e)
    assert in_status == [f"{LAUNCH_FAILED}{said['message'].removeprefix('tasks cannot be created: ')})."]
    assert posted == in_status
    # the ReplicaSet controller tries again and again: the refusal is not said again
    time.sleep(10)
    assert launch_events(kubectl, namespace) == (in_status, posted)
    counts = status(kubectl, "ecsservice", namespace, "web")
    assert (counts["desiredCount"], counts["runningCount"], counts["pendingCount"]) == (1, 0, 0)
    # kopf's test runner takes sys.stdout while the operator runs: the numbers for the report
    print(
        f"\ntask STOPPED after {task_seconds:.1f} s, service refused after {service_seconds:.1f} s", file=sys.__stderr__
    )
    assert task_seconds < 30 and service_seconds < 30


def test_the_same_privileged_tasks_run_without_enforcement(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, *objects())

    def running() -> bool:
        task = status(kubectl, "ecstask", namespace, "job")
        service = status(kubectl, "ecsservice", namespace, "web")
        return task.get("lastStatus") == "RUNNING" and service.get("runningCount") == 1

    wait_for("the task RUNNING and the service's task running", running, timeout=90)
    pod = kubectl.get("pod", "job", namespace) or {}
    assert pod["spec"]["containers"][0]["securityContext"]["privileged"] is True
    assert not launch_events(kubectl, namespace)[0]


def test_a_daemon_service_refused_by_baseline_says_why(kubectl: Kubectl, namespace: str) -> None:
    """A DaemonSet keeps no condition for pods it cannot create, only its Events: the DAEMON
    service says the refusal all the same (the operator reads them while pods are missing)."""
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=baseline")
    started = time.monotonic()
    daemon = {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": "agent"},
        "spec": {"taskDefinition": "priv", "schedulingStrategy": "DAEMON"},
    }
    apply(kubectl, namespace, objects()[0], daemon)

    def refused() -> dict[str, Any] | None:
        said = condition({"status": status(kubectl, "ecsservice", namespace, "agent")}, "Ready") or {}
        return said if said.get("reason") == "PodSecurityRefused" else None

    said = wait_for("the DAEMON service's Ready condition to say the refusal", refused, timeout=60)
    seconds = time.monotonic() - started
    assert said["status"] == "False"
    assert said["message"] == f'tasks cannot be created: pods "agent-…" is forbidden: {REFUSED}'
    events = [e["message"] for e in status(kubectl, "ecsservice", namespace, "agent").get("events") or []]
    refusal = said["message"].removeprefix("tasks cannot be created: ")
    launch = f"(service agent) failed to launch a task with (error {refusal})."
    assert events.count(launch) == 1, events
    # the DaemonSet controller tries again and again: the refusal is said once
    time.sleep(10)
    events = [e["message"] for e in status(kubectl, "ecsservice", namespace, "agent").get("events") or []]
    assert events.count(launch) == 1, events
    print(f"\nDAEMON service refused after {seconds:.1f} s", file=sys.__stderr__)
    assert seconds < 30
