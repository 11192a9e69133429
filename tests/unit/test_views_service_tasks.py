"""A service's tasks as its ECS events tell of them (views/service_tasks.py): one ECS task per
incarnation of a pod, "has started" / "has stopped" / "failed container health checks"."""

import re
from typing import Any

from ecs_facade.views.deployments import TaskState
from ecs_facade.views.service_tasks import (
    MAX_IDS,
    Seen,
    deferred,
    ending,
    observe,
    task_events,
    task_id,
    unhealthy_from,
    unhealthy_incarnation,
)
from ecs_facade.views.task_state import task_state

UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
OTHER = "11111111-2222-3333-4444-555555555555"
LABEL = "(service web)"
EVERY_EXIT = [{"action": "RestartAllContainers", "exitCodes": {"operator": "NotIn"}}]
APP = {"name": "app", "restartPolicy": "Always", "restartPolicyRules": EVERY_EXIT}
CHECKED = {**APP, "readinessProbe": {"periodSeconds": 5, "failureThreshold": 3}}


def at(seconds: int) -> str:
    return f"2026-12-01T10:{seconds // 60:02d}:{seconds % 60:02d}Z"


def running(
    name: str = "app", since: int = 0, restarts: int = 0, ready: bool = True, started: bool = True, **more: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "restartCount": restarts,
        "ready": ready,
        "started": started,
        "state": {"running": {"startedAt": at(since)}},
        **more,
    }


def exited(name: str = "app", since: int = 0, until: int = 5, restarts: int = 0, code: int = 1) -> dict[str, Any]:
    ended = {"exitCode": code, "reason": "Error", "startedAt": at(since), "finishedAt": at(until)}
    return {"name": name, "restartCount": restarts, "ready": False, "state": {"terminated": ended}}


def backing_off(name: str = "app", since: int = 0, until: int = 5, restarts: int = 0) -> dict[str, Any]:
    ended = {"exitCode": 1, "reason": "Error", "startedAt": at(since), "finishedAt": at(until)}
    return {
        "name": name,
        "restartCount": restarts,
        "ready": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": ended},
    }


def pod(
    *statuses: dict[str, Any],
    uid: str = UID,
    node: str | None = "node-1",
    phase: str = "Running",
    containers: list[dict[str, Any]] | None = None,
    essential: str = "app",
    ready_since: int | None = None,
    deleting: int | None = None,
    conditions: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": f"web-{uid[:4]}",
        "uid": uid,
        "labels": {"pod-template-hash": "h"},
        "annotations": {"ecs.facade.dev/essential-containers": essential, **(annotations or {})},
    }
    if deleting is not None:
        meta["deletionTimestamp"] = at(deleting)
    ready = (
        [{"type": "Ready", "status": "True", "lastTransitionTime": at(ready_since)}] if ready_since is not None else []
    )
    spec: dict[str, Any] = {"containers": containers or [APP]}
    if node:
        spec["nodeName"] = node
    return {
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": phase, "conditions": ready + (conditions or []), "containerStatuses": list(statuses)},
    }


def state(body: dict[str, Any]) -> TaskState:
    return task_state(body, body["metadata"]["labels"])


def ids(message: str) -> list[str]:
    return re.findall(r"\(task ([0-9a-f]{32})\)", message)


# --- task IDs ------------------------------------------------------------------------------


def test_the_first_incarnation_is_the_pod_uid_and_each_later_one_has_its_own_stable_id() -> None:
    assert task_id(UID) == task_id(UID, 0) == "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    later = [task_id(UID, ends) for ends in (1, 2, 3)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", ident) for ident in later)
    assert len({task_id(UID), *later}) == 4  # the stopped task and its replacement differ
    assert later == [task_id(UID, ends) for ends in (1, 2, 3)]  # stable: the same tomorrow
    assert task_id(OTHER, 1) not in later  # and of its pod only


# --- what ends an incarnation --------------------------------------------------------------


def test_an_essential_exit_ends_the_incarnation_until_the_kubelet_starts_the_next() -> None:
    assert ending(pod(running())) is None
    assert ending(pod(exited(until=5))) == {
        "exitCode": 1,
        "reason": "Error",
        "startedAt": at(0),
        "finishedAt": at(5),
    }
    # back-off of a crash loop: the exit is lastState, the restart count unchanged
    assert (ending(pod(backing_off(until=5))) or {}).get("finishedAt") == at(5)
    # the next incarnation runs
    assert ending(pod(running(since=15, restarts=1, lastState={"terminated": {"exitCode": 1}}))) is None


def test_an_exit_of_an_incarnation_already_replaced_is_not_an_end() -> None:
    """RestartAllContainers gives the containers new instances one after the other: the
    worker runs its second incarnation while the app still shows the first one's exit."""
    worker = {**APP, "name": "worker"}
    restarting = pod(exited("app", restarts=0), running("worker", since=6, restarts=1), containers=[APP, worker])
    assert ending(restarting) is None
    both_ended = pod(exited("app", restarts=1), running("worker", since=6, restarts=1), containers=[APP, worker])
    assert ending(both_ended) is not None


def test_what_does_not_end_a_task_in_the_pod_itself() -> None:
    sidecar = {"name": "log", "restartPolicy": "Never"}
    # a non-essential container's exit: the task goes on
    assert ending(pod(running(), exited("log"), containers=[APP, sidecar])) is None
    # an ECS restart policy restarts its container within the task, except on an ignored code
    # and after a run shorter than its restartAttemptPeriod (exited() ran 5 s)
    policy = {
        "ecs.facade.dev/restart-policies": '{"app":[0]}',
        "ecs.facade.dev/restart-attempt-periods": '{"app":5}',
    }
    restarted = [{"name": "app", "restartPolicy": "Always"}]
    assert ending(pod(exited(code=1), containers=restarted, annotations=policy)) is None
    assert ending(pod(exited(code=0), containers=restarted, annotations=policy))
    early = {**policy, "ecs.facade.dev/restart-attempt-periods": '{"app":60}'}
    assert ending(pod(exited(code=1), containers=restarted, annotations=early))
    # without the periods annotation (a pod from an older operator): ECS's default, 300 s
    assert ending(
        pod(exited(code=1), containers=restarted, annotations={"ecs.facade.dev/restart-policies": '{"app":[0]}'})
    )
    # a pod being deleted or that ended is stopped by other means (its deletion, its phase)
    assert ending(pod(exited(), deleting=6)) is None
    assert ending(pod(exited(), phase="Failed")) is None


def test_the_kubelet_restarting_all_containers_is_an_end() -> None:
    restarting = [{"type": "AllContainersRestarting", "status": "True"}]
    assert ending(pod(running(), conditions=restarting)) == {}
    assert ending(pod(running(), conditions=[{**restarting[0], "status": "False"}])) is None


# --- health --------------------------------------------------------------------------------


def test_unhealthy_once_the_readiness_probe_had_time_to_fail_its_threshold() -> None:
    # period 5 s, threshold 3: probed at once, then every 5 s; the third failure by 10 s
    failing = pod(running(since=0, ready=False), containers=[CHECKED])
    assert unhealthy_from(failing) == at(10)
    assert unhealthy_incarnation(failing, at(9)) is None  # perhaps just not probed yet
    assert unhealthy_incarnation(failing, at(10)) == (UID, 0)
    assert unhealthy_from(pod(running(since=0, ready=True), containers=[CHECKED])) is None
    # the incarnation after one task end
    again = pod(running(since=20, restarts=1, ready=False), containers=[CHECKED])
    assert unhealthy_incarnation(again, at(30)) == (UID, 1)
    # Kubernetes' defaults when the probe leaves them out: every 10 s, 3 failures
    bare = [{**APP, "readinessProbe": {"exec": {"command": ["true"]}}}]
    assert unhealthy_from(pod(running(since=0, ready=False), containers=bare)) == at(20)


def test_health_counts_for_essential_containers_with_a_health_check_only() -> None:
    assert unhealthy_from(pod(running(ready=False))) is None  # no health check
    side = {"name": "side", "restartPolicy": "Never", "readinessProbe": {"periodSeconds": 5}}
    assert unhealthy_from(pod(running(), running("side", ready=False), containers=[APP, side])) is None
    # an essential native sidecar with a health check counts like a container
    sidecar_status = running("proxy", since=0, ready=False)
    body = pod(running(), containers=[APP], essential="app,proxy")
    body["spec"]["initContainers"] = [
        {"name": "proxy", "restartPolicy": "Always", "readinessProbe": {"periodSeconds": 4}}
    ]
    body["status"]["initContainerStatuses"] = [sidecar_status]
    assert unhealthy_from(body) == at(8)


def test_in_its_start_period_a_container_counts_against_its_startup_probe() -> None:
    # startPeriod 20 s at interval 5 s, retries 3: the startup probe allows 4 + 3 failures
    starting = [{**CHECKED, "startupProbe": {"periodSeconds": 5, "failureThreshold": 7}}]
    assert unhealthy_from(pod(running(since=0, ready=False, started=False), containers=starting)) == at(30)
    # a postStart hook still running: nothing probes it yet
    assert unhealthy_from(pod(running(since=0, ready=False, started=False), containers=[CHECKED])) is None
    # an ended, stopping or restarting task is not judged
    assert unhealthy_incarnation(pod(exited(), containers=[CHECKED]), at(60)) is None
    assert unhealthy_incarnation(pod(running(ready=False), containers=[CHECKED], deleting=30), at(60)) is None


# --- events --------------------------------------------------------------------------------


def test_a_placed_task_has_started_an_unplaced_one_is_no_task() -> None:
    events, seen = task_events(LABEL, {}, [state(pod(node=None)), state(pod(uid=OTHER))], at(1))
    assert events.messages == [f"{LABEL} has started 1 tasks: (task {task_id(OTHER)})."]
    assert seen == {OTHER: Seen(task_id(OTHER), 0)}
    # nothing new: nothing to tell
    again, _ = task_events(LABEL, seen, [state(pod(node=None)), state(pod(running(), uid=OTHER))], at(2))
    assert again.messages == []
    # an unplaced pod deleted: it never was a task
    gone, after = task_events(LABEL, seen, [state(pod(running(), uid=OTHER))], at(3))
    assert gone.messages == [] and list(after) == [OTHER]


def test_tasks_started_together_are_one_event_of_at_most_ten() -> None:
    uids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(12)]
    events, seen = task_events(LABEL, {}, [state(pod(uid=uid)) for uid in uids], at(1))
    assert [len(ids(m)) for m in events.started] == [MAX_IDS, 2]
    assert events.started[0].startswith(f"{LABEL} has started 10 tasks: (task {task_id(uids[0])}) (task ")
    assert events.started[1] == f"{LABEL} has started 2 tasks: (task {task_id(uids[10])}) (task {task_id(uids[11])})."
    # all stopped at once (scale-in to 0; 3 being deleted, 9 gone already): the same grouping
    stopping = [state(pod(running(), uid=uid, deleting=30)) for uid in uids[:3]]
    stopped, _ = task_events(LABEL, seen, stopping, at(31))
    assert stopped.messages == [
        f"{LABEL} has stopped 10 running tasks: " + " ".join(f"(task {task_id(u)})" for u in uids[:10]) + ".",
        f"{LABEL} has stopped 2 running tasks: (task {task_id(uids[10])}) (task {task_id(uids[11])}).",
    ]


def test_an_essential_exit_stops_the_task_and_the_restart_in_place_starts_a_new_one() -> None:
    seen = {UID: Seen(task_id(UID), 0)}
    # the container exited: the task stopped; the kubelet has not started the next one
    stopped, seen = task_events(LABEL, seen, [state(pod(exited(until=5)))], at(6))
    assert stopped.messages == [f"{LABEL} has stopped 1 running tasks: (task {task_id(UID)})."]
    assert seen[UID] == Seen(task_id(UID), 0, stopped=True)
    # its back-off: told already
    waiting, seen = task_events(LABEL, seen, [state(pod(backing_off(until=5)))], at(10))
    assert waiting.messages == [] and seen[UID].stopped
    # the kubelet shows it waiting for other reasons in between: still told already
    creating = {"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
    quiet, seen = task_events(LABEL, seen, [state(pod(creating))], at(12))
    assert quiet.messages == [] and seen[UID].stopped
    # the new incarnation: a new task
    started, seen = task_events(LABEL, seen, [state(pod(running(since=15, restarts=1)))], at(16))
    assert started.messages == [f"{LABEL} has started 1 tasks: (task {task_id(UID, 1)})."]
    assert seen[UID] == Seen(task_id(UID, 1), 1)


def test_a_restart_seen_only_once_done_is_a_stop_and_a_start() -> None:
    seen = {UID: Seen(task_id(UID), 0)}
    events, after = task_events(LABEL, seen, [state(pod(running(since=15, restarts=1)))], at(16))
    assert events.messages == [
        f"{LABEL} has stopped 1 running tasks: (task {task_id(UID)}).",
        f"{LABEL} has started 1 tasks: (task {task_id(UID, 1)}).",
    ]
    assert after[UID] == Seen(task_id(UID, 1), 1)
    # two ends between two looks: every incarnation is told of
    twice, _ = task_events(LABEL, seen, [state(pod(running(since=40, restarts=2)))], at(41))
    assert [ids(m) for m in twice.messages] == [
        [task_id(UID), task_id(UID, 1)],
        [task_id(UID, 1), task_id(UID, 2)],
    ]
    # a pod first seen after it restarted (within one status batch)
    first, _ = task_events(LABEL, {}, [state(pod(running(since=15, restarts=1)))], at(16))
    assert [ids(m) for m in first.messages] == [[task_id(UID)], [task_id(UID), task_id(UID, 1)]]


def test_the_scheduler_stops_a_task_by_deleting_its_pod() -> None:
    seen = {UID: Seen(task_id(UID), 0), OTHER: Seen(task_id(OTHER), 0)}
    # a deployment: the old task is being deleted, a new one placed; the other pod went unseen
    new = "22222222-3333-4444-5555-666666666666"
    tasks = [state(pod(running(), deleting=30)), state(pod(uid=new))]
    events, after = task_events(LABEL, seen, tasks, at(31))
    assert events.messages == [
        f"{LABEL} has stopped 2 running tasks: (task {task_id(UID)}) (task {task_id(OTHER)}).",
        f"{LABEL} has started 1 tasks: (task {task_id(new)}).",
    ]
    assert after == {UID: Seen(task_id(UID), 0, stopped=True), new: Seen(task_id(new), 0)}
    # its pod goes once its containers stopped: told already
    done, after = task_events(LABEL, after, [state(pod(uid=new))], at(40))
    assert done.messages == [] and list(after) == [new]
    # a pod that ended (evicted: Failed) is a stopped task too, its replacement a new one
    evicted, _ = task_events(LABEL, after, [state(pod(exited(), uid=new, phase="Failed"))], at(50))
    assert evicted.messages == [f"{LABEL} has stopped 1 running tasks: (task {task_id(new)})."]


def test_an_incarnation_unhealthy_when_last_seen_failed_its_container_health_checks() -> None:
    seen = {UID: Seen(task_id(UID), 0)}
    failing = pod(running(since=0, ready=False), containers=[CHECKED])
    events, seen = task_events(LABEL, seen, [state(failing)], at(12))
    assert events.messages == [] and seen[UID] == Seen(task_id(UID), 0, unhealthy=True)
    # the kubelet's liveness kill ended it; the pod restarted in place
    restarted = pod(running(since=20, restarts=1, ready=False), containers=[CHECKED])
    events, seen = task_events(LABEL, seen, [state(restarted)], at(21))
    assert events.messages == [
        f"{LABEL} (task {task_id(UID)}) failed container health checks.",
        f"{LABEL} has stopped 1 running tasks: (task {task_id(UID)}).",
        f"{LABEL} has started 1 tasks: (task {task_id(UID, 1)}).",
    ]
    assert events.unhealthy == events.messages[:1]
    assert seen[UID] == Seen(task_id(UID, 1), 1)  # the new one is not judged yet (21 < 20 + 10)
    # seen ending (killed, before the restart): the same, at its end
    ended = pod(exited(since=0, until=13, code=137), containers=[CHECKED])
    at_end, _ = task_events(LABEL, {UID: Seen(task_id(UID), 0, unhealthy=True)}, [state(ended)], at(14))
    assert [m.split(") ", 1)[1] for m in at_end.messages] == [
        f"(task {task_id(UID)}) failed container health checks.",
        f"has stopped 1 running tasks: (task {task_id(UID)}).",
    ]


def test_no_health_failure_without_the_evidence_or_when_the_scheduler_stops_it() -> None:
    # not ready for less than the probe needs to fail three times, then exits by itself
    early = pod(running(since=0, ready=False), containers=[CHECKED])
    _, seen = task_events(LABEL, {UID: Seen(task_id(UID), 0)}, [state(early)], at(4))
    assert seen[UID].unhealthy is False
    exit_5s, _ = task_events(LABEL, seen, [state(pod(exited(until=5), containers=[CHECKED]))], at(6))
    assert exit_5s.messages == [f"{LABEL} has stopped 1 running tasks: (task {task_id(UID)})."]
    # unhealthy, but deleted by the scheduler (a deployment): a stop, no health failure
    unhealthy = {UID: Seen(task_id(UID), 0, unhealthy=True)}
    deleted, _ = task_events(
        LABEL, unhealthy, [state(pod(running(ready=False), containers=[CHECKED], deleting=20))], at(21)
    )
    assert deleted.messages == [f"{LABEL} has stopped 1 running tasks: (task {task_id(UID)})."]
    gone, _ = task_events(LABEL, unhealthy, [], at(21))
    assert gone.messages == [f"{LABEL} has stopped 1 running tasks: (task {task_id(UID)})."]


def test_an_incarnation_a_pod_event_saw_unhealthy_counts_though_the_status_never_showed_it() -> None:
    restarted = pod(running(since=20, restarts=1), containers=[CHECKED])
    events, _ = task_events(LABEL, {UID: Seen(task_id(UID), 0)}, [state(restarted)], at(21), noted={(UID, 0)})
    assert events.unhealthy == [f"{LABEL} (task {task_id(UID)}) failed container health checks."]
    # noted for another incarnation: not this one's
    other, _ = task_events(LABEL, {UID: Seen(task_id(UID), 0)}, [state(restarted)], at(21), noted={(UID, 1)})
    assert other.unhealthy == []
    # noted for the running incarnation: remembered until it ends
    _, seen = task_events(LABEL, {UID: Seen(task_id(UID), 0)}, [state(pod(running()))], at(21), noted={(UID, 0)})
    assert seen[UID].unhealthy


def test_the_first_look_after_a_restart_of_the_operator_tells_nothing_twice() -> None:
    tasks = [state(pod(running(since=15, restarts=1))), state(pod(exited(), uid=OTHER)), state(pod(node=None, uid="u"))]
    seen = observe(tasks, at(20))
    assert seen == {UID: Seen(task_id(UID, 1), 1), OTHER: Seen(task_id(OTHER), 0, stopped=True)}
    events, after = task_events(LABEL, seen, tasks, at(21))
    assert events.messages == [] and after == seen


def test_tasks_told_with_a_later_write_are_seen_as_before_until_then() -> None:
    third = "22222222-3333-4444-5555-666666666666"
    before = {UID: Seen(task_id(UID), 0), OTHER: Seen(task_id(OTHER), 0), third: Seen(task_id(third), 0)}
    new = "33333333-3333-4444-5555-666666666666"
    now = {
        UID: Seen(task_id(UID), 0, unhealthy=True),  # only its health changed: kept
        OTHER: Seen(task_id(OTHER), 0, stopped=True),  # being stopped: told later
        new: Seen(task_id(new), 0),  # placed: told later
    }  # third: gone, told later
    assert deferred(before, now) == {
        UID: Seen(task_id(UID), 0, unhealthy=True),
        OTHER: Seen(task_id(OTHER), 0),
        third: Seen(task_id(third), 0),
    }


def test_tasks_the_scheduler_starts_and_stops_are_progress_an_end_is_news() -> None:
    seen = {UID: Seen(task_id(UID), 0), OTHER: Seen(task_id(OTHER), 0)}
    new = "22222222-3333-4444-5555-666666666666"
    tasks = [state(pod(running(), deleting=9)), state(pod(exited(), uid=OTHER)), state(pod(uid=new))]
    events, _ = task_events(LABEL, seen, tasks, at(10))
    assert events.ended == [f"{LABEL} has stopped 1 running tasks: (task {task_id(OTHER)})."]
    assert events.progress == [
        f"{LABEL} has stopped 1 running tasks: (task {task_id(UID)}).",
        f"{LABEL} has started 1 tasks: (task {task_id(new)}).",
    ]
    assert events.messages == [*events.ended, *events.progress]


# --- the task state the events and the breaker read ----------------------------------------


def test_an_ended_incarnation_is_one_failure_before_and_after_its_restart() -> None:
    first = state(pod(exited(since=0, until=5)))
    assert (first.uid, first.ended, first.restarts, first.failures) == (UID, True, 0, (at(5),))
    assert first.runs == ((at(0), at(5)),)
    again = state(
        pod(running(since=15, restarts=1, lastState={"terminated": {"startedAt": at(0), "finishedAt": at(5)}}))
    )
    assert (again.ended, again.restarts, again.failures) == (False, 1, (at(5),))


def test_a_restarted_incarnation_is_healthy_only_from_its_start() -> None:
    """The pod's Ready condition may keep its time across a quick restart in place."""
    restarted = state(pod(running(since=60, restarts=1), ready_since=2))
    assert restarted.ready_since == at(60)
    assert state(pod(running(since=1), ready_since=2)).ready_since == at(2)


def test_a_task_stopped_while_ready_ran_healthy_until_its_deletion() -> None:
    stopping = state(pod(running(since=0), ready_since=1, deleting=30))
    assert (stopping.ready_since, stopping.runs, stopping.unhealthy_from) == (None, ((at(1), at(30)),), None)


def test_a_failing_task_event_is_a_failed_or_restarted_pod_or_an_essential_exit() -> None:
    from ecs_facade.views.service_tasks import failing

    def body(phase: str = "Running", restarts: int = 0) -> dict[str, Any]:
        statuses = [{"name": "app", "restartCount": restarts}]
        return {"kind": "Pod", "status": {"phase": phase, "containerStatuses": statuses}}

    assert not failing(body(), None)
    assert failing(body(phase="Failed"), None)
    assert failing(body(restarts=1), None)
    assert failing(body(), {"reason": "EssentialContainerExited"})  # before the kubelet restarts it
    assert not failing({**body(phase="Failed"), "kind": "ReplicaSet"}, None)  # only tasks fail


def test_a_task_stopped_while_ready_ran_until_its_deletion_was_asked_for() -> None:
    """deletionTimestamp is the end of the grace period (deletionGracePeriodSeconds after the
    request): a task Ready for a second when the scheduler stopped it was never healthy."""
    body = pod(running(since=0), ready_since=1, deleting=32)
    body["metadata"]["deletionGracePeriodSeconds"] = 30
    assert state(body).runs == ((at(1), at(2)),)
