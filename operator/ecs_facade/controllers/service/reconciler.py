"""One service's reconcile: plan, apply (the disruption budget with the workload), status,
under the service's lock."""

import time
from collections.abc import Mapping
from typing import Any

from ecs_facade.api import KIND_SERVICE
from ecs_facade.config import Config
from ecs_facade.controllers.common import Logger
from ecs_facade.controllers.indexes import Indexes, Snapshot, one
from ecs_facade.controllers.service.apply import AutoscalerRefused, apply_workload, unchanged
from ecs_facade.controllers.service.plan import Plan, make_plan
from ecs_facade.controllers.service.report import report_status
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from ecs_facade.metrics import instrumented
from ecs_facade.views.service import Readiness


@instrumented("ecsservice")
def reconcile(
    state: OperatorState, namespace: str, name: str, indexes: Indexes, logger: Logger, apply: bool = True
) -> bool:
    """Bring one service's workload and status in line with its spec (``apply=False``: status only).

    True: the workload was just created and the status is left to a refresh a moment later
    (the caller queues it): written now, it would say nothing but "no tasks yet", and the
    ReplicaSet and the pending tasks are about to change it anyway."""
    with state.locks.lock_for(KIND_SERVICE, namespace, name):
        service: Snapshot | None = one(indexes.services, (namespace, name))
        if service is None:
            return False  # deleted; the garbage collector removes its children
        service = _as_written(state, service)
        config = state.config
        daemon = service.spec.get("schedulingStrategy") == "DAEMON"
        plural = "daemonsets" if daemon else "deployments"
        workload = one(indexes.daemon_sets if daemon else indexes.deployments, (namespace, name))
        hpa = one(indexes.autoscalers, (namespace, name))
        plan = make_plan(state, service, indexes, config, workload, pin=None)
        if isinstance(plan, Plan) and int(plan.workload.manifest["spec"].get("replicas") or 0) > plan.desired:
            state.services.surging.add((namespace, name))
        else:
            state.services.surging.discard((namespace, name))
        try:
            if isinstance(plan, Plan) and apply and not unchanged(state, service, plan, workload, hpa):
                plan, workload, created = _apply_plan(state, service, plan, plural, workload, hpa is not None)
                if created:
                    return True
            if report_status(state, service, indexes, config, plan, workload, logger):
                _apply_again(state, service, indexes, config, plural, workload, hpa is not None)
        except kube.NamespaceTerminating:
            pass
        return False


def _as_written(state: OperatorState, service: Snapshot) -> Snapshot:
    """The service with the status this operator wrote last (the watch may not show it yet)."""
    written = state.services.written.get((service.namespace, service.name, service.uid))
    if written is None:
        return service
    return Snapshot(**{**service.__dict__, "status": {**service.status, **written}})


def _apply_plan(
    state: OperatorState,
    service: Snapshot,
    plan: Plan,
    plural: str,
    workload: Mapping[str, Any] | None,
    autoscaler_exists: bool,
) -> tuple[Plan | Readiness, Mapping[str, Any] | None, bool]:
    """Apply the plan: the plan (or why its HPA was refused), the workload, and True when the
    workload was just created and has no status written yet (its status waits for a refresh)."""
    created = workload is None
    try:
        workload = apply_workload(state, service, plan, plural, workload, autoscaler_exists)
    except AutoscalerRefused as refused:
        return (
            Readiness(False, "InvalidSpec", f"autoScaling: the HorizontalPodAutoscaler was refused: {refused}"),
            workload,
            False,
        )
    key = (service.namespace, service.name, service.uid)
    if created:
        state.services.written_at.setdefault(key, time.monotonic())
    return plan, workload, created and key not in state.services.written


def _apply_again(
    state: OperatorState,
    service: Snapshot,
    indexes: Indexes,
    config: Config,
    plural: str,
    workload: Mapping[str, Any] | None,
    autoscaler_exists: bool,
) -> None:
    """The circuit breaker rolled back, or the throttle holds launches: apply that now."""
    service = _as_written(state, service)
    plan = make_plan(state, service, indexes, config, workload, pin=None)
    if isinstance(plan, Plan):
        apply_workload(state, service, plan, plural, workload, autoscaler_exists)
