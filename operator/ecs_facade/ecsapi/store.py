"""The one Store every action is served from: KubeStore (clusters, task definitions,
services) with the task, container instance and tag calls, all on the operator's kube client.
One instance serves every handler, so the actions share one connection pool."""

from ecs_facade.ecsapi.tags_handlers import KubeTagStore
from ecs_facade.ecsapi.tasks_handlers import TaskKubeStore


class ApiKubeStore(TaskKubeStore, KubeTagStore):
    """Every Store Protocol of ecsapi (handlers, tasks, instances, tags, autoscaling)."""
