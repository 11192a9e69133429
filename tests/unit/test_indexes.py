"""Index entries are slimmed copies: what the controllers ask of them must not change."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, cast

import pytest

from ecs_facade.controllers import indexes
from ecs_facade.controllers import service as controller
from ecs_facade.controllers.indexes import slim_workload
from ecs_facade.views.service import rollout_readiness, service_counts


def deployment(*managers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "uid": "u1",
            "generation": 3,
            "labels": {"ecs.facade.dev/service": "web"},
            "annotations": {"ecs.facade.dev/applied-digest": "abc"},
            "ownerReferences": [{"uid": "s1", "kind": "ECSService", "name": "web"}],
            "managedFields": list(managers),
        },
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"ecs.facade.dev/service": "web"}},
            "template": {
                "metadata": {"labels": {"a": "b"}, "annotations": {"ecs.facade.dev/force-new-deployment": "x"}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
        },
        "status": {"observedGeneration": 3, "replicas": 4, "readyReplicas": 3, "updatedReplicas": 4},
    }


def entry(manager: str, fields: dict[str, Any], operation: str = "Apply", subresource: str | None = None) -> Any:
    found = {"manager": manager, "operation": operation, "fieldsV1": fields}
    return {**found, "subresource": subresource} if subresource else found


CASES = [
    [entry("ecs-facade", {"f:spec": {"f:replicas": {}, "f:template": {}}})],
    [
        entry("ecs-facade", {"f:spec": {"f:template": {}}}),
        entry("kubectl-edit", {"f:spec": {"f:replicas": {}}}, "Update"),
    ],
    [entry("ecs-facade", {"f:spec": {}}), entry("kube-controller-manager", {"f:status": {}}, "Update", "status")],
    [entry("kube-controller-manager", {"f:spec": {"f:replicas": {}}}, "Update", "scale")],
    [entry("someone", {}, "Update", "scale")],
    [entry("ecs-facade-replicas-handover", {"f:spec": {"f:replicas": {}}}), entry("ecs-facade", {"f:metadata": {}})],
]


@pytest.mark.parametrize("managers", CASES)
def test_a_slim_workload_answers_like_the_full_one(managers: list[dict[str, Any]]) -> None:
    full = deployment(*managers)
    slim = slim_workload(full)
    assert controller._edited_by_others(slim) == controller._edited_by_others(full)
    for manager in ("ecs-facade", "ecs-facade-replicas-handover"):
        assert controller.owns_replicas(slim, manager) == controller.owns_replicas(full, manager)
    assert service_counts(4, slim) == service_counts(4, full)
    assert rollout_readiness("web", service_counts(4, full), slim) == rollout_readiness(
        "web", service_counts(4, full), full
    )
    assert slim["spec"]["template"]["metadata"] == full["spec"]["template"]["metadata"]
    assert slim["metadata"]["annotations"] == full["metadata"]["annotations"]
    assert "spec" not in slim["spec"]["template"]


def test_a_daemon_set_has_no_count() -> None:
    daemon = deployment()
    daemon["kind"] = "DaemonSet"
    del daemon["spec"]["replicas"]
    assert "replicas" not in slim_workload(daemon)["spec"]


def test_the_slim_copy_is_a_copy() -> None:
    full = deployment(entry("ecs-facade", {"f:spec": {}}))
    slim = slim_workload(full)
    full["metadata"]["annotations"]["x"] = "y"
    full["status"]["readyReplicas"] = 0
    assert "x" not in slim["metadata"]["annotations"] and slim["status"]["readyReplicas"] == 3


def pod(labels: dict[str, str], node: str | None = "n1", phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p1", "namespace": "ns", "uid": "pu1", "labels": labels},
        "spec": {
            **({"nodeName": node} if node else {}),
            "containers": [{"name": "app", "image": "app:1", "resources": {"requests": {"cpu": "250m"}}}],
        },
        "status": {"phase": phase, "containerStatuses": [{"name": "app", "restartCount": 2}]},
    }


index_pods = cast(Callable[..., Coroutine[Any, Any, dict[Any, Any] | None]], indexes.pods)  # as kopf calls it


def pods_index(*bodies: dict[str, Any]) -> dict[Any, list[Any]]:
    """What kopf makes of the index function's results: key -> values of every object."""
    index: dict[Any, list[Any]] = {}
    for body in bodies:
        labels = body["metadata"]["labels"]
        keys = asyncio.run(index_pods(namespace="ns", body=body, labels=labels)) or {}
        for key, value in keys.items():
            index.setdefault(key, []).append(value)
    return index


def test_one_pod_index_answers_each_view_under_its_old_keys() -> None:
    service_pod = pod({"ecs.facade.dev/service": "web", "pod-template-hash": "h1"})
    task_pod = pod({"ecs.facade.dev/task": "job"}, node=None, phase="Pending")
    other = pod({"app": "x"}, node="n2")
    views = indexes.Indexes.from_kwargs(
        {name: {} for name in indexes.Indexes.__dataclass_fields__} | {"pods": pods_index(service_pod, task_pod, other)}
    )
    [task] = views.tasks[("ns", "web")]
    assert (task.name, task.template_hash, task.phase, task.restarts, task.node) == ("p1", "h1", "Running", 2, "n1")
    assert [p["spec"]["nodeName"] for p in indexes.values_at(views.pods_by_node, "n1")] == ["n1"]
    assert indexes.values_at(views.pods_by_node, "n2")[0]["metadata"]["labels"] == {"app": "x"}
    assert indexes.one(views.task_pods, ("ns", "job")) == task_pod  # the whole pod: the task view reads it all
    # a pod that is not bound yet is on no node; one without our labels is no task
    assert sorted(views.pods_by_node) == ["n1", "n2"]
    assert list(views.tasks) == [("ns", "web")] and list(views.task_pods) == [("ns", "job")]
    assert ("ns", "web") in views.tasks and ("ns", "other") not in views.tasks
    assert views.tasks.get(("ns", "other"), []) == []


def test_a_pod_of_no_view_is_not_indexed() -> None:
    assert asyncio.run(index_pods(namespace="ns", body=pod({}, node=None), labels={})) is None
