"""A service's pod read as an ECS task (``TaskState``): what the ECS deployments, the circuit
breaker, the throttle and the service's task events count of it. Pure: the pod index
(controllers/indexes.py, ``pod_keys``) keeps one per pod, made when its event arrives.

A pod being deleted is a task the scheduler stops (scale-in, a deployment, a drain): what
its containers do then (exit 143 or 0 at SIGTERM, 137 at SIGKILL; the kubelet then turns
the pod Failed or Succeeded) is no failure of the task. Only an end before the deletion
was asked for is (views.task.before_deletion): the task had stopped by itself already.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ecs_facade.api import LABEL_CAPACITY_PROVIDER
from ecs_facade.views.deployments import TaskState
from ecs_facade.views.service_tasks import ending as incarnation_ending
from ecs_facade.views.service_tasks import picture, unhealthy_from
from ecs_facade.views.task import before_deletion, deletion_requested, essential_containers, failure_containers

Run = tuple[str, str]  # (started, finished)


def task_state(body: Mapping[str, Any], labels: Mapping[str, str]) -> TaskState:
    """What the deployment view and the circuit breaker count of a service's pod (an ECS task):
    its failures (the pod failing, each container restart, an essential exit not restarted
    yet) and when they happened, when it became Ready, and its containers' runs that ended
    (views.deployments judges from them whether a task was healthy); and what the service's
    events tell of it (views.service_tasks): its uid, whether its current incarnation ended,
    from when it is UNHEALTHY, and what DescribeTasks shows of it (``picture``)."""
    status = body.get("status") or {}
    containers = status.get("containerStatuses") or []
    # one end of the task is one failure: with RestartAllContainers every container restarts
    # once, and a restart by an ECS restart policy ends nothing (views.task.failure_containers)
    ending = set(failure_containers(body))
    phase = str(status.get("phase") or "Pending")
    deletion = body["metadata"].get("deletionTimestamp")
    deleting = bool(deletion)
    unschedulable, ready_since = _conditions(status, phase)
    failures, runs, ready_since = _restarts(containers, ending, ready_since)
    exited = _ended_incarnation(body, deleting)
    if exited is not None:
        failures.append(str(exited["finishedAt"]) if exited.get("finishedAt") else None)
        if exited.get("startedAt") and exited.get("finishedAt"):
            runs.append((str(exited["startedAt"]), str(exited["finishedAt"])))
    if deleting and ready_since is not None:
        # healthy until the scheduler stopped it, if long enough: until the deletion was asked
        # for, not the deletionTimestamp (the end of the grace period, still ahead)
        runs.append((ready_since, deletion_requested(body) or str(deletion)))
    if phase == "Failed":
        _failed_pod(body, containers, deleting, failures, runs)
    return TaskState(
        name=body["metadata"]["name"],
        template_hash=labels.get("pod-template-hash", ""),
        phase=phase,
        restarts=sum(int(c.get("restartCount") or 0) for c in containers if c.get("name") in ending),
        unschedulable=unschedulable,
        capacity_provider=labels.get(LABEL_CAPACITY_PROVIDER),
        node=(body.get("spec") or {}).get("nodeName"),
        deleting=deleting,
        ready_since=None if deleting else ready_since,
        failures=tuple(failures),
        runs=tuple(runs),
        uid=str(body["metadata"].get("uid") or ""),
        ended=exited is not None,
        unhealthy_from=None if deleting or exited is not None else unhealthy_from(body),
        picture=picture(body),
    )


def _conditions(status: Mapping[str, Any], phase: str) -> tuple[str | None, str | None]:
    """Why the pod cannot be placed (None: it can), and since when it is Ready and running."""
    unschedulable = ready_since = None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            unschedulable = str(condition.get("message") or "Unschedulable")
        if condition.get("type") == "Ready" and condition.get("status") == "True" and phase == "Running":
            ready_since = condition.get("lastTransitionTime") or None
    return unschedulable, ready_since


def _restarts(
    containers: Sequence[Mapping[str, Any]], ending: set[str], ready_since: str | None
) -> tuple[list[str | None], list[Run], str | None]:
    """The failures the containers' restarts tell (of the containers whose end ends the task),
    the runs that ended, and since when the current incarnation is Ready."""
    failures: list[str | None] = []
    runs: list[Run] = []
    for container in containers:
        last = (container.get("lastState") or {}).get("terminated") or {}
        if container.get("name") in ending:
            failures += [last.get("finishedAt")] * int(container.get("restartCount") or 0)
            started = ((container.get("state") or {}).get("running") or {}).get("startedAt")
            if ready_since is not None and started and str(started) > ready_since:
                # Ready since before this incarnation started (its status kept the time):
                # healthy only from the incarnation's start on
                ready_since = str(started)
        if last.get("startedAt") and last.get("finishedAt"):
            runs.append((str(last["startedAt"]), str(last["finishedAt"])))
    return failures, runs, ready_since


def _ended_incarnation(body: Mapping[str, Any], deleting: bool) -> Mapping[str, Any] | None:
    """The current incarnation ended (an essential exit), the next one not started yet: an end
    of the task already, as a STOPPED task in ECS (views.service_tasks.ending). While the pod
    is deleted, only an exit before the deletion ended the task by itself; one after it is the
    stop."""
    exited = incarnation_ending(body)
    if deleting:
        own = incarnation_ending(body, while_deleting=True)
        if own and before_deletion(body, own.get("finishedAt")):
            exited = own
    return exited


def _failed_pod(
    body: Mapping[str, Any],
    containers: Sequence[Mapping[str, Any]],
    deleting: bool,
    failures: list[str | None],
    runs: list[Run],
) -> None:
    """A Failed pod: a failure when it ended by itself (not by the scheduler's deletion), and
    its run from the first start to the last end (added to ``failures`` and ``runs``)."""
    status = body.get("status") or {}
    ended = [(c.get("state") or {}).get("terminated") or {} for c in containers]
    finished = [str(t["finishedAt"]) for t in ended if t.get("finishedAt")]
    started = [str(t["startedAt"]) for t in ended if t.get("startedAt")]
    if not deleting:
        by_itself = True
    elif finished:  # an essential container had ended before the deletion was asked for
        essential = set(essential_containers(body))
        by_itself = any(
            before_deletion(body, t.get("finishedAt"))
            for c, t in zip(containers, ended, strict=True)
            if c.get("name") in essential and t
        )
    else:  # none ran (refused at admission, evicted before it started): the kubelet says why
        by_itself = bool(status.get("reason"))
    if by_itself:
        failures.append(max(finished) if finished else None)
    if started and finished:
        runs.append((min(started), max(finished)))
