"""The Application Auto Scaling actions (ECS services only) as Dispatcher handlers: the thin
I/O around ecsapi/autoscaling.py.

The namespace and the clusters it sees are decided as for the ECS actions
(handlers.request_namespace, scope.visible_clusters); every write is a merge patch of the
ECSService conditional on the resourceVersion read, retried on a conflict, then
ConcurrentUpdateException. Refusals of the Kubernetes API that the ECS handlers answer as
InvalidParameterException/ClientException are Application Auto Scaling's ValidationException.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import autoscaling, scope
from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.handlers import Conflict, request_namespace
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext

SERVICE = "application-autoscaling"
_CONFLICT_ATTEMPTS = 3
_AS_VALIDATION = frozenset({"InvalidParameterException", "ClientException"})


class AutoScalingStore(Protocol):
    """What the actions read and write (handlers.KubeStore has all of it)."""

    def list_clusters(self) -> list[dict[str, Any]]: ...
    def namespace_labels(self, namespace: str) -> dict[str, str] | None: ...
    def list_services(self, namespace: str) -> list[dict[str, Any]]: ...
    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None: ...


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextlib.contextmanager
def _as_errors() -> Iterator[None]:
    """ECS error names raised by shared code (the store, paging) as Application Auto Scaling's."""
    try:
        yield
    except ApiError as error:
        if error.name in _AS_VALIDATION:
            raise ApiError("ValidationException", error.message) from None
        raise


@dataclass
class AutoScalingActions:
    """The handlers, bound to a Store and the ARNs' account and region."""

    store: AutoScalingStore
    arns: Arns
    now: Callable[[], str] = field(default=_now)

    def _view(self, context: RequestContext) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        """The namespace, the clusters it sees (by ECS name) and its ECSServices."""
        namespace = request_namespace(context, self.arns.region)
        labels = self.store.namespace_labels(namespace)
        if labels is None:
            raise ApiError(
                "AccessDeniedException", f"namespace {namespace!r} does not exist (create it with kubectl first)"
            )
        visible = dict(scope.visible_clusters(self.store.list_clusters(), namespace, labels))
        return namespace, visible, self.store.list_services(namespace)

    def _write(
        self,
        request: Mapping[str, Any],
        context: RequestContext,
        change: Callable[[autoscaling.Resource, Mapping[str, Any]], tuple[dict[str, Any], Mapping[str, Any]]],
    ) -> Mapping[str, Any]:
        """Read, compute the patch, write it conditionally; again on a conflict."""
        with _as_errors():
            for _ in range(_CONFLICT_ATTEMPTS):
                namespace, visible, services = self._view(context)
                resource, service = autoscaling.require_service(request, services, visible)
                patch, answer = change(resource, service)
                try:
                    written = self.store.patch_service(namespace, str(service["metadata"]["name"]), patch)
                except Conflict:
                    continue
                if written is None:  # deleted meanwhile
                    raise autoscaling.validation(f"ECS service doesn't exist: {resource.resource_id}")
                return answer
        raise ApiError(
            "ConcurrentUpdateException",
            f"{request.get('ResourceId')}: the ECSService changed while writing (concurrent updates); retry",
        )

    def register_scalable_target(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        return self._write(
            request,
            context,
            lambda resource, service: autoscaling.register_scalable_target(
                request, resource, service, self.arns, self.now()
            ),
        )

    def deregister_scalable_target(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        return self._write(
            request, context, lambda resource, service: (autoscaling.deregister_scalable_target(resource, service), {})
        )

    def put_scaling_policy(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        return self._write(
            request,
            context,
            lambda resource, service: autoscaling.put_scaling_policy(request, resource, service, self.arns, self.now()),
        )

    def delete_scaling_policy(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        return self._write(
            request,
            context,
            lambda resource, service: (autoscaling.delete_scaling_policy(request, resource, service), {}),
        )

    def describe_scalable_targets(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        with _as_errors():
            _, visible, services = self._view(context)
            return autoscaling.describe_scalable_targets(request, services, visible, self.arns)

    def describe_scaling_policies(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        with _as_errors():
            _, visible, services = self._view(context)
            return autoscaling.describe_scaling_policies(request, services, visible, self.arns)

    def describe_scaling_activities(self, request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
        with _as_errors():
            _, visible, services = self._view(context)
            return autoscaling.describe_scaling_activities(request, services, visible)

    def register(self, dispatcher: Dispatcher) -> None:
        for action, handler in (
            ("RegisterScalableTarget", self.register_scalable_target),
            ("DeregisterScalableTarget", self.deregister_scalable_target),
            ("DescribeScalableTargets", self.describe_scalable_targets),
            ("PutScalingPolicy", self.put_scaling_policy),
            ("DeleteScalingPolicy", self.delete_scaling_policy),
            ("DescribeScalingPolicies", self.describe_scaling_policies),
            ("DescribeScalingActivities", self.describe_scaling_activities),
        ):
            dispatcher.register(SERVICE, action, handler)


def register_autoscaling(dispatcher: Dispatcher, store: AutoScalingStore, arns: Arns) -> None:
    """Serve the Application Auto Scaling actions on ``dispatcher`` (`ecs-facade api`)."""
    AutoScalingActions(store, arns).register(dispatcher)
