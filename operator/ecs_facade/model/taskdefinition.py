"""Task definitions as ECS users have them: request JSON, describe-task-definition output, revisions.

The models themselves are generated from botocore's ECS model (``model/generated.py``);
this module turns what users paste into the RegisterTaskDefinition request that a
revision holds, and parses the task-level CPU/memory strings ECS accepts.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from ecs_facade.model.generated import ContainerDefinition, RegisterTaskDefinitionRequest

__all__ = [
    "OUTPUT_ONLY_KEYS",
    "ContainerDefinition",
    "TaskDefinition",
    "content_hash",
    "normalize_task_definition",
    "parse_task_cpu",
    "parse_task_definition",
    "parse_task_memory",
]

TaskDefinition = RegisterTaskDefinitionRequest

# Keys of describe-task-definition output that RegisterTaskDefinition itself rejects.
OUTPUT_ONLY_KEYS = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "deleteRequestedAt",
    }
)
# ecs-facade's own spec keys, which are not part of a revision's content.
EXTENSION_KEYS = frozenset({"deregisteredRevisions"})


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


def normalize_task_definition(raw: Mapping[str, Any], default_family: str) -> dict[str, Any]:
    """The RegisterTaskDefinition request in ``raw``: unwrapped, output-only keys and nulls dropped.

    ``raw`` is either the request itself or describe-task-definition output
    (``{"taskDefinition": {...}, "tags": [...]}``); ``family`` defaults to ``default_family``.
    """
    body = dict(raw)
    inner = body.pop("taskDefinition", None)
    if isinstance(inner, Mapping):
        beside = sorted(k for k, v in body.items() if v is not None and k not in {"tags", *EXTENSION_KEYS})
        if beside:
            raise ValueError(
                f"give either the RegisterTaskDefinition fields or describe-task-definition output under "
                f"taskDefinition, not both (found {', '.join(beside)} beside taskDefinition)"
            )
        tags = body.get("tags")
        body = dict(inner)
        if tags and not body.get("tags"):
            body["tags"] = tags
    request = {k: v for k, v in body.items() if k not in OUTPUT_ONLY_KEYS and k not in EXTENSION_KEYS}
    request = _drop_nulls(request)
    if not request.get("family"):
        request["family"] = default_family
    return dict(request)


def parse_task_definition(raw: Mapping[str, Any], default_family: str) -> TaskDefinition:
    """Validate; raises pydantic.ValidationError naming the field."""
    return TaskDefinition.model_validate(normalize_task_definition(raw, default_family))


def content_hash(request: Mapping[str, Any]) -> str:
    """Identity of a revision's content: equal requests register no new revision."""
    canonical = json.dumps(_drop_nulls(request), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_CPU = re.compile(r"^\s*(?P<n>\d+(\.\d+)?)\s*(?P<unit>vcpus?)?\s*$", re.IGNORECASE)
_MEMORY = re.compile(r"^\s*(?P<n>\d+(\.\d+)?)\s*(?P<unit>gb|gib|mb|mib)?\s*$", re.IGNORECASE)


def parse_task_cpu(value: str | int) -> int:
    """Task-level CPU in CPU units: ``"1024"`` or ``1024`` units, ``"1 vCPU"``, ``"0.5 vcpu"``."""
    match = _CPU.match(str(value))
    if not match:
        raise ValueError(f'cpu {value!r} is not CPU units ("1024") or vCPUs ("1 vCPU", "0.5 vcpu")')
    number = float(match.group("n"))
    units = number * 1024 if match.group("unit") else number
    if units != int(units) or units <= 0:
        raise ValueError(f"cpu {value!r} is not a positive whole number of CPU units")
    return int(units)


def parse_task_memory(value: str | int) -> int:
    """Task-level memory in MiB: ``"2048"`` or ``2048`` MiB, ``"2 GB"`` (ECS GB are GiB)."""
    match = _MEMORY.match(str(value))
    if not match:
        raise ValueError(f'memory {value!r} is not MiB ("2048") or GB ("2 GB")')
    number = float(match.group("n"))
    unit = (match.group("unit") or "mib").lower()
    mib = number * 1024 if unit in ("gb", "gib") else number
    if mib != int(mib) or mib <= 0:
        raise ValueError(f"memory {value!r} is not a positive whole number of MiB")
    return int(mib)
