"""Index entries are slimmed copies: what the controllers ask of them must not change."""

from typing import Any

import pytest

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
