"""A service's status tells when its tasks stop and start, in ECS's words (controllers/service/report.py
``report_status`` with views/service_tasks.py), and says "has reached a steady state" only while
its tasks run: a service of one task whose essential container exits after 5 s."""

import logging
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest

from ecs_facade.config import Config
from ecs_facade.controllers.indexes import Snapshot
from ecs_facade.controllers.service import plan as planning
from ecs_facade.controllers.service import report, triggers
from ecs_facade.controllers.state import OperatorState
from ecs_facade.controllers.workqueue import WorkQueue
from ecs_facade.kube import client as kube
from ecs_facade.views.deployments import REVISION_ANNOTATION, deployment_id
from ecs_facade.views.service_tasks import task_id
from tests.unit.test_views_service_tasks import (
    CHECKED,
    OTHER,
    UID,
    at,
    backing_off,
    exited,
    pod,
    running,
    state,
)

KEY = ("default", "web")
SERVICE_UID = "svc-1"
ARN = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
LABELS = {"ecs.facade.dev/task-definition-family": "web", "ecs.facade.dev/task-definition-revision": "1"}


class Lane:
    """One service, its Deployment and ReplicaSet, reported on with the clock set by hand; what
    the operator writes is captured instead of sent."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, breaker: dict[str, Any] | None = None, desired: int = 1
    ) -> None:
        self.desired = desired
        self.status: dict[str, Any] = {}
        self.writes: list[dict[str, Any]] = []
        self.posted: list[tuple[str, str]] = []
        self.clock = at(0)
        self.breaker = breaker or {}
        self.state = OperatorState(config=Config())  # a fresh operator's
        for module in (planning, report, triggers):  # what reads the clock
            monkeypatch.setattr(module, "now", lambda: self.clock)
        monkeypatch.setattr(kube, "patch_status", self._patch)
        monkeypatch.setattr(kube, "post_event", lambda _o, type_, _r, message, _a: self.posted.append((type_, message)))

    def _patch(self, _api: str, _plural: str, _namespace: str, _name: str, status: dict[str, Any]) -> None:
        self.status = {**self.status, **status}
        self.writes.append(status)

    def report(self, seconds: int, *pods: dict[str, Any]) -> dict[str, Any]:
        """The service's status after a look at ``seconds`` with its pods as given."""
        self.clock = at(seconds)
        ready = sum(1 for p in pods if state(p).ready_since is not None)
        replica_set = {
            "metadata": {
                "uid": "rs-1",
                "name": "web-h",
                "labels": {"pod-template-hash": "h"},
                "annotations": {REVISION_ANNOTATION: "1"},
                "creationTimestamp": at(0),
            },
            "spec": {"replicas": self.desired, "template": {"metadata": {"labels": LABELS}}},
            "status": {"replicas": len(pods), "readyReplicas": ready},
        }
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
        indexes = SimpleNamespace(
            tasks={KEY: [state(p) for p in pods]}, replica_sets={KEY: [replica_set]}, autoscalers={}
        )
        snapshot = Snapshot(
            name="web",
            namespace="default",
            uid=SERVICE_UID,
            generation=1,
            spec={"taskDefinition": "web", "desiredCount": self.desired},
            status=self.status,
        )
        plan = planning.Plan(
            workload=cast(Any, SimpleNamespace(rolling=None)),
            extra=[],
            revision=cast(Any, None),
            arn=ARN,
            desired=self.desired,
            breaker=self.breaker,
        )
        config = Config(steady_state_seconds=10.0)
        report.report_status(
            self.state, snapshot, cast(Any, indexes), config, plan, workload, logging.getLogger("test")
        )
        return self.status

    def messages(self) -> list[str]:
        """The status's events, oldest first, without the service's label."""
        return [e["message"].removeprefix("(service web) ") for e in reversed(self.status.get("events") or [])]


def started(ends: int) -> str:
    return f"has started 1 tasks: (task {task_id(UID, ends)})."


def stopped(ends: int) -> str:
    return f"has stopped 1 running tasks: (task {task_id(UID, ends)})."


def test_an_essential_container_that_exits_after_5_s_stops_its_task_and_a_new_one_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lane = Lane(monkeypatch)
    lane.report(1, pod(node="node-1"))  # placed, its containers being created
    assert lane.messages() == [started(0)]
    lane.report(2, pod(running(since=2), ready_since=2))
    assert lane.status["runningCount"] == 1
    lane.report(7, pod(exited(since=2, until=7)))  # exit 1 after 5 s: the task stopped
    assert lane.messages() == [started(0), stopped(0)]
    assert (lane.status["runningCount"], lane.status["deployments"][0]["failedTasks"]) == (0, 1)
    lane.report(9, pod(backing_off(since=2, until=7)))  # the kubelet's back-off: nothing new
    last_state = {"terminated": {"exitCode": 1, "startedAt": at(2), "finishedAt": at(7)}}
    lane.report(17, pod(running(since=17, restarts=1, lastState=last_state), ready_since=17))  # restarted in place
    assert lane.messages() == [started(0), stopped(0), started(1)]
    assert lane.status["deployments"][0]["failedTasks"] == 1  # one end, counted once
    lane.report(22, pod(exited(since=17, until=22, restarts=1)))
    lane.report(43, pod(running(since=43, restarts=2), ready_since=43))
    assert lane.messages() == [started(0), stopped(0), started(1), stopped(1), started(2)]
    assert lane.status["deployments"][0]["failedTasks"] == 2
    # each event once, also as a Kubernetes Event, none a Warning
    assert [m for _, m in lane.posted] == [f"(service web) {m}" for m in lane.messages()]
    assert {type_ for type_, _ in lane.posted} == {"Normal"}
    # never steady: no incarnation runs for the settle time
    assert lane.status["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    assert not any("steady state" in m for m in lane.messages())


def test_the_breaker_counts_the_stopped_tasks_and_fails_the_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Lane(monkeypatch, breaker={"enable": True, "rollback": False})
    lane.report(1, pod(running(since=1), ready_since=1))
    lane.report(6, pod(exited(since=1, until=6)))
    lane.report(16, pod(running(since=16, restarts=1), ready_since=16))
    lane.report(21, pod(exited(since=16, until=21, restarts=1)))
    assert lane.status["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    lane.report(40, pod(running(since=40, restarts=2), ready_since=40))
    lane.report(45, pod(exited(since=40, until=45, restarts=2)))  # the third: threshold 3
    primary = lane.status["deployments"][0]
    assert (primary["failedTasks"], primary["rolloutState"]) == (3, "FAILED")
    assert lane.messages()[-2:] == [stopped(2), f"({deployment_id('rs-1')}) deployment failed: tasks failed to start."]


def test_steady_state_only_while_the_desired_tasks_run_and_are_healthy(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Lane(monkeypatch)
    lane.report(1, pod(running(since=1), ready_since=1))
    lane.report(10, pod(running(since=1), ready_since=1))
    assert lane.status["conditions"][0]["status"] == "False"  # Ready for 9 s only
    lane.report(11, pod(running(since=1), ready_since=1))
    assert lane.messages() == [started(0), "has reached a steady state."]
    # the only task's container exits: 0 running, not steady
    lane.report(30, pod(exited(since=1, until=30)))
    lane.report(31, pod(backing_off(since=1, until=30)))
    assert (lane.status["runningCount"], lane.status["conditions"][0]["status"]) == (0, "False")
    # restarted in place; the pod's Ready condition kept its old time (a quick restart)
    again = pod(running(since=40, restarts=1), ready_since=1)
    lane.report(41, again)
    lane.report(49, again)
    assert lane.messages() == [started(0), "has reached a steady state.", stopped(0), started(1)]
    assert lane.status["conditions"][0]["status"] == "False"
    lane.report(50, again)  # the new task healthy for the settle time: steady again
    assert lane.messages()[-1] == "has reached a steady state."
    steady_while = [w["runningCount"] for w in lane.writes if any("steady" in e["message"] for e in w["events"][:1])]
    assert steady_while and all(count == 1 for count in steady_while)


def test_a_health_check_failure_is_told_before_the_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Lane(monkeypatch)
    lane.report(1, pod(running(since=1, ready=False), containers=[CHECKED]))
    lane.report(3, pod(running(since=1), containers=[CHECKED], ready_since=3))
    # the check fails; a pod event sees it, the status batch only the restart after the liveness kill
    failing = pod(running(since=1, ready=False), containers=[CHECKED])
    lane.clock = at(30)
    triggers.tasks_changed(
        lane.state, failing, *KEY, cast(Any, SimpleNamespace(services={}, nodes={})), logging.getLogger("t")
    )
    assert lane.state.services.unhealthy_noted == {}  # not a service the index knows: nothing noted
    indexes = SimpleNamespace(services={KEY: [SimpleNamespace(uid=SERVICE_UID)]}, nodes={})
    monkeypatch.setattr(triggers, "enqueue", lambda *_a, **_k: None)
    triggers.tasks_changed(lane.state, failing, *KEY, cast(Any, indexes), logging.getLogger("t"))
    assert lane.state.services.unhealthy_noted == {KEY: {(UID, 0)}}
    lane.report(32, pod(running(since=32, restarts=1, ready=False), containers=[CHECKED]))
    assert lane.messages()[-3:] == [f"(task {task_id(UID)}) failed container health checks.", stopped(0), started(1)]
    assert ("Warning", f"(service web) (task {task_id(UID)}) failed container health checks.") in lane.posted
    assert lane.state.services.unhealthy_noted == {KEY: set()}  # told: forgotten


def test_a_restart_of_the_operator_tells_nothing_twice_and_the_failures_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Lane(monkeypatch)
    lane.report(1, pod(running(since=1), ready_since=1))
    lane.report(6, pod(exited(since=1, until=6)))
    lane.report(16, pod(running(since=16, restarts=1), ready_since=16))
    told = lane.messages()
    assert told == [started(0), stopped(0), started(1)]
    # the operator restarts (its memories are gone); the pod was replaced meanwhile by a new one
    for memory in (lane.state.services.written, lane.state.services.written_at, lane.state.services.tasks_seen):
        memory.clear()
    new_uid = "99999999-8888-7777-6666-555555555555"
    lane.report(30, pod(running(since=25), uid=new_uid, ready_since=25))
    assert lane.messages() == told  # nothing told twice, nothing invented
    assert lane.status["deployments"][0]["failedTasks"] == 1  # the gone pod's failure still counts
    lane.report(31, pod(exited(since=25, until=31), uid=new_uid))
    assert lane.messages() == [*told, f"has stopped 1 running tasks: (task {task_id(new_uid)})."]
    assert lane.status["deployments"][0]["failedTasks"] == 2


def test_a_deleted_service_forgets_its_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    lane = Lane(monkeypatch)
    lane.report(1, pod(running(since=1), ready_since=1))
    lane.state.services.unhealthy_noted[KEY] = {(UID, 0)}
    assert (*KEY, SERVICE_UID) in lane.state.services.tasks_seen
    triggers._forget(lane.state, KEY, SERVICE_UID)
    assert (*KEY, SERVICE_UID) not in lane.state.services.tasks_seen and KEY not in lane.state.services.unhealthy_noted


def test_tasks_the_scheduler_starts_and_stops_are_progress_told_with_the_next_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rollout's progress is written at most every status_min_interval_seconds: so are the
    events of the tasks it starts and stops; a task that ends by itself is news at once."""
    memory = (*KEY, SERVICE_UID)
    lane = Lane(monkeypatch, desired=2)
    lane.state.queue = WorkQueue("test", lambda *_: None, workers=1, batch_seconds=2.0)
    a, b, c = UID, OTHER, "22222222-3333-4444-5555-666666666666"
    lane.state.services.written_at[memory] = time.monotonic()  # its Deployment was just created
    lane.report(1, pod(uid=a))  # placed: a first rollout under way, written later
    assert lane.writes == [] and lane.state.services.tasks_seen[memory].seen == {}
    lane.report(2, pod(uid=a), pod(uid=b))
    assert lane.writes == []
    lane.report(3, pod(running(since=3), uid=a, ready_since=3), pod(running(since=3), uid=b, ready_since=3))
    assert lane.messages() == [f"has started 2 tasks: (task {task_id(a)}) (task {task_id(b)})."]  # all running: news
    # c replaces b (a drain, say): c placed, then b stopped once c runs; progress, which waits
    a_runs = pod(running(since=3), uid=a, ready_since=3)
    lane.report(8, a_runs, pod(running(since=3), uid=b, ready_since=3), pod(uid=c))
    assert len(lane.writes) == 1 and lane.state.services.status_due
    replaced = [
        a_runs,
        pod(running(since=3), uid=b, deleting=11, ready_since=3),
        pod(running(since=9), uid=c, ready_since=10),
    ]
    lane.report(11, *replaced)
    assert len(lane.writes) == 1
    lane.state.services.written_at[memory] = time.monotonic() - 11.0  # the interval is over
    lane.report(12, *replaced)
    assert lane.messages()[1:] == [
        f"has stopped 1 running tasks: (task {task_id(b)}).",
        f"has started 1 tasks: (task {task_id(c)}).",
    ]
    # a task that ends by itself is news: written at once
    lane.report(13, pod(exited(since=3, until=13), uid=a), pod(running(since=9), uid=c, ready_since=10))
    assert len(lane.writes) == 3 and lane.messages()[-1] == f"has stopped 1 running tasks: (task {task_id(a)})."
