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

Pure: the controller keeps what was seen last time (``Seen`` per pod uid) and hands it back.
"""

import datetime
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_facade.views.deployments import TaskState
from ecs_facade.views.task import essential_containers, restart_policies, task_failures

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


def ending(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The termination that ended the pod's current incarnation while the pod goes on (an
    essential container's exit that no ECS restart policy restarts), or None while it runs
    (and while it is being deleted or has ended: its phase says so then).

    The container's state is ``terminated`` until the kubelet creates its next instance, or
    ``waiting`` (CrashLoopBackOff) with the exit as ``lastState``, its restartCount unchanged
    either way. With ``RestartAllContainers`` every container gets a new instance, one after
    the other: an exit whose container has a lower restartCount than the task ends counted
    (views.task.task_failures) belongs to an incarnation already replaced. While the kubelet
    restarts all containers, its condition ``AllContainersRestarting`` says so.
    """
    status = pod.get("status") or {}
    if (pod.get("metadata") or {}).get("deletionTimestamp") or status.get("phase") in ("Failed", "Succeeded"):
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
        policies = restart_policies(pod)
        ends = task_failures(pod) if _restarts_all(pod) else 0
        for name, restarts, terminated in exits:
            if restarts < ends:
                continue  # an incarnation already replaced
            if name in policies and terminated.get("exitCode") not in policies[name]:
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
class TaskEvents:
    """The service's events about its tasks, in the order ECS posts them: health check
    failures, tasks that ended by themselves (news: the circuit breaker counts them), tasks
    the scheduler stopped and tasks it started (progress, as the counts they change)."""

    unhealthy: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

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
      (an essential container's exit, the pod failing: ``ended``), and the current one of
      every pod that is being deleted or is gone (the scheduler stops it: scale-in, a
      deployment replacing it, a drain: ``stopped``), in messages of their own;
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
            if k == ends and task.deleting:
                stopped.append(task_id(task.uid, k))
                continue
            was_unhealthy = before is not None and k == before.ends and before.unhealthy
            # ended by itself (not the pod failing: an eviction is no health check's doing)
            if (k < ends or task.ended) and (was_unhealthy or (task.uid, k) in noted_set):
                unhealthy.append(f"{label} (task {task_id(task.uid, k)}) failed container health checks.")
            ended.append(task_id(task.uid, k))
        now_unhealthy = _unhealthy(task, now) or (not stopping and (task.uid, ends) in noted_set)
        # told once: an ended incarnation stays stopped (a crash loop's back-off shows it waiting)
        told = stopping or (before is not None and before.ends == ends and before.stopped)
        now_seen[task.uid] = Seen(task_id(task.uid, ends), ends, now_unhealthy, told)
    for uid, before in seen.items():
        if uid not in live and not before.stopped:
            stopped.append(before.task_id)  # gone: the scheduler stopped it
    events = TaskEvents(
        unhealthy=unhealthy,
        ended=_grouped(label, ended, "has stopped {count} running tasks"),
        stopped=_grouped(label, stopped, "has stopped {count} running tasks"),
        started=_grouped(label, started, "has started {count} tasks"),
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
