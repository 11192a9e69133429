"""A service's ECS deployments (describe-services ``deployments[]``) from its ReplicaSets.

Each ReplicaSet of the service's Deployment is one ECS deployment: the newest is PRIMARY,
older ones with tasks are ACTIVE, drained ones INACTIVE. ``rolloutState`` is recomputed for
the PRIMARY deployment except when it FAILED (the circuit breaker's verdict sticks until a
new deployment); older deployments keep the state they ended with.
"""

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
MAX_INACTIVE = 5


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


def deployment_id(replica_set_uid: str) -> str:
    """Stable ECS-style id (``ecs-svc/`` and 19 digits) for a ReplicaSet."""
    digits = int(hashlib.sha256(replica_set_uid.encode()).hexdigest()[:16], 16) % 10**19
    return f"ecs-svc/{digits:019d}"


def failed_tasks(tasks: Sequence[TaskState], template_hash: str) -> int:
    """Tasks of one deployment that stopped with a failure, or whose containers were restarted."""
    return sum((1 if t.phase == "Failed" else 0) + t.restarts for t in tasks if t.template_hash == template_hash)


def ecs_deployments(
    replica_sets: Sequence[Mapping[str, Any]],
    tasks: Sequence[TaskState],
    desired: int,
    arn_of: Callable[[Mapping[str, str]], str | None],
    previous: Sequence[Mapping[str, Any]],
    now: str,
) -> list[dict[str, Any]]:
    """The ECS deployments, PRIMARY first, then ACTIVE, then the last few INACTIVE."""
    ordered = sorted(
        replica_sets,
        key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION, 0)),
        reverse=True,
    )
    before = {d.get("id"): d for d in previous}
    result: list[dict[str, Any]] = []
    for index, rs in enumerate(ordered):
        meta = rs["metadata"]
        template_hash = (meta.get("labels") or {}).get("pod-template-hash", "")
        replicas = int((rs.get("spec") or {}).get("replicas") or 0)
        status = rs.get("status") or {}
        ready = int(status.get("readyReplicas") or 0)
        current = int(status.get("replicas") or 0)
        ident = deployment_id(meta.get("uid", meta.get("name", "")))
        old = before.get(ident, {})
        if index == 0:
            kind = "PRIMARY"
            others_drained = all(int((o.get("status") or {}).get("replicas") or 0) == 0 for o in ordered[1:])
            if old.get("rolloutState") == "FAILED" and old.get("status") == "PRIMARY":
                state, reason = "FAILED", old.get("rolloutStateReason", "")
            elif ready == desired and current == desired and others_drained:
                state, reason = "COMPLETED", "ECS deployment completed."
            else:
                state, reason = "IN_PROGRESS", "ECS deployment in progress."
            want = desired
        else:
            kind = "ACTIVE" if current > 0 or replicas > 0 else "INACTIVE"
            state = old.get("rolloutState", "COMPLETED")
            reason = old.get("rolloutStateReason", "ECS deployment completed.")
            want = replicas
        entry = {
            "id": ident,
            "status": kind,
            "taskDefinition": arn_of(
                (rs.get("spec") or {}).get("template", {}).get("metadata", {}).get("labels") or {}
            ),
            "desiredCount": want,
            "runningCount": ready,
            "pendingCount": max(current - ready, 0),
            "failedTasks": failed_tasks(tasks, template_hash),
            "rolloutState": state,
            "rolloutStateReason": reason,
            "createdAt": meta.get("creationTimestamp", now),
        }
        unchanged = {k: old.get(k) for k in entry} == entry
        entry["updatedAt"] = old.get("updatedAt", now) if unchanged else now
        result.append({k: v for k, v in entry.items() if v is not None})
    inactive = [d for d in result if d["status"] == "INACTIVE"]
    return [d for d in result if d["status"] != "INACTIVE"] + inactive[:MAX_INACTIVE]


def unplaced_reason(tasks: Sequence[TaskState]) -> str | None:
    for task in tasks:
        if task.unschedulable:
            return task.unschedulable
    return None
