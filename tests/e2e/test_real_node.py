"""Real containers on the real node (hack/real-node.sh): what ECS reports when the processes
themselves exit, not a simulated exit code.

The tasks run in the ECS cluster REAL_CLUSTER, whose only container instance is the real node
(labelled and tainted ``ecs.facade.dev/cluster=real``); its images are the locally built ones
(hack/images/build.sh), never pulled.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import REAL_CLUSTER
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.kube import apply_objects as apply
from tests.e2e.test_task import stopped, task, task_definition

pytestmark = [pytest.mark.e2e, pytest.mark.real_node]


@pytest.fixture(scope="module")
def real_cluster(kubectl: Kubectl, operator: object) -> Iterator[str]:
    """The ECSCluster of the real node (tasks of a named cluster wait until it exists)."""
    cluster = {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSCluster", "metadata": {"name": REAL_CLUSTER}}
    kubectl("apply", "-f", "-", input=json.dumps(cluster))
    yield REAL_CLUSTER
    kubectl("delete", "ecscluster", REAL_CLUSTER, "--ignore-not-found", "--wait=false")


def shell(name: str, image: str, script: str, **fields: Any) -> dict[str, Any]:
    """A container definition that runs ``script`` with the busybox shell."""
    return {"name": name, "image": image, "memory": 32, "entryPoint": ["sh", "-c"], "command": [script], **fields}


def test_essential_container_exit_code_from_a_real_process(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    busybox = real_images["busybox"]
    # a non-essential sidecar that would run for an hour, and stops at SIGTERM
    sidecar = shell("sidecar", busybox, "trap 'exit 0' TERM; sleep 3600 & wait", essential=False)
    td = task_definition("exits", shell("main", busybox, "echo started; sleep 1; exit 3"), sidecar)
    apply(kubectl, namespace, td, task("exits-1", "exits", cluster=real_cluster, startedBy="e2e"))
    result = stopped(kubectl, namespace, "exits-1", timeout=90)
    # the process ran on the real node: the scheduler's and the kubelet's events of its pod
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=exits-1")
    said = {(e["reason"], e["message"]) for e in events["items"]}
    assert ("Scheduled", f"Successfully assigned {namespace}/exits-1 to real-node-0") in said, said
    assert ("Started", "Container started") in said, said
    wait_for("the task's pod gone, so the sidecar stopped", lambda: kubectl.get("pod", "exits-1", namespace) is None)
    assert result["stopCode"] == "EssentialContainerExited", result
    assert result["stoppedReason"] == "Essential container in task exited"
    assert result["exitCode"] == 3
    containers = {c["name"]: c for c in result["containers"]}
    assert (containers["main"]["lastStatus"], containers["main"]["exitCode"]) == ("STOPPED", 3)
    assert containers["sidecar"]["lastStatus"] == "STOPPED"
    assert result["clusterArn"].endswith(f":cluster/{real_cluster}"), result["clusterArn"]


def test_logs_and_exec_reach_a_running_task(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    """What ECS Exec and the awslogs driver give: a task's output and a command run in its container."""
    busybox = real_images["busybox"]
    script = "echo hello-from-the-task; echo ready > /tmp/state; trap 'exit 0' TERM; sleep 3600 & wait"
    apply(
        kubectl,
        namespace,
        task_definition("shell", shell("main", busybox, script)),
        task("shell-1", "shell", cluster=real_cluster, startedBy="e2e"),
    )

    def running() -> bool:
        pod = kubectl.get("pod", "shell-1", namespace) or {}
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return any("running" in (s.get("state") or {}) for s in statuses)

    wait_for("the task's container running on the real node", running)
    wait_for(
        "the task's output in kubectl logs",
        lambda: "hello-from-the-task" in kubectl("logs", "shell-1", "-n", namespace, "-c", "main", check=False),
    )
    written = wait_for(
        "a command run in the container by kubectl exec",
        lambda: kubectl("exec", "shell-1", "-n", namespace, "-c", "main", "--", "cat", "/tmp/state", check=False),
    )
    assert written.strip() == "ready"
    kubectl("delete", "ecstask", "shell-1", "-n", namespace, "--wait=false")
