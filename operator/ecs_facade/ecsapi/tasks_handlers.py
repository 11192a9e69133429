"""RunTask, StopTask, DescribeTasks, ListTasks as Dispatcher handlers: the thin I/O around
the pure half (tasks.py). The custom resources and the pods are the only state: every call
reads them anew (ECSTasks, the services' pods, ECSServices, nodes) and writes ECSTasks
(RunTask creates them; StopTask sets spec.desiredStatus) or deletes a service's pod.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes import client as kube_api
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import API_VERSION, LABEL_SERVICE, LABEL_TASK, TASKS
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import scope, services, taskdefinitions, tasks
from ecs_facade.ecsapi.errors import ApiError, invalid_parameter
from ecs_facade.ecsapi.handlers import KubeStore, _kube_errors, request_namespace
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext
from ecs_facade.kube import client as kube

log = logging.getLogger(__name__)


class TaskStore(Protocol):
    """What the task actions read and write."""

    def list_clusters(self) -> list[dict[str, Any]]: ...
    def namespace_labels(self, namespace: str) -> dict[str, str] | None: ...
    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_services(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_ecs_tasks(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_task_pods(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_nodes(self) -> list[dict[str, Any]]: ...
    def create_ecs_task(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None: ...
    def patch_ecs_task(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None: ...
    def delete_pod(self, namespace: str, name: str) -> None: ...


class TaskKubeStore(KubeStore):
    """KubeStore with the task actions' calls (the operator's kube client)."""

    def list_ecs_tasks(self, namespace: str) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_in(API_VERSION, TASKS, namespace)

    def list_task_pods(self, namespace: str) -> list[dict[str, Any]]:
        """The pods of ECSTasks and of services (two label selectors: one cannot say "or")."""
        api = kube.api_client()
        core = kube_api.CoreV1Api(api)
        found: list[dict[str, Any]] = []
        with _kube_errors():
            for label in (LABEL_TASK, LABEL_SERVICE):
                listed = core.list_namespaced_pod(namespace, label_selector=label)
                found += [api.sanitize_for_serialization(p) for p in listed.items]  # type: ignore[no-untyped-call]
        return found

    def list_nodes(self) -> list[dict[str, Any]]:
        with _kube_errors():
            return kube.list_nodes()

    def create_ecs_task(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        with _kube_errors():
            return kube.create(manifest, TASKS)

    def patch_ecs_task(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        """The merge patch, then the task as it is now; None when it is gone."""
        with _kube_errors():
            try:
                kube.merge_patch(API_VERSION, TASKS, namespace, name, patch)
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
            return kube.get(API_VERSION, TASKS, namespace, name)

    def delete_pod(self, namespace: str, name: str) -> None:
        with _kube_errors():
            kube.delete_pod(namespace, name)


@dataclass
class TaskActions:
    """The task handlers, bound to a Store and the ARNs' account and region."""

    store: TaskStore
    arns: Arns

    def _cluster(self, request: Mapping[str, Any], context: RequestContext) -> tuple[str, str]:
        """(namespace, cluster): the request's namespace, and its cluster, which the namespace
        must see (ClusterNotFoundException)."""
        namespace = request_namespace(context, self.arns.region)
        labels = self.store.namespace_labels(namespace)
        if labels is None:
            raise ApiError(
                "AccessDeniedException", f"namespace {namespace!r} does not exist (create it with kubectl first)"
            )
        visible = scope.visible_clusters(self.store.list_clusters(), namespace, labels)
        return namespace, tasks.request_cluster(request, visible)

    def _tasks(self, namespace: str) -> tuple[list[tasks.Task], list[dict[str, Any]], list[dict[str, Any]]]:
        """The namespace's tasks, its ECSServices and the nodes."""
        found_services = self.store.list_services(namespace)
        nodes = self.store.list_nodes()
        definitions: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []

        def resolve(value: str) -> tuple[str, list[dict[str, Any]]] | None:
            """A task the operator has not started yet: its revision as RunTask resolved it
            (the task definitions are read once, and only for such a task)."""
            if not definitions:
                definitions.append(
                    (self.store.list_task_definitions(namespace), self.store.list_controller_revisions(namespace))
                )
            objects, revisions = definitions[0]
            try:
                found = taskdefinitions.resolve(value, objects, revisions)
            except ApiError:
                return None
            if found is None:
                return None
            revision = found[1]
            arn = self.arns.task_definition(revision.family, revision.revision)
            return arn, tasks.pending_containers(revision)

        found = tasks.namespace_tasks(
            self.store.list_ecs_tasks(namespace),
            self.store.list_task_pods(namespace),
            found_services,
            nodes,
            self.arns,
            resolve,
        )
        return found, found_services, nodes

    def run_task(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, cluster = self._cluster(request, context)
        manifests = tasks.run_task_manifests_of(request, namespace, cluster)
        if request.get("clientToken"):  # the same call again (an SDK's retry): its tasks, as they are now
            earlier = tasks.started_with_token(request, self._tasks(namespace)[0])
            if earlier:
                return tasks.run_task_answer(earlier)
        objects = self.store.list_task_definitions(namespace)
        revisions = self.store.list_controller_revisions(namespace)
        arn = services.task_definition_arn(request["taskDefinition"], objects, revisions, self.arns)
        resolved = taskdefinitions.resolve(request["taskDefinition"], objects, revisions)
        containers = tasks.pending_containers(resolved[1] if resolved else None)
        created: list[tasks.Task] = []
        for index, manifest in enumerate(manifests):
            try:
                made = self.store.create_ecs_task(manifest)
                if made is None:  # generateName: only a name clash the API server could not avoid
                    raise ApiError("ServerException", "the ECSTask could not be created (a name clash); retry")
            except Exception as error:
                if not created:
                    raise
                # some tasks run already: answer them, and a failure for each one not started, as
                # ECS answers a RunTask it could place only in part (an error would hide them)
                log.warning("RunTask: %d of %d ECSTasks created, then: %s", index, len(manifests), error)
                detail = error.message if isinstance(error, ApiError) else "the Kubernetes API failed; retry"
                failure = {"reason": "the ECSTask could not be created", "detail": detail}
                return {**tasks.run_task_answer(created), "failures": [dict(failure) for _ in manifests[index:]]}
            created.append(tasks.ecs_task(made, None, {}, self.arns, task_definition_arn=arn, containers=containers))
        return tasks.run_task_answer(created)

    def stop_task(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, cluster = self._cluster(request, context)
        found, _, _ = self._tasks(namespace)
        plan = tasks.stop_task(request, found, cluster)
        if plan.patch is not None:
            patched = self.store.patch_ecs_task(namespace, plan.task.name, plan.patch)
            if patched is None:
                raise invalid_parameter("The referenced task was not found.")
        if plan.delete_pod is not None:
            self.store.delete_pod(namespace, plan.delete_pod)
        return plan.answer

    def describe_tasks(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, cluster = self._cluster(request, context)
        found, _, _ = self._tasks(namespace)
        return tasks.describe_tasks(request, found, cluster, self.arns)

    def list_tasks(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        namespace, cluster = self._cluster(request, context)
        found, found_services, nodes = self._tasks(namespace)
        return tasks.list_tasks(request, found, cluster, found_services, nodes)

    def register(self, dispatcher: Dispatcher) -> None:
        for action, handler in (
            ("RunTask", self.run_task),
            ("StopTask", self.stop_task),
            ("DescribeTasks", self.describe_tasks),
            ("ListTasks", self.list_tasks),
        ):
            dispatcher.register("ecs", action, handler)
