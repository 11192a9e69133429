"""ECS RunTask as ECSTask manifests: the one translator the CLI (`ecs-facade run-task`) and
the ECS API's RunTask both use.

One ECSTask is one ECS task: its spec is the RunTask request without ``count`` (one object
per task) and ``clientToken``, with the members the ECSTask schema holds (model/task.py).
Pure: the caller creates the objects (``generateName``: the API server names each one, and
its uid is the task's ID, docs/tasks.md).
"""

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from ecs_facade.api import API_VERSION, GROUP, KIND_TASK
from ecs_facade.model.references import parse_task_definition_ref
from ecs_facade.model.task import TaskSpec

MAX_COUNT = 10  # tasks one RunTask call starts
# RunTask members that are no ECSTask spec field; desiredStatus and reason are StopTask's
_NOT_SPEC = frozenset({"count", "clientToken", "desiredStatus", "reason"})
_SPEC_FIELDS = frozenset(TaskSpec.model_fields) - _NOT_SPEC
_GENERATE_NAME_LENGTH = 50  # the API server appends 5 characters; leave room under 63
# On the ECSTasks of one RunTask call that gave a clientToken: a hash of the token (a label
# value cannot hold every token), so that the call retried finds its tasks instead of
# starting them again (the AWS SDKs fill clientToken in and keep it across their retries).
LABEL_CLIENT_TOKEN = f"{GROUP}/client-token"


class RunTaskError(ValueError):
    """The request cannot start tasks; the message names the member."""


def family_name_prefix(family: str) -> str:
    """The generateName of a family's tasks: the family as a DNS label, then '-'."""
    name = re.sub(r"[^a-z0-9-]+", "-", family.lower()).strip("-")[:_GENERATE_NAME_LENGTH].strip("-")
    return f"{name or 'task'}-"


def task_count(request: Mapping[str, Any]) -> int:
    """RunTask's ``count``: 1 when absent, at most MAX_COUNT, as ECS takes."""
    count = request.get("count")
    if count is None:
        return 1
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise RunTaskError(f"count: {count!r} is out of range; expected 1 to {MAX_COUNT} tasks per RunTask call")
    return count


def task_spec(request: Mapping[str, Any]) -> dict[str, Any]:
    """The ECSTask spec of a RunTask request: its members the ECSTask schema holds, as given."""
    return {key: value for key, value in request.items() if key in _SPEC_FIELDS and value is not None}


def client_token_label(token: str) -> str:
    """The label value of a RunTask clientToken."""
    return hashlib.sha256(token.encode()).hexdigest()[:40]


def run_task_manifests(request: Mapping[str, Any], namespace: str) -> list[dict[str, Any]]:
    """The ECSTask manifests of a RunTask request: ``count`` of them, each with the same spec
    (and the label of its clientToken, if it gave one)."""
    value = request.get("taskDefinition")
    if not value or not isinstance(value, str):
        raise RunTaskError("taskDefinition: missing; expected a family, family:revision or task definition ARN")
    try:
        family = parse_task_definition_ref(value).family
    except ValueError as error:
        raise RunTaskError(str(error)) from None
    count = task_count(request)
    spec = task_spec(request)
    labels = {LABEL_CLIENT_TOKEN: client_token_label(str(request["clientToken"]))} if request.get("clientToken") else {}
    return [
        {
            "apiVersion": API_VERSION,
            "kind": KIND_TASK,
            "metadata": {
                "generateName": family_name_prefix(family),
                "namespace": namespace,
                **({"labels": dict(labels)} if labels else {}),
            },
            "spec": dict(spec),
        }
        for _ in range(count)
    ]
