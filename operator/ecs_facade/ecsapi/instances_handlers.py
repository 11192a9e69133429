"""The container instance and attribute actions as Dispatcher handlers: the thin I/O around
ecsapi/instances.py. Container instances are nodes: they are read (nodes list, pods list) and
merge-patched (labels, the tags annotation), never stored elsewhere.

Nodes are cluster-scoped, so a request acts on a cluster's instances only if the request's
namespace sees that ECSCluster (scope.visible_clusters: its namespaceSelector); a write (state,
attributes, tags) to the instances of a cluster other namespaces share as well needs a key
that may act in every namespace (``may_change_shared``), as DeleteCluster needs an owned one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import FIELD_MANAGER
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import instances, scope
from ecs_facade.ecsapi.errors import ApiError, access_denied, cluster_not_found
from ecs_facade.ecsapi.handlers import KubeStore, _kube_errors, request_namespace
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext
from ecs_facade.kube import client as kube


class ClusterReader(Protocol):
    """What deciding a request's cluster reads (cluster_for)."""

    def list_clusters(self) -> list[dict[str, Any]]: ...
    def namespace_labels(self, namespace: str) -> dict[str, str] | None: ...


class InstanceStore(ClusterReader, Protocol):
    """What the instance actions read and write."""

    def list_nodes(self) -> list[dict[str, Any]]: ...
    def list_pods_on(self, node: str) -> list[dict[str, Any]]: ...
    def patch_node(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None: ...


class KubeInstanceStore(KubeStore):
    """The InstanceStore on the operator's kube client (RBAC: nodes list/patch, pods list)."""

    def list_nodes(self) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_nodes()

    def list_pods_on(self, node: str) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_pods_on(node)

    def patch_node(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        """The node after the merge patch; None when it is gone."""
        api = kube.api_client()
        with _kube_errors():
            try:
                node = k8s.CoreV1Api(api).patch_node(name, dict(patch), field_manager=FIELD_MANAGER)
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
        return dict(api.sanitize_for_serialization(node))  # type: ignore[no-untyped-call]


def may_change_shared(context: RequestContext) -> bool:
    """The key may act in every namespace (or the server is anonymous): it may change what
    several namespaces share (a shared cluster's settings, tags and instances)."""
    return context.namespaces is None or scope.ANY_NAMESPACE in context.namespaces


def cluster_for(
    store: ClusterReader, context: RequestContext, config_region: str, ref: Any, write: bool = False
) -> tuple[str, Mapping[str, Any]]:
    """The request's cluster (by name or ARN; none: default) as the request's namespace sees
    it: (its ECS name, the ECSCluster), or ClusterNotFoundException. ``write``: the cluster
    must admit only this namespace, or the key may act in every one (AccessDeniedException)."""
    namespace = request_namespace(context, config_region)
    labels = store.namespace_labels(namespace)
    if labels is None:
        raise access_denied(f"namespace {namespace!r} does not exist (create it with kubectl first)")
    name = instances.cluster_name(ref)
    cluster = scope.visible_clusters(store.list_clusters(), namespace, labels).get(name)
    if cluster is None:
        raise cluster_not_found()
    if write and not scope.owned_by(cluster, namespace) and not may_change_shared(context):
        raise access_denied(
            f"cluster {name!r} is shared with other namespaces (its spec.namespaceSelector admits more than "
            f"{namespace!r}); only a key of every namespace ('*') may change it or its container instances"
        )
    return name, cluster


@dataclass
class InstanceActions:
    """The container instance and attribute handlers, bound to a store and the ARNs."""

    store: InstanceStore
    arns: Arns

    def _nodes(self, context: RequestContext, ref: Any, write: bool = False) -> tuple[str, list[dict[str, Any]]]:
        name, _ = cluster_for(self.store, context, self.arns.region, ref, write)
        return name, [dict(n) for n in instances.cluster_nodes(self.store.list_nodes(), name)]

    def _pods(self, nodes: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return {instances.node_name(n): self.store.list_pods_on(instances.node_name(n)) for n in nodes}

    def list_container_instances(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        cluster, nodes = self._nodes(context, request.get("cluster"))
        expr = instances.parse_filter(str(request["filter"])) if request.get("filter") else None
        pods = self._pods(nodes) if instances.filter_needs_pods(expr) else {}
        return instances.list_container_instances(request, nodes, pods, cluster, self.arns)

    def describe_container_instances(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        cluster, nodes = self._nodes(context, request.get("cluster"))
        found, _ = instances.resolve_instances(request, nodes, cluster, self.arns)
        return instances.describe_container_instances(request, nodes, self._pods(found), cluster, self.arns)

    def update_container_instances_state(
        self, request: Mapping[str, Any], context: RequestContext
    ) -> Mapping[str, Any]:
        patch = instances.state_patch(request)
        cluster, nodes = self._nodes(context, request.get("cluster"), write=True)
        found, failures = instances.resolve_instances(request, nodes, cluster, self.arns)
        updated: list[dict[str, Any]] = []
        for node in found:
            after = self.store.patch_node(instances.node_name(node), patch)
            if after is None:  # deleted meanwhile
                failures.append({"arn": instances.instance_arn(node, cluster, self.arns), "reason": "MISSING"})
            else:
                updated.append(after)
        pods = self._pods(updated)
        return {
            "containerInstances": [instances.describe(n, pods, cluster, self.arns) for n in updated],
            "failures": failures,
        }

    def _attributes(self, request: Mapping[str, Any], context: RequestContext, delete: bool) -> Mapping[str, Any]:
        cluster, nodes = self._nodes(context, request.get("cluster"), write=True)
        patches, answer = instances.attribute_patches(request, nodes, cluster, self.arns, delete)
        for name, labels in patches.items():
            if self.store.patch_node(name, {"metadata": {"labels": labels}}) is None:
                raise ApiError("TargetNotFoundException", f"Could not find container instance {name} (deleted).")
        return answer

    def put_attributes(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        return self._attributes(request, context, delete=False)

    def delete_attributes(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        return self._attributes(request, context, delete=True)

    def list_attributes(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        cluster, nodes = self._nodes(context, request.get("cluster"))
        return instances.list_attributes(request, nodes, cluster, self.arns)

    def register(self, dispatcher: Dispatcher) -> None:
        for action, handler in (
            ("ListContainerInstances", self.list_container_instances),
            ("DescribeContainerInstances", self.describe_container_instances),
            ("UpdateContainerInstancesState", self.update_container_instances_state),
            ("PutAttributes", self.put_attributes),
            ("DeleteAttributes", self.delete_attributes),
            ("ListAttributes", self.list_attributes),
        ):
            dispatcher.register("ecs", action, handler)
