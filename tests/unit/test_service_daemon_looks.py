"""A DaemonSet that lacks pods with no refusal to say yet is looked at again, less and less
often (controllers/service/report.py): its refusal's Event comes a moment after its status,
and a node joining makes every DAEMON service lack a pod for a while."""

from typing import Any

from ecs_facade.controllers.indexes import Indexes, Snapshot
from ecs_facade.controllers.service import report
from ecs_facade.controllers.state import OperatorState

SERVICE = Snapshot(name="agent", namespace="ops", uid="svc-uid", generation=1, spec={}, status={}, annotations={})
KEY = ("ops", "agent", "svc-uid")


class Queue:
    def __init__(self) -> None:
        self.delays: list[float | None] = []

    def add(self, key: Any, *, urgent: bool, apply: bool, context: Any, delay: float | None = None) -> None:
        assert key == ("ops", "agent") and not urgent and not apply
        self.delays.append(delay)


def daemon_set(desired: int, current: int) -> dict[str, Any]:
    return {"status": {"desiredNumberScheduled": desired, "currentNumberScheduled": current}}


def look(state: OperatorState, workload: dict[str, Any] | None, refusal: str | None = None) -> None:
    report._look_again_at_daemon_set(state, SERVICE, Indexes.create(), workload, refusal, None)  # type: ignore[arg-type]


def test_looks_again_less_and_less_often_while_pods_are_missing_unexplained(state: OperatorState) -> None:
    queue = Queue()
    state.queue = queue  # type: ignore[assignment]
    for _ in range(7):
        look(state, daemon_set(3, 1))
    assert queue.delays == [5.0, 10.0, 20.0, 40.0, 80.0, 120.0, 120.0]


def test_a_refusal_said_or_all_pods_there_end_the_looks(state: OperatorState) -> None:
    queue = Queue()
    state.queue = queue  # type: ignore[assignment]
    look(state, daemon_set(3, 1))
    look(state, daemon_set(3, 1), refusal="pods are forbidden")
    assert KEY not in state.services.daemon_looks
    look(state, daemon_set(3, 1))
    look(state, daemon_set(3, 3))
    look(state, {"status": {"replicas": 2}})  # a Deployment
    assert queue.delays == [5.0, 5.0] and KEY not in state.services.daemon_looks


def test_a_deleted_service_forgets_its_looks(state: OperatorState) -> None:
    state.queue = Queue()  # type: ignore[assignment]
    look(state, daemon_set(3, 1))
    state.services.forget(("ops", "agent"), "svc-uid")
    assert KEY not in state.services.daemon_looks
