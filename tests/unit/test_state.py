"""The operator's state (controllers/state.py): one object, made at start-up, the same in
every handler's memo, and what it keeps of an object goes with the object."""

import copy
from collections.abc import Callable
from typing import Any, cast

import kopf

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
    state.locks.lock_for(KIND_SERVICE, *key)
    triggers._forget(state, key, uid)
    assert not services.written and not services.written_at and not services.applied and not services.status_due
    assert not services.unhealthy_noted and not services.exits_noted and not services.surging
    assert (*key, uid) not in services.progress_turns and not services.budget_in_place((*key, uid))
    assert (KIND_SERVICE, *key) not in state.locks


def test_a_deleted_task_leaves_no_memory_and_no_lock(state: OperatorState) -> None:
    state.tasks.written[("ns", "job", "u1")] = {"lastStatus": "STOPPED"}
    state.tasks.written[("ns", "other", "u2")] = {"lastStatus": "RUNNING"}
    state.locks.lock_for(KIND_TASK, "ns", "job")
    task_deleted(name="job", namespace="ns", uid="u1", memo=kopf.Memo(state=state))
    assert list(state.tasks.written) == [("ns", "other", "u2")]
    assert (KIND_TASK, "ns", "job") not in state.locks
