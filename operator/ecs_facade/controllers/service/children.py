"""A service's objects that no watch tells of, put back when deleted by hand: its
PodDisruptionBudget and its Services.

The workload's deletion queues the service (controllers/informers.py), but the operator
does not watch budgets and Services: a budget's status changes with every pod event of its
service, so a watch would cost a parse per pod event for a deletion that is rare. And the
digest on the workload vouches for them (controllers/service/apply.py), so a reconcile would
not apply them again. Without this check, a budget deleted by hand (or while the operator was
down) left the service's tasks unprotected against `kubectl drain` until its next spec
change. Instead, every ``children_check_seconds`` one metadata-only list per kind (labelled
with a service) tells which are gone; each service missing one is applied again. Level-based:
a check that fails is simply made again next time."""

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ecs_facade.api import LABEL_SERVICE
from ecs_facade.controllers.state import NOTHING_APPLIED, Child, ObjectKey, OperatorState

FIRST_CHECK = 10.0  # seconds after the start

# the kinds of a plan's objects that are checked: (apiVersion, kind) -> plural
CHECKED = {
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("v1", "Service"): "services",
}


def children_of(extra: Iterable[Mapping[str, Any]]) -> frozenset[Child]:
    """The checked objects among a plan's other objects."""
    made: set[Child] = set()
    for obj in extra:
        plural = CHECKED.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
        if plural is not None:
            meta = obj.get("metadata") or {}
            made.add((str(obj["apiVersion"]), plural, str(meta.get("namespace") or ""), str(meta.get("name"))))
    return frozenset(made)


def note_children(state: OperatorState, key: ObjectKey, extra: Iterable[Mapping[str, Any]]) -> None:
    """The service's checked objects are in place now (applied, or vouched for by the digest)."""
    children = children_of(extra)
    if children:
        state.services.children[key] = (time.monotonic(), children)
    else:
        state.services.children.pop(key, None)


def missing(
    expected: Mapping[ObjectKey, tuple[float, frozenset[Child]]],
    present: Mapping[tuple[str, str], set[tuple[str, str]]],
    listed_at: float,
) -> list[ObjectKey]:
    """The services one of whose objects the lists did not show. Not those applied after the
    lists began (their objects may be newer than the lists), nor objects of a kind missing
    from ``present``."""
    gone = []
    for key, (noted_at, children) in expected.items():
        if noted_at >= listed_at:
            continue
        for api_version, plural, namespace, name in children:
            names = present.get((api_version, plural))
            if names is not None and (namespace, name) not in names:
                gone.append(key)
                break
    return gone


def check_children(
    state: OperatorState,
    scopes: Sequence[str | None],
    list_names: Callable[[str, str, str, str | None], set[tuple[str, str]]],
    requeue: Callable[[str, str], None],
) -> list[ObjectKey]:
    """One check: list each checked kind (in each watched namespace, or in all), forget the
    apply of each service missing one of its objects and queue it. Returns those services."""
    listed_at = time.monotonic()
    expected = dict(state.services.children)
    kinds = {(api_version, plural) for _, children in expected.values() for api_version, plural, _, _ in children}
    present: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for api_version, plural in sorted(kinds):
        names: set[tuple[str, str]] = set()
        for scope in scopes:
            names |= list_names(api_version, plural, LABEL_SERVICE, scope)
        present[(api_version, plural)] = names
    gone = missing(expected, present, listed_at)
    for key in gone:
        if state.services.children.get(key, (listed_at,))[0] >= listed_at:
            continue  # applied again meanwhile, or gone (nothing to keep of it)
        # the digest on the workload no longer vouches for them: what was applied is marked as
        # nothing (not forgotten: a reconcile would take the workload's digest as applied)
        state.services.applied[key] = NOTHING_APPLIED
        state.services.children.pop(key, None)
        requeue(key[0], key[1])
    return gone


class ChildrenCheck:
    """``check_children`` every ``interval()`` seconds (read each time: the setting may change)
    in a thread of its own until stopped; a check that fails is logged and made again at the
    next interval."""

    def __init__(
        self, interval: Callable[[], float], check: Callable[[], object], log: Callable[[BaseException], None]
    ) -> None:
        self._interval, self._check, self._log = interval, check, log
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="children-check", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        # the first check FIRST_CHECK seconds after the start (once the start's reconciles ran):
        # a budget deleted while the operator was down is not vouched for a whole interval
        checked = time.monotonic() - max(self._interval() - FIRST_CHECK, 0.0)
        # woken every second at most, so that a shorter interval set meanwhile is kept
        while not self._stopped.wait(min(self._interval(), 1.0)):
            if time.monotonic() - checked < self._interval():
                continue
            checked = time.monotonic()
            try:
                self._check()
            except Exception as error:  # a failed list: the next interval checks again
                self._log(error)
