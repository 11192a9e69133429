"""UpdateCluster, UpdateClusterSettings and DeleteTaskDefinitions: pure halves.

UpdateCluster changes what CreateCluster set in the ECSCluster's spec (``settings``,
``configuration``, ``serviceConnectDefaults``), stored as given, as CreateCluster stores
them (clusters.py): a setting replaces the one of its name, the others are kept.

DeleteTaskDefinitions marks INACTIVE revisions ``DELETE_IN_PROGRESS``, as ECS does: in the
annotation ``ecs.facade.dev/deleted-revisions`` of the family's ECSTaskDefinition (revision ->
when it was asked), which taskdefinitions.revisions_of reads. The revision's ControllerRevision
stays: the operator is the one writer of revisions and keeps them (services and tasks that
still use the revision go on running, as in ECS, where a revision being deleted is kept until
nothing uses it). An ACTIVE revision is a failure, not deleted; an unknown one too.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import taskdefinitions
from ecs_facade.ecsapi.errors import invalid_parameter
from ecs_facade.ecsapi.taskdefinitions import DELETED_REVISIONS_ANNOTATION, Revision, deleted_revisions
from ecs_facade.ecsapi.timestamps import epoch
from ecs_facade.model.references import parse_task_definition_ref

MAX_DELETE = 10  # DeleteTaskDefinitions takes up to 10, as ECS
STILL_ACTIVE = (
    "The specified task definition is still in ACTIVE status. Deregister it first (DeregisterTaskDefinition)."
)
DOES_NOT_EXIST = "The specified task definition does not exist."


def update_cluster_patch(cluster: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ECSCluster merge patch of UpdateCluster (or UpdateClusterSettings), conditional on
    its resourceVersion; None when the request changes nothing."""
    spec = cluster.get("spec") or {}
    changes: dict[str, Any] = {}
    if request.get("settings") is not None:
        settings = {str(s.get("name")): dict(s) for s in spec.get("settings") or []}
        for setting in request["settings"]:
            settings[str(setting.get("name"))] = dict(setting)
        changes["settings"] = list(settings.values())
    for key in ("configuration", "serviceConnectDefaults"):
        if request.get(key) is not None:
            changes[key] = dict(request[key])
    changes = {key: value for key, value in changes.items() if spec.get(key) != value}
    if not changes:
        return None
    patch: dict[str, Any] = {"spec": changes}
    version = (cluster.get("metadata") or {}).get("resourceVersion")
    if version:
        patch["metadata"] = {"resourceVersion": version}
    return patch


def delete_task_definitions(
    request: Mapping[str, Any],
    objects: Sequence[Mapping[str, Any]],
    controller_revisions: Sequence[Mapping[str, Any]],
    arns: Arns,
    now: str,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The merge patch of each family's ECSTaskDefinition (by metadata.name) and the answer:
    ``taskDefinitions`` (the revisions now DELETE_IN_PROGRESS, or already) and ``failures``."""
    refs = [str(r) for r in request.get("taskDefinitions") or []]
    if len(refs) > MAX_DELETE:
        raise invalid_parameter(f"taskDefinitions: {len(refs)} given, at most {MAX_DELETE} in one request")
    marked: dict[str, dict[str, str]] = {}  # metadata.name -> revision -> when
    chosen: dict[str, Mapping[str, Any]] = {}
    deleted: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for ref in refs:
        try:
            parsed = parse_task_definition_ref(ref)
        except ValueError as error:
            raise invalid_parameter(f"taskDefinitions: {error}") from None
        if parsed.revision is None:
            raise invalid_parameter(
                f"taskDefinitions: {ref!r} names no revision; give family:revision or the revision's ARN"
            )
        arn = arns.task_definition(parsed.family, parsed.revision)
        found = taskdefinitions.resolve(f"{parsed.family}:{parsed.revision}", objects, controller_revisions)
        if found is None:
            failures.append({"arn": arn, "reason": DOES_NOT_EXIST})
            continue
        td, revision = found
        if revision.status == "ACTIVE":
            failures.append({"arn": arn, "reason": STILL_ACTIVE})
            continue
        name = str(td["metadata"]["name"])
        chosen[name] = td
        already = deleted_revisions(td)
        when = already.get(revision.revision) or marked.get(name, {}).get(str(revision.revision)) or now
        if revision.revision not in already:
            marked.setdefault(name, {})[str(revision.revision)] = when
        shown = taskdefinitions.describe_revision(
            Revision(**{**revision.__dict__, "status": "DELETE_IN_PROGRESS"}), arns
        )
        at = epoch(when)
        if at is not None:
            shown["deleteRequestedAt"] = at
        if all(d["taskDefinitionArn"] != shown["taskDefinitionArn"] for d in deleted):
            deleted.append(shown)
    patches: dict[str, dict[str, Any]] = {}
    for name, new in marked.items():
        td = chosen[name]
        every = {str(k): v for k, v in deleted_revisions(td).items()}
        every.update(new)
        ordered = dict(sorted(every.items(), key=lambda kv: int(kv[0])))
        metadata: dict[str, Any] = {"annotations": {DELETED_REVISIONS_ANNOTATION: json.dumps(ordered)}}
        version = td["metadata"].get("resourceVersion")
        if version:
            metadata["resourceVersion"] = version
        patches[name] = {"metadata": metadata}
    return patches, {"taskDefinitions": deleted, "failures": failures}
