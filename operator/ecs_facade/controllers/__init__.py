"""kopf handlers, one module per ECS kind. Importing this package registers all of them."""

from ecs_facade.controllers import cluster, indexes, pods, service, settings, task, taskdefinition

__all__ = ["cluster", "indexes", "pods", "service", "settings", "task", "taskdefinition"]
