"""A service's ECS deployments: when a rollout COMPLETES (its tasks healthy for the settle
time), ECS's consecutive failedTasks, PENDING tasks, and a FAILED deployment that launches
nothing (views/deployments.py)."""

import dataclasses
from collections.abc import Mapping
from typing import Any

from ecs_facade.views.deployments import (
    ANNOTATION_FAILED,
    REVISION_ANNOTATION,
    Hold,
    TaskState,
    carried_failures,
    consecutive_failures,
    deployment_id,
    ecs_deployments,
    failed_hold,
    failed_tasks,
    gone_tasks,
    healthy_tasks,
    pending,
    settles_at,
)

T0 = "2026-12-01T10:00:00Z"
SETTLE = 10.0
ARN = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:"


def at(seconds: int) -> str:
    return f"2026-12-01T10:{seconds // 60:02d}:{seconds % 60:02d}Z"


def replica_set(
    uid: str, revision: int, replicas: int, ready: int, current: int | None = None, td: int = 1, force: str = ""
) -> dict[str, Any]:
    annotations = {"ecs.facade.dev/force-new-deployment": force} if force else {}
    labels = {"ecs.facade.dev/task-definition-family": "web", "ecs.facade.dev/task-definition-revision": str(td)}
    return {
        "metadata": {
            "uid": uid,
            "name": f"web-{uid}",
            "labels": {"pod-template-hash": uid},
            "annotations": {REVISION_ANNOTATION: str(revision)},
            "creationTimestamp": T0,
        },
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels, "annotations": annotations}}},
        "status": {"replicas": replicas if current is None else current, "readyReplicas": ready},
    }


def task(
    name: str,
    template: str = "new",
    *,
    ready_since: str | None = None,
    phase: str = "Running",
    node: str | None = "node-1",
    failures: tuple[str | None, ...] = (),
    runs: tuple[tuple[str, str], ...] = (),
    restarts: int = 0,
    deleting: bool = False,
) -> TaskState:
    return TaskState(
        name=name,
        template_hash=template,
        phase=phase,
        restarts=restarts,
        unschedulable=None,
        node=node,
        deleting=deleting,
        ready_since=ready_since,
        failures=failures,
        runs=runs,
    )


def arn_of(labels: Mapping[str, str]) -> str | None:
    revision = labels.get("ecs.facade.dev/task-definition-revision")
    return f"{ARN}{revision}" if revision else None


def view(
    replica_sets: list[dict[str, Any]],
    tasks: list[TaskState],
    now: str,
    previous: list[dict[str, Any]] | None = None,
    desired: int = 2,
    **options: Any,
) -> list[dict[str, Any]]:
    return ecs_deployments(replica_sets, tasks, desired, arn_of, previous or [], now, settle_seconds=SETTLE, **options)


def test_a_rollout_completes_once_its_tasks_have_been_healthy_for_the_settle_time() -> None:
    sets = [replica_set("new", 1, 2, 2)]
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(3))]
    assert view(sets, tasks, at(5))[0]["rolloutState"] == "IN_PROGRESS"
    assert view(sets, tasks, at(12))[0]["rolloutState"] == "IN_PROGRESS"  # b is Ready for 9 s only
    done = view(sets, tasks, at(13))[0]
    assert (done["status"], done["rolloutState"], done["rolloutStateReason"]) == (
        "PRIMARY",
        "COMPLETED",
        "ECS deployment completed.",
    )
    assert settles_at(tasks, "new", 2, SETTLE) == at(13)
    assert settles_at(tasks, "new", 3, SETTLE) is None  # only 2 are Ready


def test_tasks_that_exit_a_second_after_they_start_never_complete_a_rollout() -> None:
    sets = [replica_set("new", 2, 2, 2), replica_set("old", 1, 0, 0)]
    # all Ready at once for a moment (what made the rollout look complete), then failed
    ready = [task("a", ready_since=at(0)), task("b", ready_since=at(0))]
    assert view(sets, ready, at(0))[0]["rolloutState"] == "IN_PROGRESS"
    failed = [
        task("a", phase="Failed", ready_since=None, failures=(at(1),), runs=((at(0), at(1)),)),
        task("b", phase="Failed", ready_since=None, failures=(at(1),), runs=((at(0), at(1)),)),
        task("c", ready_since=at(2)),
        task("d", ready_since=at(2)),
    ]
    states = [view(sets, failed[: 2 + i], at(3 + i))[0] for i in range(3)]
    assert [s["rolloutState"] for s in states] == ["IN_PROGRESS"] * 3
    assert [s["failedTasks"] for s in states] == [2, 2, 2]


def test_completed_and_failed_are_final_until_a_new_deployment() -> None:
    sets = [replica_set("new", 1, 2, 2)]
    healthy = [task("a", ready_since=at(0)), task("b", ready_since=at(0))]
    completed = view(sets, healthy, at(20))
    # its tasks fail later: it stays COMPLETED (the throttle, not the breaker, handles that)
    later = [task("a", phase="Failed", failures=(at(30),)), task("b", phase="Failed", failures=(at(30),))]
    again = view([replica_set("new", 1, 2, 0)], later, at(31), completed)[0]
    assert (again["rolloutState"], again["failedTasks"]) == ("COMPLETED", 2)
    failed = [{**completed[0], "rolloutState": "FAILED", "rolloutStateReason": "breaker"}]
    assert view(sets, healthy, at(40), failed)[0]["rolloutState"] == "FAILED"
    # a new ReplicaSet is a new deployment: judged afresh; the completed one is ACTIVE, still COMPLETED
    newer = view([replica_set("next", 2, 2, 0), replica_set("new", 1, 2, 2)], [], at(41), completed)
    assert [(d["status"], d["rolloutState"]) for d in newer] == [("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "COMPLETED")]


def test_a_deployment_completes_only_when_older_ones_run_nothing() -> None:
    sets = [replica_set("new", 2, 2, 2), replica_set("old", 1, 1, 1)]
    tasks = [task("a", ready_since=at(0)), task("b", ready_since=at(0))]
    assert view(sets, tasks, at(30))[0]["rolloutState"] == "IN_PROGRESS"
    sets[1] = replica_set("old", 1, 0, 0)
    assert view(sets, tasks, at(30))[0]["rolloutState"] == "COMPLETED"


def test_a_healthy_task_sets_the_failure_count_back_to_zero() -> None:
    failed = [task(f"f{i}", phase="Failed", failures=(at(5 + i),), runs=((at(4), at(5 + i)),)) for i in range(3)]
    assert consecutive_failures(failed, "new", at(30), SETTLE) == 3
    healthy = task("h", ready_since=at(6))  # healthy from 16 s on: the failures before do not count
    assert consecutive_failures([*failed, healthy], "new", at(15), SETTLE) == 3
    assert consecutive_failures([*failed, healthy], "new", at(16), SETTLE) == 0
    after = task("g", phase="Failed", failures=(at(20),))
    assert consecutive_failures([*failed, healthy, after], "new", at(30), SETTLE) == 1
    # resetOnHealthyTask false: every failure since the deployment started
    assert consecutive_failures([*failed, healthy, after], "new", at(30), SETTLE, reset_on_healthy=False) == 4
    assert failed_tasks([*failed, healthy, after], "new") == 4
    # a task that ran long enough before it stopped was healthy too
    ran = task("r", phase="Failed", failures=(at(40),), runs=((at(21), at(40)),))
    assert consecutive_failures([*failed, healthy, after, ran], "new", at(50), SETTLE) == 1


def test_restarts_count_as_failures_at_their_time() -> None:
    crashing = task("c", restarts=3, failures=(at(9),) * 3, runs=((at(8), at(9)),))
    assert consecutive_failures([crashing], "new", at(10), SETTLE) == 3
    # restarted, and now Ready for the settle time: healthy, the count goes back to 0
    recovered = task("c", restarts=3, failures=(at(9),) * 3, runs=((at(8), at(9)),), ready_since=at(10))
    assert consecutive_failures([recovered], "new", at(20), SETTLE) == 0
    # a TaskState without times (restarts only) counts them all
    assert consecutive_failures([task("x", restarts=2), task("y", phase="Failed")], "new", at(20), SETTLE) == 3


def test_only_tasks_placed_on_an_instance_and_not_yet_running_are_pending() -> None:
    assert pending(task("bound", phase="Pending"))
    assert pending(task("started, not healthy yet", phase="Running"))
    assert not pending(task("running", ready_since=at(0)))
    assert not pending(task("unplaceable", phase="Pending", node=None))
    assert not pending(task("stopping", phase="Pending", deleting=True))
    assert not pending(task("stopped", phase="Failed"))
    tasks = [task("a", phase="Pending"), task("b", phase="Pending", node=None), task("c", ready_since=at(0))]
    primary = view([replica_set("new", 1, 3, 1)], tasks, at(1), desired=3)[0]
    assert (primary["runningCount"], primary["pendingCount"]) == (1, 1)


def test_healthy_tasks_are_ready_for_the_settle_time_and_not_stopping() -> None:
    tasks = [
        task("a", ready_since=at(0)),
        task("b", ready_since=at(5)),
        task("c", ready_since=at(0), deleting=True),
        task("d", ready_since=at(0), template="old"),
    ]
    assert healthy_tasks(tasks, "new", at(10), SETTLE) == 1
    assert healthy_tasks(tasks, "new", at(15), SETTLE) == 2


def failed_status(ident: str, td: int = 2, reason: str = "DeploymentFailed", state: str = "FAILED") -> dict[str, Any]:
    return {
        "deployments": [
            {"id": ident, "status": "PRIMARY", "rolloutState": state, "taskDefinition": f"{ARN}{td}"},
        ],
        "conditions": [{"type": "Degraded", "status": "True", "reason": reason}],
    }


def test_a_failed_deployment_keeps_the_older_tasks_and_launches_nothing() -> None:
    sets = [replica_set("new", 2, 3, 0, td=2), replica_set("old", 1, 3, 3, td=1, force="t1")]
    failed = deployment_id("new")
    hold = failed_hold(failed_status(failed), None, sets, "digest", f"{ARN}2")
    assert hold == Hold(
        deployment=failed,
        template="digest",
        keep=3,
        labels={"ecs.facade.dev/task-definition-family": "web", "ecs.facade.dev/task-definition-revision": "1"},
        annotations={"ecs.facade.dev/force-new-deployment": "t1"},
    )
    assert hold.annotation == f"{failed} digest"
    # once the Deployment runs the older template, that ReplicaSet is the newest: the same hold
    swapped = [replica_set("new", 2, 0, 0, td=2), replica_set("old", 3, 3, 3, td=1, force="t1")]
    assert failed_hold(failed_status(failed), hold.annotation, swapped, "digest", f"{ARN}2") == hold
    # and the FAILED deployment stays PRIMARY in the view
    shown = view(swapped, [], at(0), [{"id": failed, "status": "PRIMARY", "rolloutState": "FAILED"}], 3, primary=failed)
    assert [(d["status"], d["taskDefinition"], d["rolloutState"]) for d in shown] == [
        ("PRIMARY", f"{ARN}2", "FAILED"),
        ("ACTIVE", f"{ARN}1", "COMPLETED"),
    ]


def test_a_first_deployment_that_failed_keeps_no_task() -> None:
    sets = [replica_set("new", 1, 4, 0, td=1)]
    hold = failed_hold(failed_status(deployment_id("new"), td=1), None, sets, "d", f"{ARN}1")
    assert hold is not None and (hold.keep, hold.labels) == (0, None)


def test_a_new_deployment_or_a_rollback_is_not_held() -> None:
    sets = [replica_set("new", 2, 3, 0, td=2), replica_set("old", 1, 3, 3)]
    failed = deployment_id("new")
    held = f"{failed} digest"
    assert failed_hold(failed_status(failed, state="IN_PROGRESS"), None, sets, "digest", f"{ARN}2") is None
    assert failed_hold(failed_status(failed, reason="RolledBack"), None, sets, "digest", f"{ARN}2") is None
    # another revision, or the same one with another pod template (forceNewDeployment, placement…)
    assert failed_hold(failed_status(failed), None, sets, "digest", f"{ARN}3") is None
    assert failed_hold(failed_status(failed), held, sets, "other", f"{ARN}2") is None
    assert failed_hold(failed_status("ecs-svc/9"), held, sets, "digest", f"{ARN}2") is None
    # a new desiredCount is not a new deployment: the same template stays held
    assert failed_hold(failed_status(failed), held, sets, "digest", f"{ARN}2") is not None
    assert ANNOTATION_FAILED == "ecs.facade.dev/failed-deployment"


def uid_task(uid: str, **fields: Any) -> TaskState:
    return dataclasses.replace(task(uid, **fields), uid=uid)


def test_failed_tasks_do_not_fall_when_a_failed_tasks_pod_is_deleted() -> None:
    sets = [replica_set("new", 1, 1, 0)]
    a = uid_task("a", restarts=3, failures=(at(5), at(8), at(11)))
    assert view(sets, [a], at(12))[0]["failedTasks"] == 3
    last, gone = gone_tasks({}, [a], (), {"new"}, at(12), SETTLE)
    assert (gone, list(last)) == ((), ["a"])
    # A deleted (a deployment, by hand): its 3 failures stay counted
    last, gone = gone_tasks(last, [], gone, {"new"}, at(13), SETTLE)
    assert last == {} and [g.failures for g in gone] == [(at(5), at(8), at(11))]
    assert view(sets, [], at(13), gone=gone)[0]["failedTasks"] == 3
    # then B fails once: 4
    b = uid_task("b", restarts=1, failures=(at(20),))
    last, gone = gone_tasks(last, [b], gone, {"new"}, at(21), SETTLE)
    assert view(sets, [b], at(21), gone=gone)[0]["failedTasks"] == 4
    # a task of another deployment, or a deployment the service no longer has, counts nothing here
    other = dataclasses.replace(a, template_hash="old")
    assert view(sets, [b], at(21), gone=(*gone, other))[0]["failedTasks"] == 4
    assert gone_tasks({"x": other}, [], gone, {"new"}, at(22), SETTLE)[1] == gone


def test_a_healthy_task_still_sets_the_count_back_and_keeps_it_so_once_it_is_gone() -> None:
    sets = [replica_set("new", 1, 1, 1)]
    failed = uid_task("a", restarts=3, failures=(at(5),) * 3)
    last, gone = gone_tasks({}, [failed], (), {"new"}, at(6), SETTLE)
    last, gone = gone_tasks(last, [], gone, {"new"}, at(7), SETTLE)  # gone: 3 failures remembered
    healthy = uid_task("h", ready_since=at(8))
    assert view(sets, [healthy], at(17), gone=gone)[0]["failedTasks"] == 3  # Ready for 9 s only
    assert view(sets, [healthy], at(18), gone=gone)[0]["failedTasks"] == 0  # healthy: reset
    # the healthy task is stopped by the scheduler, then its pod goes: the reset stays
    last, gone = gone_tasks(last, [healthy], gone, {"new"}, at(18), SETTLE)
    stopping = uid_task("h", deleting=True, runs=((at(8), at(30)),))  # task_state's run while deleted
    assert view(sets, [stopping], at(31), gone=gone)[0]["failedTasks"] == 0
    last, gone = gone_tasks(last, [stopping], gone, {"new"}, at(31), SETTLE)
    last, gone = gone_tasks(last, [], gone, {"new"}, at(40), SETTLE)
    assert view(sets, [], at(40), gone=gone)[0]["failedTasks"] == 0
    # a later failure counts from 0
    b = uid_task("b", restarts=1, failures=(at(50),))
    assert view(sets, [b], at(51), gone=gone)[0]["failedTasks"] == 1
    # resetOnHealthyTask false: every failure since the deployment started, gone or not
    assert view(sets, [b], at(51), gone=gone, reset_on_healthy=False)[0]["failedTasks"] == 4
    # a pod that went while Ready for the settle time (never seen being deleted) was healthy too
    last, gone = gone_tasks({}, [uid_task("c", ready_since=at(60))], (), {"new"}, at(61), SETTLE)
    _, gone = gone_tasks(last, [], (*gone, uid_task("g", failures=(at(55),))), {"new"}, at(75), SETTLE)
    assert view(sets, [], at(75), gone=gone)[0]["failedTasks"] == 0


def test_a_task_stopped_before_it_was_healthy_sets_nothing_back() -> None:
    """A FAILED deployment's tasks still starting are stopped (its Deployment scaled to 0): one
    Ready for a moment and then deleted with a grace period never became healthy."""
    sets = [replica_set("new", 1, 0, 0)]
    failed = [uid_task(name, phase="Failed", failures=(at(2),)) for name in "abc"]
    # a run that ends in the future (a deletionTimestamp is the end of the grace period) is no
    # healthy run yet: Ready since 3, deleted at 3, its pod still terminating until 33
    stopping = uid_task("s", deleting=True, runs=((at(3), at(33)),))
    assert view(sets, [*failed, stopping], at(3))[0]["failedTasks"] == 3
    # once its pod is gone (at 4), its run ended then at the latest: not healthy, then or later
    last, gone = gone_tasks({}, [*failed, stopping], (), {"new"}, at(3), SETTLE)
    last, gone = gone_tasks(last, failed, gone, {"new"}, at(4), SETTLE)
    assert gone == ()
    assert view(sets, failed, at(20), gone=gone)[0]["failedTasks"] == 3
    # a task that was healthy before its deletion was asked for still sets the count back
    healthy = uid_task("h", deleting=True, runs=((at(3), at(13)),))
    last, gone = gone_tasks(last, [*failed, healthy], gone, {"new"}, at(14), SETTLE)
    _, gone = gone_tasks(last, failed, gone, {"new"}, at(15), SETTLE)
    assert [g.runs for g in gone] == [((at(3), at(13)),)]
    assert view(sets, failed, at(20), gone=gone)[0]["failedTasks"] == 0


def test_after_a_restart_of_the_operator_the_failures_of_pods_gone_meanwhile_stay_counted() -> None:
    sets = [replica_set("new", 1, 1, 0)]
    before = view(sets, [uid_task("a", restarts=3, failures=(at(5),) * 3)], at(6))
    assert before[0]["failedTasks"] == 3
    # the operator restarts; A was deleted meanwhile
    fresh = view(sets, [], at(20), previous=before)
    assert fresh[0]["failedTasks"] == 0
    carried = carried_failures(before, fresh, sets)
    assert [(g.template_hash, g.failures) for g in carried] == [("new", (before[0]["updatedAt"],) * 3)]
    assert view(sets, [], at(20), previous=before, gone=carried)[0]["failedTasks"] == 3
    b = uid_task("b", restarts=1, failures=(at(30),))
    assert view(sets, [b], at(31), previous=before, gone=carried)[0]["failedTasks"] == 4
    # a task healthy after the last status set them back still
    h = uid_task("h", ready_since=at(40))
    assert view(sets, [h], at(50), previous=before, gone=carried)[0]["failedTasks"] == 0
    # nothing carried when the pods explain the count, or for a deployment the service no longer has
    assert carried_failures(before, before, sets) == ()
    assert carried_failures(before, fresh, [replica_set("next", 2, 1, 0)]) == ()
