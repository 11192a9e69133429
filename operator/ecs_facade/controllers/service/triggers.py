"""The triggers: every watch event only decides whether and how soon a service is
reconciled, and queues its key (``enqueue``); a deletion forgets what was kept of it."""

import contextvars
import datetime
import time
from collections.abc import Callable, Mapping
from typing import Any

from ecs_facade.api import (
    KIND_SERVICE,
    LABEL_INSTANCE_STATUS,
    LABEL_SERVICE,
)
from ecs_facade.controllers.common import (
    Logger,
    now,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Snapshot,
    one,
    values_at,
)
from ecs_facade.controllers.state import OperatorState
from ecs_facade.metrics import WATCH_LAG
from ecs_facade.model.taskdefinition import content_hash
from ecs_facade.translate.capacity import is_capacity_gated
from ecs_facade.views.container_instance import draining
from ecs_facade.views.deployments import unlisted_deployment
from ecs_facade.views.service import settled
from ecs_facade.views.service_tasks import ending, failing, picture, unhealthy_incarnation
from ecs_facade.views.task import on_its_way, task_failures


def enqueue(
    state: OperatorState,
    namespace: str,
    name: str,
    indexes: Indexes,
    logger: Logger,
    *,
    urgent: bool,
    apply: bool,
    variables: contextvars.Context | None = None,
    delay: float | None = None,
) -> None:
    """Queue a reconcile of the service (from any handler, in the loop or in a thread), in
    a copy of the caller's context variables (``variables``: in that context instead);
    ``delay``: due that many seconds from now instead of at once or after the batch."""
    assert state.queue is not None, "the service workers start with the operator"
    context = (indexes, logger, contextvars.copy_context() if variables is None else variables)
    state.queue.add((namespace, name), urgent=urgent, apply=apply, context=context, delay=delay)


def service_changed(
    state: OperatorState,
    kind: str,
    meta: Mapping[str, Any],
    indexes: Indexes,
    queueing: Callable[[], tuple[Logger, contextvars.Context | None]],
) -> None:
    """The service appeared (listed or created), its spec or annotations changed, or it went
    (from controllers/informers.py; ``meta``: its metadata; ``queueing``: the logger and the
    context to reconcile with, asked for only when a reconcile is queued)."""
    key = (str(meta.get("namespace") or ""), str(meta["name"]))
    if kind == "DELETED":
        state.services.seen.pop(key, None)
        _forget(state, key, str(meta.get("uid") or ""))
        return
    seen = (str(meta.get("uid")), int(meta.get("generation") or 0), content_hash(meta.get("annotations") or {}))
    if state.services.seen.get(key) == seen:
        return  # the echo of a status write
    if key not in state.services.seen and kind == "ADDED" and meta.get("creationTimestamp"):
        created = datetime.datetime.strptime(str(meta["creationTimestamp"]), "%Y-%m-%dT%H:%M:%SZ")
        lag = datetime.datetime.now(datetime.UTC) - created.replace(tzinfo=datetime.UTC)
        WATCH_LAG.labels(KIND_SERVICE).observe(max(0.0, lag.total_seconds()))
    state.services.seen[key] = seen
    logger, variables = queueing()
    enqueue(state, *key, indexes, logger, urgent=True, apply=True, variables=variables)


def _forget(state: OperatorState, key: tuple[str, str], uid: str) -> None:
    """A deleted service's memories (the garbage collector removes its children; its lock
    exists only while a reconcile holds it: state.Locks)."""
    state.services.forget(key, uid)


def _owned_by_service(body: Mapping[str, Any], service: Snapshot | None) -> bool:
    owners = {ref.get("uid") for ref in body.get("metadata", {}).get("ownerReferences", [])}
    return service is not None and service.uid in owners


def workload_event(
    state: OperatorState,
    body: Mapping[str, Any],
    namespace: str,
    name: str,
    indexes: Indexes,
    logger: Logger,
    *,
    deleted: bool,
    variables: contextvars.Context | None = None,
) -> None:
    """The service's workload (Deployment or DaemonSet) or HPA changed (from
    controllers/informers.py): refresh the status (status.autoScaling follows the HPA); put
    back edits and deletions made by hand (the reconcile applies only when the workload's
    generation moved away from what was applied). Queues only: whether a deleted workload
    went with its service (the garbage collector's work, which the index may show late) is
    the reconcile's to ask (``reconciler._still_wanted``), in a worker, retried if it fails."""
    service: Snapshot | None = one(indexes.services, (namespace, name))
    if not _owned_by_service(body, service):
        return
    assert service is not None
    if deleted:
        state.services.applied.pop((namespace, name, service.uid), None)  # apply again although the spec did not change
    # a rollout's end is news: its status goes at once, not with the next batch
    urgent = deleted or settled(body)
    enqueue(state, namespace, name, indexes, logger, urgent=urgent, apply=True, variables=variables)


def tasks_changed(
    state: OperatorState,
    body: Mapping[str, Any],
    namespace: str,
    name: str,
    indexes: Indexes,
    logger: Logger,
    *,
    deleted: bool = False,
    variables: contextvars.Context | None = None,
) -> None:
    """A deployment's (ReplicaSet's) or a task's (pod's) state (from controllers/informers.py)
    changed: ECS deployments, breaker and events (``variables``: the context to reconcile
    in, for callers outside kopf's handlers).

    The workload is applied again only while a drain moves the service's tasks (the number of
    replacements follows the tasks left on DRAINING instances)."""
    if deleted and body.get("kind") == "Pod":
        # a gone pod needs no memory, whether its service is still there or went before it
        state.services.assigned.pop((namespace, body["metadata"]["name"]), None)
    service: Snapshot | None = one(indexes.services, (namespace, name))
    if service is None:
        return
    exited = None
    new_deployment = False
    if body.get("kind") == "ReplicaSet" and not deleted:
        written = state.services.written.get((namespace, name, service.uid))
        new_deployment = unlisted_deployment(body, written if written is not None else service.status)
    if body.get("kind") == "Pod" and not deleted:
        if (unhealthy := unhealthy_incarnation(body, now())) is not None:
            state.services.unhealthy_noted.setdefault((namespace, name), set()).add(unhealthy)
        exited = ending(body)
        if exited:  # its exit, with the process's own exit code, until the status is written
            ident, seen = (str(body["metadata"].get("uid") or ""), task_failures(body)), picture(body)
            with state.services.exits_lock:
                state.services.exits_noted.setdefault((namespace, name), {})[ident] = seen
    node = one(indexes.nodes, str((body.get("spec") or {}).get("nodeName") or ""))
    moving = (namespace, name) in state.services.surging or (node is not None and draining(node))
    # a failing task is news for the circuit breaker and the throttle, which judge the rollout
    # as it is at that moment (a moment later its replacement may make it look complete):
    # it does not wait for the batch
    # a task gated for its capacity provider waits for the reconcile to place it (capacity.py)
    gated = not deleted and body.get("kind") == "Pod" and is_capacity_gated(body)
    urgent = moving or gated or failing(body, exited) or new_deployment
    delay = None if urgent or deleted else _counted_later(state, namespace, name, body, indexes)
    enqueue(state, namespace, name, indexes, logger, urgent=urgent, apply=moving, variables=variables, delay=delay)


def _counted_later(
    state: OperatorState, namespace: str, name: str, body: Mapping[str, Any], indexes: Indexes
) -> float | None:
    """Seconds until the status refresh already queued for the service, when the event is of
    a task on its way (views.task.on_its_way) and the service's status write waits for its
    interval or its turn: that refresh counts the task. Sooner, a reconcile could only find
    a progress write that must wait anyway (in a burst of new services, most of their pod
    events). None: the usual batch."""
    service = one(indexes.services, (namespace, name))
    due = state.services.status_due.get((namespace, name, service.uid)) if service is not None else None
    if due is None or body.get("kind") != "Pod" or not on_its_way(body):
        return None
    left = due - time.monotonic()
    return left if left > 0 else None


def instance_state_changed(
    state: OperatorState,
    name: str,
    labels: Mapping[str, str],
    indexes: Indexes,
    service_logger: Callable[[str, str], Logger],
    variables: contextvars.Context | None = None,
    deleted: bool = False,
) -> None:
    """An instance (node) became DRAINING (or ACTIVE): the services with tasks on it start
    (or stop) replacing them (from controllers/informers.py; ``service_logger``: the logger
    of a service by namespace and name). A deleted node's state is forgotten."""
    if deleted:
        state.services.instance_states.pop(name, None)
        return
    instance_state = labels.get(LABEL_INSTANCE_STATUS, "ACTIVE")
    if state.services.instance_states.get(name, "ACTIVE") == instance_state:
        return
    state.services.instance_states[name] = instance_state
    affected = {
        (pod["metadata"]["namespace"], (pod["metadata"].get("labels") or {})[LABEL_SERVICE])
        for pod in values_at(indexes.pods_by_node, name)
        if LABEL_SERVICE in (pod["metadata"].get("labels") or {})
    }
    for namespace, service in sorted(affected):
        if one(indexes.services, (namespace, service)) is not None:
            logger = service_logger(namespace, service)
            enqueue(state, namespace, service, indexes, logger, urgent=True, apply=True, variables=variables)
