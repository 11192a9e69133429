"""Application Auto Scaling for ECS services: pure halves (request + ECSService -> merge patch
or response, no I/O).

A scalable target ``ecs`` / ``service/<cluster>/<service>`` / ``ecs:service:DesiredCount`` and
its scaling policies are the ECSService's ``spec.autoScaling`` (docs/autoscaling.md), which the
operator carries out as one HorizontalPodAutoscaler. Two things have no place there:

- a target registered before its first policy: ``spec.autoScaling`` needs at least one policy
  (an HPA tracks at least one metric), so until then the target (min, max, suspended state)
  is the annotation ``ecs.facade.dev/scalable-target`` and the service's ``desiredCount`` is
  moved into ``[minCapacity, maxCapacity]``, as Application Auto Scaling moves a registered
  resource's capacity into the range. The first policy moves it into ``spec.autoScaling``;
  deleting the last one moves it back, with ``desiredCount`` set to the count the HPA left;
- creation times: the annotation ``ecs.facade.dev/autoscaling-created`` (JSON: ``target`` and
  ``policies`` by name); a target set with kubectl shows the service's creation time.

Policy ARNs are derived from the account, region, resource and policy name (a UUID 5), so the
same policy always has the same ARN. ecs-facade has no CloudWatch: ``Alarms`` is always ``[]``.
"""

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from ecs_facade.api import GROUP
from ecs_facade.arns import Arns
from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.pagination import page
from ecs_facade.ecsapi.services import cluster_of, service_name_of
from ecs_facade.ecsapi.timestamps import epoch
from ecs_facade.model.autoscaling import AutoScaling
from ecs_facade.translate import TranslationError
from ecs_facade.translate.autoscaling import build_autoscaler

SERVICE_NAMESPACE = "ecs"
SCALABLE_DIMENSION = "ecs:service:DesiredCount"
ANNOTATION_TARGET = f"{GROUP}/scalable-target"
ANNOTATION_CREATED = f"{GROUP}/autoscaling-created"
MAX_RESULTS = 50  # Application Auto Scaling's page size limit (and default) for its Describe actions
# the service-linked role Application Auto Scaling uses for ECS services (RoleARN is answered, not used)
_ROLE = (
    "role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
)
_RESOURCE_ID = re.compile(r"^service/(?P<cluster>[A-Za-z0-9_-]{1,255})/(?P<service>[A-Za-z0-9_-]{1,255})$")
_PREDEFINED = (
    "ECSServiceAverageCPUUtilization",
    "ECSServiceAverageMemoryUtilization",
    "ECSServiceAverageCPUUtilizationHighResolution",
    "ECSServiceAverageMemoryUtilizationHighResolution",
    "ALBRequestCountPerTarget",
)
_SUSPENDED = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")
_TRACKING = "TargetTrackingScaling"
_STEP = "StepScaling"
_POLICY_LISTS = {_TRACKING: "targetTrackingScalingPolicies", _STEP: "stepScalingPolicies"}


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def object_not_found(message: str) -> ApiError:
    return ApiError("ObjectNotFoundException", message)


@dataclass(frozen=True)
class Resource:
    """The ECS service a request's ResourceId names."""

    cluster: str
    service: str

    @property
    def resource_id(self) -> str:
        return f"service/{self.cluster}/{self.service}"

    def identity(self) -> str:
        """How Application Auto Scaling names the target in its not-found messages."""
        return (
            f"service namespace: {SERVICE_NAMESPACE}, resource ID: {self.resource_id},"
            f" scalable dimension: {SCALABLE_DIMENSION}"
        )


def check_scope(request: Mapping[str, Any]) -> None:
    """ServiceNamespace and (when given) ScalableDimension: ecs-facade scales ECS services only."""
    namespace = request.get("ServiceNamespace")
    if namespace != SERVICE_NAMESPACE:
        raise validation(
            f"ServiceNamespace: {namespace!r} is not supported; ecs-facade scales ECS services only"
            f" (ServiceNamespace {SERVICE_NAMESPACE})"
        )
    dimension = request.get("ScalableDimension")
    if dimension is not None and dimension != SCALABLE_DIMENSION:
        raise validation(
            f"ScalableDimension: {dimension!r} is not supported; an ECS service scales on {SCALABLE_DIMENSION}"
        )


def parse_resource_id(value: Any) -> Resource:
    match = _RESOURCE_ID.match(str(value or ""))
    if not match:
        raise validation(
            f"ResourceId: {value!r} is not an ECS service's resource ID; expected service/<cluster>/<service>"
        )
    return Resource(match.group("cluster"), match.group("service"))


def resource_of(service: Mapping[str, Any]) -> Resource:
    return Resource(cluster_of(service), service_name_of(service))


def find_service(
    services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any], resource: Resource
) -> Mapping[str, Any] | None:
    """The ECSService of ``resource`` (its cluster seen by the namespace; not being deleted)."""
    if resource.cluster not in visible:
        return None
    for service in services:
        if resource_of(service) == resource and not (service.get("metadata") or {}).get("deletionTimestamp"):
            return service
    return None


def require_service(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any]
) -> tuple[Resource, Mapping[str, Any]]:
    """The request's scope checked and its service, else ValidationException as Application
    Auto Scaling answers for a service ECS does not know."""
    check_scope(request)
    resource = parse_resource_id(request.get("ResourceId"))
    service = find_service(services, visible, resource)
    if service is None:
        raise validation(f"ECS service doesn't exist: {resource.resource_id}")
    return resource, service


def _annotation(service: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    raw = ((service.get("metadata") or {}).get("annotations") or {}).get(key)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def target_of(service: Mapping[str, Any]) -> dict[str, Any] | None:
    """The service's scalable target as the CR holds it (camelCase): ``spec.autoScaling``,
    else the annotation of a target without policies; None when not registered."""
    spec = service.get("spec") or {}
    if str(spec.get("schedulingStrategy") or "REPLICA") == "DAEMON":
        return None
    if spec.get("autoScaling"):
        return dict(spec["autoScaling"])
    return _annotation(service, ANNOTATION_TARGET)


def _created(service: Mapping[str, Any]) -> dict[str, Any]:
    return _annotation(service, ANNOTATION_CREATED) or {}


def _creation_time(service: Mapping[str, Any], policy: str | None = None) -> float:
    created = _created(service)
    for value in ((created.get("policies") or {}).get(policy) if policy else None, created.get("target")):
        seconds = epoch(value)
        if seconds is not None:
            return seconds
    return epoch((service.get("metadata") or {}).get("creationTimestamp")) or 0.0


# --- names between the API (PascalCase) and the CR (camelCase)


def _camel(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _pascal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key[:1].upper() + key[1:]: _pascal(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pascal(item) for item in value]
    return value


def _suspended(target: Mapping[str, Any]) -> dict[str, bool]:
    state = target.get("suspendedState") or {}
    return {name: bool(state.get(name[:1].lower() + name[1:])) for name in _SUSPENDED}


def _problems(error: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or 'autoScaling'}: {e['msg']}"
        for e in error.errors(include_url=False)
    )


def _checked(scaling: Mapping[str, Any], service: Mapping[str, Any]) -> None:
    """What the CRD and the operator would refuse, refused now as ValidationException (the
    operator would otherwise report it as InvalidSpec after the request was answered)."""
    try:
        model = AutoScaling.model_validate(scaling)
    except pydantic.ValidationError as error:
        raise validation(f"spec.autoScaling would be invalid: {_problems(error)}") from None
    if model.targetTrackingScalingPolicies or model.stepScalingPolicies:
        try:
            build_autoscaler(str(service["metadata"]["name"]), "x", model, {})
        except TranslationError as error:
            raise validation(f"spec.autoScaling cannot be carried out by a HorizontalPodAutoscaler: {error}") from None


def _replacing(old: Any, new: Any) -> Any:
    """A merge patch that makes ``old`` into ``new``: keys of ``old`` that ``new`` lacks are null."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        patch = {key: _replacing(old.get(key), value) for key, value in new.items()}
        patch.update({key: None for key in old if key not in new})
        return patch
    return new


def _patch(service: Mapping[str, Any], annotations: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": (service.get("metadata") or {}).get("resourceVersion")}
    if annotations:
        metadata["annotations"] = dict(annotations)
    patch: dict[str, Any] = {"metadata": metadata}
    if spec:
        patch["spec"] = dict(spec)
    return patch


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _current_count(service: Mapping[str, Any]) -> int:
    """The service's count now: the HPA's choice (status) while it owns it, else the spec's."""
    status = service.get("status") or {}
    if status.get("desiredCount") is not None:
        return int(status["desiredCount"])
    return int((service.get("spec") or {}).get("desiredCount") or 0)


def _policy_count(target: Mapping[str, Any]) -> int:
    return sum(len(target.get(key) or []) for key in _POLICY_LISTS.values())


# --- scalable targets


def scalable_target_arn(arns: Arns, resource: Resource) -> str:
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{arns.account_id}/{arns.region}/{resource.resource_id}").hex
    return f"arn:aws:application-autoscaling:{arns.region}:{arns.account_id}:scalable-target/{digest}"


def register_scalable_target(
    request: Mapping[str, Any], resource: Resource, service: Mapping[str, Any], arns: Arns, now: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """RegisterScalableTarget: (the merge patch of the ECSService, the answer). A new target
    needs MinCapacity and MaxCapacity; an update changes only what is given (SuspendedState
    member by member)."""
    spec = service.get("spec") or {}
    if str(spec.get("schedulingStrategy") or "REPLICA") == "DAEMON":
        raise validation(
            f"{resource.resource_id}: a DAEMON service runs one task per container instance; it has no"
            " desired count to scale"
        )
    current = target_of(service)
    if current is None and (request.get("MinCapacity") is None or request.get("MaxCapacity") is None):
        raise validation("MinCapacity and MaxCapacity are required for registering a new scalable target")
    target = dict(current or {})
    for member in ("MinCapacity", "MaxCapacity"):
        if request.get(member) is not None:
            target[member[:1].lower() + member[1:]] = int(request[member])
    if request.get("SuspendedState") is not None:
        state = {**_suspended(target), **{k: v for k, v in request["SuspendedState"].items() if v is not None}}
        target["suspendedState"] = _camel(state)
    if target["minCapacity"] > target["maxCapacity"]:
        raise validation(
            f"Minimum capacity ({target['minCapacity']}) cannot be greater than maximum capacity"
            f" ({target['maxCapacity']})"
        )
    annotations: dict[str, Any] = {}
    created = _created(service)
    if current is None:  # a target applied with kubectl keeps the service's creation time
        annotations[ANNOTATION_CREATED] = _json({**created, "target": now})
    changes: dict[str, Any] = {}
    if _policy_count(target):
        _checked(target, service)
        changes["autoScaling"] = _replacing(spec.get("autoScaling") or {}, target)
    else:
        # no policy yet: the annotation holds the target and the count moves into its range
        annotations[ANNOTATION_TARGET] = _json(target)
        count = int(spec.get("desiredCount") or 0)
        clamped = max(target["minCapacity"], min(target["maxCapacity"], count))
        if clamped != count:
            changes["desiredCount"] = clamped
    return _patch(service, annotations, changes), {"ScalableTargetARN": scalable_target_arn(arns, resource)}


def deregister_scalable_target(resource: Resource, service: Mapping[str, Any]) -> dict[str, Any]:
    """DeregisterScalableTarget: the target and its policies go; the count stays where the HPA
    left it (spec.desiredCount set to it), as an ECS service keeps its last desired count."""
    target = target_of(service)
    if target is None:
        raise object_not_found(f"No scalable target found for {resource.identity()}")
    annotations = {ANNOTATION_TARGET: None, ANNOTATION_CREATED: None}
    changes: dict[str, Any] = {}
    if (service.get("spec") or {}).get("autoScaling"):
        changes = {"autoScaling": None, "desiredCount": _current_count(service)}
    return _patch(service, annotations, changes)


def _targets(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any]
) -> list[tuple[Resource, Mapping[str, Any], dict[str, Any]]]:
    """(resource, service, target) of every registered target the request asks about, by ResourceId."""
    check_scope(request)
    wanted: set[Resource] | None = None
    if request.get("ResourceIds"):
        wanted = {parse_resource_id(r) for r in request["ResourceIds"]}
    elif request.get("ResourceId"):
        wanted = {parse_resource_id(request["ResourceId"])}
    found = []
    for service in services:
        resource = resource_of(service)
        target = target_of(service)
        if target is None or resource.cluster not in visible or (wanted is not None and resource not in wanted):
            continue
        if (service.get("metadata") or {}).get("deletionTimestamp"):
            continue
        found.append((resource, service, target))
    return sorted(found, key=lambda item: item[0].resource_id)


def _page(
    items: Sequence[Any], key: Any, request: Mapping[str, Any], action: str, descending: bool = False
) -> tuple[list[Any], str | None]:
    """Application Auto Scaling's paging: MaxResults 1-50 (default 50), NextToken; a token
    not of this action is InvalidNextTokenException."""
    limit = request.get("MaxResults")
    if limit is not None and not 1 <= int(limit) <= MAX_RESULTS:
        raise validation(f"MaxResults: {limit} is out of range; expected 1 to {MAX_RESULTS}")
    try:
        return page(
            items,
            key,
            action=action,
            max_results=int(limit) if limit is not None else MAX_RESULTS,
            next_token=request.get("NextToken"),
            descending=descending,
        )
    except ApiError as error:
        raise ApiError("InvalidNextTokenException", error.message.replace("nextToken", "NextToken")) from None


def scalable_target(
    resource: Resource, service: Mapping[str, Any], target: Mapping[str, Any], arns: Arns
) -> dict[str, Any]:
    return {
        "ServiceNamespace": SERVICE_NAMESPACE,
        "ResourceId": resource.resource_id,
        "ScalableDimension": SCALABLE_DIMENSION,
        "MinCapacity": int(target.get("minCapacity") or 0),
        "MaxCapacity": int(target.get("maxCapacity") or 0),
        "RoleARN": f"arn:aws:iam::{arns.account_id}:{_ROLE}",
        "CreationTime": _creation_time(service),
        "SuspendedState": _suspended(target),
        "ScalableTargetARN": scalable_target_arn(arns, resource),
    }


def describe_scalable_targets(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any], arns: Arns
) -> dict[str, Any]:
    found = _targets(request, services, visible)
    chosen, token = _page(found, lambda item: (item[0].resource_id,), request, "DescribeScalableTargets")
    response: dict[str, Any] = {"ScalableTargets": [scalable_target(r, s, t, arns) for r, s, t in chosen]}
    if token:
        response["NextToken"] = token
    return response


# --- scaling policies


def policy_arn(arns: Arns, resource: Resource, name: str) -> str:
    """The policy's ARN in Application Auto Scaling's form, its UUID derived (the same every call)."""
    ident = uuid.uuid5(uuid.NAMESPACE_URL, f"{arns.account_id}/{arns.region}/{resource.resource_id}/{name}")
    return (
        f"arn:aws:autoscaling:{arns.region}:{arns.account_id}:scalingPolicy:{ident}:"
        f"resource/{SERVICE_NAMESPACE}/{resource.resource_id}:policyName/{name}"
    )


def _policies(target: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(PolicyType, the CR's policy) of every policy of the target, in spec order."""
    return [(kind, dict(p)) for kind, key in _POLICY_LISTS.items() for p in target.get(key) or []]


def _tracking_policy(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    customized = config.get("CustomizedMetricSpecification")
    if customized is not None and customized.get("Metrics"):
        raise validation(
            "TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification.Metrics: metric math is not"
            " supported by ecs-facade (one HorizontalPodAutoscaler metric per policy); give MetricName instead"
        )
    predefined = config.get("PredefinedMetricSpecification")
    if predefined is not None and predefined.get("PredefinedMetricType") not in _PREDEFINED:
        raise validation(
            "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType:"
            f" {predefined.get('PredefinedMetricType')!r} is not a metric of an ECS service; expected one of"
            f" {', '.join(_PREDEFINED)}"
        )
    if (predefined is None) == (customized is None):
        raise validation(
            "TargetTrackingScalingPolicyConfiguration: give exactly one of PredefinedMetricSpecification and"
            " CustomizedMetricSpecification"
        )
    return {"policyName": name, **_camel(config)}


def _step_policy(name: str, config: Mapping[str, Any], existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """A step policy keeps the alarm its ECSService gives it: in ECS the alarm is a CloudWatch
    alarm created apart from the policy, which ecs-facade does not have."""
    if existing is None or not existing.get("alarm"):
        raise validation(
            f"PolicyType StepScaling: policy {name!r} has no alarm. ecs-facade has no CloudWatch alarms to trigger"
            " a step policy; its alarm is part of the policy in the ECSService"
            " (spec.autoScaling.stepScalingPolicies[].alarm, docs/autoscaling.md): create it with kubectl, after"
            " which PutScalingPolicy may update it; or use TargetTrackingScaling"
        )
    return {"policyName": name, **_camel(config), "alarm": existing["alarm"]}


def put_scaling_policy(
    request: Mapping[str, Any], resource: Resource, service: Mapping[str, Any], arns: Arns, now: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """PutScalingPolicy: (the merge patch, the answer). A policy of that name is replaced (its
    type may be left out then); the target must be registered first."""
    target = target_of(service)
    if target is None:
        raise object_not_found(f"No scalable target registered for {resource.identity()}")
    name = str(request["PolicyName"])
    existing = next(((k, p) for k, p in _policies(target) if p.get("policyName") == name), None)
    kind = request.get("PolicyType") or (existing[0] if existing else None)
    if kind is None:
        raise validation("PolicyType: required when creating a scaling policy (TargetTrackingScaling or StepScaling)")
    if kind not in _POLICY_LISTS:
        raise validation(
            f"PolicyType: {kind} is not supported by ecs-facade for ECS services; use TargetTrackingScaling or"
            " StepScaling"
        )
    member = f"{kind}PolicyConfiguration"
    other = _STEP if kind == _TRACKING else _TRACKING
    if request.get(f"{other}PolicyConfiguration") is not None:
        raise validation(f"{other}PolicyConfiguration: not allowed with PolicyType {kind}")
    config = request.get(member)
    if config is None:
        raise validation(f"{member}: required for PolicyType {kind}")
    if kind == _TRACKING:
        policy = _tracking_policy(name, config)
    else:
        policy = _step_policy(name, config, existing[1] if existing and existing[0] == _STEP else None)
    updated = {key: value for key, value in target.items() if key not in _POLICY_LISTS.values()}
    for list_kind, key in _POLICY_LISTS.items():
        kept = [p for p in target.get(key) or [] if p.get("policyName") != name]
        if list_kind == kind:
            index = next((i for i, p in enumerate(target.get(key) or []) if p.get("policyName") == name), len(kept))
            kept.insert(index, policy)
        if kept:
            updated[key] = kept
    _checked(updated, service)
    spec = service.get("spec") or {}
    created = _created(service)
    annotations: dict[str, Any] = {}
    if existing is None:
        policies = {**(created.get("policies") or {}), name: now}
        annotations[ANNOTATION_CREATED] = _json({**created, "policies": policies})
    if not spec.get("autoScaling"):
        annotations[ANNOTATION_TARGET] = None  # the target moves into spec.autoScaling
    patch = _patch(service, annotations, {"autoScaling": _replacing(spec.get("autoScaling") or {}, updated)})
    return patch, {"PolicyARN": policy_arn(arns, resource, name), "Alarms": []}


def delete_scaling_policy(request: Mapping[str, Any], resource: Resource, service: Mapping[str, Any]) -> dict[str, Any]:
    """DeleteScalingPolicy: the policy goes; the last one takes the target back to the
    annotation, with the count where the HPA left it."""
    name = str(request["PolicyName"])
    target = target_of(service)
    if target is None or not any(p.get("policyName") == name for _, p in _policies(target)):
        raise object_not_found(f"No scaling policy found for {resource.identity()}, policy name: {name}")
    updated = {key: value for key, value in target.items() if key not in _POLICY_LISTS.values()}
    for key in _POLICY_LISTS.values():
        kept = [p for p in target.get(key) or [] if p.get("policyName") != name]
        if kept:
            updated[key] = kept
    created = _created(service)
    policies = {k: v for k, v in (created.get("policies") or {}).items() if k != name}
    annotations: dict[str, Any] = {ANNOTATION_CREATED: _json({**created, "policies": policies})}
    spec = service.get("spec") or {}
    if _policy_count(updated):
        return _patch(service, annotations, {"autoScaling": _replacing(spec.get("autoScaling") or {}, updated)})
    annotations[ANNOTATION_TARGET] = _json(updated)
    return _patch(service, annotations, {"autoScaling": None, "desiredCount": _current_count(service)})


def scaling_policy(
    resource: Resource, service: Mapping[str, Any], kind: str, policy: Mapping[str, Any], arns: Arns
) -> dict[str, Any]:
    name = str(policy.get("policyName"))
    config = _pascal({k: v for k, v in policy.items() if k not in ("policyName", "alarm")})
    return {
        "PolicyARN": policy_arn(arns, resource, name),
        "PolicyName": name,
        "ServiceNamespace": SERVICE_NAMESPACE,
        "ResourceId": resource.resource_id,
        "ScalableDimension": SCALABLE_DIMENSION,
        "PolicyType": kind,
        f"{kind}PolicyConfiguration": config,
        "Alarms": [],
        "CreationTime": _creation_time(service, name),
    }


def describe_scaling_policies(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any], arns: Arns
) -> dict[str, Any]:
    names = set(request.get("PolicyNames") or [])
    found = [
        scaling_policy(resource, service, kind, policy, arns)
        for resource, service, target in _targets(request, services, visible)
        for kind, policy in _policies(target)
        if not names or policy.get("policyName") in names
    ]
    chosen, token = _page(found, lambda p: (p["ResourceId"], p["PolicyName"]), request, "DescribeScalingPolicies")
    response: dict[str, Any] = {"ScalingPolicies": chosen}
    if token:
        response["NextToken"] = token
    return response


# --- scaling activities


def scaling_activity(resource: Resource, activity: Mapping[str, Any]) -> dict[str, Any] | None:
    """status.autoScaling.lastScalingActivity (views/autoscaling.py) as a ScalingActivity."""
    start = epoch(activity.get("startTime"))
    if start is None:
        return None
    description = str(activity.get("description") or "")
    done = description.removeprefix("Setting desired count to ").rstrip(".")
    return {
        "ActivityId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{resource.resource_id}/{activity.get('startTime')}")),
        "ServiceNamespace": SERVICE_NAMESPACE,
        "ResourceId": resource.resource_id,
        "ScalableDimension": SCALABLE_DIMENSION,
        "Description": description,
        "Cause": str(activity.get("cause") or ""),
        "StartTime": start,
        "EndTime": start,
        "StatusCode": "Successful",
        "StatusMessage": f"Successfully set desired count to {done}. Change successfully fulfilled by ecs.",
    }


def describe_scaling_activities(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any]
) -> dict[str, Any]:
    """The scaling the operator records: each service's last scaling activity (the status keeps
    the last one only), newest first."""
    found = []
    for resource, service, _ in _targets(request, services, visible):
        recorded = ((service.get("status") or {}).get("autoScaling") or {}).get("lastScalingActivity")
        activity = scaling_activity(resource, recorded) if recorded else None
        if activity is not None:
            found.append(activity)
    found.sort(key=lambda a: (a["StartTime"], a["ResourceId"]), reverse=True)
    chosen, token = _page(
        found,
        lambda a: (f"{a['StartTime']:020.6f}", a["ResourceId"]),
        request,
        "DescribeScalingActivities",
        descending=True,
    )
    response: dict[str, Any] = {"ScalingActivities": chosen}
    if token:
        response["NextToken"] = token
    return response
