"""A service's disruption budget and Services, deleted by hand, are put back by the periodic
check (controllers/service/children.py)."""

import itertools
import threading
import time
from typing import Any

from ecs_facade.controllers.service.children import (
    ChildrenCheck,
    check_children,
    children_of,
    note_children,
)
from ecs_facade.controllers.state import NOTHING_APPLIED, OperatorState
from ecs_facade.translate.service import build_disruption_budget

KEY = ("shop", "web", "uid-web")
OTHER = ("shop", "api", "uid-api")
PDB = ("policy/v1", "poddisruptionbudgets")
SVC = ("v1", "services")


def k8s_service(name: str, namespace: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}}


def account(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "shop"}}


def extra(name: str) -> list[dict[str, Any]]:
    return [account(f"{name}-role"), k8s_service(f"{name}-80"), build_disruption_budget(name, "shop", 3, 50)]


class Lists:
    """The API server's lists: what is there per (apiVersion, plural); ``failing`` kinds raise."""

    def __init__(
        self, there: dict[tuple[str, str], set[tuple[str, str]]], failing: frozenset[str] = frozenset()
    ) -> None:
        self.there, self.failing = there, failing
        self.asked: list[tuple[str, str, str, str | None]] = []

    def __call__(self, api_version: str, plural: str, selector: str, namespace: str | None) -> set[tuple[str, str]]:
        self.asked.append((api_version, plural, selector, namespace))
        if plural in self.failing:
            raise OSError("connection reset")
        return {(ns, name) for ns, name in self.there.get((api_version, plural), set()) if namespace in (None, ns)}


def noted(state: OperatorState, *keys: tuple[str, str, str], ago: float = 5.0) -> None:
    for key in keys:
        note_children(state, key, extra(key[1]))
        state.services.children[key] = (time.monotonic() - ago, state.services.children[key][1])
        state.services.applied[key] = ("digest", 1, None)


def test_only_budgets_and_services_are_checked() -> None:
    assert children_of(extra("web")) == {
        ("policy/v1", "poddisruptionbudgets", "shop", "web"),
        ("v1", "services", "shop", "web-80"),
    }


def test_a_service_without_checked_objects_is_not_kept(state: OperatorState) -> None:
    note_children(state, KEY, extra("web"))
    note_children(state, KEY, [account("web-role")])  # a DAEMON service without load balancers
    assert KEY not in state.services.children


def test_nothing_is_put_back_while_everything_is_there(state: OperatorState) -> None:
    noted(state, KEY, OTHER)
    lists = Lists({PDB: {("shop", "web"), ("shop", "api")}, SVC: {("shop", "web-80"), ("shop", "api-80")}})
    requeued: list[tuple[str, str]] = []
    assert check_children(state, [None], lists, lambda ns, name: requeued.append((ns, name))) == []
    assert requeued == [] and KEY in state.services.applied
    # one metadata list per kind, with the services' label, in all namespaces
    assert sorted(lists.asked) == [
        ("policy/v1", "poddisruptionbudgets", "ecs.facade.dev/service", None),
        ("v1", "services", "ecs.facade.dev/service", None),
    ]


def test_a_deleted_budget_makes_its_service_apply_again(state: OperatorState) -> None:
    noted(state, KEY, OTHER)
    lists = Lists({PDB: {("shop", "api")}, SVC: {("shop", "web-80"), ("shop", "api-80")}})
    requeued: list[tuple[str, str]] = []
    assert check_children(state, [None], lists, lambda ns, name: requeued.append((ns, name))) == [KEY]
    assert requeued == [("shop", "web")]
    # the digest on the workload no longer vouches for the budget: the reconcile applies
    assert state.services.applied[KEY] == NOTHING_APPLIED and state.services.applied[OTHER] == ("digest", 1, None)
    assert KEY not in state.services.children  # noted again by that apply


def test_a_deleted_service_object_makes_its_service_apply_again(state: OperatorState) -> None:
    noted(state, KEY)
    requeued: list[tuple[str, str]] = []
    check_children(state, [None], Lists({PDB: {("shop", "web")}, SVC: set()}), lambda *a: requeued.append(a))
    assert requeued == [("shop", "web")]


def test_a_service_applied_after_the_lists_began_is_left_alone(state: OperatorState) -> None:
    """Its objects may be newer than the lists: not gone."""
    noted(state, KEY, ago=-5.0)
    requeued: list[tuple[str, str]] = []
    check_children(state, [None], Lists({PDB: set(), SVC: set()}), lambda *a: requeued.append(a))
    assert requeued == [] and KEY in state.services.applied


def test_a_failed_list_puts_nothing_back_and_raises(state: OperatorState) -> None:
    """The check fails as a whole (made again at the next interval): a kind not listed is
    never taken as gone."""
    noted(state, KEY)
    requeued: list[tuple[str, str]] = []
    try:
        lists = Lists({PDB: set()}, failing=frozenset({"services"}))
        check_children(state, [None], lists, lambda *a: requeued.append(a))
    except OSError:
        pass
    else:
        raise AssertionError("the failed list was not raised")
    assert requeued == [] and KEY in state.services.applied


def test_watched_namespaces_are_listed_one_by_one(state: OperatorState) -> None:
    noted(state, KEY, ("tools", "cron", "uid-cron"))
    lists = Lists({PDB: {("shop", "web")}, SVC: {("shop", "web-80")}})
    requeued: list[tuple[str, str]] = []
    check_children(state, ["shop", "tools"], lists, lambda *a: requeued.append(a))
    assert requeued == [("tools", "cron")]
    assert {namespace for *_, namespace in lists.asked} == {"shop", "tools"}


def test_a_deleted_service_is_forgotten(state: OperatorState) -> None:
    noted(state, KEY)
    state.services.forget(("shop", "web"), "uid-web")
    assert KEY not in state.services.children


def test_the_check_runs_every_interval_and_survives_failures() -> None:
    calls: list[float] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def check() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OSError("the API server is restarting")
        if len(calls) == 3:
            done.set()

    checking = ChildrenCheck(lambda: 0.05, check, errors.append)
    checking.start()
    try:
        assert done.wait(5), f"checked {len(calls)} times"
    finally:
        checking.stop()
    assert len(errors) == 1 and isinstance(errors[0], OSError)
    assert all(b - a >= 0.04 for a, b in itertools.pairwise(calls))
