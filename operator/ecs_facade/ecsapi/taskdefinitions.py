"""RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
ListTaskDefinitionFamilies, DeregisterTaskDefinition: pure halves.

A family is one ECSTaskDefinition in the request's namespace (``spec.family``, else its
name); its revisions are the ControllerRevisions the operator registers from the spec (data:
the RegisterTaskDefinition request), ACTIVE unless listed in ``spec.deregisteredRevisions``.
The API writes only the ECSTaskDefinition: the controller stays the one writer of revisions.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ecs_facade.api import (
    ANNOTATION_CONTENT_HASH,
    ANNOTATION_REGISTERED_AT,
    API_VERSION,
    GROUP,
    KIND_TASK_DEFINITION,
)
from ecs_facade.arns import NAME_PATTERN, Arns
from ecs_facade.ecsapi import scope
from ecs_facade.ecsapi.errors import client_error, invalid_parameter
from ecs_facade.ecsapi.pagination import paged_answer
from ecs_facade.ecsapi.tags import revision_tags
from ecs_facade.ecsapi.timestamps import epoch
from ecs_facade.model.references import TaskDefinitionRef, parse_task_definition_ref
from ecs_facade.model.taskdefinition import (
    content_hash,
    family_of,
    normalize_task_definition,
    parse_task_cpu,
    parse_task_definition,
    parse_task_memory,
)
from ecs_facade.translate import TranslationError
from ecs_facade.translate.taskdefinition import TranslationOptions, translate_task_definition

_FAMILY = re.compile(rf"^{NAME_PATTERN}$")
# DeleteTaskDefinitions' mark on the ECSTaskDefinition: {"<revision>": "<when asked>"} (ecsapi/updates.py)
DELETED_REVISIONS_ANNOTATION = f"{GROUP}/deleted-revisions"
_PERMISSIVE = TranslationOptions(allow_host_path=True)
_UNABLE = "Unable to describe task definition."
_COMPATIBILITIES = ("EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES")


@dataclass(frozen=True)
class Revision:
    """One registered revision, read from its ControllerRevision."""

    family: str
    revision: int
    status: str  # ACTIVE | INACTIVE
    registered_at: str
    content_hash: str
    request: Mapping[str, Any]


def family_objects(objects: Sequence[Mapping[str, Any]], family: str) -> list[Mapping[str, Any]]:
    return [o for o in objects if family_of(str(o["metadata"]["name"]), o.get("spec") or {}) == family]


def one_family_object(objects: Sequence[Mapping[str, Any]], family: str) -> Mapping[str, Any] | None:
    """The ECSTaskDefinition of a family; two (made with kubectl) make it ambiguous."""
    found = family_objects(objects, family)
    if len(found) > 1:
        names = ", ".join(sorted(str(o["metadata"]["name"]) for o in found))
        raise client_error(f"family {family!r} is held by several ECSTaskDefinitions ({names}); keep one")
    return found[0] if found else None


def deleted_revisions(td: Mapping[str, Any]) -> dict[int, str]:
    """The revisions DeleteTaskDefinitions marked DELETE_IN_PROGRESS, and when (a malformed
    annotation reads as none)."""
    raw = ((td.get("metadata") or {}).get("annotations") or {}).get(DELETED_REVISIONS_ANNOTATION)
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {int(k): str(v) for k, v in found.items() if str(k).isdigit()}


def revisions_of(td: Mapping[str, Any], controller_revisions: Sequence[Mapping[str, Any]]) -> list[Revision]:
    """The registered revisions of one ECSTaskDefinition, oldest first."""
    meta = td["metadata"]
    spec = td.get("spec") or {}
    family = family_of(str(meta["name"]), spec)
    deregistered = {int(r) for r in spec.get("deregisteredRevisions") or []}
    deleted = deleted_revisions(td)
    found: list[Revision] = []
    for cr in controller_revisions:
        cr_meta = cr.get("metadata") or {}
        owners = [
            ref
            for ref in cr_meta.get("ownerReferences") or []
            if ref.get("kind") == KIND_TASK_DEFINITION
            and ref.get("name") == meta["name"]
            and (not meta.get("uid") or ref.get("uid") == meta["uid"])
        ]
        if not owners or cr_meta.get("namespace", meta.get("namespace")) != meta.get("namespace"):
            continue
        number = int(cr.get("revision") or 0)
        annotations = cr_meta.get("annotations") or {}
        found.append(
            Revision(
                family=family,
                revision=number,
                status="DELETE_IN_PROGRESS"
                if number in deleted
                else "INACTIVE"
                if number in deregistered
                else "ACTIVE",
                registered_at=str(annotations.get(ANNOTATION_REGISTERED_AT) or ""),
                content_hash=str(annotations.get(ANNOTATION_CONTENT_HASH) or ""),
                request=dict((cr.get("data") or {}).get("taskDefinition") or {}),
            )
        )
    return sorted(found, key=lambda r: r.revision)


def register_task_definition(
    request: Mapping[str, Any], namespace: str, objects: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The ECSTaskDefinition to apply: the family's object with the request as its spec (the
    controller registers the next revision from it), or a new one. Deregistered revisions
    stay deregistered. The answer comes once the revision is registered: ``registered``."""
    family = str(request.get("family") or "")
    if not _FAMILY.match(family):
        raise invalid_parameter(
            f"family {family!r}: expected up to 255 letters (uppercase and lowercase), numbers, hyphens and underscores"
        )
    existing = one_family_object(objects, family)
    spec = {key: value for key, value in request.items() if value is not None}
    try:  # what the operator refuses is refused before anything is written (nothing half-registered):
        # its model, and its translation with every setting at its most permissive (a hostPath
        # volume the operator's settings forbid is still written, and refused by the operator)
        translate_task_definition(parse_task_definition(spec, family), _PERMISSIVE)
    except (ValidationError, TranslationError, ValueError) as error:
        raise invalid_parameter(f"not registered: {_validation_message(error)}") from None
    metadata: dict[str, Any] = {"name": scope.kubernetes_name(family), "namespace": namespace}
    if existing is not None:
        metadata["name"] = existing["metadata"]["name"]
        if existing["metadata"].get("resourceVersion"):
            metadata["resourceVersion"] = existing["metadata"]["resourceVersion"]
        kept = (existing.get("spec") or {}).get("deregisteredRevisions")
        if kept:
            spec["deregisteredRevisions"] = list(kept)
    return {"apiVersion": API_VERSION, "kind": KIND_TASK_DEFINITION, "metadata": metadata, "spec": spec}


def _validation_message(error: Exception) -> str:
    """One line naming each field, as the operator's InvalidSpec condition says it
    (controllers/common.py error_message, not imported: that package registers kopf handlers)."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'spec'}: {e['msg']}" for e in error.errors(include_url=False)
        )
    return str(error)


def registered(
    request: Mapping[str, Any], td: Mapping[str, Any], controller_revisions: Sequence[Mapping[str, Any]], arns: Arns
) -> dict[str, Any] | None:
    """The RegisterTaskDefinition answer once the operator has handled the applied spec
    (None until then, the caller waits): its latest revision, which has the request's content.

    Only the latest revision answers: content equal to an older revision (a rollback) is
    registered by the operator as the next one, as ECS registers it. Content equal to the
    latest registers nothing new (the operator's rule), where ECS would count one more; if
    that latest revision is INACTIVE the request is refused rather than answered with a
    revision no task can use. A spec the operator refuses (``Ready=False``, ``InvalidSpec``)
    is an InvalidParameterException with its message."""
    meta = td.get("metadata") or {}
    status = td.get("status") or {}
    generation = meta.get("generation")
    if generation is not None and int(status.get("observedGeneration") or 0) < int(generation):
        return None
    ready: Mapping[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    if generation is not None and ready.get("status") == "False" and ready.get("reason") == "InvalidSpec":
        raise invalid_parameter(str(ready.get("message") or "the task definition is invalid"))
    family = str(request.get("family") or "")
    digest = content_hash(normalize_task_definition(request, family))
    revisions = revisions_of(td, controller_revisions)
    if not revisions or revisions[-1].content_hash != digest:
        return None
    latest = revisions[-1]
    if latest.status != "ACTIVE":
        raise client_error(
            f"{family}:{latest.revision} has this content and is {latest.status}; ecs-facade registers no "
            "revision equal to the latest: change the content (e.g. a tag) to register a new one"
        )
    return {"taskDefinition": describe_revision(latest, arns), "tags": list(latest.request.get("tags") or [])}


def compatibilities(request: Mapping[str, Any]) -> list[str]:
    """What the task definition can run on: EC2 always (any node runs it), FARGATE when it
    meets Fargate's requirements (awsvpc, task cpu and memory), and what it requires."""
    found = {"EC2", *(request.get("requiresCompatibilities") or [])}
    if request.get("networkMode") == "awsvpc" and request.get("cpu") and request.get("memory"):
        found.add("FARGATE")
    return [c for c in _COMPATIBILITIES if c in found] + sorted(found - set(_COMPATIBILITIES))


def describe_revision(revision: Revision, arns: Arns) -> dict[str, Any]:
    """The ECS ``TaskDefinition`` of a revision: the registered request (without ``tags``,
    which ECS gives beside it) and the output-only fields. Task ``cpu`` and ``memory`` are
    given in units and MiB, as ECS gives them ("1 vCPU" -> "1024"). Everything else is the
    request as registered, so the output, minus the output-only fields, registers again."""
    body = {key: value for key, value in revision.request.items() if key != "tags" and value is not None}
    for key, parse in (("cpu", parse_task_cpu), ("memory", parse_task_memory)):
        if body.get(key) is not None:
            try:
                body[key] = str(parse(body[key]))
            except ValueError:
                body[key] = str(body[key])
    body.update(
        taskDefinitionArn=arns.task_definition(revision.family, revision.revision),
        family=revision.family,
        revision=revision.revision,
        status=revision.status,
        compatibilities=compatibilities(revision.request),
    )
    registered_at = epoch(revision.registered_at)
    if registered_at is not None:
        body["registeredAt"] = registered_at
    return body


def _reference(value: Any) -> TaskDefinitionRef:
    try:
        return parse_task_definition_ref(str(value or ""))
    except ValueError as error:
        raise invalid_parameter(str(error)) from None


def resolve(
    value: Any, objects: Sequence[Mapping[str, Any]], controller_revisions: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any], Revision] | None:
    """A ``family``, ``family:revision`` or ARN reference: its object and revision (a bare
    family: its latest ACTIVE revision), or None."""
    ref = _reference(value)
    td = one_family_object(objects, ref.family)
    if td is None:
        return None
    revisions = revisions_of(td, controller_revisions)
    if ref.revision is None:
        active = [r for r in revisions if r.status == "ACTIVE"]
        return (td, active[-1]) if active else None
    chosen = [r for r in revisions if r.revision == ref.revision]
    return (td, chosen[0]) if chosen else None


def describe_task_definition(
    request: Mapping[str, Any],
    objects: Sequence[Mapping[str, Any]],
    controller_revisions: Sequence[Mapping[str, Any]],
    arns: Arns,
) -> dict[str, Any]:
    found = resolve(request.get("taskDefinition"), objects, controller_revisions)
    if found is None:
        raise client_error(_UNABLE)
    td, revision = found
    response: dict[str, Any] = {"taskDefinition": describe_revision(revision, arns)}
    if "TAGS" in (request.get("include") or []):  # as TagResource left them (ecsapi/tags.py)
        response["tags"] = revision_tags(td, revision.revision, revision.request.get("tags") or [])
    return response


def _all_revisions(
    objects: Sequence[Mapping[str, Any]], controller_revisions: Sequence[Mapping[str, Any]]
) -> list[Revision]:
    return [r for td in objects for r in revisions_of(td, controller_revisions)]


def list_task_definitions(
    request: Mapping[str, Any],
    objects: Sequence[Mapping[str, Any]],
    controller_revisions: Sequence[Mapping[str, Any]],
    arns: Arns,
) -> dict[str, Any]:
    """ListTaskDefinitions: ``familyPrefix`` is the whole family name (as in ECS, despite its
    name), ``status`` defaults to ACTIVE, ``sort`` ASC (family, then revision) or DESC."""
    family = request.get("familyPrefix")
    status = request.get("status") or "ACTIVE"
    descending = (request.get("sort") or "ASC") == "DESC"
    chosen = [
        r
        for r in _all_revisions(objects, controller_revisions)
        if r.status == status and (not family or r.family == family)
    ]
    chosen.sort(key=lambda r: (r.family, r.revision), reverse=descending)
    return paged_answer(
        request,
        chosen,
        lambda r: (r.family, r.revision),
        lambda r: arns.task_definition(r.family, r.revision),
        action="ListTaskDefinitions",
        member="taskDefinitionArns",
        descending=descending,
    )


def list_task_definition_families(
    request: Mapping[str, Any],
    objects: Sequence[Mapping[str, Any]],
    controller_revisions: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """ListTaskDefinitionFamilies: ``familyPrefix`` a true prefix; ``status`` ACTIVE (a family
    with an ACTIVE revision), INACTIVE (with none) or ALL (the default); by name."""
    prefix = str(request.get("familyPrefix") or "")
    wanted = request.get("status") or "ALL"
    active: dict[str, bool] = {}
    for r in _all_revisions(objects, controller_revisions):
        active[r.family] = active.get(r.family, False) or r.status == "ACTIVE"
    families = sorted(
        f
        for f, has_active in active.items()
        if f.startswith(prefix) and (wanted == "ALL" or (wanted == "ACTIVE") == has_active)
    )
    return paged_answer(
        request, families, lambda f: (f,), lambda f: f, action="ListTaskDefinitionFamilies", member="families"
    )


def deregister_task_definition(
    request: Mapping[str, Any],
    objects: Sequence[Mapping[str, Any]],
    controller_revisions: Sequence[Mapping[str, Any]],
    arns: Arns,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The merge patch of the family's ECSTaskDefinition (None when the revision is INACTIVE
    already: deregistering is idempotent) and the answer, the revision now INACTIVE. The
    patch carries the object's resourceVersion, so two deregistrations at once cannot drop
    each other's revision from the list (the API server refuses the second; retry it)."""
    ref = _reference(request.get("taskDefinition"))
    if ref.revision is None:  # ECS answers a bare family with a ClientException ("You must specify a revision")
        raise client_error(
            f"taskDefinition {request.get('taskDefinition')!r}: give a revision (family:revision or its ARN); "
            "DeregisterTaskDefinition takes no bare family"
        )
    found = resolve(str(ref), objects, controller_revisions)
    if found is None:
        raise client_error("The specified task definition does not exist.")
    td, revision = found
    inactive = Revision(**{**revision.__dict__, "status": "INACTIVE"})
    answer = {"taskDefinition": describe_revision(inactive, arns)}
    if revision.status != "ACTIVE":  # INACTIVE, or DELETE_IN_PROGRESS (DeleteTaskDefinitions): as it is
        return None, {"taskDefinition": describe_revision(revision, arns)}
    listed = [int(r) for r in (td.get("spec") or {}).get("deregisteredRevisions") or []]
    patch: dict[str, Any] = {"spec": {"deregisteredRevisions": sorted({*listed, revision.revision})}}
    if td["metadata"].get("resourceVersion"):
        patch["metadata"] = {"resourceVersion": td["metadata"]["resourceVersion"]}
    return patch, answer
