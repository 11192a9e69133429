"""Application Auto Scaling policies -> HorizontalPodAutoscaler, field by field."""

from typing import Any

import pytest
from pydantic import ValidationError

from ecs_facade.controllers.service import owns_replicas
from ecs_facade.model.autoscaling import AutoScaling
from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.autoscaling import build_autoscaler, initial_count, quantity
from ecs_facade.translate.service import ServiceDecisions, build_disruption_budget, build_workload

LABELS = {"ecs.facade.dev/service": "web"}
CPU = {"predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"}}
MEMORY = {"predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageMemoryUtilization"}}


def hpa(scaling: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return build_autoscaler("web", "team-a", AutoScaling.model_validate(scaling), LABELS, **kwargs)


def tracking(*policies: dict[str, Any], low: int = 2, high: int = 6, **extra: Any) -> dict[str, Any]:
    return {"minCapacity": low, "maxCapacity": high, "targetTrackingScalingPolicies": list(policies), **extra}


def cpu(target: float = 50, name: str = "cpu", **extra: Any) -> dict[str, Any]:
    return {"policyName": name, "targetValue": target, **CPU, **extra}


# --- the HPA object ---


def test_hpa_targets_the_services_deployment_within_min_and_max() -> None:
    manifest = hpa(tracking(cpu()))
    assert manifest["apiVersion"] == "autoscaling/v2"
    assert manifest["kind"] == "HorizontalPodAutoscaler"
    assert manifest["metadata"] == {"name": "web", "namespace": "team-a", "labels": LABELS}
    spec = manifest["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)


def test_cpu_target_tracking_is_average_utilization_of_the_reservation() -> None:
    metrics = hpa(tracking(cpu(50)))["spec"]["metrics"]
    assert metrics == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
    ]


def test_memory_target_tracking_is_average_utilization_of_memory() -> None:
    metrics = hpa(tracking({"policyName": "mem", "targetValue": 75, **MEMORY}))["spec"]["metrics"]
    assert metrics[0]["resource"] == {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 75}}


@pytest.mark.parametrize(
    ("metric_type", "resource"),
    [
        ("ECSServiceAverageCPUUtilizationHighResolution", "cpu"),
        ("ECSServiceAverageMemoryUtilizationHighResolution", "memory"),
    ],
)
def test_high_resolution_metrics_are_the_same_resources(metric_type: str, resource: str) -> None:
    policy = {
        "policyName": "p",
        "targetValue": 40,
        "predefinedMetricSpecification": {"predefinedMetricType": metric_type},
    }
    assert hpa(tracking(policy))["spec"]["metrics"][0]["resource"]["name"] == resource


@pytest.mark.parametrize(("target", "utilization"), [(50.4, 50), (50.5, 50), (50.6, 51), (0.2, 1)])
def test_fractional_utilization_targets_round_to_whole_percent(target: float, utilization: int) -> None:
    metric = hpa(tracking(cpu(target)))["spec"]["metrics"][0]
    assert metric["resource"]["target"]["averageUtilization"] == utilization


def test_request_count_per_target_is_a_pods_metric_with_an_average_value() -> None:
    policy = {
        "policyName": "requests",
        "targetValue": 1000,
        "predefinedMetricSpecification": {
            "predefinedMetricType": "ALBRequestCountPerTarget",
            "resourceLabel": "app/web/123/targetgroup/web/456",
        },
    }
    assert hpa(tracking(policy))["spec"]["metrics"] == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "alb_request_count_per_target"},
                "target": {"type": "AverageValue", "averageValue": "1000"},
            },
        }
    ]


def test_customized_metric_is_an_external_metric_selected_by_its_dimensions() -> None:
    policy = {
        "policyName": "queue",
        "targetValue": 7.5,
        "customizedMetricSpecification": {
            "metricName": "backlog_per_task",
            "namespace": "MyApp",
            "statistic": "Average",
            "dimensions": [{"name": "queue", "value": "orders"}],
        },
    }
    assert hpa(tracking(policy))["spec"]["metrics"] == [
        {
            "type": "External",
            "external": {
                "metric": {"name": "backlog_per_task", "selector": {"matchLabels": {"queue": "orders"}}},
                "target": {"type": "Value", "value": "7500m"},
            },
        }
    ]


def test_customized_metric_without_dimensions_has_no_selector() -> None:
    policy = {"policyName": "q", "targetValue": 3, "customizedMetricSpecification": {"metricName": "depth"}}
    assert hpa(tracking(policy))["spec"]["metrics"][0]["external"]["metric"] == {"name": "depth"}


def test_dimension_value_that_is_no_label_value_is_a_clear_error() -> None:
    policy = {
        "policyName": "q",
        "targetValue": 3,
        "customizedMetricSpecification": {
            "metricName": "depth",
            "dimensions": [{"name": "ClusterName", "value": "arn:aws:ecs:us-east-1:1:cluster/x"}],
        },
    }
    with pytest.raises(TranslationError, match=r"dimension ClusterName .* cannot be a Kubernetes label value"):
        hpa(tracking(policy))


def test_every_policy_is_one_metric_and_the_hpa_takes_the_largest_count() -> None:
    metrics = hpa(tracking(cpu(60), {"policyName": "mem", "targetValue": 70, **MEMORY}))["spec"]["metrics"]
    assert [m["resource"]["name"] for m in metrics] == ["cpu", "memory"]


def test_min_capacity_zero_is_one_for_utilization_metrics() -> None:
    assert hpa(tracking(cpu(), low=0))["spec"]["minReplicas"] == 1


def test_min_capacity_zero_stays_zero_with_an_external_metric() -> None:
    policy = {"policyName": "q", "targetValue": 3, "customizedMetricSpecification": {"metricName": "depth"}}
    assert hpa(tracking(policy, low=0))["spec"]["minReplicas"] == 0


# --- cooldowns, disableScaleIn, suspended state ---


def test_default_cooldowns_are_ecs_300_seconds() -> None:
    behavior = hpa(tracking(cpu()))["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert behavior["scaleDown"]["selectPolicy"] == "Max"
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert behavior["scaleUp"]["policies"] == [
        {"type": "Percent", "value": 100, "periodSeconds": 300},
        {"type": "Pods", "value": 4, "periodSeconds": 300},
    ]
    assert behavior["scaleUp"]["selectPolicy"] == "Max"


def test_scale_in_cooldown_is_the_scale_down_stabilization_window() -> None:
    behavior = hpa(tracking(cpu(scaleInCooldown=45, scaleOutCooldown=20)))["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 45
    assert {p["periodSeconds"] for p in behavior["scaleUp"]["policies"]} == {20}


def test_several_policies_take_the_longest_scale_in_and_the_shortest_scale_out_cooldown() -> None:
    policies = (
        cpu(scaleInCooldown=60, scaleOutCooldown=90),
        {"policyName": "mem", "targetValue": 70, **MEMORY, "scaleInCooldown": 600, "scaleOutCooldown": 30},
    )
    behavior = hpa(tracking(*policies))["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600
    assert {p["periodSeconds"] for p in behavior["scaleUp"]["policies"]} == {30}


def test_cooldowns_beyond_the_hpa_limits_are_capped() -> None:
    behavior = hpa(tracking(cpu(scaleInCooldown=86400, scaleOutCooldown=86400)))["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 3600
    assert {p["periodSeconds"] for p in behavior["scaleUp"]["policies"]} == {1800}


def test_zero_scale_out_cooldown_is_the_kubernetes_default_period() -> None:
    behavior = hpa(tracking(cpu(scaleOutCooldown=0)))["spec"]["behavior"]
    assert {p["periodSeconds"] for p in behavior["scaleUp"]["policies"]} == {15}


def test_disable_scale_in_on_every_policy_disables_scale_down() -> None:
    behavior = hpa(tracking(cpu(disableScaleIn=True)))["spec"]["behavior"]
    assert behavior["scaleDown"]["selectPolicy"] == "Disabled"
    assert behavior["scaleUp"]["selectPolicy"] == "Max"


def test_disable_scale_in_on_one_of_two_policies_leaves_scale_in_to_the_other() -> None:
    policies = (cpu(disableScaleIn=True, scaleInCooldown=900), {"policyName": "m", "targetValue": 70, **MEMORY})
    behavior = hpa(tracking(*policies))["spec"]["behavior"]
    assert behavior["scaleDown"]["selectPolicy"] == "Max"
    # the cooldown of the policy that never scales in does not count
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_suspended_scale_out_and_in_disable_each_direction() -> None:
    out = hpa(tracking(cpu(), suspendedState={"dynamicScalingOutSuspended": True}))["spec"]["behavior"]
    assert (out["scaleUp"]["selectPolicy"], out["scaleDown"]["selectPolicy"]) == ("Disabled", "Max")
    in_ = hpa(tracking(cpu(), suspendedState={"dynamicScalingInSuspended": True}))["spec"]["behavior"]
    assert (in_["scaleUp"]["selectPolicy"], in_["scaleDown"]["selectPolicy"]) == ("Max", "Disabled")


def test_both_suspended_pins_the_count() -> None:
    state = {"dynamicScalingInSuspended": True, "dynamicScalingOutSuspended": True}
    behavior = hpa(tracking(cpu(), suspendedState=state))["spec"]["behavior"]
    assert behavior["scaleUp"]["selectPolicy"] == behavior["scaleDown"]["selectPolicy"] == "Disabled"


def test_throttle_caps_max_replicas_at_the_working_tasks() -> None:
    spec = hpa(tracking(cpu(), low=2, high=6), max_held=1)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 1)
    spec = hpa(tracking(cpu(), low=2, high=6), max_held=0)["spec"]
    assert spec["maxReplicas"] == 1  # an HPA cannot hold zero on utilization; at least one
    spec = hpa(tracking(cpu(), low=2, high=6), max_held=10)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)


# --- step scaling ---


def step(
    name: str, adjustments: list[int], operator: str, threshold: float, kind: str = "ChangeInCapacity", **extra: Any
) -> dict[str, Any]:
    return {
        "policyName": name,
        "adjustmentType": kind,
        "stepAdjustments": [{"metricIntervalLowerBound": 0, "scalingAdjustment": a} for a in adjustments],
        "alarm": {**CPU, "comparisonOperator": operator, "threshold": threshold},
        **extra,
    }


def stepping(*policies: dict[str, Any]) -> dict[str, Any]:
    return {"minCapacity": 1, "maxCapacity": 10, "stepScalingPolicies": list(policies)}


def test_scale_out_and_in_step_policies_hold_the_metric_between_the_thresholds() -> None:
    spec = hpa(
        stepping(
            step("out", [1, 3], "GreaterThanOrEqualToThreshold", 70, cooldown=60),
            step("in", [-1], "LessThanThreshold", 30, cooldown=120),
        )
    )["spec"]
    assert spec["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}
    ]
    up, down = spec["behavior"]["scaleUp"], spec["behavior"]["scaleDown"]
    # above 70 = 50 * (1 + 0.4); below 30 = 50 * (1 - 0.4)
    assert (up["tolerance"], down["tolerance"]) == ("400m", "400m")
    assert up["policies"] == [{"type": "Pods", "value": 3, "periodSeconds": 60}]  # the largest step
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 120}]
    assert up["selectPolicy"] == down["selectPolicy"] == "Max"


def test_scale_out_step_policy_alone_never_scales_in() -> None:
    behavior = hpa(stepping(step("out", [2], "GreaterThanThreshold", 80)))["spec"]["behavior"]
    assert behavior["scaleDown"] == {"selectPolicy": "Disabled"}
    assert behavior["scaleUp"]["tolerance"] == "0"
    assert behavior["scaleUp"]["policies"] == [{"type": "Pods", "value": 2, "periodSeconds": 300}]


def test_scale_in_step_policy_alone_never_scales_out() -> None:
    spec = hpa(stepping(step("in", [-2], "LessThanOrEqualToThreshold", 20)))["spec"]
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 20
    assert spec["behavior"]["scaleUp"] == {"selectPolicy": "Disabled"}


def test_percent_change_in_capacity_is_a_percent_policy() -> None:
    up = hpa(stepping(step("out", [50], "GreaterThanThreshold", 80, kind="PercentChangeInCapacity")))["spec"]
    assert up["behavior"]["scaleUp"]["policies"] == [{"type": "Percent", "value": 50, "periodSeconds": 300}]


def test_step_policies_on_different_metrics_cannot_be_one_hpa() -> None:
    out = step("out", [1], "GreaterThanThreshold", 70)
    in_ = {
        **step("in", [-1], "LessThanThreshold", 30),
        "alarm": {**MEMORY, "comparisonOperator": "LessThanThreshold", "threshold": 30},
    }
    with pytest.raises(TranslationError, match="same metric"):
        hpa(stepping(out, in_))


def test_scale_in_threshold_must_be_below_scale_out_threshold() -> None:
    with pytest.raises(TranslationError, match=r"scale-in alarm's threshold \(80\) must be below"):
        hpa(stepping(step("out", [1], "GreaterThanThreshold", 70), step("in", [-1], "LessThanThreshold", 80)))


def test_step_alarm_threshold_zero_is_no_target() -> None:
    with pytest.raises(TranslationError, match="above 0"):
        hpa(stepping(step("in", [-1], "LessThanThreshold", 0)))


# --- what the models reject (the CRD's CEL rules say the same at kubectl apply) ---


@pytest.mark.parametrize(
    ("scaling", "message"),
    [
        (tracking(cpu(), low=5, high=2), r"minCapacity \(5\) must not exceed maxCapacity \(2\)"),
        (tracking({"policyName": "x", "targetValue": 50}), "exactly one of predefinedMetricSpecification"),
        (tracking({**cpu(), "customizedMetricSpecification": {"metricName": "m"}}), "exactly one of"),
        (
            tracking(
                {
                    "policyName": "x",
                    "targetValue": 5,
                    "predefinedMetricSpecification": {"predefinedMetricType": "DynamoDBReadCapacityUtilization"},
                }
            ),
            "predefinedMetricType",
        ),
        (tracking(cpu(scaleInCooldown=-1)), "scaleInCooldown"),
        (tracking(cpu(scaleOutCooldown=-5)), "scaleOutCooldown"),
        (tracking(cpu(0)), "targetValue"),
        (tracking(cpu(), cpu()), "policy names must be unique: cpu"),
        (
            stepping(step("x", [1], "GreaterThanThreshold", 5, kind="ExactCapacity")),
            "ExactCapacity cannot be expressed",
        ),
        (stepping(step("x", [1, -1], "GreaterThanThreshold", 5)), "either scales out"),
        (stepping(step("x", [1], "LessThanThreshold", 5)), "needs a GreaterThan alarm"),
        (
            stepping(step("a", [1], "GreaterThanThreshold", 5), step("b", [2], "GreaterThanThreshold", 9)),
            "at most one scale-out and one scale-in",
        ),
        (
            {**tracking(cpu()), "stepScalingPolicies": [step("s", [1], "GreaterThanThreshold", 5)]},
            "cannot be combined",
        ),
    ],
)
def test_invalid_policies_are_rejected_with_a_clear_message(scaling: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AutoScaling.model_validate(scaling)


def test_no_policy_at_all_is_a_clear_error() -> None:
    with pytest.raises(TranslationError, match="at least one"):
        hpa({"minCapacity": 1, "maxCapacity": 2})


@pytest.mark.parametrize(("count", "clamped"), [(0, 2), (2, 2), (4, 4), (6, 6), (9, 6)])
def test_desired_count_is_clamped_into_the_range(count: int, clamped: int) -> None:
    assert initial_count(AutoScaling.model_validate(tracking(cpu())), count) == clamped


def test_initial_count_of_min_capacity_zero_is_one_on_utilization() -> None:
    # an HPA does nothing for a target at zero replicas: the service must start with one
    assert initial_count(AutoScaling.model_validate(tracking(cpu(), low=0)), 0) == 1
    queue = {"policyName": "q", "targetValue": 3, "customizedMetricSpecification": {"metricName": "depth"}}
    assert initial_count(AutoScaling.model_validate(tracking(queue, low=0)), 0) == 0


def test_dimension_name_that_is_no_label_key_is_a_clear_error() -> None:
    policy = {
        "policyName": "q",
        "targetValue": 3,
        "customizedMetricSpecification": {"metricName": "depth", "dimensions": [{"name": "Queue Name", "value": "x"}]},
    }
    with pytest.raises(TranslationError, match="dimension name 'Queue Name' cannot be a Kubernetes label key"):
        hpa(tracking(policy))


def test_metric_name_with_a_slash_is_a_clear_error() -> None:
    policy = {"policyName": "q", "targetValue": 3, "customizedMetricSpecification": {"metricName": "AWS/SQS"}}
    with pytest.raises(TranslationError, match="cannot be a Kubernetes metric name"):
        hpa(tracking(policy))


def test_target_value_below_a_milli_unit_is_a_clear_error() -> None:
    policy = {"policyName": "q", "targetValue": 0.0001, "customizedMetricSpecification": {"metricName": "depth"}}
    with pytest.raises(TranslationError, match=r"below 0\.001"):
        hpa(tracking(policy))


def test_tiny_step_threshold_is_a_clear_error_not_a_crash() -> None:
    policy = step("out", [1], "GreaterThanThreshold", 0.0004)
    policy["alarm"] = {**policy["alarm"], "predefinedMetricSpecification": None}
    policy["alarm"]["customizedMetricSpecification"] = {"metricName": "depth"}
    with pytest.raises(TranslationError, match=r"0\.0004 is below 0\.001"):
        hpa(stepping(policy))
    # on utilization the smallest target is 1 %: no division by a zero target
    assert hpa(stepping(step("out", [1], "GreaterThanThreshold", 0.0004)))["spec"]["metrics"][0]["resource"][
        "target"
    ] == {"type": "Utilization", "averageUtilization": 1}


@pytest.mark.parametrize(("value", "text"), [(1000, "1000"), (7.5, "7500m"), (0.4, "400m"), (2.0, "2")])
def test_quantities(value: float, text: str) -> None:
    assert quantity(value) == text


# --- the Deployment and its budget while an autoscaler owns the count ---

TASK_DEFINITION = parse_task_definition(
    {"cpu": "256", "memory": "512", "containerDefinitions": [{"name": "app", "image": "app:1"}]}, "web"
)


def test_deployment_leaves_replicas_to_the_autoscaler() -> None:
    decisions = ServiceDecisions(desired_count=4, write_replicas=False)
    spec = build_workload("web", "ns", TASK_DEFINITION, 1, decisions).manifest["spec"]
    assert "replicas" not in spec
    # the rollout still follows ECS's percentages of the count the autoscaler set
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 4, "maxUnavailable": 0}


def test_deployment_writes_replicas_without_an_autoscaler() -> None:
    spec = build_workload("web", "ns", TASK_DEFINITION, 1, ServiceDecisions(desired_count=4)).manifest["spec"]
    assert spec["replicas"] == 4


def test_disruption_budget_is_a_percentage_while_the_count_moves() -> None:
    assert build_disruption_budget("web", "ns", None, 50)["spec"]["minAvailable"] == "50%"
    assert build_disruption_budget("web", "ns", 3, 50)["spec"]["minAvailable"] == 2


def _managed(manager: str, operation: str, spec_fields: dict[str, Any]) -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "fieldsV1": {"f:spec": spec_fields}}


def test_owns_replicas_reads_server_side_apply_ownership() -> None:
    applied = {"metadata": {"managedFields": [_managed("ecs-facade", "Apply", {"f:replicas": {}, "f:template": {}})]}}
    assert owns_replicas(applied)
    handed = {
        "metadata": {
            "managedFields": [
                _managed("ecs-facade", "Apply", {"f:template": {}}),
                _managed("kube-controller-manager", "Update", {"f:replicas": {}}),
            ]
        }
    }
    assert not owns_replicas(handed)
    assert not owns_replicas({"metadata": {}})


def test_edits_by_others_are_told_from_the_operators_and_the_hpas() -> None:
    from ecs_facade.controllers.service.apply import _edited_by_others

    def entry(manager: str, subresource: str | None = None, spec: bool = True) -> dict[str, Any]:
        fields: dict[str, Any] = {"f:spec": {"f:replicas": {}}} if spec else {"f:status": {}}
        return {"manager": manager, "operation": "Update", "subresource": subresource, "fieldsV1": fields}

    ours = [
        entry("ecs-facade"),
        entry("ecs-facade-replicas-handover"),
        entry("kube-controller-manager", "status", False),
    ]
    assert not _edited_by_others({"metadata": {"managedFields": ours}})
    assert not _edited_by_others({"metadata": {"managedFields": [*ours, entry("kube-controller-manager", "scale")]}})
    assert _edited_by_others({"metadata": {"managedFields": [*ours, entry("kubectl-edit")]}})
    assert _edited_by_others({"metadata": {"managedFields": [*ours, entry("kubectl", "scale")]}})
