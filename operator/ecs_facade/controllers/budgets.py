"""The PodDisruptionBudget of a REPLICA service: the floor minimumHealthyPercent sets for
draining (the operator's evictions from DRAINING instances, and `kubectl drain`).

A new service's budget is applied once it has tasks to protect: all of its desired tasks
running for ECS_FACADE_DISRUPTION_BUDGET_DELAY_SECONDS (the standing budget), or one of them
on a DRAINING instance (at once). With ECS_FACADE_DISRUPTION_BUDGETS=draining only the
latter: ECS's own draining keeps the floor, `kubectl drain` and autoscalers do not wait,
and the disruption controller has no budget to look at for the other services.

The standing budget waits because budgets are protection, not part of running the tasks,
and each one makes the disruption controller's work on every pod event of the namespace
larger: a burst of new services converges while their budgets wait, instead of every
service settled early in the burst slowing down the ones still starting.

From the moment a budget exists, the disruption controller recomputes it and writes its
status on every change of the service's pods, which during a first rollout is every pod
event, with nothing yet to protect; and it looks for the budgets of every pod event in the
namespace among all of the namespace's budgets. A budget once applied follows the service's
spec at once.

What was applied is remembered per service (the budget's digest, also written on the budget
as an annotation), so that a steady service costs no request, and a restarted operator reads
each budget once (a GET, no write) instead of applying it again. A service whose workload
this process created gets its budget without that GET.
"""

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ecs_facade.api import GROUP
from ecs_facade.kube import client as kube
from ecs_facade.model.taskdefinition import content_hash

ANNOTATION_APPLIED = f"{GROUP}/applied-digest"
API_VERSION = "policy/v1"
PLURAL = "poddisruptionbudgets"

_lock = threading.Lock()
_applied: dict[tuple[str, str, str], str] = {}  # (namespace, service, service uid) -> digest
_new: set[tuple[str, str, str]] = set()  # services whose workload this process created
# when all desired tasks of a service whose standing budget waits were first seen running
_protectable_since: dict[tuple[str, str, str], float] = {}
# looked for (a GET, after a restart) and not there: not looked for again
_absent: set[tuple[str, str, str]] = set()


def has_tasks_to_protect(workload: Mapping[str, Any] | None, on_draining_instance: bool, standing: bool = True) -> bool:
    """A task must leave a DRAINING instance (its budget must exist before it is evicted),
    or, for a standing budget, all desired tasks of the Deployment are running (ready)."""
    if on_draining_instance:
        return True
    if workload is None or not standing:
        return False
    desired = int((workload.get("spec") or {}).get("replicas") or 0)
    ready = int((workload.get("status") or {}).get("readyReplicas") or 0)
    return desired > 0 and ready >= desired


def digest(budget: Mapping[str, Any]) -> str:
    return content_hash(budget)


def created(namespace: str, service: str, uid: str) -> None:
    """This process created the service's workload: its budget is new too (no GET first)."""
    with _lock:
        _new.add((namespace, service, uid))


def in_place(namespace: str, service: str, uid: str) -> bool:
    """The service's budget was applied (or found applied) by this operator process."""
    with _lock:
        return (namespace, service, uid) in _applied


def protect(
    namespace: str,
    service: str,
    uid: str,
    budget: Mapping[str, Any],
    workload: Mapping[str, Any] | None,
    draining: Callable[[], bool],
    standing: bool = True,
    delay: float = 0.0,
    later: Callable[[float], None] = lambda _: None,
    now: Callable[[], float] = time.monotonic,
) -> bool:
    """Apply the budget when it is due and not already what runs; True when it wrote.

    ``draining`` (a task of the service is on a DRAINING instance) is asked only while the
    budget is not in place yet; ``standing`` False: only that makes it due. A standing budget
    is due ``delay`` seconds after all desired tasks were first seen running; until then
    ``later`` is told in how many seconds to ask again. A budget once in place follows the
    spec at once."""
    key, wanted = (namespace, service, uid), digest(budget)
    with _lock:
        known = _applied.get(key)
    if known == wanted:
        return False
    if known is None:
        on_draining = draining()
        if not has_tasks_to_protect(workload, on_draining, standing):
            return False
        with _lock:
            look = key not in _new and key not in _absent
        live = kube.get(API_VERSION, PLURAL, namespace, budget["metadata"]["name"]) if look else None
        if live is not None:
            if ((live.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_APPLIED) == wanted:
                _remember(key, wanted)  # a restart: it is there already, as this operator applied it
                return False
        else:
            with _lock:
                _absent.add(key)
                since = _protectable_since.setdefault(key, now())
            wait = since + delay - now()
            if not on_draining and wait > 0:
                later(wait)
                return False
    manifest = {**budget, "metadata": {**budget["metadata"], "annotations": {ANNOTATION_APPLIED: wanted}}}
    kube.apply_any(manifest)
    _remember(key, wanted)
    with _lock:
        _new.discard(key)
        _absent.discard(key)
        _protectable_since.pop(key, None)
    return True


def forget(namespace: str, service: str, uid: str) -> None:
    """The service is gone: the garbage collector removes its budget (a budget deleted by
    hand is not noticed: nothing watches budgets)."""
    with _lock:
        _applied.pop((namespace, service, uid), None)
        _new.discard((namespace, service, uid))
        _absent.discard((namespace, service, uid))
        _protectable_since.pop((namespace, service, uid), None)


def _remember(key: tuple[str, str, str], value: str) -> None:
    with _lock:
        _applied[key] = value
