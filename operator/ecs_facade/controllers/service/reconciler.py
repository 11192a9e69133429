"""One service's reconcile: its gated tasks placed, then plan, apply (the disruption budget
with the workload), status, under the service's lock."""

import time
from collections.abc import Mapping
from typing import Any

from ecs_facade.api import API_VERSION, KIND_SERVICE, SERVICES
from ecs_facade.config import Config
from ecs_facade.controllers.common import Logger
from ecs_facade.controllers.indexes import Indexes, Snapshot, one
from ecs_facade.controllers.service.apply import AutoscalerRefused, apply_workload, unchanged
from ecs_facade.controllers.service.capacity import lift_gates
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
    ReplicaSet and the pending tasks are about to change it anyway.

    The tasks gated for a capacity provider are placed first, whatever else fails; if their
    placement failed, it is raised after the rest, and the work queue retries the reconcile."""
    with state.locks.lock_for(KIND_SERVICE, namespace, name):
        service: Snapshot | None = one(indexes.services, (namespace, name))
        if service is None:
            return False  # deleted; the garbage collector removes its children
        try:
            try:
                lift_gates(state, service, indexes, logger)
                failed: Exception | None = None
            except Exception as error:  # the rest goes on: a pod that cannot be patched holds nothing else
                failed = error
            created = _reconcile(state, _as_written(state, service), indexes, logger, apply)
        finally:
            _forget_if_gone(state, service, indexes)
        if failed is not None:
            raise failed
        return created


def _forget_if_gone(state: OperatorState, service: Snapshot, indexes: Indexes) -> None:
    """The service went while this reconcile ran: what it remembered meanwhile (a status
    written, a workload applied, a paced write's due time) goes too. The informer takes a
    deleted service out of the index before it forgets the service's memories
    (triggers.service_changed): a reconcile that still finds it there remembered before
    that forgetting; one that does not, may have remembered after it."""
    current: Snapshot | None = one(indexes.services, (service.namespace, service.name))
    if current is None or current.uid != service.uid:
        state.services.forget((service.namespace, service.name), service.uid, by_name=current is None)


def _reconcile(state: OperatorState, service: Snapshot, indexes: Indexes, logger: Logger, apply: bool) -> bool:
    """Plan, apply, status and budget of a service that is there (``reconcile``)."""
    namespace, name = service.namespace, service.name
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
            if workload is None and service.status.get("deployments") and not _still_wanted(service):
                return False
            plan, workload, created = _apply_plan(state, service, plan, plural, workload, hpa is not None)
            if created:
                return True
        if report_status(state, service, indexes, config, plan, workload, logger):
            _apply_again(state, service, indexes, config, plural, workload, hpa is not None)
    except kube.NamespaceTerminating:
        pass
    return False


def _still_wanted(service: Snapshot) -> bool:
    """Before the workload of a service that had one (its status lists ECS deployments) is
    made again: the service is still there and not being deleted. The garbage collector removes a deleted
    service's workload, and the index may show that before it shows the service gone, or
    its deletion (foreground) begun; a workload deleted by hand is put back. A GET, in the
    worker: a failure is retried with the reconcile."""
    current = kube.get(API_VERSION, SERVICES, service.namespace, service.name)
    if current is None:
        return False
    meta = current.get("metadata") or {}
    return not meta.get("deletionTimestamp") and meta.get("uid") == service.uid


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
