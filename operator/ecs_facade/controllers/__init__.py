"""kopf handlers, one module per ECS kind. Importing this package registers all of them."""

from ecs_facade.controllers import cluster, indexes, informers, service, settings, task, taskdefinition

__all__ = ["cluster", "indexes", "informers", "service", "settings", "task", "taskdefinition"]
