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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
# ServiceMemory.applied's value for a service one of whose objects is gone (matches no plan)
NOTHING_APPLIED: tuple[str, int | None, int | None] = ("", None, None)


class _Held:
    """One object's lock and how many reconciles hold it or wait for it."""

    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class Locks:
    """One lock per object (kind, namespace, name): reconciles of one object run one at a
    time, whichever watch triggered them.

    An object's lock exists only while a reconcile holds it or waits for it: the last one
    out removes it. Dropping it when the object goes was not enough: a reconcile that runs
    after the deletion (a standalone task's pod deleted by the garbage collector after its
    task, a revision after its task definition, a service queued just before it went) made
    it again, and nothing dropped it after that; and a lock dropped while held let a second
    reconcile of the object take a new one."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str, str], _Held] = {}

    @contextmanager
    def lock_for(self, kind: str, namespace: str, name: str) -> Iterator[None]:
        """``with locks.lock_for(kind, namespace, name):`` the object's reconcile."""
        key = (kind, namespace, name)
        with self._guard:
            held = self._locks.get(key)
            if held is None:
                held = self._locks[key] = _Held()
            held.users += 1
        try:
            with held.lock:
                yield
        finally:
            with self._guard:
                held.users -= 1
                if held.users == 0:
                    del self._locks[key]

    def __contains__(self, key: tuple[str, str, str]) -> bool:
        with self._guard:
            return key in self._locks

    def __len__(self) -> int:
        return len(self._locks)


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
    # Looks at a DaemonSet lacking pods with no refusal to say yet, in a row (their delay doubles)
    daemon_looks: dict[ObjectKey, int] = field(default_factory=dict)
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
        workload was deleted by hand until it is applied again, nor for one whose budget the
        periodic check found gone (controllers/service/children.py)."""
        return self.applied.get(key, NOTHING_APPLIED) != NOTHING_APPLIED

    def forget(self, key: tuple[str, str], uid: str, by_name: bool = True) -> None:
        """A deleted service's memories (the garbage collector removes its children);
        ``by_name=False``: only those of this uid (a service of the same name is there now)."""
        for memory in (
            self.written,
            self.written_at,
            self.applied,
            self.status_due,
            self.tasks_seen,
            self.children,
            self.daemon_looks,
        ):
            memory.pop((*key, uid), None)
        self.progress_turns.forget((*key, uid))
        if by_name:
            self.unhealthy_noted.pop(key, None)
            self.exits_noted.pop(key, None)
            self.surging.discard(key)

    def forget_revision(self, name: str) -> None:
        """A registered revision (ControllerRevision ``name``) went with its task definition:
        its translation is not needed again (in any namespace: a cache, worked out anew if it is)."""
        for key in [key for key in list(self.translations) if key[0] == name]:
            self.translations.pop(key, None)

    def sizes(self) -> dict[str, int]:
        """How many entries each memory holds (the operator's metrics: docs/reliability.md, churn)."""
        return {
            "written": len(self.written),
            "written_at": len(self.written_at),
            "progress_turns": len(self.progress_turns),
            "status_due": len(self.status_due),
            "applied": len(self.applied),
            "surging": len(self.surging),
            "instance_states": len(self.instance_states),
            "assigned": len(self.assigned),
            "tasks_seen": len(self.tasks_seen),
            "unhealthy_noted": len(self.unhealthy_noted),
            "exits_noted": len(self.exits_noted),
            "translations": len(self.translations),
            "seen": len(self.seen),
            "children": len(self.children),
            "daemon_looks": len(self.daemon_looks),
        }


@dataclass
class TaskMemory:
    """What the task controller remembers (controllers/task.py)."""

    # The last status written per task (the watch can lag behind our own write).
    written: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)

    def forget(self, namespace: str, name: str, uid: str) -> None:
        self.written.pop((namespace, name, uid), None)

    def sizes(self) -> dict[str, int]:
        return {"written": len(self.written)}


@dataclass
class ClusterMemory:
    """What the cluster controller remembers (controllers/cluster.py)."""

    # The last status written per cluster uid (the watch can lag behind our own write).
    written: dict[str, dict[str, Any]] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        return {"written": len(self.written)}


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

    def sizes(self) -> dict[str, int]:
        """How many entries each per-object memory holds, by name ("services.written", "locks",
        "queue.pending", ...): cheap (lengths), read when /metrics is
        (``ecs_facade_state_entries``); a deleted object's count goes back down."""
        sizes = {f"services.{name}": count for name, count in self.services.sizes().items()}
        sizes.update({f"tasks.{name}": count for name, count in self.tasks.sizes().items()})
        sizes.update({f"clusters.{name}": count for name, count in self.clusters.sizes().items()})
        sizes["locks"] = len(self.locks)
        if self.queue is not None:
            sizes.update({f"queue.{name}": count for name, count in self.queue.sizes().items()})
        return sizes


def of(memo: Mapping[str, Any]) -> OperatorState:
    """The state in kopf's memo (a handler's ``memo`` argument)."""
    return cast(OperatorState, memo["state"])
