"""Capacity-provider placement of a service's gated tasks (as ECS places each task with
the strategy's base and weights), then their gate is lifted.

Level-based: every reconcile of the service (``reconciler.reconcile``) places the gated
tasks the index shows (``Indexes.gated_pods``). A gated pod sends no further event and
nothing else would look at it again, so a placement that fails raises into the reconcile,
which the work queue retries with backoff until the gate is lifted or the pod is gone."""

from collections.abc import Mapping
from typing import Any

from ecs_facade.api import (
    SCHEDULING_GATE_CAPACITY_PROVIDER,
)
from ecs_facade.controllers.cluster import cluster_placement
from ecs_facade.controllers.common import (
    Logger,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Snapshot,
    values_at,
)
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from ecs_facade.translate.capacity import gated_pod_patch, next_provider
from ecs_facade.views.service import Readiness


def lift_gates(state: OperatorState, service: Snapshot, indexes: Indexes, logger: Logger) -> None:
    """Place each gated task of the service with the provider the strategy's base and weights
    give it next, counting the service's tasks already placed per provider, and lift its gate
    (under the service's lock: the caller's). Raises what the API raised: the caller retries."""
    namespace, name = service.namespace, service.name
    gated = sorted(
        (
            p
            for p in values_at(indexes.gated_pods, (namespace, name))
            if (namespace, p["metadata"]["name"]) not in state.services.assigned
        ),
        key=lambda p: str(p["metadata"]["name"]),
    )
    if not gated:
        return
    placement = cluster_placement(namespace, service.spec, indexes)
    if isinstance(placement, Readiness) or not placement[1]:
        return  # no cluster, or no strategy (any more): the reconcile reports it
    _, strategy, selectors = placement
    placed: dict[str, int] = {}
    for task in values_at(indexes.tasks, (namespace, name)):
        provider = state.services.assigned.get((namespace, task.name)) or task.capacity_provider
        if provider and task.phase not in ("Succeeded", "Failed"):
            placed[provider] = placed.get(provider, 0) + 1
    for pod in gated:
        provider = next_provider(strategy, placed)
        _place(namespace, pod, provider, selectors)
        state.services.assigned[(namespace, pod["metadata"]["name"])] = provider
        placed[provider] = placed.get(provider, 0) + 1
        logger.info("task %s/%s placed with capacity provider %s", namespace, pod["metadata"]["name"], provider)


def _place(namespace: str, pod: Mapping[str, Any], provider: str, selectors: Mapping[str, Any]) -> None:
    """One merge patch: the provider's label, the node affinity narrowed to it and the gate
    lifted together (the API server allows the narrowing because the pod it patches is still
    gated), so that a failure leaves the pod as it was, never narrowed to one provider with
    its gate on (a retry would narrow it to another: no node would fit)."""
    spec = pod.get("spec") or {}
    change = gated_pod_patch(spec.get("affinity"), provider, selectors)
    gates = [g for g in spec.get("schedulingGates") or [] if g.get("name") != SCHEDULING_GATE_CAPACITY_PROVIDER]
    patch = {
        "metadata": {"labels": change["label"]},
        "spec": {"affinity": change["affinity"], "schedulingGates": gates or None},
    }
    kube.patch_pod(namespace, str(pod["metadata"]["name"]), patch)
