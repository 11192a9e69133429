"""ECSTaskDefinition: register immutable revisions, mark deregistered ones INACTIVE, report.

Each distinct content of the spec is one revision, numbered from 1 and kept as a
ControllerRevision owned by the task definition (so old revisions stay describable and go
away with it). The content hash makes registration idempotent: a restart, or a trigger
that arrives twice, registers nothing new.
"""

from collections.abc import Mapping
from typing import Any, cast

import kopf
from pydantic import ValidationError

from ecs_facade.api import (
    ANNOTATION_CONTENT_HASH,
    ANNOTATION_REGISTERED_AT,
    API_VERSION,
    GROUP,
    KIND_TASK_DEFINITION,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    TASK_DEFINITIONS,
    VERSION,
)
from ecs_facade.config import Config
from ecs_facade.controllers import service as service_controller
from ecs_facade.controllers import task as task_controller
from ecs_facade.controllers.common import Logger, error_message, now
from ecs_facade.controllers.indexes import (
    Indexes,
    Revision,
    Snapshot,
    one,
    revisions_of,
    with_statuses,
)
from ecs_facade.controllers.state import OperatorState, of
from ecs_facade.kube import client as kube
from ecs_facade.metrics import instrumented
from ecs_facade.model.references import parse_task_definition_ref
from ecs_facade.model.taskdefinition import content_hash, family_of, normalize_task_definition, parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.ownership import owner_reference
from ecs_facade.translate.taskdefinition import PodTranslation, translate_task_definition
from ecs_facade.views.conditions import set_condition


@instrumented("ecstaskdefinition")
def reconcile(state: OperatorState, namespace: str, name: str, indexes: Indexes, logger: Logger) -> None:
    config = state.config
    with state.locks.lock_for(KIND_TASK_DEFINITION, namespace, name):
        td: Snapshot | None = one(indexes.task_definitions_by_name, (namespace, name))
        if td is None:
            return
        family = family_of(name, td.spec)
        existing = revisions_of(indexes.revisions, namespace, name)
        conditions = td.status.get("conditions")
        try:
            request = normalize_task_definition(td.spec, name)
            parsed = parse_task_definition(td.spec, name)
            translation = translate_task_definition(parsed, config.translation)
        except (ValidationError, TranslationError, ValueError) as error:
            message = f"not registered: {error_message(error)}"
            logger.warning("task definition %s/%s invalid: %s", namespace, name, message)
            conditions = set_condition(
                conditions,
                type="Ready",
                status=False,
                reason="InvalidSpec",
                message=message,
                observed_generation=td.generation,
                now=now(),
            )
            _write_status(td, config, family, existing, conditions)
            return

        existing = with_statuses(_register_if_new(td, family, existing, request, translation, logger), td.spec)
        conditions = _registered(td, conditions, family, existing[-1], translation)
        _write_status(td, config, family, existing, conditions)


def _register_if_new(
    td: Snapshot,
    family: str,
    existing: list[Revision],
    request: Mapping[str, Any],
    translation: PodTranslation,
    logger: Logger,
) -> list[Revision]:
    """The revisions, with a new one registered when the content is not the latest's."""
    digest = content_hash(request)
    latest = existing[-1] if existing else None
    if latest is None or latest.content_hash != digest:
        number = latest.revision + 1 if latest else 1
        registered = _register(td, family, number, request, digest)
        existing = [*existing, registered]
        logger.info("registered %s:%d", family, number)
        if translation.ignored or translation.notes:
            kopf.event(
                kopf.Body(cast(kopf.RawBody, _owner_body(td))),
                type="Warning",
                reason="FieldsIgnored",
                message=f"{family}:{number}: {_ignored_message(translation.ignored, translation.notes)}",
            )
    return existing


def _registered(
    td: Snapshot, conditions: Any, family: str, latest: Revision, translation: PodTranslation
) -> list[dict[str, Any]]:
    """Ready (the latest revision and its status) and FieldsIgnored (what the translation left out)."""
    conditions = set_condition(
        conditions,
        type="Ready",
        status=True,
        reason="Registered",
        message=f"{family}:{latest.revision} is the latest revision ({latest.status})",
        observed_generation=td.generation,
        now=now(),
    )
    return set_condition(
        conditions,
        type="FieldsIgnored",
        status=bool(translation.ignored or translation.notes),
        reason="NotExpressible" if translation.ignored or translation.notes else "AllTranslated",
        message=_ignored_message(translation.ignored, translation.notes) or "every field is translated",
        observed_generation=td.generation,
        now=now(),
    )


def _ignored_message(ignored: list[str], notes: list[str]) -> str:
    parts = []
    if ignored:
        parts.append("ignored: " + "; ".join(ignored))
    if notes:
        parts.append("approximated: " + "; ".join(notes))
    return ". ".join(parts)


def _owner_body(td: Snapshot) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND_TASK_DEFINITION,
        "metadata": {"name": td.name, "namespace": td.namespace, "uid": td.uid},
    }


def _register(td: Snapshot, family: str, number: int, request: Mapping[str, Any], digest: str) -> Revision:
    registered_at = now()
    manifest: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{td.name[:240]}-{number}",
            "namespace": td.namespace,
            "labels": {LABEL_MANAGED_BY: MANAGED_BY},
            "annotations": {
                ANNOTATION_CONTENT_HASH: digest,
                ANNOTATION_REGISTERED_AT: registered_at,
                f"{GROUP}/family": family,
            },
            "ownerReferences": [owner_reference(API_VERSION, KIND_TASK_DEFINITION, td.name, td.uid)],
        },
        "revision": number,
        "data": {"taskDefinition": dict(request)},
    }
    created = kube.create(manifest, "controllerrevisions")
    if created is None:
        current = kube.get("apps/v1", "controllerrevisions", td.namespace, manifest["metadata"]["name"])
        current_hash = ((current or {}).get("metadata", {}).get("annotations") or {}).get(ANNOTATION_CONTENT_HASH)
        if current_hash != digest:
            raise kopf.TemporaryError(f"revision {number} of {family} was registered concurrently; retrying", delay=2)
        registered_at = (
            (current or {}).get("metadata", {}).get("annotations", {}).get(ANNOTATION_REGISTERED_AT, registered_at)
        )
    return Revision(
        name=manifest["metadata"]["name"],
        owner=td.name,
        revision=number,
        status="ACTIVE",
        content_hash=digest,
        registered_at=registered_at,
        request=dict(request),
    )


def _write_status(
    td: Snapshot, config: Config, family: str, revisions: list[Revision], conditions: list[dict[str, Any]]
) -> None:
    status: dict[str, Any] = {
        "family": family,
        "observedGeneration": td.generation,
        "conditions": conditions,
        "revisions": [
            {
                "revision": r.revision,
                "taskDefinitionArn": config.task_definition_arn(family, r.revision),
                "status": r.status,
                "registeredAt": r.registered_at,
            }
            for r in revisions
        ],
    }
    if revisions:
        latest = revisions[-1]
        status.update(
            revision=latest.revision,
            taskDefinitionArn=config.task_definition_arn(family, latest.revision),
            status=latest.status,
        )
    if {key: td.status.get(key) for key in status} != status:
        kube.patch_status(API_VERSION, TASK_DEFINITIONS, td.namespace, td.name, status)


@kopf.on.resume(GROUP, VERSION, TASK_DEFINITIONS)
@kopf.on.create(GROUP, VERSION, TASK_DEFINITIONS)
@kopf.on.update(GROUP, VERSION, TASK_DEFINITIONS, field="spec")
def task_definition_changed(
    name: str, namespace: str | None, body: kopf.Body, logger: Logger, memo: kopf.Memo, **_: Any
) -> None:
    indexes = Indexes.of(memo)
    # kopf's watch may bring the task definition (or its new spec) before the informer does
    if not indexes.caught_up(KIND_TASK_DEFINITION, body):
        raise kopf.TemporaryError("the task definition is not in the operator's index yet", delay=1)
    reconcile(of(memo), namespace or "", name, indexes, logger)


def _reconcile_services_of(state: OperatorState, namespace: str, owner: str, indexes: Indexes, logger: Logger) -> None:
    td: Snapshot | None = one(indexes.task_definitions_by_name, (namespace, owner))
    if td is None:
        return
    family = family_of(owner, td.spec)
    for service_name in sorted(set(indexes.services_by_family.get((namespace, family), []))):
        service_controller.enqueue(state, namespace, service_name, indexes, logger, urgent=True, apply=True)
    # tasks that could not start yet because the task definition was missing
    for (task_namespace, task_name), store in list(indexes.ecs_tasks.items()):
        for task in store:
            waiting = not task.status.get("taskDefinitionArn") and task.status.get("lastStatus") != "STOPPED"
            reference = str(task.spec.get("taskDefinition", ""))
            if task_namespace == namespace and waiting and _family_of_reference(reference) == family:
                task_controller.reconcile(state, namespace, task_name, indexes, logger)


def revision_changed(state: OperatorState, namespace: str, owner: str, indexes: Indexes, logger: Logger) -> None:
    """A revision of the task definition ``owner`` appeared or changed state (from
    controllers/informers.py): the services of its family re-resolve."""
    _reconcile_services_of(state, namespace, owner, indexes, logger)


def task_definition_event(state: OperatorState, namespace: str, name: str, indexes: Indexes, logger: Logger) -> None:
    """It changed, e.g. its status (it became invalid) (from controllers/informers.py): the
    services of its family report it."""
    _reconcile_services_of(state, namespace, name, indexes, logger)


def _family_of_reference(reference: str) -> str | None:
    try:
        return parse_task_definition_ref(reference).family
    except ValueError:
        return None
