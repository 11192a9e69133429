"""An ECS service's counts and readiness from its Deployment."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecs_facade.views.deployments import TaskState, pending


@dataclass(frozen=True)
class ServiceCounts:
    desiredCount: int
    runningCount: int
    pendingCount: int


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str
    message: str


def service_counts(
    desired: int, deployment: Mapping[str, Any] | None, tasks: Sequence[TaskState] | None = None
) -> ServiceCounts:
    """ECS counts from the Deployment status and the service's tasks.

    RUNNING tasks are the pods that are ready. PENDING ones are the tasks placed on a
    container instance (pods bound to a node) that are not ready yet
    (``views.deployments.pending``): a pod the scheduler cannot place is not counted, as ECS
    never creates a task it cannot place, and an ECSCluster's ``pendingTasksCount`` does not
    count it either. Without ``tasks``, the Deployment's other pods. Terminating pods are not
    counted, as ECS stops counting a task once it is told to stop.
    """
    status = (deployment or {}).get("status") or {}
    if (deployment or {}).get("kind") == "DaemonSet":
        # a DAEMON service wants one task per eligible node
        scheduled = int(status.get("desiredNumberScheduled") or 0)
        running = int(status.get("numberReady") or 0)
        waiting = max(scheduled - running, 0) if tasks is None else sum(1 for t in tasks if pending(t))
        return ServiceCounts(desiredCount=scheduled, runningCount=running, pendingCount=waiting)
    replicas = int(status.get("replicas") or 0)
    running = int(status.get("readyReplicas") or 0)
    waiting = max(replicas - running, 0) if tasks is None else sum(1 for t in tasks if pending(t))
    return ServiceCounts(desiredCount=desired, runningCount=running, pendingCount=waiting)


def rollout_readiness(service_name: str, counts: ServiceCounts, deployment: Mapping[str, Any] | None) -> Readiness:
    """Ready is True when the service has reached what ECS calls a steady state."""
    if deployment is None:
        return Readiness(False, "DeploymentPending", "the Deployment has not been created yet")
    meta = deployment.get("metadata") or {}
    status = deployment.get("status") or {}
    observed = int(status.get("observedGeneration") or 0)
    generation = int(meta.get("generation") or 0)
    if deployment.get("kind") == "DaemonSet":
        updated = int(status.get("updatedNumberScheduled") or 0)
        replicas = int(status.get("currentNumberScheduled") or 0)
    else:
        updated = int(status.get("updatedReplicas") or 0)
        replicas = int(status.get("replicas") or 0)
    if (
        observed >= generation
        and counts.runningCount == counts.desiredCount
        and updated == counts.desiredCount
        and replicas == counts.desiredCount
    ):
        return Readiness(True, "SteadyState", f"(service {service_name}) has reached a steady state.")
    return Readiness(
        False,
        "RolloutInProgress",
        f"{counts.runningCount} of {counts.desiredCount} tasks running, {counts.pendingCount} pending",
    )


def settled(workload: Mapping[str, Any]) -> bool:
    """The Deployment (or DaemonSet) has run its controller over its latest spec, and all of
    its tasks are of that spec and ready, none left of older ones: the moment a rollout ends,
    which its service's status says at once rather than with the next batch of events."""
    meta = workload.get("metadata") or {}
    status = workload.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False
    if workload.get("kind") == "DaemonSet":
        daemon = ("desiredNumberScheduled", "currentNumberScheduled", "updatedNumberScheduled", "numberReady")
        return len({int(status.get(k) or 0) for k in daemon}) == 1
    if workload.get("kind") != "Deployment":
        return False
    wanted = (workload.get("spec") or {}).get("replicas")
    counts = ("replicas", "updatedReplicas", "readyReplicas")
    return wanted is not None and all(int(status.get(k) or 0) == int(wanted) for k in counts)


# A rollout's progress, as conditions say it: the same while it starts and goes on.
_IN_PROGRESS = {
    ("Progressing", "NoDeployment"),
    ("Progressing", "DeploymentInProgress"),
    ("Ready", "DeploymentPending"),
    ("Ready", "RolloutInProgress"),
}
_TIMES = ("lastTransitionTime", "updatedAt")
_DEPLOYMENT_NEWS = ("id", "status", "taskDefinition", "failedTasks", "rolloutState", "rolloutStateReason")


# Status fields that say nothing new by themselves: written with the next write that does
# (the stopped tasks change with the events that tell of them; what they learn afterwards,
# the exit codes of containers still stopping then, waits for the next write).
RIDE_ALONG = ("stoppedTasks", "completedDeployment")


def news(status: Mapping[str, Any]) -> dict[str, Any]:
    """The status without what rides along with writes (RIDE_ALONG)."""
    return {k: v for k, v in status.items() if k not in RIDE_ALONG}


def without_times(status: Mapping[str, Any]) -> Any:
    """Status compared without timestamps that change on every computation."""

    def strip(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: strip(v) for k, v in value.items() if k not in ("lastTransitionTime", "updatedAt")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(status)


def progress_only(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """The second status only says how far a rollout got since the first: more tasks pending
    or running, the first ECS deployment showing up IN_PROGRESS. A user can wait a few
    seconds for that. Not so for all desired tasks running (the deployment COMPLETES a
    settle time later, views.deployments), the end of a rollout (completed, failed), a failed
    task, a condition turning (steady state, unplaceable tasks, a missing task definition), an
    event, a new desiredCount or a spec change."""
    return _gist(before) == _gist(after)


def first_rollout_only(status: Mapping[str, Any]) -> bool:
    """A new service's first status says no more than that its first rollout is under way:
    every condition in progress (or Degraded False), not all of its tasks running yet, no
    failed task, no event, no throttle, no autoScaling state. Written a few seconds later, it
    loses nothing; on a quiet cluster the rollout's end is often the first status written at
    all."""
    rest, deployments, conditions = _gist(status)
    calm = ("Degraded", "False", "AsExpected")
    return (
        not rest["allRunning"]
        and not deployments
        and all(len(c) == 2 or c[:3] == calm for c in conditions)
        and not rest.get("events")
        and not rest.get("throttle")
        and not rest.get("autoScaling")
    )


def _gist(status: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    deployments = [tuple(d.get(k) for k in _DEPLOYMENT_NEWS) for d in status.get("deployments") or []]
    if all(d[3] == 0 and d[4] == "IN_PROGRESS" for d in deployments):
        deployments = []  # a first rollout under way, as when it had no deployment yet
    conditions = [
        (c.get("type"), "in progress")
        if (c.get("type"), c.get("reason")) in _IN_PROGRESS
        else tuple(c.get(k) for k in ("type", "status", "reason", "message", "observedGeneration"))
        for c in status.get("conditions") or []
    ]
    rest = {k: v for k, v in status.items() if k not in ("runningCount", "pendingCount", "deployments", "conditions")}
    desired = int(status.get("desiredCount") or 0)
    rest["allRunning"] = desired > 0 and int(status.get("runningCount") or 0) >= desired
    return rest, deployments, conditions
