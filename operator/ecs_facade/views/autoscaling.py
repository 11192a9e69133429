"""A service's auto scaling as describe-scalable-targets / describe-scaling-activities show it,
read from its HorizontalPodAutoscaler (pure: no I/O)."""

from collections.abc import Mapping, Sequence
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from ecs_facade.model.autoscaling import AutoScaling

_HPA_CONDITIONS = ("AbleToScale", "ScalingActive", "ScalingLimited")


def policy_targets(scaling: AutoScaling) -> list[tuple[str, str, float]]:
    """(policyName, policyType, target) in the order of the HPA's metrics: one metric per target
    tracking policy; the step policies share one (their thresholds are in ``target``)."""
    if scaling.targetTrackingScalingPolicies:
        return [(p.policyName, "TargetTrackingScaling", p.targetValue) for p in scaling.targetTrackingScalingPolicies]
    return [(p.policyName, "StepScaling", p.alarm.threshold) for p in scaling.stepScalingPolicies]


def current_values(hpa: Mapping[str, Any] | None) -> list[float | None]:
    """The HPA's current value of each of its metrics, in the order of its spec."""
    values: list[float | None] = []
    for metric in ((hpa or {}).get("status") or {}).get("currentMetrics") or []:
        kind = str(metric.get("type") or "")
        current = (metric.get(kind[:1].lower() + kind[1:]) or {}).get("current") or {}
        if "averageUtilization" in current:
            values.append(float(current["averageUtilization"]))
        elif current.get("averageValue") is not None or current.get("value") is not None:
            quantity = str(current.get("averageValue") or current.get("value"))
            values.append(float(parse_quantity(quantity)))  # type: ignore[no-untyped-call]
        else:
            values.append(None)
    return values


def autoscaling_status(
    scaling: AutoScaling,
    hpa: Mapping[str, Any] | None,
    previous: Mapping[str, Any] | None,
    count_before: int | None,
    count_now: int,
    stamp: str,
) -> dict[str, Any]:
    """status.autoScaling: the target's range, the HPA's view, each policy's current value, and
    the last scaling activity (kept until the count changes again)."""
    hpa_status = (hpa or {}).get("status") or {}
    targets = policy_targets(scaling)
    values = current_values(hpa)
    step = bool(scaling.stepScalingPolicies)
    policies = []
    for index, (name, kind, target) in enumerate(targets):
        value = values[0 if step else index] if values and (step or index < len(values)) else None
        entry: dict[str, Any] = {"policyName": name, "policyType": kind, "targetValue": target}
        if value is not None:
            entry["currentValue"] = value
        policies.append(entry)
    status: dict[str, Any] = {
        "minCapacity": scaling.minCapacity,
        "maxCapacity": scaling.maxCapacity,
        "suspendedState": scaling.suspendedState.model_dump(),
        "policies": policies,
        "conditions": [
            {k: c[k] for k in ("type", "status", "reason", "message", "lastTransitionTime") if c.get(k) is not None}
            for c in hpa_status.get("conditions") or []
            if c.get("type") in _HPA_CONDITIONS
        ],
    }
    for source, field in (("currentReplicas", "currentCapacity"), ("desiredReplicas", "desiredCapacity")):
        if hpa_status.get(source) is not None:
            status[field] = int(hpa_status[source])
    if hpa_status.get("lastScaleTime"):
        status["lastScaleTime"] = hpa_status["lastScaleTime"]
    activity = (previous or {}).get("lastScalingActivity")
    if count_before is not None and count_before != count_now:
        causes = policies
        if step:  # the policy of that direction moved it
            out = count_now > count_before
            causes = [e for e, p in zip(policies, scaling.stepScalingPolicies, strict=True) if p.scales_out == out]
        activity = {
            "startTime": stamp,
            "description": f"Setting desired count to {count_now}.",
            "cause": scaling_cause(causes, count_before, count_now),
        }
    if activity:
        status["lastScalingActivity"] = activity
    return status


def scaling_cause(policies: Sequence[Mapping[str, Any]], before: int, after: int) -> str:
    """Which policy moved the count, in Application Auto Scaling's words."""
    change = f"changing the desired count from {before} to {after}"
    measured = [p for p in policies if p.get("currentValue") is not None]
    if after > before and measured:
        top = max(measured, key=lambda p: float(p["currentValue"]) / float(p["targetValue"]))
        measure = f"{_number(top['currentValue'])} against {_number(top['targetValue'])}"
        return f"policy {top['policyName']} ({measure}) {change}"
    if after < before and measured:
        names = ", ".join(str(p["policyName"]) for p in measured)
        return f"policies {names} below their targets {change}"
    return f"the HorizontalPodAutoscaler {change}"


def _number(value: Any) -> str:
    return f"{float(value):g}"
