"""ECSService: keep a Deployment of the service's task definition, report ECS counts.

Level-based: every trigger (the service changed, its task definition appeared or changed,
its Deployment changed) runs the same ``reconcile``, which reads the current state from
kopf's indexes, computes the desired Deployment, applies it and writes the status only
when it differs.
"""

import datetime
import logging
import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import kopf
from pydantic import ValidationError

from ecs_facade.api import API_VERSION, GROUP, KIND_SERVICE, LABEL_SERVICE, SERVICES, VERSION
from ecs_facade.controllers.indexes import Snapshot, one
from ecs_facade.kube import client as kube
from ecs_facade.model.references import parse_task_definition_ref
from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.taskdefinition import TaskDefinitionSpec
from ecs_facade.translate import TranslationError
from ecs_facade.translate.ownership import owner_reference
from ecs_facade.translate.service import build_deployment
from ecs_facade.views.conditions import set_condition
from ecs_facade.views.service import Readiness, ServiceCounts, rollout_readiness, service_counts

Logger = logging.Logger | logging.LoggerAdapter[Any]

_locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)


def reconcile(
    namespace: str,
    name: str,
    services: kopf.Index[Any, Any],
    task_definitions: kopf.Index[Any, Any],
    logger: Logger,
    deployment: Mapping[str, Any] | None = None,
) -> None:
    """Bring one service's Deployment and status in line with its spec.

    With ``deployment`` given (from a Deployment watch event) only the status is refreshed;
    the Deployment itself is applied when the service or its task definition changed.
    """
    with _locks[(namespace, name)]:
        service: Snapshot | None = one(services, (namespace, name))
        if service is None:
            return  # deleted; the garbage collector removes the Deployment
        desired = _desired_deployment(service, task_definitions)
        if isinstance(desired, Readiness):
            logger.info("service %s/%s not ready: %s", namespace, name, desired.message)
            if deployment is None:  # tasks already running keep being counted
                deployment = kube.get("apps/v1", "deployments", namespace, name)
            counts = service_counts(int(service.spec.get("desiredCount") or 0), deployment)
            _write_status(service, counts, desired)
            return
        manifest, desired_count = desired
        if deployment is None:
            deployment = kube.apply(manifest, "deployments")
        counts = service_counts(desired_count, deployment)
        readiness = rollout_readiness(str(service.spec.get("serviceName") or name), counts, deployment)
        _write_status(service, counts, readiness)


def _desired_deployment(
    service: Snapshot, task_definitions: kopf.Index[Any, Any]
) -> Readiness | tuple[dict[str, Any], int]:
    """The Deployment to apply and the desired count, or why there is none."""
    try:
        spec = ServiceSpec.model_validate({"serviceName": service.name, **service.spec})
        ref = parse_task_definition_ref(spec.taskDefinition)
    except (ValidationError, ValueError) as error:
        return Readiness(False, "InvalidSpec", _message(error))
    found: Snapshot | None = one(task_definitions, (service.namespace, ref.family))
    if found is None:
        return Readiness(
            False,
            "TaskDefinitionNotFound",
            f"task definition {str(ref)!r} not found: no ECSTaskDefinition of family {ref.family!r} "
            f"in namespace {service.namespace!r}",
        )
    try:
        task_definition = TaskDefinitionSpec.model_validate({"family": found.name, **found.spec})
        manifest = build_deployment(service.name, service.namespace, spec, task_definition)
    except (ValidationError, TranslationError) as error:
        return Readiness(False, "InvalidTaskDefinition", f"task definition {found.name!r}: {_message(error)}")
    manifest["metadata"]["ownerReferences"] = [
        owner_reference(API_VERSION, KIND_SERVICE, service.name, service.uid)
    ]
    return manifest, spec.desiredCount


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'spec'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
    return str(error)


def _write_status(service: Snapshot, counts: ServiceCounts, readiness: Readiness) -> None:
    """Write the status when it differs from what the service already reports."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status: dict[str, Any] = {
        "desiredCount": counts.desiredCount,
        "runningCount": counts.runningCount,
        "pendingCount": counts.pendingCount,
        "observedGeneration": service.generation,
        "conditions": set_condition(
            service.status.get("conditions"),
            type="Ready",
            status=readiness.ready,
            reason=readiness.reason,
            message=readiness.message,
            observed_generation=service.generation,
            now=now,
        ),
    }
    if {key: service.status.get(key) for key in status} != status:
        kube.patch_status(API_VERSION, SERVICES, service.namespace, service.name, status)


@kopf.on.resume(GROUP, VERSION, SERVICES)
@kopf.on.create(GROUP, VERSION, SERVICES)
@kopf.on.update(GROUP, VERSION, SERVICES, field="spec")  # type: ignore[arg-type]  # index kwargs
def service_changed(
    name: str,
    namespace: str | None,
    services: kopf.Index[Any, Any],
    task_definitions: kopf.Index[Any, Any],
    logger: Logger,
    **_: Any,
) -> None:
    reconcile(namespace or "", name, services, task_definitions, logger)


@kopf.on.event("apps", "v1", "deployments", labels={LABEL_SERVICE: kopf.PRESENT})  # type: ignore[arg-type]  # index kwargs
def deployment_changed(
    event: kopf.RawEvent,
    body: kopf.Body,
    namespace: str | None,
    labels: Mapping[str, str],
    services: kopf.Index[Any, Any],
    task_definitions: kopf.Index[Any, Any],
    logger: Logger,
    **_: Any,
) -> None:
    name = labels[LABEL_SERVICE]
    namespace = namespace or ""
    service: Snapshot | None = one(services, (namespace, name))
    owners = {ref.get("uid") for ref in body.get("metadata", {}).get("ownerReferences", [])}
    if service is None or service.uid not in owners:
        return
    # a Deployment deleted by hand is put back; otherwise only the counts are refreshed
    deployment = None if event.get("type") == "DELETED" else dict(body)
    reconcile(namespace, name, services, task_definitions, logger, deployment=deployment)
