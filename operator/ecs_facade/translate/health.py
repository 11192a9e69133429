"""ECS container health checks as Kubernetes probes, with the same timing.

ECS runs the check every ``interval`` seconds, gives it ``timeout`` seconds, and marks the
container UNHEALTHY after ``retries`` consecutive failures; failures within ``startPeriod``
do not count.  Kubernetes:

- readiness probe: the health status (HEALTHY/UNHEALTHY) other containers and load
  balancers see;
- liveness probe, essential containers only: an unhealthy essential container ends the
  task in ECS; Kubernetes restarts the container (a service replaces the task in ECS);
- startup probe when ``startPeriod`` is set: allows ``startPeriod`` plus ``retries``
  failures before the other probes begin, so failures in the start period do not count.
"""

import copy
import math
from typing import Any

from ecs_facade.model.generated import HealthCheck
from ecs_facade.translate import TranslationError

DEFAULT_INTERVAL = 30
DEFAULT_TIMEOUT = 5
DEFAULT_RETRIES = 3


def probe_command(command: list[str]) -> list[str]:
    """``["CMD-SHELL", "curl -f localhost"]`` runs in a shell; ``["CMD", "exe", "arg"]`` directly."""
    if not command:
        raise TranslationError("healthCheck.command is empty")
    kind, rest = command[0], command[1:]
    if kind == "CMD-SHELL":
        if not rest:
            raise TranslationError("healthCheck.command CMD-SHELL needs a shell command")
        return ["/bin/sh", "-c", " ".join(rest)]
    if kind == "CMD":
        if not rest:
            raise TranslationError("healthCheck.command CMD needs an executable")
        return list(rest)
    if kind == "NONE":
        return []
    # Docker accepts a bare shell string too; ECS passes it to Docker unchanged.
    return ["/bin/sh", "-c", " ".join(command)]


def probes(check: HealthCheck, essential: bool) -> dict[str, dict[str, Any]]:
    """Container fields (``readinessProbe``, ``livenessProbe``, ``startupProbe``) for a health check."""
    command = probe_command(check.command)
    if not command:
        return {}
    interval = check.interval or DEFAULT_INTERVAL
    timeout = check.timeout or DEFAULT_TIMEOUT
    retries = check.retries or DEFAULT_RETRIES
    probe = {
        "exec": {"command": command},
        "periodSeconds": interval,
        "timeoutSeconds": timeout,
        "failureThreshold": retries,
        "successThreshold": 1,
    }
    result: dict[str, dict[str, Any]] = {"readinessProbe": copy.deepcopy(probe)}
    if essential:
        result["livenessProbe"] = copy.deepcopy(probe)
    if check.startPeriod:
        result["startupProbe"] = {
            **copy.deepcopy(probe),
            "failureThreshold": math.ceil(check.startPeriod / interval) + retries,
        }
    return result


def startup_gate(check: HealthCheck) -> dict[str, Any]:
    """A startup probe that holds back containers that wait for this one to be HEALTHY."""
    command = probe_command(check.command)
    interval = check.interval or DEFAULT_INTERVAL
    retries = check.retries or DEFAULT_RETRIES
    return {
        "exec": {"command": command},
        "periodSeconds": interval,
        "timeoutSeconds": check.timeout or DEFAULT_TIMEOUT,
        "failureThreshold": math.ceil((check.startPeriod or 0) / interval) + retries,
        "successThreshold": 1,
    }
