"""The ECS RunTask request an ECSTask holds: one object is one ECS task.

``TaskSpec`` is the model generated from botocore (``model/generated.py``): the RunTask
request without ``count`` (one object is one task) and ``clientToken``, plus
ecs-facade's ``desiredStatus`` (RUNNING, or STOPPED to stop the task with ECS StopTask)
and ``reason`` (the StopTask reason). The CRD defaults ``cluster`` and ``desiredStatus``
on the API server and the model has the same defaults; CEL rules on the CRD keep every
other field as it was at creation and refuse a STOPPED task going back to RUNNING.
"""

from ecs_facade.model.generated import ContainerOverride, RunTaskRequest, TaskOverride

__all__ = [
    "DEFAULT_CLUSTER",
    "RUNNING",
    "STOPPED",
    "ContainerOverride",
    "TaskOverride",
    "TaskSpec",
]

TaskSpec = RunTaskRequest

DEFAULT_CLUSTER = "default"
RUNNING = "RUNNING"
STOPPED = "STOPPED"
