"""The cluster and task definition actions as Dispatcher handlers: the thin I/O layer around
the pure halves (clusters.py, taskdefinitions.py).

Each handler decides the request's namespace first (scope.request_namespace from the key's
namespaces and the signing region; ``context.require_namespace``), then reads the custom
resources through a ``Store`` and writes them back. The Store is the only I/O: ``KubeStore``
uses the operator's kube client; tests pass a fake one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import API_VERSION, CLUSTERS, SERVICES, TASK_DEFINITIONS
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import clusters, inactive, scope, services, taskdefinitions
from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext
from ecs_facade.kube import client as kube

# where an anonymous request (local use: every namespace allowed) acts when its region is an AWS region
ANONYMOUS_HOME = "default"
_CONFLICT_ATTEMPTS = 3


class Conflict(Exception):
    """The object changed between our read and our conditional write (HTTP 409)."""


class Store(Protocol):
    """The custom resources the actions read and write."""

    def list_clusters(self) -> list[dict[str, Any]]: ...
    def namespace_labels(self, namespace: str) -> dict[str, str] | None: ...
    def create_cluster(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None: ...
    def delete_cluster(self, name: str) -> None: ...
    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool: ...
    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]: ...
    def get_task_definition(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def write_task_definition(self, manifest: Mapping[str, Any], exists: bool) -> dict[str, Any]: ...
    def patch_task_definition(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None: ...
    def list_services(self, namespace: str) -> list[dict[str, Any]]: ...
    def create_service(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None: ...
    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None: ...
    def delete_service(self, namespace: str, name: str) -> None: ...


@contextlib.contextmanager
def _kube_errors() -> Iterator[None]:
    """The API server's refusals as the answers a client can act on: 409 (changed since read)
    is retried by the handler; 422 (the CRD's schema refuses what the ECS model allows) is the
    client's InvalidParameterException; 403 (the operator's RBAC in that namespace) is
    AccessDeniedException, so a key never acts with more rights than the operator has. Any
    other failure stays a 500 ServerException, which SDKs retry."""
    try:
        yield
    except kube.NamespaceTerminating as error:  # kube.create's name for the API server's 403
        raise ApiError(
            "ClientException", f"namespace {error} is being deleted: nothing can be created in it"
        ) from error
    except ApiException as error:
        if error.status == 409:
            raise Conflict(str(error.reason)) from error
        if error.status in (403, 422):
            try:
                message = str(orjson.loads(error.body or b"{}").get("message") or error.reason)
            except (orjson.JSONDecodeError, AttributeError):
                message = str(error.reason)
            name = "AccessDeniedException" if error.status == 403 else "InvalidParameterException"
            raise ApiError(name, f"the Kubernetes API refused it: {message}") from error
        raise


class KubeStore:
    """The Store on the operator's kube client (kube/client.py)."""

    def list_clusters(self) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_in(API_VERSION, CLUSTERS, None)

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        with _kube_errors():
            return kube.namespace_labels(namespace)

    def create_cluster(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        with _kube_errors():
            return kube.create_cluster_scoped(manifest, CLUSTERS)

    def delete_cluster(self, name: str) -> None:
        with _kube_errors():
            kube.delete_cluster_scoped(API_VERSION, CLUSTERS, name)

    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool:
        """False when the ECSCluster does not exist (``default`` before the operator made it)."""
        with _kube_errors():
            try:
                kube.merge_patch_cluster_scoped(API_VERSION, CLUSTERS, name, patch)
            except ApiException as error:
                if error.status == 404:
                    return False
                raise
        return True

    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_in(API_VERSION, TASK_DEFINITIONS, namespace)

    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_in("apps/v1", "controllerrevisions", namespace)

    def get_task_definition(self, namespace: str, name: str) -> dict[str, Any] | None:
        with _kube_errors():
            return kube.get(API_VERSION, TASK_DEFINITIONS, namespace, name)

    def write_task_definition(self, manifest: Mapping[str, Any], exists: bool) -> dict[str, Any]:
        with _kube_errors():
            if exists:
                return kube.replace(manifest, TASK_DEFINITIONS)
            created = kube.create(manifest, TASK_DEFINITIONS)
        if created is None:
            raise Conflict(f"{manifest['metadata']['name']} was created meanwhile")
        return created

    def patch_task_definition(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        with _kube_errors():
            kube.merge_patch(API_VERSION, TASK_DEFINITIONS, namespace, name, patch)

    def list_services(self, namespace: str) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_in(API_VERSION, SERVICES, namespace)

    def create_service(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        with _kube_errors():
            return kube.create(manifest, SERVICES)

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        """The merge patch (conditional on its resourceVersion), then the service as it is now;
        None when it is gone."""
        with _kube_errors():
            try:
                kube.merge_patch(API_VERSION, SERVICES, namespace, name, patch)
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
            return kube.get(API_VERSION, SERVICES, namespace, name)

    def delete_service(self, namespace: str, name: str) -> None:
        with _kube_errors():
            kube.delete(API_VERSION, SERVICES, namespace, name)


def request_namespace(context: RequestContext, config_region: str) -> str:
    """The namespace a request acts in (scope.request_namespace), checked against the key."""
    if context.namespaces is None:  # anonymous mode: any namespace, home "default"
        allowed = [ANONYMOUS_HOME, scope.ANY_NAMESPACE]
    else:
        home = context.home_namespace or min(context.namespaces)
        allowed = [home, *sorted(context.namespaces - {home})]
    namespace = scope.request_namespace(allowed, context.region, config_region)
    context.require_namespace(namespace)
    return namespace


@dataclass
class Actions:
    """The handlers, bound to a Store and the ARNs' account and region."""

    store: Store
    arns: Arns
    # RegisterTaskDefinition waits this long for the operator to register the revision
    register_timeout: float = 20.0
    poll_interval: float = 0.2
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)
    wall_clock: Callable[[], float] = field(default=time.time)  # epoch seconds (tombstones' ages)
    # (namespace, family) -> (its lock, the requests using it): registrations of a family take turns
    _family_locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = field(default_factory=dict, repr=False)

    def _namespace(self, context: RequestContext) -> str:
        return request_namespace(context, self.arns.region)

    def _cluster_view(self, context: RequestContext) -> tuple[str, dict[str, str], list[dict[str, Any]]]:
        namespace = self._namespace(context)
        labels = self.store.namespace_labels(namespace)
        if labels is None:
            raise ApiError(
                "AccessDeniedException", f"namespace {namespace!r} does not exist (create it with kubectl first)"
            )
        return namespace, labels, self.store.list_clusters()

    # --- clusters

    def create_cluster(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, labels, existing = self._cluster_view(context)
        manifest = clusters.create_cluster(request, namespace)
        name = manifest["spec"]["clusterName"]
        for cluster in existing:
            if scope.cluster_name_of(cluster) == name:
                return clusters.existing_cluster(cluster, namespace, labels, self.arns)
        created = self.store.create_cluster(manifest)
        if created is None:  # created meanwhile (or a kubectl object of that metadata.name)
            for cluster in self.store.list_clusters():
                if cluster["metadata"]["name"] == manifest["metadata"]["name"]:
                    return clusters.existing_cluster(cluster, namespace, labels, self.arns)
            raise ApiError("ClientException", f"cluster {name!r}: created and gone meanwhile; retry")
        return {"cluster": clusters.describe_cluster(created, self.arns, ())}

    def describe_clusters(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, labels, existing = self._cluster_view(context)
        return clusters.describe_clusters(request, existing, namespace, labels, self.arns)

    def list_clusters(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, labels, existing = self._cluster_view(context)
        return clusters.list_clusters(request, existing, namespace, labels, self.arns)

    def delete_cluster(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, labels, existing = self._cluster_view(context)
        # the services counted afresh: the controller's status lags a CreateService just made
        # (a cluster the API deletes admits this namespace only, so its services are all here)
        wanted = str(request.get("cluster") or "default").rsplit("/", 1)[-1]
        active = sum(1 for s in self.store.list_services(namespace) if services.cluster_of(s) == wanted)
        counts = {"activeServicesCount": active} if active else None
        name, answer = clusters.delete_cluster(request, existing, namespace, labels, self.arns, counts)
        self.store.delete_cluster(name)
        return answer

    # --- task definitions

    def _task_definitions(self, context: RequestContext) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
        namespace = self._namespace(context)
        return (
            namespace,
            self.store.list_task_definitions(namespace),
            self.store.list_controller_revisions(namespace),
        )

    def _write_registration(self, request: Mapping[str, Any], context: RequestContext) -> tuple[str, dict[str, Any]]:
        """Write the family's ECSTaskDefinition with the request as spec: (namespace, written)."""
        namespace = self._namespace(context)
        if self.store.namespace_labels(namespace) is None:  # as _cluster_view: not a 404 answered 500
            raise ApiError(
                "AccessDeniedException", f"namespace {namespace!r} does not exist (create it with kubectl first)"
            )
        for _ in range(_CONFLICT_ATTEMPTS):
            objects = self.store.list_task_definitions(namespace)
            manifest = taskdefinitions.register_task_definition(request, namespace, objects)
            exists = "resourceVersion" in manifest["metadata"]
            if exists:  # a whole replace keeps the metadata the request does not decide: labels,
                # annotations, finalizers, owners (managedFields sent in a PUT would replace the server's)
                current = next(o for o in objects if o["metadata"]["name"] == manifest["metadata"]["name"])
                kept = {k: v for k, v in current["metadata"].items() if k != "managedFields"}
                manifest = {**manifest, "metadata": {**kept, **manifest["metadata"]}}
            try:
                return namespace, self.store.write_task_definition(manifest, exists)
            except Conflict:
                continue
        raise ApiError("ClientException", "the family changed while registering (concurrent requests); retry")

    def _registered(
        self, request: Mapping[str, Any], namespace: str, td: Mapping[str, Any], read: bool
    ) -> Mapping[str, Any] | None:
        if read:
            td = self.store.get_task_definition(namespace, str(td["metadata"]["name"])) or td
        return taskdefinitions.registered(request, td, self.store.list_controller_revisions(namespace), self.arns)

    async def register_task_definition(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        """A coroutine: it waits for the operator on the event loop, not in one of the few
        worker threads the other handlers need (each Kubernetes call still runs in one).

        Registrations of one family take turns in this process: the operator registers the
        spec it sees, so a second request's spec written before the first's was registered
        would replace it, and the first would wait for a revision that never comes (found by
        the concurrent fuzz: a 500 after register_timeout). In turn, each gets its revision,
        as at ECS. (Several API processes still race; the loser then times out.)"""
        key = (self._namespace(context), str(request.get("family") or ""))
        lock, users = self._family_locks.get(key, (asyncio.Lock(), 0))
        self._family_locks[key] = (lock, users + 1)
        try:
            async with lock:
                return await self._register_in_turn(request, context)
        finally:
            lock, users = self._family_locks[key]
            if users > 1:
                self._family_locks[key] = (lock, users - 1)
            else:  # the last user: no lock per family name ever sent is kept
                del self._family_locks[key]

    async def _register_in_turn(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, written = await asyncio.to_thread(self._write_registration, request, context)
        deadline = self.clock() + self.register_timeout
        read = False
        while True:
            answer = await asyncio.to_thread(self._registered, request, namespace, written, read)
            if answer is not None:
                return answer
            if self.clock() >= deadline:
                raise ApiError(
                    "ServerException",
                    f"{request.get('family')}: the operator has not registered the revision within "
                    f"{self.register_timeout:g}s (is it running?); the ECSTaskDefinition "
                    f"{namespace}/{written['metadata']['name']} is written",
                )
            await self.sleep(self.poll_interval)
            read = True

    def describe_task_definition(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        _, objects, revisions = self._task_definitions(context)
        return taskdefinitions.describe_task_definition(request, objects, revisions, self.arns)

    def list_task_definitions(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        _, objects, revisions = self._task_definitions(context)
        return taskdefinitions.list_task_definitions(request, objects, revisions, self.arns)

    def list_task_definition_families(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        _, objects, revisions = self._task_definitions(context)
        return taskdefinitions.list_task_definition_families(request, objects, revisions)

    def deregister_task_definition(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        for _ in range(_CONFLICT_ATTEMPTS):
            namespace, objects, revisions = self._task_definitions(context)
            patch, answer = taskdefinitions.deregister_task_definition(request, objects, revisions, self.arns)
            if patch is None:
                return answer
            family = answer["taskDefinition"]["family"]
            td = taskdefinitions.one_family_object(objects, family)
            assert td is not None
            try:
                self.store.patch_task_definition(namespace, str(td["metadata"]["name"]), patch)
                return answer
            except Conflict:
                continue
        raise ApiError("ClientException", "the family changed while deregistering (concurrent requests); retry")

    # --- services

    def _services(self, context: RequestContext) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        """The namespace, the clusters it sees (by ECS name) and its ECSServices."""
        namespace, labels, existing = self._cluster_view(context)
        visible = dict(scope.visible_clusters(existing, namespace, labels))
        return namespace, visible, self.store.list_services(namespace)

    def _task_definition_arn(self, namespace: str, value: Any) -> str:
        return services.task_definition_arn(
            value,
            self.store.list_task_definitions(namespace),
            self.store.list_controller_revisions(namespace),
            self.arns,
        )

    def create_service(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, visible, existing = self._services(context)
        # the same call again (a retry with its clientToken): the service it made, answered alike
        earlier = services.created_with_token(request, existing, visible)
        manifest = services.create_service(request, namespace, existing, visible) if earlier is None else None
        arn = self._task_definition_arn(namespace, request["taskDefinition"]) if request.get("taskDefinition") else ""
        created = self.store.create_service(manifest) if manifest is not None else earlier
        if created is None:  # created meanwhile by another request or kubectl
            raise ApiError("InvalidParameterException", "Creation of service was not idempotent.")
        described = services.describe_service(created, self.arns)
        if arn and not (created.get("status") or {}).get("taskDefinition"):
            described["taskDefinition"] = arn  # the revision it will run, as ECS answers
        return {"service": described}

    def describe_services(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, visible, existing = self._services(context)
        return services.describe_services(request, existing, visible, self.arns, namespace, self.wall_clock())

    def list_services(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        _, visible, existing = self._services(context)
        return services.list_services(request, existing, visible, self.arns)

    def update_service(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        for _ in range(_CONFLICT_ATTEMPTS):
            namespace, visible, existing = self._services(context)
            now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            service, patch = services.update_service(request, existing, visible, now, namespace, self.wall_clock())
            if request.get("taskDefinition"):
                self._task_definition_arn(namespace, request["taskDefinition"])
            try:
                updated = self.store.patch_service(namespace, str(service["metadata"]["name"]), patch)
            except Conflict:
                continue
            if updated is None:  # deleted meanwhile
                raise ApiError("ServiceNotFoundException", "Service not found.")
            return {"service": services.describe_service(updated, self.arns)}
        raise ApiError("ClientException", "the service changed while updating (concurrent requests); retry")

    def delete_service(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, visible, existing = self._services(context)
        name, answer = services.delete_service(request, existing, visible, self.arns)
        # the tombstone first: an ECSService without finalizers is gone at once, and a
        # services_inactive waiter polling in between would see MISSING (a failure)
        cluster_name = str(answer["service"]["clusterArn"]).rsplit("/", 1)[-1]
        self._record_deleted(namespace, visible[cluster_name], answer["service"])
        self.store.delete_service(namespace, name)
        return answer

    def _record_deleted(self, namespace: str, cluster: Mapping[str, Any], described: Mapping[str, Any]) -> None:
        """The deleted service's tombstone on its ECSCluster (inactive.py), a conditional merge
        patch retried on conflict (the cluster read again). Best effort: without it (no cluster
        object, conflicts every time) the deleted service is MISSING rather than INACTIVE, and
        the delete goes on."""
        name = str(cluster["metadata"]["name"])
        current: Mapping[str, Any] | None = cluster
        for _ in range(_CONFLICT_ATTEMPTS):
            patch = inactive.record_deleted(current, namespace, described, self.wall_clock()) if current else None
            if patch is None:
                return
            try:
                self.store.patch_cluster(name, patch)
                return
            except Conflict:
                current = next((c for c in self.store.list_clusters() if c["metadata"]["name"] == name), None)

    def register(self, dispatcher: Dispatcher) -> None:
        for action, handler in (
            ("CreateCluster", self.create_cluster),
            ("DescribeClusters", self.describe_clusters),
            ("ListClusters", self.list_clusters),
            ("DeleteCluster", self.delete_cluster),
            ("RegisterTaskDefinition", self.register_task_definition),
            ("DescribeTaskDefinition", self.describe_task_definition),
            ("ListTaskDefinitions", self.list_task_definitions),
            ("ListTaskDefinitionFamilies", self.list_task_definition_families),
            ("DeregisterTaskDefinition", self.deregister_task_definition),
            ("CreateService", self.create_service),
            ("DescribeServices", self.describe_services),
            ("ListServices", self.list_services),
            ("UpdateService", self.update_service),
            ("DeleteService", self.delete_service),
        ):
            dispatcher.register("ecs", action, handler)
