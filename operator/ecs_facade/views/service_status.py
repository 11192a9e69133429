"""An ECS service's status (describe-services: counts, deployments, events; the conditions
Ready, Progressing and Degraded) from one look at its Kubernetes objects: the service
scheduler's rules, with no I/O.

- Steady state: the PRIMARY deployment COMPLETED (views.deployments) and as many of its tasks
  healthy as the service wants; "(service web) has reached a steady state." is said then.
- The deployment circuit breaker: a PRIMARY deployment IN_PROGRESS whose failed tasks reach
  the threshold (translate.rollout) is FAILED; with ``rollback`` the service goes back to the
  newest older deployment that COMPLETED, also one drained since (``completedDeployment``).
- The scheduler's throttle (views/throttle.py) when no circuit breaker is set.
- Tasks the API server refuses to create (views/refusals.py: Pod Security admission, quotas):
  Ready False with the refusal, and "failed to launch a task" said once per refusal.
- The service's events, newest first, the last MAX_EVENTS kept, in ECS's words (the tasks'
  own, views/service_tasks.py, first).

controllers/service/report.py reads the state into a ``Look``, and does what the ``StatusReport``
says: writes the status, posts the new events, looks again at a given time, applies the
workload again.
"""

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from ecs_facade.model.autoscaling import AutoScaling
from ecs_facade.translate.rollout import circuit_breaker_threshold
from ecs_facade.views.autoscaling import autoscaling_status
from ecs_facade.views.conditions import set_condition
from ecs_facade.views.deployments import (
    TaskState,
    carried_failures,
    completed_deployment,
    ecs_deployments,
    failed_tasks,
    gone_tasks,
    healthy_tasks,
    ordered,
    settles_at,
    template_hash,
    unplaced_reason,
)
from ecs_facade.views.refusals import launch_failed, refusal_reason, replica_set_refusal
from ecs_facade.views.service import Readiness, ServiceCounts, rollout_readiness, service_counts
from ecs_facade.views.service_tasks import Naming, Seen, TaskEvents, deferred, observe, stopped_tasks, task_events
from ecs_facade.views.throttle import holding, next_throttle

MAX_EVENTS = 100  # ECS keeps a service's last 100 events


class Condition(NamedTuple):
    status: bool
    reason: str
    message: str


AS_EXPECTED = Condition(False, "AsExpected", "tasks start and run")
STALLED = Condition(
    True,
    "RolloutStalledInECS",
    "maximumPercent/minimumHealthyPercent allow neither starting nor stopping a task; ecs-facade surges by one task",
)
_PROGRESSING = {
    "IN_PROGRESS": Condition(True, "DeploymentInProgress", "a new deployment is rolling out"),
    "COMPLETED": Condition(False, "DeploymentCompleted", "the latest deployment completed"),
    "FAILED": Condition(False, "DeploymentFailed", "the latest deployment failed"),
}
_NO_DEPLOYMENT = Condition(False, "NoDeployment", "no deployment yet")


@dataclass(frozen=True)
class TasksSeen:
    """What the last status said of a service's tasks (views.service_tasks: which task each
    pod runs, for the events), what is kept of them for failedTasks once their pods are
    gone (views.deployments.gone_tasks), and its recently stopped tasks as known now
    (status.stoppedTasks, views.service_tasks.stopped_tasks: written with the next write)."""

    seen: Mapping[str, Seen]
    last: Mapping[str, TaskState]
    gone: tuple[TaskState, ...]
    stopped: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Planned:
    """What the plan decided (controllers.service.Plan) that the status tells of."""

    desired: int
    arn: str  # the task definition revision in use
    breaker: Mapping[str, Any]  # deploymentConfiguration.deploymentCircuitBreaker
    held: str | None = None  # a FAILED deployment that launches nothing: PRIMARY still
    stalls: bool = False  # maximumPercent/minimumHealthyPercent allow neither starting nor stopping
    scaling: AutoScaling | None = None


@dataclass(frozen=True)
class Look:
    """One look at a service: everything its status is computed from. ``plan`` is a
    ``Readiness`` when nothing could be planned (its reason is the Ready condition's)."""

    spec: Mapping[str, Any]
    status: Mapping[str, Any]  # the last status (with what the operator wrote since)
    generation: int | None
    plan: Planned | Readiness
    workload: Mapping[str, Any] | None  # the Deployment or DaemonSet
    tasks: Sequence[TaskState]
    replica_sets: Sequence[Mapping[str, Any]]
    naming: Naming
    now: str
    settle_seconds: float
    retention_seconds: float
    hpa: Mapping[str, Any] | None = None
    remembered: TasksSeen | None = None  # None: the first look since the operator started
    noted_unhealthy: Collection[tuple[str, int]] = ()  # views.service_tasks.task_events
    noted_exits: Mapping[tuple[str, int], Mapping[str, Any]] = field(default_factory=dict)
    # a DaemonSet's pods refused (its Events: views.refusals.daemon_set_refusal)
    daemon_refusal: str | None = None

    @property
    def label(self) -> str:
        return f"(service {self.naming.service})"


@dataclass(frozen=True)
class Rollout:
    """What the scheduler makes of the rollout on this look."""

    readiness: Readiness
    deployments: list[dict[str, Any]]
    throttle: dict[str, Any]
    degraded: Condition
    arn: str | None
    messages: list[str] = field(default_factory=list)
    reapply: bool = False
    settles_at: str | None = None


@dataclass(frozen=True)
class StatusReport:
    """The new status and what to do about it."""

    status: dict[str, Any]  # every field to write (stoppedTasks and completedDeployment too)
    posted: list[str]  # the events new in it, in the order they were said
    progress: bool  # all of them tell of tasks the scheduler started or stopped (progress)
    reapply: bool  # the breaker rolled back or stopped launches, or the throttle holds them
    settles_at: str | None  # look again then: the PRIMARY's tasks will have been healthy long enough
    resume_at: str | None  # the throttle holds launches until then: apply the workload again
    seen: TasksSeen  # to remember once the status is written


def service_status(look: Look, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> StatusReport:
    """The service's status after ``look``: counts, deployments, the breaker, the throttle,
    events and conditions, and the decisions that go with them."""
    counts = service_counts(wanted_count(look.plan, look.spec, look.workload), look.workload, look.tasks)
    deployments, gone = listed_deployments(look, counts.desiredCount)
    news, seen = task_news(look)
    completed = completed_deployment(deployments, look.status.get("completedDeployment"))
    throttle = current_throttle(look.status, deployments)
    if isinstance(look.plan, Planned):
        rollout = rollout_status(look, look.plan, counts, deployments, gone, completed, throttle)
    else:
        rollout = Rollout(look.plan, deployments, throttle, AS_EXPECTED, look.status.get("taskDefinition"))
    messages = [*news.messages, *rollout.messages]
    events, posted = with_events(look.status.get("events"), messages, look.now, new_id)
    tasks_seen = remembered_tasks(look, news, seen, gone)
    status: dict[str, Any] = {
        "desiredCount": counts.desiredCount,
        "runningCount": counts.runningCount,
        "pendingCount": counts.pendingCount,
        "taskDefinition": rollout.arn,
        "deployments": rollout.deployments,
        "events": events,
        "throttle": rollout.throttle or None,
        "autoScaling": scaling_status(look.plan, look.status, look.hpa, counts.desiredCount, look.now),
        "observedGeneration": look.generation,
        "conditions": service_conditions(look.status.get("conditions"), rollout, look.generation, look.now),
        "stoppedTasks": list(tasks_seen.stopped) or None,
        "completedDeployment": completed,
    }
    return StatusReport(
        status=status,
        posted=posted,
        progress=bool(posted) and set(posted) <= set(news.progress),
        reapply=rollout.reapply,
        settles_at=rollout.settles_at,
        resume_at=str(rollout.throttle["nextAttemptAt"]) if holding(rollout.throttle, look.now) else None,
        seen=tasks_seen,
    )


def wanted_count(plan: Planned | Readiness, spec: Mapping[str, Any], workload: Mapping[str, Any] | None) -> int:
    """The count the service asks for: the plan's; without a plan, the HPA's count on the
    workload while autoScaling is set, else the spec's desiredCount. (A DAEMON service's
    comes from its nodes: views.service.service_counts.)"""
    if isinstance(plan, Planned):
        return plan.desired
    replicas = ((workload or {}).get("spec") or {}).get("replicas")
    if spec.get("autoScaling") and replicas is not None:
        return int(replicas)
    return int(spec.get("desiredCount") or 0)


def listed_deployments(look: Look, desired: int) -> tuple[list[dict[str, Any]], tuple[TaskState, ...]]:
    """The ECS deployments, and the gone tasks they count: the ones remembered, or on the
    first look since the operator started, the failures the last status counted of pods
    gone meanwhile (views.deployments.carried_failures)."""
    previous = list(look.status.get("deployments") or [])
    breaker = look.plan.breaker if isinstance(look.plan, Planned) else {}

    def with_gone(gone: tuple[TaskState, ...]) -> list[dict[str, Any]]:
        return ecs_deployments(
            look.replica_sets,
            look.tasks,
            desired,
            look.naming.task_definition_arn,
            previous,
            look.now,
            settle_seconds=look.settle_seconds,
            primary=look.plan.held if isinstance(look.plan, Planned) else None,
            reset_on_healthy=breaker.get("resetOnHealthyTask") is not False,
            gone=gone,
        )

    gone = look.remembered.gone if look.remembered is not None else ()
    deployments = with_gone(gone)
    carried = carried_failures(previous, deployments, look.replica_sets) if look.remembered is None else ()
    if carried:
        return with_gone(carried), carried
    return deployments, gone


def task_news(look: Look) -> tuple[TaskEvents, dict[str, Seen]]:
    """The events of tasks started and stopped since the last status (a new service's first
    tasks too); none on the first look after the operator started: they were told before."""
    if look.remembered is not None or look.status.get("observedGeneration") is None:
        before = look.remembered.seen if look.remembered is not None else {}
        return task_events(look.label, before, look.tasks, look.now, look.noted_unhealthy)
    return TaskEvents(), observe(look.tasks, look.now)


def current_throttle(status: Mapping[str, Any], deployments: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The throttle as it stands: a new deployment resets it (views/throttle.py)."""
    throttle = dict(status.get("throttle") or {})
    if throttle.get("deployment") != (deployments[0]["id"] if deployments else None):
        return {}
    return throttle


def rollout_status(
    look: Look,
    plan: Planned,
    counts: ServiceCounts,
    deployments: list[dict[str, Any]],
    gone: Sequence[TaskState],
    completed: Mapping[str, Any] | None,
    throttle: dict[str, Any],
) -> Rollout:
    """Steady state, the throttle, the circuit breaker, unplaceable tasks and the Degraded
    condition of a service with a plan."""
    desired, label = counts.desiredCount, look.label
    primary = deployments[0] if deployments else None
    primary_set = ordered(look.replica_sets, plan.held)[0] if look.replica_sets else None
    template = template_hash(primary_set) if primary_set is not None else ""
    healthy = healthy_tasks(look.tasks, template, look.now, look.settle_seconds)
    readiness = steady_state(
        rollout_readiness(look.naming.service, counts, look.workload), primary, healthy, desired, look.settle_seconds
    )
    due = settle_due(primary, look.tasks, template, desired, look.settle_seconds, look.now)
    messages: list[str] = []
    reapply = False
    if primary is not None and not plan.breaker.get("enable"):
        # the throttle counts every failure of the deployment (a task that turned healthy
        # sets ECS's failedTasks back to 0, not the throttle's rounds)
        throttle, started = next_throttle(
            throttle,
            primary["id"],
            failed_tasks([*look.tasks, *gone], template),
            circuit_breaker_threshold(desired),
            look.now,
            rolling_out=primary["rolloutState"] == "IN_PROGRESS",
        )
        if started:
            messages.append(f"{label} is unable to consistently start tasks successfully.")
            reapply = True
    arn: str | None = plan.arn
    tripped = circuit_breaker(deployments, completed, plan.breaker, desired, look.now, label)
    if tripped is not None:
        deployments, degraded, reapply = tripped.deployments, tripped.degraded, True
        arn = tripped.arn or arn
        messages.extend(tripped.messages)
    else:
        degraded = degraded_since(throttle, primary, look.status.get("conditions"), look.generation, look.now)
    readiness, placed = placement(readiness, look.tasks, label)
    messages.extend(placed)
    refusal = replica_set_refusal(ordered(look.replica_sets, plan.held)) or look.daemon_refusal
    readiness, refused = launch_refusal(readiness, refusal, look.status.get("conditions"), label)
    messages.extend(refused)
    if plan.stalls and desired > 0 and plan.held is None:
        degraded = STALLED
    return Rollout(readiness, deployments, throttle, degraded, arn, messages, reapply, due)


def steady_state(
    readiness: Readiness, primary: Mapping[str, Any] | None, healthy: int, desired: int, settle_seconds: float
) -> Readiness:
    """ECS's steady state: the PRIMARY deployment COMPLETED and older ones run nothing; more
    tasks of a COMPLETED deployment (a new desiredCount, a replacement) once they are healthy
    too. ``readiness``: what the workload's counts say (views.service.rollout_readiness)."""
    if not readiness.ready or primary is None:
        return readiness
    if primary["rolloutState"] != "COMPLETED":
        return Readiness(False, "RolloutInProgress", f"deployment {primary['id']} is {primary['rolloutState']}")
    if healthy < desired:
        return Readiness(False, "RolloutInProgress", f"{healthy} of {desired} tasks healthy for {settle_seconds:g} s")
    return readiness


def settle_due(
    primary: Mapping[str, Any] | None,
    tasks: Sequence[TaskState],
    template: str,
    desired: int,
    settle_seconds: float,
    now: str,
) -> str | None:
    """When enough of the PRIMARY deployment's tasks will have run healthy for the settle
    time (it may COMPLETE then): a time to look again, if it is still to come."""
    if primary is None or primary["rolloutState"] == "FAILED":
        return None
    due = settles_at(tasks, template, desired, settle_seconds)
    return due if due is not None and due > now else None


@dataclass(frozen=True)
class Tripped:
    """The circuit breaker failed the PRIMARY deployment."""

    deployments: list[dict[str, Any]]  # the PRIMARY FAILED
    arn: str | None  # the revision rolled back to, if it rolled back
    degraded: Condition
    messages: list[str]


def circuit_breaker(
    deployments: Sequence[dict[str, Any]],
    completed: Mapping[str, Any] | None,
    breaker: Mapping[str, Any],
    desired: int,
    now: str,
    label: str,
) -> Tripped | None:
    """The deployment circuit breaker (when ``breaker`` enables it): a PRIMARY deployment
    IN_PROGRESS whose failed tasks reach the threshold FAILS; with ``rollback`` the service
    goes back to the newest older deployment that COMPLETED (listed, or ``completed``, the
    last one known, drained since); without one it launches nothing more
    (views.deployments.failed_hold). None: the breaker did not trip on this look."""
    primary = deployments[0] if deployments else None
    threshold = circuit_breaker_threshold(desired, breaker.get("thresholdConfiguration"))
    if not (breaker.get("enable") and primary and primary["rolloutState"] == "IN_PROGRESS"):
        return None
    if primary["failedTasks"] < threshold:
        return None
    reason = (
        f"ECS deployment circuit breaker: task failed to start ({primary['failedTasks']} failed tasks, "
        f"threshold {threshold})."
    )
    failed = {**primary, "rolloutState": "FAILED", "rolloutStateReason": reason, "updatedAt": now}
    listed = [failed, *deployments[1:]]
    messages = [f"{label} ({primary['id']}) deployment failed: tasks failed to start."]
    drained = [{**completed, "rolloutState": "COMPLETED"}] if completed else []
    target = rollback_target([*deployments[1:], *drained], primary.get("taskDefinition"))
    if breaker.get("rollback") and target is not None:
        arn = target["taskDefinition"]
        messages.append(f"{label} rolling back to deployment {target['id']} ({arn}).")
        return Tripped(
            listed,
            arn,
            Condition(True, "RolledBack", f"deployment {primary['id']} failed; rolled back to {arn}"),
            messages,
        )
    return Tripped(listed, None, Condition(True, "DeploymentFailed", reason), messages)


def rollback_target(older: Sequence[Mapping[str, Any]], failed_arn: str | None) -> Mapping[str, Any] | None:
    """The newest older deployment that COMPLETED with another revision."""
    for deployment in older:
        if deployment.get("rolloutState") == "COMPLETED" and deployment.get("taskDefinition") not in (None, failed_arn):
            return deployment
    return None


def degraded_since(
    throttle: Mapping[str, Any],
    primary: Mapping[str, Any] | None,
    conditions: Sequence[Mapping[str, Any]] | None,
    generation: int | None,
    now: str,
) -> Condition:
    """The Degraded condition when the breaker did not just decide it: tasks failing while
    the throttle holds launches (even if the failing tasks made the rollout look complete for
    a moment), a FAILED deployment as said when it failed, a rollback until the spec changes."""
    if throttle and primary and (primary["rolloutState"] == "IN_PROGRESS" or holding(throttle, now)):
        return Condition(
            True,
            "TasksFailing",
            f"{primary['failedTasks']} tasks of {primary['id']} failed to start; new tasks wait until "
            f"{throttle['nextAttemptAt']} (attempt {throttle['attempts']})",
        )
    before: Mapping[str, Any] = next((c for c in conditions or [] if c.get("type") == "Degraded"), {})
    if primary and primary["rolloutState"] == "FAILED":
        return Condition(
            True,
            str(before.get("reason") or "DeploymentFailed"),
            str(before.get("message") or primary["rolloutStateReason"]),
        )
    if before.get("reason") == "RolledBack" and before.get("observedGeneration") == generation:
        return Condition(True, "RolledBack", str(before.get("message")))
    return AS_EXPECTED


def placement(readiness: Readiness, tasks: Sequence[TaskState], label: str) -> tuple[Readiness, list[str]]:
    """A task the scheduler cannot place keeps the service from a steady state, in ECS's
    words; a steady state is said as ECS says it."""
    unplaced = unplaced_reason(tasks)
    if unplaced and not readiness.ready:
        message = (
            f"{label} was unable to place a task because no container instance met all of its "
            f"requirements. Reason: {unplaced}"
        )
        return Readiness(False, "TasksUnplaceable", f"a task cannot be placed: {unplaced}"), [message]
    if readiness.ready:
        return readiness, [f"{label} has reached a steady state."]
    return readiness, []


def launch_refusal(
    readiness: Readiness,
    refusal: str | None,
    conditions: Sequence[Mapping[str, Any]] | None,
    label: str,
) -> tuple[Readiness, list[str]]:
    """Tasks the API server refuses to create (a ReplicaSet's or DaemonSet's FailedCreate: the
    namespace's Pod Security admission, a quota, a webhook; views/refusals.py) keep the service from a
    steady state, with the refusal as the reason (before a placement's: no task exists to
    place). ECS's "failed to launch a task" event is said once per refusal: not while the Ready
    condition, as last written, says it already (ECS omits a repeated event until the cause
    is resolved)."""
    if readiness.ready or refusal is None:
        return readiness, []
    said = Readiness(False, refusal_reason(refusal), f"tasks cannot be created: {refusal}")
    before: Mapping[str, Any] = next((c for c in conditions or [] if c.get("type") == "Ready"), {})
    if (before.get("status"), before.get("reason"), before.get("message")) == ("False", said.reason, said.message):
        return said, []
    return said, [launch_failed(label, refusal)]


def service_conditions(
    conditions: Sequence[Mapping[str, Any]] | None, rollout: Rollout, generation: int | None, now: str
) -> list[dict[str, Any]]:
    """Ready (steady state), Progressing (the PRIMARY deployment's rolloutState), Degraded."""
    state = rollout.deployments[0]["rolloutState"] if rollout.deployments else None
    ready = rollout.readiness
    result = [dict(c) for c in conditions or []]
    for type_, said in (
        ("Ready", Condition(ready.ready, ready.reason, ready.message)),
        ("Progressing", _PROGRESSING.get(str(state), _NO_DEPLOYMENT)),
        ("Degraded", rollout.degraded),
    ):
        result = set_condition(
            result,
            type=type_,
            status=said.status,
            reason=said.reason,
            message=said.message,
            observed_generation=generation,
            now=now,
        )
    return result


def scaling_status(
    plan: Planned | Readiness, status: Mapping[str, Any], hpa: Mapping[str, Any] | None, desired: int, now: str
) -> dict[str, Any] | None:
    """status.autoScaling: from the HPA while autoScaling is set; as it was when nothing could
    be planned (nothing applied: the HPA runs on as it was)."""
    if not isinstance(plan, Planned):
        return status.get("autoScaling")
    if plan.scaling is None:
        return None
    before, previous = status.get("desiredCount"), status.get("autoScaling")
    count_before = int(before) if before is not None and previous is not None else None
    return autoscaling_status(plan.scaling, hpa, previous, count_before, desired, now)


def with_events(
    events: Sequence[Mapping[str, Any]] | None, messages: Sequence[str], now: str, new_id: Callable[[], str]
) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The service's events with ``messages`` said (newest first, the last MAX_EVENTS), and
    those that are new: a message the newest event says already is not said again."""
    listed = list(events or [])
    posted = []
    for message in messages:
        if listed and listed[0].get("message") == message:
            continue
        listed.insert(0, {"id": new_id(), "createdAt": now, "message": message})
        posted.append(message)
    return listed[:MAX_EVENTS], posted


def event_type(message: str) -> str:
    """The Kubernetes Event type of a service event: a warning tells of a failure."""
    warning = "failed" in message or "unable" in message or "rolling back" in message
    return "Warning" if warning else "Normal"


def remembered_tasks(look: Look, news: TaskEvents, seen: Mapping[str, Seen], gone: Sequence[TaskState]) -> TasksSeen:
    """What to remember of the tasks after this look: what was seen (for the next events),
    the last state of each pod and the gone tasks (for failedTasks), the recently stopped
    tasks (status.stoppedTasks)."""
    remembered = look.remembered
    last = remembered.last if remembered is not None else {}
    kept = remembered.stopped if remembered is not None else tuple(look.status.get("stoppedTasks") or ())
    stopped = stopped_tasks(
        kept, news.stops, look.tasks, last, look.noted_exits, look.naming, look.now, look.retention_seconds
    )
    templates = {template_hash(rs) for rs in look.replica_sets}
    live, kept_gone = gone_tasks(last, look.tasks, gone, templates, look.now, look.settle_seconds)
    return TasksSeen(seen, live, kept_gone, tuple(stopped))


def seen_while_waiting(remembered: TasksSeen | None, seen: TasksSeen) -> TasksSeen:
    """What to remember when the status write waits for progress it tells (events of tasks
    the scheduler started or stopped): those tasks are seen as before, to be told by the write
    that follows (views.service_tasks.deferred)."""
    return replace(seen, seen=deferred(remembered.seen if remembered is not None else {}, seen.seen))
