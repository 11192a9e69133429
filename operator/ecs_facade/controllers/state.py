"""The operator's memory: everything it remembers per object between reconciles, in one place.

One ``OperatorState`` is made at start-up (controllers/settings.py, ``read_settings``) and
put in kopf's memo (``memo["state"]``: kopf hands every handler a shallow copy of that memo,
so it is the same object everywhere); the handlers pass it down to the code that needs it.
What is kept of an object is dropped when the object goes (``forget`` here, called by the
handlers of deletions). Tests build a fresh one instead of resetting module globals.

Not in here: kopf's and the informers' indexes (controllers/indexes.py), and the cached API
client (kube/client.py), the process's connection to the API server.
"""

import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from ecs_facade.config import Config
from ecs_facade.controllers.turns import Turns
from ecs_facade.controllers.workqueue import WorkQueue
from ecs_facade.model.taskdefinition import TaskDefinition
from ecs_facade.translate.taskdefinition import PodTranslation, TranslationOptions
from ecs_facade.views.service_status import TasksSeen

ObjectKey = tuple[str, str, str]  # (namespace, name, uid)
Child = tuple[str, str, str, str]  # (apiVersion, plural, namespace, name)


class Locks:
    """One lock per object (kind, namespace, name): reconciles of one object run one at a
    time, whichever watch triggered them. Dropped when the object goes."""

    def __init__(self) -> None:
        self._locks: defaultdict[tuple[str, str, str], threading.Lock] = defaultdict(threading.Lock)

    def lock_for(self, kind: str, namespace: str, name: str) -> threading.Lock:
        return self._locks[(kind, namespace, name)]

    def drop(self, kind: str, namespace: str, name: str) -> None:
        """The object is gone. A reconcile that holds the lock still finds the object gone
        from the indexes and returns."""
        self._locks.pop((kind, namespace, name), None)

    def __contains__(self, key: tuple[str, str, str]) -> bool:
        return key in self._locks


@dataclass
class ServiceMemory:
    """What the service controller remembers per service (controllers/service/)."""

    # The last status this operator wrote per service: it is the only writer, so this is never
    # older than what the watch has delivered (which can lag a write by a moment).
    written: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    # When it was written (time.monotonic()), or when the service's workload was created if no
    # status is written yet: a change that is progress only waits for the interval from then.
    written_at: dict[ObjectKey, float] = field(default_factory=dict)
    # Turns for progress-only status writes: all services' together keep to
    # status_progress_writes_per_second.
    progress_turns: Turns = field(default_factory=Turns)
    # When a status write that waits (progress only) is due (time.monotonic()): a refresh is
    # queued for then. Cleared by every status report, set again when it waits again.
    status_due: dict[ObjectKey, float] = field(default_factory=dict)
    # What was applied last per service: (digest of the desired objects, workload and HPA generations after it).
    # The disruption budget is one of those objects, applied before the workload: see budget_in_place.
    applied: dict[ObjectKey, tuple[str, int | None, int | None]] = field(default_factory=dict)
    # The objects of the plan that no watch tells of (its disruption budget, its Services),
    # per service, and when they were applied or found (time.monotonic()): checked every
    # children_check_seconds and put back when gone (controllers/service/children.py).
    children: dict[ObjectKey, tuple[float, frozenset[Child]]] = field(default_factory=dict)
    # Services whose workload runs replacements for tasks on DRAINING instances.
    surging: set[tuple[str, str]] = field(default_factory=set)
    # The last state seen per node (ACTIVE/DRAINING), to react to changes only.
    instance_states: dict[str, str] = field(default_factory=dict)
    # Capacity providers chosen per pod (the watch may not show the pod's new label yet).
    assigned: dict[tuple[str, str], str] = field(default_factory=dict)
    # Per service, from its first status after the operator started (seeded then without events:
    # the tasks were told of before), until the service goes.
    tasks_seen: dict[ObjectKey, TasksSeen] = field(default_factory=dict)
    # (pod uid, task ends) of incarnations a pod event saw UNHEALTHY since the last status, per
    # service: a liveness kill may restart the pod before the status batch looks at it.
    unhealthy_noted: dict[tuple[str, str], set[tuple[str, int]]] = field(default_factory=dict)
    # (pod uid, task ends) -> the pod (views.service_tasks.picture) as a pod event saw that
    # incarnation end, per service: the kubelet's restart in place replaces the exit's code (3,
    # say) with its own (137, RestartingAllContainers) before the status batch may look.
    exits_noted: dict[tuple[str, str], dict[tuple[str, int], Mapping[str, Any]]] = field(default_factory=dict)
    # noted on the informer's thread, taken by a service worker
    exits_lock: threading.Lock = field(default_factory=threading.Lock)
    # Parsed and translated revisions: (revision name, content hash, family, options) -> both.
    translations: dict[tuple[str, str, str, TranslationOptions], tuple[TaskDefinition, PodTranslation]] = field(
        default_factory=dict
    )
    # What was queued last per service: (uid, generation, annotations); the events of the
    # operator's own status writes repeat it and queue nothing.
    seen: dict[tuple[str, str], tuple[str, int, str]] = field(default_factory=dict)

    def budget_in_place(self, key: ObjectKey) -> bool:
        """A REPLICA service's PodDisruptionBudget is in place: this process applied the
        service's objects (the budget before the workload, controllers/service/apply.py), or
        found the workload carrying the digest of what it would apply (a restart: the budget
        was applied before that workload was written). Not yet for a service this process has
        not reconciled since it started (an upgrade from a version that applied budgets late
        finds the workload's digest different, and applies it all again), nor for one whose
        workload was deleted by hand until it is applied again."""
        return key in self.applied

    def forget(self, key: tuple[str, str], uid: str) -> None:
        """A deleted service's memories (the garbage collector removes its children)."""
        for memory in (self.written, self.written_at, self.applied, self.status_due, self.tasks_seen, self.children):
            memory.pop((*key, uid), None)
        self.unhealthy_noted.pop(key, None)
        self.exits_noted.pop(key, None)
        self.progress_turns.forget((*key, uid))
        self.surging.discard(key)


@dataclass
class TaskMemory:
    """What the task controller remembers (controllers/task.py)."""

    # The last status written per task (the watch can lag behind our own write).
    written: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)

    def forget(self, namespace: str, name: str, uid: str) -> None:
        self.written.pop((namespace, name, uid), None)


@dataclass
class ClusterMemory:
    """What the cluster controller remembers (controllers/cluster.py)."""

    # The last status written per cluster uid (the watch can lag behind our own write).
    written: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class OperatorState:
    """The running operator's settings and memory (see the module's docstring)."""

    config: Config
    services: ServiceMemory = field(default_factory=ServiceMemory)
    tasks: TaskMemory = field(default_factory=TaskMemory)
    clusters: ClusterMemory = field(default_factory=ClusterMemory)
    locks: Locks = field(default_factory=Locks)
    # the service work queue (controllers/service/triggers.py): made by a startup handler
    queue: WorkQueue | None = None


def of(memo: Mapping[str, Any]) -> OperatorState:
    """The state in kopf's memo (a handler's ``memo`` argument)."""
    return cast(OperatorState, memo["state"])
