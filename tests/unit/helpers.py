"""Builders for unit tests: a task definition from a few fields, translated."""

from typing import Any

from ecs_facade.model.taskdefinition import TaskDefinition, parse_task_definition
from ecs_facade.translate.taskdefinition import PodTranslation, TranslationOptions, translate_task_definition


def task_definition(*containers: dict[str, Any], **task: Any) -> TaskDefinition:
    defaults = [{"name": "app", "image": "nginx:1.27", "memory": 256}]
    return parse_task_definition({"family": "f", "containerDefinitions": list(containers) or defaults, **task}, "f")


def translate(
    *containers: dict[str, Any], options: TranslationOptions | None = None, service: bool = False, **task: Any
) -> PodTranslation:
    """A standalone task's pod, or with ``service`` a service's pod template."""
    return translate_task_definition(
        task_definition(*containers, **task), options or TranslationOptions(), service=service
    )


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "nginx:1.27", "memory": 256, **fields}


def only_container(translation: PodTranslation) -> dict[str, Any]:
    (result,) = translation.pod_spec["containers"]
    assert isinstance(result, dict)
    return result


def all_containers(translation: PodTranslation) -> dict[str, dict[str, Any]]:
    spec = translation.pod_spec
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}
