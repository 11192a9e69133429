"""The ECS CreateService request (the part the operator acts on so far)."""

from pydantic import Field

from ecs_facade.model.base import EcsModel


class ServiceSpec(EcsModel):
    serviceName: str
    taskDefinition: str
    cluster: str = "default"
    desiredCount: int = Field(default=0, ge=0)
