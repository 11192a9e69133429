"""UpdateCluster, UpdateClusterSettings and DeleteTaskDefinitions as Dispatcher handlers: the
thin I/O around ecsapi/updates.py (conditional merge patches; a conflict is retried twice)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import clusters, updates
from ecs_facade.ecsapi.errors import ApiError, cluster_not_found
from ecs_facade.ecsapi.handlers import Conflict, request_namespace
from ecs_facade.ecsapi.instances_handlers import cluster_for
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext

_ATTEMPTS = 3


class UpdateStore(Protocol):
    def list_clusters(self) -> list[dict[str, Any]]: ...
    def namespace_labels(self, namespace: str) -> dict[str, str] | None: ...
    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool: ...
    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]: ...
    def patch_task_definition(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None: ...


@dataclass
class UpdateActions:
    """The handlers; KubeTagStore (tags_handlers.py) is their Store on the kube client."""

    store: UpdateStore
    arns: Arns

    def update_cluster(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        """The cluster a namespace owns (or, with a key of every namespace, a shared one)."""
        for _ in range(_ATTEMPTS):
            _, cluster = cluster_for(self.store, context, self.arns.region, request.get("cluster"), write=True)
            patch = updates.update_cluster_patch(cluster, request)
            meta_name = str(cluster["metadata"]["name"])
            if patch is not None:
                try:
                    if not self.store.patch_cluster(meta_name, patch):
                        raise cluster_not_found()
                except Conflict:
                    continue
            now = next((c for c in self.store.list_clusters() if c["metadata"]["name"] == meta_name), None)
            if now is None:
                raise cluster_not_found()
            return {"cluster": clusters.describe_cluster(now, self.arns, ("SETTINGS", "CONFIGURATIONS"))}
        raise ApiError("ClientException", "the cluster changed while updating (concurrent requests); retry")

    def delete_task_definitions(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace = request_namespace(context, self.arns.region)
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for _ in range(_ATTEMPTS):
            objects = self.store.list_task_definitions(namespace)
            revisions = self.store.list_controller_revisions(namespace)
            patches, answer = updates.delete_task_definitions(request, objects, revisions, self.arns, now)
            try:
                for name, patch in patches.items():
                    self.store.patch_task_definition(namespace, name, patch)
            except Conflict:
                continue  # the patches already written are in the object read again: asked again, answered alike
            return answer
        raise ApiError("ClientException", "the family changed while deleting (concurrent requests); retry")

    def register(self, dispatcher: Dispatcher) -> None:
        for action, handler in (
            ("UpdateCluster", self.update_cluster),
            ("UpdateClusterSettings", self.update_cluster),
            ("DeleteTaskDefinitions", self.delete_task_definitions),
        ):
            dispatcher.register("ecs", action, handler)
