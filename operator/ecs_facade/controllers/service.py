"""ECSService: the ECS service scheduler's promises on a Deployment (or DaemonSet).

Level-based: every trigger (the service changed, a revision of its family appeared, its
workload, ReplicaSets or tasks changed) runs the same ``reconcile``: read the current state
from the operator's indexes, compute the desired workload, apply it, and write the status (counts,
ECS deployments, events, conditions) only when it differs.

Like ECS, a service resolves its task definition reference once: a bare family means the
latest ACTIVE revision *when the service is created, its reference changes or a new
deployment is forced*; a later revision does not redeploy it. ``status.taskDefinition`` is
the revision in use. When the deployment circuit breaker rolls back, the service stays on
the rolled-back-to revision until its spec changes.
"""

import contextvars
import copy
import dataclasses
import datetime
import json
import math
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import kopf
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from ecs_facade.api import (
    API_VERSION,
    FIELD_MANAGER,
    GROUP,
    KIND_SERVICE,
    LABEL_FAMILY,
    LABEL_INSTANCE_STATUS,
    LABEL_SERVICE,
    SCHEDULING_GATE_CAPACITY_PROVIDER,
    SERVICES,
)
from ecs_facade.config import BUDGETS_ALWAYS, Config, current
from ecs_facade.controllers import budgets
from ecs_facade.controllers.cluster import cluster_placement
from ecs_facade.controllers.common import (
    Logger,
    error_message,
    lock_for,
    now,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Revision,
    Snapshot,
    all_values,
    cluster_ref_name,
    one,
    revisions_of,
    values_at,
    with_statuses,
)
from ecs_facade.controllers.turns import Turns
from ecs_facade.controllers.workqueue import WorkQueue
from ecs_facade.kube import client as kube
from ecs_facade.kube.managed_fields import as_applied, created_by_update
from ecs_facade.metrics import WATCH_LAG, instrumented
from ecs_facade.model.autoscaling import AutoScaling
from ecs_facade.model.references import TaskDefinitionRef, parse_task_definition_ref
from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.taskdefinition import TaskDefinition, content_hash, parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.autoscaling import HPA_API_VERSION, build_autoscaler, initial_count
from ecs_facade.translate.capacity import gated_pod_patch, next_provider
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
from ecs_facade.views.service import Readiness, first_rollout_only, progress_only, settled
from ecs_facade.views.service_status import (
    Look,
    Planned,
    StatusReport,
    TasksSeen,
    event_type,
    seen_while_waiting,
    service_status,
)
from ecs_facade.views.service_tasks import Naming, ending, picture, unhealthy_incarnation
from ecs_facade.views.task import on_its_way, task_failures
from ecs_facade.views.throttle import holding

ANNOTATION_SERVICE_TYPE = f"{GROUP}/load-balancer-service-type"
# Co-owns a Deployment's spec.replicas for the moment the operator gives the count to the
# HorizontalPodAutoscaler: server-side apply would reset a field its only owner stops applying.
HANDOVER_MANAGER = "ecs-facade-replicas-handover"
ANNOTATION_APPLIED = budgets.ANNOTATION_APPLIED
KIND_BUDGET = "PodDisruptionBudget"

# The last status this operator wrote per service: it is the only writer, so this is never
# older than what the watch has delivered (which can lag a write by a moment).
_written: dict[tuple[str, str, str], dict[str, Any]] = {}
# When it was written (time.monotonic()), or when the service's workload was created if no
# status is written yet: a change that is progress only waits for the interval from then.
_written_at: dict[tuple[str, str, str], float] = {}
# Turns for progress-only status writes: all services' together keep to
# status_progress_writes_per_second.
_progress_turns = Turns()
# When a status write that waits (progress only) is due (time.monotonic()): a refresh is
# queued for then. Cleared by every status report, set again when it waits again.
_status_due: dict[tuple[str, str, str], float] = {}
# What was applied last per service: (digest of the desired objects, workload and HPA generations after it).
_applied: dict[tuple[str, str, str], tuple[str, int | None, int | None]] = {}
# Services whose workload runs replacements for tasks on DRAINING instances.
_surging: set[tuple[str, str]] = set()
# The last state seen per node (ACTIVE/DRAINING), to react to changes only.
_instance_states: dict[str, str] = {}
# Capacity providers chosen per pod (the watch may not show the pod's new label yet).
_assigned: dict[tuple[str, str], str] = {}


# Per service, from its first status after the operator started (seeded then without events:
# the tasks were told of before), until the service goes.
_tasks_seen: dict[tuple[str, str, str], TasksSeen] = {}
# (pod uid, task ends) of incarnations a pod event saw UNHEALTHY since the last status, per
# service: a liveness kill may restart the pod before the status batch looks at it.
_unhealthy_noted: dict[tuple[str, str], set[tuple[str, int]]] = {}
# (pod uid, task ends) -> the pod (views.service_tasks.picture) as a pod event saw that
# incarnation end, per service: the kubelet's restart in place replaces the exit's code (3,
# say) with its own (137, RestartingAllContainers) before the status batch may look.
_exits_noted: dict[tuple[str, str], dict[tuple[str, int], Mapping[str, Any]]] = {}
_exits_lock = threading.Lock()  # noted on the informer's thread, taken by a service worker
# Status fields that say nothing new by themselves: written with the next write that does
# (the stopped tasks change with the events that tell of them; what they learn afterwards,
# the exit codes of containers still stopping then, waits for the next write).
_RIDE_ALONG = ("stoppedTasks", "completedDeployment")


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


@instrumented("ecsservice")
def reconcile(namespace: str, name: str, indexes: Indexes, logger: Logger, apply: bool = True) -> bool:
    """Bring one service's workload and status in line with its spec (``apply=False``: status only).

    True: the workload was just created and the status is left to a refresh a moment later
    (the caller queues it): written now, it would say nothing but "no tasks yet", and the
    ReplicaSet and the pending tasks are about to change it anyway."""
    with lock_for(KIND_SERVICE, namespace, name):
        service: Snapshot | None = one(indexes.services, (namespace, name))
        if service is None:
            return False  # deleted; the garbage collector removes its children
        written = _written.get((namespace, name, service.uid))
        if written is not None:
            service = Snapshot(**{**service.__dict__, "status": {**service.status, **written}})
        config = current()
        daemon = service.spec.get("schedulingStrategy") == "DAEMON"
        plural = "daemonsets" if daemon else "deployments"
        workload = one(indexes.daemon_sets if daemon else indexes.deployments, (namespace, name))
        hpa = one(indexes.autoscalers, (namespace, name))
        plan = _plan(service, indexes, config, workload, pin=None)
        if isinstance(plan, Plan) and int(plan.workload.manifest["spec"].get("replicas") or 0) > plan.desired:
            _surging.add((namespace, name))
        else:
            _surging.discard((namespace, name))
        try:
            if isinstance(plan, Plan) and apply and not _unchanged(service, plan, workload, hpa):
                created = workload is None
                try:
                    workload = _apply(service, plan, plural, workload, hpa is not None)
                except AutoscalerRefused as refused:
                    plan = Readiness(
                        False, "InvalidSpec", f"autoScaling: the HorizontalPodAutoscaler was refused: {refused}"
                    )
                else:
                    if created:
                        budgets.created(namespace, name, service.uid)
                        _written_at.setdefault((namespace, name, service.uid), time.monotonic())
                    if created and (namespace, name, service.uid) not in _written:
                        return True
            if _report(service, indexes, config, plan, workload, logger):
                # the circuit breaker rolled back, or the throttle holds launches: apply that now
                service = Snapshot(
                    **{**service.__dict__, "status": {**service.status, **_written[(namespace, name, service.uid)]}}
                )
                plan = _plan(service, indexes, config, workload, pin=None)
                if isinstance(plan, Plan):
                    _apply(service, plan, plural, workload, hpa is not None)
            _protect(namespace, name, service.uid, plan, workload, indexes, config, logger)
        except kube.NamespaceTerminating:
            pass
        return False


def _protect(
    namespace: str,
    name: str,
    uid: str,
    plan: Plan | Readiness,
    workload: Mapping[str, Any] | None,
    indexes: Indexes,
    config: Config,
    logger: Logger,
) -> None:
    """The service's disruption budget, when budgets.py says it is due; a service with none
    to wait for (a DAEMON service, a spec that cannot run) holds no other budget back."""
    wanted = [e for e in plan.extra if e["kind"] == KIND_BUDGET] if isinstance(plan, Plan) else []
    if not wanted:
        budgets.not_starting(namespace, name, uid, config.disruption_budget_max_delay_seconds)
    for budget in wanted:
        budgets.protect(
            namespace,
            name,
            uid,
            budget,
            workload,
            lambda: _on_draining_instance(indexes, namespace, name),
            standing=config.disruption_budgets == BUDGETS_ALWAYS,
            delay=config.disruption_budget_delay_seconds,
            max_delay=config.disruption_budget_max_delay_seconds,
            later=lambda wait: _refresh_later(namespace, name, indexes, logger, wait),
            rate=config.disruption_budget_writes_per_second,
        )


def _refresh_later(namespace: str, name: str, indexes: Indexes, logger: Logger, wait: float) -> None:
    """A reconcile of the service in ``wait`` seconds (a standing budget is due then)."""
    if _queue is not None:
        # in the caller's context: kopf's (for the service's Events) in a worker, and on an
        # informer's thread when a deletion wakes it (controllers/informers.py runs it there)
        enqueue(namespace, name, indexes, logger, urgent=False, apply=False, delay=wait)


def _on_draining_instance(indexes: Indexes, namespace: str, name: str) -> bool:
    for task in values_at(indexes.tasks, (namespace, name)):
        node = one(indexes.nodes, task.node) if task.node else None
        if node is not None and draining(node) and not task.deleting:
            return True
    return False


def _digest(plan: "Plan") -> str:
    """What the workload's annotation vouches for (the budget has its own, see budgets.py)."""
    extra = [e for e in plan.extra if e["kind"] != KIND_BUDGET]
    return content_hash({"workload": plan.workload.manifest, "extra": extra, "autoscaler": plan.autoscaler})


def _generation(workload: Mapping[str, Any] | None) -> int | None:
    generation = ((workload or {}).get("metadata") or {}).get("generation")
    return int(generation) if generation is not None else None


def _unchanged(
    service: Snapshot, plan: "Plan", workload: Mapping[str, Any] | None, hpa: Mapping[str, Any] | None
) -> bool:
    key = (service.namespace, service.name, service.uid)
    if key not in _applied and _applied_before(plan, workload, hpa):
        # a restart: what runs is what this operator applied last, and nobody edited it since
        _applied[key] = (_digest(plan), _generation(workload), _generation(hpa))
        return True
    """Nothing to apply: the desired objects are what this operator applied last, and nobody
    changed the workload's (or its HPA's) spec since (a generation would have moved). Saves a
    request per status event of the workload; hand edits and deletions still get applied over."""
    applied = (_digest(plan), _generation(workload), _generation(hpa))
    return _applied.get(key) == applied


def _applied_before(plan: "Plan", workload: Mapping[str, Any] | None, hpa: Mapping[str, Any] | None) -> bool:
    """The workload carries the digest of this very plan, and only this operator (and the HPA,
    through the scale subresource) changed its spec and its HPA's spec."""
    if workload is None or (plan.autoscaler is not None) != (hpa is not None):
        return False
    annotations = (workload.get("metadata") or {}).get("annotations") or {}
    if annotations.get(ANNOTATION_APPLIED) != _digest(plan):
        return False
    return not _edited_by_others(workload) and not (hpa is not None and _edited_by_others(hpa))


def _edited_by_others(obj: Mapping[str, Any]) -> bool:
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        manager, subresource = entry.get("manager"), entry.get("subresource")
        if manager in (FIELD_MANAGER, HANDOVER_MANAGER) or subresource == "status":
            continue
        if subresource == "scale" and manager == "kube-controller-manager":
            continue  # the HPA moving the count it owns
        if "f:spec" in (entry.get("fieldsV1") or {}) or subresource == "scale":
            return True
    return False


class AutoscalerRefused(Exception):
    """The API server refused the HPA built from spec.autoScaling (a 422): the spec is invalid."""


def _apply(
    service: Snapshot, plan: "Plan", plural: str, live: Mapping[str, Any] | None, autoscaler_exists: bool
) -> dict[str, Any]:
    # what the tasks need to start (service accounts, Services) goes first; the disruption
    # budget comes once there are tasks to protect (budgets.py)
    for extra in plan.extra:
        if extra["kind"] != KIND_BUDGET:
            kube.apply_any(extra)
    # the digest of what is applied, on the workload: after a restart it tells that nothing changed
    digest = _digest(plan)
    manifest = copy.deepcopy(plan.workload.manifest)
    manifest["metadata"].setdefault("annotations", {})[ANNOTATION_APPLIED] = digest
    hpa = None
    key, api_version = (service.namespace, service.name, service.uid), str(manifest["apiVersion"])
    current: Mapping[str, Any] | None = None
    if live is None and plan.autoscaler is None and not autoscaler_exists and not service.status.get("autoScaling"):
        # a new workload: a POST, which the API server answers sooner than an apply that creates
        created = kube.create(manifest, plural)
        if created is not None:
            _applied[key] = (digest, _generation(created), None)
            return created
        # there already (the index has not shown it yet): as this plan made it, nothing to do
        current = live = kube.get(api_version, plural, service.namespace, service.name)
        if current is not None and _applied_before(plan, current, None):
            _applied[key] = (digest, _generation(current), None)
            return dict(current)
    if live is not None and created_by_update(live["metadata"].get("managedFields") or [], FIELD_MANAGER):
        _own_as_applied(api_version, plural, service.namespace, service.name, current)
    if plan.autoscaler is not None:
        # the HPA first: if the API server refuses it, nothing else changes
        try:
            hpa = kube.apply_any(plan.autoscaler)
        except ApiException as error:
            if error.status == 422:
                raise AutoscalerRefused(_refusal(error)) from error
            raise
        if live is not None:
            # decide on the object as it is now: the index may not show the last apply yet
            current = kube.get("apps/v1", plural, service.namespace, service.name)
            if current is not None and owns_replicas(current):
                _hand_over_replicas(manifest, current, plan.autoscaler)
    elif autoscaler_exists or service.status.get("autoScaling") is not None:
        # autoScaling removed: the HPA goes first, then the count is desiredCount's again
        kube.delete(HPA_API_VERSION, "horizontalpodautoscalers", service.namespace, service.name)
    workload = kube.apply(manifest, plural)
    if created_by_update(workload["metadata"].get("managedFields") or [], FIELD_MANAGER):
        # created by a POST that the index did not show yet: what this apply left out stayed
        _own_as_applied(api_version, plural, service.namespace, service.name, workload)
        workload = kube.apply(manifest, plural)
    if plan.autoscaler is not None and owns_replicas(workload):
        # just created with its initial count: give the count away now
        _hand_over_replicas(manifest, workload, plan.autoscaler)
        manifest = {**manifest, "spec": {k: v for k, v in manifest["spec"].items() if k != "replicas"}}
        workload = kube.apply(manifest, plural)
    _applied[key] = (digest, _generation(workload), _generation(hpa))
    return workload


def _own_as_applied(
    api_version: str, plural: str, namespace: str, name: str, current: Mapping[str, Any] | None = None
) -> None:
    """Before the first apply to a workload created with a POST: its fields become the
    operator's applied ones (kube/managed_fields.py), so that the apply removes what it no
    longer sets. One GET (none if ``current`` is the object as it is) and one write in a
    workload's life, at its first change; read again if the object moved on meanwhile (the
    Deployment controller writes its status often)."""
    for attempt in range(3):
        if current is None:  # (the index's copy has no field sets)
            current = kube.get(api_version, plural, namespace, name)
        if current is None:
            return  # deleted meanwhile: the apply creates it
        meta = current["metadata"]
        managed = as_applied(meta.get("managedFields") or [], FIELD_MANAGER)
        if managed is None:
            return
        try:
            kube.replace_managed_fields(api_version, plural, namespace, name, str(meta["resourceVersion"]), managed)
            return
        except ApiException as error:
            if error.status == 404:
                return
            if error.status not in (409, 422) or attempt == 2:
                raise
            current = None  # moved on: read it again


def _refusal(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)


def owns_replicas(workload: Mapping[str, Any], manager: str = FIELD_MANAGER) -> bool:
    """Whether ``manager``'s server-side apply owns the workload's spec.replicas."""
    return any(
        entry.get("manager") == manager
        and entry.get("operation") == "Apply"
        and "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
        for entry in (workload.get("metadata") or {}).get("managedFields") or []
    )


def _hand_over_replicas(manifest: Mapping[str, Any], live: Mapping[str, Any], hpa: Mapping[str, Any]) -> None:
    """Keep the current count while the operator's own apply stops owning it: a second field
    manager applies just spec.replicas; the HPA's first scaling takes it from that one.

    The count is put inside the HPA's range first: an HPA does nothing for a target at zero
    replicas, and moves any other count into its range anyway."""
    replicas = int((live.get("spec") or {}).get("replicas") or 0)
    replicas = max(int(hpa["spec"]["minReplicas"]), min(int(hpa["spec"]["maxReplicas"]), replicas))
    kube.apply(
        {
            "apiVersion": manifest["apiVersion"],
            "kind": manifest["kind"],
            "metadata": {"name": manifest["metadata"]["name"], "namespace": manifest["metadata"]["namespace"]},
            "spec": {"replicas": replicas},
        },
        "deployments",
        field_manager=HANDOVER_MANAGER,
    )


def _report(
    service: Snapshot,
    indexes: Indexes,
    config: Config,
    plan: Plan | Readiness,
    workload: Mapping[str, Any] | None,
    logger: Logger,
) -> bool:
    """Counts, ECS deployments, the circuit breaker, the throttle, events and conditions
    (views/service_status.py); one status write.

    Returns True when the workload must be applied again: the circuit breaker just rolled
    back, or the throttle just started holding launches.
    """
    look = _look(service, indexes, config, plan, workload)
    report = service_status(look)
    if report.settles_at is not None and _queue is not None:
        # when enough of its tasks will have run healthy for the settle time: look again
        wait = _seconds_until(report.settles_at) + 0.5
        enqueue(service.namespace, service.name, indexes, logger, urgent=True, apply=False, delay=wait)
    if report.resume_at is not None and _queue is not None:
        # launches resume when the hold is over: a reconcile then gives the workload its count back
        delay = _until({"nextAttemptAt": report.resume_at})
        enqueue(service.namespace, service.name, indexes, logger, urgent=True, apply=True, delay=delay)
    _write_status(service, indexes, config, report, look.remembered, look.now, logger)
    return report.reapply


def _look(
    service: Snapshot, indexes: Indexes, config: Config, plan: Plan | Readiness, workload: Mapping[str, Any] | None
) -> Look:
    """What the status view needs: the service's objects from the indexes, and what the
    operator remembers of its tasks (the pod events' notes are taken: told once)."""
    key = (service.namespace, service.name)
    tasks = list(indexes.tasks.get(key, []))
    # after the tasks: an exit noted before the task state that shows its restart is here
    with _exits_lock:
        exits_noted = _exits_noted.pop(key, {})
    noted = set(_unhealthy_noted.get(key) or ())
    _unhealthy_noted.get(key, set()).difference_update(noted)
    planned = _planned(plan)
    return Look(
        spec=service.spec,
        status=service.status,
        generation=service.generation,
        plan=planned,
        workload=workload,
        tasks=tasks,
        replica_sets=list(indexes.replica_sets.get(key, [])),
        naming=Naming(
            str(service.spec.get("serviceName") or service.name),
            lambda ident: config.task_arn(cluster_ref_name(service.spec.get("cluster")), ident),
            _arn_of(config),
        ),
        now=now(),
        settle_seconds=config.steady_state_seconds,
        retention_seconds=config.stopped_task_retention_seconds,
        hpa=one(indexes.autoscalers, key) if isinstance(planned, Planned) and planned.scaling is not None else None,
        remembered=_tasks_seen.get((*key, service.uid)),
        noted_unhealthy=noted,
        noted_exits=exits_noted,
    )


def _planned(plan: Plan | Readiness) -> Planned | Readiness:
    """What the status view needs of the plan."""
    if not isinstance(plan, Plan):
        return plan
    rolling = plan.workload.rolling
    return Planned(
        desired=plan.desired,
        arn=plan.arn,
        breaker=plan.breaker,
        held=plan.hold.deployment if plan.hold is not None else None,
        stalls=rolling is not None and rolling.stalls_in_ecs,
        scaling=plan.scaling,
    )


def _write_status(
    service: Snapshot,
    indexes: Indexes,
    config: Config,
    report: StatusReport,
    remembered: TasksSeen | None,
    stamp: str,
    logger: Logger,
) -> None:
    """Write the status when it changed, now or, when it only tells of progress, once the
    interval is over (a refresh is queued for then); post its new events with the write."""
    status = report.status
    before = {k: service.status.get(k) for k in status}
    memory = (service.namespace, service.name, service.uid)
    _status_due.pop(memory, None)
    if _without_times(_news(status)) == _without_times(_news(before)):
        _tasks_seen[memory] = report.seen
        return
    # tasks the scheduler started or stopped are progress, as the counts they change
    quiet = {**_news(status), "events": before.get("events")} if report.progress else _news(status)
    wait = 0.0 if report.reapply else _status_wait(memory, _news(before), quiet, config)
    if wait > 0:
        # progress only: written by a refresh once the interval is over (or with the next
        # change that is news, whichever comes first)
        _status_due[memory] = time.monotonic() + wait
        # told, with what happens meanwhile, by the write that follows
        _tasks_seen[memory] = seen_while_waiting(remembered, report.seen) if report.progress else report.seen
        enqueue(service.namespace, service.name, indexes, logger, urgent=False, apply=False, delay=wait)
        return
    kube.patch_status(API_VERSION, SERVICES, service.namespace, service.name, status)
    _written[memory] = status
    _tasks_seen[memory] = report.seen
    _written_at[memory] = time.monotonic()
    _progress_turns.forget(memory)
    involved = {
        "apiVersion": API_VERSION,
        "kind": KIND_SERVICE,
        "name": service.name,
        "namespace": service.namespace,
        "uid": service.uid,
    }
    for message in report.posted:
        kube.post_event(involved, event_type(message), "ECSServiceEvent", message, stamp)


def _news(status: Mapping[str, Any]) -> dict[str, Any]:
    """The status without what rides along with writes (_RIDE_ALONG)."""
    return {k: v for k, v in status.items() if k not in _RIDE_ALONG}


def _status_wait(
    memory: tuple[str, str, str], before: Mapping[str, Any], status: Mapping[str, Any], config: Config
) -> float:
    """Seconds until a status that only says how far a rollout got may be written (0: now).

    A first rollout's tasks go pending, then running, one by one: without this each step is a
    status write: a CRD write that the API server decodes, validates and tracks whole (it
    costs the rest of the machine more than creating the service did) and a watch event for
    every watcher. Without a pause they were most of the operator's writes (docs/performance.md).
    A new service's first status counts as progress too, from its workload's creation."""
    last = _written_at.get(memory)
    if last is None or _queue is None:
        return 0.0
    if memory in _written:
        if not progress_only(before, status):
            return 0.0
    elif not first_rollout_only(status):
        return 0.0
    wait = last + config.status_min_interval_seconds - time.monotonic()
    # then its turn: a burst of rollouts reports progress at a bounded rate (controllers/turns.py)
    return wait if wait > 0 else _progress_turns.wait(memory, config.status_progress_writes_per_second)


def _seconds_until(stamp: str) -> float:
    until = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    return max(0.0, (until - datetime.datetime.now(datetime.UTC)).total_seconds())


def _until(throttle: Mapping[str, Any]) -> float:
    """Seconds until the throttle's next attempt, and one more: the times have whole seconds,
    and the hold is over only once the clock is past its end."""
    until = datetime.datetime.strptime(str(throttle["nextAttemptAt"]), "%Y-%m-%dT%H:%M:%SZ")
    left = until.replace(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)
    return max(0.0, left.total_seconds()) + 1.0


def throttled(status: Mapping[str, Any]) -> bool:
    """Launches are held: the throttle's next attempt is still in the future."""
    return holding(status.get("throttle") or {}, now())


def _without_times(status: Mapping[str, Any]) -> Any:
    """Status compared without timestamps that change on every computation."""

    def strip(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: strip(v) for k, v in value.items() if k not in ("lastTransitionTime", "updatedAt")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(status)


def _condition(conditions: Any, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or [] if c.get("type") == type_), None)


def _arn_of(config: Config) -> Any:
    def arn(labels: Mapping[str, str]) -> str | None:
        family, revision = labels.get(LABEL_FAMILY), labels.get(LABEL_REVISION)
        return config.task_definition_arn(family, int(revision)) if family and revision else None

    return arn


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


def _plan(
    service: Snapshot, indexes: Indexes, config: Config, workload: Mapping[str, Any] | None, pin: str | None
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
    cluster, strategy, selectors = placement
    revision = resolve_revision(service, ref, indexes, workload, pin)
    if isinstance(revision, Readiness):
        return revision
    deployment_config = raw.get("deploymentConfiguration") or {}
    daemon = raw.get("schedulingStrategy") == "DAEMON"
    scaling = None
    if raw.get("autoScaling") and not daemon:
        try:
            scaling = AutoScaling.model_validate(raw["autoScaling"])
        except ValidationError as error:
            return Readiness(False, "InvalidSpec", f"autoScaling: {error_message(error)}")
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
    maximum_percent = int(deployment_config.get("maximumPercent", 100 if daemon else 200))
    minimum_healthy_percent = int(deployment_config.get("minimumHealthyPercent", 0 if daemon else 100))
    surge = 0 if daemon or scaling else drain_surge(desired, maximum_percent, tasks_on_draining(indexes, service))
    try:
        delay = deregistration_delay(
            service.annotations, raw.get("loadBalancers") or [], config.deregistration_delay_seconds
        )
    except TranslationError as error:
        return Readiness(False, "InvalidSpec", str(error))
    decisions = ServiceDecisions(
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
    arn = config.task_definition_arn(ref.family, revision.revision)
    built = _build(service, raw, revision, ref.family, decisions, config)
    if isinstance(built, Readiness):
        return built
    workload_plan, extra = built
    hold = None
    if ((service.status.get("deployments") or [{}])[0]).get("rolloutState") == "FAILED":
        hold = failed_hold(
            service.status,
            ((workload or {}).get("metadata") or {}).get("annotations", {}).get(ANNOTATION_FAILED),
            list(indexes.replica_sets.get((service.namespace, service.name), [])),
            content_hash(workload_plan.manifest["spec"]["template"]),
            arn,
        )
    if hold is not None:
        # the FAILED deployment launches nothing: the Deployment keeps the older deployment's
        # tasks, with its template, and no more (views.deployments.Hold)
        older = _held_revision(service, ref, indexes, workload, hold)
        held_decisions = dataclasses.replace(
            decisions,
            desired_count=hold.keep if older is not None else 0,
            drain_surge=0,
            force_new_deployment=(hold.annotations or {}).get(ANNOTATION_FORCE)
            if older is not None
            else decisions.force_new_deployment,
        )
        rebuilt = _build(service, raw, older or revision, ref.family, held_decisions, config)
        if isinstance(rebuilt, Readiness) and older is not None:
            held_decisions = dataclasses.replace(held_decisions, desired_count=0)
            rebuilt = _build(service, raw, revision, ref.family, held_decisions, config)
        if isinstance(rebuilt, Readiness):
            return rebuilt
        workload_plan, extra = rebuilt
        workload_plan.manifest["metadata"].setdefault("annotations", {})[ANNOTATION_FAILED] = hold.annotation
        if scaling is not None:
            held = held_decisions.desired_count  # the HPA owns the count: cap its maximum
    autoscaler = None
    if scaling is not None:
        try:
            autoscaler = build_autoscaler(
                service.name, service.namespace, scaling, {LABEL_SERVICE: service.name}, max_held=held
            )
        except TranslationError as error:
            return Readiness(False, "InvalidSpec", f"autoScaling: {error}")
    owner = [owner_reference(API_VERSION, KIND_SERVICE, service.name, service.uid)]
    workload_plan.manifest["metadata"]["ownerReferences"] = owner
    accounts = [
        {**account, "metadata": {**account["metadata"], "namespace": service.namespace}}
        for account in workload_plan.translation.service_accounts
    ]
    if not daemon:
        extra.append(
            build_disruption_budget(
                service.name,
                service.namespace,
                None if scaling is not None else int(raw.get("desiredCount") or 0),
                minimum_healthy_percent,
            )
        )
    for extra_object in [*extra, *([autoscaler] if autoscaler else [])]:
        extra_object["metadata"]["ownerReferences"] = owner
    return Plan(
        workload=workload_plan,
        extra=accounts + extra,
        revision=revision,
        arn=arn,
        desired=counted if scaling is not None else int(raw.get("desiredCount") or 0),
        breaker=dict(deployment_config.get("deploymentCircuitBreaker") or {}),
        autoscaler=autoscaler,
        scaling=scaling,
        hold=hold,
    )


def _build(
    service: Snapshot,
    raw: Mapping[str, Any],
    revision: Revision,
    family: str,
    decisions: ServiceDecisions,
    config: Config,
) -> tuple[ServiceWorkload, list[dict[str, Any]]] | Readiness:
    """The workload running ``revision`` as ``decisions`` say, and its Services."""
    try:
        task_definition, translation = _translated(revision, family, config.translation)
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


# Parsed and translated revisions: (revision name, content hash, family, options) -> both.
_translations: dict[tuple[str, str, str, TranslationOptions], tuple[TaskDefinition, PodTranslation]] = {}
_TRANSLATIONS_KEPT = 256


def _translated(revision: Revision, family: str, options: TranslationOptions) -> tuple[TaskDefinition, PodTranslation]:
    """A revision's task definition and its translation into a pod. A revision never changes
    (a ControllerRevision), so they are worked out once, not parsed with pydantic and
    translated again on every reconcile of every service that runs it. Raises as
    parse_task_definition and translate_task_definition do (nothing is kept then)."""
    key = (revision.name, revision.content_hash, family, options)
    kept = _translations.get(key)
    if kept is None:
        definition = parse_task_definition(revision.request, family)
        kept = (definition, translate_task_definition(definition, options, service=True))
        if len(_translations) >= _TRANSLATIONS_KEPT:
            _translations.pop(next(iter(_translations)), None)  # the oldest
        _translations[key] = kept
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
    import json

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


# --- triggers: every watch event only queues the service's key ----------------------------

_queue: WorkQueue | None = None
# What was queued last per service: (uid, generation, annotations); the events of the
# operator's own status writes repeat it and queue nothing.
_seen: dict[tuple[str, str], tuple[str, int, str]] = {}


def _work(key: Hashable, apply: bool, context: Any) -> None:
    namespace, name = cast(tuple[str, str], key)
    indexes, logger, variables = context
    # in the caller's context variables: kopf's loggers find its event queue through them
    if variables.run(reconcile, namespace, name, indexes, logger, apply=apply) and _queue is not None:
        _queue.add(key, urgent=False, apply=False, context=context)


@kopf.on.startup()
def start_service_workers(**_: Any) -> None:
    global _queue
    config = current()
    _queue = WorkQueue(
        "ecsservice",
        _work,
        workers=config.service_workers,
        urgent_workers=max(1, config.service_workers // 4),  # kept free for new services and spec changes
        batch_seconds=config.status_batch_seconds,
        held=True,  # until the informers' first lists filled every index (release_service_workers)
    )
    _queue.start()


def release_service_workers() -> None:
    """The informers' first lists filled every index (controllers/informers.py,
    start_informers): from now on the service workers take keys. Before, a reconcile could
    find a service without its task definition."""
    if _queue is not None:
        _queue.release()


@kopf.on.cleanup()
def stop_service_workers(**_: Any) -> None:
    if _queue is not None:
        _queue.stop()


def enqueue(
    namespace: str,
    name: str,
    indexes: Indexes,
    logger: Logger,
    *,
    urgent: bool,
    apply: bool,
    variables: contextvars.Context | None = None,
    delay: float | None = None,
) -> None:
    """Queue a reconcile of the service (from any handler, in the loop or in a thread), in
    a copy of the caller's context variables (``variables``: in that context instead);
    ``delay``: due that many seconds from now instead of at once or after the batch."""
    assert _queue is not None, "the service workers start with the operator"
    context = (indexes, logger, contextvars.copy_context() if variables is None else variables)
    _queue.add((namespace, name), urgent=urgent, apply=apply, context=context, delay=delay)


def service_changed(
    kind: str,
    meta: Mapping[str, Any],
    indexes: Indexes,
    queueing: Callable[[], tuple[Logger, contextvars.Context | None]],
) -> None:
    """The service appeared (listed or created), its spec or annotations changed, or it went
    (from controllers/informers.py; ``meta``: its metadata; ``queueing``: the logger and the
    context to reconcile with, asked for only when a reconcile is queued)."""
    key = (str(meta.get("namespace") or ""), str(meta["name"]))
    if kind == "DELETED":
        _seen.pop(key, None)
        _forget(key, str(meta.get("uid") or ""))
        return
    seen = (str(meta.get("uid")), int(meta.get("generation") or 0), content_hash(meta.get("annotations") or {}))
    if _seen.get(key) == seen:
        return  # the echo of a status write
    if key not in _seen and kind == "ADDED" and one(indexes.deployments, key) is None:
        budgets.sighted(*key, seen[0])  # starting from now (its budget waits with the others')
    if key not in _seen and kind == "ADDED" and meta.get("creationTimestamp"):
        created = datetime.datetime.strptime(str(meta["creationTimestamp"]), "%Y-%m-%dT%H:%M:%SZ")
        lag = datetime.datetime.now(datetime.UTC) - created.replace(tzinfo=datetime.UTC)
        WATCH_LAG.labels(KIND_SERVICE).observe(max(0.0, lag.total_seconds()))
    _seen[key] = seen
    logger, variables = queueing()
    enqueue(*key, indexes, logger, urgent=True, apply=True, variables=variables)


def _forget(key: tuple[str, str], uid: str) -> None:
    """A deleted service's memories (the garbage collector removes its children)."""
    for memory in (_written, _written_at, _applied, _status_due, _tasks_seen):
        memory.pop((*key, uid), None)
    _unhealthy_noted.pop(key, None)
    _exits_noted.pop(key, None)
    _progress_turns.forget((*key, uid))
    budgets.forget(*key, uid, max_delay=current().disruption_budget_max_delay_seconds)
    _surging.discard(key)


def _owned_by_service(body: Mapping[str, Any], service: Snapshot | None) -> bool:
    owners = {ref.get("uid") for ref in body.get("metadata", {}).get("ownerReferences", [])}
    return service is not None and service.uid in owners


def workload_event(
    body: Mapping[str, Any],
    namespace: str,
    name: str,
    indexes: Indexes,
    logger: Logger,
    *,
    deleted: bool,
    variables: contextvars.Context | None = None,
) -> None:
    """The service's workload (Deployment or DaemonSet) or HPA changed (from
    controllers/informers.py): refresh the status (status.autoScaling
    follows the HPA); put back edits and deletions made by hand (the reconcile applies only
    when the workload's generation moved away from what was applied). A deletion costs a
    GET: call it off the event loop then."""
    service: Snapshot | None = one(indexes.services, (namespace, name))
    if not _owned_by_service(body, service):
        return
    assert service is not None
    if deleted:
        # not one the garbage collector removed because the service is gone (the index may lag)
        current = kube.get(API_VERSION, SERVICES, namespace, name)
        if current is None or current["metadata"].get("deletionTimestamp"):
            return
        _applied.pop((namespace, name, service.uid), None)  # apply again although the spec did not change
    # a rollout's end is news: its status goes at once, not with the next batch
    urgent = deleted or settled(body)
    enqueue(namespace, name, indexes, logger, urgent=urgent, apply=True, variables=variables)


def tasks_changed(
    body: Mapping[str, Any],
    namespace: str,
    name: str,
    indexes: Indexes,
    logger: Logger,
    *,
    deleted: bool = False,
    variables: contextvars.Context | None = None,
) -> None:
    """A deployment's (ReplicaSet's) or a task's (pod's) state (from controllers/informers.py)
    changed: ECS deployments, breaker and events (``variables``: the context to reconcile
    in, for callers outside kopf's handlers).

    The workload is applied again only while a drain moves the service's tasks (the number of
    replacements follows the tasks left on DRAINING instances)."""
    if one(indexes.services, (namespace, name)) is None:
        return
    exited = None
    if deleted and body.get("kind") == "Pod":
        _assigned.pop((namespace, body["metadata"]["name"]), None)  # a gone pod needs no memory
    elif body.get("kind") == "Pod":
        if (unhealthy := unhealthy_incarnation(body, now())) is not None:
            _unhealthy_noted.setdefault((namespace, name), set()).add(unhealthy)
        exited = ending(body)
        if exited:  # its exit, with the process's own exit code, until the status is written
            ident, seen = (str(body["metadata"].get("uid") or ""), task_failures(body)), picture(body)
            with _exits_lock:
                _exits_noted.setdefault((namespace, name), {})[ident] = seen
    node = one(indexes.nodes, str((body.get("spec") or {}).get("nodeName") or ""))
    moving = (namespace, name) in _surging or (node is not None and draining(node))
    # a failing task is news for the circuit breaker and the throttle, which judge the rollout
    # as it is at that moment (a moment later its replacement may make it look complete):
    # it does not wait for the batch
    urgent = moving or _failing(body, exited)
    delay = None if urgent or deleted else _counted_later(namespace, name, body, indexes)
    enqueue(namespace, name, indexes, logger, urgent=urgent, apply=moving, variables=variables, delay=delay)


def _counted_later(namespace: str, name: str, body: Mapping[str, Any], indexes: Indexes) -> float | None:
    """Seconds until the status refresh already queued for the service, when the event is of
    a task on its way (views.task.on_its_way) and the service's status write waits for its
    interval or its turn: that refresh counts the task. Sooner, a reconcile could only find
    a progress write that must wait anyway (in a burst of new services, most of their pod
    events). None: the usual batch."""
    service = one(indexes.services, (namespace, name))
    due = _status_due.get((namespace, name, service.uid)) if service is not None else None
    if due is None or body.get("kind") != "Pod" or not on_its_way(body):
        return None
    left = due - time.monotonic()
    return left if left > 0 else None


def _failing(body: Mapping[str, Any], exited: Mapping[str, Any] | None) -> bool:
    """``exited``: the pod's views.service_tasks.ending, worked out already."""
    status = body.get("status") or {}
    return body.get("kind") == "Pod" and (
        status.get("phase") == "Failed"
        or any(c.get("restartCount") for c in status.get("containerStatuses") or [])
        or exited is not None  # an essential exit, before the kubelet restarts the task
    )


def instance_state_changed(
    name: str,
    labels: Mapping[str, str],
    indexes: Indexes,
    service_logger: Callable[[str, str], Logger],
    variables: contextvars.Context | None = None,
) -> None:
    """An instance (node) became DRAINING (or ACTIVE): the services with tasks on it start
    (or stop) replacing them (from controllers/informers.py; ``service_logger``: the logger
    of a service by namespace and name)."""
    state = labels.get(LABEL_INSTANCE_STATUS, "ACTIVE")
    if _instance_states.get(name, "ACTIVE") == state:
        return
    _instance_states[name] = state
    affected = {
        (pod["metadata"]["namespace"], (pod["metadata"].get("labels") or {})[LABEL_SERVICE])
        for pod in values_at(indexes.pods_by_node, name)
        if LABEL_SERVICE in (pod["metadata"].get("labels") or {})
    }
    for namespace, service in sorted(affected):
        if one(indexes.services, (namespace, service)) is not None:
            logger = service_logger(namespace, service)
            enqueue(namespace, service, indexes, logger, urgent=True, apply=True, variables=variables)


def assign_capacity_provider(
    namespace: str, service_name: str, pod: Mapping[str, Any], indexes: Indexes, logger: Logger
) -> None:
    """Place one gated task with the provider the strategy's base and weights give it next,
    counting the service's tasks already placed per provider; then lift the gate."""
    with lock_for(KIND_SERVICE, namespace, service_name):
        service: Snapshot | None = one(indexes.services, (namespace, service_name))
        if service is None:
            return
        placement = cluster_placement(namespace, service.spec, indexes)
        if isinstance(placement, Readiness) or not placement[1]:
            return
        _, strategy, selectors = placement
        placed: dict[str, int] = {}
        for task in values_at(indexes.tasks, (namespace, service_name)):
            provider = _assigned.get((namespace, task.name)) or task.capacity_provider
            if provider and task.phase not in ("Succeeded", "Failed"):
                placed[provider] = placed.get(provider, 0) + 1
        pod_name = pod["metadata"]["name"]
        if (namespace, pod_name) in _assigned:
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
        _assigned[(namespace, pod_name)] = provider
        logger.info("task %s/%s placed with capacity provider %s", namespace, pod_name, provider)
