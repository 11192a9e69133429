"""The service's PodDisruptionBudget, when controllers/budgets.py says it is due."""

from collections.abc import Mapping
from typing import Any

from ecs_facade.config import BUDGETS_ALWAYS, Config
from ecs_facade.controllers.common import (
    Logger,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    one,
    values_at,
)
from ecs_facade.controllers.service.apply import KIND_BUDGET
from ecs_facade.controllers.service.plan import Plan
from ecs_facade.controllers.service.triggers import enqueue
from ecs_facade.controllers.state import OperatorState
from ecs_facade.views.container_instance import draining
from ecs_facade.views.service import Readiness


def protect_tasks(
    state: OperatorState,
    namespace: str,
    name: str,
    uid: str,
    plan: Plan | Readiness,
    workload: Mapping[str, Any] | None,
    indexes: Indexes,
    config: Config,
    logger: Logger,
) -> None:
    """The service's disruption budget, when budgets.py says it is due; a service with none
    to wait for (a DAEMON service, a spec that cannot run) holds no other budget back."""
    wanted = [e for e in plan.extra if e["kind"] == KIND_BUDGET] if isinstance(plan, Plan) else []
    if not wanted:
        state.budgets.not_starting(namespace, name, uid, config.disruption_budget_max_delay_seconds)
    for budget in wanted:
        state.budgets.protect(
            namespace,
            name,
            uid,
            budget,
            workload,
            lambda: _on_draining_instance(indexes, namespace, name),
            standing=config.disruption_budgets == BUDGETS_ALWAYS,
            delay=config.disruption_budget_delay_seconds,
            max_delay=config.disruption_budget_max_delay_seconds,
            later=lambda wait: _refresh_later(state, namespace, name, indexes, logger, wait),
            rate=config.disruption_budget_writes_per_second,
        )


def _refresh_later(
    state: OperatorState, namespace: str, name: str, indexes: Indexes, logger: Logger, wait: float
) -> None:
    """A reconcile of the service in ``wait`` seconds (a standing budget is due then)."""
    if state.queue is not None:
        # in the caller's context: kopf's (for the service's Events) in a worker, and on an
        # informer's thread when a deletion wakes it (controllers/informers.py runs it there)
        enqueue(state, namespace, name, indexes, logger, urgent=False, apply=False, delay=wait)


def _on_draining_instance(indexes: Indexes, namespace: str, name: str) -> bool:
    for task in values_at(indexes.tasks, (namespace, name)):
        node = one(indexes.nodes, task.node) if task.node else None
        if node is not None and draining(node) and not task.deleting:
            return True
    return False
