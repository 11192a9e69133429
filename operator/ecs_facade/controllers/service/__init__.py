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

from ecs_facade.controllers.service import workers  # noqa: F401  the work queue's start-up and clean-up handlers
from ecs_facade.controllers.service.apply import owns_replicas
from ecs_facade.controllers.service.capacity import lift_gates
from ecs_facade.controllers.service.plan import Plan, resolve_revision, tasks_on_draining, throttled
from ecs_facade.controllers.service.reconciler import reconcile
from ecs_facade.controllers.service.triggers import (
    enqueue,
    instance_state_changed,
    service_changed,
    tasks_changed,
    workload_event,
)
from ecs_facade.controllers.service.workers import release_service_workers

__all__ = [
    "Plan",
    "enqueue",
    "instance_state_changed",
    "lift_gates",
    "owns_replicas",
    "reconcile",
    "release_service_workers",
    "resolve_revision",
    "service_changed",
    "tasks_changed",
    "tasks_on_draining",
    "throttled",
    "workload_event",
]
