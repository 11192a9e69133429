"""kopf handlers, one module per ECS kind. Importing this package registers all of them."""

import ecs_facade.controllers.settings  # noqa: F401  first: its startup handler reads the settings the others use
from ecs_facade.controllers import cluster, indexes, informers, service, settings, task, taskdefinition

__all__ = ["cluster", "indexes", "informers", "service", "settings", "task", "taskdefinition"]
