"""An ECS service (REPLICA scheduling) as a Kubernetes Deployment."""

from typing import Any

from ecs_facade.api import LABEL_SERVICE
from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.taskdefinition import TaskDefinition
from ecs_facade.translate.task import task_labels
from ecs_facade.translate.taskdefinition import (
    DEFAULT_OPTIONS,
    PodTranslation,
    TranslationOptions,
    translate_task_definition,
)


def service_selector(name: str) -> dict[str, str]:
    """The Deployment selector: immutable in Kubernetes, so it holds only the service's name."""
    return {LABEL_SERVICE: name}


def build_deployment(
    name: str,
    namespace: str,
    service: ServiceSpec,
    task_definition: TaskDefinition,
    revision: int | None = None,
    options: TranslationOptions = DEFAULT_OPTIONS,
) -> tuple[dict[str, Any], PodTranslation]:
    """The Deployment that runs ``desiredCount`` copies of one task definition revision.

    ``name`` is the ECSService object's name (a valid Kubernetes name), not ``serviceName``,
    which ECS allows to contain characters Kubernetes names cannot.
    """
    translation = translate_task_definition(task_definition, options)
    labels = {**service_selector(name), **task_labels(task_definition.family or "", revision)}
    template_metadata: dict[str, Any] = {"labels": labels}
    if translation.annotations:
        template_metadata["annotations"] = dict(translation.annotations)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": service.desiredCount,
            "selector": {"matchLabels": service_selector(name)},
            "template": {"metadata": template_metadata, "spec": translation.pod_spec},
        },
    }
    return deployment, translation
