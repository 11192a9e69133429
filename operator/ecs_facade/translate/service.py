"""An ECS service (REPLICA scheduling) as a Kubernetes Deployment."""

from typing import Any

from ecs_facade.api import LABEL_FAMILY, LABEL_MANAGED_BY, LABEL_SERVICE, MANAGED_BY
from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.taskdefinition import TaskDefinitionSpec
from ecs_facade.translate.taskdefinition import build_pod_spec


def service_selector(name: str) -> dict[str, str]:
    """The Deployment selector: immutable in Kubernetes, so it holds only the service's name."""
    return {LABEL_SERVICE: name}


def build_deployment(
    name: str, namespace: str, service: ServiceSpec, task_definition: TaskDefinitionSpec
) -> dict[str, Any]:
    """The Deployment that runs ``desiredCount`` copies of the task definition.

    ``name`` is the ECSService object's name (a valid Kubernetes name), not ``serviceName``,
    which ECS allows to contain characters Kubernetes names cannot.
    """
    labels = {
        **service_selector(name),
        LABEL_FAMILY: task_definition.family,
        LABEL_MANAGED_BY: MANAGED_BY,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": service.desiredCount,
            "selector": {"matchLabels": service_selector(name)},
            "template": {
                "metadata": {"labels": labels},
                "spec": build_pod_spec(task_definition),
            },
        },
    }
