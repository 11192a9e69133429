from typing import Any

from ecs_facade.views.conditions import set_condition
from ecs_facade.views.service import ServiceCounts, rollout_readiness, service_counts


def deployment(generation: int = 1, **status: int) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": status}


def test_counts_from_deployment_status() -> None:
    counts = service_counts(3, deployment(replicas=3, readyReplicas=1))
    assert counts == ServiceCounts(desiredCount=3, runningCount=1, pendingCount=2)


def test_no_deployment_counts_nothing_running() -> None:
    assert service_counts(2, None) == ServiceCounts(2, 0, 0)


def test_steady_state_is_ready() -> None:
    d = deployment(observedGeneration=1, replicas=3, readyReplicas=3, updatedReplicas=3)
    readiness = rollout_readiness("web", service_counts(3, d), d)
    assert readiness.ready
    assert readiness.reason == "SteadyState"
    assert readiness.message == "(service web) has reached a steady state."


def test_unobserved_generation_is_not_ready_even_with_counts_met() -> None:
    d = deployment(generation=2, observedGeneration=1, replicas=3, readyReplicas=3, updatedReplicas=3)
    assert not rollout_readiness("web", service_counts(3, d), d).ready


def test_scaling_down_is_not_ready_until_extra_tasks_are_gone() -> None:
    d = deployment(observedGeneration=1, replicas=5, readyReplicas=5, updatedReplicas=5)
    readiness = rollout_readiness("web", service_counts(3, d), d)
    assert not readiness.ready
    assert readiness.reason == "RolloutInProgress"


def test_pending_tasks_are_reported() -> None:
    d = deployment(observedGeneration=1, replicas=3, readyReplicas=1, updatedReplicas=3)
    readiness = rollout_readiness("web", service_counts(3, d), d)
    assert (readiness.ready, readiness.message) == (False, "1 of 3 tasks running, 2 pending")


def test_condition_transition_time_moves_only_on_status_change() -> None:
    first = set_condition(None, type="Ready", status=False, reason="A", message="a", observed_generation=1, now="t1")
    same = set_condition(first, type="Ready", status=False, reason="B", message="b", observed_generation=2, now="t2")
    flipped = set_condition(same, type="Ready", status=True, reason="C", message="c", observed_generation=2, now="t3")
    assert first[0]["lastTransitionTime"] == "t1"
    assert same[0]["lastTransitionTime"] == "t1"
    assert (same[0]["reason"], same[0]["observedGeneration"]) == ("B", 2)
    assert flipped[0]["lastTransitionTime"] == "t3"
    assert flipped[0]["status"] == "True"


def test_other_conditions_are_kept() -> None:
    conditions = [{"type": "Zeta", "status": "True"}]
    result = set_condition(
        conditions, type="Ready", status=True, reason="R", message="m", observed_generation=None, now="t"
    )
    assert [c["type"] for c in result] == ["Ready", "Zeta"]
    assert "observedGeneration" not in result[0]
