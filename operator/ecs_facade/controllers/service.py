"""ECSService: keep a Deployment of the service's task definition revision, report ECS counts.

Level-based: every trigger (the service changed, a revision of its family appeared or
changed state, its Deployment changed) runs the same ``reconcile``, which reads the current
state from kopf's indexes, computes the desired Deployment, applies it and writes the
status only when it differs.

Like ECS, a service resolves its task definition reference once: a bare family means the
latest ACTIVE revision *when the service is created or its reference changes*; registering
a newer revision later does not redeploy the service (``status.taskDefinition`` records the
revision in use).
"""

from collections.abc import Mapping
from typing import Any

import kopf
from pydantic import ValidationError

from ecs_facade.api import API_VERSION, GROUP, KIND_SERVICE, LABEL_SERVICE, SERVICES, VERSION
from ecs_facade.config import Config
from ecs_facade.controllers.common import Logger, error_message, lock_for, now
from ecs_facade.controllers.indexes import Indexes, Revision, Snapshot, one, revisions_of, with_statuses
from ecs_facade.kube import client as kube
from ecs_facade.model.references import TaskDefinitionRef, parse_task_definition_ref
from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.ownership import owner_reference
from ecs_facade.translate.service import build_deployment
from ecs_facade.views.conditions import set_condition
from ecs_facade.views.service import Readiness, ServiceCounts, rollout_readiness, service_counts


def reconcile(
    namespace: str,
    name: str,
    indexes: Indexes,
    logger: Logger,
    deployment: Mapping[str, Any] | None = None,
) -> None:
    """Bring one service's Deployment and status in line with its spec.

    With ``deployment`` given (from a Deployment watch event) only the status is refreshed;
    the Deployment itself is applied when the service or its task definition changed.
    """
    with lock_for(KIND_SERVICE, namespace, name):
        service: Snapshot | None = one(indexes.services, (namespace, name))
        if service is None:
            return  # deleted; the garbage collector removes the Deployment
        config = Config.from_env()
        desired = _desired_deployment(service, indexes, config)
        if isinstance(desired, Readiness):
            logger.info("service %s/%s not ready: %s", namespace, name, desired.message)
            if deployment is None:  # tasks already running keep being counted
                deployment = kube.get("apps/v1", "deployments", namespace, name)
            counts = service_counts(int(service.spec.get("desiredCount") or 0), deployment)
            _write_status(service, counts, desired, service.status.get("taskDefinition"))
            return
        manifest, extras, desired_count, arn = desired
        if deployment is None:
            try:
                for account in extras:
                    kube.apply_core(account)
                deployment = kube.apply(manifest, "deployments")
            except kube.NamespaceTerminating:
                return  # the namespace and the service with it are going away
        counts = service_counts(desired_count, deployment)
        readiness = rollout_readiness(str(service.spec.get("serviceName") or name), counts, deployment)
        _write_status(service, counts, readiness, arn)


def resolve_revision(service: Snapshot, ref: TaskDefinitionRef, indexes: Indexes) -> Revision | Readiness:
    """The revision this service runs: its pinned one, else what the reference names now."""
    td: Snapshot | None = one(indexes.task_definitions, (service.namespace, ref.family))
    revisions = with_statuses(revisions_of(indexes.revisions, service.namespace, td.name), td.spec) if td else []
    if td is not None and not revisions:
        ready = next((c for c in td.status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if ready and ready.get("reason") == "InvalidSpec":
            return Readiness(False, "InvalidTaskDefinition", f"task definition {ref.family!r} {ready.get('message')}")
    pinned = _pinned_revision(service, ref)
    if pinned is not None:
        for revision in revisions:
            if revision.revision == pinned:
                return revision
    if ref.revision is not None:
        for revision in revisions:
            if revision.revision == ref.revision:
                if revision.status != "ACTIVE":
                    return Readiness(
                        False,
                        "TaskDefinitionInactive",
                        f"task definition {str(ref)!r} is INACTIVE (deregistered): new deployments cannot use it",
                    )
                return revision
    else:
        active = [r for r in revisions if r.status == "ACTIVE"]
        if active:
            return active[-1]
        if revisions:
            return Readiness(
                False,
                "TaskDefinitionInactive",
                f"task definition family {ref.family!r} has no ACTIVE revision in namespace {service.namespace!r}",
            )
    return Readiness(
        False,
        "TaskDefinitionNotFound",
        f"task definition {str(ref)!r} not found: no ECSTaskDefinition of family {ref.family!r} "
        + (f"with revision {ref.revision} " if ref.revision is not None else "")
        + f"in namespace {service.namespace!r}",
    )


def _pinned_revision(service: Snapshot, ref: TaskDefinitionRef) -> int | None:
    """The revision in use, while the reference still names it (same family, same or no revision)."""
    arn = service.status.get("taskDefinition")
    if not arn:
        return None
    try:
        pinned = parse_task_definition_ref(str(arn))
    except ValueError:
        return None
    if pinned.family != ref.family or pinned.revision is None:
        return None
    if ref.revision is not None and ref.revision != pinned.revision:
        return None
    return pinned.revision


def _desired_deployment(
    service: Snapshot, indexes: Indexes, config: Config
) -> Readiness | tuple[dict[str, Any], list[dict[str, Any]], int, str]:
    """The Deployment to apply, ServiceAccounts it needs, desired count and revision ARN; or why not."""
    try:
        spec = ServiceSpec.model_validate({"serviceName": service.name, **service.spec})
        ref = parse_task_definition_ref(spec.taskDefinition)
    except (ValidationError, ValueError) as error:
        return Readiness(False, "InvalidSpec", error_message(error))
    revision = resolve_revision(service, ref, indexes)
    if isinstance(revision, Readiness):
        return revision
    family = ref.family
    arn = config.task_definition_arn(family, revision.revision)
    try:
        task_definition = parse_task_definition(revision.request, family)
        manifest, translation = build_deployment(
            service.name, service.namespace, spec, task_definition, revision.revision, config.translation
        )
    except (ValidationError, TranslationError) as error:
        return Readiness(
            False,
            "InvalidTaskDefinition",
            f"task definition {family}:{revision.revision}: {error_message(error)}",
        )
    manifest["metadata"]["ownerReferences"] = [owner_reference(API_VERSION, KIND_SERVICE, service.name, service.uid)]
    accounts = [
        {**account, "metadata": {**account["metadata"], "namespace": service.namespace}}
        for account in translation.service_accounts
    ]
    return manifest, accounts, spec.desiredCount, arn


def _write_status(service: Snapshot, counts: ServiceCounts, readiness: Readiness, arn: str | None) -> None:
    """Write the status when it differs from what the service already reports."""
    status: dict[str, Any] = {
        "desiredCount": counts.desiredCount,
        "runningCount": counts.runningCount,
        "pendingCount": counts.pendingCount,
        "taskDefinition": arn,
        "observedGeneration": service.generation,
        "conditions": set_condition(
            service.status.get("conditions"),
            type="Ready",
            status=readiness.ready,
            reason=readiness.reason,
            message=readiness.message,
            observed_generation=service.generation,
            now=now(),
        ),
    }
    if {key: service.status.get(key) for key in status} != status:
        kube.patch_status(API_VERSION, SERVICES, service.namespace, service.name, status)


@kopf.on.resume(GROUP, VERSION, SERVICES)
@kopf.on.create(GROUP, VERSION, SERVICES)
@kopf.on.update(GROUP, VERSION, SERVICES, field="spec")
def service_changed(name: str, namespace: str | None, logger: Logger, **kwargs: Any) -> None:
    reconcile(namespace or "", name, Indexes.from_kwargs(kwargs), logger)


@kopf.on.event("apps", "v1", "deployments", labels={LABEL_SERVICE: kopf.PRESENT})
def deployment_changed(
    event: kopf.RawEvent,
    body: kopf.Body,
    namespace: str | None,
    labels: Mapping[str, str],
    logger: Logger,
    **kwargs: Any,
) -> None:
    indexes = Indexes.from_kwargs(kwargs)
    name = labels[LABEL_SERVICE]
    namespace = namespace or ""
    service: Snapshot | None = one(indexes.services, (namespace, name))
    owners = {ref.get("uid") for ref in body.get("metadata", {}).get("ownerReferences", [])}
    if service is None or service.uid not in owners:
        return
    if event.get("type") == "DELETED":
        # put back a Deployment deleted by hand, but not one the garbage collector removed
        # because the service is gone (the index may not know that yet)
        current = kube.get(API_VERSION, SERVICES, namespace, name)
        if current is None or current["metadata"].get("deletionTimestamp") or current["metadata"]["uid"] != service.uid:
            return
        reconcile(namespace, name, indexes, logger)
        return
    reconcile(namespace, name, indexes, logger, deployment=dict(body))
