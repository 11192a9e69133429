from typing import Any

import pytest

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import clusters, scope
from ecs_facade.ecsapi.errors import EcsError

ARNS = Arns("us-east-1", "123456789012")


def _cr(name: str, spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSCluster",
        "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": "7"},
        "spec": spec or {},
        "status": status or {},
    }


def test_create_cluster_manifest() -> None:
    request = {
        "clusterName": "Payments_Prod",
        "tags": [{"key": "team", "value": "payments"}],
        "settings": [{"name": "containerInsights", "value": "enabled"}],
        "capacityProviders": ["spot"],
        "defaultCapacityProviderStrategy": [{"capacityProvider": "spot", "weight": 1}],
        "configuration": None,
    }
    manifest = clusters.create_cluster(request, "team-a")
    assert manifest["kind"] == "ECSCluster" and manifest["apiVersion"] == "ecs.facade.dev/v1alpha1"
    assert manifest["metadata"] == {"name": scope.kubernetes_name("Payments_Prod")}
    assert manifest["spec"] == {
        "clusterName": "Payments_Prod",
        "tags": [{"key": "team", "value": "payments"}],
        "settings": [{"name": "containerInsights", "value": "enabled"}],
        "capacityProviders": ["spot"],
        "defaultCapacityProviderStrategy": [{"capacityProvider": "spot", "weight": 1}],
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}},
    }


def test_create_cluster_defaults_to_default_and_refuses_bad_names() -> None:
    assert clusters.create_cluster({}, "team-a")["spec"]["clusterName"] == "default"
    with pytest.raises(EcsError) as caught:
        clusters.create_cluster({"clusterName": "bad name"}, "team-a")
    assert caught.value.name == "InvalidParameterException"


def test_create_of_an_existing_cluster() -> None:
    shared = _cr("shared", status={"status": "ACTIVE"})
    assert clusters.existing_cluster(shared, "team-a", {}, ARNS)["cluster"]["clusterName"] == "shared"
    other = _cr("theirs", {"namespaceSelector": scope.namespace_selector_of("team-b")})
    with pytest.raises(EcsError, match="AccessDeniedException"):
        clusters.existing_cluster(other, "team-a", {}, ARNS)


def test_describe_cluster_fields() -> None:
    cr = _cr(
        "prod-1a2b3c4d",
        {
            "clusterName": "Prod",
            "tags": [{"key": "env", "value": "prod"}],
            "settings": [{"name": "containerInsights", "value": "disabled"}],
            "configuration": {"executeCommandConfiguration": {"logging": "DEFAULT"}},
            "capacityProviders": ["spot"],
        },
        {
            "clusterName": "Prod",
            "status": "ACTIVE",
            "registeredContainerInstancesCount": 3,
            "runningTasksCount": 5,
            "pendingTasksCount": 1,
            "activeServicesCount": 2,
        },
    )
    plain = clusters.describe_cluster(cr, ARNS, ())
    assert plain == {
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/Prod",
        "clusterName": "Prod",
        "status": "ACTIVE",
        "registeredContainerInstancesCount": 3,
        "runningTasksCount": 5,
        "pendingTasksCount": 1,
        "activeServicesCount": 2,
        "statistics": [],
        "tags": [],
        "capacityProviders": ["spot"],
        "defaultCapacityProviderStrategy": [],
    }
    full = clusters.describe_cluster(cr, ARNS, ["TAGS", "SETTINGS", "CONFIGURATIONS", "ATTACHMENTS"])
    assert full["tags"] == [{"key": "env", "value": "prod"}]
    assert full["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    assert full["configuration"] == {"executeCommandConfiguration": {"logging": "DEFAULT"}}
    assert full["attachments"] == []


def test_describe_cluster_before_the_controller_wrote_and_while_deleted() -> None:
    fresh = clusters.describe_cluster(_cr("new"), ARNS, ())
    assert fresh["status"] == "ACTIVE" and fresh["runningTasksCount"] == 0
    going = _cr("old", status={"status": "ACTIVE"})
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert clusters.describe_cluster(going, ARNS, ())["status"] == "DEPROVISIONING"


def test_describe_clusters_failures_are_missing() -> None:
    crs = [_cr("shared"), _cr("theirs", {"namespaceSelector": scope.namespace_selector_of("team-b")})]
    answer = clusters.describe_clusters(
        {"clusters": ["shared", ARNS.cluster("theirs"), "nope"]}, crs, "team-a", {}, ARNS
    )
    assert [c["clusterName"] for c in answer["clusters"]] == ["shared"]
    assert answer["failures"] == [
        {"arn": ARNS.cluster("theirs"), "reason": "MISSING"},
        {"arn": ARNS.cluster("nope"), "reason": "MISSING"},
    ]


def test_describe_clusters_without_names_is_default() -> None:
    answer = clusters.describe_clusters({}, [_cr("default", status={"runningTasksCount": 4})], "team-a", {}, ARNS)
    assert [(c["clusterName"], c["runningTasksCount"]) for c in answer["clusters"]] == [("default", 4)]
    assert answer["failures"] == []


def test_describe_clusters_refuses_other_arns() -> None:
    with pytest.raises(EcsError, match="InvalidParameterException"):
        clusters.describe_clusters({"clusters": [ARNS.service("prod", "web")]}, [], "team-a", {}, ARNS)


def test_list_clusters_pages_the_visible_ones() -> None:
    crs = [_cr(f"c{i}") for i in range(5)] + [
        _cr("theirs", {"namespaceSelector": scope.namespace_selector_of("team-b")})
    ]
    first = clusters.list_clusters({"maxResults": 4}, crs, "team-a", {}, ARNS)
    assert first["clusterArns"] == [ARNS.cluster(n) for n in ["c0", "c1", "c2", "c3"]]
    second = clusters.list_clusters({"nextToken": first["nextToken"]}, crs, "team-a", {}, ARNS)
    assert second == {"clusterArns": [ARNS.cluster("c4"), ARNS.cluster("default")]}


def _own(status: dict[str, Any] | None = None) -> dict[str, Any]:
    return _cr(
        "mine", {"namespaceSelector": scope.namespace_selector_of("team-a")}, {"status": "ACTIVE", **(status or {})}
    )


def test_delete_cluster() -> None:
    name, answer = clusters.delete_cluster({"cluster": ARNS.cluster("mine")}, [_own()], "team-a", {}, ARNS)
    assert name == "mine"
    assert answer["cluster"]["status"] == "INACTIVE" and answer["cluster"]["clusterArn"] == ARNS.cluster("mine")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ({"activeServicesCount": 1, "registeredContainerInstancesCount": 2}, "ClusterContainsServicesException"),
        ({"pendingTasksCount": 1, "registeredContainerInstancesCount": 2}, "ClusterContainsTasksException"),
        ({"registeredContainerInstancesCount": 2}, "ClusterContainsContainerInstancesException"),
    ],
)
def test_delete_cluster_refusals(status: dict[str, Any], error: str) -> None:
    with pytest.raises(EcsError) as caught:
        clusters.delete_cluster({"cluster": "mine"}, [_own(status)], "team-a", {}, ARNS)
    assert caught.value.name == error and "cannot be deleted" in caught.value.message


def test_delete_cluster_fresh_counts_win_over_the_status() -> None:
    with pytest.raises(EcsError, match="ClusterContainsServicesException"):
        clusters.delete_cluster({"cluster": "mine"}, [_own()], "team-a", {}, ARNS, {"activeServicesCount": 1})


def test_delete_cluster_not_found_or_shared() -> None:
    theirs = _cr("theirs", {"namespaceSelector": scope.namespace_selector_of("team-b")})
    with pytest.raises(EcsError) as caught:
        clusters.delete_cluster({"cluster": "theirs"}, [theirs], "team-a", {}, ARNS)
    assert (caught.value.name, caught.value.message) == ("ClusterNotFoundException", "Cluster not found.")
    for shared in ([_cr("default")], []):  # an object without selector, or the implicit default
        with pytest.raises(EcsError, match="AccessDeniedException"):
            clusters.delete_cluster({"cluster": "default"}, shared, "team-a", {}, ARNS)
