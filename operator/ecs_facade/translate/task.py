"""Labels and the pod of one ECS task, shared by services (pod templates), tasks and ``render``."""

import re
from typing import Any

from ecs_facade.api import GROUP, LABEL_FAMILY, LABEL_MANAGED_BY, MANAGED_BY
from ecs_facade.model.taskdefinition import TaskDefinition
from ecs_facade.translate.taskdefinition import (
    DEFAULT_OPTIONS,
    PodTranslation,
    TranslationOptions,
    translate_task_definition,
)

LABEL_REVISION = f"{GROUP}/task-definition-revision"
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def task_labels(family: str, revision: int | None) -> dict[str, str]:
    """Family and revision as labels; a family longer than a label value (63) is left out."""
    labels = {LABEL_MANAGED_BY: MANAGED_BY}
    if _LABEL_VALUE.match(family):
        labels[LABEL_FAMILY] = family
    if revision is not None:
        labels[LABEL_REVISION] = str(revision)
    return labels


def pod_name_for(family: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", family.lower()).strip("-")
    return (name or "task")[:57].rstrip("-") + "-task"


def build_task_pod(
    task_definition: TaskDefinition,
    revision: int | None,
    namespace: str | None = None,
    options: TranslationOptions = DEFAULT_OPTIONS,
) -> tuple[dict[str, Any], PodTranslation]:
    """The Pod one task runs (restartPolicy Never: a task is not restarted) and the translation."""
    translation = translate_task_definition(task_definition, options)
    metadata: dict[str, Any] = {
        "name": pod_name_for(task_definition.family or ""),
        "labels": task_labels(task_definition.family or "", revision),
        "annotations": dict(translation.annotations),
    }
    if namespace:
        metadata["namespace"] = namespace
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"restartPolicy": "Never", **translation.pod_spec},
    }
    return pod, translation
