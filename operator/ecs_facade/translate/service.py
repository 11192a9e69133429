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

from ecs_facade.api import GROUP, LABEL_SERVICE
from ecs_facade.translate.loadbalancing import health_check_grace
from ecs_facade.translate.placement import apply_placement, service_placement
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
) -> ServiceWorkload:
    """The Deployment (or DaemonSet) running the service's tasks."""
    translation = translate_task_definition(task_definition, options)
    labels = {**service_selector(name), **task_labels(task_definition.family or "", revision)}
    pod_spec = copy.deepcopy(translation.pod_spec)
    pod_spec = _apply_placement(pod_spec, labels, decisions)
    pod_spec = health_check_grace(pod_spec, decisions.health_check_grace_period)
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
        spec["replicas"] = decisions.desired_count
        spec["strategy"] = rolling.strategy()
    manifest = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }
    return ServiceWorkload(manifest=manifest, translation=translation, rolling=rolling)


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
