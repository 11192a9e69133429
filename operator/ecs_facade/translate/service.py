"""An ECS service as a Deployment (REPLICA) or DaemonSet (DAEMON), plus its Services.

Everything about the tasks comes from the one task definition translator; this module adds
what the service decides: how many, how a new revision rolls out, where tasks are placed,
and how they are reached.
"""

import copy
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecs_facade.api import DEFAULT_CLUSTER, GROUP, LABEL_INSTANCE_STATUS, LABEL_SERVICE
from ecs_facade.translate.capacity import cluster_pod_placement, strategy_node_affinity, with_capacity_gate
from ecs_facade.translate.loadbalancing import drain_before_stop, health_check_grace
from ecs_facade.translate.placement import REQUIRED, apply_placement, service_placement
from ecs_facade.translate.rollout import RollingUpdate, daemon_rolling_update, rolling_update
from ecs_facade.translate.task import task_labels
from ecs_facade.translate.taskdefinition import (
    DEFAULT_OPTIONS,
    PodTranslation,
    TranslationOptions,
    translate_task_definition,
)

ANNOTATION_FORCE = f"{GROUP}/force-new-deployment"
ANNOTATION_TAGS = f"{GROUP}/tags"


def service_selector(name: str) -> dict[str, str]:
    """The workload selector: immutable in Kubernetes, so it holds only the service's name."""
    return {LABEL_SERVICE: name}


@dataclass(frozen=True)
class ServiceDecisions:
    """What the ECS service (not its task definition) decides about its tasks."""

    desired_count: int = 0
    daemon: bool = False
    maximum_percent: int = 200
    minimum_healthy_percent: int = 100
    placement_constraints: Sequence[Mapping[str, Any]] = ()
    placement_strategy: Sequence[Mapping[str, Any]] = ()
    health_check_grace_period: int | None = None
    force_new_deployment: str | None = None
    node_values: Mapping[str, Collection[str]] | None = None
    task_tags: Sequence[Mapping[str, str]] = ()  # what ECS would tag each task with
    cluster: str = DEFAULT_CLUSTER  # tasks run on this cluster's container instances only
    drain_surge: int = 0  # replacements started for tasks on DRAINING instances (within maximumPercent)
    capacity_provider_strategy: Sequence[Mapping[str, Any]] = ()  # validated, effective strategy
    capacity_provider_selectors: Mapping[str, Mapping[str, Any]] | None = None  # provider -> node selector
    # False while an autoscaler owns the count: the operator's apply leaves spec.replicas out
    # (server-side apply ownership), and desired_count is the count the autoscaler set
    write_replicas: bool = True
    # a new task counts as available, and an old one may stop for it, once it has been Ready
    # this long (the ECS deployments view's settle time): a task that exits a moment after it
    # starts leaves the older tasks running (views.deployments)
    min_ready_seconds: int = 0
    # a task's containers get SIGTERM this long after it leaves its load balancer's endpoints
    # (the target group's deregistration delay, which ECS waits for before it stops a task);
    # 0: at once, as for every service without loadBalancers (loadbalancing.deregistration_delay)
    deregistration_delay: int = 0


@dataclass
class ServiceWorkload:
    manifest: dict[str, Any]
    translation: PodTranslation
    rolling: RollingUpdate | None


def build_workload(
    name: str,
    namespace: str,
    task_definition: Any,
    revision: int | None,
    decisions: ServiceDecisions,
    options: TranslationOptions = DEFAULT_OPTIONS,
    translation: PodTranslation | None = None,
) -> ServiceWorkload:
    """The Deployment (or DaemonSet) running the service's tasks (``translation``: the task
    definition's with ``service=True``, when the caller has it already; it is read, never changed)."""
    if translation is None:
        translation = translate_task_definition(task_definition, options, service=True)
    labels = {**service_selector(name), **task_labels(task_definition.family or "", revision)}
    pod_spec = copy.deepcopy(translation.pod_spec)
    pod_spec = _apply_placement(pod_spec, labels, decisions)
    pod_spec = apply_placement(pod_spec, cluster_pod_placement(decisions.cluster))
    if decisions.daemon:
        pod_spec = apply_placement(pod_spec, _not_draining())
    if decisions.capacity_provider_strategy:
        affinity = strategy_node_affinity(
            decisions.capacity_provider_strategy, decisions.capacity_provider_selectors or {}
        )
        pod_spec = with_capacity_gate(apply_placement(pod_spec, {"affinity": affinity}))
    pod_spec = health_check_grace(pod_spec, decisions.health_check_grace_period)
    pod_spec = drain_before_stop(pod_spec, decisions.deregistration_delay)
    annotations = dict(translation.annotations)
    if decisions.force_new_deployment:
        annotations[ANNOTATION_FORCE] = decisions.force_new_deployment
    if decisions.task_tags:
        # ECS tag keys and values allow characters labels do not: one JSON annotation
        annotations[ANNOTATION_TAGS] = json.dumps(list(decisions.task_tags), separators=(",", ":"))
    template = {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec}
    spec: dict[str, Any] = {"selector": {"matchLabels": service_selector(name)}, "template": template}
    rolling = None
    if decisions.daemon:
        kind = "DaemonSet"
        spec["updateStrategy"] = daemon_rolling_update(decisions.minimum_healthy_percent)
    else:
        kind = "Deployment"
        rolling = rolling_update(decisions.desired_count, decisions.maximum_percent, decisions.minimum_healthy_percent)
        if decisions.write_replicas:
            spec["replicas"] = decisions.desired_count + decisions.drain_surge
        spec["strategy"] = rolling.strategy()
        if decisions.min_ready_seconds:
            spec["minReadySeconds"] = decisions.min_ready_seconds
    manifest = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }
    return ServiceWorkload(manifest=manifest, translation=translation, rolling=rolling)


def _not_draining() -> dict[str, Any]:
    """Daemon tasks leave a DRAINING instance: the DaemonSet controller removes pods whose node
    no longer matches (cordoning alone does not stop daemon pods)."""
    requirement = {"key": LABEL_INSTANCE_STATUS, "operator": "NotIn", "values": ["DRAINING"]}
    return {"affinity": {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [{"matchExpressions": [requirement]}]}}}}


def drain_surge(desired: int, maximum_percent: int, on_draining: int) -> int:
    """Replacements for tasks on DRAINING instances, started before those stop, as far as
    maximumPercent allows (ECS replaces them within minimumHealthyPercent/maximumPercent)."""
    room = desired * maximum_percent // 100 - desired
    return max(0, min(on_draining, room))


def build_disruption_budget(
    name: str, namespace: str, desired: int | None, minimum_healthy_percent: int
) -> dict[str, Any]:
    """The floor of minimumHealthyPercent (rounded up, as ECS does) for evictions: draining an
    instance (or `kubectl drain`) never takes the service below it.

    ``desired`` None: an autoscaler moves the count, so the budget is the percentage, which the
    disruption controller applies to the Deployment's current scale, rounding up too."""
    minimum: int | str = (
        f"{minimum_healthy_percent}%" if desired is None else -(-desired * minimum_healthy_percent // 100)
    )
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace, "labels": service_selector(name)},
        "spec": {
            "minAvailable": minimum,
            "selector": {"matchLabels": service_selector(name)},
            # a task that is not healthy does not hold a drain up (ECS stops it too)
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def _apply_placement(
    pod_spec: dict[str, Any], labels: Mapping[str, str], decisions: ServiceDecisions
) -> dict[str, Any]:
    if not decisions.placement_constraints and not decisions.placement_strategy:
        return pod_spec
    fragment = service_placement(
        decisions.placement_constraints,
        decisions.placement_strategy,
        service_selector(labels[LABEL_SERVICE]),
        node_values=decisions.node_values,
    )
    return apply_placement(pod_spec, fragment)


def task_tags(
    propagate: str | None,
    service_tags: Sequence[Mapping[str, str]],
    task_definition_tags: Sequence[Mapping[str, str]],
    managed: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """The tags ECS puts on a service's tasks: ``propagateTags`` picks the source; managed
    tags (``enableECSManagedTags``) come first, as ECS lists them."""
    tags = [{"key": k, "value": v} for k, v in (managed or {}).items()]
    source = {"SERVICE": service_tags, "TASK_DEFINITION": task_definition_tags}.get(propagate or "NONE", ())
    tags.extend({"key": str(t.get("key")), "value": str(t.get("value", ""))} for t in source)
    return tags
