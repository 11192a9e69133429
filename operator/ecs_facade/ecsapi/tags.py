"""TagResource, UntagResource, ListTagsForResource: pure halves.

Where a resource's ECS tags live (docs/ecs-api.md, "Tags"):

- cluster, service, standalone task: the custom resource's ``spec.tags`` (the CreateCluster,
  CreateService, RunTask request's own member), merge-patched at the object's resourceVersion;
- task definition revision: the tags registered with the revision, unless TagResource changed
  them: then the annotation ``ecs.facade.dev/revision-tags`` on the family's ECSTaskDefinition,
  ``{"<revision>": [tags]}``. Revisions are immutable ControllerRevisions, and ``spec.tags`` is
  part of the registered content (a change would register a new revision), so a revision's
  tags cannot live in either;
- container instance: the node annotation ``ecs.facade.dev/tags`` (JSON), as the operator
  writes a service task's tags on its pod (ECS tag keys and values take characters labels do
  not).

ECS's rules are kept: at most 50 tags (those starting ``aws:`` not counted), keys 1-128 and
values 0-256 characters (the model checks those), no key or value starting with ``aws:`` in
any case (reserved), and only long-format ARNs (``service/<cluster>/<name>``).
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ecs_facade import arns as ecs_arns
from ecs_facade.api import GROUP
from ecs_facade.ecsapi.errors import ApiError, invalid_parameter
from ecs_facade.ecsapi.instances import TAGS_ANNOTATION

MAX_TAGS = 50
REVISION_TAGS_ANNOTATION = f"{GROUP}/revision-tags"
TAGGABLE = ("cluster", "service", "task", "task-definition", "container-instance")
NOT_FOUND = "The specified resource could not be found."

Tag = dict[str, str]


def resource(resource_arn: str) -> ecs_arns.ParsedArn:
    """The resource an ARN names; InvalidParameterException for anything but the long ARN of
    a cluster, service, task, task definition revision or container instance."""
    try:
        parsed = ecs_arns.parse_arn(resource_arn)
    except ValueError as error:
        raise invalid_parameter(f"resourceArn: {error}") from None
    if parsed.kind in ("service", "task", "container-instance") and parsed.cluster is None:
        raise invalid_parameter("Long arn format must be used for tagging operations")
    if parsed.kind == "task-definition" and parsed.revision is None:
        raise invalid_parameter(
            f"resourceArn: {resource_arn!r} names a family; tags belong to a revision (task-definition/<family>:<n>)"
        )
    return parsed


def _reserved(text: str) -> bool:
    return text.lower().startswith("aws:")


def _plain(tags: Sequence[Mapping[str, Any]]) -> list[Tag]:
    return [{"key": str(t.get("key")), "value": str(t.get("value") or "")} for t in tags if t.get("key") is not None]


def tagged(current: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[Tag]:
    """TagResource: ``current`` with ``new`` added; a key given again takes the new value.
    Keys and values starting with ``aws:`` are refused (reserved, as in ECS); more than 50
    tags of the user's is a LimitExceededException."""
    for index, tag in enumerate(new):
        for member in ("key", "value"):
            text = str(tag.get(member) or "")
            if _reserved(text):
                raise invalid_parameter(
                    f"tags[{index}].{member}: {text!r} starts with 'aws:', which is reserved for AWS use"
                )
    merged: dict[str, str] = {t["key"]: t["value"] for t in _plain(current)}
    for tag in _plain(new):
        merged[tag["key"]] = tag["value"]
    if sum(1 for key in merged if not _reserved(key)) > MAX_TAGS:
        raise ApiError(
            "LimitExceededException", f"a resource has at most {MAX_TAGS} tags; this would make {len(merged)}"
        )
    return [{"key": k, "value": v} for k, v in merged.items()]


def untagged(current: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> list[Tag]:
    """UntagResource: ``current`` without ``keys`` (absent keys are no error, as in ECS);
    ``aws:`` keys cannot be removed."""
    for index, key in enumerate(keys):
        if _reserved(key):
            raise invalid_parameter(f"tagKeys[{index}]: {key!r} starts with 'aws:', which is reserved for AWS use")
    removed = set(keys)
    return [t for t in _plain(current) if t["key"] not in removed]


def spec_tags(obj: Mapping[str, Any]) -> list[Tag]:
    return _plain((obj.get("spec") or {}).get("tags") or [])


def spec_tags_patch(obj: Mapping[str, Any], tags: Sequence[Tag]) -> dict[str, Any]:
    """The merge patch that makes ``spec.tags`` these, conditional on the object's resourceVersion."""
    patch: dict[str, Any] = {"spec": {"tags": list(tags)}}
    version = (obj.get("metadata") or {}).get("resourceVersion")
    if version:
        patch["metadata"] = {"resourceVersion": version}
    return patch


def _revision_overrides(td: Mapping[str, Any]) -> dict[str, Any]:
    raw = ((td.get("metadata") or {}).get("annotations") or {}).get(REVISION_TAGS_ANNOTATION)
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def revision_tags(td: Mapping[str, Any], revision: int, registered: Sequence[Mapping[str, Any]]) -> list[Tag]:
    """A revision's tags: as TagResource/UntagResource left them, else as registered."""
    override = _revision_overrides(td).get(str(revision))
    if isinstance(override, list):
        return _plain([t for t in override if isinstance(t, Mapping)])
    return _plain(registered)


def revision_tags_patch(td: Mapping[str, Any], revision: int, tags: Sequence[Tag]) -> dict[str, Any]:
    """The ECSTaskDefinition merge patch recording a revision's tags (the other revisions'
    kept), conditional on its resourceVersion."""
    overrides = _revision_overrides(td)
    overrides[str(revision)] = list(tags)
    shown = json.dumps(dict(sorted(overrides.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0)))
    metadata: dict[str, Any] = {"annotations": {REVISION_TAGS_ANNOTATION: shown}}
    version = (td.get("metadata") or {}).get("resourceVersion")
    if version:
        metadata["resourceVersion"] = version
    return {"metadata": metadata}


def node_tags_patch(tags: Sequence[Tag]) -> dict[str, Any]:
    """The node merge patch holding a container instance's tags (none: the annotation removed)."""
    return {"metadata": {"annotations": {TAGS_ANNOTATION: json.dumps(list(tags)) if tags else None}}}
