"""Work that fails is retried with backoff until it succeeds or its object is gone, and
nothing is lost meanwhile (issue 27): the first N calls to the API raise (a 500, a read
timeout), and the work still gets done, once.

- A service's tasks gated for a capacity provider are placed by the service's reconcile,
  which the work queue retries (a gated pod sends no further event: a placement that failed
  in a pool that only logged it left the task Pending for good).
- A workload deleted by hand only queues its service; the reconcile asks whether the service
  is still there before making it again, retried like the rest of the reconcile.
- The informers' other side work (a standalone task's reconcile, the tasks waiting for a task
  definition or a cluster) runs in a work queue of its own, retried per key.
"""

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import kopf
import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import LABEL_CAPACITY_PROVIDER, LABEL_SERVICE, LABEL_TASK
from ecs_facade.controllers import informers, task
from ecs_facade.controllers.common import HandlerContext
from ecs_facade.controllers.indexes import Indexes, Snapshot
from ecs_facade.controllers.service import reconciler, triggers
from ecs_facade.controllers.service.plan import Plan
from ecs_facade.controllers.state import OperatorState
from ecs_facade.controllers.workqueue import WorkQueue
from ecs_facade.kube import client as kube
from ecs_facade.translate.capacity import next_provider, with_capacity_gate

LOGGER = logging.getLogger(__name__)
STRATEGY = [{"capacityProvider": "on-demand", "base": 1, "weight": 1}, {"capacityProvider": "spot", "weight": 1}]


def failing(times: int, error: Callable[[], Exception], answer: Any = None) -> Any:
    """A stand-in for an API call: the first ``times`` calls raise ``error()``, the others
    record their arguments and return ``answer``."""

    class Call:
        def __init__(self) -> None:
            self.attempts = 0
            self.done: list[tuple[Any, ...]] = []
            self.lock = threading.Lock()

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.attempts += 1
                if self.attempts <= times:
                    raise error()
                self.done.append(args)
            return answer

    return Call()


def server_error() -> Exception:
    return ApiException(status=500, reason="Internal Server Error")


def read_timeout() -> Exception:
    return urllib3.exceptions.ReadTimeoutError(None, "/api/v1", "Read timed out.")  # type: ignore[arg-type]


def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def drive(queue: WorkQueue, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Work the queue in this thread (as one worker would) until ``done``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the work was not done"
        if not queue.run_one(block=False):
            time.sleep(0.005)


def service_queue(state: OperatorState, indexes: Indexes) -> WorkQueue:
    """The service work queue as service/workers.py makes it, with a short backoff."""

    def work(key: Hashable, apply: bool, _context: Any) -> None:
        namespace, name = cast(tuple[str, str], key)
        reconciler.reconcile(state, namespace, name, indexes, LOGGER, apply=apply)

    return WorkQueue("test", work, workers=1, batch_seconds=0.0, backoff_first=0.01, backoff_max=0.05)


def gated_service(indexes: Indexes, *pods: str) -> None:
    indexes.objects["ECSCluster"].put(
        {"metadata": {"name": "default", "uid": "c"}, "spec": {"capacityProviders": ["on-demand", "spot"]}}
    )
    indexes.objects["ECSService"].put(
        {
            "metadata": {"name": "web", "namespace": "ns", "uid": "s", "generation": 1},
            "spec": {"taskDefinition": "web", "desiredCount": len(pods), "capacityProviderStrategy": STRATEGY},
        }
    )
    for name in pods:
        spec = with_capacity_gate({"containers": [{"name": "app", "image": "app:1"}]})
        indexes.objects["Pod"].put(
            {
                "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "labels": {LABEL_SERVICE: "web"}},
                "spec": spec,
                "status": {"phase": "Pending"},
            }
        )


@pytest.fixture
def rest_of_reconcile(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The plan, apply and status of the reconcile, recorded (they are tested
    elsewhere): the gates' retries are this file's."""
    ran: list[str] = []

    def rest(state: OperatorState, service: Snapshot, *_: Any) -> bool:
        ran.append(service.name)
        return False

    monkeypatch.setattr(reconciler, "_reconcile", rest)
    return ran


@pytest.mark.parametrize("error", [server_error, read_timeout])
def test_a_gate_lift_that_fails_is_retried_until_every_gated_task_is_placed(
    state: OperatorState,
    rest_of_reconcile: list[str],
    monkeypatch: pytest.MonkeyPatch,
    error: Callable[[], Exception],
) -> None:
    indexes = Indexes.create()
    gated_service(indexes, "web-1", "web-2")
    patch_pod = failing(2, error)
    monkeypatch.setattr(kube, "patch_pod", patch_pod)
    queue = service_queue(state, indexes)
    # a gated pod's event queues its service (triggers.tasks_changed): nothing else ever will
    queue.add(("ns", "web"), urgent=True, apply=False, context=None)
    drive(queue, lambda: len(patch_pod.done) == 2)
    placed = {args[1]: args[2] for args in patch_pod.done}
    assert sorted(placed) == ["web-1", "web-2"] and patch_pod.attempts == 4
    for patch in placed.values():
        # one patch: the provider, the affinity narrowed to it, the gate lifted
        assert patch["spec"]["schedulingGates"] is None
        provider = patch["metadata"]["labels"][LABEL_CAPACITY_PROVIDER]
        terms = patch["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert any(provider in str(term) for term in terms["nodeSelectorTerms"])
    # in turn, each counting the ones before it (the base first): each task placed once
    first = next_provider(STRATEGY, {})
    expected = {"web-1": first, "web-2": next_provider(STRATEGY, {first: 1})}
    assert {name: p["metadata"]["labels"][LABEL_CAPACITY_PROVIDER] for name, p in placed.items()} == expected
    assert dict(state.services.assigned) == {
        ("ns", name): p["metadata"]["labels"][LABEL_CAPACITY_PROVIDER] for name, p in placed.items()
    }
    # the rest of each attempt ran although the placement failed: a pod that cannot be
    # patched holds back no status
    assert rest_of_reconcile == ["web"] * 3
    assert queue.failures(("ns", "web")) == 0 and queue.depth() == 0


def test_a_task_placed_already_is_not_placed_again_while_the_index_still_shows_it_gated(
    state: OperatorState, rest_of_reconcile: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    indexes = Indexes.create()
    gated_service(indexes, "web-1")
    patch_pod = failing(0, server_error)
    monkeypatch.setattr(kube, "patch_pod", patch_pod)
    reconciler.reconcile(state, "ns", "web", indexes, LOGGER)
    reconciler.reconcile(state, "ns", "web", indexes, LOGGER)  # the pod's new event has not come yet
    assert len(patch_pod.done) == 1


def test_a_task_whose_gate_is_lifted_leaves_the_gated_index(state: OperatorState) -> None:
    indexes = Indexes.create()
    gated_service(indexes, "web-1")
    assert [p["metadata"]["name"] for p in indexes.gated_pods[("ns", "web")]] == ["web-1"]
    indexes.objects["Pod"].put(
        {
            "metadata": {"name": "web-1", "namespace": "ns", "labels": {LABEL_SERVICE: "web"}},
            "spec": {"schedulingGates": [{"name": "other"}]},
        }
    )
    assert ("ns", "web") not in indexes.gated_pods


# --- a workload deleted by hand


def plan() -> Plan:
    workload = SimpleNamespace(manifest={"spec": {"replicas": 1}})
    return Plan(workload=workload, extra=[], revision=None, arn="", desired=1, breaker={})  # type: ignore[arg-type]


@pytest.fixture
def applied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reconcile with a plan to apply and its apply recorded (plan and status are
    tested elsewhere)."""
    made: list[str] = []
    monkeypatch.setattr(reconciler, "make_plan", lambda *_, **__: plan())
    monkeypatch.setattr(reconciler, "unchanged", lambda *_: False)
    monkeypatch.setattr(reconciler, "report_status", lambda *_: False)

    def apply_plan(state: OperatorState, service: Snapshot, *_: Any) -> tuple[Any, Any, bool]:
        made.append(service.name)
        return plan(), {"metadata": {}}, False

    monkeypatch.setattr(reconciler, "_apply_plan", apply_plan)
    return made


def running_service(indexes: Indexes) -> None:
    """A service that had its Deployment (it has a status); the Deployment is gone."""
    indexes.objects["ECSService"].put(
        {
            "metadata": {"name": "web", "namespace": "ns", "uid": "s", "generation": 1},
            "spec": {"taskDefinition": "web", "desiredCount": 1},
            "status": {"runningCount": 1, "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY"}]},
        }
    )


def test_a_deleted_workload_only_queues_its_service_for_an_urgent_apply(
    state: OperatorState, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexes = Indexes.create()
    running_service(indexes)
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(triggers, "enqueue", lambda *a, **k: queued.append((a[1], a[2], k["urgent"], k["apply"])))
    monkeypatch.setattr(kube, "get", failing(99, server_error))  # no GET here: it would fail
    state.services.applied[("ns", "web", "s")] = ("digest", 1, None)
    body = {"kind": "Deployment", "metadata": {"name": "web", "ownerReferences": [{"uid": "s"}]}}
    triggers.workload_event(state, body, "ns", "web", indexes, LOGGER, deleted=True)
    assert queued == [("ns", "web", True, True)]
    assert ("ns", "web", "s") not in state.services.applied  # applied again, although the spec is as it was


@pytest.mark.parametrize("error", [server_error, read_timeout])
def test_a_workload_deleted_by_hand_is_made_again_after_the_services_check_failed(
    state: OperatorState, applied: list[str], monkeypatch: pytest.MonkeyPatch, error: Callable[[], Exception]
) -> None:
    indexes = Indexes.create()
    running_service(indexes)
    get = failing(2, error, answer={"metadata": {"name": "web", "uid": "s"}})
    monkeypatch.setattr(kube, "get", get)
    queue = service_queue(state, indexes)
    queue.add(("ns", "web"), urgent=True, apply=True, context=None)
    drive(queue, lambda: applied == ["web"])
    assert get.attempts == 3 and queue.failures(("ns", "web")) == 0


@pytest.mark.parametrize(
    "current",
    [None, {"metadata": {"uid": "s", "deletionTimestamp": "2026-12-01T10:00:00Z"}}, {"metadata": {"uid": "other"}}],
    ids=["gone", "being-deleted", "another-with-its-name"],
)
def test_the_workload_of_a_service_that_goes_is_not_made_again(
    state: OperatorState, applied: list[str], monkeypatch: pytest.MonkeyPatch, current: dict[str, Any] | None
) -> None:
    """The garbage collector removed it (the index shows the service's deletion later)."""
    indexes = Indexes.create()
    running_service(indexes)
    monkeypatch.setattr(kube, "get", lambda *_: current)
    assert reconciler.reconcile(state, "ns", "web", indexes, LOGGER) is False
    assert applied == []


@pytest.mark.parametrize("status", [{}, {"runningCount": 0, "deployments": []}], ids=["none", "no-deployment-yet"])
def test_a_new_services_workload_is_made_without_asking(
    state: OperatorState, applied: list[str], monkeypatch: pytest.MonkeyPatch, status: dict[str, Any]
) -> None:
    """A service that never had a workload (its first status may say why it waited, e.g. for
    its task definition) is not asked about: the check costs a GET."""
    indexes = Indexes.create()
    indexes.objects["ECSService"].put(
        {
            "metadata": {"name": "web", "namespace": "ns", "uid": "s"},
            "spec": {"taskDefinition": "web"},
            "status": status,
        }
    )
    monkeypatch.setattr(kube, "get", failing(99, server_error))
    reconciler.reconcile(state, "ns", "web", indexes, LOGGER)
    assert applied == ["web"]


# --- the informers' other side work


@pytest.fixture
def backoff() -> tuple[float, float]:
    return (0.01, 0.05)


@pytest.fixture
def watching(
    state: OperatorState, monkeypatch: pytest.MonkeyPatch, backoff: tuple[float, float]
) -> Iterator[informers.Watching]:
    monkeypatch.setattr(informers, "SIDE_WORK_BACKOFF", backoff)
    made = informers.Watching(state, Indexes.create())
    made.side_work.start()
    yield made
    made.side_work.stop()


def test_a_standalone_tasks_reconcile_that_fails_is_retried_until_it_succeeds(
    state: OperatorState, watching: informers.Watching, monkeypatch: pytest.MonkeyPatch
) -> None:
    reconcile = failing(3, read_timeout)
    monkeypatch.setattr(task, "reconcile", reconcile)
    context = HandlerContext()
    events = informers.Events(
        informers.PODS, state, watching.indexes, kopf.OperatorSettings(), watching.submit, (), context
    )
    pod = {"metadata": {"name": "job", "namespace": "ns", "resourceVersion": "1", "labels": {LABEL_TASK: "job"}}}
    events.event("ADDED", pod)
    until(lambda: len(reconcile.done) == 1)
    assert reconcile.attempts == 4 and reconcile.done[0][1:3] == ("ns", "job")


@pytest.mark.parametrize("backoff", [(0.3, 0.3)])  # long enough for the test to ask again meanwhile
@pytest.mark.parametrize("error", [server_error, read_timeout])
def test_side_work_asked_again_while_it_waits_for_its_retry_runs_once_and_nothing_is_lost(
    state: OperatorState, watching: informers.Watching, error: Callable[[], Exception]
) -> None:
    first = failing(2, error)
    other = failing(0, error)
    watching.submit(first, state, "ns", "job", watching.indexes, LOGGER)
    watching.submit(other, state, "ns", "another", watching.indexes, LOGGER)
    until(lambda: first.attempts >= 1)
    watching.submit(first, state, "ns", "job", watching.indexes, LOGGER)  # a new event meanwhile
    until(lambda: len(first.done) >= 1 and len(other.done) == 1)
    time.sleep(0.5)  # any run still owed has come by now
    assert first.attempts == 3 and len(first.done) == 1, (first.attempts, first.done)
    assert other.attempts == 1  # another key is not held back by one that fails
    assert watching.side_work.depth() == 0


def test_side_work_keys_are_the_function_and_the_names_it_is_given(state: OperatorState) -> None:
    indexes = Indexes.create()
    key = informers.side_work_key(task.reconcile, (state, "ns", "job", indexes, LOGGER))
    assert key == ("ecs_facade.controllers.task.reconcile", "ns", "job")
    spec = {"clusterName": "prod"}
    assert informers.side_work_key(task.cluster_event, (state, "c", spec, indexes, LOGGER)) == (
        "ecs_facade.controllers.task.cluster_event",
        "c",
    )


def test_a_retry_is_not_held_back_by_a_later_refresh_asked_for_while_the_failing_run_ran() -> None:
    """A reconcile that fails after it asked for a refresh later (a paced status write, a
    budget's wait) is retried after its backoff, not at that later time."""
    runs: list[float] = []

    def work(key: Hashable, _apply: bool, _context: Any) -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            queue.add(key, urgent=False, apply=False, context=None, delay=30.0)  # a paced refresh
            raise server_error()

    queue = WorkQueue("test", work, workers=1, batch_seconds=0.0, backoff_first=0.05, backoff_max=0.05)
    queue.add("web", urgent=True, apply=True, context=None)
    drive(queue, lambda: len(runs) == 2, timeout=5.0)
    assert runs[1] - runs[0] < 1.0
