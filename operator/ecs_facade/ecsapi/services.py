"""CreateService, DescribeServices, ListServices, UpdateService, DeleteService: pure halves.

An ECS service is an ECSService in the request's namespace (scope.py); it names its cluster
by ``spec.cluster`` (a name; ``default`` when absent) and its ECS name by ``spec.serviceName``
(metadata.name when absent). Requests become ECSService manifests or merge patches; ECSService
objects become ECS ``Service`` shapes from their spec and the status the operator keeps
(views/service_status.py: counts, ECS-shaped deployments and events, the revision in use).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ecs_facade import arns as ecs_arns
from ecs_facade.api import API_VERSION, DEFAULT_CLUSTER, KIND_SERVICE
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import inactive, scope, taskdefinitions
from ecs_facade.ecsapi.errors import EcsError, client_error, cluster_not_found, invalid_parameter, service_not_found
from ecs_facade.ecsapi.pagination import paged_answer
from ecs_facade.ecsapi.timestamps import epoch, with_epochs
from ecs_facade.translate.run_task import LABEL_CLIENT_TOKEN, client_token_label

# on an ECSService created with a clientToken: a hash of it (created_with_token)
ANNOTATION_CLIENT_TOKEN = LABEL_CLIENT_TOKEN

# CreateService members the response gives back as they were asked (the ECSService's spec)
_ECHOED = (
    "loadBalancers",
    "serviceRegistries",
    "launchType",
    "capacityProviderStrategy",
    "platformVersion",
    "placementConstraints",
    "placementStrategy",
    "networkConfiguration",
    "healthCheckGracePeriodSeconds",
    "deploymentController",
    "enableECSManagedTags",
    "propagateTags",
    "enableExecuteCommand",
    "availabilityZoneRebalancing",
)
# UpdateService members that are not spec fields (every other member, validated against the
# ECS model, is a CreateService member too, which the ECSService spec takes as it is)
_NOT_SPEC = frozenset({"cluster", "service", "forceNewDeployment"})
_DESCRIBE_LIMIT = 10  # DescribeServices takes up to 10 services
_DEFAULT_DEPLOYMENT_CONFIGURATION = {"maximumPercent": 200, "minimumHealthyPercent": 100}


def _cluster(ref: str | None) -> str:
    try:
        return ecs_arns.cluster_name(ref, DEFAULT_CLUSTER)
    except ValueError as error:
        raise invalid_parameter(str(error)) from None


def _member(ref: Any) -> ecs_arns.MemberRef:
    try:
        return ecs_arns.member_ref(str(ref or ""), "service")
    except ValueError as error:
        raise invalid_parameter(str(error)) from None


def service_name_of(service: Mapping[str, Any]) -> str:
    return str((service.get("spec") or {}).get("serviceName") or service["metadata"]["name"])


def cluster_of(service: Mapping[str, Any]) -> str:
    """The service's cluster name (spec.cluster may be an ARN, as in the CreateService request)."""
    try:
        return ecs_arns.cluster_name((service.get("spec") or {}).get("cluster"), DEFAULT_CLUSTER)
    except ValueError:
        return str((service.get("spec") or {}).get("cluster"))


def _deleting(service: Mapping[str, Any]) -> bool:
    return bool((service.get("metadata") or {}).get("deletionTimestamp"))


def _request_cluster(request: Mapping[str, Any], visible: Mapping[str, Any]) -> str:
    """The request's cluster, which the namespace must see, else ClusterNotFoundException."""
    name = _cluster(request.get("cluster"))
    if name not in visible:
        raise cluster_not_found()
    return name


def find_service(services: Sequence[Mapping[str, Any]], cluster: str, ref: Any) -> Mapping[str, Any] | None:
    """The service a request names (name or ARN) in ``cluster``; an ARN naming another cluster
    names no service of this one."""
    member = _member(ref)
    if member.cluster is not None and member.cluster != cluster:
        return None
    for service in services:
        if service_name_of(service) == member.name and cluster_of(service) == cluster:
            return service
    return None


def task_definition_arn(
    value: Any,
    objects: Sequence[Mapping[str, Any]],
    controller_revisions: Sequence[Mapping[str, Any]],
    arns: Arns,
) -> str:
    """The revision ARN a CreateService/UpdateService ``taskDefinition`` names (a bare family:
    its latest ACTIVE revision), or ECS's ClientException: ECS refuses an unknown or INACTIVE
    revision at once rather than failing the deployment later."""
    found = taskdefinitions.resolve(value, objects, controller_revisions)
    if found is None:
        raise client_error("TaskDefinition not found.")
    _, revision = found
    if revision.status != "ACTIVE":
        raise client_error("TaskDefinition is inactive")
    return arns.task_definition(revision.family, revision.revision)


def create_service(
    request: Mapping[str, Any],
    namespace: str,
    services: Sequence[Mapping[str, Any]],
    visible: Mapping[str, Any],
) -> dict[str, Any]:
    """The ECSService to create: the request as its spec (cluster by name). A service of that
    name in the namespace (of any cluster: metadata.name is per namespace) is refused as ECS
    refuses a second CreateService of an active name."""
    cluster = _request_cluster(request, visible)
    name = str(request.get("serviceName") or "")
    if not name:
        raise invalid_parameter("serviceName: missing; expected the service's name")
    _member(name)  # a valid ECS service name
    controller = str((request.get("deploymentController") or {}).get("type") or "ECS")
    if not request.get("taskDefinition") and controller != "EXTERNAL":
        raise invalid_parameter(
            "taskDefinition: missing; expected a family, family:revision or ARN (required unless the "
            "deploymentController is EXTERNAL)"
        )
    metadata_name = scope.kubernetes_name(name)
    for service in services:
        if service_name_of(service) == name or service["metadata"]["name"] == metadata_name:
            if _deleting(service):
                raise invalid_parameter(
                    f"serviceName: service {name!r} is still draining; create it again once it is deleted"
                )
            raise invalid_parameter("Creation of service was not idempotent.")
    spec = _create_spec(request, cluster, name)
    metadata: dict[str, Any] = {"name": metadata_name, "namespace": namespace}
    if request.get("clientToken"):
        metadata["annotations"] = {ANNOTATION_CLIENT_TOKEN: client_token_label(str(request["clientToken"]))}
    return {"apiVersion": API_VERSION, "kind": KIND_SERVICE, "metadata": metadata, "spec": spec}


def _create_spec(request: Mapping[str, Any], cluster: str, name: str) -> dict[str, Any]:
    spec = {key: value for key, value in request.items() if value is not None and key != "clientToken"}
    spec["cluster"] = cluster
    spec["serviceName"] = name
    return spec


def created_with_token(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The service an earlier CreateService with the request's ``clientToken`` and the same
    members created (None without a token): the call retried answers it again, as ECS's
    idempotency token promises, instead of "Creation of service was not idempotent."."""
    token = request.get("clientToken")
    if not token:
        return None
    cluster = _request_cluster(request, visible)
    name = str(request.get("serviceName") or "")
    label = client_token_label(str(token))
    wanted = _create_spec(request, cluster, name)
    for service in services:
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        spec = service.get("spec") or {}
        if (
            service_name_of(service) == name
            and not _deleting(service)
            and annotations.get(ANNOTATION_CLIENT_TOKEN) == label
            # members the CRD pruned (unknown to it) are not there to compare
            and all(spec[key] == value for key, value in wanted.items() if key in spec)
        ):
            return service
    return None


def _revision_of(ref: Any) -> str | None:
    """``family:revision`` of a task definition reference that names a revision (an ARN or
    ``family:N``); None for a bare family."""
    tail = str(ref or "").rsplit("/", 1)[-1]
    return tail if ":" in tail else None


def _unobserved_deployment(service: Mapping[str, Any], desired: int, arns: Arns) -> dict[str, Any] | None:
    """The deployment ECS starts as it answers an UpdateService to another revision, while the
    operator has not yet acted on that spec (status.observedGeneration behind
    metadata.generation): without it, a ``services_stable`` waiter started right after the
    update would see the old, settled deployment and return at once."""
    metadata = service.get("metadata") or {}
    spec = service.get("spec") or {}
    status = service.get("status") or {}
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if generation is None or observed is None or int(observed) >= int(generation):
        return None
    wanted, running = _revision_of(spec.get("taskDefinition")), _revision_of(status.get("taskDefinition"))
    if wanted is None or wanted == running:
        return None
    family, _, revision = wanted.rpartition(":")
    return {
        "id": f"ecs-svc/pending-{generation}",
        "status": "PRIMARY",
        "taskDefinition": arns.task_definition(family, int(revision)) if revision.isdigit() else wanted,
        "desiredCount": desired,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": "ECS deployment in progress: the operator has not acted on it yet.",
    }


def describe_service(service: Mapping[str, Any], arns: Arns, include: Sequence[str] = ()) -> dict[str, Any]:
    """The ECS ``Service`` of an ECSService: its spec as asked, its status as the operator
    wrote it (0 counts and no deployments until it first writes)."""
    spec = service.get("spec") or {}
    status = service.get("status") or {}
    name = service_name_of(service)
    cluster = cluster_of(service)
    described: dict[str, Any] = {
        "serviceArn": arns.service(cluster, name),
        "serviceName": name,
        "clusterArn": arns.cluster(cluster),
        "status": "DRAINING" if _deleting(service) else "ACTIVE",
        "desiredCount": int(status.get("desiredCount") or 0),
        "runningCount": int(status.get("runningCount") or 0),
        "pendingCount": int(status.get("pendingCount") or 0),
        "taskDefinition": str(status.get("taskDefinition") or spec.get("taskDefinition") or ""),
        "deploymentConfiguration": {
            **_DEFAULT_DEPLOYMENT_CONFIGURATION,
            **dict(spec.get("deploymentConfiguration") or {}),
        },
        # a deployment replaced completely (INACTIVE) is not listed, as ECS lists none: the
        # services_stable waiter counts the deployments (one when stable)
        "deployments": [
            with_epochs(d, ("createdAt", "updatedAt"))
            for d in status.get("deployments") or []
            if d.get("status") != "INACTIVE"
        ],
        "events": [with_epochs(e, ("createdAt",)) for e in status.get("events") or []],
        "schedulingStrategy": str(spec.get("schedulingStrategy") or "REPLICA"),
        "loadBalancers": [],
        "serviceRegistries": [],
        "placementConstraints": [],
        "placementStrategy": [],
    }
    # ECS answers the count asked for at once (UpdateService's answer has the new count); only
    # an auto scaled service's count is its scaling's choice, which the operator's status has
    if spec.get("desiredCount") is not None and (not spec.get("autoScaling") or status.get("desiredCount") is None):
        described["desiredCount"] = int(spec["desiredCount"])
    pending = _unobserved_deployment(service, described["desiredCount"], arns)
    if pending is not None:
        described["deployments"] = [pending, *({**d, "status": "ACTIVE"} for d in described["deployments"])]
    described.update({key: spec[key] for key in _ECHOED if spec.get(key) is not None})
    if spec.get("role"):
        described["roleArn"] = spec["role"]
    created = epoch((service.get("metadata") or {}).get("creationTimestamp"))
    if created is not None:
        described["createdAt"] = created
    if "TAGS" in include:
        described["tags"] = list(spec.get("tags") or [])
    return described


def describe_services(
    request: Mapping[str, Any],
    services: Sequence[Mapping[str, Any]],
    visible: Mapping[str, Any],
    arns: Arns,
    namespace: str | None = None,
    now: float = 0.0,
) -> dict[str, Any]:
    """DescribeServices: the named services of the cluster; one the API deleted within the
    hour (a tombstone of ``namespace`` on the cluster, inactive.py) is INACTIVE; unknown ones
    are failures ``MISSING`` with the ARN they would have, as ECS answers."""
    cluster = _request_cluster(request, visible)
    include = list(request.get("include") or [])
    found: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    refs = list(request.get("services") or [])
    if len(refs) > _DESCRIBE_LIMIT:
        raise invalid_parameter(f"services: {len(refs)} given; expected at most {_DESCRIBE_LIMIT}, as ECS takes")
    for ref in refs:
        service = find_service(services, cluster, ref)
        gone = None
        if service is None and namespace is not None and _member(ref).cluster in (None, cluster):
            gone = inactive.inactive_service(
                visible[cluster], cluster, namespace, _member(ref).name, arns, now, include
            )
        if gone is not None:
            found.append(gone)
        elif service is None:
            failures.append({"arn": arns.service(cluster, _member(ref).name), "reason": "MISSING"})
        else:
            found.append(describe_service(service, arns, include))
    return {"services": found, "failures": failures}


def list_services(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any], arns: Arns
) -> dict[str, Any]:
    """ListServices: the ARNs of the cluster's services, by name, filtered by launchType and
    schedulingStrategy as ECS filters them."""
    cluster = _request_cluster(request, visible)
    names = sorted(
        service_name_of(s)
        for s in services
        if cluster_of(s) == cluster
        and (not request.get("launchType") or (s.get("spec") or {}).get("launchType") == request["launchType"])
        and (
            not request.get("schedulingStrategy")
            or str((s.get("spec") or {}).get("schedulingStrategy") or "REPLICA") == request["schedulingStrategy"]
        )
    )
    return paged_answer(
        request,
        names,
        lambda name: (name,),
        lambda name: arns.service(cluster, name),
        action="ListServices",
        member="serviceArns",
    )


def _active_service(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any]
) -> Mapping[str, Any]:
    cluster = _request_cluster(request, visible)
    service = find_service(services, cluster, request.get("service"))
    if service is None:
        raise service_not_found()
    return service


def update_service(
    request: Mapping[str, Any],
    services: Sequence[Mapping[str, Any]],
    visible: Mapping[str, Any],
    now: str,
    namespace: str | None = None,
    now_seconds: float = 0.0,
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """The service and the merge patch of its spec (with its resourceVersion: a conditional
    write). ``forceNewDeployment: true`` sets spec.forceNewDeployment to ``now``: the CRD's
    field is a value whose every change starts a new deployment (docs/services.md), as each
    forced UpdateService does in ECS. A draining service, or one of ``namespace`` deleted
    within the hour before ``now_seconds`` (INACTIVE, inactive.py), is ServiceNotActiveException."""
    try:
        service = _active_service(request, services, visible)
    except EcsError as error:
        cluster, member = _cluster(request.get("cluster")), _member(request.get("service"))
        if (
            error.name == "ServiceNotFoundException"
            and namespace is not None
            and member.cluster in (None, cluster)
            and inactive.is_inactive(visible[cluster], namespace, member.name, now_seconds)
        ):
            raise EcsError("ServiceNotActiveException", "Service was not ACTIVE.") from error
        raise
    if _deleting(service):
        raise EcsError("ServiceNotActiveException", "Service was not ACTIVE.")
    spec = service.get("spec") or {}
    changes: dict[str, Any] = {
        key: value for key, value in request.items() if key not in _NOT_SPEC and value is not None
    }
    if "desiredCount" in changes and str(spec.get("schedulingStrategy") or "REPLICA") == "DAEMON":
        raise invalid_parameter("desiredCount: a DAEMON service runs one task per instance; it takes no desiredCount")
    if request.get("forceNewDeployment"):
        changes["forceNewDeployment"] = now
    patch = {"metadata": {"resourceVersion": service["metadata"].get("resourceVersion")}, "spec": changes}
    return service, patch


def delete_service(
    request: Mapping[str, Any], services: Sequence[Mapping[str, Any]], visible: Mapping[str, Any], arns: Arns
) -> tuple[str, dict[str, Any]]:
    """The ECSService to delete (its metadata.name) and the answer (the service DRAINING).
    ECS refuses a REPLICA service that still wants tasks unless ``force``."""
    service = _active_service(request, services, visible)
    spec = service.get("spec") or {}
    replica = str(spec.get("schedulingStrategy") or "REPLICA") == "REPLICA"
    if replica and int(spec.get("desiredCount") or 0) > 0 and not request.get("force"):
        raise invalid_parameter("The service cannot be stopped while it is scaled above 0.")
    described = describe_service(service, arns)
    described["status"] = "DRAINING"
    return str(service["metadata"]["name"]), {"service": described}
