"""status.autoScaling from the HorizontalPodAutoscaler, and the ECS events of scaling."""

from typing import Any

from ecs_facade.model.autoscaling import AutoScaling
from ecs_facade.views.autoscaling import autoscaling_status, current_values, scaling_cause

CPU = {"predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}}
MEMORY = {"predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageMemoryUtilization"}}
SCALING = AutoScaling.model_validate(
    {
        "minCapacity": 2,
        "maxCapacity": 6,
        "targetTrackingScalingPolicies": [
            {"policyName": "cpu50", "targetValue": 50, **CPU},
            {"policyName": "mem70", "targetValue": 70, **MEMORY},
        ],
    }
)
STAMP = "2026-12-01T10:00:00Z"


def hpa_with(current: list[dict[str, Any]], **status: Any) -> dict[str, Any]:
    return {"status": {"currentMetrics": current, **status}}


def resource(name: str, utilization: int) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": name, "current": {"averageUtilization": utilization}}}


def test_current_values_of_every_metric_type() -> None:
    hpa = hpa_with(
        [
            resource("cpu", 93),
            {"type": "Pods", "pods": {"metric": {"name": "x"}, "current": {"averageValue": "1500m"}}},
            {"type": "External", "external": {"metric": {"name": "q"}, "current": {"value": "12"}}},
            {"type": "Resource", "resource": {"name": "cpu", "current": {}}},
        ]
    )
    assert current_values(hpa) == [93.0, 1.5, 12.0, None]
    assert current_values(None) == []


def test_status_shows_range_capacity_policies_and_hpa_conditions() -> None:
    hpa = hpa_with(
        [resource("cpu", 93), resource("memory", 20)],
        currentReplicas=2,
        desiredReplicas=4,
        lastScaleTime="2026-12-01T09:59:50Z",
        conditions=[
            {"type": "AbleToScale", "status": "True", "reason": "SucceededRescale", "message": "scaled to 4"},
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "ok"},
            {"type": "Other", "status": "True"},
        ],
    )
    status = autoscaling_status(SCALING, hpa, None, None, 2, STAMP)
    assert (status["minCapacity"], status["maxCapacity"]) == (2, 6)
    assert (status["currentCapacity"], status["desiredCapacity"]) == (2, 4)
    assert status["lastScaleTime"] == "2026-12-01T09:59:50Z"
    assert status["policies"] == [
        {"policyName": "cpu50", "policyType": "TargetTrackingScaling", "targetValue": 50.0, "currentValue": 93.0},
        {"policyName": "mem70", "policyType": "TargetTrackingScaling", "targetValue": 70.0, "currentValue": 20.0},
    ]
    assert [c["type"] for c in status["conditions"]] == ["AbleToScale", "ScalingActive"]
    assert "lastScalingActivity" not in status  # the count has not moved


def test_before_the_hpa_reports_there_are_no_current_values() -> None:
    status = autoscaling_status(SCALING, None, None, None, 2, STAMP)
    assert [set(p) for p in status["policies"]] == [{"policyName", "policyType", "targetValue"}] * 2
    assert "currentCapacity" not in status


def test_a_count_change_records_the_scaling_activity_and_its_cause() -> None:
    hpa = hpa_with([resource("cpu", 100), resource("memory", 20)])
    status = autoscaling_status(SCALING, hpa, None, 2, 4, STAMP)
    assert status["lastScalingActivity"] == {
        "startTime": STAMP,
        "description": "Setting desired count to 4.",
        "cause": "policy cpu50 (100 against 50) changing the desired count from 2 to 4",
    }
    # kept while the count stays
    again = autoscaling_status(SCALING, hpa, status, 4, 4, "2026-12-01T10:05:00Z")
    assert again["lastScalingActivity"] == status["lastScalingActivity"]


def test_scale_in_cause_names_the_policies() -> None:
    policies = [{"policyName": "cpu50", "targetValue": 50, "currentValue": 10}]
    assert scaling_cause(policies, 4, 2) == "policies cpu50 below their targets changing the desired count from 4 to 2"
    assert scaling_cause([], 4, 2) == "the HorizontalPodAutoscaler changing the desired count from 4 to 2"


def test_step_policies_share_the_one_metric() -> None:
    scaling = AutoScaling.model_validate(
        {
            "minCapacity": 1,
            "maxCapacity": 5,
            "stepScalingPolicies": [
                {
                    "policyName": "out",
                    "adjustmentType": "ChangeInCapacity",
                    "stepAdjustments": [{"scalingAdjustment": 1}],
                    "alarm": {**CPU, "comparisonOperator": "GreaterThanThreshold", "threshold": 70},
                },
                {
                    "policyName": "in",
                    "adjustmentType": "ChangeInCapacity",
                    "stepAdjustments": [{"scalingAdjustment": -1}],
                    "alarm": {**CPU, "comparisonOperator": "LessThanThreshold", "threshold": 30},
                },
            ],
        }
    )
    status = autoscaling_status(scaling, hpa_with([resource("cpu", 55)]), None, None, 1, STAMP)
    assert [(p["policyName"], p["targetValue"], p["currentValue"]) for p in status["policies"]] == [
        ("out", 70.0, 55.0),
        ("in", 30.0, 55.0),
    ]
    # the policy of the direction the count moved is the cause, whatever the ratios
    out = autoscaling_status(scaling, hpa_with([resource("cpu", 80)]), None, 1, 2, STAMP)
    assert out["lastScalingActivity"]["cause"] == "policy out (80 against 70) changing the desired count from 1 to 2"
    in_ = autoscaling_status(scaling, hpa_with([resource("cpu", 20)]), None, 2, 1, STAMP)
    assert (
        in_["lastScalingActivity"]["cause"] == "policies in below their targets changing the desired count from 2 to 1"
    )
