"""kopf handlers, one module per ECS kind. Importing this package registers all of them."""

from ecs_facade.controllers import indexes, service, settings, task, taskdefinition

__all__ = ["indexes", "service", "settings", "task", "taskdefinition"]
