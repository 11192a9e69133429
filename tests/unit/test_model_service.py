"""ServiceSpec helpers: the values ECS uses when a CreateService request leaves them out."""

from typing import Any

import pytest

from ecs_facade.model.service import (
    ServiceSpec,
    deployment_blocked_reason,
    desired_count,
    is_daemon,
    maximum_percent,
    minimum_healthy_percent,
    scheduling_strategy,
)


def spec(**fields: Any) -> ServiceSpec:
    return ServiceSpec.model_validate({"serviceName": "web", "taskDefinition": "web", **fields})


def test_service_spec_is_the_generated_create_service_request() -> None:
    service = spec(desiredCount=3)
    assert type(service).__name__ == "CreateServiceRequest"
    assert (service.serviceName, service.taskDefinition, service.cluster) == ("web", "web", "default")


def test_replica_defaults() -> None:
    service = spec(desiredCount=2)
    assert scheduling_strategy(service) == "REPLICA"
    assert not is_daemon(service)
    assert desired_count(service) == 2
    assert (maximum_percent(service), minimum_healthy_percent(service)) == (200, 100)


def test_daemon_defaults_and_no_desired_count() -> None:
    service = spec(schedulingStrategy="DAEMON")
    assert is_daemon(service)
    assert desired_count(service) == 0
    assert (maximum_percent(service), minimum_healthy_percent(service)) == (100, 0)


def test_explicit_percentages_win_also_when_one_is_given() -> None:
    service = spec(desiredCount=4, deploymentConfiguration={"maximumPercent": 150})
    assert (maximum_percent(service), minimum_healthy_percent(service)) == (150, 100)
    service = spec(desiredCount=4, deploymentConfiguration={"minimumHealthyPercent": 0})
    assert (maximum_percent(service), minimum_healthy_percent(service)) == (200, 0)
    breaker = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    service = spec(desiredCount=4, deploymentConfiguration=breaker)
    assert (maximum_percent(service), minimum_healthy_percent(service)) == (200, 100)


def test_explicit_zero_desired_count_is_kept() -> None:
    assert desired_count(spec(desiredCount=0)) == 0


@pytest.mark.parametrize(
    ("desired", "maximum", "minimum"),
    [
        (3, 100, 100),  # neither start nor stop
        (1, 150, 100),  # floor(1.5) = 1: no room for a second task
        (2, 120, 60),  # floor(2.4) = 2, ceil(1.2) = 2
    ],
)
def test_deployment_that_can_never_progress_is_explained(desired: int, maximum: int, minimum: int) -> None:
    service = spec(
        desiredCount=desired,
        deploymentConfiguration={"maximumPercent": maximum, "minimumHealthyPercent": minimum},
    )
    reason = deployment_blocked_reason(service)
    assert reason is not None
    assert f"maximumPercent {maximum}%" in reason and f"minimumHealthyPercent {minimum}%" in reason


@pytest.mark.parametrize(
    "fields",
    [
        {"desiredCount": 1},  # 200/100: start one, then stop one
        {"desiredCount": 0, "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 100}},
        {"desiredCount": 4, "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 50}},
        {"desiredCount": 2, "deploymentConfiguration": {"maximumPercent": 150, "minimumHealthyPercent": 100}},
        {"schedulingStrategy": "DAEMON", "deploymentConfiguration": {"maximumPercent": 100}},
    ],
)
def test_deployment_that_can_progress_has_no_reason(fields: dict[str, Any]) -> None:
    assert deployment_blocked_reason(spec(**fields)) is None
