"""A service's ECS deployments (describe-services ``deployments[]``) from its ReplicaSets.

Each ReplicaSet of the service's Deployment is one ECS deployment: the newest is PRIMARY,
older ones with tasks are ACTIVE, drained ones INACTIVE (the API's third deployment status:
"completely replaced"; the last few are listed after the others). The PRIMARY deployment's ``rolloutState`` is
IN_PROGRESS until it reaches a steady state (COMPLETED) or the circuit breaker fails it
(FAILED); both are final, as in ECS: only a new deployment is judged again. Older deployments
keep the state they had when a newer one replaced them, as long as they are listed.

**Steady** here means what ECS waits for before it calls a deployment COMPLETED: its tasks
are RUNNING and healthy, and stay so. A task is *healthy* once its pod has been Ready (its
containers running and, with a container ``healthCheck``, its readiness probe passing)
without a break for ``settle_seconds``; a task that runs for a moment and exits never is,
so a revision whose tasks exit a second after they start is never reported COMPLETED.
"""

import dataclasses
import datetime
import functools
import hashlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_facade.api import GROUP

MAX_INACTIVE = 5  # drained deployments still listed after the others, newest first

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
# On a service's Deployment while a FAILED deployment launches nothing: "<its id> <digest of
# the pod template that failed>" (see failed_hold)
ANNOTATION_FAILED = f"{GROUP}/failed-deployment"
STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class TaskState:
    """What the deployment view needs of one pod (an ECS task)."""

    name: str
    template_hash: str
    phase: str
    restarts: int
    unschedulable: str | None  # the scheduler's reason, while it cannot place the pod
    capacity_provider: str | None = None  # the provider the task was placed with, if any
    node: str | None = None  # the container instance it is bound to
    deleting: bool = False  # being stopped (deletionTimestamp set)
    ready_since: str | None = None  # Ready (RUNNING and healthy) since then, while it is
    # when each of its failures happened (the pod failing, each container restart), None
    # where the time is not known; as many as the task counts failures
    failures: tuple[str | None, ...] = ()
    runs: tuple[tuple[str, str], ...] = ()  # runs of its containers that ended: (started, finished)
    uid: str = ""  # the pod's
    # its current incarnation ended by an essential container's exit, not restarted yet
    # (views.service_tasks.ending): a STOPPED task in ECS
    ended: bool = False
    # UNHEALTHY from then on if it stays as it is (views.service_tasks.unhealthy_from)
    unhealthy_from: str | None = None
    # what DescribeTasks shows of it (views.service_tasks.picture), for status.stoppedTasks
    picture: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


def deployment_id(replica_set_uid: str) -> str:
    """Stable ECS-style id (``ecs-svc/`` and 19 digits) for a ReplicaSet."""
    digits = int(hashlib.sha256(replica_set_uid.encode()).hexdigest()[:16], 16) % 10**19
    return f"ecs-svc/{digits:019d}"


def _moment(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, STAMP).replace(tzinfo=datetime.UTC)


@functools.lru_cache(maxsize=8192)
def _later(stamp: str, seconds: float) -> str:
    """``stamp`` plus ``seconds`` (cached: every reconcile asks it of each Ready task)."""
    return (_moment(stamp) + datetime.timedelta(seconds=seconds)).strftime(STAMP)


def _count(task: TaskState) -> int:
    """The failures a task counts: the pod failing (not because it is being deleted: the
    scheduler stopped it, views.task_state), and each restart of a container."""
    return max(len(task.failures), (1 if task.phase == "Failed" and not task.deleting else 0) + task.restarts)


def failed_tasks(tasks: Sequence[TaskState], template_hash: str) -> int:
    """Tasks of one deployment that stopped with a failure, or whose containers were restarted,
    since it started (the scheduler's throttle counts these)."""
    return sum(_count(t) for t in tasks if t.template_hash == template_hash)


def healthy_since(tasks: Sequence[TaskState], template_hash: str, now: str, settle_seconds: float) -> str | None:
    """The last moment a task of the deployment became healthy (Ready for ``settle_seconds``
    without a break), whether it still runs or has stopped since; None if none ever did. A run
    is healthy only once it has lasted the settle time by ``now``: one whose end is still ahead
    (a node's clock ahead of ours) has not made the task healthy yet."""
    moments = []
    for task in tasks:
        if task.template_hash != template_hash:
            continue
        if task.ready_since is not None and not task.deleting:
            healthy = _later(task.ready_since, settle_seconds)
            if healthy <= now:
                moments.append(healthy)
        for started, finished in task.runs:
            healthy = _later(started, settle_seconds)
            if healthy <= min(finished, now):
                moments.append(healthy)
    return max(moments) if moments else None


def consecutive_failures(
    tasks: Sequence[TaskState], template_hash: str, now: str, settle_seconds: float, reset_on_healthy: bool = True
) -> int:
    """ECS's ``failedTasks``: the deployment's failed tasks in a row. A task that becomes
    healthy sets the count back to 0 (``resetOnHealthyTask``, true unless the breaker says
    false: then every failure since the deployment started counts)."""
    if not reset_on_healthy:
        return failed_tasks(tasks, template_hash)
    reset = healthy_since(tasks, template_hash, now, settle_seconds)
    count = 0
    for task in tasks:
        if task.template_hash != template_hash:
            continue
        # a failure whose time is not known counts, as if after the last healthy task
        unknown = _count(task) - len(task.failures)
        count += unknown + sum(1 for f in task.failures if f is None or reset is None or f > reset)
    return count


def healthy_tasks(tasks: Sequence[TaskState], template_hash: str, now: str, settle_seconds: float) -> int:
    """The deployment's tasks that run and are healthy now: Ready for ``settle_seconds``."""
    return sum(
        1
        for t in tasks
        if t.template_hash == template_hash
        and t.ready_since is not None
        and not t.deleting
        and _later(t.ready_since, settle_seconds) <= now
    )


def settles_at(tasks: Sequence[TaskState], template_hash: str, count: int, settle_seconds: float) -> str | None:
    """When ``count`` of the deployment's tasks that are Ready now will be healthy, if they stay
    Ready (None: fewer than ``count`` are Ready): the moment to look at the deployment again."""
    if count <= 0:
        return None
    since = sorted(
        t.ready_since
        for t in tasks
        if t.template_hash == template_hash and t.ready_since is not None and not t.deleting
    )
    return _later(since[count - 1], settle_seconds) if len(since) >= count else None


def pending(task: TaskState) -> bool:
    """PENDING, as ECS counts it: placed on a container instance (the pod is bound to a node)
    and not yet RUNNING (not Ready), nor stopping. A task that cannot be placed is not a task
    yet: ECS never creates it (the service's "unable to place a task" event says why)."""
    return bool(task.node) and not task.deleting and task.phase in ("Pending", "Running") and task.ready_since is None


def ordered(replica_sets: Sequence[Mapping[str, Any]], primary: str | None = None) -> list[Mapping[str, Any]]:
    """The ReplicaSets newest first; ``primary``, an ECS deployment id, first of all (the
    deployment that FAILED stays PRIMARY while the Deployment runs an older template)."""
    newest = sorted(
        replica_sets,
        key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, 0)),
        reverse=True,
    )
    if primary is None:
        return newest
    first = [rs for rs in newest if _id(rs) == primary]
    return first + [rs for rs in newest if _id(rs) != primary]


def _id(rs: Mapping[str, Any]) -> str:
    meta = rs["metadata"]
    return deployment_id(meta.get("uid", meta.get("name", "")))


def unlisted_deployment(replica_set: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """A ReplicaSet that the service's status, which lists deployments already, does not list:
    a new ECS deployment of a running service. ECS shows it (PRIMARY, IN_PROGRESS) as soon as
    UpdateService returns, so it is news, not something for the next batch. A new service's
    first deployment is not (its first status is paced: views.service.first_rollout_only)."""
    listed = {str(d.get("id")) for d in status.get("deployments") or []}
    return bool(listed) and _id(replica_set) not in listed


def template_hash(rs: Mapping[str, Any]) -> str:
    return str((rs["metadata"].get("labels") or {}).get("pod-template-hash", ""))


def ecs_deployments(
    replica_sets: Sequence[Mapping[str, Any]],
    tasks: Sequence[TaskState],
    desired: int,
    arn_of: Callable[[Mapping[str, str]], str | None],
    previous: Sequence[Mapping[str, Any]],
    now: str,
    *,
    settle_seconds: float = 0.0,
    primary: str | None = None,
    reset_on_healthy: bool = True,
    gone: Sequence[TaskState] = (),
) -> list[dict[str, Any]]:
    """The ECS deployments, PRIMARY first, then the ACTIVE ones (older deployments that still
    have tasks), then the last few drained ones, INACTIVE.

    The PRIMARY deployment COMPLETES once ``desired`` of its tasks are healthy (see the
    module's docstring), it has no more than that, and older deployments run none.
    ``gone``: what is known of the tasks whose pods are gone (``gone_tasks``): their failures
    and healthy runs still count for ``failedTasks``, which a deleted pod does not set back."""
    ordered_sets = ordered(replica_sets, primary)
    before = {d.get("id"): d for d in previous}
    result: list[dict[str, Any]] = []
    for index, rs in enumerate(ordered_sets):
        meta = rs["metadata"]
        template = template_hash(rs)
        replicas = int((rs.get("spec") or {}).get("replicas") or 0)
        status = rs.get("status") or {}
        ready = int(status.get("readyReplicas") or 0)
        current = int(status.get("replicas") or 0)
        ident = _id(rs)
        old = before.get(ident, {})
        if index == 0:
            kind = "PRIMARY"
            others_drained = all(int((o.get("status") or {}).get("replicas") or 0) == 0 for o in ordered_sets[1:])
            if old.get("rolloutState") in ("FAILED", "COMPLETED") and old.get("status") == "PRIMARY":
                state, reason = str(old["rolloutState"]), old.get("rolloutStateReason", "")
            elif (
                current == desired
                and ready >= desired
                and others_drained
                and healthy_tasks(tasks, template, now, settle_seconds) >= desired
            ):
                state, reason = "COMPLETED", "ECS deployment completed."
            else:
                state, reason = "IN_PROGRESS", "ECS deployment in progress."
            want = desired
        else:
            kind = "ACTIVE" if current > 0 or replicas > 0 else "INACTIVE"
            state = old.get("rolloutState", "COMPLETED")
            reason = old.get("rolloutStateReason", "ECS deployment completed.")
            want = replicas
        mine = [t for t in tasks if t.template_hash == template]
        entry = {
            "id": ident,
            "status": kind,
            "taskDefinition": arn_of(
                (rs.get("spec") or {}).get("template", {}).get("metadata", {}).get("labels") or {}
            ),
            "desiredCount": want,
            "runningCount": ready,
            "pendingCount": sum(1 for t in mine if pending(t)),
            "failedTasks": consecutive_failures(
                [*mine, *(g for g in gone if g.template_hash == template)],
                template,
                now,
                settle_seconds,
                reset_on_healthy,
            ),
            "rolloutState": state,
            "rolloutStateReason": reason,
            "createdAt": meta.get("creationTimestamp", now),
        }
        unchanged = {k: old.get(k) for k in entry} == entry
        entry["updatedAt"] = old.get("updatedAt", now) if unchanged else now
        result.append({k: v for k, v in entry.items() if v is not None})
    inactive = [d for d in result if d["status"] == "INACTIVE"]
    return [d for d in result if d["status"] != "INACTIVE"] + inactive[:MAX_INACTIVE]


def completed_deployment(
    deployments: Sequence[Mapping[str, Any]], before: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The last deployment that COMPLETED (its id and taskDefinition): the circuit breaker's
    rollback goes back to it, as ECS's does, also once it has drained and left the list.
    A deployment completes as PRIMARY and stays COMPLETED while it is listed (newest first):
    the first listed one that is, else ``before`` (the last one known)."""
    for deployment in deployments:
        if deployment.get("rolloutState") == "COMPLETED":
            return {"id": deployment["id"], "taskDefinition": deployment.get("taskDefinition")}
    return dict(before) if before else None


def gone_tasks(
    last: Mapping[str, TaskState],
    tasks: Sequence[TaskState],
    gone: Sequence[TaskState],
    templates: Collection[str],
    now: str,
    settle_seconds: float = 0.0,
) -> tuple[dict[str, TaskState], tuple[TaskState, ...]]:
    """What to remember of a service's tasks for ``failedTasks`` once their pods are gone.

    ECS's ``failedTasks`` counts failed tasks until a task becomes healthy
    (``consecutive_failures``); stopped tasks stay counted, but a pod's failures vanish with
    the pod. So the last state of each pod (``last``, by uid; with the ended runs seen over
    its life, as its status shows only the last one per container) becomes, once the pod is
    gone, part of one gone task per deployment (pod template): all its failures, and the run
    that made a task of the deployment healthy last (a pod Ready until it went was healthy if
    it was Ready for the settle time; that run ends ``now``, when it was seen gone, as every
    run of a gone pod does at the latest). Only deployments the service still has
    (``templates``) are kept. Returns the new ``last`` (the live tasks, by uid) and ``gone``."""
    live = {t.uid: t for t in tasks if t.uid}
    merged: dict[str, tuple[list[str | None], list[tuple[str, str]]]] = {}
    for ghost in gone:
        failures, runs = merged.setdefault(ghost.template_hash, ([], []))
        failures.extend(ghost.failures)
        runs.extend(ghost.runs)
    for uid, task in last.items():
        if uid in live:
            continue
        failures, runs = merged.setdefault(task.template_hash, ([], []))
        failures.extend(task.failures + (None,) * (_count(task) - len(task.failures)))
        runs.extend((started, min(finished, now)) for started, finished in task.runs)  # over by now
        if task.ready_since is not None and not task.deleting and task.ready_since <= now:
            runs.append((task.ready_since, now))
    kept = []
    for template, (failures, runs) in merged.items():
        healthy = [run for run in runs if _later(run[0], settle_seconds) <= run[1]]
        if template not in templates or not (failures or healthy):
            continue
        latest = (max(healthy, key=lambda run: run[0]),) if healthy else ()
        kept.append(_gone_task(template, tuple(failures), latest))
    remembered = {}
    for uid, task in live.items():
        before = last.get(uid)
        if before is not None and before.template_hash == task.template_hash:
            # of the runs its status no longer shows, the one that made it healthy last
            healthy = [run for run in before.runs if _later(run[0], settle_seconds) <= run[1]]
            if healthy:
                last_healthy = max(healthy, key=lambda run: run[0])
                task = dataclasses.replace(task, runs=tuple(dict.fromkeys([last_healthy, *task.runs])))
        remembered[uid] = task
    return remembered, tuple(kept)


def carried_failures(
    previous: Sequence[Mapping[str, Any]],
    deployments: Sequence[Mapping[str, Any]],
    replica_sets: Sequence[Mapping[str, Any]],
) -> tuple[TaskState, ...]:
    """After the operator started: the failures the last status counted (``previous``) that
    the tasks now do not (``deployments``, without gone tasks): tasks whose pods went while
    nobody looked. They become gone tasks of their deployments, failed when the deployment's
    entry last changed (``updatedAt``), so that a task healthy later still sets them back."""
    templates = {_id(rs): template_hash(rs) for rs in replica_sets}
    counted = {str(d.get("id")): int(d.get("failedTasks") or 0) for d in deployments}
    carried = []
    for old in previous:
        template = templates.get(str(old.get("id")))
        missing = int(old.get("failedTasks") or 0) - counted.get(str(old.get("id")), 0)
        if template is not None and missing > 0:
            when = old.get("updatedAt")
            carried.append(_gone_task(template, (str(when) if when else None,) * missing))
    return tuple(carried)


def _gone_task(template: str, failures: tuple[str | None, ...], runs: tuple[tuple[str, str], ...] = ()) -> TaskState:
    """A task whose pod is gone, kept for its deployment's failures and last healthy run."""
    return TaskState(
        name="(gone)",
        template_hash=template,
        phase="Gone",
        restarts=0,
        unschedulable=None,
        node=None,
        deleting=True,
        failures=failures,
        runs=runs,
    )


def unplaced_reason(tasks: Sequence[TaskState]) -> str | None:
    for task in tasks:
        if task.unschedulable:
            return task.unschedulable
    return None


@dataclass(frozen=True)
class Hold:
    """A FAILED deployment that launches no more tasks, as ECS's: the service keeps the tasks
    of its older deployments, and no more of them either (``keep``). The failed deployment stays
    PRIMARY; the Deployment runs the template of the newest older deployment that has tasks
    (``labels``, ``annotations``: its pod template's), so that the ReplicaSet controller
    neither starts tasks of the failed revision nor stops the older ones. Without older tasks
    the Deployment keeps the failed template with no task at all."""

    deployment: str  # the FAILED deployment's id
    template: str  # the digest of the pod template that failed
    keep: int
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None

    @property
    def annotation(self) -> str:
        return f"{self.deployment} {self.template}"


def failed_hold(
    status: Mapping[str, Any],
    held: str | None,
    replica_sets: Sequence[Mapping[str, Any]],
    template: str,
    arn: str,
) -> Hold | None:
    """Whether the service's PRIMARY deployment FAILED and so launches nothing (no rollback:
    ``rollback`` false, or no older deployment COMPLETED), as long as the service asks for the
    same pod template (``template``, its digest; ``arn``, its revision): a new deployment
    (another revision, ``forceNewDeployment``, any change to the tasks) is judged afresh.
    ``held``: the Deployment's ANNOTATION_FAILED, if it has it (the template that failed).
    A new desiredCount is not a new deployment, as in ECS."""
    deployments = status.get("deployments") or []
    primary = deployments[0] if deployments else {}
    if primary.get("status") != "PRIMARY" or primary.get("rolloutState") != "FAILED":
        return None
    degraded: Mapping[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Degraded"), {})
    if degraded.get("reason") == "RolledBack":
        return None
    if held:
        ident, _, digest = held.partition(" ")
        if ident != primary.get("id") or digest != template:
            return None
    elif primary.get("taskDefinition") != arn:
        return None
    older = [
        rs
        for rs in ordered(replica_sets)
        if _id(rs) != primary["id"] and int((rs.get("spec") or {}).get("replicas") or 0)
    ]
    keep = sum(int(rs["spec"]["replicas"]) for rs in older)
    pod = ((older[0].get("spec") or {}).get("template") or {}).get("metadata") or {} if older else {}
    return Hold(
        deployment=str(primary["id"]),
        template=template,
        keep=keep,
        labels=dict(pod.get("labels") or {}) if older else None,
        annotations=dict(pod.get("annotations") or {}) if older else None,
    )
