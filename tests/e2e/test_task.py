"""ECSTask on a real API server: essential exits, sidecars, StopTask, overrides, retention."""

import json
import os
import time
from typing import Any

import pytest

from tests.e2e.kube import Kubectl, condition, wait_for
from tests.e2e.kube import apply_objects as apply

pytestmark = pytest.mark.e2e


def task_definition(name: str, *containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTaskDefinition",
        "metadata": {"name": name},
        "spec": {"containerDefinitions": list(containers)},
    }


def task(name: str, task_definition: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTask",
        "metadata": {"name": name},
        "spec": {"taskDefinition": task_definition, **spec},
    }


def exiting(name: str, code: int, after_ms: int = 1000, **fields: Any) -> dict[str, Any]:
    labels = {"ecs.facade.dev/simulate-exit-code": str(code), "ecs.facade.dev/simulate-exit-after-ms": str(after_ms)}
    return {"name": name, "image": "example/job:1", "memory": 64, "dockerLabels": labels, **fields}


def status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    return (kubectl.get("ecstask", name, namespace) or {}).get("status") or {}


def stopped(kubectl: Kubectl, namespace: str, name: str, timeout: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        s = status(kubectl, namespace, name)
        return s if s.get("lastStatus") == "STOPPED" else None

    result: dict[str, Any] = wait_for(f"task {name} STOPPED", check, timeout=timeout)
    return result


@pytest.mark.parametrize("code", [0, 3])
def test_essential_container_exit_stops_the_task_with_its_code(kubectl: Kubectl, namespace: str, code: int) -> None:
    apply(
        kubectl, namespace, task_definition("job", exiting("main", code)), task(f"job-{code}", "job", startedBy="e2e")
    )
    result = stopped(kubectl, namespace, f"job-{code}")
    assert result["stopCode"] == "EssentialContainerExited"
    assert result["stoppedReason"] == "Essential container in task exited"
    assert result["exitCode"] == code
    assert result["containers"][0]["exitCode"] == code
    assert result["taskDefinitionArn"].endswith("task-definition/job:1")
    assert result["taskArn"].startswith("arn:aws:ecs:us-east-1:000000000000:task/default/")
    assert result["group"] == "family:job"
    assert result["startedAt"] and result["stoppedAt"]
    row = kubectl("get", "ecstask", f"job-{code}", "-n", namespace, "--no-headers").split()
    assert row[2:5] == ["STOPPED", str(code), "e2e"], row


def test_non_essential_sidecar_exit_keeps_the_task_running(kubectl: Kubectl, namespace: str) -> None:
    main = exiting("main", 0, after_ms=8000)
    sidecar = {"name": "helper", "image": "example/helper:1", "memory": 64, "essential": False}
    td = task_definition("pair", main, sidecar)
    apply(kubectl, namespace, td, task("pair-1", "pair"))
    wait_for("RUNNING", lambda: status(kubectl, namespace, "pair-1").get("lastStatus") == "RUNNING")
    result = stopped(kubectl, namespace, "pair-1")
    assert result["stopCode"] == "EssentialContainerExited"
    assert {c["name"]: c["lastStatus"] for c in result["containers"]} == {"helper": "STOPPED", "main": "STOPPED"}
    wait_for("the pod gone, so the sidecar stopped", lambda: kubectl.get("pod", "pair-1", namespace) is None)


def test_non_essential_sidecar_that_exits_early_does_not_stop_the_task(kubectl: Kubectl, namespace: str) -> None:
    main = {
        "name": "main",
        "image": "example/app:1",
        "memory": 64,
        "dockerLabels": {
            "ecs.facade.dev/simulate-exit-code": "1",
            "ecs.facade.dev/simulate-exit-container": "helper",
            "ecs.facade.dev/simulate-exit-after-ms": "500",
        },
    }
    helper = {"name": "helper", "image": "example/helper:1", "memory": 64, "essential": False}
    apply(kubectl, namespace, task_definition("early", main, helper), task("early-1", "early"))

    def helper_stopped() -> dict[str, Any] | None:
        s = status(kubectl, namespace, "early-1")
        containers = {c["name"]: c for c in s.get("containers", [])}
        return s if containers.get("helper", {}).get("lastStatus") == "STOPPED" else None

    result = wait_for("the sidecar to exit", helper_stopped)
    assert result["lastStatus"] == "RUNNING"
    assert {c["name"]: c.get("exitCode") for c in result["containers"]}["helper"] == 1
    time.sleep(3)
    assert status(kubectl, namespace, "early-1")["lastStatus"] == "RUNNING"
    assert kubectl.get("pod", "early-1", namespace) is not None


def test_stop_task_is_user_initiated_with_the_reason(kubectl: Kubectl, namespace: str) -> None:
    apply(
        kubectl,
        namespace,
        task_definition("server", {"name": "web", "image": "nginx:1.27", "memory": 64}),
        task("srv", "server"),
    )
    wait_for("RUNNING", lambda: status(kubectl, namespace, "srv").get("lastStatus") == "RUNNING")
    kubectl(
        "patch",
        "ecstask",
        "srv",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"desiredStatus": "STOPPED", "reason": "maintenance window"}}),
    )
    result = stopped(kubectl, namespace, "srv")
    assert (result["stopCode"], result["stoppedReason"]) == ("UserInitiated", "maintenance window")
    refused = kubectl.run(
        "patch",
        "ecstask",
        "srv",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"desiredStatus": "RUNNING"}}),
    )
    assert refused.returncode != 0 and "cannot be started again" in refused.stderr


def test_overrides_reach_the_pod_and_unknown_containers_are_invalid(kubectl: Kubectl, namespace: str) -> None:
    base = {
        "name": "app",
        "image": "example/app:1",
        "memory": 64,
        "command": ["serve"],
        "environment": [{"name": "MODE", "value": "web"}],
    }
    overrides = {
        "containerOverrides": [
            {"name": "app", "command": ["migrate"], "environment": [{"name": "MODE", "value": "batch"}]}
        ]
    }
    apply(kubectl, namespace, task_definition("over", base), task("over-1", "over", overrides=overrides))
    pod = wait_for("the pod", lambda: kubectl.get("pod", "over-1", namespace))
    container = pod["spec"]["containers"][0]
    assert container["args"] == ["migrate"]
    assert container["env"] == [{"name": "MODE", "value": "batch"}]

    apply(
        kubectl,
        namespace,
        task("over-2", "over", overrides={"containerOverrides": [{"name": "ghost", "command": ["x"]}]}),
    )

    def invalid() -> dict[str, Any] | None:
        ready = condition(kubectl.get("ecstask", "over-2", namespace), "Ready") or {}
        return ready if ready.get("reason") == "InvalidSpec" else None

    ready = wait_for("InvalidSpec", invalid)
    assert "'ghost' is not a container" in ready["message"]
    assert kubectl.get("pod", "over-2", namespace) is None


def test_stopped_tasks_are_removed_after_the_retention_time(kubectl: Kubectl, namespace: str) -> None:
    assert os.environ.get("ECS_FACADE_STOPPED_TASK_RETENTION_SECONDS") == "15"
    apply(kubectl, namespace, task_definition("short", exiting("main", 0)), task("short-1", "short"))
    stopped(kubectl, namespace, "short-1")
    assert kubectl.get("ecstask", "short-1", namespace) is not None  # still describable
    wait_for("the task removed", lambda: kubectl.get("ecstask", "short-1", namespace) is None, timeout=60)


def test_run_task_cli_waits_and_fails_when_an_essential_container_failed(kubectl: Kubectl, namespace: str) -> None:
    import subprocess
    import sys

    apply(
        kubectl,
        namespace,
        task_definition("cli-ok", exiting("main", 0)),
        task_definition("cli-bad", exiting("main", 3)),
    )
    wait_for(
        "revisions",
        lambda: all(
            (kubectl.get("ecstaskdefinition", n, namespace) or {}).get("status", {}).get("revision") == 1
            for n in ("cli-ok", "cli-bad")
        ),
    )
    command = [
        sys.executable,
        "-m",
        "ecs_facade",
        "run-task",
        "-n",
        namespace,
        "--count",
        "2",
        "--wait",
        "--timeout",
        "90",
    ]
    # the user's credentials (the operator's, in this process, may not create tasks)
    env = {**os.environ, "KUBECONFIG": kubectl.kubeconfig}
    good = subprocess.run(
        [*command, "--task-definition", "cli-ok:1"], capture_output=True, text=True, timeout=120, env=env
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.count("STOPPED exitCode=0 stopCode=EssentialContainerExited") == 2
    bad = subprocess.run(
        [*command, "--task-definition", "cli-bad", "--count", "1"], capture_output=True, text=True, timeout=120, env=env
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "exitCode=3" in bad.stdout
