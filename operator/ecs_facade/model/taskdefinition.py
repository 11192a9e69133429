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
    "TASK_CPU_PATTERN",
    "TASK_MEMORY_PATTERN",
    "ContainerDefinition",
    "TaskDefinition",
    "content_hash",
    "family_of",
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


def family_of(name: str, spec: Mapping[str, Any]) -> str:
    """An ECSTaskDefinition's family: ``family``, which defaults to the object's name (also
    inside a describe-output wrapper)."""
    inner = spec.get("taskDefinition")
    if isinstance(inner, Mapping) and inner.get("family"):
        return str(inner["family"])
    return str(spec.get("family") or name)


def parse_task_definition(raw: Mapping[str, Any], default_family: str) -> TaskDefinition:
    """Validate; raises pydantic.ValidationError naming the field."""
    return TaskDefinition.model_validate(normalize_task_definition(raw, default_family))


def content_hash(request: Mapping[str, Any]) -> str:
    """Identity of a revision's content: equal requests register no new revision."""
    canonical = json.dumps(_drop_nulls(request), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# The string forms ECS takes for task-level cpu and memory, case- and space-insensitive: CPU units or
# MiB as a number ("1024"), or with the unit, as the ECS docs and users write them ("1 vCPU", ".25 vcpu",
# "0.5 vCPU"; "2 GB", "1GB", ".5 gb"). Both are Go RE2 and Python syntax: hack/gen_crds.py puts them in
# the CRD as `pattern`, so the API server and `ecs-facade render` refuse the same strings.
TASK_CPU_PATTERN = r"(?i)^\s*(\d+(\.\d+)?|\.\d+)\s*(vcpus?)?\s*$"
TASK_MEMORY_PATTERN = r"(?i)^\s*(\d+(\.\d+)?|\.\d+)\s*(gb|gib|mb|mib)?\s*$"
# ASCII: \d and \s as RE2 has them (no other digits, no other spaces)
_CPU = re.compile(TASK_CPU_PATTERN, re.ASCII)
_MEMORY = re.compile(TASK_MEMORY_PATTERN, re.ASCII)


def parse_task_cpu(value: str | int) -> int:
    """Task-level CPU in CPU units: ``"1024"`` or ``1024`` units, ``"1 vCPU"``, ``".25 vcpu"``."""
    match = _CPU.match(str(value)) if not isinstance(value, bool) else None
    if not match:
        raise ValueError(f'cpu: {value!r} is neither CPU units ("1024") nor vCPUs ("1 vCPU", "0.5 vcpu", ".25 vCPU")')
    number, unit = float(match.group(1)), match.group(3)
    units = number * 1024 if unit else number
    if units != int(units) or units <= 0:
        raise ValueError(f"cpu: {value!r} is not a positive whole number of CPU units (1024 units are 1 vCPU)")
    return int(units)


def parse_task_memory(value: str | int) -> int:
    """Task-level memory in MiB: ``"2048"`` or ``2048`` MiB, ``"2 GB"``, ``".5 gb"`` (ECS GB are GiB)."""
    match = _MEMORY.match(str(value)) if not isinstance(value, bool) else None
    if not match:
        raise ValueError(f'memory: {value!r} is neither MiB ("2048") nor GB ("2 GB", "1GB", ".5 gb")')
    number, unit = float(match.group(1)), (match.group(3) or "mib").lower()
    mib = number * 1024 if unit in ("gb", "gib") else number
    if mib != int(mib) or mib <= 0:
        raise ValueError(f"memory: {value!r} is not a positive whole number of MiB (1 GB is 1024 MiB)")
    return int(mib)
