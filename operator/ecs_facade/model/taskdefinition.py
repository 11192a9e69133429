"""The ECS RegisterTaskDefinition request (the part the operator translates so far)."""

from typing import Literal

from pydantic import Field

from ecs_facade.model.base import EcsModel


class KeyValuePair(EcsModel):
    name: str
    value: str = ""


class PortMapping(EcsModel):
    containerPort: int | None = Field(default=None, ge=0, le=65535)
    hostPort: int | None = Field(default=None, ge=0, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    name: str | None = None
    appProtocol: str | None = None


class ContainerDefinition(EcsModel):
    name: str
    image: str
    cpu: int | None = Field(default=None, ge=0)
    memory: int | None = Field(default=None, ge=4)
    memoryReservation: int | None = Field(default=None, ge=4)
    essential: bool = True
    entryPoint: list[str] | None = None
    command: list[str] | None = None
    workingDirectory: str | None = None
    environment: list[KeyValuePair] = Field(default_factory=list)
    portMappings: list[PortMapping] = Field(default_factory=list)


class TaskDefinitionSpec(EcsModel):
    family: str
    containerDefinitions: list[ContainerDefinition] = Field(min_length=1)
    cpu: str | None = None
    memory: str | None = None
