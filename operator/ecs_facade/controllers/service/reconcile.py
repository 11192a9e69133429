"""One service's reconcile: plan, apply, status, budget, under the service's lock."""

import time

from ecs_facade.api import (
    KIND_SERVICE,
)
from ecs_facade.controllers.common import (
    Logger,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Snapshot,
    one,
)
from ecs_facade.controllers.service.apply import AutoscalerRefused, _apply, _unchanged
from ecs_facade.controllers.service.budget import _protect
from ecs_facade.controllers.service.plan import Plan, _plan
from ecs_facade.controllers.service.report import _report
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
        written = state.services.written.get((namespace, name, service.uid))
        if written is not None:
            service = Snapshot(**{**service.__dict__, "status": {**service.status, **written}})
        config = state.config
        daemon = service.spec.get("schedulingStrategy") == "DAEMON"
        plural = "daemonsets" if daemon else "deployments"
        workload = one(indexes.daemon_sets if daemon else indexes.deployments, (namespace, name))
        hpa = one(indexes.autoscalers, (namespace, name))
        plan = _plan(state, service, indexes, config, workload, pin=None)
        if isinstance(plan, Plan) and int(plan.workload.manifest["spec"].get("replicas") or 0) > plan.desired:
            state.services.surging.add((namespace, name))
        else:
            state.services.surging.discard((namespace, name))
        try:
            if isinstance(plan, Plan) and apply and not _unchanged(state, service, plan, workload, hpa):
                created = workload is None
                try:
                    workload = _apply(state, service, plan, plural, workload, hpa is not None)
                except AutoscalerRefused as refused:
                    plan = Readiness(
                        False, "InvalidSpec", f"autoScaling: the HorizontalPodAutoscaler was refused: {refused}"
                    )
                else:
                    if created:
                        state.budgets.created(namespace, name, service.uid)
                        state.services.written_at.setdefault((namespace, name, service.uid), time.monotonic())
                    if created and (namespace, name, service.uid) not in state.services.written:
                        return True
            if _report(state, service, indexes, config, plan, workload, logger):
                # the circuit breaker rolled back, or the throttle holds launches: apply that now
                service = Snapshot(
                    **{
                        **service.__dict__,
                        "status": {**service.status, **state.services.written[(namespace, name, service.uid)]},
                    }
                )
                plan = _plan(state, service, indexes, config, workload, pin=None)
                if isinstance(plan, Plan):
                    _apply(state, service, plan, plural, workload, hpa is not None)
            _protect(state, namespace, name, service.uid, plan, workload, indexes, config, logger)
        except kube.NamespaceTerminating:
            pass
        return False
