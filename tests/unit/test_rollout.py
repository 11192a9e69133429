"""maximumPercent/minimumHealthyPercent as maxSurge/maxUnavailable, with ECS's rounding."""

import pytest

from ecs_facade.translate.rollout import circuit_breaker_threshold, rolling_update


@pytest.mark.parametrize(
    ("desired", "maximum", "minimum", "surge", "unavailable"),
    [
        (6, 200, 50, 6, 3),  # the acceptance case: never below 3 running
        (6, 200, 100, 6, 0),  # ECS defaults: start new tasks first
        (6, 100, 0, 0, 6),  # stop everything, then start
        (3, 150, 50, 1, 1),  # max rounds down: floor(4.5) = 4; min rounds up: ceil(1.5) = 2
        (5, 120, 90, 1, 0),  # floor(6) - 5 = 1; 5 - ceil(4.5) = 0
        (1, 200, 50, 1, 0),  # ceil(0.5) = 1 healthy: nothing may stop first
        (10, 100, 50, 0, 5),
        (4, 125, 75, 1, 1),
    ],
)
def test_exact_arithmetic(desired: int, maximum: int, minimum: int, surge: int, unavailable: int) -> None:
    update = rolling_update(desired, maximum, minimum)
    assert (update.max_surge, update.max_unavailable, update.stalls_in_ecs) == (surge, unavailable, False)


def test_hundred_hundred_stalls_in_ecs_and_surges_by_one_here() -> None:
    update = rolling_update(4, 100, 100)
    assert (update.max_surge, update.max_unavailable, update.stalls_in_ecs) == (1, 0, True)


def test_zero_desired_is_a_valid_strategy() -> None:
    assert rolling_update(0, 200, 100).strategy() == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }


@pytest.mark.parametrize(("desired", "threshold"), [(1, 3), (6, 3), (7, 4), (10, 5), (1000, 200)])
def test_circuit_breaker_threshold(desired: int, threshold: int) -> None:
    assert circuit_breaker_threshold(desired) == threshold


@pytest.mark.parametrize(
    ("desired", "configuration", "threshold"),
    [
        (10, {"type": "BOUNDED_PERCENT", "value": 50}, 5),  # the default, spelled out
        (10, {"type": "BOUNDED_PERCENT", "value": 10}, 3),  # at least 3
        (25, {"type": "BOUNDED_PERCENT", "value": 50}, 13),  # rounded up
        (800, {"type": "BOUNDED_PERCENT", "value": 50}, 200),  # at most 200
        (800, {"type": "UNBOUNDED_PERCENT", "value": 50}, 400),
        (1, {"type": "UNBOUNDED_PERCENT", "value": 50}, 1),
        (10, {"type": "COUNT", "value": 7}, 7),
        (1000, {"type": "COUNT", "value": 1}, 1),
    ],
)
def test_circuit_breaker_threshold_configuration(
    desired: int, configuration: dict[str, object], threshold: int
) -> None:
    assert circuit_breaker_threshold(desired, configuration) == threshold
