"""The PodDisruptionBudget of a REPLICA service: the floor minimumHealthyPercent sets for
draining (the operator's evictions from DRAINING instances, and `kubectl drain`).

A new service's budget is applied once it has tasks to protect: all of its desired tasks
running for ECS_FACADE_DISRUPTION_BUDGET_DELAY_SECONDS (the standing budget), or one of them
on a DRAINING instance (at once). With ECS_FACADE_DISRUPTION_BUDGETS=draining only the
latter: ECS's own draining keeps the floor, `kubectl drain` and autoscalers do not wait,
and the disruption controller has no budget to look at for the other services.

The standing budget waits because budgets are protection, not part of running the tasks,
and each one makes the disruption controller's work on every pod event of the namespace
larger: while other services of the namespace are still starting (new since they were
first seen, their tasks not all running yet, no budget yet), it waits for them too, up to
ECS_FACADE_DISRUPTION_BUDGET_MAX_DELAY_SECONDS after its own tasks ran. A burst of new
services then converges first, and the budgets come when the last of them has settled,
instead of every service settled early in the burst slowing down the ones still starting.

From the moment a budget exists, the disruption controller recomputes it and writes its
status on every change of the service's pods, which during a first rollout is every pod
event, with nothing yet to protect; and it looks for the budgets of every pod event in the
namespace among all of the namespace's budgets. A budget once applied follows the service's
spec at once.

What was applied is remembered per service (the budget's digest, also written on the budget
as an annotation), so that a steady service costs no request, and a restarted operator reads
each budget once (a GET, no write) instead of applying it again; one mid-rollout is read
before its tasks all run, so that a service whose budget is in place does not count as
starting. A service whose workload
this process created gets its budget without that GET.

Standing budgets that come due together take turns
(ECS_FACADE_DISRUPTION_BUDGET_WRITES_PER_SECOND): at the end of a burst of thousands of new
services, every waiting budget is due within seconds, and applied at once they took the API
server and the disruption controller from whatever came next (a desiredCount change then
waited seconds for its Deployment). A budget that must follow the spec, or a task on a
DRAINING instance, never waits for a turn.
"""

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ecs_facade.api import GROUP
from ecs_facade.controllers.turns import Turns
from ecs_facade.kube import client as kube
from ecs_facade.model.taskdefinition import content_hash

ANNOTATION_APPLIED = f"{GROUP}/applied-digest"
API_VERSION = "policy/v1"
PLURAL = "poddisruptionbudgets"


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


def _digest_of(live: Mapping[str, Any]) -> str | None:
    return ((live.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_APPLIED)


MAX_GONE = 10000


class Budgets:
    """What the operator knows of its services' budgets (one per operator, in its state:
    controllers/state.py); its lock, as a service's reconcile, its deletion on an informer's
    thread and the cluster's drain ask at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: dict[tuple[str, str, str], str] = {}  # (namespace, service, service uid) -> digest
        self.new: set[tuple[str, str, str]] = set()  # services whose workload this process created
        # when all desired tasks of a service whose standing budget waits were first seen running
        self.protectable_since: dict[tuple[str, str, str], float] = {}
        # looked for (a GET, after a restart) and not there: not looked for again
        self.absent: set[tuple[str, str, str]] = set()
        # per namespace, the services still starting (no budget, tasks not all running): when each
        # was first seen so; one counts for at most the longest wait from then (a service that never
        # gets all of its tasks running holds nobody's budget for ever)
        self.starting: dict[str, dict[tuple[str, str, str], float]] = {}
        # per namespace, the services whose standing budget waits for the starting ones: how to ask
        # for each one's next look (``later``) and when its own delay is over; once none is starting,
        # each is asked for then (at once if it is over): a wake-up at the end of a burst does not
        # reconcile every service settled late in it twice
        self.waiting: dict[str, dict[tuple[str, str, str], tuple[Callable[[float], None], float]]] = {}
        # services that stopped counting as starting (``max_delay`` after they were first seen so)
        # without settling: not counted again until they settle, or the namespace would never settle
        self.overdue: set[tuple[str, str, str]] = set()
        # services forgotten (deleted) lately: a reconcile of one still under way must not record
        # it as starting or waiting again
        self.gone: dict[tuple[str, str, str], None] = {}
        # the standing budgets due (their delay and wait over), each at its turn
        self.turns = Turns()

    def created(self, namespace: str, service: str, uid: str, now: Callable[[], float] = time.monotonic) -> None:
        """This process created the service's workload: its budget is new too (no GET first),
        and the service is starting from now (before its first look at its budget)."""
        key = (namespace, service, uid)
        with self.lock:
            self.new.add(key)
            if key not in self.gone and key not in self.overdue:
                self.starting.setdefault(namespace, {}).setdefault(key, now())

    def sighted(self, namespace: str, service: str, uid: str, now: Callable[[], float] = time.monotonic) -> None:
        """A new service was seen (its workload not there yet): it counts as starting from now,
        not from when the operator gets to create its workload. In a long burst the work queue
        holds new services whose workloads do not exist yet: without them, the namespace could
        look settled for a moment and the waiting budgets come in the middle of the burst."""
        key = (namespace, service, uid)
        with self.lock:
            if key not in self.gone and key not in self.applied and key not in self.overdue:
                self.starting.setdefault(namespace, {}).setdefault(key, now())

    def not_starting(
        self, namespace: str, service: str, uid: str, max_delay: float = 0.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        """The service has no standing budget to wait for (a DAEMON service, a spec that cannot
        run): it holds nobody's budget back."""
        self._settled((namespace, service, uid), max_delay, now)

    def in_place(self, namespace: str, service: str, uid: str) -> bool:
        """The service's budget was applied (or found applied) by this operator process."""
        with self.lock:
            return (namespace, service, uid) in self.applied

    def protect(
        self,
        namespace: str,
        service: str,
        uid: str,
        budget: Mapping[str, Any],
        workload: Mapping[str, Any] | None,
        draining: Callable[[], bool],
        standing: bool = True,
        delay: float = 0.0,
        max_delay: float = 0.0,
        later: Callable[[float], None] = lambda _: None,
        rate: float = 0.0,
        now: Callable[[], float] = time.monotonic,
    ) -> bool:
        """Apply the budget when it is due and not already what runs; True when it wrote.

        ``draining`` (a task of the service is on a DRAINING instance) is asked only while the
        budget is not in place yet; ``standing`` False: only that makes it due. A standing budget
        is due ``delay`` seconds after all desired tasks were first seen running, once no other
        service of the namespace is starting or ``max_delay`` seconds after they ran, whichever
        is first; until then ``later`` is told in how many seconds to ask again (and is called
        again when the namespace's last starting service settles: with what is left of the
        delay, 0 if it is over), and once due it waits for its turn, ``rate`` standing budgets a
        second at most (0: no limit). A budget once in place follows the spec at once."""
        key, wanted = (namespace, service, uid), digest(budget)
        with self.lock:
            known = self.applied.get(key)
        if known == wanted:
            return False
        if known is None and not self._due(
            key, budget, wanted, workload, draining, standing, delay, max_delay, later, rate, now
        ):
            return False
        manifest = {**budget, "metadata": {**budget["metadata"], "annotations": {ANNOTATION_APPLIED: wanted}}}
        kube.apply_any(manifest)
        self._remember(key, wanted)
        return True

    def _due(
        self,
        key: tuple[str, str, str],
        budget: Mapping[str, Any],
        wanted: str,
        workload: Mapping[str, Any] | None,
        draining: Callable[[], bool],
        standing: bool,
        delay: float,
        max_delay: float,
        later: Callable[[float], None],
        rate: float,
        now: Callable[[], float],
    ) -> bool:
        """Whether a budget this process has not applied (nor found) is to be applied now;
        if not, the service is recorded as starting, or ``later`` is told when to ask again."""
        with self.lock:
            if key in self.gone:
                return False  # deleted meanwhile: its children go with it
            look = key not in self.new and key not in self.absent
        on_draining = draining()
        if not has_tasks_to_protect(workload, on_draining, standing):
            desired = int(((workload or {}).get("spec") or {}).get("replicas") or 0)
            if not standing or (workload is not None and desired == 0):
                # nothing to wait for (scaled to zero, or only draining brings one)
                self._settled(key, max_delay, now)
                return False
            # a workload this process did not create (a restart mid-rollout): its budget may be
            # in place already, and then the service is not starting
            live = self._found(key, budget) if workload is not None and look else None
            if live is None:
                with self.lock:
                    if key not in self.gone and key not in self.overdue:
                        self.starting.setdefault(key[0], {}).setdefault(key, now())
                return False
        else:
            live = self._found(key, budget) if look else None
        self._settled(key, max_delay, now)
        if live is not None:
            if _digest_of(live) == wanted:
                self._remember(key, wanted)  # a restart: it is there already, as this operator applied it
                return False
            return True  # in place, not as the spec says now: it follows the spec at once
        if on_draining:
            return True
        wait = self._standing_wait(key, delay, max_delay, later, now)
        if wait <= 0:
            with self.lock:  # a turn is given up when the service is forgotten (under the lock)
                if key in self.gone:
                    return False
                wait = self.turns.wait(key, rate, now())
        if wait > 0:
            later(wait)
            return False
        return True

    def _found(self, key: tuple[str, str, str], budget: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The budget as it is (a GET, once per service in a process); not there: remembered so."""
        live = kube.get(API_VERSION, PLURAL, key[0], budget["metadata"]["name"])
        if live is None:
            with self.lock:
                if key not in self.gone:  # deleted during the GET: nothing to keep
                    self.absent.add(key)
        return live

    def _standing_wait(
        self,
        key: tuple[str, str, str],
        delay: float,
        max_delay: float,
        later: Callable[[float], None],
        now: Callable[[], float],
    ) -> float:
        """Seconds until a standing budget is due (0: now)."""
        namespace, moment = key[0], now()
        with self.lock:
            if key in self.gone:
                return 0.0  # deleted meanwhile: nothing kept for it (its budget, if applied, goes with it)
            self.absent.add(key)
            since = self.protectable_since.setdefault(key, moment)
            own = since + delay - moment
            longest = since + max(delay, max_delay) - moment
            busy_for = self._starting_for(namespace, max_delay, moment)
            if busy_for > 0 and longest > 0:
                self.waiting.setdefault(namespace, {})[key] = (later, since + delay)
                # until the last service starting now stops counting, or the longest wait is over
                return max(own, min(longest, busy_for))
            self.waiting.get(namespace, {}).pop(key, None)
        return max(0.0, own)

    def _starting_for(self, namespace: str, max_delay: float, moment: float) -> float:
        """How much longer the services starting in the namespace count (0: none does); one
        counts for ``max_delay`` from when it was first seen starting. Those past it are
        dropped (under the lock).

        The namespace's entries are in the order they were first seen (each is added once, with
        the time read under the lock): the expired ones are at the front and the newest at the
        back, so this costs nothing per service starting (every reconcile of a settled service
        asks, and a burst has hundreds starting)."""
        starting = self.starting.get(namespace)
        while starting:
            oldest, first = next(iter(starting.items()))
            if moment - first < max_delay:
                break
            del starting[oldest]
            self.overdue.add(oldest)
        if not starting:
            self.starting.pop(namespace, None)
            return 0.0
        return next(reversed(starting.values())) + max_delay - moment

    def _still_starting(self, namespace: str, max_delay: float, moment: float) -> bool:
        return self._starting_for(namespace, max_delay, moment) > 0

    def _settled(self, key: tuple[str, str, str], max_delay: float, now: Callable[[], float]) -> None:
        """The service is no longer starting: if it was the namespace's last one, the budgets
        that wait for the namespace are asked for again."""
        namespace = key[0]
        with self.lock:
            self.overdue.discard(key)
            starting = self.starting.get(namespace)
            if starting is None or starting.pop(key, None) is None:
                return
            if not starting:
                del self.starting[namespace]
            moment = now()
            if self._still_starting(namespace, max_delay, moment):
                return
            woken = list((self.waiting.pop(namespace, None) or {}).values())
        for later, due in woken:
            later(max(0.0, due - moment))

    def forget(
        self, namespace: str, service: str, uid: str, max_delay: float = 0.0, now: Callable[[], float] = time.monotonic
    ) -> None:
        """The service is gone: the garbage collector removes its budget (a budget deleted by
        hand is not noticed: nothing watches budgets). A starting service that is gone holds
        no other budget back."""
        key = (namespace, service, uid)
        with self.lock:
            self.gone[key] = None
            while len(self.gone) > MAX_GONE:
                del self.gone[next(iter(self.gone))]
        self._settled(key, max_delay, now)
        with self.lock:
            self.applied.pop(key, None)
            self._forget_waiting(key)

    def _remember(self, key: tuple[str, str, str], value: str) -> None:
        with self.lock:
            if key not in self.gone:  # deleted during the request: its children go with it
                self.applied[key] = value
            self._forget_waiting(key)

    def _forget_waiting(self, key: tuple[str, str, str]) -> None:
        """What was kept while the service's budget was not in place (under the lock)."""
        self.new.discard(key)
        self.absent.discard(key)
        self.overdue.discard(key)
        self.protectable_since.pop(key, None)
        self.turns.forget(key)
        waiting = self.waiting.get(key[0])
        if waiting is not None:
            waiting.pop(key, None)
            if not waiting:
                del self.waiting[key[0]]
