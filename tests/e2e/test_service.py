"""ECSService on a real API server: Deployment, pods on simulated nodes, counts, GC, bad input."""

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.kube import Kubectl, apply_objects, condition, wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def running_pods(kubectl: Kubectl, namespace: str, service: str) -> list[dict[str, Any]]:
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", f"ecs.facade.dev/service={service}")["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def service_status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    return (kubectl.get("ecsservice", name, namespace) or {}).get("status") or {}


def test_service_runs_desired_count_and_is_garbage_collected(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "web/taskdefinition.yaml"))
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "web/service.yaml"))
    service = kubectl.get("ecsservice", "web", namespace)
    assert service is not None and service["spec"]["desiredCount"] == 3

    deployment = wait_for("the Deployment", lambda: kubectl.get("deployment", "web", namespace))
    (owner,) = deployment["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("ECSService", "web", service["metadata"]["uid"])
    assert owner["controller"] is True
    assert deployment["spec"]["replicas"] == 3
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"memory": "512Mi"},
    }

    def three_running() -> list[dict[str, Any]] | None:
        pods = running_pods(kubectl, namespace, "web")
        return pods if len(pods) == 3 else None

    pods = wait_for("3 Running pods", three_running)
    nodes = {n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"]}
    assert all(p["spec"]["nodeName"] in nodes for p in pods)

    status = wait_for(
        "runningCount == 3 and Ready",
        lambda: (
            (s := service_status(kubectl, namespace, "web")).get("runningCount") == 3
            and (condition({"status": s}, "Ready") or {}).get("status") == "True"
            and s
        ),
    )
    assert (status["desiredCount"], status["pendingCount"]) == (3, 0)
    ready = condition({"status": status}, "Ready")
    assert ready is not None
    assert ready["reason"] == "SteadyState"
    assert ready["observedGeneration"] == service["metadata"]["generation"]
    assert status["observedGeneration"] == service["metadata"]["generation"]

    kubectl("delete", "ecsservice", "web", "-n", namespace)
    wait_for("the Deployment to be garbage-collected", lambda: kubectl.get("deployment", "web", namespace) is None)
    wait_for(
        "the pods to be gone",
        lambda: not kubectl.json("get", "pods", "-n", namespace, "-l", "ecs.facade.dev/service=web")["items"],
    )


def test_missing_task_definition_is_reported_and_recovers(kubectl: Kubectl, namespace: str) -> None:
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input="""
apiVersion: ecs.facade.dev/v1alpha1
kind: ECSService
metadata: {name: api}
spec: {taskDefinition: "api:1", desiredCount: 2}
""",
    )
    ready = wait_for(
        "Ready=False TaskDefinitionNotFound",
        lambda: (
            (c := condition(kubectl.get("ecsservice", "api", namespace), "Ready"))
            and c["reason"] == "TaskDefinitionNotFound"
            and c
        ),
    )
    assert ready["status"] == "False"
    assert "'api:1'" in ready["message"]
    assert kubectl.get("deployment", "api", namespace) is None

    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input="""
apiVersion: ecs.facade.dev/v1alpha1
kind: ECSTaskDefinition
metadata: {name: api}
spec:
  containerDefinitions:
  - {name: api, image: "example/api:1", memory: 256}
""",
    )
    wait_for(
        "recovery to Ready=True with 2 running",
        lambda: (
            (s := service_status(kubectl, namespace, "api")).get("runningCount") == 2
            and (condition({"status": s}, "Ready") or {}).get("status") == "True"
        ),
    )


def test_untranslatable_task_definition_is_reported_on_both(kubectl: Kubectl, namespace: str) -> None:
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input="""
apiVersion: ecs.facade.dev/v1alpha1
kind: ECSTaskDefinition
metadata: {name: twins}
spec:
  containerDefinitions:
  - {name: app_a, image: "example/a:1", memory: 64}
  - {name: APP-A, image: "example/b:1", memory: 64}
---
apiVersion: ecs.facade.dev/v1alpha1
kind: ECSService
metadata: {name: twins}
spec: {taskDefinition: twins, desiredCount: 1}
""",
    )
    ready = wait_for(
        "Ready=False InvalidTaskDefinition",
        lambda: (
            (c := condition(kubectl.get("ecsservice", "twins", namespace), "Ready"))
            and c["reason"] == "InvalidTaskDefinition"
            and c
        ),
    )
    assert "collide" in ready["message"]
    assert kubectl.get("deployment", "twins", namespace) is None
    td = condition(kubectl.get("ecstaskdefinition", "twins", namespace), "Ready")
    assert td is not None and (td["status"], td["reason"]) == ("False", "InvalidSpec")
    assert "collide" in td["message"]


def test_scale_subresource_and_hand_deleted_deployment(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "web/taskdefinition.yaml"))
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "web/service.yaml"))
    wait_for("the Deployment", lambda: kubectl.get("deployment", "web", namespace))

    kubectl("scale", "ecsservice", "web", "-n", namespace, "--replicas=5")
    wait_for("5 running", lambda: service_status(kubectl, namespace, "web").get("runningCount") == 5)
    assert kubectl.get("deployment", "web", namespace)["spec"]["replicas"] == 5  # type: ignore[index]

    uid = kubectl.get("deployment", "web", namespace)["metadata"]["uid"]  # type: ignore[index]
    kubectl("delete", "deployment", "web", "-n", namespace)
    recreated = wait_for(
        "the Deployment to be put back",
        lambda: (d := kubectl.get("deployment", "web", namespace)) and d["metadata"]["uid"] != uid and d,
    )
    assert recreated["spec"]["replicas"] == 5


def test_hand_deleted_disruption_budget_is_put_back(
    kubectl: Kubectl, namespace: str, operator_settings: Callable[..., None]
) -> None:
    """A service's PodDisruptionBudget deleted by hand is applied again by the periodic check
    (controllers/service/children.py; no watch tells of it), the workload left alone: without
    the check it stayed gone until the service's next spec change, and `kubectl drain` could
    take every task at once meanwhile."""
    operator_settings(children_check_seconds=1.0)
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "web/taskdefinition.yaml"))
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "web/service.yaml"))
    budget = wait_for("the budget", lambda: kubectl.get("poddisruptionbudget", "web", namespace))
    deployment = wait_for("the Deployment", lambda: kubectl.get("deployment", "web", namespace))
    wait_for("3 running", lambda: service_status(kubectl, namespace, "web").get("runningCount") == 3)

    kubectl("delete", "poddisruptionbudget", "web", "-n", namespace)
    began = time.monotonic()

    def put_back() -> dict[str, Any] | None:
        found = kubectl.get("poddisruptionbudget", "web", namespace)
        return found if found and found["metadata"]["uid"] != budget["metadata"]["uid"] else None

    back = wait_for("the budget to be put back", put_back, timeout=30)
    took = time.monotonic() - began
    logging.getLogger(__name__).info("a deleted budget was put back %.1f s after its deletion", took)
    assert back["spec"] == budget["spec"]
    assert back["metadata"]["ownerReferences"] == budget["metadata"]["ownerReferences"]
    after = kubectl.get("deployment", "web", namespace)
    assert after is not None and after["metadata"]["uid"] == deployment["metadata"]["uid"]


def test_a_workload_created_with_a_post_drops_what_a_later_spec_leaves_out(kubectl: Kubectl, namespace: str) -> None:
    """A new Deployment is created with a POST (its fields owned by an Update); the first
    change makes them the operator's applied ones, so a tag dropped from the service leaves
    the pod template instead of staying behind."""
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "web/taskdefinition.yaml"))
    service = {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": "web"},
        "spec": {
            "taskDefinition": "web",
            "desiredCount": 1,
            "propagateTags": "SERVICE",
            "tags": [{"key": "team", "value": "blue"}],
        },
    }
    apply_objects(kubectl, namespace, service)

    def deployment() -> dict[str, Any]:
        return kubectl.json("get", "deployment", "web", "-n", namespace, "--show-managed-fields")  # type: ignore[no-any-return]

    created = wait_for("the Deployment", lambda: kubectl.get("deployment", "web", namespace)) and deployment()
    owners = {(e["manager"], e["operation"]) for e in created["metadata"]["managedFields"] if not e.get("subresource")}
    assert ("ecs-facade", "Update") in owners and ("ecs-facade", "Apply") not in owners
    assert "team" in created["spec"]["template"]["metadata"]["annotations"]["ecs.facade.dev/tags"]

    kubectl("patch", "ecsservice", "web", "-n", namespace, "--type=json", "-p", '[{"op":"remove","path":"/spec/tags"}]')

    def without_tags() -> dict[str, Any] | None:
        d = deployment()
        return None if "ecs.facade.dev/tags" in (d["spec"]["template"]["metadata"].get("annotations") or {}) else d

    changed = wait_for("the tags to leave the pod template", without_tags)
    owners = {(e["manager"], e["operation"]) for e in changed["metadata"]["managedFields"] if not e.get("subresource")}
    assert ("ecs-facade", "Apply") in owners and ("ecs-facade", "Update") not in owners
    assert changed["spec"]["replicas"] == 1 and changed["metadata"]["uid"] == created["metadata"]["uid"]
