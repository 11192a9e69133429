"""The scheduler's throttle: rounds of failures, growing holds, and what counts as a round."""

from ecs_facade.views.throttle import FIRST_SECONDS, MAX_SECONDS, holding, later, next_throttle

T0 = "2026-12-01T10:00:00Z"
DEP = "ecs-svc/0000000000000000001"


def test_fewer_failures_than_the_threshold_hold_nothing() -> None:
    assert next_throttle({}, DEP, 2, 3, T0, rolling_out=True) == ({}, False)


def test_the_first_round_holds_launches_for_ten_seconds() -> None:
    throttle, started = next_throttle({}, DEP, 3, 3, T0, rolling_out=True)
    assert started
    assert throttle == {"deployment": DEP, "attempts": 1, "failedTasks": 3, "nextAttemptAt": later(T0, FIRST_SECONDS)}
    assert holding(throttle, T0)
    assert not holding(throttle, later(T0, FIRST_SECONDS))


def test_tasks_failing_while_launches_are_held_are_not_a_new_round() -> None:
    first, _ = next_throttle({}, DEP, 3, 3, T0, rolling_out=True)
    # the tasks launched before the hold fail during it: twice the threshold, still one round
    during, started = next_throttle(first, DEP, 8, 3, later(T0, 2), rolling_out=True)
    assert not started
    assert during["attempts"] == 1
    assert during["failedTasks"] == 8
    assert during["nextAttemptAt"] == first["nextAttemptAt"]
    # after the hold, only tasks that fail from then on count
    after = later(T0, FIRST_SECONDS + 1)
    assert next_throttle(during, DEP, 10, 3, after, rolling_out=True) == (during, False)
    second, started = next_throttle(during, DEP, 11, 3, after, rolling_out=True)
    assert started
    assert second["attempts"] == 2
    assert second["nextAttemptAt"] == later(after, 2 * FIRST_SECONDS)
    assert second["nextAttemptAt"] > first["nextAttemptAt"]


def test_holds_double_up_to_about_27_minutes() -> None:
    throttle: dict[str, object] = {}
    moment = T0
    for round_ in range(1, 12):
        throttle, started = next_throttle(throttle, DEP, 3 * round_, 3, moment, rolling_out=True)
        assert started and throttle["attempts"] == round_
        moment = str(throttle["nextAttemptAt"])
    # 10, 20, 40, … 1280 s, then capped at 1620 s
    assert moment == later(T0, sum(min(MAX_SECONDS, FIRST_SECONDS * 2**i) for i in range(11)))
    assert MAX_SECONDS == 1620


def test_a_new_deployment_starts_over() -> None:
    first, _ = next_throttle({}, DEP, 3, 3, T0, rolling_out=True)
    other = "ecs-svc/0000000000000000002"
    assert next_throttle(first, other, 2, 3, later(T0, 1), rolling_out=True) == ({}, False)
    fresh, started = next_throttle(first, other, 3, 3, later(T0, 1), rolling_out=True)
    assert started and fresh["attempts"] == 1


def test_a_completed_deployment_starts_no_round_but_keeps_its_throttle() -> None:
    assert next_throttle({}, DEP, 5, 3, T0, rolling_out=False) == ({}, False)
    first, _ = next_throttle({}, DEP, 3, 3, T0, rolling_out=True)
    # a replacement made the rollout look complete for a moment: the hold and its count stay
    kept, started = next_throttle(first, DEP, 6, 3, later(T0, 1), rolling_out=False)
    assert not started
    assert kept == {**first, "failedTasks": 6}
