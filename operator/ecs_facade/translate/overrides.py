"""RunTask ``overrides`` applied to a task definition revision, before the one translator runs.

ECS semantics: a container override's ``command`` replaces the container's command;
``environment`` adds variables and replaces those of the same name; ``cpu``, ``memory``,
``memoryReservation`` and ``resourceRequirements`` replace the container's; task-level
``cpu``, ``memory``, ``taskRoleArn`` and ``executionRoleArn`` replace the task definition's.
"""

from collections.abc import Mapping
from typing import Any

from ecs_facade.model.taskdefinition import TaskDefinition, parse_task_definition
from ecs_facade.translate import TranslationError

_CONTAINER_FIELDS = ("command", "cpu", "memory", "memoryReservation", "resourceRequirements", "environmentFiles")
_TASK_FIELDS = ("cpu", "memory", "taskRoleArn", "executionRoleArn", "ephemeralStorage")


def apply_overrides(task_definition: TaskDefinition, overrides: Mapping[str, Any] | None) -> TaskDefinition:
    if not overrides:
        return task_definition
    request = task_definition.model_dump(mode="json", exclude_none=True)
    containers = {c["name"]: c for c in request["containerDefinitions"]}
    for index, override in enumerate(overrides.get("containerOverrides") or []):
        name = override.get("name")
        if name not in containers:
            raise TranslationError(
                f"overrides.containerOverrides[{index}].name {name!r} is not a container of task definition "
                f"{task_definition.family!r} (containers: {', '.join(containers)})"
            )
        container = containers[name]
        for field in _CONTAINER_FIELDS:
            if override.get(field) is not None:
                container[field] = override[field]
        if override.get("environment"):
            merged = {kv["name"]: kv for kv in container.get("environment") or []}
            for kv in override["environment"]:
                merged[kv["name"]] = {"name": kv["name"], "value": kv.get("value", "")}
            container["environment"] = list(merged.values())
    for field in _TASK_FIELDS:
        if overrides.get(field) is not None:
            request[field] = overrides[field]
    return parse_task_definition(request, task_definition.family or "")
