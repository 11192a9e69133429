"""ECSTask: one ECS task (RunTask) as one pod that is never restarted.

The task definition revision is resolved once, when the task starts (``status
.taskDefinitionArn``). The pod carries the translated task; its state is the task's
(``views/task.py``). When an essential container exits the task stops: the exit codes are
recorded, then the pod is deleted so its other containers stop too. ``desiredStatus:
STOPPED`` is ECS's StopTask: the pod is deleted and the task stays STOPPING (UserInitiated,
with the caller's reason) until its containers have stopped, whatever they exit with. A
STOPPED task stays describable for the retention time, then it and its pod are deleted.
"""

import datetime
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from ecs_facade.api import API_VERSION, GROUP, KIND_TASK, LABEL_TASK, TASKS, VERSION
from ecs_facade.config import Config
from ecs_facade.controllers.cluster import cluster_placement
from ecs_facade.controllers.common import (
    Logger,
    error_message,
    now,
    ready_conditions,
    remember_handler_context,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Revision,
    Snapshot,
    all_values,
    cluster_name,
    cluster_ref_name,
    one,
    revisions_of,
    with_statuses,
)
from ecs_facade.controllers.service import enqueue as enqueue_service
from ecs_facade.controllers.state import OperatorState, of
from ecs_facade.kube import client as kube
from ecs_facade.metrics import instrumented
from ecs_facade.model.references import parse_task_definition_ref
from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.capacity import cluster_pod_placement, gated_pod_patch, next_provider
from ecs_facade.translate.overrides import apply_overrides
from ecs_facade.translate.ownership import owner_reference
from ecs_facade.translate.placement import apply_placement, service_placement
from ecs_facade.translate.task import build_task_pod
from ecs_facade.translate.taskdefinition import PodTranslation
from ecs_facade.views.refusals import api_refusal, refusal_reason, refused_task
from ecs_facade.views.service import Readiness
from ecs_facade.views.task import STOPPED_BY_USER, observe_task, started_at


@instrumented("ecstask")
def reconcile(state: OperatorState, namespace: str, name: str, indexes: Indexes, logger: Logger) -> None:
    with state.locks.lock_for(KIND_TASK, namespace, name):
        task: Snapshot | None = one(indexes.ecs_tasks, (namespace, name))
        if task is None:
            return
        try:
            status = {**task.status, **state.tasks.written.get((namespace, name, task.uid), {})}
            if status.get("lastStatus") == "STOPPED":
                return  # final; the retention timer removes it
            if not status.get("taskDefinitionArn"):
                _start(state, task, status, indexes, logger)
                return
            _observe(state, task, status, one(indexes.task_pods, (namespace, name)))
        finally:
            # the task went while this ran: the informer took it out of the index before it
            # forgot the task (informers.Events.changed), maybe before this wrote its status
            current: Snapshot | None = one(indexes.ecs_tasks, (namespace, name))
            if current is None or current.uid != task.uid:
                state.tasks.forget(namespace, name, task.uid)


def _revision(task: Snapshot, indexes: Indexes) -> Revision | tuple[str, str]:
    try:
        ref = parse_task_definition_ref(str(task.spec.get("taskDefinition", "")))
    except ValueError as error:
        return "InvalidSpec", str(error)
    td = one(indexes.task_definitions, (task.namespace, ref.family))
    revisions = with_statuses(revisions_of(indexes.revisions, task.namespace, td.name), td.spec) if td else []
    candidates = [r for r in revisions if r.status == "ACTIVE" and ref.revision in (None, r.revision)]
    if candidates:
        return candidates[-1]
    if any(r.revision == ref.revision for r in revisions):
        return (
            "TaskDefinitionInactive",
            f"task definition {str(ref)!r} is INACTIVE (deregistered): new tasks cannot use it",
        )
    return "TaskDefinitionNotFound", f"task definition {str(ref)!r} not found in namespace {task.namespace!r}"


def _start(state: OperatorState, task: Snapshot, status: dict[str, Any], indexes: Indexes, logger: Logger) -> None:
    config = state.config
    if task.spec.get("desiredStatus") == "STOPPED":
        _write(state, task, {**status, **_stopped(task, "UserInitiated", task.spec.get("reason") or STOPPED_BY_USER)})
        return
    placement = cluster_placement(task.namespace, task.spec, indexes)
    if isinstance(placement, Readiness):
        _write(
            state,
            task,
            {
                **status,
                "conditions": ready_conditions(status, task.generation, False, placement.reason, placement.message),
            },
        )
        return
    cluster = placement[0]
    revision = _revision(task, indexes)
    if not isinstance(revision, Revision):
        _write(
            state,
            task,
            {**status, "lastStatus": None, "conditions": ready_conditions(status, task.generation, False, *revision)},
        )
        return
    family = parse_task_definition_ref(str(task.spec["taskDefinition"])).family
    group = task.spec.get("group") or f"family:{family}"
    try:
        pod, translation, provider = _task_pod(config, task, revision, family, group, placement, indexes)
    except (ValidationError, TranslationError) as error:
        _write(
            state,
            task,
            {
                **status,
                "conditions": ready_conditions(status, task.generation, False, "InvalidSpec", error_message(error)),
            },
        )
        return
    provisioning = _provisioning(config, task, status, cluster, family, revision, provider, group)
    try:
        for account in translation.service_accounts:
            kube.apply_core({**account, "metadata": {**account["metadata"], "namespace": task.namespace}})
        kube.apply_core(pod)
    except kube.NamespaceTerminating:
        return
    except ApiException as error:
        refusal = api_refusal(error.status, error.body)
        if refusal is None:
            raise  # kopf retries: no refusal of the task (the operator's rights, a timeout, ...)
        _refused(state, task, {**status, **provisioning}, refusal, logger)
        return
    logger.info("task %s/%s started from %s:%d", task.namespace, task.name, family, revision.revision)
    _write(state, task, {**status, **provisioning})


def _refused(state: OperatorState, task: Snapshot, status: dict[str, Any], refusal: str, logger: Logger) -> None:
    """The API server refused the task's pod (the namespace's Pod Security admission, a
    quota, a webhook: views/refusals.py): as ECS's RunTask fails, the task never runs and
    is not tried again. It is STOPPED, TaskFailedToStart, with the refusal as the reason,
    Ready False, and a Warning event. Its ServiceAccount (one per IAM role, shared by every
    task and service of the role in the namespace, owned by none) stays: another task may
    use it, and without pods it grants nothing."""
    reason = refusal_reason(refusal)
    stamp = now()
    update = {
        **refused_task(refusal),
        "stoppingAt": stamp,
        "stoppedAt": stamp,
        "conditions": ready_conditions(status, task.generation, False, reason, refusal),
    }
    # info: a warning from kopf's object logger would post a second Event of its own
    logger.info("task %s/%s failed to start: %s", task.namespace, task.name, refusal)
    if _write(state, task, {**status, **update}):
        involved = {
            "apiVersion": API_VERSION,
            "kind": KIND_TASK,
            "name": task.name,
            "namespace": task.namespace,
            "uid": task.uid,
        }
        kube.post_event(involved, "Warning", reason, update["stoppedReason"], stamp)


def _task_pod(
    config: Config,
    task: Snapshot,
    revision: Revision,
    family: str,
    group: str,
    placement: tuple[str, list[dict[str, Any]], dict[str, Any]],
    indexes: Indexes,
) -> tuple[dict[str, Any], PodTranslation, str | None]:
    """The task's pod (its overrides, placement and capacity provider applied), its
    translation and its capacity provider; raises ValidationError or TranslationError."""
    cluster, strategy, selectors = placement
    definition = apply_overrides(parse_task_definition(revision.request, family), task.spec.get("overrides"))
    pod, translation = build_task_pod(definition, revision.revision, task.namespace, config.translation)
    constraints, strategies = task.spec.get("placementConstraints"), task.spec.get("placementStrategy")
    if constraints or strategies:
        fragment = service_placement(constraints, strategies, {LABEL_TASK: task.name})
        pod["spec"] = apply_placement(pod["spec"], fragment)
    pod["spec"] = apply_placement(pod["spec"], cluster_pod_placement(cluster))
    provider = _capacity_provider(task, strategy, indexes)
    if provider:
        change = gated_pod_patch(pod["spec"].get("affinity"), provider, selectors)
        pod["spec"]["affinity"] = change["affinity"]
        pod["metadata"]["labels"].update(change["label"])
    pod["metadata"]["name"] = task.name
    pod["metadata"]["labels"][LABEL_TASK] = task.name
    pod["metadata"]["annotations"].update(
        {f"{GROUP}/group": group, f"{GROUP}/started-by": task.spec.get("startedBy") or ""}
    )
    pod["metadata"]["ownerReferences"] = [owner_reference(API_VERSION, KIND_TASK, task.name, task.uid)]
    return pod, translation, provider


def _provisioning(
    config: Config,
    task: Snapshot,
    status: dict[str, Any],
    cluster: str,
    family: str,
    revision: Revision,
    provider: str | None,
    group: str,
) -> dict[str, Any]:
    """The status of a task whose pod was just created (RunTask's answer)."""
    return {
        "taskArn": config.task_arn(cluster, task.uid.replace("-", "")),
        "taskDefinitionArn": config.task_definition_arn(family, revision.revision),
        "clusterArn": config.cluster_arn(cluster),
        "capacityProviderName": provider,
        "group": group,
        "startedBy": task.spec.get("startedBy"),
        "podName": task.name,
        "lastStatus": "PROVISIONING",
        "desiredStatus": "RUNNING",
        "createdAt": now(),
        "conditions": ready_conditions(status, task.generation, False, "Provisioning", "the task's pod was created"),
    }


def _capacity_provider(task: Snapshot, strategy: list[dict[str, Any]], indexes: Indexes) -> str | None:
    """The provider for this task: the strategy's next one, counting the running tasks of the
    same group and cluster per provider (as ECS splits one RunTask call's tasks)."""
    if not strategy:
        return None
    placed: dict[str, int] = {}
    group = task.spec.get("group") or ""
    for other in all_values(indexes.ecs_tasks):
        provider = other.status.get("capacityProviderName")
        if (
            provider
            and other.namespace == task.namespace
            and (other.spec.get("group") or "") == group
            and other.spec.get("cluster") == task.spec.get("cluster")
            and other.status.get("lastStatus") != "STOPPED"
        ):
            placed[provider] = placed.get(provider, 0) + 1
    chosen: str = next_provider(strategy, placed)
    return chosen


def _observe(state: OperatorState, task: Snapshot, status: dict[str, Any], pod: dict[str, Any] | None) -> None:
    """The task's status from its pod (views.task.observe_task), stamped; the pod is deleted
    when the task stops (so its other containers stop too) or StopTask asks for it."""
    requested = (task.spec.get("reason") or STOPPED_BY_USER) if task.spec.get("desiredStatus") == "STOPPED" else None
    observed = observe_task(pod, status, requested)
    if observed is None:
        return
    update = dict(observed.update)
    if pod is not None:
        begun = started_at(pod)
        if begun and not status.get("startedAt"):
            update["startedAt"] = begun
        if (pod.get("spec") or {}).get("nodeName") and not status.get("pullStartedAt"):
            update["pullStartedAt"] = now()
    if update.get("stopCode") and not status.get("stoppingAt"):
        update["stoppingAt"] = now()
    if update["lastStatus"] == "STOPPED" and not status.get("stoppedAt"):
        update["stoppedAt"] = update.get("stoppingAt") or now()
    if observed.delete_pod and pod is not None:
        kube.delete_pod(task.namespace, pod["metadata"]["name"])
    ready = update["lastStatus"] == "RUNNING"
    reason = {"RUNNING": "Running", "STOPPED": "Stopped", "STOPPING": "Stopping"}.get(update["lastStatus"], "Starting")
    update["conditions"] = ready_conditions(
        status, task.generation, ready, reason, f"the task is {update['lastStatus']}"
    )
    _write(state, task, {**status, **update})


def _stopped(task: Snapshot, code: str, reason: str) -> dict[str, Any]:
    stamp = now()
    return {
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": code,
        "stoppedReason": reason,
        "stoppingAt": stamp,
        "stoppedAt": stamp,
    }


def _write(state: OperatorState, task: Snapshot, status: dict[str, Any]) -> bool:
    """Write the status when it changed; whether it was written."""
    status = {**status, "observedGeneration": task.generation}
    if status.get("stopCode") and not status.get("stoppingAt"):
        status["stoppingAt"] = now()
    written = state.tasks.written
    current = {**task.status, **written.get((task.namespace, task.name, task.uid), {})}
    if {k: current.get(k) for k in status} == status:
        return False
    kube.patch_status(API_VERSION, TASKS, task.namespace, task.name, status)
    written[(task.namespace, task.name, task.uid)] = status
    return True


@kopf.on.resume(GROUP, VERSION, TASKS)
@kopf.on.create(GROUP, VERSION, TASKS)
@kopf.on.update(GROUP, VERSION, TASKS, field="spec")
def task_changed(name: str, namespace: str | None, body: kopf.Body, logger: Logger, memo: kopf.Memo, **_: Any) -> None:
    remember_handler_context(memo)  # for the pod informer's reconciles of standalone tasks
    indexes = Indexes.of(memo)
    # kopf's watch may bring the task (or its new spec) before the informer does
    if not indexes.caught_up(KIND_TASK, body):
        raise kopf.TemporaryError("the task is not in the operator's index yet", delay=1)
    reconcile(of(memo), namespace or "", name, indexes, logger)


@kopf.on.delete(GROUP, VERSION, TASKS, optional=True)
def task_deleted(name: str, namespace: str | None, uid: str | None, memo: kopf.Memo, **_: Any) -> None:
    """The task goes (its retention timer's finalizer lets kopf see the deletion; ``optional``:
    no finalizer of its own): what the operator kept of it goes too."""
    of(memo).tasks.forget(namespace or "", name, uid or "")


@kopf.timer(GROUP, VERSION, TASKS, interval=10, idle=0, when=lambda status, **_: status.get("lastStatus") == "STOPPED")
def stopped_task_retention(name: str, namespace: str | None, status: kopf.Status, memo: kopf.Memo, **_: Any) -> None:
    """Stopped tasks stay describable for the retention time (ECS: about an hour), then go."""
    stopped = status.get("stoppedAt")
    if not stopped:
        return
    moment = datetime.datetime.strptime(str(stopped), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    age = (datetime.datetime.now(datetime.UTC) - moment).total_seconds()
    if age >= of(memo).config.stopped_task_retention_seconds:
        kube.delete(API_VERSION, TASKS, namespace or "", name)


def cluster_event(state: OperatorState, name: str, spec: Mapping[str, Any], indexes: Indexes, logger: Logger) -> None:
    """A cluster appeared, its spec changed or it went (from controllers/informers.py, not
    for its status writes): services naming it are placed anew (queued) and tasks that
    waited for it (ClusterNotFound) start."""
    ecs_name = cluster_name(name, spec)
    for service in all_values(indexes.services):
        if cluster_ref_name(service.spec.get("cluster")) == ecs_name:
            enqueue_service(state, service.namespace, service.name, indexes, logger, urgent=True, apply=True)
    for task in all_values(indexes.ecs_tasks):
        if cluster_ref_name(task.spec.get("cluster")) == ecs_name and not task.status.get("taskDefinitionArn"):
            reconcile(state, task.namespace, task.name, indexes, logger)
