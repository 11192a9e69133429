from typing import Any

from ecs_facade.views.conditions import set_condition
from ecs_facade.views.deployments import TaskState
from ecs_facade.views.service import (
    ServiceCounts,
    first_rollout_only,
    progress_only,
    rollout_readiness,
    service_counts,
    settled,
)


def deployment(generation: int = 1, **status: int) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": status}


def test_counts_from_deployment_status() -> None:
    counts = service_counts(3, deployment(replicas=3, readyReplicas=1))
    assert counts == ServiceCounts(desiredCount=3, runningCount=1, pendingCount=2)


def test_a_task_that_cannot_be_placed_is_not_pending() -> None:
    # ECS never creates a task it cannot place; an ECSCluster does not count it either
    def pod(name: str, node: str | None, phase: str = "Pending", ready: str | None = None) -> TaskState:
        return TaskState(name, "h", phase, 0, None if node else "0/3 nodes are available", node=node, ready_since=ready)

    tasks = [pod("a", "n1", "Running", "2026-12-01T00:00:00Z"), pod("b", "n2"), pod("c", None)]
    counts = service_counts(3, deployment(replicas=3, readyReplicas=1), tasks)
    assert counts == ServiceCounts(desiredCount=3, runningCount=1, pendingCount=1)
    daemon = {"kind": "DaemonSet", "status": {"desiredNumberScheduled": 3, "numberReady": 1}}
    assert service_counts(0, daemon, tasks) == ServiceCounts(3, 1, 1)


def test_no_deployment_counts_nothing_running() -> None:
    assert service_counts(2, None) == ServiceCounts(2, 0, 0)


def test_steady_state_is_ready() -> None:
    d = deployment(observedGeneration=1, replicas=3, readyReplicas=3, updatedReplicas=3)
    readiness = rollout_readiness("web", service_counts(3, d), d)
    assert readiness.ready
    assert readiness.reason == "SteadyState"
    assert readiness.message == "(service web) has reached a steady state."


def test_unobserved_generation_is_not_ready_even_with_counts_met() -> None:
    d = deployment(generation=2, observedGeneration=1, replicas=3, readyReplicas=3, updatedReplicas=3)
    assert not rollout_readiness("web", service_counts(3, d), d).ready


def test_scaling_down_is_not_ready_until_extra_tasks_are_gone() -> None:
    d = deployment(observedGeneration=1, replicas=5, readyReplicas=5, updatedReplicas=5)
    readiness = rollout_readiness("web", service_counts(3, d), d)
    assert not readiness.ready
    assert readiness.reason == "RolloutInProgress"


def test_pending_tasks_are_reported() -> None:
    d = deployment(observedGeneration=1, replicas=3, readyReplicas=1, updatedReplicas=3)
    readiness = rollout_readiness("web", service_counts(3, d), d)
    assert (readiness.ready, readiness.message) == (False, "1 of 3 tasks running, 2 pending")


def test_condition_transition_time_moves_only_on_status_change() -> None:
    first = set_condition(None, type="Ready", status=False, reason="A", message="a", observed_generation=1, now="t1")
    same = set_condition(first, type="Ready", status=False, reason="B", message="b", observed_generation=2, now="t2")
    flipped = set_condition(same, type="Ready", status=True, reason="C", message="c", observed_generation=2, now="t3")
    assert first[0]["lastTransitionTime"] == "t1"
    assert same[0]["lastTransitionTime"] == "t1"
    assert (same[0]["reason"], same[0]["observedGeneration"]) == ("B", 2)
    assert flipped[0]["lastTransitionTime"] == "t3"
    assert flipped[0]["status"] == "True"


def test_other_conditions_are_kept() -> None:
    conditions = [{"type": "Zeta", "status": "True"}]
    result = set_condition(
        conditions, type="Ready", status=True, reason="R", message="m", observed_generation=None, now="t"
    )
    assert [c["type"] for c in result] == ["Ready", "Zeta"]
    assert "observedGeneration" not in result[0]


def rolling_status(running: int, pending: int, **changes: Any) -> dict[str, Any]:
    """A service status as the operator writes it during a first rollout of 4 tasks."""
    workload = deployment(observedGeneration=1, replicas=4, updatedReplicas=4, readyReplicas=running)
    readiness = rollout_readiness("web", ServiceCounts(4, running, pending), workload)
    primary = {
        "id": "ecs-svc/1",
        "status": "PRIMARY",
        "desiredCount": 4,
        "runningCount": running,
        "pendingCount": pending,
        "failedTasks": changes.pop("failedTasks", 0),
        "rolloutState": changes.pop("rolloutState", "IN_PROGRESS"),
        "updatedAt": f"2026-12-01T00:00:0{running}Z",
    }
    conditions = set_condition(
        None,
        type="Ready",
        status=readiness.ready,
        reason=readiness.reason,
        message=readiness.message,
        observed_generation=1,
        now=f"2026-12-01T00:00:0{running}Z",
    )
    status = {
        "desiredCount": 4,
        "runningCount": running,
        "pendingCount": pending,
        "deployments": [primary],
        "conditions": conditions,
        "events": [],
    }
    return {**status, **changes}


def test_a_task_more_running_is_a_progress_only() -> None:
    assert rolling_status(1, 3)["conditions"] != rolling_status(2, 2)["conditions"]  # the message states them
    assert progress_only(rolling_status(1, 3), rolling_status(2, 2))
    assert progress_only(rolling_status(0, 4), rolling_status(3, 1))


def test_all_tasks_running_is_news_before_the_rollout_completes() -> None:
    # the deployment COMPLETES a settle time later; that all run is written at once
    assert not progress_only(rolling_status(3, 1), rolling_status(4, 0))
    assert not first_rollout_only(rolling_status(4, 0))
    assert progress_only(rolling_status(4, 0), rolling_status(4, 0, pendingCount=1))


def test_reaching_the_steady_state_is_more_than_counts() -> None:
    steady = rolling_status(4, 0, rolloutState="COMPLETED")
    assert steady["conditions"][0]["status"] == "True"
    assert not progress_only(rolling_status(3, 1), steady)


def test_failures_events_and_a_new_desired_count_are_more_than_counts() -> None:
    before = rolling_status(1, 3)
    assert not progress_only(before, rolling_status(1, 3, failedTasks=1))
    assert not progress_only(before, rolling_status(2, 2, events=[{"id": "1", "message": "m"}]))
    assert not progress_only(before, rolling_status(2, 2, desiredCount=5))
    assert not progress_only(before, rolling_status(2, 2, rolloutState="FAILED"))
    other_reason = rolling_status(2, 2)
    other_reason["conditions"] = [{**other_reason["conditions"][0], "reason": "TasksUnplaceable", "message": "x"}]
    assert not progress_only(before, other_reason)


def test_the_first_deployment_showing_up_is_progress_only() -> None:
    workload = deployment(observedGeneration=1, replicas=0, updatedReplicas=0, readyReplicas=0)
    readiness = rollout_readiness("web", ServiceCounts(4, 0, 0), workload)
    created = {
        **rolling_status(0, 0),
        "deployments": [],
        "conditions": set_condition(
            set_condition(
                None,
                type="Ready",
                status=False,
                reason=readiness.reason,
                message=readiness.message,
                observed_generation=1,
                now="T0",
            ),
            type="Progressing",
            status=False,
            reason="NoDeployment",
            message="no deployment yet",
            observed_generation=1,
            now="T0",
        ),
    }
    started = rolling_status(0, 4)
    started["conditions"] = set_condition(
        started["conditions"],
        type="Progressing",
        status=True,
        reason="DeploymentInProgress",
        message="a new deployment is rolling out",
        observed_generation=1,
        now="T1",
    )
    assert progress_only(created, started)


def test_a_found_task_definition_and_a_completed_rollout_are_news() -> None:
    missing = rolling_status(0, 0)
    missing["conditions"] = [{**missing["conditions"][0], "reason": "TaskDefinitionNotFound", "message": "m"}]
    assert not progress_only(missing, rolling_status(0, 4))
    completed_not_ready = rolling_status(3, 1, rolloutState="COMPLETED")
    assert not progress_only(rolling_status(3, 1), completed_not_ready)


def test_a_first_rollout_under_way_says_nothing_yet() -> None:
    assert first_rollout_only(rolling_status(0, 4))
    assert first_rollout_only(rolling_status(3, 1))
    assert first_rollout_only({**rolling_status(0, 0), "deployments": []})


def test_a_first_status_with_news_is_more_than_a_rollout_under_way() -> None:
    assert not first_rollout_only(rolling_status(4, 0, rolloutState="COMPLETED"))  # steady state
    assert not first_rollout_only(rolling_status(2, 2, failedTasks=1))
    assert not first_rollout_only(rolling_status(0, 4, events=[{"message": "unable to place a task"}]))
    assert not first_rollout_only(rolling_status(0, 4, throttle={"attempts": 1}))
    assert not first_rollout_only(rolling_status(0, 4, autoScaling={"minCapacity": 1}))
    missing = set_condition(
        None, type="Ready", status=False, reason="TaskDefinitionNotFound", message="no such task definition",
        observed_generation=1, now="2026-12-01T00:00:00Z",
    )  # fmt: skip
    assert not first_rollout_only({**rolling_status(0, 0), "deployments": [], "conditions": missing})


def test_a_workload_is_settled_when_every_task_is_of_its_latest_spec_and_ready() -> None:
    def workload(status: dict[str, int], kind: str = "Deployment", wanted: int = 3) -> dict[str, Any]:
        return {**deployment(2, **status), "kind": kind, "spec": {"replicas": wanted}}

    done = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3}
    assert settled(workload(done))
    assert not settled(workload({**done, "observedGeneration": 1}))  # the new spec not seen yet
    assert not settled(workload({**done, "readyReplicas": 2}))
    assert not settled(workload({**done, "replicas": 4}))  # a task of the old spec is left
    assert not settled(workload({**done, "updatedReplicas": 2}))
    assert not settled(workload(done, wanted=4))  # scaling up
    assert settled(workload({"observedGeneration": 2}, wanted=0))  # scaled to zero, all gone
    daemon = {"observedGeneration": 2, "desiredNumberScheduled": 5, "currentNumberScheduled": 5}
    assert settled(workload({**daemon, "updatedNumberScheduled": 5, "numberReady": 5}, "DaemonSet"))
    assert not settled(workload({**daemon, "updatedNumberScheduled": 5, "numberReady": 4}, "DaemonSet"))
    assert not settled({"kind": "HorizontalPodAutoscaler", "metadata": {}, "status": {}})


def test_what_rides_along_is_no_news_and_times_do_not_count() -> None:
    from ecs_facade.views.service import news, without_times

    before = {"runningCount": 1, "stoppedTasks": [{"taskArn": "a"}], "completedDeployment": {"id": "d"}}
    after = {"runningCount": 1, "stoppedTasks": [{"taskArn": "a"}, {"taskArn": "b"}], "completedDeployment": None}
    assert news(after) == {"runningCount": 1}
    assert without_times(news(before)) == without_times(news(after))  # only what rides along changed
    stamped = {"conditions": [{"type": "Ready", "lastTransitionTime": "T1"}], "deployments": [{"updatedAt": "T1"}]}
    restamped = {"conditions": [{"type": "Ready", "lastTransitionTime": "T2"}], "deployments": [{"updatedAt": "T2"}]}
    assert (
        without_times(stamped) == without_times(restamped) == {"conditions": [{"type": "Ready"}], "deployments": [{}]}
    )
    assert without_times({"runningCount": 2}) != without_times({"runningCount": 1})
