"""An ECS task definition as a Kubernetes pod spec."""

from typing import Any

from ecs_facade.model.taskdefinition import ContainerDefinition, TaskDefinitionSpec
from ecs_facade.translate import TranslationError
from ecs_facade.translate.names import container_name, port_name
from ecs_facade.translate.resources import container_resources


def build_container(definition: ContainerDefinition) -> dict[str, Any]:
    """One ECS container definition as a Kubernetes container.

    ECS ``entryPoint`` replaces the image ENTRYPOINT and ``command`` replaces its CMD; in
    Kubernetes those are ``command`` and ``args``: the names cross over.
    """
    container: dict[str, Any] = {"name": container_name(definition.name), "image": definition.image}
    if definition.entryPoint:
        container["command"] = list(definition.entryPoint)
    if definition.command:
        container["args"] = list(definition.command)
    if definition.workingDirectory:
        container["workingDir"] = definition.workingDirectory
    if definition.environment:
        container["env"] = [{"name": kv.name, "value": kv.value} for kv in definition.environment]
    ports = []
    for mapping in definition.portMappings:
        if mapping.containerPort is None:
            continue
        port: dict[str, Any] = {"containerPort": mapping.containerPort, "protocol": mapping.protocol.upper()}
        name = port_name(mapping.name)
        if name:
            port["name"] = name
        ports.append(port)
    if ports:
        container["ports"] = ports
    resources = container_resources(definition.cpu, definition.memory, definition.memoryReservation)
    if resources:
        container["resources"] = resources
    return container


def build_pod_spec(task_definition: TaskDefinitionSpec) -> dict[str, Any]:
    containers = [build_container(c) for c in task_definition.containerDefinitions]
    names = [c["name"] for c in containers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TranslationError(
            f"container names {duplicates} collide once made Kubernetes names (lower case, '-' for '_')"
        )
    return {"containers": containers}
