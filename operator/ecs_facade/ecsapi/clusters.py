"""CreateCluster, DescribeClusters, ListClusters, DeleteCluster: pure halves.

Requests (ECS camelCase, already validated against the model) become ECSCluster manifests or
the name to delete; ECSCluster objects, as the API server returns them, become ECS
``Cluster`` shapes. The ECSCluster controller keeps the counts in its status."""

from collections.abc import Mapping, Sequence
from typing import Any

from ecs_facade import arns as ecs_arns
from ecs_facade.api import API_VERSION, DEFAULT_CLUSTER, KIND_CLUSTER
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import scope
from ecs_facade.ecsapi.errors import EcsError, access_denied, cluster_not_found, invalid_parameter
from ecs_facade.ecsapi.pagination import paged_answer

# CreateCluster members the ECSCluster spec takes as they are
_CREATE_FIELDS = (
    "tags",
    "settings",
    "configuration",
    "capacityProviders",
    "defaultCapacityProviderStrategy",
    "serviceConnectDefaults",
)
_COUNTS = ("registeredContainerInstancesCount", "runningTasksCount", "pendingTasksCount", "activeServicesCount")


def _name(ref: str | None) -> str:
    try:
        return ecs_arns.cluster_name(ref, DEFAULT_CLUSTER)
    except ValueError as error:
        raise invalid_parameter(str(error)) from None


def create_cluster(request: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """The ECSCluster to create. It admits only the requesting namespace (scope.owned_by), so
    a team's cluster is neither seen nor used by other namespaces. If a cluster of that name
    exists already, the caller answers with ``existing_cluster`` instead (CreateCluster is
    idempotent in ECS: it returns the cluster)."""
    name = _name(request.get("clusterName"))
    spec: dict[str, Any] = {"clusterName": name}
    spec.update({key: request[key] for key in _CREATE_FIELDS if request.get(key) is not None})
    spec["namespaceSelector"] = scope.namespace_selector_of(namespace)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_CLUSTER,
        "metadata": {"name": scope.kubernetes_name(name)},
        "spec": spec,
    }


def existing_cluster(
    cluster: Mapping[str, Any], namespace: str, namespace_labels: Mapping[str, str], arns: Arns
) -> dict[str, Any]:
    """CreateCluster of a name that exists: the cluster, if the namespace sees it."""
    if not scope.cluster_admits(cluster, namespace, namespace_labels):
        raise access_denied(
            f"cluster {scope.cluster_name_of(cluster)!r} exists and does not admit namespace {namespace!r} "
            "(its spec.namespaceSelector)"
        )
    return {"cluster": describe_cluster(cluster, arns, ())}


def describe_cluster(cluster: Mapping[str, Any], arns: Arns, include: Sequence[str]) -> dict[str, Any]:
    """The ECS ``Cluster`` of an ECSCluster. Counts come from the controller's status (0
    until it first writes); the ``include`` sections as DescribeClusters gives them."""
    spec = cluster.get("spec") or {}
    status = cluster.get("status") or {}
    name = scope.cluster_name_of(cluster)
    deleting = bool((cluster.get("metadata") or {}).get("deletionTimestamp"))
    described: dict[str, Any] = {
        "clusterArn": arns.cluster(name),
        "clusterName": name,
        "status": "DEPROVISIONING" if deleting else str(status.get("status") or "ACTIVE"),
        **{key: int(status.get(key) or 0) for key in _COUNTS},
        "statistics": [],
        "tags": [],
        "capacityProviders": list(spec.get("capacityProviders") or []),
        "defaultCapacityProviderStrategy": list(spec.get("defaultCapacityProviderStrategy") or []),
    }
    if spec.get("serviceConnectDefaults"):
        described["serviceConnectDefaults"] = dict(spec["serviceConnectDefaults"])
    if "TAGS" in include:
        described["tags"] = list(spec.get("tags") or [])
    if "SETTINGS" in include:
        described["settings"] = list(spec.get("settings") or [])
    if "CONFIGURATIONS" in include and spec.get("configuration"):
        described["configuration"] = dict(spec["configuration"])
    if "ATTACHMENTS" in include:
        described["attachments"] = []
    return described


def describe_clusters(
    request: Mapping[str, Any],
    clusters: Sequence[Mapping[str, Any]],
    namespace: str,
    namespace_labels: Mapping[str, str],
    arns: Arns,
) -> dict[str, Any]:
    """DescribeClusters over every ECSCluster: those the namespace does not see are
    ``MISSING``, as unknown names are in ECS (no cluster given: ``default``)."""
    visible = scope.visible_clusters(clusters, namespace, namespace_labels)
    include = list(request.get("include") or [])
    found: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for ref in request.get("clusters") or [DEFAULT_CLUSTER]:
        name = _name(ref)
        if name in visible:
            found.append(describe_cluster(visible[name], arns, include))
        else:
            failures.append({"arn": arns.cluster(name), "reason": "MISSING"})
    return {"clusters": found, "failures": failures}


def list_clusters(
    request: Mapping[str, Any],
    clusters: Sequence[Mapping[str, Any]],
    namespace: str,
    namespace_labels: Mapping[str, str],
    arns: Arns,
) -> dict[str, Any]:
    """ListClusters: the ARNs of the clusters the namespace sees, by name."""
    names = sorted(scope.visible_clusters(clusters, namespace, namespace_labels))
    return paged_answer(request, names, lambda name: (name,), arns.cluster, action="ListClusters", member="clusterArns")


def delete_cluster(
    request: Mapping[str, Any],
    clusters: Sequence[Mapping[str, Any]],
    namespace: str,
    namespace_labels: Mapping[str, str],
    arns: Arns,
    counts: Mapping[str, int] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The ECSCluster to delete (its metadata.name) and the answer, or the ECS error.

    ``counts``: the cluster's current services, tasks and instances
    (``activeServicesCount``, ``runningTasksCount`` + ``pendingTasksCount``,
    ``registeredContainerInstancesCount``), if the caller counted them afresh; else the
    controller's status. The ECSCluster's finalizer refuses the same (controllers/cluster.py),
    so a service created between the count and the delete still keeps the cluster alive.
    """
    name = _name(request.get("cluster"))
    visible = scope.visible_clusters(clusters, namespace, namespace_labels)
    cluster = visible.get(name)
    if cluster is None:
        raise cluster_not_found()
    if not scope.owned_by(cluster, namespace):
        raise access_denied(
            f"cluster {name!r} is shared by other namespaces (its spec.namespaceSelector admits more than "
            f"{namespace!r}); delete it with kubectl"
        )
    status = {**(cluster.get("status") or {}), **(counts or {})}
    if int(status.get("activeServicesCount") or 0):
        raise EcsError("ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active.")
    if int(status.get("runningTasksCount") or 0) + int(status.get("pendingTasksCount") or 0):
        raise EcsError("ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active.")
    if int(status.get("registeredContainerInstancesCount") or 0):
        raise EcsError(
            "ClusterContainsContainerInstancesException",
            "The Cluster cannot be deleted while Container Instances are active.",
        )
    described = describe_cluster(cluster, arns, ())
    described["status"] = "INACTIVE"
    return str(cluster["metadata"]["name"]), {"cluster": described}
