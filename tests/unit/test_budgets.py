"""A service's PodDisruptionBudget: applied once there are tasks to protect, then kept as the
spec says, with no request while nothing changed and no write after a restart."""

from typing import Any

import pytest

from ecs_facade.controllers import budgets as budgets_module
from ecs_facade.controllers.budgets import Budgets
from ecs_facade.kube import client as kube
from ecs_facade.translate.service import build_disruption_budget


class FakeApi:
    """The two calls budgets.py makes, recorded."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def get(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(f"get {plural} {namespace}/{name}")
        return self.objects.get(f"{namespace}/{name}")

    def apply_any(self, manifest: dict[str, Any]) -> dict[str, Any]:
        meta = manifest["metadata"]
        self.calls.append(f"apply {manifest['kind']} {meta['namespace']}/{meta['name']}")
        self.objects[f"{meta['namespace']}/{meta['name']}"] = manifest
        return manifest


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(kube, "get", fake.get)
    monkeypatch.setattr(kube, "apply_any", fake.apply_any)
    return fake


budgets = Budgets()  # what the operator knows of budgets: a fresh one for each test (fresh_budgets)


@pytest.fixture(autouse=True)
def fresh_budgets() -> None:
    global budgets
    budgets = Budgets()


def new_process() -> None:
    """What a restarted operator knows of budgets: nothing."""
    for memory in (
        budgets.applied,
        budgets.new,
        budgets.absent,
        budgets.protectable_since,
        budgets.starting,
        budgets.waiting,
        budgets.gone,
        budgets.overdue,
    ):
        memory.clear()


def deployment(replicas: int, ready: int) -> dict[str, Any]:
    return {"spec": {"replicas": replicas}, "status": {"readyReplicas": ready}}


BUDGET = build_disruption_budget("web", "ns", 4, 50)


def test_a_budget_in_place_does_not_look_at_the_instances(api: FakeApi) -> None:
    budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)

    def asked() -> bool:
        raise AssertionError("draining asked although the budget is in place")

    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=asked)


def test_a_rolling_out_service_gets_no_budget_yet(api: FakeApi) -> None:
    budgets.created("ns", "web", "u1")
    assert not budgets.protect("ns", "web", "u1", BUDGET, None, draining=lambda: False)
    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 3), draining=lambda: False)
    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(0, 0), draining=lambda: False)
    assert api.calls == []
    assert not budgets.in_place("ns", "web", "u1")


def test_after_a_restart_mid_rollout_a_budget_in_place_is_found_once_and_holds_nobody(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    budgets.protect(
        "ns", "web", "uid-web", build_disruption_budget("web", "ns", 4, 50), deployment(4, 4), lambda: False
    )
    new_process()
    api.calls.clear()
    # rolling out again when the operator restarts: its budget is there, as applied
    for _ in range(2):
        assert not budgets.protect(
            "ns", "web", "uid-web", build_disruption_budget("web", "ns", 4, 50), deployment(4, 2), lambda: False
        )
    assert api.calls == ["get poddisruptionbudgets ns/web"]
    assert budgets.in_place("ns", "web", "uid-web") and "ns" not in budgets.starting
    # so another service's budget does not wait for it
    assert not ns.protect("early", deployment(4, 4))
    assert ns.asked["early"] == [30.0]


def test_after_a_restart_mid_rollout_a_missing_budget_is_looked_for_once(api: FakeApi) -> None:
    for _ in range(2):
        assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 2), lambda: False, delay=30)
    assert api.calls == ["get poddisruptionbudgets ns/web"]
    assert ("ns", "web", "u1") in budgets.starting["ns"]  # starting: no budget, tasks not all running


def test_after_a_restart_mid_rollout_a_budget_unlike_the_spec_follows_it_at_once(api: FakeApi) -> None:
    budgets.protect("ns", "web", "u1", build_disruption_budget("web", "ns", 4, 100), deployment(4, 4), lambda: False)
    new_process()
    api.calls.clear()
    assert budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 2), lambda: False, delay=30)
    assert api.calls == ["get poddisruptionbudgets ns/web", "apply PodDisruptionBudget ns/web"]


def test_the_budget_comes_when_all_tasks_run_and_then_costs_nothing(api: FakeApi) -> None:
    assert budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    assert api.calls == ["get poddisruptionbudgets ns/web", "apply PodDisruptionBudget ns/web"]
    applied = api.objects["ns/web"]
    assert applied["spec"] == BUDGET["spec"]
    assert applied["metadata"]["annotations"] == {budgets_module.ANNOTATION_APPLIED: budgets_module.digest(BUDGET)}
    assert budgets.in_place("ns", "web", "u1")
    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    assert len(api.calls) == 2


def test_a_task_on_a_draining_instance_gets_its_budget_at_once(api: FakeApi) -> None:
    assert budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 1), draining=lambda: True)
    assert budgets.in_place("ns", "web", "u1")


def test_a_budget_in_place_follows_the_spec_even_mid_rollout(api: FakeApi) -> None:
    budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    scaled = build_disruption_budget("web", "ns", 8, 50)
    assert budgets.protect("ns", "web", "u1", scaled, deployment(8, 4), draining=lambda: False)
    assert api.objects["ns/web"]["spec"]["minAvailable"] == 4
    assert api.calls[-1] == "apply PodDisruptionBudget ns/web"


def test_after_a_restart_the_budget_is_read_once_and_not_written(api: FakeApi) -> None:
    budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    new_process()
    api.calls.clear()
    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    assert api.calls == ["get poddisruptionbudgets ns/web"]
    assert budgets.in_place("ns", "web", "u1")


def test_a_budget_someone_else_changed_is_applied_over(api: FakeApi) -> None:
    api.objects["ns/web"] = {**BUDGET, "spec": {**BUDGET["spec"], "minAvailable": 0}}
    assert budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    assert api.objects["ns/web"]["spec"]["minAvailable"] == 2


def test_a_new_service_of_the_same_name_starts_over(api: FakeApi) -> None:
    budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    assert not budgets.in_place("ns", "web", "u2")
    assert not budgets.protect("ns", "web", "u2", BUDGET, deployment(4, 0), draining=lambda: False)


def test_a_service_whose_workload_this_process_created_is_not_looked_up(api: FakeApi) -> None:
    budgets.created("ns", "web", "u1")
    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 2), draining=lambda: False)
    assert budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    assert api.calls == ["apply PodDisruptionBudget ns/web"]


def test_without_standing_budgets_only_a_draining_instance_brings_one(api: FakeApi) -> None:
    # ECS_FACADE_DISRUPTION_BUDGETS=draining: a steady service has none
    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False, standing=False)
    assert api.calls == []
    # a task of it on a DRAINING instance: the budget first (the drain evicts only then)
    assert budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: True, standing=False)
    assert budgets.in_place("ns", "web", "u1")
    # from then on it follows the spec, drained or not
    wider = build_disruption_budget("web", "ns", 6, 50)
    assert budgets.protect("ns", "web", "u1", wider, deployment(6, 6), draining=lambda: False, standing=False)
    assert api.objects["ns/web"]["spec"]["minAvailable"] == 3


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_standing_budget_waits_its_delay_from_when_all_tasks_first_ran(api: FakeApi) -> None:
    clock, asked = Clock(), list[float]()

    def protect(workload: dict[str, Any], draining: bool = False) -> bool:
        return budgets.protect(
            "ns", "web", "u1", BUDGET, workload, lambda: draining, delay=30, later=asked.append, now=clock
        )

    budgets.created("ns", "web", "u1")
    assert not protect(deployment(4, 2))
    assert asked == []  # nothing to protect yet: no reason to come back
    clock.now = 110.0
    assert not protect(deployment(4, 4))
    assert asked == [30.0]  # all tasks run from now: due in 30 s
    clock.now = 125.0
    assert not protect(deployment(4, 3))  # a task replaced meanwhile: the wait goes on from 110
    clock.now = 130.0
    assert not protect(deployment(4, 4))
    assert asked == [30.0, 10.0]
    assert api.calls == [] and not budgets.in_place("ns", "web", "u1")
    clock.now = 140.0
    assert protect(deployment(4, 4))
    assert api.calls == ["apply PodDisruptionBudget ns/web"]
    assert budgets.in_place("ns", "web", "u1")


def test_a_draining_instance_does_not_wait_for_the_delay(api: FakeApi) -> None:
    clock, asked = Clock(), list[float]()
    budgets.created("ns", "web", "u1")
    assert not budgets.protect(
        "ns", "web", "u1", BUDGET, deployment(4, 4), lambda: False, delay=30, later=asked.append, now=clock
    )
    clock.now += 1
    assert budgets.protect(
        "ns", "web", "u1", BUDGET, deployment(4, 4), lambda: True, delay=30, later=asked.append, now=clock
    )
    assert api.calls == ["apply PodDisruptionBudget ns/web"]


def test_after_a_restart_a_waiting_budget_is_looked_up_once(api: FakeApi) -> None:
    clock, asked = Clock(), list[float]()
    for _ in range(3):
        assert not budgets.protect(
            "ns", "web", "u1", BUDGET, deployment(4, 4), lambda: False, delay=30, later=asked.append, now=clock
        )
    assert api.calls == ["get poddisruptionbudgets ns/web"]
    assert asked == [30.0] * 3
    clock.now += 30
    assert budgets.protect(
        "ns", "web", "u1", BUDGET, deployment(4, 4), lambda: False, delay=30, later=asked.append, now=clock
    )
    assert api.calls == ["get poddisruptionbudgets ns/web", "apply PodDisruptionBudget ns/web"]


def test_a_budget_found_in_place_after_a_restart_does_not_wait(api: FakeApi) -> None:
    budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), draining=lambda: False)
    new_process()
    api.calls.clear()
    asked = list[float]()
    assert not budgets.protect("ns", "web", "u1", BUDGET, deployment(4, 4), lambda: False, delay=30, later=asked.append)
    assert asked == [] and budgets.in_place("ns", "web", "u1")
    assert api.calls == ["get poddisruptionbudgets ns/web"]


class Namespace:
    """Services of one namespace created by this process, protected with a 30 s delay and a
    300 s longest wait on one clock; what each asked ``later`` for is recorded."""

    def __init__(self, clock: Clock, namespace: str = "ns") -> None:
        self.clock, self.namespace = clock, namespace
        self.asked: dict[str, list[float]] = {}

    def protect(self, name: str, workload: dict[str, Any] | None, draining: bool = False, rate: float = 0.0) -> bool:
        budgets.created(self.namespace, name, f"uid-{name}", now=self.clock)
        return budgets.protect(
            self.namespace,
            name,
            f"uid-{name}",
            build_disruption_budget(name, self.namespace, 4, 50),
            workload,
            lambda: draining,
            delay=30,
            max_delay=300,
            later=self.asked.setdefault(name, []).append,
            rate=rate,
            now=self.clock,
        )


def test_a_standing_budget_waits_for_the_namespaces_starting_services(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("slow", deployment(4, 1))  # starting
    assert not ns.protect("early", deployment(4, 4))  # settled first
    clock.now += 40  # its own 30 s are over, but "slow" is still starting
    assert not ns.protect("early", deployment(4, 4))
    assert ns.asked["early"] == [300.0, 260.0]  # the longest wait, from when its tasks ran
    assert api.calls == []
    # the last starting service settles: the waiting one is asked for at once
    assert not ns.protect("slow", deployment(4, 4))
    assert ns.asked["early"][-1] == 0.0
    assert ns.asked["slow"] == [30.0]  # its own delay, nobody else starting
    assert ns.protect("early", deployment(4, 4))
    assert api.calls == ["apply PodDisruptionBudget ns/early"]
    clock.now += 30
    assert ns.protect("slow", deployment(4, 4))


def test_at_the_end_of_a_burst_each_waiting_budget_comes_at_its_own_time(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("slow", deployment(4, 1))
    assert not ns.protect("early", deployment(4, 4))
    clock.now += 20
    assert not ns.protect("late", deployment(4, 4))  # settled 10 s before "slow" does
    clock.now += 10
    assert not ns.protect("slow", deployment(4, 4))
    # "early" ran 30 s ago: at once; "late" 10 s ago: in 20 s, not now and again then
    assert ns.asked["early"][-1] == 0.0
    assert ns.asked["late"][-1] == pytest.approx(20.0)
    assert ns.protect("early", deployment(4, 4))
    assert not ns.protect("late", deployment(4, 4))
    clock.now += 20
    assert ns.protect("late", deployment(4, 4))
    assert api.calls == ["apply PodDisruptionBudget ns/early", "apply PodDisruptionBudget ns/late"]


def test_standing_budgets_due_together_take_turns(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    names = ["a", "b", "c", "d"]
    for name in names:
        assert not ns.protect(name, deployment(4, 4), rate=2)
    clock.now += 30  # all four are due at once: a turn each, half a second apart
    assert [ns.protect(name, deployment(4, 4), rate=2) for name in names] == [True, False, False, False]
    assert [ns.asked[name][-1] for name in names[1:]] == pytest.approx([0.5, 1.0, 1.5])
    # asked again early, each keeps its place; at its turn, it writes
    clock.now += 0.5
    assert [ns.protect(name, deployment(4, 4), rate=2) for name in names[1:]] == [True, False, False]
    assert ns.asked["c"][-1] == pytest.approx(0.5)
    clock.now += 1.0
    assert ns.protect("d", deployment(4, 4), rate=2) and ns.protect("c", deployment(4, 4), rate=2)
    assert api.calls == [f"apply PodDisruptionBudget ns/{n}" for n in ("a", "b", "d", "c")]
    # a budget in place follows the spec at once, and a draining instance brings one at once
    assert budgets.protect(
        "ns",
        "a",
        "uid-a",
        build_disruption_budget("a", "ns", 6, 50),
        deployment(6, 4),
        lambda: False,
        rate=2,
        now=clock,
    )
    assert ns.protect("e", deployment(4, 1), draining=True, rate=2)


def test_a_service_deleted_while_waiting_for_its_turn_gives_it_up(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    for name in ("a", "b"):
        ns.protect(name, deployment(4, 4), rate=1)
    clock.now += 30
    assert ns.protect("a", deployment(4, 4), rate=1) and not ns.protect("b", deployment(4, 4), rate=1)
    assert ("ns", "b", "uid-b") in budgets.turns
    budgets.forget("ns", "b", "uid-b", max_delay=300, now=clock)
    assert ("ns", "b", "uid-b") not in budgets.turns


def test_a_service_deleted_just_before_its_turn_takes_no_turn_and_writes_nothing(api: FakeApi) -> None:
    clock = Clock()
    budgets.created("ns", "web", "u1", now=clock)

    def deleted_meanwhile() -> bool:
        budgets.forget("ns", "web", "u1", max_delay=300, now=clock)
        return False

    assert not budgets.protect(
        "ns", "web", "u1", BUDGET, deployment(4, 4), deleted_meanwhile, delay=0, max_delay=300, rate=1, now=clock
    )
    assert ("ns", "web", "u1") not in budgets.turns and api.calls == []


def test_a_service_that_never_settles_holds_the_others_at_most_the_longest_wait(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("stuck", deployment(4, 0))
    clock.now += 10
    assert not ns.protect("early", deployment(4, 4))
    clock.now += 289
    assert not ns.protect("early", deployment(4, 4))
    # until "stuck" stops counting (300 s after it was first seen), not its own longest wait
    assert ns.asked["early"] == [290.0, 1.0]
    clock.now += 1
    # "stuck" was first seen starting 300 s ago: it holds nobody from now on
    assert ns.protect("early", deployment(4, 4))
    assert not ns.protect("late", deployment(4, 4))
    assert ns.asked["late"] == [30.0]


def test_a_starting_service_deleted_or_scaled_to_zero_holds_nobody(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("gone", deployment(4, 1))
    assert not ns.protect("idle", deployment(4, 1))
    assert not ns.protect("early", deployment(4, 4))
    clock.now += 30
    assert not ns.protect("idle", deployment(0, 0))  # scaled to zero: nothing to wait for
    assert ns.asked["early"] == [300.0]
    budgets.forget("ns", "gone", "uid-gone", max_delay=300, now=clock)
    assert ns.asked["early"] == [300.0, 0.0]
    assert ns.protect("early", deployment(4, 4))


def test_other_namespaces_and_draining_do_not_wait(api: FakeApi) -> None:
    clock = Clock()
    busy, quiet = Namespace(clock, "busy"), Namespace(clock, "quiet")
    assert not busy.protect("starting", deployment(4, 0))
    assert not quiet.protect("web", deployment(4, 4))
    assert quiet.asked["web"] == [30.0]
    assert not busy.protect("web", deployment(4, 4))
    assert busy.asked["web"] == [300.0]
    # a task of it on a DRAINING instance: its budget first, whoever is starting
    assert busy.protect("web", deployment(4, 4), draining=True)
    assert api.calls == ["apply PodDisruptionBudget busy/web"]


def test_a_deleted_service_leaves_nothing_behind_even_if_a_reconcile_was_under_way(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("web", deployment(4, 1))
    assert not ns.protect("early", deployment(4, 4))
    budgets.forget("ns", "web", "uid-web", max_delay=300, now=clock)
    # a reconcile of the deleted service that was under way finishes after the deletion
    assert not budgets.protect(
        "ns", "web", "uid-web", BUDGET, deployment(4, 1), lambda: False, delay=30, max_delay=300, now=clock
    )
    assert "ns" not in budgets.starting
    budgets.forget("ns", "early", "uid-early", max_delay=300, now=clock)
    for memory in (budgets.applied, budgets.new, budgets.absent, budgets.protectable_since, budgets.waiting):
        assert not memory, memory


def test_a_new_service_counts_as_starting_from_its_workloads_creation(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("early", deployment(4, 4))
    assert ns.asked["early"] == [30.0]
    # created, its Deployment not seen yet (its first reconcile returns before the budget's look)
    budgets.created("ns", "fresh", "uid-fresh", now=clock)
    clock.now += 30
    assert not ns.protect("early", deployment(4, 4))
    assert ns.asked["early"][-1] == 270.0
    assert not ns.protect("fresh", None)  # still starting, not settled by having no workload
    assert not ns.protect("early", deployment(4, 4))
    assert ns.protect("fresh", deployment(4, 4)) is False  # settles: its own 30 s start now
    assert ns.asked["early"][-1] == 0.0
    assert ns.protect("early", deployment(4, 4))


@pytest.mark.parametrize("released_by", ["settling", "no budget planned"])
def test_a_service_seen_as_new_holds_the_namespaces_budgets_until_released(api: FakeApi, released_by: str) -> None:
    """Seen, still in the work queue (no workload yet): it holds the others' budgets as a
    service whose workload exists does, until it settles, or until its reconcile plans no
    budget (a DAEMON service, a spec that cannot run)."""
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("early", deployment(4, 4))
    budgets.sighted("ns", "new", "uid-new", now=clock)
    clock.now += 30
    assert not ns.protect("early", deployment(4, 4))
    assert ns.asked["early"][-1] == 270.0
    if released_by == "settling":
        assert not ns.protect("new", deployment(4, 4))
    else:
        budgets.not_starting("ns", "new", "uid-new", max_delay=300, now=clock)
    assert ns.asked["early"][-1] == 0.0
    assert ns.protect("early", deployment(4, 4))


def test_a_service_sighted_again_after_its_budget_or_its_deletion_is_not_starting(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("web", deployment(4, 4))
    clock.now += 30
    assert ns.protect("web", deployment(4, 4))
    budgets.sighted("ns", "web", "uid-web", now=clock)  # e.g. listed again after a watch's 410
    budgets.forget("ns", "gone", "uid-gone", max_delay=300, now=clock)
    budgets.sighted("ns", "gone", "uid-gone", now=clock)  # its ADDED came after its deletion
    assert "ns" not in budgets.starting


def test_a_service_deleted_during_its_budgets_lookup_leaves_nothing_behind(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()

    def deleted_meanwhile(api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        budgets.forget("ns", "web", "u1", max_delay=300, now=clock)  # the informer thread, during the GET
        return api.get(api_version, plural, namespace, name)

    monkeypatch.setattr(kube, "get", deleted_meanwhile)
    for tasks_running in (2, 4):  # mid-rollout after a restart, and settled
        assert not budgets.protect(
            "ns", "web", "u1", BUDGET, deployment(4, tasks_running), lambda: False, delay=30, max_delay=300, now=clock
        )
    for memory in (budgets.starting, budgets.absent, budgets.applied, budgets.waiting, budgets.protectable_since):
        assert not memory, memory


def test_a_service_past_the_longest_wait_is_not_counted_again_until_it_settles(api: FakeApi) -> None:
    clock = Clock()
    ns = Namespace(clock)
    assert not ns.protect("stuck", deployment(4, 0))
    clock.now += 301
    assert not ns.protect("early", deployment(4, 4))  # "stuck" stops counting here
    assert ns.asked["early"] == [30.0]
    assert not ns.protect("stuck", deployment(4, 1))  # its next event: still not settled
    clock.now += 30
    assert ns.protect("early", deployment(4, 4))  # its own 30 s, not held by "stuck" again
    assert not ns.protect("stuck", deployment(4, 4))  # settles: its own budget in 30 s
    assert ns.asked["stuck"] == [30.0]
