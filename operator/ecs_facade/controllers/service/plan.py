"""The plan: the workload (Deployment or DaemonSet), its Services, HPA and disruption budget
that a service's spec, its task definition revision and its cluster call for, or why there
is none (a ``views.service.Readiness``). Reads the indexes, writes nothing."""

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ecs_facade.api import (
    API_VERSION,
    GROUP,
    KIND_SERVICE,
    LABEL_FAMILY,
    LABEL_SERVICE,
)
from ecs_facade.config import Config
from ecs_facade.controllers.cluster import cluster_placement
from ecs_facade.controllers.common import (
    error_message,
    now,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Revision,
    Snapshot,
    all_values,
    one,
    revisions_of,
    values_at,
    with_statuses,
)
from ecs_facade.controllers.state import OperatorState
from ecs_facade.model.autoscaling import AutoScaling
from ecs_facade.model.references import TaskDefinitionRef, parse_task_definition_ref
from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.taskdefinition import TaskDefinition, content_hash, parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.autoscaling import build_autoscaler, initial_count
from ecs_facade.translate.loadbalancing import deregistration_delay
from ecs_facade.translate.ownership import owner_reference
from ecs_facade.translate.placement import node_label_values
from ecs_facade.translate.service import (
    ANNOTATION_FORCE,
    ServiceDecisions,
    ServiceWorkload,
    build_disruption_budget,
    build_workload,
    drain_surge,
    task_tags,
)
from ecs_facade.translate.task import LABEL_REVISION
from ecs_facade.translate.taskdefinition import PodTranslation, TranslationOptions, translate_task_definition
from ecs_facade.views.container_instance import draining
from ecs_facade.views.deployments import ANNOTATION_FAILED, REVISION_ANNOTATION, Hold, failed_hold
from ecs_facade.views.service import Readiness
from ecs_facade.views.throttle import holding

ANNOTATION_SERVICE_TYPE = f"{GROUP}/load-balancer-service-type"


@dataclass
class Plan:
    workload: ServiceWorkload
    extra: list[dict[str, Any]]
    revision: Revision
    arn: str
    desired: int
    breaker: Mapping[str, Any]
    autoscaler: dict[str, Any] | None = None  # the HPA while spec.autoScaling is set
    scaling: AutoScaling | None = None
    hold: Hold | None = None  # the PRIMARY deployment FAILED and launches nothing


def throttled(status: Mapping[str, Any]) -> bool:
    """Launches are held: the throttle's next attempt is still in the future."""
    return holding(status.get("throttle") or {}, now())


def _condition(conditions: Any, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def resolve_revision(
    service: Snapshot,
    ref: TaskDefinitionRef,
    indexes: Indexes,
    workload: Mapping[str, Any] | None,
    pin: str | None = None,
) -> Revision | Readiness:
    """The revision this service runs: ``pin`` or its pinned one, else what the reference names now."""
    td: Snapshot | None = one(indexes.task_definitions, (service.namespace, ref.family))
    revisions = with_statuses(revisions_of(indexes.revisions, service.namespace, td.name), td.spec) if td else []
    if td is not None and not revisions:
        ready = _condition(td.status.get("conditions"), "Ready")
        if ready and ready.get("reason") == "InvalidSpec":
            return Readiness(False, "InvalidTaskDefinition", f"task definition {ref.family!r} {ready.get('message')}")
    pinned = parse_task_definition_ref(pin).revision if pin else _pinned_revision(service, ref, workload)
    if pinned is not None:
        for revision in revisions:
            if revision.revision == pinned:
                return revision
    if ref.revision is not None:
        for revision in revisions:
            if revision.revision == ref.revision:
                if revision.status != "ACTIVE":
                    return Readiness(
                        False,
                        "TaskDefinitionInactive",
                        f"task definition {str(ref)!r} is INACTIVE (deregistered): new deployments cannot use it",
                    )
                return revision
    else:
        active = [r for r in revisions if r.status == "ACTIVE"]
        if active:
            return active[-1]
        if revisions:
            return Readiness(
                False,
                "TaskDefinitionInactive",
                f"task definition family {ref.family!r} has no ACTIVE revision in namespace {service.namespace!r}",
            )
    return Readiness(
        False,
        "TaskDefinitionNotFound",
        f"task definition {str(ref)!r} not found: no ECSTaskDefinition of family {ref.family!r} "
        + (f"with revision {ref.revision} " if ref.revision is not None else "")
        + f"in namespace {service.namespace!r}",
    )


def _pinned_revision(service: Snapshot, ref: TaskDefinitionRef, workload: Mapping[str, Any] | None) -> int | None:
    """The revision in use, while the reference still names it and no new deployment is forced."""
    arn = service.status.get("taskDefinition")
    if not arn:
        return None
    try:
        pinned = parse_task_definition_ref(str(arn))
    except ValueError:
        return None
    degraded = _condition(service.status.get("conditions"), "Degraded") or {}
    if degraded.get("reason") == "RolledBack" and degraded.get("observedGeneration") == service.generation:
        return pinned.revision  # the circuit breaker's rollback holds until the spec changes
    template = ((workload or {}).get("spec") or {}).get("template", {}).get("metadata", {})
    forced = (template.get("annotations") or {}).get(ANNOTATION_FORCE)
    if service.spec.get("forceNewDeployment") and service.spec.get("forceNewDeployment") != forced:
        return None
    if pinned.family != ref.family or pinned.revision is None:
        return None
    if ref.revision is not None and ref.revision != pinned.revision:
        return None
    return pinned.revision


def make_plan(
    state: OperatorState,
    service: Snapshot,
    indexes: Indexes,
    config: Config,
    workload: Mapping[str, Any] | None,
    pin: str | None,
) -> Plan | Readiness:
    """The workload to apply and what it needs, or why there is none."""
    try:
        spec = ServiceSpec.model_validate({"serviceName": service.name, **service.spec})
        ref = parse_task_definition_ref(spec.taskDefinition)
    except (ValidationError, ValueError) as error:
        return Readiness(False, "InvalidSpec", error_message(error))
    raw = service.spec
    placement = cluster_placement(service.namespace, raw, indexes)
    if isinstance(placement, Readiness):
        return placement
    revision = resolve_revision(service, ref, indexes, workload, pin)
    if isinstance(revision, Readiness):
        return revision
    scaling = _scaling(raw)
    if isinstance(scaling, Readiness):
        return scaling
    desired, counted, held = _counts(service, indexes, workload, scaling)
    decisions = _decisions(service, indexes, config, revision, placement, desired, scaling, workload)
    if isinstance(decisions, Readiness):
        return decisions
    arn = config.task_definition_arn(ref.family, revision.revision)
    built = _build(state, service, raw, revision, ref.family, decisions, config)
    if isinstance(built, Readiness):
        return built
    workload_plan, extra = built
    hold = _failed(service, indexes, workload, workload_plan, arn)
    if hold is not None:
        rebuilt = _build_held(state, service, ref, indexes, config, workload, revision, decisions, hold)
        if isinstance(rebuilt, Readiness):
            return rebuilt
        workload_plan, extra, kept = rebuilt
        if scaling is not None:
            held = kept  # the HPA owns the count: cap its maximum
    autoscaler = _autoscaler(service, scaling, held)
    if isinstance(autoscaler, Readiness):
        return autoscaler
    deployment_config = raw.get("deploymentConfiguration") or {}
    return Plan(
        workload=workload_plan,
        extra=_owned(service, workload_plan, extra, autoscaler, decisions, scaling),
        revision=revision,
        arn=arn,
        desired=counted if scaling is not None else int(raw.get("desiredCount") or 0),
        breaker=dict(deployment_config.get("deploymentCircuitBreaker") or {}),
        autoscaler=autoscaler,
        scaling=scaling,
        hold=hold,
    )


def _autoscaler(service: Snapshot, scaling: AutoScaling | None, held: int | None) -> dict[str, Any] | Readiness | None:
    """The HPA while spec.autoScaling is set (``held``: its maximum while launches are held)."""
    if scaling is None:
        return None
    try:
        return build_autoscaler(service.name, service.namespace, scaling, {LABEL_SERVICE: service.name}, max_held=held)
    except TranslationError as error:
        return Readiness(False, "InvalidSpec", f"autoScaling: {error}")


def _scaling(raw: Mapping[str, Any]) -> AutoScaling | Readiness | None:
    """spec.autoScaling, validated (a DAEMON service has none: it runs one task per instance)."""
    if not raw.get("autoScaling") or raw.get("schedulingStrategy") == "DAEMON":
        return None
    try:
        return AutoScaling.model_validate(raw["autoScaling"])
    except ValidationError as error:
        return Readiness(False, "InvalidSpec", f"autoScaling: {error_message(error)}")


def _counts(
    service: Snapshot, indexes: Indexes, workload: Mapping[str, Any] | None, scaling: AutoScaling | None
) -> tuple[int, int, int | None]:
    """The count the workload runs, the count the service reports as desired, and the cap on
    the HPA's maximum while the throttle holds launches (None: no cap)."""
    raw = service.spec
    desired = int(raw.get("desiredCount") or 0)
    if scaling is not None:
        # the autoscaler's count once the Deployment exists; desiredCount, clamped, to start with
        live = ((workload or {}).get("spec") or {}).get("replicas")
        desired = int(live) if live is not None else initial_count(scaling, desired)
    counted = desired
    held: int | None = None
    if throttled(service.status):
        # hold launches: keep only the tasks of older, working deployments; start nothing
        # until the next attempt (the failing deployment's tasks would only fail again)
        replica_sets = sorted(
            indexes.replica_sets.get((service.namespace, service.name), []),
            key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, 0)),
        )
        working = sum(int((rs.get("status") or {}).get("readyReplicas") or 0) for rs in replica_sets[:-1])
        if scaling is not None:
            held = working  # the HPA owns the count: cap its maximum instead
        else:
            desired = min(desired, working)
    return desired, counted, held


def _decisions(
    service: Snapshot,
    indexes: Indexes,
    config: Config,
    revision: Revision,
    placement: tuple[str, list[dict[str, Any]], dict[str, Any]],
    desired: int,
    scaling: AutoScaling | None,
    workload: Mapping[str, Any] | None,
) -> ServiceDecisions | Readiness:
    """What the ECS scheduler decides for the workload (translate/service.py builds it)."""
    raw = service.spec
    cluster, strategy, selectors = placement
    deployment_config = raw.get("deploymentConfiguration") or {}
    daemon = raw.get("schedulingStrategy") == "DAEMON"
    maximum_percent = int(deployment_config.get("maximumPercent", 100 if daemon else 200))
    minimum_healthy_percent = int(deployment_config.get("minimumHealthyPercent", 0 if daemon else 100))
    surge = 0 if daemon or scaling else drain_surge(desired, maximum_percent, tasks_on_draining(indexes, service))
    try:
        delay = deregistration_delay(
            service.annotations, raw.get("loadBalancers") or [], config.deregistration_delay_seconds
        )
    except TranslationError as error:
        return Readiness(False, "InvalidSpec", str(error))
    return ServiceDecisions(
        desired_count=desired,
        daemon=daemon,
        maximum_percent=maximum_percent,
        minimum_healthy_percent=minimum_healthy_percent,
        cluster=cluster,
        drain_surge=surge,
        write_replicas=scaling is None or workload is None,
        min_ready_seconds=math.ceil(config.steady_state_seconds),
        deregistration_delay=delay,
        capacity_provider_strategy=strategy,
        capacity_provider_selectors=selectors,
        placement_constraints=list(raw.get("placementConstraints") or []),
        placement_strategy=list(raw.get("placementStrategy") or []),
        health_check_grace_period=raw.get("healthCheckGracePeriodSeconds"),
        force_new_deployment=raw.get("forceNewDeployment"),
        # only memberOf expressions read them (to expand regular expressions): gathered for
        # every reconcile, every node's labels would cost each reconcile in proportion to the nodes
        node_values=node_label_values(all_values(indexes.nodes)) if _member_of(raw) else None,
        task_tags=task_tags(
            raw.get("propagateTags"),
            raw.get("tags") or [],
            revision.request.get("tags") or [],
            {"aws:ecs:clusterName": str(raw.get("cluster") or "default"), "aws:ecs:serviceName": service.name}
            if raw.get("enableECSManagedTags")
            else None,
        ),
    )


def _failed(
    service: Snapshot,
    indexes: Indexes,
    workload: Mapping[str, Any] | None,
    workload_plan: ServiceWorkload,
    arn: str,
) -> Hold | None:
    """The hold of the PRIMARY deployment that FAILED (views.deployments.failed_hold), if it did."""
    if ((service.status.get("deployments") or [{}])[0]).get("rolloutState") != "FAILED":
        return None
    return failed_hold(
        service.status,
        ((workload or {}).get("metadata") or {}).get("annotations", {}).get(ANNOTATION_FAILED),
        list(indexes.replica_sets.get((service.namespace, service.name), [])),
        content_hash(workload_plan.manifest["spec"]["template"]),
        arn,
    )


def _build_held(
    state: OperatorState,
    service: Snapshot,
    ref: TaskDefinitionRef,
    indexes: Indexes,
    config: Config,
    workload: Mapping[str, Any] | None,
    revision: Revision,
    decisions: ServiceDecisions,
    hold: Hold,
) -> tuple[ServiceWorkload, list[dict[str, Any]], int] | Readiness:
    """The FAILED deployment launches nothing: the Deployment keeps the older deployment's
    tasks, with its template, and no more (views.deployments.Hold); with the count it keeps."""
    raw = service.spec
    older = _held_revision(service, ref, indexes, workload, hold)
    held_decisions = dataclasses.replace(
        decisions,
        desired_count=hold.keep if older is not None else 0,
        drain_surge=0,
        force_new_deployment=(hold.annotations or {}).get(ANNOTATION_FORCE)
        if older is not None
        else decisions.force_new_deployment,
    )
    rebuilt = _build(state, service, raw, older or revision, ref.family, held_decisions, config)
    if isinstance(rebuilt, Readiness) and older is not None:
        held_decisions = dataclasses.replace(held_decisions, desired_count=0)
        rebuilt = _build(state, service, raw, revision, ref.family, held_decisions, config)
    if isinstance(rebuilt, Readiness):
        return rebuilt
    workload_plan, extra = rebuilt
    workload_plan.manifest["metadata"].setdefault("annotations", {})[ANNOTATION_FAILED] = hold.annotation
    return workload_plan, extra, held_decisions.desired_count


def _owned(
    service: Snapshot,
    workload_plan: ServiceWorkload,
    extra: list[dict[str, Any]],
    autoscaler: dict[str, Any] | None,
    decisions: ServiceDecisions,
    scaling: AutoScaling | None,
) -> list[dict[str, Any]]:
    """The plan's other objects (service accounts, Services, a REPLICA service's disruption
    budget), the workload and the HPA, all owned by the service."""
    raw = service.spec
    owner = [owner_reference(API_VERSION, KIND_SERVICE, service.name, service.uid)]
    workload_plan.manifest["metadata"]["ownerReferences"] = owner
    accounts = [
        {**account, "metadata": {**account["metadata"], "namespace": service.namespace}}
        for account in workload_plan.translation.service_accounts
    ]
    if not decisions.daemon:
        extra.append(
            build_disruption_budget(
                service.name,
                service.namespace,
                None if scaling is not None else int(raw.get("desiredCount") or 0),
                decisions.minimum_healthy_percent,
            )
        )
    for extra_object in [*extra, *([autoscaler] if autoscaler else [])]:
        extra_object["metadata"]["ownerReferences"] = owner
    return accounts + extra


def _build(
    state: OperatorState,
    service: Snapshot,
    raw: Mapping[str, Any],
    revision: Revision,
    family: str,
    decisions: ServiceDecisions,
    config: Config,
) -> tuple[ServiceWorkload, list[dict[str, Any]]] | Readiness:
    """The workload running ``revision`` as ``decisions`` say, and its Services."""
    try:
        task_definition, translation = _translated(state, revision, family, config.translation)
        workload_plan = build_workload(
            service.name,
            service.namespace,
            task_definition,
            revision.revision,
            decisions,
            config.translation,
            translation=translation,
        )
        extra = _load_balancing(service, raw, workload_plan)
    except (ValidationError, TranslationError) as error:
        return Readiness(False, "InvalidSpec", f"{family}:{revision.revision}: {error_message(error)}")
    return workload_plan, extra


def _held_revision(
    service: Snapshot, ref: TaskDefinitionRef, indexes: Indexes, workload: Mapping[str, Any] | None, hold: Hold
) -> Revision | None:
    """The revision of the older deployment whose tasks a FAILED one keeps, if it is of the
    service's family and still registered (else the service keeps no task)."""
    labels = hold.labels or {}
    family, number = labels.get(LABEL_FAMILY), labels.get(LABEL_REVISION)
    if family != ref.family or not number or not number.isdigit():
        return None
    found = resolve_revision(service, ref, indexes, workload, pin=f"{family}:{number}")
    return found if isinstance(found, Revision) and found.revision == int(number) else None


_TRANSLATIONS_KEPT = 256


def _translated(
    state: OperatorState, revision: Revision, family: str, options: TranslationOptions
) -> tuple[TaskDefinition, PodTranslation]:
    """A revision's task definition and its translation into a pod. A revision never changes
    (a ControllerRevision), so they are worked out once, not parsed with pydantic and
    translated again on every reconcile of every service that runs it. Raises as
    parse_task_definition and translate_task_definition do (nothing is kept then)."""
    key = (revision.name, revision.content_hash, family, options)
    kept = state.services.translations.get(key)
    if kept is None:
        definition = parse_task_definition(revision.request, family)
        kept = (definition, translate_task_definition(definition, options, service=True))
        if len(state.services.translations) >= _TRANSLATIONS_KEPT:
            state.services.translations.pop(next(iter(state.services.translations)), None)  # the oldest
        state.services.translations[key] = kept
    return kept


def _member_of(raw: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "memberOf" for c in raw.get("placementConstraints") or [] if isinstance(c, Mapping))


def tasks_on_draining(indexes: Indexes, service: Snapshot) -> int:
    """The service's tasks still on DRAINING container instances."""
    count = 0
    for task in values_at(indexes.tasks, (service.namespace, service.name)):
        node = one(indexes.nodes, task.node) if task.node and not task.deleting else None
        if node is not None and draining(node):
            count += 1
    return count


def _load_balancing(service: Snapshot, raw: Mapping[str, Any], workload: ServiceWorkload) -> list[dict[str, Any]]:
    load_balancers = raw.get("loadBalancers") or []
    registries = raw.get("serviceRegistries") or []
    if not load_balancers and not registries:
        return []

    from ecs_facade.translate.loadbalancing import app_protocols_of, build_services
    from ecs_facade.translate.taskdefinition import ANNOTATION_CONTAINER_NAMES

    names = json.loads(workload.translation.annotations.get(ANNOTATION_CONTAINER_NAMES, "{}"))
    services: list[dict[str, Any]] = build_services(
        service.name,
        service.namespace,
        load_balancers,
        registries,
        workload.manifest["spec"]["template"]["spec"],
        {ecs: kube_name for kube_name, ecs in names.items()},
        service_type=service.annotations.get(ANNOTATION_SERVICE_TYPE, "ClusterIP"),
        app_protocols=app_protocols_of(workload.translation.annotations),
    )
    return services
