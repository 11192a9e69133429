"""The status: what the operator knows of a service and its tasks (a ``Look``), judged by
the pure ECS rules of views/service_status.py, then written (pacing.py); a settle time or
a throttle's end queues the next look."""

import datetime
import logging
from collections.abc import Mapping
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import (
    LABEL_FAMILY,
)
from ecs_facade.config import Config
from ecs_facade.controllers.common import (
    Logger,
    now,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Snapshot,
    cluster_ref_name,
    one,
)
from ecs_facade.controllers.service.pacing import write_status
from ecs_facade.controllers.service.plan import Plan
from ecs_facade.controllers.service.triggers import enqueue
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from ecs_facade.translate.task import LABEL_REVISION
from ecs_facade.views.deployments import TaskState
from ecs_facade.views.refusals import daemon_set_refusal, lacks_pods
from ecs_facade.views.service import Readiness
from ecs_facade.views.service_status import (
    Look,
    Planned,
    service_status,
)
from ecs_facade.views.service_tasks import Naming

# seconds: a DaemonSet that lacks pods unexplained is looked at again after the first, then
# twice as long each time, up to the most (its status changing queues a look at once anyway)
DAEMON_LOOK = (5.0, 120.0)
module_logger = logging.getLogger(__name__)


def report_status(
    state: OperatorState,
    service: Snapshot,
    indexes: Indexes,
    config: Config,
    plan: Plan | Readiness,
    workload: Mapping[str, Any] | None,
    logger: Logger,
) -> bool:
    """Counts, ECS deployments, the circuit breaker, the throttle, events and conditions
    (views/service_status.py); one status write.

    Returns True when the workload must be applied again: the circuit breaker just rolled
    back, or the throttle just started holding launches.
    """
    look = _look(state, service, indexes, config, plan, workload, logger)
    report = service_status(look)
    _look_again_at_daemon_set(state, service, indexes, workload, look.daemon_refusal, logger)
    if report.settles_at is not None and state.queue is not None:
        # when enough of its tasks will have run healthy for the settle time: look again
        wait = _seconds_until(report.settles_at) + 0.5
        enqueue(state, service.namespace, service.name, indexes, logger, urgent=True, apply=False, delay=wait)
    if report.resume_at is not None and state.queue is not None:
        # launches resume when the hold is over: a reconcile then gives the workload its count back
        delay = _until({"nextAttemptAt": report.resume_at})
        enqueue(state, service.namespace, service.name, indexes, logger, urgent=True, apply=True, delay=delay)
    write_status(state, service, indexes, config, report, look.remembered, look.now, logger)
    return report.reapply


def _look_again_at_daemon_set(
    state: OperatorState,
    service: Snapshot,
    indexes: Indexes,
    workload: Mapping[str, Any] | None,
    refusal: str | None,
    logger: Logger,
) -> None:
    """A DaemonSet's refused pods are told by Events only, recorded a moment after its status
    (which is written again only when it changes): while it lacks pods unexplained, look again,
    less and less often (a node joining makes every DAEMON service lack a pod for a while)."""
    key = (service.namespace, service.name, service.uid)
    if not lacks_pods(workload) or refusal is not None or state.queue is None:
        state.services.daemon_looks.pop(key, None)
        return
    looks = state.services.daemon_looks.get(key, 0)
    state.services.daemon_looks[key] = looks + 1
    delay = min(DAEMON_LOOK[0] * 2**looks, DAEMON_LOOK[1])
    enqueue(state, service.namespace, service.name, indexes, logger, urgent=False, apply=False, delay=delay)


def _look(
    state: OperatorState,
    service: Snapshot,
    indexes: Indexes,
    config: Config,
    plan: Plan | Readiness,
    workload: Mapping[str, Any] | None,
    logger: Logger,
) -> Look:
    """What the status view needs: the service's objects from the indexes, and what the
    operator remembers of its tasks (the pod events' notes are taken: told once); a DaemonSet
    that lacks pods, the refusal in its Events (an API call, only then)."""
    key = (service.namespace, service.name)
    tasks = list(indexes.tasks.get(key, []))
    # after the tasks: an exit noted before the task state that shows its restart is here
    with state.services.exits_lock:
        exits_noted = state.services.exits_noted.pop(key, {})
    noted = set(state.services.unhealthy_noted.get(key) or ())
    state.services.unhealthy_noted.get(key, set()).difference_update(noted)
    planned = _planned(plan)
    return Look(
        spec=service.spec,
        status=service.status,
        generation=service.generation,
        plan=planned,
        workload=workload,
        tasks=tasks,
        replica_sets=list(indexes.replica_sets.get(key, [])),
        naming=Naming(
            str(service.spec.get("serviceName") or service.name),
            lambda ident: config.task_arn(cluster_ref_name(service.spec.get("cluster")), ident),
            _arn_of(config),
        ),
        now=now(),
        settle_seconds=config.steady_state_seconds,
        retention_seconds=config.stopped_task_retention_seconds,
        hpa=one(indexes.autoscalers, key) if isinstance(planned, Planned) and planned.scaling is not None else None,
        remembered=state.services.tasks_seen.get((*key, service.uid)),
        noted_unhealthy=noted,
        noted_exits=exits_noted,
        daemon_refusal=_daemon_refusal(workload, tasks),
    )


def _daemon_refusal(workload: Mapping[str, Any] | None, tasks: list[TaskState]) -> str | None:
    if workload is None or not lacks_pods(workload):  # only a DaemonSet's status has those counts
        return None
    meta = workload.get("metadata") or {}
    try:
        events = kube.failed_creates(str(meta.get("namespace")), str(meta.get("uid")))
    except (ApiException, urllib3.exceptions.HTTPError) as error:  # looked at again (report_status)
        # not the service's logger: its warnings are Events, one per look
        module_logger.warning(
            "reading the events of DaemonSet %s/%s failed: %s",
            meta.get("namespace"),
            meta.get("name"),
            getattr(error, "reason", None) or error,
        )
        return None
    created = [str(t.picture.get("createdAt")) for t in tasks if t.picture and t.picture.get("createdAt")]
    return daemon_set_refusal(workload, events, since=max(created) if created else None)


def _planned(plan: Plan | Readiness) -> Planned | Readiness:
    """What the status view needs of the plan."""
    if not isinstance(plan, Plan):
        return plan
    rolling = plan.workload.rolling
    return Planned(
        desired=plan.desired,
        arn=plan.arn,
        breaker=plan.breaker,
        held=plan.hold.deployment if plan.hold is not None else None,
        stalls=rolling is not None and rolling.stalls_in_ecs,
        scaling=plan.scaling,
    )


def _seconds_until(stamp: str) -> float:
    until = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    return max(0.0, (until - datetime.datetime.now(datetime.UTC)).total_seconds())


def _until(throttle: Mapping[str, Any]) -> float:
    """Seconds until the throttle's next attempt, and one more: the times have whole seconds,
    and the hold is over only once the clock is past its end."""
    until = datetime.datetime.strptime(str(throttle["nextAttemptAt"]), "%Y-%m-%dT%H:%M:%SZ")
    left = until.replace(tzinfo=datetime.UTC) - datetime.datetime.now(datetime.UTC)
    return max(0.0, left.total_seconds()) + 1.0


def _arn_of(config: Config) -> Any:
    def arn(labels: Mapping[str, str]) -> str | None:
        family, revision = labels.get(LABEL_FAMILY), labels.get(LABEL_REVISION)
        return config.task_definition_arn(family, int(revision)) if family and revision else None

    return arn
