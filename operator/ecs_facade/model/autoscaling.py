"""spec.autoScaling of an ECSService: Application Auto Scaling's scalable target and policies.

The CRD schema (hack/gen_crds.py, enums from botocore's application-autoscaling model) is
the gate at ``kubectl apply``; these models are what the translator reads, with the checks
the API server cannot make (and the same ones again, so that unit tests and ``ecs-facade
render`` reject what the API server would).
"""

from typing import Literal

from pydantic import Field, model_validator

from ecs_facade.model.base import EcsModel

# ECS's default cooldown for target tracking and step policies on ecs:service:DesiredCount
DEFAULT_COOLDOWN = 300

PredefinedMetricType = Literal[
    "ECSServiceAverageCPUUtilization",
    "ECSServiceAverageMemoryUtilization",
    "ECSServiceAverageCPUUtilizationHighResolution",
    "ECSServiceAverageMemoryUtilizationHighResolution",
    "ALBRequestCountPerTarget",
]


class PredefinedMetricSpecification(EcsModel):
    predefinedMetricType: PredefinedMetricType
    resourceLabel: str | None = None


class MetricDimension(EcsModel):
    name: str = Field(min_length=1)
    value: str


class CustomizedMetricSpecification(EcsModel):
    metricName: str = Field(min_length=1)
    namespace: str | None = None
    dimensions: list[MetricDimension] = Field(default_factory=list)
    statistic: Literal["Average", "Minimum", "Maximum", "SampleCount", "Sum"] | None = None
    unit: str | None = None


class _OneMetric(EcsModel):
    predefinedMetricSpecification: PredefinedMetricSpecification | None = None
    customizedMetricSpecification: CustomizedMetricSpecification | None = None

    @model_validator(mode="after")
    def _exactly_one_metric(self) -> "_OneMetric":
        if (self.predefinedMetricSpecification is None) == (self.customizedMetricSpecification is None):
            raise ValueError("give exactly one of predefinedMetricSpecification and customizedMetricSpecification")
        return self


class TargetTrackingScalingPolicy(_OneMetric):
    policyName: str = Field(min_length=1, max_length=256)
    targetValue: float = Field(gt=0)
    scaleOutCooldown: int = Field(DEFAULT_COOLDOWN, ge=0, le=86400)
    scaleInCooldown: int = Field(DEFAULT_COOLDOWN, ge=0, le=86400)
    disableScaleIn: bool = False


ComparisonOperator = Literal[
    "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"
]


class Alarm(_OneMetric):
    comparisonOperator: ComparisonOperator
    threshold: float = Field(ge=0)


class StepAdjustment(EcsModel):
    metricIntervalLowerBound: float | None = None
    metricIntervalUpperBound: float | None = None
    scalingAdjustment: int


class StepScalingPolicy(EcsModel):
    policyName: str = Field(min_length=1, max_length=256)
    adjustmentType: Literal["ChangeInCapacity", "PercentChangeInCapacity", "ExactCapacity"]
    stepAdjustments: list[StepAdjustment] = Field(min_length=1)
    minAdjustmentMagnitude: int | None = Field(None, ge=1)
    cooldown: int = Field(DEFAULT_COOLDOWN, ge=0, le=86400)
    metricAggregationType: Literal["Average", "Minimum", "Maximum"] | None = None
    alarm: Alarm

    @property
    def scales_out(self) -> bool:
        return self.stepAdjustments[0].scalingAdjustment > 0

    @model_validator(mode="after")
    def _expressible(self) -> "StepScalingPolicy":
        if self.adjustmentType == "ExactCapacity":
            raise ValueError(
                "adjustmentType ExactCapacity cannot be expressed as a HorizontalPodAutoscaler policy;"
                " use ChangeInCapacity or PercentChangeInCapacity"
            )
        signs = {a.scalingAdjustment > 0 for a in self.stepAdjustments}
        if len(signs) != 1 or any(a.scalingAdjustment == 0 for a in self.stepAdjustments):
            raise ValueError(
                "a step scaling policy either scales out (every scalingAdjustment > 0) or scales in (every"
                " scalingAdjustment < 0)"
            )
        if self.scales_out != self.alarm.comparisonOperator.startswith("Greater"):
            raise ValueError("a scale-out step policy needs a GreaterThan alarm and a scale-in one a LessThan alarm")
        return self


class SuspendedState(EcsModel):
    dynamicScalingInSuspended: bool = False
    dynamicScalingOutSuspended: bool = False
    scheduledScalingSuspended: bool = False


class AutoScaling(EcsModel):
    minCapacity: int = Field(ge=0, le=100000)
    maxCapacity: int = Field(ge=1, le=100000)
    suspendedState: SuspendedState = SuspendedState()
    targetTrackingScalingPolicies: list[TargetTrackingScalingPolicy] = Field(default_factory=list, max_length=10)
    stepScalingPolicies: list[StepScalingPolicy] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _consistent(self) -> "AutoScaling":
        if self.minCapacity > self.maxCapacity:
            raise ValueError(f"minCapacity ({self.minCapacity}) must not exceed maxCapacity ({self.maxCapacity})")
        names = [p.policyName for p in self.targetTrackingScalingPolicies] + [
            p.policyName for p in self.stepScalingPolicies
        ]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"policy names must be unique: {', '.join(duplicates)}")
        if self.targetTrackingScalingPolicies and self.stepScalingPolicies:
            raise ValueError(
                "step scaling and target tracking policies cannot be combined on one HorizontalPodAutoscaler;"
                " use one kind"
            )
        out = [p for p in self.stepScalingPolicies if p.scales_out]
        if len(out) > 1 or len(self.stepScalingPolicies) - len(out) > 1:
            raise ValueError("at most one scale-out and one scale-in step scaling policy")
        return self
