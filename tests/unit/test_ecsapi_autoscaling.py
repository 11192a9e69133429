"""Application Auto Scaling for ECS services: the ECSService spec.autoScaling (and annotations)
each request writes, the answers read back from it, and the errors Application Auto Scaling
names, through the Dispatcher over a fake Store; and once through botocore's own client."""

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import autoscaling
from ecs_facade.ecsapi.autoscaling_handlers import AutoScalingActions, register_autoscaling
from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.handlers import Conflict
from ecs_facade.ecsapi.protocol import Dispatcher
from ecs_facade.ecsapi.server import make_app
from ecs_facade.ecsapi.sigv4 import AccessKey, Authenticator, DictKeyStore
from ecs_facade.model.autoscaling import AutoScaling
from tests.unit import ecsapi_calls

from .test_ecsapi_server import LoopbackServer

ARNS = Arns("us-east-1", "123456789012")
NOW = "2026-03-01T10:00:00.000000Z"
RID = "service/default/web"
BASE = {"ServiceNamespace": "ecs", "ResourceId": RID, "ScalableDimension": "ecs:service:DesiredCount"}
CPU50 = {
    "TargetValue": 50.0,
    "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
    "ScaleOutCooldown": 60,
    "ScaleInCooldown": 120,
}


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies it (null removes a member)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


class FakeStore(ecsapi_calls.FakeObjects):
    """Namespaces, ECSClusters and ECSServices as the API server holds them."""

    def __init__(self) -> None:
        super().__init__()
        self.clusters: list[dict[str, Any]] = []
        self.namespaces: dict[str, dict[str, str]] = {"team-a": {}, "team-b": {}}
        self.services: list[dict[str, Any]] = [_service("web")]
        self.conflicts = 0
        self.patches: list[dict[str, Any]] = []

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict("the object has been modified")
        for index, found in enumerate(self.services):
            if (found["metadata"]["namespace"], found["metadata"]["name"]) == (namespace, name):
                assert patch["metadata"]["resourceVersion"] == found["metadata"]["resourceVersion"]
                updated: dict[str, Any] = merge(found, patch)
                updated["metadata"]["resourceVersion"] = str(int(found["metadata"]["resourceVersion"]) + 1)
                self.services[index] = updated
                self.patches.append(copy.deepcopy(dict(patch)))
                return copy.deepcopy(updated)
        return None

    def get(self, name: str = "web") -> dict[str, Any]:
        return next(s for s in self.services if s["metadata"]["name"] == name)


def _service(name: str, cluster: str = "default", namespace: str = "team-a", **spec: Any) -> dict[str, Any]:
    return ecsapi_calls.ecs_service(name, cluster, namespace, {"desiredCount": 2}, **spec)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def dispatcher(store: FakeStore) -> Dispatcher:
    return ecsapi_calls.dispatcher_of(AutoScalingActions(store, ARNS, now=lambda: NOW))


def _annotation(service: Mapping[str, Any], key: str) -> Any:
    raw = (service["metadata"].get("annotations") or {}).get(key)
    return json.loads(raw) if raw is not None else None


def _register(dispatcher: Dispatcher, minimum: int = 1, maximum: int = 6, **more: Any) -> Mapping[str, Any]:
    return ecsapi_calls.call(
        dispatcher, "RegisterScalableTarget", {**BASE, "MinCapacity": minimum, "MaxCapacity": maximum, **more}
    )


def _put_cpu(dispatcher: Dispatcher, name: str = "cpu50", **config: Any) -> Mapping[str, Any]:
    request = {
        **BASE,
        "PolicyName": name,
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {**CPU50, **config},
    }
    return ecsapi_calls.call(dispatcher, "PutScalingPolicy", request)


# --- RegisterScalableTarget


def test_register_without_a_policy_keeps_the_target_in_an_annotation(dispatcher: Dispatcher, store: FakeStore) -> None:
    answer = _register(dispatcher, 3, 6)
    service = store.get()
    assert "autoScaling" not in service["spec"]  # an HPA needs a policy: spec.autoScaling would be InvalidSpec
    assert _annotation(service, autoscaling.ANNOTATION_TARGET) == {"minCapacity": 3, "maxCapacity": 6}
    assert _annotation(service, autoscaling.ANNOTATION_CREATED) == {"target": NOW}
    assert service["spec"]["desiredCount"] == 3  # moved into [3, 6], as Application Auto Scaling does
    assert answer["ScalableTargetARN"].startswith("arn:aws:application-autoscaling:us-east-1:123456789012:")
    assert answer == _register(dispatcher, 3, 6)  # the same target, the same ARN
    assert store.patches[0]["metadata"]["resourceVersion"] == "7"  # a conditional write


def test_register_inside_the_range_leaves_the_count(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher, 1, 4)
    assert store.get()["spec"]["desiredCount"] == 2
    assert "desiredCount" not in store.patches[0].get("spec", {})
    _register(dispatcher, 0, 1)
    assert store.get()["spec"]["desiredCount"] == 1  # above the new maximum: scaled in to it


def test_register_updates_only_what_is_given(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher, 1, 4)
    _put_cpu(dispatcher)
    ecsapi_calls.call(
        dispatcher,
        "RegisterScalableTarget",
        {**BASE, "MaxCapacity": 10, "SuspendedState": {"DynamicScalingInSuspended": True}},
    )
    scaling = store.get()["spec"]["autoScaling"]
    assert scaling["minCapacity"] == 1 and scaling["maxCapacity"] == 10
    assert scaling["suspendedState"] == {
        "dynamicScalingInSuspended": True,
        "dynamicScalingOutSuspended": False,
        "scheduledScalingSuspended": False,
    }
    assert [p["policyName"] for p in scaling["targetTrackingScalingPolicies"]] == ["cpu50"]
    ecsapi_calls.call(
        dispatcher, "RegisterScalableTarget", {**BASE, "SuspendedState": {"DynamicScalingOutSuspended": True}}
    )
    suspended = store.get()["spec"]["autoScaling"]["suspendedState"]
    assert suspended["dynamicScalingInSuspended"] and suspended["dynamicScalingOutSuspended"]
    AutoScaling.model_validate(store.get()["spec"]["autoScaling"])  # what the operator reads


def test_register_refuses_what_application_auto_scaling_refuses(dispatcher: Dispatcher, store: FakeStore) -> None:
    error = ecsapi_calls.error(dispatcher, "RegisterScalableTarget", {**BASE, "MinCapacity": 1})
    assert error.name == "ValidationException"
    assert "MinCapacity and MaxCapacity are required for registering a new scalable target" in error.message
    error = ecsapi_calls.error(dispatcher, "RegisterScalableTarget", {**BASE, "MinCapacity": 5, "MaxCapacity": 2})
    assert (error.name, error.message) == (
        "ValidationException",
        "Minimum capacity (5) cannot be greater than maximum capacity (2)",
    )
    error = ecsapi_calls.error(
        dispatcher, "RegisterScalableTarget", {**BASE, "ResourceId": "service/default/api"} | _range()
    )
    assert (error.name, error.message) == ("ValidationException", "ECS service doesn't exist: service/default/api")
    error = ecsapi_calls.error(
        dispatcher, "RegisterScalableTarget", {**BASE, "ResourceId": "service/prod/web"} | _range()
    )
    assert error.message == "ECS service doesn't exist: service/prod/web"  # a cluster the namespace does not see
    error = ecsapi_calls.error(dispatcher, "RegisterScalableTarget", {**BASE, "ResourceId": "web"} | _range())
    assert error.name == "ValidationException" and "service/<cluster>/<service>" in error.message
    error = ecsapi_calls.error(
        dispatcher, "RegisterScalableTarget", {**BASE, "ServiceNamespace": "dynamodb"} | _range()
    )
    assert error.name == "ValidationException" and "ecs-facade scales ECS services only" in error.message
    error = ecsapi_calls.error(
        dispatcher, "RegisterScalableTarget", {**BASE, "ScalableDimension": "ecs:service:Other"} | _range()
    )
    assert error.name == "ValidationException"  # not in the model's enum: refused before the handler
    assert store.patches == []


def _range() -> dict[str, int]:
    return {"MinCapacity": 1, "MaxCapacity": 2}


def test_register_refuses_a_daemon_service(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web", schedulingStrategy="DAEMON")]
    error = ecsapi_calls.error(dispatcher, "RegisterScalableTarget", {**BASE, **_range()})
    assert error.name == "ValidationException" and "DAEMON" in error.message


def test_a_service_of_another_namespace_does_not_exist(dispatcher: Dispatcher, store: FakeStore) -> None:
    error = ecsapi_calls.error(dispatcher, "RegisterScalableTarget", {**BASE, **_range()}, namespace="team-b")
    assert error.message == "ECS service doesn't exist: service/default/web"


def test_conflicts_are_retried_then_concurrent_update(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.conflicts = 2
    _register(dispatcher)
    assert len(store.patches) == 1
    store.conflicts = 3
    error = ecsapi_calls.error(dispatcher, "RegisterScalableTarget", {**BASE, "MaxCapacity": 9})
    assert error.name == "ConcurrentUpdateException"


# --- PutScalingPolicy


def test_put_target_tracking_moves_the_target_into_spec_autoscaling(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher, 2, 6)
    answer = _put_cpu(dispatcher, DisableScaleIn=True)
    service = store.get()
    assert service["spec"]["autoScaling"] == {
        "minCapacity": 2,
        "maxCapacity": 6,
        "targetTrackingScalingPolicies": [
            {
                "policyName": "cpu50",
                "targetValue": 50.0,
                "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"},
                "scaleOutCooldown": 60,
                "scaleInCooldown": 120,
                "disableScaleIn": True,
            }
        ],
    }
    assert autoscaling.ANNOTATION_TARGET not in service["metadata"]["annotations"]
    assert _annotation(service, autoscaling.ANNOTATION_CREATED) == {"target": NOW, "policies": {"cpu50": NOW}}
    arn = answer["PolicyARN"]
    assert arn.startswith("arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:")
    assert arn.endswith(":resource/ecs/service/default/web:policyName/cpu50")
    assert answer["Alarms"] == []
    assert _put_cpu(dispatcher, TargetValue=70.0)["PolicyARN"] == arn  # stable: derived, not random
    (policy,) = store.get()["spec"]["autoScaling"]["targetTrackingScalingPolicies"]
    assert policy["targetValue"] == 70.0 and "disableScaleIn" not in policy  # replaced whole, as PutScalingPolicy
    assert _put_cpu(dispatcher, name="other")["PolicyARN"] != arn


def test_put_customized_and_request_count_metrics(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher)
    customized = {
        "MetricName": "queue_depth",
        "Namespace": "App",
        "Dimensions": [{"Name": "queue", "Value": "jobs"}],
        "Statistic": "Average",
        "Unit": "Count",
    }
    ecsapi_calls.call(
        dispatcher,
        "PutScalingPolicy",
        {
            **BASE,
            "PolicyName": "queue",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 10.0,
                "CustomizedMetricSpecification": customized,
            },
        },
    )
    _put_cpu(
        dispatcher,
        name="requests",
        PredefinedMetricSpecification={
            "PredefinedMetricType": "ALBRequestCountPerTarget",
            "ResourceLabel": "app/lb/1/targetgroup/tg/2",
        },
    )
    policies = store.get()["spec"]["autoScaling"]["targetTrackingScalingPolicies"]
    assert policies[0]["customizedMetricSpecification"] == {
        "metricName": "queue_depth",
        "namespace": "App",
        "dimensions": [{"name": "queue", "value": "jobs"}],
        "statistic": "Average",
        "unit": "Count",
    }
    assert policies[1]["predefinedMetricSpecification"] == {
        "predefinedMetricType": "ALBRequestCountPerTarget",
        "resourceLabel": "app/lb/1/targetgroup/tg/2",
    }


def test_put_needs_a_registered_target(dispatcher: Dispatcher) -> None:
    error = ecsapi_calls.error(
        dispatcher,
        "PutScalingPolicy",
        {**BASE, "PolicyName": "p", "PolicyType": "TargetTrackingScaling",
         "TargetTrackingScalingPolicyConfiguration": CPU50},
    )  # fmt: skip
    assert (error.name, error.message) == (
        "ObjectNotFoundException",
        "No scalable target registered for service namespace: ecs, resource ID: service/default/web,"
        " scalable dimension: ecs:service:DesiredCount",
    )


def test_put_refuses_what_the_ecsservice_cannot_hold(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher)
    before = len(store.patches)

    def put(config: dict[str, Any], kind: str = "TargetTrackingScaling") -> ApiError:
        return ecsapi_calls.error(
            dispatcher,
            "PutScalingPolicy",
            {**BASE, "PolicyName": "p", "PolicyType": kind, f"{kind}PolicyConfiguration": config},
        )

    error = put(
        {
            "TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBReadCapacityUtilization"},
        }
    )
    assert error.name == "ValidationException" and "is not a metric of an ECS service" in error.message
    error = put(
        {"TargetValue": 50.0, "CustomizedMetricSpecification": {"Metrics": [{"Id": "m1", "Expression": "a+b"}]}}
    )
    assert "metric math is not supported" in error.message
    error = put({"TargetValue": 50.0})
    assert "exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification" in error.message
    error = put({"TargetValue": 0.0001, "CustomizedMetricSpecification": {"MetricName": "queue_depth"}})
    assert error.name == "ValidationException" and "HorizontalPodAutoscaler" in error.message  # below 0.001
    error = put({"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [{"ScalingAdjustment": 1}]}, "StepScaling")
    assert error.name == "ValidationException" and "no CloudWatch alarms" in error.message
    assert "stepScalingPolicies[].alarm" in error.message
    error = ecsapi_calls.error(
        dispatcher, "PutScalingPolicy", {**BASE, "PolicyName": "p", "PolicyType": "PredictiveScaling"}
    )
    assert error.name == "ValidationException" and "PredictiveScaling is not supported" in error.message
    error = ecsapi_calls.error(
        dispatcher, "PutScalingPolicy", {**BASE, "PolicyName": "p", "PolicyType": "TargetTrackingScaling"}
    )
    assert "TargetTrackingScalingPolicyConfiguration: required" in error.message
    error = ecsapi_calls.error(dispatcher, "PutScalingPolicy", {**BASE, "PolicyName": "p"})
    assert "PolicyType: required when creating" in error.message
    assert len(store.patches) == before


def _with_step_policies(store: FakeStore) -> None:
    """A service whose step policies (with their alarms) were applied with kubectl."""
    store.services[0]["spec"]["autoScaling"] = {
        "minCapacity": 1,
        "maxCapacity": 8,
        "stepScalingPolicies": [
            {
                "policyName": "out",
                "adjustmentType": "ChangeInCapacity",
                "stepAdjustments": [{"metricIntervalLowerBound": 0, "scalingAdjustment": 2}],
                "cooldown": 120,
                "alarm": {
                    "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"},
                    "comparisonOperator": "GreaterThanOrEqualToThreshold",
                    "threshold": 70,
                },
            }
        ],
    }


def test_put_step_scaling_updates_a_policy_and_keeps_its_alarm(dispatcher: Dispatcher, store: FakeStore) -> None:
    _with_step_policies(store)
    alarm = copy.deepcopy(store.get()["spec"]["autoScaling"]["stepScalingPolicies"][0]["alarm"])
    step = {
        "AdjustmentType": "PercentChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 50}],
        "Cooldown": 60,
        "MinAdjustmentMagnitude": 1,
    }
    ecsapi_calls.call(
        dispatcher, "PutScalingPolicy", {**BASE, "PolicyName": "out", "StepScalingPolicyConfiguration": step}
    )
    (policy,) = store.get()["spec"]["autoScaling"]["stepScalingPolicies"]
    assert policy == {
        "policyName": "out",
        "adjustmentType": "PercentChangeInCapacity",
        "stepAdjustments": [{"metricIntervalLowerBound": 0.0, "scalingAdjustment": 50}],
        "cooldown": 60,
        "minAdjustmentMagnitude": 1,
        "alarm": alarm,
    }
    # a target tracking policy next to step policies: the HPA cannot combine them
    error = ecsapi_calls.error(
        dispatcher,
        "PutScalingPolicy",
        {**BASE, "PolicyName": "cpu", "PolicyType": "TargetTrackingScaling",
         "TargetTrackingScalingPolicyConfiguration": CPU50},
    )  # fmt: skip
    assert error.name == "ValidationException" and "cannot be combined" in error.message


# --- DeleteScalingPolicy, DeregisterScalableTarget


def test_delete_the_last_policy_keeps_the_target_and_the_count(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher, 1, 6)
    _put_cpu(dispatcher, name="a")
    _put_cpu(dispatcher, name="b")
    ecsapi_calls.call(dispatcher, "DeleteScalingPolicy", {**BASE, "PolicyName": "a"})
    scaling = store.get()["spec"]["autoScaling"]
    assert [p["policyName"] for p in scaling["targetTrackingScalingPolicies"]] == ["b"]
    assert _annotation(store.get(), autoscaling.ANNOTATION_CREATED)["policies"] == {"b": NOW}
    store.services[0]["status"]["desiredCount"] = 5  # the HPA's count
    ecsapi_calls.call(dispatcher, "DeleteScalingPolicy", {**BASE, "PolicyName": "b"})
    service = store.get()
    assert "autoScaling" not in service["spec"]
    assert service["spec"]["desiredCount"] == 5  # the count stays where the HPA left it
    assert _annotation(service, autoscaling.ANNOTATION_TARGET) == {"minCapacity": 1, "maxCapacity": 6}
    error = ecsapi_calls.error(dispatcher, "DeleteScalingPolicy", {**BASE, "PolicyName": "b"})
    assert (error.name, error.message) == (
        "ObjectNotFoundException",
        "No scaling policy found for service namespace: ecs, resource ID: service/default/web,"
        " scalable dimension: ecs:service:DesiredCount, policy name: b",
    )


def test_deregister_removes_target_and_policies(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher, 1, 6)
    _put_cpu(dispatcher)
    store.services[0]["status"]["desiredCount"] = 4
    assert ecsapi_calls.call(dispatcher, "DeregisterScalableTarget", BASE) == {}
    service = store.get()
    assert "autoScaling" not in service["spec"]
    assert service["spec"]["desiredCount"] == 4
    assert not service["metadata"].get("annotations")
    error = ecsapi_calls.error(dispatcher, "DeregisterScalableTarget", BASE)
    assert (error.name, error.message) == (
        "ObjectNotFoundException",
        "No scalable target found for service namespace: ecs, resource ID: service/default/web,"
        " scalable dimension: ecs:service:DesiredCount",
    )


def test_deregister_a_target_without_policies_leaves_the_spec(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher, 1, 6)
    ecsapi_calls.call(dispatcher, "DeregisterScalableTarget", BASE)
    assert "spec" not in store.patches[-1]
    assert not store.get()["metadata"].get("annotations")


# --- Describe*


def test_describe_scalable_targets(dispatcher: Dispatcher, store: FakeStore) -> None:
    # a target applied with kubectl: no creation annotation, the service's creation time
    kubectl = {"minCapacity": 1, "maxCapacity": 2, "targetTrackingScalingPolicies": [
        {"policyName": "cpu", "targetValue": 50, "predefinedMetricSpecification": {
            "predefinedMetricType": "ECSServiceAverageCPUUtilization"}}]}  # fmt: skip
    store.services.append(_service("api", autoScaling=kubectl))
    store.services.append(_service("idle"))  # no target
    store.services.append(_service("daemon", schedulingStrategy="DAEMON", autoScaling=kubectl))  # none either
    _register(dispatcher, 1, 6)
    answer = ecsapi_calls.call(dispatcher, "DescribeScalableTargets", {"ServiceNamespace": "ecs"})
    api, web = answer["ScalableTargets"]
    assert web == {
        "ServiceNamespace": "ecs",
        "ResourceId": RID,
        "ScalableDimension": "ecs:service:DesiredCount",
        "MinCapacity": 1,
        "MaxCapacity": 6,
        "RoleARN": "arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
        "CreationTime": 1772359200.0,  # NOW
        "SuspendedState": {
            "DynamicScalingInSuspended": False,
            "DynamicScalingOutSuspended": False,
            "ScheduledScalingSuspended": False,
        },
        "ScalableTargetARN": autoscaling.scalable_target_arn(ARNS, autoscaling.Resource("default", "web")),
    }
    assert api["ResourceId"] == "service/default/api" and api["CreationTime"] == 1767225600.0
    only = ecsapi_calls.call(dispatcher, "DescribeScalableTargets", {"ServiceNamespace": "ecs", "ResourceIds": [RID]})
    assert [t["ResourceId"] for t in only["ScalableTargets"]] == [RID]
    first = ecsapi_calls.call(dispatcher, "DescribeScalableTargets", {"ServiceNamespace": "ecs", "MaxResults": 1})
    assert [t["ResourceId"] for t in first["ScalableTargets"]] == ["service/default/api"]
    second = ecsapi_calls.call(
        dispatcher,
        "DescribeScalableTargets",
        {"ServiceNamespace": "ecs", "MaxResults": 1, "NextToken": first["NextToken"]},
    )
    assert [t["ResourceId"] for t in second["ScalableTargets"]] == [RID] and "NextToken" not in second
    error = ecsapi_calls.error(
        dispatcher, "DescribeScalableTargets", {"ServiceNamespace": "ecs", "NextToken": "nonsense"}
    )
    assert error.name == "InvalidNextTokenException"
    assert ecsapi_calls.call(
        dispatcher, "DescribeScalableTargets", {"ServiceNamespace": "ecs"}, namespace="team-b"
    ) == {"ScalableTargets": []}


def test_describe_scaling_policies(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher, 1, 6)
    _put_cpu(dispatcher, DisableScaleIn=False)
    _put_cpu(
        dispatcher,
        name="mem",
        PredefinedMetricSpecification={"PredefinedMetricType": "ECSServiceAverageMemoryUtilization"},
    )
    answer = ecsapi_calls.call(dispatcher, "DescribeScalingPolicies", {"ServiceNamespace": "ecs", "ResourceId": RID})
    cpu, mem = answer["ScalingPolicies"]
    assert cpu == {
        "PolicyARN": autoscaling.policy_arn(ARNS, autoscaling.Resource("default", "web"), "cpu50"),
        "PolicyName": "cpu50",
        "ServiceNamespace": "ecs",
        "ResourceId": RID,
        "ScalableDimension": "ecs:service:DesiredCount",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {**CPU50, "DisableScaleIn": False},
        "Alarms": [],
        "CreationTime": 1772359200.0,
    }
    assert mem["PolicyName"] == "mem"
    named = ecsapi_calls.call(
        dispatcher, "DescribeScalingPolicies", {"ServiceNamespace": "ecs", "PolicyNames": ["mem"]}
    )
    assert [p["PolicyName"] for p in named["ScalingPolicies"]] == ["mem"]


def test_describe_step_policy_leaves_the_alarm_out(dispatcher: Dispatcher, store: FakeStore) -> None:
    _with_step_policies(store)
    (policy,) = ecsapi_calls.call(dispatcher, "DescribeScalingPolicies", {"ServiceNamespace": "ecs"})["ScalingPolicies"]
    assert policy["PolicyType"] == "StepScaling"
    assert policy["StepScalingPolicyConfiguration"] == {
        "AdjustmentType": "ChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 2}],
        "Cooldown": 120,
    }


def test_describe_scaling_activities_from_the_status(dispatcher: Dispatcher, store: FakeStore) -> None:
    _register(dispatcher, 1, 6)
    _put_cpu(dispatcher)
    assert ecsapi_calls.call(dispatcher, "DescribeScalingActivities", {"ServiceNamespace": "ecs"}) == {
        "ScalingActivities": []
    }
    store.services[0]["status"]["autoScaling"] = {
        "lastScalingActivity": {
            "startTime": "2026-12-01T08:49:03Z",
            "description": "Setting desired count to 4.",
            "cause": "policy cpu50 (100 against 50) changing the desired count from 2 to 4",
        }
    }
    (activity,) = ecsapi_calls.call(
        dispatcher, "DescribeScalingActivities", {"ServiceNamespace": "ecs", "ResourceId": RID}
    )["ScalingActivities"]
    assert activity == {
        "ActivityId": activity["ActivityId"],
        "ServiceNamespace": "ecs",
        "ResourceId": RID,
        "ScalableDimension": "ecs:service:DesiredCount",
        "Description": "Setting desired count to 4.",
        "Cause": "policy cpu50 (100 against 50) changing the desired count from 2 to 4",
        "StartTime": 1796114943.0,
        "EndTime": 1796114943.0,
        "StatusCode": "Successful",
        "StatusMessage": "Successfully set desired count to 4. Change successfully fulfilled by ecs.",
    }
    again = ecsapi_calls.call(dispatcher, "DescribeScalingActivities", {"ServiceNamespace": "ecs"})["ScalingActivities"]
    assert again[0]["ActivityId"] == activity["ActivityId"]  # the same activity, the same id


# --- through botocore's own client


KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def loopback(store: FakeStore) -> Iterator[LoopbackServer]:
    made = Dispatcher()
    register_autoscaling(made, store, ARNS)
    keys = DictKeyStore([AccessKey(KEY_ID, SECRET, frozenset({"team-a"}))])
    running = LoopbackServer(make_app(made, Authenticator(keys, regions=frozenset({"us-east-1"}))))
    yield running
    running.stop()


def test_botocore_application_autoscaling_client(loopback: LoopbackServer, store: FakeStore) -> None:
    client = botocore.session.get_session().create_client(
        "application-autoscaling",
        endpoint_url=loopback.url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    target = {"ServiceNamespace": "ecs", "ResourceId": RID, "ScalableDimension": "ecs:service:DesiredCount"}
    client.register_scalable_target(**target, MinCapacity=2, MaxCapacity=5)
    put = client.put_scaling_policy(
        **target,
        PolicyName="cpu50",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=CPU50,
    )
    assert put["PolicyARN"].endswith(":resource/ecs/service/default/web:policyName/cpu50") and put["Alarms"] == []
    assert store.get()["spec"]["autoScaling"]["maxCapacity"] == 5
    (described,) = client.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (described["MinCapacity"], described["MaxCapacity"]) == (2, 5)
    assert described["CreationTime"].tzinfo is not None  # a timestamp botocore parsed
    (policy,) = client.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 50.0
    assert client.describe_scaling_activities(ServiceNamespace="ecs")["ScalingActivities"] == []
    with pytest.raises(client.exceptions.ValidationException) as missing:
        client.register_scalable_target(
            **{**target, "ResourceId": "service/default/nope"}, MinCapacity=1, MaxCapacity=2
        )
    assert missing.value.response["Error"]["Message"] == "ECS service doesn't exist: service/default/nope"
    with pytest.raises(client.exceptions.ObjectNotFoundException):
        client.delete_scaling_policy(**target, PolicyName="nope")
    client.deregister_scalable_target(**target)
    with pytest.raises(client.exceptions.ObjectNotFoundException):
        client.deregister_scalable_target(**target)
    assert "autoScaling" not in store.get()["spec"]


def test_a_kubectl_target_keeps_its_creation_time(dispatcher: Dispatcher, store: FakeStore) -> None:
    _with_step_policies(store)
    ecsapi_calls.call(dispatcher, "RegisterScalableTarget", {**BASE, "MaxCapacity": 9})
    _put_cpu(dispatcher, name="out")  # the step policy "out" becomes a target tracking one
    (target,) = ecsapi_calls.call(dispatcher, "DescribeScalableTargets", {"ServiceNamespace": "ecs"})["ScalableTargets"]
    assert target["CreationTime"] == 1767225600.0  # the service's, not the request's
    (policy,) = ecsapi_calls.call(dispatcher, "DescribeScalingPolicies", {"ServiceNamespace": "ecs"})["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"  # a policy of that name is replaced, with its type
    assert policy["CreationTime"] == 1767225600.0  # an existing policy keeps its time


def test_a_namespace_named_by_the_signing_region(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services.append(_service("web", namespace="team-b", desiredCount=9))
    # a region that is no AWS region names the namespace (scope.request_namespace)
    both = frozenset({"team-a", "team-b"})
    ecsapi_calls.call(dispatcher, "RegisterScalableTarget", {**BASE, **_range()}, region="team-b", namespaces=both)
    team_b = next(s for s in store.services if s["metadata"]["namespace"] == "team-b")
    assert team_b["spec"]["desiredCount"] == 2  # 9 moved into [1, 2]
    assert store.get()["spec"]["desiredCount"] == 2 and "annotations" not in store.get()["metadata"]


class BrokenStore(FakeStore):
    def list_services(self, namespace: str) -> list[dict[str, Any]]:
        raise RuntimeError("the Kubernetes API is down")


def test_a_failure_is_a_500_internal_service_exception() -> None:
    made = Dispatcher()
    register_autoscaling(made, BrokenStore(), ARNS)
    keys = DictKeyStore([AccessKey(KEY_ID, SECRET, frozenset({"team-a"}))])
    running = LoopbackServer(make_app(made, Authenticator(keys, regions=frozenset({"us-east-1"}))))
    try:
        client = botocore.session.get_session().create_client(
            "application-autoscaling",
            endpoint_url=running.url,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )
        with pytest.raises(client.exceptions.InternalServiceException) as failed:
            client.describe_scalable_targets(ServiceNamespace="ecs")
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    finally:
        running.stop()
