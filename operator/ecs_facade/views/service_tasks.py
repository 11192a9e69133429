"""A service's tasks as ECS's service scheduler tells of them in the service's events:
"(service web) has started 2 tasks: (task 1a2b...) (task 3c4d...).", "(service web) has
stopped 1 running tasks: (task 1a2b...).", "(service web) (task 1a2b...) failed container
health checks.".

A task of a service is a pod, but a pod is not one task for its whole life: when an
essential container exits, or the kubelet kills it because its health check fails, the pod's
containers restart in place (``RestartAllContainers``, translate/lifecycle.py), where ECS
stops the task and its scheduler starts a new one. So each *incarnation* of a pod is one ECS
task: the first has the pod's uid without dashes as its ID (32 hex digits, like ECS's), each
later one an ID derived from the uid and the number of task ends before it, so that the
stopped task and its replacement have different IDs and each keeps its own.

What ends an incarnation, and when: the pod going (deleted, or being deleted: the scheduler
stops it), the pod ending (phase Failed or Succeeded: evicted, say), or an essential
container's exit that nothing restarts within the task (an ECS restart policy would;
``ending``), from the moment the container terminated, before the kubelet starts the next
incarnation (which a crash loop's back-off can delay; ECS replaces such a task at once).

The tasks that stopped stay describable (``stopped_tasks``: status.stoppedTasks, as
DescribeTasks shows a stopped task for about an hour), each with its containers' own exit
codes, from pictures of its pod (``picture``) taken before the kubelet's restart in place
replaced them.

Pure: the controller keeps what was seen last time (``Seen`` per pod uid) and hands it back.
"""

import datetime
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_facade.translate.lifecycle import ANNOTATION_RESTART_POLICIES
from ecs_facade.translate.taskdefinition import ANNOTATION_CONTAINER_NAMES, ANNOTATION_ESSENTIAL
from ecs_facade.views.deployments import TaskState
from ecs_facade.views.task import (
    ESSENTIAL_EXITED,
    FAILED_HEALTH_CHECKS,
    OUT_OF_MEMORY,
    SCALING_ACTIVITY,
    Stop,
    container_views,
    essential_containers,
    health_status,
    pod_stop,
    restarted_by_policy,
    service_task_identity,
    task_failures,
)

# Task IDs in one event: ECS starts at most 10 tasks a call (RunTask, StartTask) and its
# scheduler's "has started" event lists the tasks of one launch; stops are grouped alike.
MAX_IDS = 10
STAMP = "%Y-%m-%dT%H:%M:%SZ"
# Kubernetes' probe defaults (the API server fills them in; a bare manifest may lack them)
DEFAULT_PERIOD, DEFAULT_FAILURES = 10, 3
RESTART_ALL = "RestartAllContainers"
RESTARTING = "AllContainersRestarting"  # the kubelet's pod condition while it restarts all containers


def task_id(uid: str, ends: int = 0) -> str:
    """The ECS task ID of a service pod's incarnation that follows ``ends`` task ends: the
    uid without dashes for the first, a stable 32 hex digits from (uid, ends) after that."""
    if ends <= 0:
        return uid.replace("-", "")
    return hashlib.sha256(f"{uid}/{ends}".encode()).hexdigest()[:32]


def _statuses(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = pod.get("status") or {}
    every = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    return {str(c.get("name")): c for c in every}


def _restarts_all(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return any(
        rule.get("action") == RESTART_ALL
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
        for rule in container.get("restartPolicyRules") or []
    )


def ending(pod: Mapping[str, Any], *, while_deleting: bool = False) -> Mapping[str, Any] | None:
    """The termination that ended the pod's current incarnation while the pod goes on (an
    essential container's exit that no ECS restart policy restarts), or None while it runs
    (and while it is being deleted or has ended: its phase says so then; ``while_deleting``:
    also while it is being deleted, to tell an exit before the deletion from its result).

    The container's state is ``terminated`` until the kubelet creates its next instance, or
    ``waiting`` (CrashLoopBackOff) with the exit as ``lastState``, its restartCount unchanged
    either way. With ``RestartAllContainers`` every container gets a new instance, one after
    the other: an exit whose container has a lower restartCount than the task ends counted
    (views.task.task_failures) belongs to an incarnation already replaced. While the kubelet
    restarts all containers, its condition ``AllContainersRestarting`` says so.
    """
    status = pod.get("status") or {}
    if status.get("phase") in ("Failed", "Succeeded"):
        return None
    if not while_deleting and (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    statuses = _statuses(pod)
    exits = []
    for name in essential_containers(pod):
        container = statuses.get(name) or {}
        state = container.get("state") or {}
        terminated = state.get("terminated")
        if terminated is None and (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            terminated = (container.get("lastState") or {}).get("terminated")
        if terminated is not None:
            exits.append((name, int(container.get("restartCount") or 0), terminated))
    if exits:  # (the rest only then: every event of every service's pod asks)
        ends = task_failures(pod) if _restarts_all(pod) else 0
        for name, restarts, terminated in exits:
            if restarts < ends:
                continue  # an incarnation already replaced
            if restarted_by_policy(name, terminated, pod):
                continue  # its ECS restart policy restarts it: the task goes on
            return dict(terminated)
    restarting = any(c.get("type") == RESTARTING and c.get("status") == "True" for c in status.get("conditions") or [])
    return {} if restarting else None


def _later(stamp: str, seconds: int) -> str:
    moment = datetime.datetime.strptime(stamp, STAMP).replace(tzinfo=datetime.UTC)
    return (moment + datetime.timedelta(seconds=seconds)).strftime(STAMP)


def unhealthy_from(pod: Mapping[str, Any]) -> str | None:
    """From when the task is UNHEALTHY if its containers stay as they are now (None: it is not
    going to be, as they are).

    ECS calls a task UNHEALTHY once an essential container's health check failed ``retries``
    times in a row after its ``startPeriod``; the readiness probe (translate/health.py: same
    command, ``periodSeconds`` = interval, ``failureThreshold`` = retries) is the pod's view
    of it. An essential container with a readiness probe that runs, has passed its start
    period (``started``: the startup probe passed, or there is none) and is not ready, counts
    as failing once the probe had time to fail ``failureThreshold`` times since the container
    started: the kubelet probes a new container at once and then every period, and a container
    that was ready turns not ready only after that many failures, so a container not probed
    yet is not called unhealthy. One still in its start period counts the same way against
    its startup probe (``startPeriod`` plus ``retries`` checks): the kubelet kills it then.
    """
    essential = set(essential_containers(pod))
    if not essential:
        return None
    spec = pod.get("spec") or {}
    statuses = _statuses(pod)
    moments = []
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        name = container.get("name")
        if name not in essential or "readinessProbe" not in container:
            continue
        status = statuses.get(str(name)) or {}
        since = ((status.get("state") or {}).get("running") or {}).get("startedAt")
        if not since or status.get("ready"):
            continue
        probe = container["readinessProbe"] if status.get("started", True) else container.get("startupProbe")
        if not probe:
            continue  # its postStart hook runs: nothing probes it yet
        failures = max(int(probe.get("failureThreshold") or DEFAULT_FAILURES) - 1, 0)
        moments.append(_later(str(since), failures * int(probe.get("periodSeconds") or DEFAULT_PERIOD)))
    return min(moments) if moments else None


def unhealthy_incarnation(pod: Mapping[str, Any], now: str) -> tuple[str, int] | None:
    """The (pod uid, task ends) of the incarnation a pod event shows UNHEALTHY at ``now``. The
    service's status may be looked at only after the kubelet's liveness kill has restarted the
    pod (its events wait for the status batch); this is kept for it meanwhile."""
    moment = unhealthy_from(pod)
    if moment is None or moment > now:
        return None
    uid = str((pod.get("metadata") or {}).get("uid") or "")
    if not uid or ending(pod) is not None or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    return uid, task_failures(pod)


@dataclass(frozen=True)
class Seen:
    """What the last status said of one pod (by uid): its current incarnation's task ID, the
    task ends before it, whether it was UNHEALTHY when seen, and whether it is stopped."""

    task_id: str
    ends: int
    unhealthy: bool = False
    stopped: bool = False


@dataclass(frozen=True)
class TaskStop:
    """One task (an incarnation of a pod) that the events tell stopped: whether the scheduler
    stopped it (its pod being deleted or gone) or it ended by itself, and whether it failed its
    container health checks (the scheduler replaces such a task)."""

    uid: str
    ends: int
    task_id: str
    scheduler: bool
    unhealthy: bool = False


@dataclass(frozen=True)
class TaskEvents:
    """The service's events about its tasks, in the order ECS posts them: health check
    failures, tasks that ended by themselves (news: the circuit breaker counts them), tasks
    the scheduler stopped and tasks it started (progress, as the counts they change); and the
    stopped tasks themselves (``stops``), for ``stopped_tasks``."""

    unhealthy: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    stops: list[TaskStop] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        return [*self.unhealthy, *self.ended, *self.stopped, *self.started]

    @property
    def progress(self) -> list[str]:
        """What may wait for a status write that waits (views.service.progress_only)."""
        return [*self.stopped, *self.started]


def _stopping(task: TaskState) -> bool:
    return task.deleting or task.phase in ("Failed", "Succeeded") or task.ended


def _unhealthy(task: TaskState, now: str) -> bool:
    return not _stopping(task) and task.unhealthy_from is not None and task.unhealthy_from <= now


def observe(tasks: Sequence[TaskState], now: str) -> dict[str, Seen]:
    """What the tasks are now, said as known already: the first look at a service after the
    operator started (its tasks were told of before), so that nothing is told twice."""
    return {
        t.uid: Seen(task_id(t.uid, t.restarts), t.restarts, _unhealthy(t, now), _stopping(t))
        for t in tasks
        if t.uid and t.node
    }


def _grouped(label: str, ids: Sequence[str], verb: str) -> list[str]:
    messages = []
    for start in range(0, len(ids), MAX_IDS):
        chunk = ids[start : start + MAX_IDS]
        listed = " ".join(f"(task {ident})" for ident in chunk)
        messages.append(f"{label} {verb.format(count=len(chunk))}: {listed}.")
    return messages


def task_events(
    label: str,
    seen: Mapping[str, Seen],
    tasks: Sequence[TaskState],
    now: str,
    noted: Iterable[tuple[str, int]] = (),
) -> tuple[TaskEvents, dict[str, Seen]]:
    """The events that tell what happened to the service's tasks since ``seen`` (the last
    look), and what is seen now.

    - started: every incarnation that began since, of a pod placed on a container instance
      (a pod the scheduler cannot place is no task: ECS never creates it);
    - stopped ("has stopped N running tasks"): every incarnation that ended by itself since
      (an essential container's exit, the pod failing: ``ended``; also one whose exit came
      before its pod's deletion), and the current one of every pod that is being deleted or
      is gone (the scheduler stops it: scale-in, a deployment replacing it, a drain:
      ``stopped``), in messages of their own;
    - failed container health checks: an incarnation that ended by itself (not by the
      scheduler's deletion) and was UNHEALTHY when last seen (``unhealthy_from``; ``noted``:
      the (uid, ends) a pod event saw UNHEALTHY since), told before its stop, as ECS does.
      The kubelet's liveness kill is what ends it then; the pod's status does not say so
      itself (the exit is an "Error" with code 137 or 143), so the evidence is that the
      incarnation was seen failing its health check before it ended.

    ``label`` is "(service NAME)". Each message lists at most MAX_IDS tasks.
    """
    noted_set = set(noted)
    unhealthy: list[str] = []
    ended: list[str] = []
    stopped: list[str] = []
    started: list[str] = []
    stops: list[TaskStop] = []
    now_seen: dict[str, Seen] = {}
    live = set()
    for task in tasks:
        if not task.uid:
            continue
        live.add(task.uid)
        before = seen.get(task.uid)
        if before is None and not task.node:
            continue  # not placed: not a task yet
        ends = max(task.restarts, before.ends if before else 0)
        first_new = before.ends + 1 if before else 0
        first_open = (before.ends + (1 if before.stopped else 0)) if before else 0
        started += [task_id(task.uid, k) for k in range(first_new, ends + 1)]
        stopping = _stopping(task)
        last = ends + 1 if stopping else ends  # incarnations before this one have ended
        for k in range(first_open, last):
            if k == ends and task.deleting and not task.ended:
                stopped.append(task_id(task.uid, k))
                stops.append(TaskStop(task.uid, k, task_id(task.uid, k), scheduler=True))
                continue
            was_unhealthy = before is not None and k == before.ends and before.unhealthy
            # ended by itself (not the pod failing: an eviction is no health check's doing)
            failed_checks = (k < ends or task.ended) and (was_unhealthy or (task.uid, k) in noted_set)
            if failed_checks:
                unhealthy.append(f"{label} (task {task_id(task.uid, k)}) failed container health checks.")
            ended.append(task_id(task.uid, k))
            stops.append(TaskStop(task.uid, k, task_id(task.uid, k), scheduler=False, unhealthy=failed_checks))
        now_unhealthy = _unhealthy(task, now) or (not stopping and (task.uid, ends) in noted_set)
        # told once: an ended incarnation stays stopped (a crash loop's back-off shows it waiting)
        told = stopping or (before is not None and before.ends == ends and before.stopped)
        now_seen[task.uid] = Seen(task_id(task.uid, ends), ends, now_unhealthy, told)
    for uid, before in seen.items():
        if uid not in live and not before.stopped:
            stopped.append(before.task_id)  # gone: the scheduler stopped it
            stops.append(TaskStop(uid, before.ends, before.task_id, scheduler=True))
    events = TaskEvents(
        unhealthy=unhealthy,
        ended=_grouped(label, ended, "has stopped {count} running tasks"),
        stopped=_grouped(label, stopped, "has stopped {count} running tasks"),
        started=_grouped(label, started, "has started {count} tasks"),
        stops=stops,
    )
    return events, now_seen


def deferred(before: Mapping[str, Seen], now_seen: Mapping[str, Seen]) -> dict[str, Seen]:
    """What to remember when the status write waits (``TaskEvents.progress`` only: tasks the
    scheduler started or stopped are progress, as the counts they change,
    views.service.progress_only): the pods whose tasks started or stopped are seen as before,
    to be told, with what happens meanwhile, by the write that follows; what else was seen
    (their health) is kept."""
    kept = {}
    for uid, then in before.items():
        now = now_seen.get(uid)
        kept[uid] = now if now is not None and (now.ends, now.stopped) == (then.ends, then.stopped) else then
    return kept


# --- stopped tasks: DescribeTasks of the service's recently stopped tasks --------------------

# Entries in status.stoppedTasks. ECS keeps a stopped task describable for about an hour; the
# status is rewritten whole with every change and sent to every watcher, so it keeps the last
# few (a crash-looping service stops one every few seconds to minutes: the last 10 are what
# one looks at), each at most that long (Config.stopped_task_retention_seconds).
MAX_STOPPED_TASKS = 10
# The kubelet's reason for a container it removed to restart all of a pod's containers in
# place: its exit code (137) is the kubelet's, not the process's.
RESTARTING_ALL = "RestartingAllContainers"
_KEPT_ANNOTATIONS = (ANNOTATION_CONTAINER_NAMES, ANNOTATION_ESSENTIAL, ANNOTATION_RESTART_POLICIES)
_KEPT_CONTAINER = ("name", "image", "restartPolicy", "restartPolicyRules", "readinessProbe")
_KEPT_STATUS = ("phase", "reason", "message", "initContainerStatuses", "containerStatuses")


def picture(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a service's pod that DescribeTasks shows of its task (views.task's
    ``container_views``, ``pod_stop`` and ``service_task_identity`` read it): kept with the
    pod's TaskState, so that a task whose pod is gone, or whose containers the kubelet has
    restarted since, is still described as it was last seen. Its parts are the pod's own
    (not copied: the informer drops the pod after the event)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    annotations = meta.get("annotations") or {}
    slim_meta: dict[str, Any] = {
        k: meta[k]
        for k in ("uid", "labels", "ownerReferences", "creationTimestamp", "deletionTimestamp")
        if meta.get(k) is not None
    }
    if meta.get("deletionGracePeriodSeconds") is not None:
        slim_meta["deletionGracePeriodSeconds"] = meta["deletionGracePeriodSeconds"]
    slim_meta["annotations"] = {k: annotations[k] for k in _KEPT_ANNOTATIONS if k in annotations}
    slim_spec: dict[str, Any] = {}
    for kind in ("initContainers", "containers"):
        if spec.get(kind):
            slim_spec[kind] = [{k: c[k] for k in _KEPT_CONTAINER if k in c} for c in spec[kind]]
    return {
        "metadata": slim_meta,
        "spec": slim_spec,
        "status": {k: status[k] for k in _KEPT_STATUS if status.get(k)},
    }


@dataclass(frozen=True)
class Naming:
    """How ECS names a service's tasks: ``group`` ``service:<service>``, ``startedBy`` its
    deployment (views.task.service_task_identity), the task ARN of a task ID (in the service's
    cluster) and the task definition ARN of a pod's labels."""

    service: str
    task_arn: Callable[[str], str]
    task_definition_arn: Callable[[Mapping[str, str]], str | None]


def _real_exit(terminated: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """A container's termination as the process ended, or None: not there, or the kubelet's
    removal of the container to restart all of them (exit 137 that says nothing of it)."""
    if not terminated or terminated.get("reason") == RESTARTING_ALL:
        return None
    return terminated


def _exits(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Each container's exit in the incarnation the pod shows, by Kubernetes name: its
    ``terminated`` state, or, while the kubelet's crash back-off delays its restart, the exit
    it shows as ``lastState`` (its restart count unchanged: the same incarnation)."""
    status = pod.get("status") or {}
    exits = {}
    for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        state = container.get("state") or {}
        terminated = _real_exit(state.get("terminated"))
        if terminated is None and (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            terminated = _real_exit((container.get("lastState") or {}).get("terminated"))
        if terminated is not None:
            exits[str(container.get("name"))] = terminated
    return exits


def _kube_names(pod: Mapping[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [str(c["name"]) for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]]


def _stopped_views(pod: Mapping[str, Any], own: bool) -> list[tuple[dict[str, Any], str | None]]:
    """The task's containers, STOPPED (container_views), each with the exit seen (exit code,
    the kubelet's reason, ECS's OutOfMemoryError for a memory kill) and when it ended; for a
    picture of another incarnation of the pod (``own`` false) only their names and images."""
    exits = _exits(pod) if own else {}
    spec = pod.get("spec") or {}
    # a container others waited for (dependsOn SUCCESS or COMPLETE) ended before the task ran
    once = {str(c["name"]) for c in spec.get("initContainers") or [] if c.get("restartPolicy") != "Always"}
    result = []
    for kube_name, view in zip(_kube_names(pod), container_views(pod), strict=True):
        stopped: dict[str, Any] = {"name": view["name"], "image": view.get("image"), "lastStatus": "STOPPED"}
        ended = exits.get(kube_name)
        if ended is not None:
            stopped["exitCode"] = ended.get("exitCode")
            reason = ended.get("reason") or ""
            stopped["reason"] = OUT_OF_MEMORY if reason == "OOMKilled" else reason
        stopped["healthStatus"] = view["healthStatus"] if own else "UNKNOWN"
        finished = None if kube_name in once else (ended or {}).get("finishedAt")
        result.append(({k: v for k, v in stopped.items() if v not in (None, "")}, finished))
    return result


def _started_at(pod: Mapping[str, Any]) -> str | None:
    status = pod.get("status") or {}
    times = []
    for container in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        state = container.get("state") or {}
        times.append((state.get("running") or {}).get("startedAt"))
        times.append((_real_exit(state.get("terminated")) or {}).get("startedAt"))
    for ended in _exits(pod).values():
        times.append(ended.get("startedAt"))
    known = [str(t) for t in times if t]
    return min(known) if known else None


def _merged_containers(
    older: Sequence[Mapping[str, Any]], newer: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """``newer``'s containers, each keeping the exit ``older`` had seen where it saw none (the
    kubelet's restart in place has replaced it since)."""
    known = {c.get("name"): c for c in older}
    result = []
    for container in newer:
        before = known.get(container.get("name"))
        if "exitCode" not in container and before is not None and "exitCode" in before:
            container = {
                **container,
                "exitCode": before["exitCode"],
                **({"reason": before["reason"]} if before.get("reason") else {}),
            }
        result.append(container)
    return result or list(older)


def _seen_in(pictures: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], str | None]:
    """The containers of an incarnation from its pictures (oldest first; an exit seen in any
    of them is kept) and when the last of the exits seen happened."""
    containers: list[Mapping[str, Any]] = []
    finished: list[str] = []
    for pic in pictures:
        views = _stopped_views(pic, own=True)
        containers = _merged_containers(containers, [v for v, _ in views])
        finished += [str(f) for _, f in views if f]
    return containers, max(finished) if finished else None


def _stop_of(stop: TaskStop, own: Mapping[str, Any] | None, started_by: str) -> Stop:
    """stopCode and stoppedReason, as ECS gives them: the scheduler's (ServiceSchedulerInitiated:
    a task replaced for its health checks, or one stopped by scale-in or a deployment, whatever
    its containers' exit codes when they got SIGTERM), else the task's own end (pod_stop: an
    essential container exited, with ECS's OutOfMemoryError for a memory kill; the pod ended)."""
    if stop.unhealthy:
        return Stop("ServiceSchedulerInitiated", FAILED_HEALTH_CHECKS)
    if stop.scheduler:
        return Stop("ServiceSchedulerInitiated", SCALING_ACTIVITY.format(deployment=started_by))
    ended = pod_stop(own) if own is not None else None
    # an incarnation whose exit was not seen ended all the same: only an essential
    # container's exit (or a liveness kill, told as unhealthy) restarts a pod in place
    return ended or Stop("EssentialContainerExited", ESSENTIAL_EXITED)


def _later_stamp(stamp: str, seconds: float) -> str:
    moment = datetime.datetime.strptime(stamp, STAMP).replace(tzinfo=datetime.UTC)
    return (moment + datetime.timedelta(seconds=seconds)).strftime(STAMP)


def _ident(entry: Mapping[str, Any]) -> str:
    return str(entry.get("taskArn") or "").rsplit("/", 1)[-1]


def _described(
    stop: TaskStop,
    own: Sequence[Mapping[str, Any]],
    fallback: Mapping[str, Any] | None,
    naming: Naming,
) -> tuple[dict[str, Any], str | None]:
    """A stopped task as DescribeTasks shows it, from the pictures of its own incarnation
    (``own``, oldest first: the exits seen in any of them are kept), else from a picture of
    another incarnation of its pod (its containers' names only); and when it stopped, if its
    containers' exits say so."""
    latest = own[-1] if own else fallback
    if latest is None:
        return {}, None
    group, started_by = service_task_identity(latest, naming.service)
    containers, finished = _seen_in(own)
    if not own:
        containers = [v for v, _ in _stopped_views(latest, own=False)]
    ended = _stop_of(stop, latest if own else None, started_by)
    names = json.loads(((latest.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_CONTAINER_NAMES, "{}"))
    health = (
        "UNHEALTHY"
        if stop.unhealthy
        else health_status([dict(c) for c in containers], essential_containers(latest), names)
    )
    meta = latest.get("metadata") or {}
    entry: dict[str, Any] = {
        "taskArn": naming.task_arn(stop.task_id),
        "taskDefinitionArn": naming.task_definition_arn(meta.get("labels") or {}),
        "group": group,
        "startedBy": started_by,
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": ended.code,
        "stoppedReason": ended.reason,
        "healthStatus": health,
        "createdAt": meta.get("creationTimestamp") if stop.ends == 0 else None,
        "startedAt": min((t for t in (_started_at(p) for p in own) if t), default=None),
        "containers": containers,
    }
    return {k: v for k, v in entry.items() if v is not None}, finished


def stopped_tasks(
    kept: Sequence[Mapping[str, Any]],
    stops: Sequence[TaskStop],
    tasks: Sequence[TaskState],
    last: Mapping[str, TaskState],
    noted: Mapping[tuple[str, int], Mapping[str, Any]],
    naming: Naming,
    now: str,
    retention_seconds: float,
) -> list[dict[str, Any]]:
    """The service's recently stopped tasks (``status.stoppedTasks``), newest first: ``kept``
    (what was known of them) with the tasks the events tell stopped (``stops``), each as
    DescribeTasks shows a stopped task; those stopped more than ``retention_seconds`` before
    ``now`` dropped, at most MAX_STOPPED_TASKS.

    What a task looked like comes from the pictures of its pod (TaskState.picture): the one
    each live pod shows now (``tasks``), the last one of a pod that is gone (``last``), and
    the ones pod events caught as an incarnation ended (``noted``, by (uid, task ends)): the
    kubelet's restart in place replaces an exit's ``terminated`` state with its own
    (``RestartingAllContainers``, exit 137), so the process's exit code is known only from
    the status seen in between. An exit seen once is kept: later pictures never take it back,
    and they fill in what was not seen yet (a container that stopped after its task was told
    stopped: the SIGTERM of a scale-in)."""
    if not kept and not stops:
        return []
    live = {t.uid: t for t in tasks if t.uid}
    pictures: dict[str, list[Mapping[str, Any]]] = {}
    for (uid, ends), pic in noted.items():
        pictures.setdefault(task_id(uid, ends), []).append(pic)
    for uid, task in [*((u, t) for u, t in last.items() if u not in live), *live.items()]:
        if task.picture is not None:
            pictures.setdefault(task_id(uid, task.restarts), []).append(task.picture)
    entries = {_ident(e): dict(e) for e in kept}
    for stop in stops:
        state = live.get(stop.uid) or last.get(stop.uid)
        if stop.scheduler and state is not None and state.ended and state.restarts == stop.ends:
            stop = TaskStop(stop.uid, stop.ends, stop.task_id, scheduler=False, unhealthy=stop.unhealthy)
        own = pictures.get(stop.task_id, [])
        entry, finished = _described(stop, own, state.picture if state is not None else None, naming)
        if not entry:
            continue
        before = entries.get(stop.task_id)
        if before is not None:  # told again (a status write that waited): what is known stays
            entry = {**before, "containers": _merged_containers(before.get("containers") or [], entry["containers"])}
        if stop.scheduler:
            # stopped from the moment the scheduler stopped it, once its containers have
            entry["stoppedAt"] = max(finished or now, (before or {}).get("stoppedAt") or now)
        else:
            entry["stoppedAt"] = finished or (before or {}).get("stoppedAt") or now
        entries[stop.task_id] = {k: entry[k] for k in sorted(entry, key=lambda k: k == "containers")}
    told = {stop.task_id for stop in stops}
    for ident, entry in entries.items():
        if ident in told or ident not in pictures:
            continue
        # its pod shows more of it since: the exits of containers that stopped after it was
        # told stopped (a scale-in's SIGTERM), or ones a pod event caught meanwhile
        containers, finished = _seen_in(pictures[ident])
        entry["containers"] = _merged_containers(entry.get("containers") or [], containers)
        if finished is not None:
            entry["stoppedAt"] = max(finished, str(entry.get("stoppedAt") or ""))
    oldest = _later_stamp(now, -retention_seconds)
    recent = [e for e in entries.values() if str(e.get("stoppedAt") or now) >= oldest]
    recent.sort(key=lambda e: str(e.get("stoppedAt") or now), reverse=True)
    return recent[:MAX_STOPPED_TASKS]


def failing(body: Mapping[str, Any], exited: Mapping[str, Any] | None) -> bool:
    """A pod event of a failing task (failed, restarted, or an essential container's exit
    before the kubelet restarts it): news for the circuit breaker and the throttle, which
    judge the rollout as it is at that moment. ``exited``: the pod's ``ending``, worked out
    already."""
    status = body.get("status") or {}
    return body.get("kind") == "Pod" and (
        status.get("phase") == "Failed"
        or any(c.get("restartCount") for c in status.get("containerStatuses") or [])
        or exited is not None  # an essential exit, before the kubelet restarts the task
    )
