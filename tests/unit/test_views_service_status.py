"""A service's status from one look (views/service_status.py): steady state, the deployment
circuit breaker and its rollback, the scheduler's throttle, unplaceable tasks, the conditions
Ready/Progressing/Degraded and the events, field by field."""

from dataclasses import replace
from typing import Any

from ecs_facade.views.deployments import TaskState, deployment_id
from ecs_facade.views.service import Readiness
from ecs_facade.views.service_status import (
    AS_EXPECTED,
    MAX_EVENTS,
    STALLED,
    Condition,
    Look,
    Planned,
    Rollout,
    StatusReport,
    TasksSeen,
    circuit_breaker,
    current_throttle,
    degraded_since,
    event_type,
    launch_refusal,
    placement,
    rollback_target,
    scaling_status,
    seen_while_waiting,
    service_conditions,
    service_status,
    settle_due,
    steady_state,
    wanted_count,
    with_events,
)
from ecs_facade.views.service_tasks import Naming, Seen, task_id
from tests.unit.test_views_autoscaling import SCALING
from tests.unit.test_views_deployments import ARN, arn_of, at, replica_set, task

NOW = at(20)
NEW, OLD = deployment_id("new"), deployment_id("old")
NAMING = Naming("web", lambda ident: f"arn:aws:ecs:us-east-1:000000000000:task/default/{ident}", arn_of)
NOTHING_SEEN = TasksSeen({}, {}, ())
STEADY = "(service web) has reached a steady state."


def workload(replicas: int, ready: int, *, generation: int = 1, observed: int = 1) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
        },
    }


def planned(desired: int = 2, revision: int = 1, **fields: Any) -> Planned:
    return Planned(desired=desired, arn=f"{ARN}{revision}", breaker=fields.pop("breaker", {}), **fields)


def look(
    sets: list[dict[str, Any]],
    tasks: list[TaskState],
    *,
    plan: Planned | Readiness | None = None,
    status: dict[str, Any] | None = None,
    deployment: dict[str, Any] | None = None,
    now: str = NOW,
    **fields: Any,
) -> Look:
    defaults: dict[str, Any] = {"remembered": NOTHING_SEEN, "retention_seconds": 3600.0}
    return Look(
        spec=fields.pop("spec", {"taskDefinition": "web", "desiredCount": 2}),
        status=status or {},
        generation=fields.pop("generation", 1),
        plan=plan or planned(),
        workload=deployment,
        tasks=tasks,
        replica_sets=sets,
        naming=NAMING,
        now=now,
        settle_seconds=10.0,
        **{**defaults, **fields},
    )


def report(view: Look) -> StatusReport:
    return service_status(view, new_id=lambda: "event-id")


def condition(status: dict[str, Any], type_: str) -> tuple[str, str, str]:
    (found,) = [c for c in status["conditions"] if c["type"] == type_]
    return found["status"], found["reason"], found["message"]


def failing(template: str = "new") -> list[TaskState]:
    """Two tasks of a deployment whose containers restarted three times in all."""
    return [task("a", template, restarts=2), task("b", template, restarts=1)]


# --- the whole status -------------------------------------------------------------------------


def test_a_service_in_a_steady_state() -> None:
    sets = [replica_set("new", 1, 2, 2)]
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(3))]
    result = report(look(sets, tasks, deployment=workload(2, 2)))
    status = result.status
    assert (status["desiredCount"], status["runningCount"], status["pendingCount"]) == (2, 2, 0)
    assert status["taskDefinition"] == f"{ARN}1"
    (primary,) = status["deployments"]
    assert (primary["id"], primary["status"], primary["rolloutState"]) == (NEW, "PRIMARY", "COMPLETED")
    assert status["events"] == [{"id": "event-id", "createdAt": NOW, "message": STEADY}]
    assert status["throttle"] is None
    assert status["autoScaling"] is None
    assert status["observedGeneration"] == 1
    assert condition(status, "Ready") == ("True", "SteadyState", STEADY)
    assert condition(status, "Progressing") == ("False", "DeploymentCompleted", "the latest deployment completed")
    assert condition(status, "Degraded") == ("False", "AsExpected", "tasks start and run")
    assert [c["observedGeneration"] for c in status["conditions"]] == [1, 1, 1]
    assert status["stoppedTasks"] is None
    assert status["completedDeployment"] == {"id": NEW, "taskDefinition": f"{ARN}1"}
    assert (result.posted, result.progress, result.reapply) == ([STEADY], False, False)
    assert (result.settles_at, result.resume_at) == (None, None)


def test_a_steady_state_is_said_once() -> None:
    sets = [replica_set("new", 1, 2, 2)]
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(3))]
    said = {"events": [{"id": "1", "createdAt": at(14), "message": STEADY}], "observedGeneration": 1}
    result = report(look(sets, tasks, deployment=workload(2, 2), status=said))
    assert result.posted == []
    assert result.status["events"] == said["events"]


def test_tasks_ready_but_not_healthy_for_the_settle_time_yet_are_no_steady_state() -> None:
    sets = [replica_set("new", 1, 2, 2)]
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(3))]
    result = report(look(sets, tasks, deployment=workload(2, 2), now=at(5)))
    assert result.status["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert condition(result.status, "Ready") == ("False", "RolloutInProgress", f"deployment {NEW} is IN_PROGRESS")
    assert condition(result.status, "Progressing") == (
        "True",
        "DeploymentInProgress",
        "a new deployment is rolling out",
    )
    assert result.status["events"] == []
    assert result.settles_at == at(13)  # b healthy then: look again
    assert result.status["completedDeployment"] is None


def test_the_circuit_breaker_fails_the_deployment_and_rolls_back() -> None:
    sets = [replica_set("new", 2, 2, 0, td=2), replica_set("old", 1, 2, 2, td=1)]
    breaker = {"enable": True, "rollback": True}
    view = look(sets, failing(), plan=planned(revision=2, breaker=breaker), deployment=workload(2, 0))
    result = report(view)
    status = result.status
    failed, older = status["deployments"]
    assert (failed["id"], failed["status"], failed["rolloutState"], failed["failedTasks"]) == (
        NEW,
        "PRIMARY",
        "FAILED",
        3,
    )
    assert failed["rolloutStateReason"] == (
        "ECS deployment circuit breaker: task failed to start (3 failed tasks, threshold 3)."
    )
    assert failed["updatedAt"] == NOW
    assert (older["id"], older["rolloutState"]) == (OLD, "COMPLETED")
    assert status["taskDefinition"] == f"{ARN}1"  # rolled back
    said = [
        f"(service web) ({NEW}) deployment failed: tasks failed to start.",
        f"(service web) rolling back to deployment {OLD} ({ARN}1).",
    ]
    assert result.posted == said
    assert [e["message"] for e in status["events"]] == list(reversed(said))  # newest first
    assert condition(status, "Degraded") == ("True", "RolledBack", f"deployment {NEW} failed; rolled back to {ARN}1")
    assert condition(status, "Progressing") == ("False", "DeploymentFailed", "the latest deployment failed")
    assert condition(status, "Ready")[0] == "False"
    assert result.reapply
    assert status["completedDeployment"] == {"id": OLD, "taskDefinition": f"{ARN}1"}
    assert status["throttle"] is None


def test_below_the_threshold_the_breaker_waits() -> None:
    sets = [replica_set("new", 2, 2, 0, td=2), replica_set("old", 1, 2, 2, td=1)]
    breaker = {"enable": True, "rollback": True}
    two = [task("a", restarts=2)]
    result = report(look(sets, two, plan=planned(revision=2, breaker=breaker), deployment=workload(2, 0)))
    assert result.status["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert result.status["taskDefinition"] == f"{ARN}2"
    assert (result.posted, result.reapply) == ([], False)


def test_without_rollback_a_failed_deployment_keeps_its_revision() -> None:
    sets = [replica_set("new", 2, 2, 0, td=2), replica_set("old", 1, 2, 2, td=1)]
    view = look(sets, failing(), plan=planned(revision=2, breaker={"enable": True}), deployment=workload(2, 0))
    result = report(view)
    reason = "ECS deployment circuit breaker: task failed to start (3 failed tasks, threshold 3)."
    assert result.status["taskDefinition"] == f"{ARN}2"
    assert result.posted == [f"(service web) ({NEW}) deployment failed: tasks failed to start."]
    assert condition(result.status, "Degraded") == ("True", "DeploymentFailed", reason)
    assert result.reapply  # launches stop (views.deployments.failed_hold)


def test_the_rollback_goes_to_the_last_completed_deployment_also_once_drained() -> None:
    sets = [replica_set("new", 2, 2, 0, td=2)]
    drained = {"id": OLD, "taskDefinition": f"{ARN}1"}
    breaker = {"enable": True, "rollback": True}
    view = look(
        sets,
        failing(),
        plan=planned(revision=2, breaker=breaker),
        deployment=workload(2, 0),
        status={"completedDeployment": drained, "observedGeneration": 1},
    )
    result = report(view)
    assert result.status["taskDefinition"] == f"{ARN}1"
    assert result.posted[-1] == f"(service web) rolling back to deployment {OLD} ({ARN}1)."
    assert result.status["completedDeployment"] == drained


def test_the_throttle_holds_launches_when_no_breaker_is_set() -> None:
    sets = [replica_set("new", 1, 2, 0)]
    result = report(look(sets, failing(), deployment=workload(2, 0)))
    throttle = {"deployment": NEW, "attempts": 1, "failedTasks": 3, "nextAttemptAt": at(30)}
    assert result.status["throttle"] == throttle
    assert result.posted == ["(service web) is unable to consistently start tasks successfully."]
    assert result.reapply
    assert result.resume_at == at(30)
    assert condition(result.status, "Degraded") == (
        "True",
        "TasksFailing",
        f"3 tasks of {NEW} failed to start; new tasks wait until {at(30)} (attempt 1)",
    )
    assert result.status["deployments"][0]["rolloutState"] == "IN_PROGRESS"  # no breaker: never FAILED

    # a look while launches are held: the same round, nothing new to say or apply
    later = report(look(sets, failing(), deployment=workload(2, 0), status=result.status, now=at(25)))
    assert later.status["throttle"] == throttle
    assert (later.posted, later.reapply, later.resume_at) == ([], False, at(30))


def test_a_new_deployment_resets_the_throttle() -> None:
    held = {"deployment": OLD, "attempts": 3, "failedTasks": 9, "nextAttemptAt": at(50)}
    assert current_throttle({"throttle": held}, [{"id": NEW}]) == {}
    assert current_throttle({"throttle": held}, [{"id": OLD}]) == held
    assert current_throttle({"throttle": held}, []) == {}
    sets = [replica_set("new", 1, 2, 2)]
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(0))]
    result = report(look(sets, tasks, deployment=workload(2, 2), status={"throttle": held, "observedGeneration": 1}))
    assert (result.status["throttle"], result.resume_at) == (None, None)


def test_a_failed_deployment_that_launches_nothing_stays_primary_and_degraded_as_said() -> None:
    # the Deployment runs the older template again (its ReplicaSet has the newest revision)
    sets = [replica_set("failed", 2, 0, 0, td=2), replica_set("old", 3, 2, 2, td=1)]
    failed_id = deployment_id("failed")
    before = {
        "observedGeneration": 1,
        "deployments": [
            {"id": failed_id, "status": "PRIMARY", "rolloutState": "FAILED", "rolloutStateReason": "breaker"},
            {"id": OLD, "status": "ACTIVE", "rolloutState": "COMPLETED"},
        ],
        "conditions": [{"type": "Degraded", "status": "True", "reason": "DeploymentFailed", "message": "said"}],
    }
    tasks = [task("a", "old", ready_since=at(0)), task("b", "old", ready_since=at(0))]
    view = look(sets, tasks, plan=planned(revision=2, held=failed_id, stalls=True), deployment=workload(2, 2))
    result = report(replace(view, status=before))
    primary, older = result.status["deployments"]
    assert (primary["id"], primary["rolloutState"], primary["rolloutStateReason"]) == (failed_id, "FAILED", "breaker")
    assert older["id"] == OLD
    assert condition(result.status, "Degraded") == ("True", "DeploymentFailed", "said")  # not STALLED: held
    assert condition(result.status, "Ready") == ("False", "RolloutInProgress", f"deployment {failed_id} is FAILED")
    assert result.settles_at is None  # a FAILED deployment is not looked at again
    assert not result.reapply


def test_a_rollout_ecs_would_stall_is_degraded() -> None:
    sets = [replica_set("new", 1, 2, 2)]
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(0))]
    result = report(look(sets, tasks, plan=planned(stalls=True), deployment=workload(2, 2)))
    assert condition(result.status, "Degraded") == ("True", "RolloutStalledInECS", STALLED.message)


def test_a_rollout_ecs_would_stall_is_not_degraded_without_tasks_to_run() -> None:
    result = report(look([replica_set("new", 1, 0, 0)], [], plan=planned(0, stalls=True), deployment=workload(0, 0)))
    assert condition(result.status, "Degraded") == ("False", "AsExpected", "tasks start and run")


def test_a_task_that_cannot_be_placed_is_said_with_the_schedulers_reason() -> None:
    reason = "0/3 nodes are available: 3 Insufficient cpu."
    unplaced = TaskState("b", "new", "Pending", 0, reason)
    sets = [replica_set("new", 1, 2, 1)]
    result = report(look(sets, [task("a", ready_since=at(0)), unplaced], deployment=workload(2, 1)))
    assert condition(result.status, "Ready") == ("False", "TasksUnplaceable", f"a task cannot be placed: {reason}")
    assert result.posted == [
        "(service web) was unable to place a task because no container instance met all of its requirements. "
        f"Reason: {reason}"
    ]
    assert result.status["pendingCount"] == 0  # not placed: no task yet


def test_without_a_plan_the_status_keeps_what_was_applied() -> None:
    kept = {"minCapacity": 1, "maxCapacity": 4}
    held = {"deployment": NEW, "attempts": 1, "failedTasks": 3, "nextAttemptAt": at(30)}
    before = {"taskDefinition": f"{ARN}1", "autoScaling": kept, "throttle": held, "observedGeneration": 1}
    view = look(
        [replica_set("new", 1, 2, 0)],
        failing(),
        plan=Readiness(False, "InvalidSpec", "autoScaling: refused"),
        spec={"desiredCount": 3},
        deployment=workload(2, 0),
        status=before,
    )
    result = report(view)
    assert result.status["desiredCount"] == 3
    assert result.status["taskDefinition"] == f"{ARN}1"
    assert result.status["autoScaling"] == kept
    assert result.status["throttle"] == held  # not advanced, still holding
    assert result.resume_at == at(30)
    assert condition(result.status, "Ready") == ("False", "InvalidSpec", "autoScaling: refused")
    assert condition(result.status, "Degraded") == ("False", "AsExpected", "tasks start and run")
    assert (result.posted, result.reapply) == ([], False)


# --- tasks ------------------------------------------------------------------------------------


def placed(uid: str) -> TaskState:
    return TaskState(uid, "new", "Pending", 0, None, node="node-1", uid=uid)


def test_a_new_services_first_tasks_are_told_started_as_progress() -> None:
    view = look([replica_set("new", 1, 2, 0)], [placed("u1")], remembered=None, deployment=workload(2, 0))
    result = report(view)
    assert result.posted == [f"(service web) has started 1 tasks: (task {task_id('u1')})."]
    assert result.progress
    assert result.status["pendingCount"] == 1
    assert result.seen.seen["u1"] == Seen(task_id("u1"), 0)


def test_the_first_look_after_a_restart_tells_nothing_told_before() -> None:
    before = {"observedGeneration": 1}
    view = look([replica_set("new", 1, 2, 0)], [placed("u1")], remembered=None, deployment=workload(2, 0))
    result = report(replace(view, status=before))
    assert result.posted == []
    assert result.seen.seen["u1"] == Seen(task_id("u1"), 0)


def test_the_first_look_after_a_restart_carries_the_failures_counted_before() -> None:
    before = {"observedGeneration": 1, "deployments": [{"id": NEW, "failedTasks": 2, "updatedAt": at(5)}]}
    sets = [replica_set("new", 1, 2, 0)]
    result = report(look(sets, [], remembered=None, status=before, deployment=workload(2, 0)))
    assert result.status["deployments"][0]["failedTasks"] == 2
    (gone,) = result.seen.gone
    assert (gone.template_hash, gone.failures) == ("new", (at(5), at(5)))


def test_stopped_tasks_are_kept_for_the_retention_time() -> None:
    stopped = {"taskArn": "arn:aws:ecs:us-east-1:000000000000:task/default/abc", "stoppedAt": at(0)}
    before = {"observedGeneration": 1, "stoppedTasks": [stopped]}
    view = look([replica_set("new", 1, 2, 0)], [], remembered=None, status=before, deployment=workload(2, 0))
    assert report(view).status["stoppedTasks"] == [stopped]
    assert report(view).seen.stopped == (stopped,)
    assert report(replace(view, retention_seconds=10.0)).status["stoppedTasks"] is None


def test_a_status_that_waits_tells_the_started_tasks_with_the_next_write() -> None:
    before = TasksSeen({"u1": Seen("t1", 0, unhealthy=False)}, {}, ())
    now = TasksSeen({"u1": Seen("t1", 0, unhealthy=True), "u2": Seen("t2", 0)}, {}, ())
    waiting = seen_while_waiting(before, now)
    assert waiting.seen == {"u1": Seen("t1", 0, unhealthy=True)}  # u2 told by the write that follows
    assert seen_while_waiting(None, now).seen == {}


# --- the parts --------------------------------------------------------------------------------


def test_the_wanted_count() -> None:
    autoscaled = {"autoScaling": {"minCapacity": 1}, "desiredCount": 2}
    assert wanted_count(planned(5), {"desiredCount": 2}, workload(3, 3)) == 5
    refused = Readiness(False, "InvalidSpec", "")
    assert wanted_count(refused, autoscaled, workload(3, 3)) == 3  # the HPA's count, still
    assert wanted_count(refused, autoscaled, None) == 2
    assert wanted_count(refused, {"desiredCount": 2}, workload(3, 3)) == 2
    assert wanted_count(refused, {}, None) == 0


def test_steady_state_needs_a_completed_primary_and_every_task_healthy() -> None:
    ready = Readiness(True, "SteadyState", STEADY)
    completed = {"id": NEW, "rolloutState": "COMPLETED"}
    assert steady_state(ready, completed, 3, 3, 10.0) == ready
    assert steady_state(ready, None, 0, 3, 10.0) == ready
    assert steady_state(ready, completed, 2, 3, 10.0) == Readiness(
        False, "RolloutInProgress", "2 of 3 tasks healthy for 10 s"
    )
    failed = {"id": NEW, "rolloutState": "FAILED"}
    assert steady_state(ready, failed, 3, 3, 10.0) == Readiness(
        False, "RolloutInProgress", f"deployment {NEW} is FAILED"
    )
    waiting = Readiness(False, "RolloutInProgress", "1 of 3 tasks running, 2 pending")
    assert steady_state(waiting, completed, 0, 3, 10.0) == waiting


def test_the_settle_look_is_still_to_come() -> None:
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(3))]
    primary = {"id": NEW, "rolloutState": "IN_PROGRESS"}
    assert settle_due(primary, tasks, "new", 2, 10.0, at(5)) == at(13)
    assert settle_due(primary, tasks, "new", 2, 10.0, at(13)) is None  # due now: seen already
    assert settle_due(primary, tasks, "new", 3, 10.0, at(5)) is None  # not enough tasks Ready
    assert settle_due({**primary, "rolloutState": "FAILED"}, tasks, "new", 2, 10.0, at(5)) is None
    assert settle_due(None, tasks, "new", 2, 10.0, at(5)) is None


def test_the_breaker_trips_only_on_an_enabled_breaker_and_a_rollout_in_progress() -> None:
    primary = {"id": NEW, "rolloutState": "IN_PROGRESS", "rolloutStateReason": "", "failedTasks": 3, "updatedAt": at(0)}
    enabled = {"enable": True}
    assert circuit_breaker([primary], None, {}, 2, NOW, "(service web)") is None
    assert circuit_breaker([{**primary, "failedTasks": 2}], None, enabled, 2, NOW, "(service web)") is None
    completed = {**primary, "rolloutState": "COMPLETED"}
    assert circuit_breaker([completed], None, enabled, 2, NOW, "(service web)") is None
    assert circuit_breaker([], None, enabled, 2, NOW, "(service web)") is None
    tripped = circuit_breaker([primary], None, enabled, 2, NOW, "(service web)")
    assert tripped is not None
    assert primary["rolloutState"] == "IN_PROGRESS"  # what it was given is left as it was
    assert (tripped.deployments[0]["rolloutState"], tripped.deployments[0]["updatedAt"]) == ("FAILED", NOW)
    assert tripped.arn is None


def test_the_breakers_threshold_configuration_counts() -> None:
    primary = {"id": NEW, "rolloutState": "IN_PROGRESS", "rolloutStateReason": "", "failedTasks": 1}
    breaker = {"enable": True, "thresholdConfiguration": {"type": "COUNT", "value": 1}}
    tripped = circuit_breaker([primary], None, breaker, 10, NOW, "(service web)")
    assert tripped is not None
    assert tripped.deployments[0]["rolloutStateReason"] == (
        "ECS deployment circuit breaker: task failed to start (1 failed tasks, threshold 1)."
    )


def test_the_rollback_target() -> None:
    older = [
        {"id": "a", "rolloutState": "IN_PROGRESS", "taskDefinition": f"{ARN}3"},
        {"id": "b", "rolloutState": "COMPLETED", "taskDefinition": f"{ARN}2"},  # the failed revision
        {"id": "c", "rolloutState": "COMPLETED"},
        {"id": "d", "rolloutState": "COMPLETED", "taskDefinition": f"{ARN}1"},
        {"id": "e", "rolloutState": "COMPLETED", "taskDefinition": f"{ARN}0"},
    ]
    assert rollback_target(older, f"{ARN}2") == older[3]
    assert rollback_target(older[:3], f"{ARN}2") is None


def test_degraded_while_the_throttle_holds_even_if_the_rollout_looks_complete() -> None:
    holding = {"deployment": NEW, "attempts": 2, "failedTasks": 6, "nextAttemptAt": at(40)}
    completed = {"id": NEW, "rolloutState": "COMPLETED", "failedTasks": 6}
    assert degraded_since(holding, completed, None, 1, NOW) == Condition(
        True, "TasksFailing", f"6 tasks of {NEW} failed to start; new tasks wait until {at(40)} (attempt 2)"
    )
    assert degraded_since(holding, completed, None, 1, at(41)) == AS_EXPECTED  # the hold is over
    rolling = {**completed, "rolloutState": "IN_PROGRESS"}
    assert degraded_since(holding, rolling, None, 1, at(41)).reason == "TasksFailing"  # still rolling out
    assert degraded_since({}, rolling, None, 1, NOW) == AS_EXPECTED


def test_degraded_after_a_failure_or_a_rollback_says_what_was_said() -> None:
    failed = {"id": NEW, "rolloutState": "FAILED", "rolloutStateReason": "reason"}
    assert degraded_since({}, failed, None, 1, NOW) == Condition(True, "DeploymentFailed", "reason")
    said = [{"type": "Degraded", "reason": "RolledBack", "message": "rolled back", "observedGeneration": 1}]
    assert degraded_since({}, failed, said, 1, NOW) == Condition(True, "RolledBack", "rolled back")
    completed = {"id": OLD, "rolloutState": "COMPLETED"}
    assert degraded_since({}, completed, said, 1, NOW) == Condition(True, "RolledBack", "rolled back")
    assert degraded_since({}, completed, said, 2, NOW) == AS_EXPECTED  # the spec changed since


def test_placement_and_steady_state_messages() -> None:
    ready = Readiness(True, "SteadyState", STEADY)
    waiting = Readiness(False, "RolloutInProgress", "")
    unplaced = [TaskState("a", "new", "Pending", 0, "no node")]
    assert placement(ready, [], "(service web)") == (ready, [STEADY])
    assert placement(waiting, [], "(service web)") == (waiting, [])
    readiness, said = placement(waiting, unplaced, "(service web)")
    assert readiness == Readiness(False, "TasksUnplaceable", "a task cannot be placed: no node")
    assert said == [
        "(service web) was unable to place a task because no container instance met all of its requirements. "
        "Reason: no node"
    ]
    assert placement(ready, unplaced, "(service web)") == (ready, [STEADY])  # steady all the same


def test_the_conditions() -> None:
    rollout = Rollout(
        Readiness(False, "RolloutInProgress", "0 of 2"),
        [{"id": NEW, "rolloutState": "FAILED"}],
        {},
        Condition(True, "DeploymentFailed", "reason"),
        None,
    )
    before = [{"type": "Ready", "status": "False", "lastTransitionTime": at(0)}]
    conditions = service_conditions(before, rollout, 4, NOW)
    assert [(c["type"], c["status"], c["reason"]) for c in conditions] == [
        ("Degraded", "True", "DeploymentFailed"),
        ("Progressing", "False", "DeploymentFailed"),
        ("Ready", "False", "RolloutInProgress"),
    ]
    assert [c["lastTransitionTime"] for c in conditions] == [NOW, NOW, at(0)]
    assert {c["observedGeneration"] for c in conditions} == {4}
    empty = service_conditions(None, replace(rollout, deployments=[]), 4, NOW)
    assert [c["reason"] for c in empty if c["type"] == "Progressing"] == ["NoDeployment"]


def test_the_autoscaling_status() -> None:
    refused = Readiness(False, "InvalidSpec", "")
    kept = {"minCapacity": 2}
    assert scaling_status(refused, {"autoScaling": kept}, None, 3, NOW) == kept
    assert scaling_status(planned(3), {"autoScaling": kept}, None, 3, NOW) is None
    scaled = scaling_status(planned(3, scaling=SCALING), {"desiredCount": 2, "autoScaling": {}}, None, 3, NOW)
    assert scaled is not None
    assert scaled["lastScalingActivity"]["description"] == "Setting desired count to 3."
    first = scaling_status(planned(3, scaling=SCALING), {"desiredCount": 2}, None, 3, NOW)
    assert first is not None
    assert "lastScalingActivity" not in first  # no autoScaling status before: no activity to tell


def test_events_newest_first_not_said_twice_in_a_row_and_the_last_100_kept() -> None:
    ids = iter(str(n) for n in range(1000))
    events, posted = with_events(None, ["a", "a", "b"], NOW, lambda: next(ids))
    assert posted == ["a", "b"]
    assert events == [
        {"id": "1", "createdAt": NOW, "message": "b"},
        {"id": "0", "createdAt": NOW, "message": "a"},
    ]
    again, posted = with_events(events, ["b"], at(30), lambda: next(ids))
    assert (again, posted) == (events, [])
    many = [{"id": str(n), "message": str(n)} for n in range(MAX_EVENTS)]
    kept, _ = with_events(many, ["new"], NOW, lambda: "x")
    assert len(kept) == MAX_EVENTS
    assert (kept[0]["message"], kept[-1]["message"]) == ("new", str(MAX_EVENTS - 2))


def test_event_types() -> None:
    assert event_type(f"(service web) ({NEW}) deployment failed: tasks failed to start.") == "Warning"
    assert event_type("(service web) is unable to consistently start tasks successfully.") == "Warning"
    assert event_type("(service web) rolling back to deployment x (y).") == "Warning"
    assert event_type(STEADY) == "Normal"
    assert event_type("(service web) has started 1 tasks: (task abc).") == "Normal"


# --- tasks the API server refuses to create (views/refusals.py) ---------------------------------------

BASELINE = (
    'violates PodSecurity "baseline:latest": privileged (container "app" must not set securityContext.privileged=true)'
)
REFUSAL = f'pods "web-new-…" is forbidden: {BASELINE}'
LAUNCH_FAILED = f"(service web) failed to launch a task with (error {REFUSAL})."


def refused(rs: dict[str, Any], message: str = f'pods "web-new-x2x4z" is forbidden: {BASELINE}') -> dict[str, Any]:
    """The ReplicaSet as its controller leaves it when the API server refuses its pods."""
    failure = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message}
    return {**rs, "status": {**rs["status"], "conditions": [failure]}}


def test_tasks_the_api_server_refuses_are_said_in_ecs_words() -> None:
    sets = [refused(replica_set("new", 1, 2, 0, current=0))]
    result = report(look(sets, [], deployment=workload(2, 0)))
    status = result.status
    assert condition(status, "Ready") == ("False", "PodSecurityRefused", f"tasks cannot be created: {REFUSAL}")
    assert result.posted == [LAUNCH_FAILED]
    assert status["events"] == [{"id": "event-id", "createdAt": NOW, "message": LAUNCH_FAILED}]
    assert event_type(LAUNCH_FAILED) == "Warning"
    assert (status["runningCount"], status["pendingCount"]) == (0, 0)  # no task exists
    assert condition(status, "Degraded") == ("False", "AsExpected", "tasks start and run")
    assert condition(status, "Progressing")[1] == "DeploymentInProgress"
    assert not result.progress  # news: written at once


def test_a_refusal_is_said_once_while_the_ready_condition_says_it() -> None:
    sets = [refused(replica_set("new", 1, 2, 0, current=0))]
    first = report(look(sets, [], deployment=workload(2, 0))).status
    # another event since: the newest event is no longer the refusal's
    later = {"message": "(service web) has started 1 tasks: (task a).", "id": "2", "createdAt": at(21)}
    before = {**first, "events": [later, *first["events"]]}
    retried = f'pods "web-new-9qk2m" is forbidden: {BASELINE}'  # the ReplicaSet's next try
    result = report(
        look([refused(replica_set("new", 1, 2, 0, current=0), retried)], [], deployment=workload(2, 0), status=before)
    )
    assert result.posted == []
    assert condition(result.status, "Ready") == condition(first, "Ready")
    assert result.status["events"] == before["events"]


def test_another_refusal_is_said_again() -> None:
    sets = [refused(replica_set("new", 1, 2, 0, current=0))]
    first = report(look(sets, [], deployment=workload(2, 0))).status
    quota = 'pods "web-new-x2x4z" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2'
    result = report(
        look([refused(replica_set("new", 1, 2, 0, current=0), quota)], [], deployment=workload(2, 0), status=first)
    )
    said = 'pods "web-new-…" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2'
    assert result.posted == [f"(service web) failed to launch a task with (error {said})."]
    assert condition(result.status, "Ready") == ("False", "TaskLaunchFailed", f"tasks cannot be created: {said}")


def test_a_refusal_that_comes_back_after_it_was_resolved_is_said_again() -> None:
    sets = [refused(replica_set("new", 1, 2, 0, current=0))]
    first = report(look(sets, [], deployment=workload(2, 0))).status
    # the namespace's enforcement lifted: the ReplicaSet creates its tasks (they start)
    started = [placed("u1")]
    resolved = report(look([replica_set("new", 1, 2, 0)], started, deployment=workload(2, 0), status=first)).status
    assert condition(resolved, "Ready")[1] == "RolloutInProgress"
    assert resolved["events"][0]["message"].startswith("(service web) has started 1 tasks")
    result = report(look(sets, started, deployment=workload(2, 0), status=resolved))
    assert result.posted == [LAUNCH_FAILED]


def test_a_refusal_comes_before_the_placement_s_reason() -> None:
    reason = "0/3 nodes are available: 3 Insufficient cpu."
    unplaced = TaskState("b", "new", "Pending", 0, reason)
    sets = [refused(replica_set("new", 1, 2, 1))]
    result = report(look(sets, [unplaced], deployment=workload(2, 0)))
    assert condition(result.status, "Ready")[1] == "PodSecurityRefused"
    assert result.posted == [
        "(service web) was unable to place a task because no container instance met all of its requirements. "
        f"Reason: {reason}",
        LAUNCH_FAILED,
    ]


def test_a_service_in_a_steady_state_says_no_refusal() -> None:
    sets = [refused(replica_set("new", 1, 2, 2))]
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(3))]
    result = report(look(sets, tasks, deployment=workload(2, 2)))
    assert condition(result.status, "Ready")[:2] == ("True", "SteadyState")
    assert result.posted == [STEADY]


def test_without_a_plan_its_reason_stays() -> None:
    sets = [refused(replica_set("new", 1, 2, 0, current=0))]
    result = report(look(sets, [], plan=Readiness(False, "InvalidSpec", "bad"), deployment=workload(2, 0)))
    assert condition(result.status, "Ready") == ("False", "InvalidSpec", "bad")
    assert result.posted == []


def test_launch_refusal_is_said_once_by_the_last_ready_condition() -> None:
    waiting = Readiness(False, "RolloutInProgress", "")
    quota = "exceeded quota: pods"
    readiness, said = launch_refusal(waiting, quota, None, "(service web)")
    assert readiness == Readiness(False, "TaskLaunchFailed", f"tasks cannot be created: {quota}")
    assert said == [f"(service web) failed to launch a task with (error {quota})."]
    written = [{"type": "Ready", "status": "False", "reason": "TaskLaunchFailed", "message": readiness.message}]
    assert launch_refusal(waiting, quota, written, "(service web)") == (readiness, [])
    other = [{**written[0], "type": "Degraded"}]
    assert launch_refusal(waiting, quota, other, "(service web)")[1] == said  # only Ready tells
    assert launch_refusal(waiting, None, written, "(service web)") == (waiting, [])
    ready = Readiness(True, "SteadyState", STEADY)
    assert launch_refusal(ready, quota, None, "(service web)") == (ready, [])


def test_the_primary_replica_set_refusal_comes_first() -> None:
    quota = "exceeded quota: pods"
    sets = [refused(replica_set("new", 2, 2, 0), quota), refused(replica_set("old", 1, 2, 0))]
    result = report(look(sets, [], deployment=workload(2, 0)))
    assert condition(result.status, "Ready") == ("False", "TaskLaunchFailed", f"tasks cannot be created: {quota}")


def test_a_daemon_sets_refusal_is_said_like_a_replica_sets() -> None:
    """A DAEMON service's pods refused: the DaemonSet's Events, read by the controller."""
    refusal = 'pods "agent-…" is forbidden: violates PodSecurity "baseline:latest": privileged'
    result = report(look([], [], deployment=workload(2, 0), daemon_refusal=refusal))
    assert condition(result.status, "Ready") == ("False", "PodSecurityRefused", f"tasks cannot be created: {refusal}")
    assert result.posted == [f"(service web) failed to launch a task with (error {refusal})."]
