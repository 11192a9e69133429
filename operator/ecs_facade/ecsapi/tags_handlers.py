"""TagResource, UntagResource, ListTagsForResource as Dispatcher handlers: find the resource
the ARN names (as the request's namespace sees it), read its tags where they live
(ecsapi/tags.py), write them back with a conditional merge patch (a conflict is retried).

A missing cluster is ClusterNotFoundException; another missing resource is
ResourceNotFoundException for TagResource/UntagResource and InvalidParameterException for
ListTagsForResource (whose model has no ResourceNotFoundException), with the message
"The specified resource could not be found.". Tagging a cluster, or one of its container
instances, that other namespaces share needs a key of every namespace (instances_handlers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import API_VERSION, LABEL_SERVICE, TASKS
from ecs_facade.arns import Arns, ParsedArn
from ecs_facade.ecsapi import instances, services, tags, taskdefinitions
from ecs_facade.ecsapi.errors import ApiError, cluster_not_found, invalid_parameter
from ecs_facade.ecsapi.handlers import Conflict, _kube_errors, request_namespace
from ecs_facade.ecsapi.instances_handlers import KubeInstanceStore, cluster_for
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext
from ecs_facade.kube import client as kube
from ecs_facade.views.service_tasks import task_id as service_task_id

_ATTEMPTS = 3


class TagStore(Protocol):
    """What the tag actions read and write."""

    def list_clusters(self) -> list[dict[str, Any]]: ...
    def namespace_labels(self, namespace: str) -> dict[str, str] | None: ...
    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool: ...
    def list_services(self, namespace: str) -> list[dict[str, Any]]: ...
    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None: ...
    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]: ...
    def patch_task_definition(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None: ...
    def list_tasks(self, namespace: str) -> list[dict[str, Any]]: ...
    def patch_task(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool: ...
    def list_service_pods(self, namespace: str) -> list[dict[str, Any]]: ...
    def patch_pod(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None: ...
    def list_nodes(self) -> list[dict[str, Any]]: ...
    def list_pods_on(self, node: str) -> list[dict[str, Any]]: ...
    def patch_node(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None: ...


class KubeTagStore(KubeInstanceStore):
    """The TagStore on the operator's kube client (RBAC: patch of ECSClusters, ECSServices,
    ECSTaskDefinitions, ECSTasks and nodes, which the operator holds already)."""

    # patch_cluster: KubeStore's (handlers.py; DeleteService's tombstones use it too)

    def list_tasks(self, namespace: str) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_in(API_VERSION, TASKS, namespace)

    def list_service_pods(self, namespace: str) -> list[dict[str, Any]]:
        """The pods of ECSServices in the namespace (service tasks)."""
        api = kube.api_client()
        with _kube_errors():
            pods = k8s.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=LABEL_SERVICE)
        return [dict(api.sanitize_for_serialization(pod)) for pod in pods.items]  # type: ignore[no-untyped-call]

    def patch_pod(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        with _kube_errors():
            kube.patch_pod(namespace, name, patch)

    def patch_task(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool:
        with _kube_errors():
            try:
                kube.merge_patch(API_VERSION, TASKS, namespace, name, patch)
            except ApiException as error:
                if error.status == 404:
                    return False
                raise
        return True


def _not_found(action: str) -> ApiError:
    if action == "ListTagsForResource":
        return invalid_parameter(tags.NOT_FOUND)
    return ApiError("ResourceNotFoundException", tags.NOT_FOUND)


# what a resource's tags are and how to write new ones: (tags, write(new tags) -> written?)
Found = tuple[list[tags.Tag], Callable[[list[tags.Tag]], bool]]


@dataclass
class TagActions:
    store: TagStore
    arns: Arns

    def _find(self, arn: ParsedArn, context: RequestContext, write: bool) -> Found:
        """The resource's current tags and how to write them; raises the not-found errors."""
        store = self.store
        if arn.kind == "cluster":
            _, cluster = cluster_for(store, context, self.arns.region, arn.name, write)
            meta_name = str(cluster["metadata"]["name"])
            return tags.spec_tags(cluster), lambda new: store.patch_cluster(
                meta_name, tags.spec_tags_patch(cluster, new)
            )
        if arn.kind == "container-instance":
            cluster_name, _ = cluster_for(store, context, self.arns.region, arn.cluster, write)
            nodes = instances.cluster_nodes(store.list_nodes(), cluster_name)
            node = instances.find_instance(arn.name, nodes, cluster_name)
            if node is None:
                raise _not_found(context.action)
            node_name = instances.node_name(node)
            return instances.node_tags(
                node
            ), lambda new: store.patch_node(node_name, tags.node_tags_patch(new)) is not None
        namespace = request_namespace(context, self.arns.region)
        if arn.kind == "task-definition":
            found = taskdefinitions.resolve(
                f"{arn.name}:{arn.revision}",
                store.list_task_definitions(namespace),
                store.list_controller_revisions(namespace),
            )
            if found is None:
                raise _not_found(context.action)
            td, revision = found
            current = tags.revision_tags(td, revision.revision, revision.request.get("tags") or [])
            td_name = str(td["metadata"]["name"])

            def write_revision(new: list[tags.Tag]) -> bool:
                store.patch_task_definition(namespace, td_name, tags.revision_tags_patch(td, revision.revision, new))
                return True

            return current, write_revision
        cluster_name, _ = cluster_for(store, context, self.arns.region, arn.cluster)
        if arn.kind == "service":
            service = services.find_service(store.list_services(namespace), cluster_name, arn.name)
            if service is None:
                raise _not_found(context.action)
            service_name = str(service["metadata"]["name"])
            return tags.spec_tags(
                service
            ), lambda new: store.patch_service(namespace, service_name, tags.spec_tags_patch(service, new)) is not None
        task = _standalone_task(store.list_tasks(namespace), cluster_name, arn.name)
        if task is not None:
            task_name = str(task["metadata"]["name"])
            return tags.spec_tags(task), lambda new: store.patch_task(
                namespace, task_name, tags.spec_tags_patch(task, new)
            )
        in_cluster = {
            str(s["metadata"]["name"]) for s in store.list_services(namespace) if services.cluster_of(s) == cluster_name
        }
        pod = _service_task(store.list_service_pods(namespace), in_cluster, arn.name)
        if pod is None:
            raise _not_found(context.action)
        pod_name = str(pod["metadata"]["name"])

        def write_pod(new: list[tags.Tag]) -> bool:
            store.patch_pod(namespace, pod_name, tags.node_tags_patch(new))
            return True

        return instances.node_tags(pod), write_pod

    def _change(
        self, request: Mapping[str, Any], context: RequestContext, change: Callable[[list[tags.Tag]], list[tags.Tag]]
    ) -> Mapping[str, Any]:
        arn = tags.resource(str(request["resourceArn"]))
        for _ in range(_ATTEMPTS):
            current, write = self._find(arn, context, write=True)
            new = change(current)
            if new == current:
                return {}
            try:
                if not write(new):
                    raise cluster_not_found() if arn.kind == "cluster" else _not_found(context.action)
                return {}
            except Conflict:
                continue
        raise ApiError("ClientException", "the resource changed while tagging (concurrent requests); retry")

    def tag_resource(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        return self._change(request, context, lambda current: tags.tagged(current, request.get("tags") or []))

    def untag_resource(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        keys = [str(k) for k in request.get("tagKeys") or []]
        return self._change(request, context, lambda current: tags.untagged(current, keys))

    def list_tags_for_resource(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        arn = tags.resource(str(request["resourceArn"]))
        current, _ = self._find(arn, context, write=False)
        return {"tags": current}

    def register(self, dispatcher: Dispatcher) -> None:
        for action, handler in (
            ("TagResource", self.tag_resource),
            ("UntagResource", self.untag_resource),
            ("ListTagsForResource", self.list_tags_for_resource),
        ):
            dispatcher.register("ecs", action, handler)


def _service_task(
    pods: Sequence[Mapping[str, Any]], services_in_cluster: set[str], task_id: str
) -> Mapping[str, Any] | None:
    """The service task (pod of one of the cluster's services) whose task id is ``task_id``: the
    pod's UID without dashes, or the id of one of its later incarnations (views/service_tasks.py
    ``task_id``; there are at most as many as its containers restarted)."""
    for pod in pods:
        meta = pod.get("metadata") or {}
        if (meta.get("labels") or {}).get(LABEL_SERVICE) not in services_in_cluster or not meta.get("uid"):
            continue
        status = pod.get("status") or {}
        statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
        restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
        if any(service_task_id(str(meta["uid"]), ends) == task_id for ends in range(restarts + 1)):
            return pod
    return None


def _standalone_task(tasks: Sequence[Mapping[str, Any]], cluster: str, task_id: str) -> Mapping[str, Any] | None:
    """The ECSTask whose id (its UID without dashes) is ``task_id``, in ``cluster``."""
    for task in tasks:
        uid = str((task.get("metadata") or {}).get("uid") or "")
        if uid and uid.replace("-", "") == task_id:
            spec_cluster = (task.get("spec") or {}).get("cluster")
            try:
                name = instances.cluster_name(spec_cluster)
            except ApiError:
                name = str(spec_cluster)
            return task if name == cluster else None
    return None
