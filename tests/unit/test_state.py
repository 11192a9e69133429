"""The operator's state (controllers/state.py): one object, made at start-up, the same in
every handler's memo, and what it keeps of an object goes with the object."""

import copy
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import kopf
import pytest

from ecs_facade.api import KIND_SERVICE, KIND_TASK
from ecs_facade.controllers import settings, task
from ecs_facade.controllers.service import triggers
from ecs_facade.controllers.state import OperatorState, of

task_deleted = cast(Callable[..., None], task.task_deleted)  # as kopf calls it
read_settings = cast(Callable[..., None], settings.read_settings)


def test_start_up_makes_one_state_that_every_handlers_memo_shares() -> None:
    memo = kopf.Memo()
    read_settings(memo=memo)
    state = of(memo)
    assert isinstance(state, OperatorState) and state.queue is None
    assert copy.copy(memo)["state"] is state  # kopf's per-object memo is a shallow copy


def test_a_deleted_service_leaves_no_memory_and_no_lock(state: OperatorState) -> None:
    key, uid = ("ns", "web"), "u1"
    memory: dict[str, Any] = {"ns": "x"}
    services = state.services
    services.written[(*key, uid)] = memory
    services.written_at[(*key, uid)] = 1.0
    services.applied[(*key, uid)] = ("digest", 1, None)
    services.status_due[(*key, uid)] = 2.0
    services.unhealthy_noted[key] = {("pod", 0)}
    services.exits_noted[key] = {("pod", 0): {}}
    services.surging.add(key)
    services.progress_turns.wait((*key, uid), 1.0)
    services.progress_turns.wait(("ns", "other", "u2"), 1.0)  # the next turn: "other" waits
    triggers._forget(state, key, uid)
    assert not services.written and not services.written_at and not services.applied and not services.status_due
    assert not services.unhealthy_noted and not services.exits_noted and not services.surging
    assert (*key, uid) not in services.progress_turns and not services.budget_in_place((*key, uid))
    assert state.sizes()["services.progress_turns"] == 1  # "other"'s


def test_a_deleted_task_leaves_no_memory(state: OperatorState) -> None:
    state.tasks.written[("ns", "job", "u1")] = {"lastStatus": "STOPPED"}
    state.tasks.written[("ns", "other", "u2")] = {"lastStatus": "RUNNING"}
    task_deleted(name="job", namespace="ns", uid="u1", memo=kopf.Memo(state=state))
    assert list(state.tasks.written) == [("ns", "other", "u2")]


def test_an_objects_lock_exists_only_while_a_reconcile_holds_it_or_waits(state: OperatorState) -> None:
    """A reconcile that runs after its object went (a standalone task's pod deleted after its
    task) leaves no lock behind; two reconciles of one object still take turns."""
    key = (KIND_TASK, "ns", "job")
    order: list[str] = []
    first_in, second_waiting = threading.Event(), threading.Event()

    def second() -> None:
        second_waiting.set()
        with state.locks.lock_for(*key):
            order.append("second")

    with state.locks.lock_for(*key):
        assert key in state.locks and len(state.locks) == 1
        first_in.set()
        waiter = threading.Thread(target=second)
        waiter.start()
        second_waiting.wait(5)
        time.sleep(0.05)  # the second reconcile waits for this one's lock, not a new one
        order.append("first")
        assert key in state.locks
    waiter.join(5)
    assert order == ["first", "second"]
    assert key not in state.locks and len(state.locks) == 0 and state.sizes()["locks"] == 0
    with pytest.raises(RuntimeError), state.locks.lock_for(KIND_SERVICE, "ns", "web"):
        raise RuntimeError("a reconcile failed")
    assert len(state.locks) == 0  # released and gone all the same
