"""An ECS service's counts and readiness from its Deployment."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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


def service_counts(desired: int, deployment: Mapping[str, Any] | None) -> ServiceCounts:
    """ECS counts from the Deployment status.

    RUNNING tasks are the pods that are ready; PENDING ones are the other pods the
    Deployment currently has (scheduled or not, not yet ready).  Terminating pods are
    not counted, as ECS stops counting a task once it is told to stop.
    """
    status = (deployment or {}).get("status") or {}
    if (deployment or {}).get("kind") == "DaemonSet":
        # a DAEMON service wants one task per eligible node
        scheduled = int(status.get("desiredNumberScheduled") or 0)
        running = int(status.get("numberReady") or 0)
        return ServiceCounts(desiredCount=scheduled, runningCount=running, pendingCount=max(scheduled - running, 0))
    replicas = int(status.get("replicas") or 0)
    running = int(status.get("readyReplicas") or 0)
    return ServiceCounts(desiredCount=desired, runningCount=running, pendingCount=max(replicas - running, 0))


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


# what changes as tasks start and stop, with nothing else about the service changing
_COUNTS = ("runningCount", "pendingCount", "desiredCount")
_TIMES = ("lastTransitionTime", "updatedAt")


def counts_only_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """The two statuses differ only in how many tasks run or wait (and in the Ready message
    that states those numbers): news a user can wait a few seconds for. A rollout's state, a
    failed task, a condition, an event or the service's desiredCount is not such a change."""
    return _gist(before) == _gist(after)


def _gist(status: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    deployments = [
        {k: v for k, v in d.items() if k not in _COUNTS and k not in _TIMES} for d in status.get("deployments") or []
    ]
    conditions = [
        {
            k: v
            for k, v in c.items()
            if k not in _TIMES and not (k == "message" and c.get("reason") == "RolloutInProgress")
        }
        for c in status.get("conditions") or []
    ]
    rest = {k: v for k, v in status.items() if k not in ("runningCount", "pendingCount", "deployments", "conditions")}
    return rest, deployments, conditions
