"""Application Auto Scaling policies as one ``autoscaling/v2`` HorizontalPodAutoscaler.

Application Auto Scaling moves an ECS service's desired count; the HPA moves the
Deployment's replicas. How the two meet (docs/autoscaling.md has the full table):

- Target tracking on ECSServiceAverageCPUUtilization / MemoryUtilization is a Resource
  metric with ``averageUtilization``. ECS divides the CPU (memory) the service's tasks use
  by the CPU (memory) their task definition reserves; the HPA divides usage by the pods'
  requests, and ecs-facade's requests *are* the reservations (task-level cpu/memory become
  pod-level requests, container cpu/memoryReservation container requests).
- ALBRequestCountPerTarget is a Pods metric ``alb_request_count_per_target`` (per task);
  a customized metric is an External metric named ``metricName`` whose label selector is
  its dimensions. Both need a metrics adapter; the target is held as target tracking does
  (``Value``: the count moves in proportion to metric / target).
- Several policies: the HPA takes the largest count any metric asks for, which is
  Application Auto Scaling's rule (scale out if any policy says so, in only if all do).
- scaleInCooldown is the scale-down stabilization window (the longest of the policies);
  scaleOutCooldown is the period in which capacity may at most double (or grow by four
  tasks), the Kubernetes default amounts; disableScaleIn on every policy, or
  dynamicScalingInSuspended, disables scale-down, and dynamicScalingOutSuspended scale-up.
  Both suspended pins the count where it is.
- Step scaling: the alarm's threshold is the target. A scale-out and a scale-in policy on
  the same metric hold it between the two thresholds (target at the midpoint, the HPA's
  per-direction tolerances reach the thresholds); the largest step is the most the count
  moves per cooldown (tasks for ChangeInCapacity, percent for PercentChangeInCapacity).
"""

import re
from collections.abc import Mapping
from typing import Any, Final

from kubernetes.utils.quantity import parse_quantity

from ecs_facade.model.autoscaling import (
    AutoScaling,
    CustomizedMetricSpecification,
    PredefinedMetricSpecification,
    StepScalingPolicy,
)
from ecs_facade.translate import TranslationError
from ecs_facade.translate.capacity import check_label_value

HPA_API_VERSION = "autoscaling/v2"
POD_METRIC_REQUEST_COUNT = "alb_request_count_per_target"
MAX_PERIOD_SECONDS = 1800  # the HPA's limit on a scaling policy's period
MAX_STABILIZATION_SECONDS = 3600  # and on a stabilization window
DEFAULT_SCALE_DOWN_PERIOD = 15  # Kubernetes' default scale-down policy: 100 % per 15 s

# a label key's name part (a prefix/ would be a DNS subdomain; dimension names have none)
_LABEL_KEY: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")

_RESOURCE_METRICS = {
    "ECSServiceAverageCPUUtilization": "cpu",
    "ECSServiceAverageCPUUtilizationHighResolution": "cpu",
    "ECSServiceAverageMemoryUtilization": "memory",
    "ECSServiceAverageMemoryUtilizationHighResolution": "memory",
}


def build_autoscaler(
    name: str, namespace: str, scaling: AutoScaling, labels: Mapping[str, str], max_held: int | None = None
) -> dict[str, Any]:
    """The HPA of one service's Deployment. ``max_held`` caps maxReplicas while the service's
    throttle holds launches (the HPA, not the operator, owns the count)."""
    if scaling.stepScalingPolicies:
        metrics, behavior = _step_scaling(scaling)
    else:
        metrics, behavior = _target_tracking(scaling)
    minimum, maximum = replica_range(scaling)
    if max_held is not None:
        maximum = max(1, min(maximum, max_held))
        minimum = min(minimum, maximum)
    return {
        "apiVersion": HPA_API_VERSION,
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": minimum,
            "maxReplicas": maximum,
            "metrics": metrics,
            "behavior": behavior,
        },
    }


def replica_range(scaling: AutoScaling) -> tuple[int, int]:
    """The HPA's [minReplicas, maxReplicas]. An HPA scales to zero only on a customized
    (External) metric: the utilization of no tasks is undefined, so minCapacity 0 is 1 there."""
    policies = [
        *(p.customizedMetricSpecification for p in scaling.targetTrackingScalingPolicies),
        *(p.alarm.customizedMetricSpecification for p in scaling.stepScalingPolicies),
    ]
    external = any(p is not None for p in policies)
    return (scaling.minCapacity if external else max(1, scaling.minCapacity)), max(scaling.maxCapacity, 1)


def initial_count(scaling: AutoScaling, desired_count: int) -> int:
    """A new service's count: desiredCount moved into the HPA's range, as Application Auto
    Scaling moves a count outside [minCapacity, maxCapacity] into it."""
    minimum, maximum = replica_range(scaling)
    return max(minimum, min(maximum, desired_count))


def _metric(
    predefined: PredefinedMetricSpecification | None,
    customized: CustomizedMetricSpecification | None,
    target: float,
) -> dict[str, Any]:
    if predefined is not None:
        resource = _RESOURCE_METRICS.get(predefined.predefinedMetricType)
        if resource is not None:
            utilization = max(1, round(target))
            return {
                "type": "Resource",
                "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": utilization}},
            }
        return {
            "type": "Pods",
            "pods": {
                "metric": {"name": POD_METRIC_REQUEST_COUNT},
                "target": {"type": "AverageValue", "averageValue": quantity(target)},
            },
        }
    assert customized is not None  # the models make sure one is given
    name = customized.metricName
    if "/" in name or "%" in name or name in (".", ".."):
        raise TranslationError(f"metricName {name!r} cannot be a Kubernetes metric name (no '/' or '%')")
    metric: dict[str, Any] = {"name": name}
    if customized.dimensions:
        for dimension in customized.dimensions:
            if not _LABEL_KEY.match(dimension.name):
                raise TranslationError(
                    f"dimension name {dimension.name!r} cannot be a Kubernetes label key (at most 63 letters,"
                    " digits, '-', '_' or '.', starting and ending with a letter or digit), so no metric selector"
                    " can hold it"
                )
            check_label_value(f"dimension {dimension.name}", dimension.value, "so no metric selector can hold it")
        metric["selector"] = {"matchLabels": {d.name: d.value for d in customized.dimensions}}
    return {"type": "External", "external": {"metric": metric, "target": {"type": "Value", "value": quantity(target)}}}


def _period(seconds: int) -> int:
    return max(1, min(MAX_PERIOD_SECONDS, seconds))


def _target_tracking(scaling: AutoScaling) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    policies = scaling.targetTrackingScalingPolicies
    if not policies:
        raise TranslationError("autoScaling needs at least one targetTrackingScalingPolicies or stepScalingPolicies")
    metrics = [
        _metric(p.predefinedMetricSpecification, p.customizedMetricSpecification, p.targetValue) for p in policies
    ]
    out_period = _period(min(p.scaleOutCooldown for p in policies) or DEFAULT_SCALE_DOWN_PERIOD)
    scaling_in = [p for p in policies if not p.disableScaleIn]
    scale_up: dict[str, Any] = {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Percent", "value": 100, "periodSeconds": out_period},
            {"type": "Pods", "value": 4, "periodSeconds": out_period},
        ],
    }
    scale_down: dict[str, Any] = {
        "stabilizationWindowSeconds": min(
            MAX_STABILIZATION_SECONDS, max((p.scaleInCooldown for p in scaling_in), default=0)
        ),
        "selectPolicy": "Max" if scaling_in else "Disabled",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": DEFAULT_SCALE_DOWN_PERIOD}],
    }
    return metrics, _suspended(scaling, scale_up, scale_down)


def _step_scaling(scaling: AutoScaling) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out = next((p for p in scaling.stepScalingPolicies if p.scales_out), None)
    in_ = next((p for p in scaling.stepScalingPolicies if not p.scales_out), None)
    alarms = [p.alarm for p in (out, in_) if p is not None]
    metric_of = {
        (
            a.predefinedMetricSpecification.model_dump_json() if a.predefinedMetricSpecification else None,
            a.customizedMetricSpecification.model_dump_json() if a.customizedMetricSpecification else None,
        )
        for a in alarms
    }
    if len(metric_of) > 1:
        raise TranslationError(
            "the scale-out and scale-in step scaling policies must alarm on the same metric: one"
            " HorizontalPodAutoscaler metric holds both thresholds"
        )
    high = out.alarm.threshold if out else None
    low = in_.alarm.threshold if in_ else None
    if high is not None and low is not None and low >= high:
        raise TranslationError(
            f"the scale-in alarm's threshold ({low:g}) must be below the scale-out alarm's ({high:g})"
        )
    thresholds = [t for t in (high, low) if t is not None]
    target = sum(thresholds) / len(thresholds)  # one: that threshold; both: the midpoint
    if target <= 0:
        raise TranslationError(
            "a step scaling alarm's threshold must be above 0 to be a HorizontalPodAutoscaler target"
        )
    alarm = alarms[0]
    metric = _metric(alarm.predefinedMetricSpecification, alarm.customizedMetricSpecification, target)
    held = _metric_target(metric)  # the target as the HPA holds it (utilization is rounded; never 0)
    scale_up = _step_rule(out, None if high is None else (high - held) / held)
    scale_down = _step_rule(in_, None if low is None else (held - low) / held)
    return [metric], _suspended(scaling, scale_up, scale_down)


def _metric_target(metric: Mapping[str, Any]) -> float:
    body = metric[metric["type"].lower() if metric["type"] != "Resource" else "resource"]
    target = body["target"]
    if target["type"] == "Utilization":
        return float(target["averageUtilization"])
    return float(parse_quantity(str(target.get("averageValue") or target.get("value"))))  # type: ignore[no-untyped-call]


def _step_rule(policy: StepScalingPolicy | None, tolerance: float | None) -> dict[str, Any]:
    if policy is None:
        return {"selectPolicy": "Disabled"}
    largest = max(abs(a.scalingAdjustment) for a in policy.stepAdjustments)
    kind = "Pods" if policy.adjustmentType == "ChangeInCapacity" else "Percent"
    rule: dict[str, Any] = {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [{"type": kind, "value": largest, "periodSeconds": _period(policy.cooldown)}],
    }
    if tolerance is not None:
        rule["tolerance"] = quantity(max(0.0, tolerance))
    return rule


def _suspended(scaling: AutoScaling, scale_up: dict[str, Any], scale_down: dict[str, Any]) -> dict[str, Any]:
    if scaling.suspendedState.dynamicScalingOutSuspended:
        scale_up = {**scale_up, "selectPolicy": "Disabled"}
    if scaling.suspendedState.dynamicScalingInSuspended:
        scale_down = {**scale_down, "selectPolicy": "Disabled"}
    return {"scaleUp": scale_up, "scaleDown": scale_down}


def quantity(value: float) -> str:
    """A Kubernetes quantity for a metric value: whole numbers as they are, else in milli-units."""
    if float(value).is_integer():
        return str(int(value))
    milli = round(value * 1000)
    if milli == 0 and value > 0:
        raise TranslationError(f"{value:g} is below 0.001, the smallest metric value a HorizontalPodAutoscaler holds")
    return f"{milli}m"
