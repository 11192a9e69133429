"""Capacity-provider placement of a service's gated task (as ECS places each task with
the strategy's base and weights), then the gate is lifted."""

from collections.abc import Mapping
from typing import Any

from ecs_facade.api import (
    KIND_SERVICE,
    SCHEDULING_GATE_CAPACITY_PROVIDER,
)
from ecs_facade.controllers.cluster import cluster_placement
from ecs_facade.controllers.common import (
    Logger,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Snapshot,
    one,
    values_at,
)
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from ecs_facade.translate.capacity import gated_pod_patch, next_provider
from ecs_facade.views.service import Readiness


def assign_capacity_provider(
    state: OperatorState, namespace: str, service_name: str, pod: Mapping[str, Any], indexes: Indexes, logger: Logger
) -> None:
    """Place one gated task with the provider the strategy's base and weights give it next,
    counting the service's tasks already placed per provider; then lift the gate."""
    with state.locks.lock_for(KIND_SERVICE, namespace, service_name):
        service: Snapshot | None = one(indexes.services, (namespace, service_name))
        if service is None:
            return
        placement = cluster_placement(namespace, service.spec, indexes)
        if isinstance(placement, Readiness) or not placement[1]:
            return
        _, strategy, selectors = placement
        placed: dict[str, int] = {}
        for task in values_at(indexes.tasks, (namespace, service_name)):
            provider = state.services.assigned.get((namespace, task.name)) or task.capacity_provider
            if provider and task.phase not in ("Succeeded", "Failed"):
                placed[provider] = placed.get(provider, 0) + 1
        pod_name = pod["metadata"]["name"]
        if (namespace, pod_name) in state.services.assigned:
            return
        provider = next_provider(strategy, placed)
        change = gated_pod_patch((pod.get("spec") or {}).get("affinity"), provider, selectors)
        kube.patch_pod(
            namespace, pod_name, {"metadata": {"labels": change["label"]}, "spec": {"affinity": change["affinity"]}}
        )
        gates = [
            g
            for g in (pod.get("spec") or {}).get("schedulingGates") or []
            if g.get("name") != SCHEDULING_GATE_CAPACITY_PROVIDER
        ]
        kube.patch_pod(namespace, pod_name, {"spec": {"schedulingGates": gates or None}})
        state.services.assigned[(namespace, pod_name)] = provider
        logger.info("task %s/%s placed with capacity provider %s", namespace, pod_name, provider)
