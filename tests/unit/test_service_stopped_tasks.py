"""A service's stopped tasks as ECS keeps them (``status.stoppedTasks``, DescribeTasks of a
stopped task, views/service_tasks.py ``stopped_tasks``), and tasks the scheduler stops are
never failed tasks: the pod sequences a real kubelet produces for a rolling deployment behind a
load balancer (preStop sleep, then SIGTERM: exit 143 or 0 while the pod is being deleted, the
pod then Failed or Succeeded, then gone) and for an essential exit restarted in place
(``RestartAllContainers``: the exit's code replaced by the kubelet's 137)."""

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from ecs_facade.config import Config
from ecs_facade.controllers.indexes import Snapshot
from ecs_facade.controllers.service import plan as planning
from ecs_facade.controllers.service import report, triggers
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from ecs_facade.views.deployments import (
    REVISION_ANNOTATION,
    TaskState,
    completed_deployment,
    consecutive_failures,
    deployment_id,
    ecs_deployments,
    gone_tasks,
)
from ecs_facade.views.service_tasks import (
    MAX_STOPPED_TASKS,
    RESTARTING_ALL,
    Naming,
    Seen,
    TaskStop,
    picture,
    stopped_tasks,
    task_events,
    task_id,
)
from ecs_facade.views.task import OUT_OF_MEMORY, before_deletion, deletion_requested, describe_task
from ecs_facade.views.task_state import task_state
from tests.unit.test_views_service_tasks import EVERY_EXIT, at

SERVICE_UID = "svc-1"
KEY = ("default", "web")
OLD, NEW = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "11111111-2222-3333-4444-555555555555"
TD = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:"
TASK_ARN = "arn:aws:ecs:us-east-1:000000000000:task/default/"
APP = {"name": "app", "image": "busybox:1.36", "restartPolicy": "Always", "restartPolicyRules": EVERY_EXIT}
CHECKED = {**APP, "readinessProbe": {"periodSeconds": 5, "failureThreshold": 3}}
# what the kubelet leaves of a container it removed to restart all of them in place
REMOVED = {
    "exitCode": 137,
    "reason": RESTARTING_ALL,
    "message": "The container is removed because RestartAllContainers in place",
}


def labels(template: str, revision: int) -> dict[str, str]:
    return {
        "pod-template-hash": template,
        "ecs.facade.dev/service": "web",
        "ecs.facade.dev/task-definition-family": "web",
        "ecs.facade.dev/task-definition-revision": str(revision),
    }


def running(since: int, restarts: int = 0, ready: bool = True, **more: Any) -> dict[str, Any]:
    return {
        "name": "app",
        "restartCount": restarts,
        "ready": ready,
        "started": True,
        "state": {"running": {"startedAt": at(since)}},
        **more,
    }


def terminated(since: int, until: int, code: int, reason: str = "Error", restarts: int = 0) -> dict[str, Any]:
    ended = {"exitCode": code, "reason": reason, "startedAt": at(since), "finishedAt": at(until)}
    return {"name": "app", "restartCount": restarts, "ready": False, "started": False, "state": {"terminated": ended}}


def restarting(restarts: int = 1) -> dict[str, Any]:
    """The kubelet has removed the container to restart all of them: its exit is gone."""
    return {
        "name": "app",
        "restartCount": restarts,
        "ready": False,
        "state": {"waiting": {"reason": RESTARTING_ALL, "message": REMOVED["message"]}},
        "lastState": {"terminated": REMOVED},
    }


def kubelet_pod(
    *statuses: dict[str, Any],
    uid: str = OLD,
    template: str = "old",
    revision: int = 1,
    replica_set: str = "rs-old",
    phase: str = "Running",
    ready_since: int | None = None,
    deleting: int | None = None,
    grace: int = 35,
    containers: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A service's pod as a real kubelet reports it. ``deleting``: when its deletion was asked
    for (deletionTimestamp is that plus ``grace``: the deregistration delay of the preStop
    sleep and the stopTimeout)."""
    meta: dict[str, Any] = {
        "name": f"web-{uid[:4]}",
        "namespace": "default",
        "uid": uid,
        "creationTimestamp": at(0),
        "labels": labels(template, revision),
        "annotations": {
            "ecs.facade.dev/essential-containers": "app",
            "ecs.facade.dev/container-names": '{"app": "app"}',
        },
        "ownerReferences": [{"kind": "ReplicaSet", "name": f"web-{template}", "uid": replica_set}],
    }
    if deleting is not None:
        meta["deletionTimestamp"] = at(deleting + grace)
        meta["deletionGracePeriodSeconds"] = grace
    ready = (
        [{"type": "Ready", "status": "True", "lastTransitionTime": at(ready_since)}] if ready_since is not None else []
    )
    return {
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": "node-1", "containers": containers or [APP]},
        "status": {"phase": phase, "conditions": ready + (conditions or []), "containerStatuses": list(statuses)},
    }


def state(body: dict[str, Any]) -> TaskState:
    return task_state(body, body["metadata"]["labels"])


def scaled_in(uid: str = OLD, code: int = 143) -> list[dict[str, Any]]:
    """A load-balanced task the scheduler stops, as the kubelet shows it: deletion asked for at
    30 s (its containers run on through the preStop sleep), SIGTERM at 35 s and the container
    exits ``code`` at 36 s, then the pod turns Failed (Succeeded after an exit 0)."""
    reason = "Completed" if code == 0 else "Error"
    return [
        kubelet_pod(running(since=0), uid=uid, ready_since=1),
        kubelet_pod(running(since=0), uid=uid, ready_since=1, deleting=30),
        kubelet_pod(terminated(0, 36, code, reason), uid=uid, deleting=30),
        kubelet_pod(
            terminated(0, 36, code, reason), uid=uid, deleting=30, phase="Succeeded" if code == 0 else "Failed"
        ),
    ]


# --- a task the scheduler stops is no failed task ------------------------------------------


@pytest.mark.parametrize("code", [143, 0, 137])
def test_a_task_stopped_by_the_scheduler_is_no_failure_whatever_its_exit_code(code: int) -> None:
    for step in scaled_in(code=code):
        task = state(step)
        assert task.failures == () and not task.ended, (code, step["status"])
        assert consecutive_failures([task], "old", at(40), 10.0) == 0
    # once its pod is gone, nothing is remembered against its deployment either
    last, gone = gone_tasks({}, [state(scaled_in(code=code)[-1])], (), {"old"}, at(40), 10.0)
    assert gone == () and list(last) == [OLD]
    remembered, kept = gone_tasks(last, [], (), {"old"}, at(41), 10.0)
    assert remembered == {}
    assert all(g.failures == () for g in kept)  # at most its healthy run is kept
    assert consecutive_failures(list(kept), "old", at(41), 10.0) == 0


def test_the_deletion_request_is_the_timestamp_less_the_grace_period() -> None:
    body = scaled_in()[2]
    assert deletion_requested(body) == at(30)
    assert deletion_requested(scaled_in()[0]) is None
    assert before_deletion(body, at(20)) and not before_deletion(body, at(36))
    assert not before_deletion(body, at(29))  # within a second of it: the node's clock may lag
    assert not before_deletion(body, None)
    assert before_deletion(scaled_in()[0], at(36))  # not being deleted: whatever ended, ended by itself
    odd = kubelet_pod(running(since=0))
    odd["metadata"]["deletionTimestamp"] = "2026-12-01T10:01:05.250Z"  # not the API server's form
    assert deletion_requested(odd) == "2026-12-01T10:01:05.250Z"
    assert before_deletion(odd, at(20)) and not before_deletion(odd, at(66))


def test_a_task_that_ended_by_itself_before_its_deletion_stays_a_failure() -> None:
    # the essential container exited at 20 s (the kubelet's back-off delays the restart), then
    # the scheduler stopped the task at 30 s (a deployment): its end was its own
    backing_off = {
        "name": "app",
        "restartCount": 0,
        "ready": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 3, "startedAt": at(0), "finishedAt": at(20)}},
    }
    for body in (kubelet_pod(backing_off), kubelet_pod(backing_off, deleting=30)):
        assert state(body).failures == (at(20),)
    # evicted (Failed) at 20 s, deleted at 30 s: still one failure
    evicted = kubelet_pod(terminated(0, 20, 137), phase="Failed", deleting=30)
    evicted["status"]["reason"] = "Evicted"
    assert state(evicted).failures == (at(20),)
    # a pod that never ran, refused by the kubelet, then deleted: the kubelet's reason says so
    refused = kubelet_pod(phase="Failed", deleting=30)
    assert state(refused).failures == ()
    refused["status"]["reason"] = "OutOfcpu"
    assert state(refused).failures == (None,)


def test_a_rolling_deployment_leaves_no_failed_task_and_the_drained_deployment_inactive() -> None:
    """Revision 1 -> 2, 2 tasks at 100/200 %: the old deployment is ACTIVE while it has tasks,
    never with a failed task, and is no longer listed once drained (describe-services lists
    PRIMARY and ACTIVE deployments only)."""
    new_rs = replica_set("rs-new", "new", 2, 2, replicas=2, ready=2)
    new_tasks = [
        state(kubelet_pod(running(since=20), uid=u, template="new", revision=2, replica_set="rs-new", ready_since=20))
        for u in (NEW, "22222222-3333-4444-5555-666666666666")
    ]
    first_old = [state(step) for step in scaled_in(OLD)]
    second_old = [state(step) for step in scaled_in("33333333-3333-4444-5555-666666666666")]
    previous: list[dict[str, Any]] = []
    for step in range(4):
        drained = step >= 1  # the ReplicaSet controller scaled the old one to 0 when it deleted them
        old = replica_set("rs-old", "old", 1, 1, replicas=0 if drained else 2, ready=0 if drained else 2)
        tasks = [first_old[step], second_old[step], *new_tasks]
        shown = ecs_deployments([new_rs, old], tasks, 2, arn_of, previous, at(31 + step), settle_seconds=10.0)
        assert all(d["failedTasks"] == 0 for d in shown), shown
        assert [d["status"] for d in shown] == ["PRIMARY", "INACTIVE" if drained else "ACTIVE"]
        previous = shown
    assert previous[0]["rolloutState"] == "COMPLETED"


def replica_set(uid: str, template: str, revision: int, td: int, *, replicas: int, ready: int) -> dict[str, Any]:
    return {
        "metadata": {
            "uid": uid,
            "name": f"web-{template}",
            "labels": {"pod-template-hash": template},
            "annotations": {REVISION_ANNOTATION: str(revision)},
            "creationTimestamp": at(0),
        },
        "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels(template, td)}}},
        "status": {"replicas": replicas, "readyReplicas": ready},
    }


def arn_of(pod_labels: Any) -> str | None:
    revision = pod_labels.get("ecs.facade.dev/task-definition-revision")
    return f"{TD}{revision}" if revision else None


def test_the_last_completed_deployment_is_remembered_once_it_is_no_longer_listed() -> None:
    completed = {"id": "ecs-svc/1", "status": "PRIMARY", "rolloutState": "COMPLETED", "taskDefinition": f"{TD}1"}
    assert completed_deployment([completed], None) == {"id": "ecs-svc/1", "taskDefinition": f"{TD}1"}
    rolling = {"id": "ecs-svc/2", "status": "PRIMARY", "rolloutState": "IN_PROGRESS", "taskDefinition": f"{TD}2"}
    kept = completed_deployment([completed], None)
    assert completed_deployment([rolling], kept) == kept  # revision 1's, though it drained
    assert completed_deployment([], None) is None
    # still listed (ACTIVE) while the next one rolls out: known from the list itself
    active = {**completed, "status": "ACTIVE"}
    assert completed_deployment([rolling, active], None) == kept
    failed = {**rolling, "rolloutState": "FAILED"}
    assert completed_deployment([failed], kept) == kept


def test_the_live_description_of_a_task_being_stopped_is_the_schedulers_stop() -> None:
    stopping = scaled_in()[2]  # exit 143 while its pod is being deleted
    task = describe_task(stopping, "arn:task", f"{TD}1", "service:web", deployment_id("rs-old"))
    assert (task["stopCode"], task["stoppedReason"]) == (
        "ServiceSchedulerInitiated",
        f"Scaling activity initiated by (deployment {deployment_id('rs-old')})",
    )
    exited = describe_task(kubelet_pod(terminated(0, 20, 3)), "arn:task", f"{TD}1", "service:web", "ecs-svc/1")
    assert (exited["stopCode"], exited["stoppedReason"]) == (
        "EssentialContainerExited",
        "Essential container in task exited",
    )


# --- stoppedTasks, pure -------------------------------------------------------------------

NAMING = Naming("web", lambda ident: TASK_ARN + ident, arn_of)


def test_an_exit_3_seen_before_the_restart_in_place_is_kept_with_its_code() -> None:
    exited = kubelet_pod(terminated(2, 7, 3), conditions=[{"type": "AllContainersRestarting", "status": "True"}])
    removed = kubelet_pod(restarting())
    again = kubelet_pod(running(since=9, restarts=1, lastState={"terminated": REMOVED}))
    stop = TaskStop(OLD, 0, task_id(OLD), scheduler=False)
    # the status saw the exit itself
    seen = stopped_tasks([], [stop], [state(exited)], {}, {}, NAMING, at(8), 3600)
    # the status saw only the restart, a pod event the exit (ServiceMemory.exits_noted)
    noted = stopped_tasks([], [stop], [state(again)], {}, {(OLD, 0): picture(exited)}, NAMING, at(10), 3600)
    expected = {
        "taskArn": TASK_ARN + task_id(OLD),
        "taskDefinitionArn": f"{TD}1",
        "group": "service:web",
        "startedBy": deployment_id("rs-old"),
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "healthStatus": "UNKNOWN",
        "createdAt": at(0),
        "startedAt": at(2),
        "stoppedAt": at(7),
        "containers": [
            {
                "name": "app",
                "image": "busybox:1.36",
                "lastStatus": "STOPPED",
                "exitCode": 3,
                "reason": "Error",
                "healthStatus": "UNKNOWN",
            }
        ],
    }
    assert seen == [expected]
    assert noted == [expected]
    # later looks at the restarted pod never take the exit code back (nor say 137)
    later = stopped_tasks(seen, [], [state(removed)], {}, {}, NAMING, at(9), 3600)
    later = stopped_tasks(later, [], [state(again)], {}, {}, NAMING, at(12), 3600)
    assert later == [expected]
    # an exit nobody saw: stopped all the same, no exit code invented (never the kubelet's 137)
    unseen = stopped_tasks([], [stop], [state(again)], {}, {}, NAMING, at(10), 3600)
    (entry,) = unseen
    assert entry["stopCode"] == "EssentialContainerExited"
    assert entry["containers"] == [
        {"name": "app", "image": "busybox:1.36", "lastStatus": "STOPPED", "healthStatus": "UNKNOWN"}
    ]
    assert (entry["stoppedAt"], "startedAt" in entry) == (at(10), False)


def test_a_memory_kill_is_ecs_out_of_memory_error() -> None:
    killed = kubelet_pod(terminated(2, 7, 137, reason="OOMKilled"))
    stop = TaskStop(OLD, 0, task_id(OLD), scheduler=False)
    (entry,) = stopped_tasks([], [stop], [state(killed)], {}, {}, NAMING, at(8), 3600)
    assert (entry["stopCode"], entry["stoppedReason"]) == ("EssentialContainerExited", OUT_OF_MEMORY)
    assert (entry["containers"][0]["exitCode"], entry["containers"][0]["reason"]) == (137, OUT_OF_MEMORY)


def test_a_scale_in_is_the_schedulers_stop_and_learns_the_exit_code_later() -> None:
    steps = scaled_in()
    stop = TaskStop(OLD, 0, task_id(OLD), scheduler=True)
    # told stopped when its deletion was seen: its container still runs the preStop sleep
    (entry,) = stopped_tasks([], [stop], [state(steps[1])], {}, {}, NAMING, at(31), 3600)
    assert (entry["stopCode"], entry["stoppedReason"]) == (
        "ServiceSchedulerInitiated",
        f"Scaling activity initiated by (deployment {deployment_id('rs-old')})",
    )
    assert (entry["stoppedAt"], "exitCode" in entry["containers"][0]) == (at(31), False)
    # SIGTERM: exit 143, then the pod is gone; what is learnt is kept
    after = stopped_tasks([entry], [], [state(steps[3])], {}, {}, NAMING, at(37), 3600)
    gone = stopped_tasks(after, [], [], {OLD: state(steps[3])}, {}, NAMING, at(40), 3600)
    assert gone == after
    (done,) = gone
    assert (done["containers"][0]["exitCode"], done["stoppedAt"], done["stopCode"]) == (
        143,
        at(36),
        "ServiceSchedulerInitiated",
    )
    # a pod gone before the status saw its deletion: described from its last look
    (vanished,) = stopped_tasks([], [stop], [], {OLD: state(steps[0])}, {}, NAMING, at(50), 3600)
    assert (vanished["stopCode"], vanished["lastStatus"], vanished["stoppedAt"]) == (
        "ServiceSchedulerInitiated",
        "STOPPED",
        at(50),
    )


def test_a_task_replaced_for_its_health_checks_says_so() -> None:
    killed = kubelet_pod(terminated(0, 40, 137), containers=[CHECKED])
    stop = TaskStop(OLD, 0, task_id(OLD), scheduler=False, unhealthy=True)
    (entry,) = stopped_tasks([], [stop], [state(killed)], {}, {}, NAMING, at(41), 3600)
    assert (entry["stopCode"], entry["stoppedReason"], entry["healthStatus"]) == (
        "ServiceSchedulerInitiated",
        "Task failed container health checks",
        "UNHEALTHY",
    )
    assert (entry["containers"][0]["exitCode"], entry["stoppedAt"]) == (137, at(40))


def test_stopped_tasks_are_newest_first_at_most_ten_and_kept_for_the_retention_time() -> None:
    uids = [f"00000000-0000-0000-0000-{n:012d}" for n in range(12)]
    entries: list[dict[str, Any]] = []
    for n, uid in enumerate(uids):
        body = kubelet_pod(terminated(0, 10 + n, 3), uid=uid)
        stop = TaskStop(uid, 0, task_id(uid), scheduler=False)
        entries = stopped_tasks(entries, [stop], [state(body)], {}, {}, NAMING, at(11 + n), 3600)
    assert len(entries) == MAX_STOPPED_TASKS
    assert [e["taskArn"] for e in entries] == [TASK_ARN + task_id(u) for u in reversed(uids[2:])]
    # an hour on (ECS keeps stopped tasks about that long), the older ones go at the next write
    hour = f"2026-12-01T11:00:{15:02d}Z"  # 3600 s after at(15)
    kept = stopped_tasks(entries, [], [], {}, {}, NAMING, hour, 3600)
    assert [e["stoppedAt"] for e in kept] == [at(21), at(20), at(19), at(18), at(17), at(16), at(15)]


# --- stoppedTasks in the service's status -------------------------------------------------


class Rollout:
    """A service with its ReplicaSets and pods as given at each look, the clock set by hand;
    what the operator writes is captured instead of sent."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, desired: int = 1, spec: dict[str, Any] | None = None) -> None:
        self.desired = desired
        self.spec = spec or {}
        self.status: dict[str, Any] = {}
        self.writes: list[dict[str, Any]] = []
        self.clock = at(0)
        self.state = OperatorState(config=Config())  # a fresh operator's
        for module in (planning, report, triggers):  # what reads the clock
            monkeypatch.setattr(module, "now", lambda: self.clock)
        monkeypatch.setattr(kube, "patch_status", self._patch)
        monkeypatch.setattr(kube, "post_event", lambda *_a: None)
        monkeypatch.setattr(triggers, "enqueue", lambda *_a, **_k: None)  # no work queue here

    def _patch(self, _api: str, _plural: str, _namespace: str, _name: str, status: dict[str, Any]) -> None:
        self.status = {k: v for k, v in {**self.status, **status}.items() if v is not None}
        self.writes.append(status)

    def report(self, seconds: int, pods: list[dict[str, Any]], sets: list[dict[str, Any]] | None = None) -> None:
        self.clock = at(seconds)
        ready = sum(1 for p in pods if state(p).ready_since is not None and not p["metadata"].get("deletionTimestamp"))
        sets = sets or [replica_set("rs-old", "old", 1, 1, replicas=self.desired, ready=ready)]
        workload = {
            "kind": "Deployment",
            "metadata": {"name": "web", "generation": 1},
            "spec": {"replicas": self.desired},
            "status": {
                "observedGeneration": 1,
                "replicas": len(pods),
                "updatedReplicas": len(pods),
                "readyReplicas": ready,
            },
        }
        tasks = [state(p) for p in pods]
        fake = SimpleNamespace(tasks={KEY: tasks}, replica_sets={KEY: sets}, autoscalers={})
        snapshot = Snapshot(
            name="web",
            namespace="default",
            uid=SERVICE_UID,
            generation=1,
            spec={"taskDefinition": "web", "desiredCount": self.desired, **self.spec},
            status=self.status,
        )
        plan = planning.Plan(
            workload=cast(Any, SimpleNamespace(rolling=None)),
            extra=[],
            revision=cast(Any, None),
            arn=f"{TD}1",
            desired=self.desired,
            breaker=(self.spec.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {},
        )
        report.report_status(
            self.state,
            snapshot,
            cast(Any, fake),
            Config(steady_state_seconds=10.0),
            plan,
            workload,
            logging.getLogger("t"),
        )

    def messages_said(self, message: str) -> int:
        return sum(1 for e in self.status.get("events") or [] if e["message"] == f"(service web) {message}")

    def pod_event(self, body: dict[str, Any]) -> None:
        """What the pod informer hands on between two looks (controllers/informers.py)."""
        fake = SimpleNamespace(services={KEY: [SimpleNamespace(uid=SERVICE_UID)]}, nodes={})
        triggers.tasks_changed(self.state, body, *KEY, cast(Any, fake), logging.getLogger("t"))


def test_exit_3_then_a_restart_in_place_is_described_with_exit_code_3(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Rollout(monkeypatch)
    lane.report(1, [kubelet_pod(running(since=1), ready_since=1)])
    # between two looks: the exit (a pod event), then the kubelet's restart in place
    exited = kubelet_pod(terminated(1, 6, 3), conditions=[{"type": "AllContainersRestarting", "status": "True"}])
    lane.pod_event(exited)
    assert set(lane.state.services.exits_noted[KEY]) == {(OLD, 0)}
    lane.pod_event(kubelet_pod(restarting()))
    lane.report(8, [kubelet_pod(restarting())])
    assert lane.state.services.exits_noted == {}  # used: forgotten
    (entry,) = lane.status["stoppedTasks"]
    assert entry["taskArn"] == TASK_ARN + task_id(OLD)
    assert (entry["lastStatus"], entry["desiredStatus"], entry["stopCode"]) == (
        "STOPPED",
        "STOPPED",
        "EssentialContainerExited",
    )
    assert [(c["name"], c["exitCode"]) for c in entry["containers"]] == [("app", 3)]
    assert (entry["group"], entry["startedBy"], entry["stoppedAt"]) == ("service:web", deployment_id("rs-old"), at(6))
    # the events name the same task
    assert any(task_id(OLD) in e["message"] and "has stopped" in e["message"] for e in lane.status["events"])


def test_a_scale_in_stops_a_task_the_scheduler_way_and_adds_no_status_write(monkeypatch: pytest.MonkeyPatch) -> None:
    other = "44444444-4444-4444-4444-444444444444"
    lane = Rollout(monkeypatch, desired=2)
    both = [kubelet_pod(running(since=0), ready_since=0), kubelet_pod(running(since=0), uid=other, ready_since=0)]
    lane.report(1, both)
    lane.report(11, both)  # steady
    lane.desired = 1
    steps = scaled_in()
    keep = kubelet_pod(running(since=0), uid=other, ready_since=0)
    lane.report(31, [steps[1], keep])
    (entry,) = lane.status["stoppedTasks"]
    assert (entry["stopCode"], entry["stoppedReason"]) == (
        "ServiceSchedulerInitiated",
        f"Scaling activity initiated by (deployment {deployment_id('rs-old')})",
    )
    writes = len(lane.writes)
    # its container exits 143 at SIGTERM, the pod turns Failed: no failure, and no write of
    # its own (the exit code is kept for the next write)
    lane.report(36, [steps[2], keep])
    lane.report(37, [steps[3], keep])
    assert len(lane.writes) == writes
    assert lane.status["deployments"][0]["failedTasks"] == 0
    memory = lane.state.services.tasks_seen[(*KEY, SERVICE_UID)].stopped
    assert [c.get("exitCode") for c in memory[0]["containers"]] == [143]
    assert [c.get("exitCode") for c in lane.status["stoppedTasks"][0]["containers"]] == [None]
    # its pod goes: the service is steady again, which is written, with the exit code
    lane.report(40, [keep])
    assert len(lane.writes) == writes + 1
    assert lane.messages_said("has reached a steady state.") == 2
    (entry,) = lane.status["stoppedTasks"]
    assert ([c.get("exitCode") for c in entry["containers"]], entry["stoppedAt"]) == ([143], at(36))
    assert lane.status["deployments"][0]["failedTasks"] == 0


def test_stopped_tasks_survive_a_restart_of_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Rollout(monkeypatch)
    lane.report(1, [kubelet_pod(running(since=1), ready_since=1)])
    lane.report(6, [kubelet_pod(terminated(1, 6, 3))])
    before = lane.status["stoppedTasks"]
    for memory in (lane.state.services.written, lane.state.services.written_at, lane.state.services.tasks_seen):
        memory.clear()
    lane.report(20, [kubelet_pod(running(since=9, restarts=1, lastState={"terminated": REMOVED}), ready_since=9)])
    assert lane.state.services.tasks_seen[(*KEY, SERVICE_UID)].stopped == tuple(before)


def test_the_breaker_rolls_back_to_a_completed_deployment_that_has_drained(monkeypatch: pytest.MonkeyPatch) -> None:
    breaker = {"enable": True, "rollback": True}
    lane = Rollout(monkeypatch, spec={"deploymentConfiguration": {"deploymentCircuitBreaker": breaker}})
    lane.report(1, [kubelet_pod(running(since=1), ready_since=1)])
    lane.report(12, [kubelet_pod(running(since=1), ready_since=1)])
    assert lane.status["completedDeployment"] == {"id": deployment_id("rs-old"), "taskDefinition": f"{TD}1"}
    # revision 2 at minimumHealthyPercent 0: the old task stopped first, its deployment drained
    old = replica_set("rs-old", "old", 1, 1, replicas=0, ready=0)
    new = replica_set("rs-new", "new", 2, 2, replicas=1, ready=0)
    failing = [
        kubelet_pod(
            terminated(20 + 5 * n, 22 + 5 * n, 1, restarts=n),
            uid=NEW,
            template="new",
            revision=2,
            replica_set="rs-new",
        )
        for n in range(3)
    ]
    lane.report(
        21, [kubelet_pod(running(since=20), uid=NEW, template="new", revision=2, replica_set="rs-new")], [new, old]
    )
    # the drained one is INACTIVE: the breaker's target comes from completedDeployment all the same
    assert [d["status"] for d in lane.status["deployments"]] == ["PRIMARY", "INACTIVE"]
    lane.state.services.seen.clear()
    for n, body in enumerate(failing):
        lane.report(23 + 5 * n, [body], [new, old])
    messages = [e["message"] for e in lane.status["events"]]
    assert any(f"rolling back to deployment {deployment_id('rs-old')} ({TD}1)" in m for m in messages), messages
    assert lane.status["taskDefinition"] == f"{TD}1"


def test_a_drained_deployment_is_inactive_with_no_failed_task(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Rollout(monkeypatch, desired=1)
    old_pod = kubelet_pod(running(since=0), ready_since=0)
    new_pod = kubelet_pod(running(since=20), uid=NEW, template="new", revision=2, replica_set="rs-new", ready_since=20)
    new = replica_set("rs-new", "new", 2, 2, replicas=1, ready=1)
    lane.report(21, [old_pod, new_pod], [new, replica_set("rs-old", "old", 1, 1, replicas=1, ready=1)])
    assert [(d["status"], d["failedTasks"]) for d in lane.status["deployments"]] == [("PRIMARY", 0), ("ACTIVE", 0)]
    steps = scaled_in()
    drained = replica_set("rs-old", "old", 1, 1, replicas=0, ready=0)
    for seconds, step in ((31, steps[1]), (36, steps[2]), (37, steps[3])):
        lane.report(seconds, [step, new_pod], [new, drained])
        assert [(d["status"], d["failedTasks"]) for d in lane.status["deployments"]] == [
            ("PRIMARY", 0),
            ("INACTIVE", 0),
        ]
    lane.report(40, [new_pod], [new, drained])
    primary = lane.status["deployments"][0]
    assert (primary["status"], primary["rolloutState"], primary["failedTasks"]) == ("PRIMARY", "COMPLETED", 0)
    assert [(d["status"], d["failedTasks"]) for d in lane.status["deployments"][1:]] == [("INACTIVE", 0)]


def test_task_events_tell_an_exit_before_the_deletion_as_the_tasks_own_end() -> None:
    backing_off = {
        "name": "app",
        "restartCount": 0,
        "ready": False,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 3, "startedAt": at(0), "finishedAt": at(20)}},
    }
    events, _ = task_events(
        "(service web)", {OLD: Seen(task_id(OLD), 0)}, [state(kubelet_pod(backing_off, deleting=30))], at(31)
    )
    assert events.stops == [TaskStop(OLD, 0, task_id(OLD), scheduler=False)]
    assert events.ended and not events.stopped
    scaled, _ = task_events("(service web)", {OLD: Seen(task_id(OLD), 0)}, [state(scaled_in()[1])], at(31))
    assert scaled.stops == [TaskStop(OLD, 0, task_id(OLD), scheduler=True)]
    assert scaled.stopped and not scaled.ended


def test_the_service_crd_keeps_stopped_tasks_as_describe_tasks_shows_them() -> None:
    from pathlib import Path

    import yaml

    from tests.unit.test_generated import walk

    repo = Path(__file__).resolve().parents[2]
    crd = yaml.safe_load((repo / "crds" / "ecs.facade.dev_ecsservices.yaml").read_text())
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    stopped = status["stoppedTasks"]
    assert (stopped["type"], stopped["maxItems"]) == ("array", MAX_STOPPED_TASKS)
    entry = stopped["items"]["properties"]
    for field in ("taskArn", "taskDefinitionArn", "group", "startedBy", "stoppedReason", "stoppedAt", "startedAt"):
        assert field in entry, field
    assert "ServiceSchedulerInitiated" in entry["stopCode"]["enum"]
    assert "EssentialContainerExited" in entry["stopCode"]["enum"]
    container = entry["containers"]["items"]["properties"]
    assert container["exitCode"]["type"] == "integer"
    # structural: every node typed, nothing kept unchecked
    nodes = list(walk(stopped, ".stoppedTasks")) + list(walk(status["completedDeployment"], ".completedDeployment"))
    assert [p for p, n in nodes if "type" not in n or n.get("x-kubernetes-preserve-unknown-fields")] == []
    # the chart's and the package's copies are the same
    for copy in ("charts/ecs-facade/crds", "operator/ecs_facade/crds"):
        assert (repo / copy / "ecs.facade.dev_ecsservices.yaml").read_text() == (
            repo / "crds" / "ecs.facade.dev_ecsservices.yaml"
        ).read_text()
