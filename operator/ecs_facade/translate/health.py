"""ECS container health checks as Kubernetes probes, with the same timing.

ECS runs the check every ``interval`` seconds, gives it ``timeout`` seconds, and marks the
container UNHEALTHY after ``retries`` consecutive failures; failures within ``startPeriod``
do not count.  Kubernetes:

- readiness probe: the health status (HEALTHY/UNHEALTHY) other containers and load
  balancers see;
- liveness probe, essential containers of a service's tasks only: ECS's service scheduler
  replaces a task whose essential container turns unhealthy (Kubernetes restarts the
  container); a standalone task "continues its lifecycle regardless of its health status"
  (ECS API reference, HealthCheck), so its pod has no liveness probe;
- startup probe when ``startPeriod`` is set: allows ``startPeriod`` plus ``retries``
  failures before the other probes begin, so failures in the start period do not count.
"""

import copy
import json
import math
from typing import Any

from ecs_facade.model.generated import HealthCheck
from ecs_facade.translate import TranslationError

DEFAULT_INTERVAL = 30
DEFAULT_TIMEOUT = 5
DEFAULT_RETRIES = 3


SHELL = ("/bin/sh", "-c")  # Docker's default on Linux (translate.windows gives Windows its own)


def probe_command(command: list[str], where: str = "healthCheck.command") -> list[str]:
    """The command Docker runs for ``healthCheck.command``, or [] when it runs none.

    The ECS agent gives the command to Docker unchanged as the container's
    ``HealthConfig.Test``, and Docker (moby ``daemon/health.go``, ``getProbe`` and
    ``cmdProbe.run``) reads its first element: ``CMD`` runs the rest directly, ``CMD-SHELL``
    runs the rest after the container's shell (the image's ``SHELL``, else ``/bin/sh -c``;
    ``cmd /S /C`` on Windows), so only the first of the rest is the script and any others are
    its ``$0``, ``$1``...;
    ``NONE`` disables the check, and anything else is an unknown type: Docker logs a warning
    and runs no check at all (the container's health stays UNKNOWN in ECS). So
    ``["/healthcheck"]`` in an image without a shell is not run through a shell.
    """
    if not command:
        raise TranslationError(f'{where}: empty; expected ["CMD", executable, args...] or ["CMD-SHELL", script]')
    kind, rest = command[0], command[1:]
    if kind == "CMD-SHELL":
        if not rest:
            raise TranslationError(f'{where}: CMD-SHELL needs a shell command, e.g. ["CMD-SHELL", "curl -f localhost"]')
        return [*SHELL, *rest]
    if kind == "CMD":
        if not rest:
            raise TranslationError(f'{where}: CMD needs an executable, e.g. ["CMD", "/healthcheck"]')
        return list(rest)
    return []  # NONE, or a type Docker does not know: no check


def command_notes(command: list[str], where: str = "healthCheck.command") -> list[str]:
    """What a reader might not expect of a health-check command, said as Docker runs it."""
    if not command or command[0] in ("CMD", "NONE"):
        return []
    if command[0] == "CMD-SHELL":
        if len(command) > 2:
            return [
                f"{where}: CMD-SHELL with {len(command) - 1} elements: as in Docker only {command[1]!r} is the "
                "shell command, the others are its positional parameters ($0, $1, ...)"
            ]
        return []
    return [
        f"{where} {json.dumps(command)} starts with neither CMD nor CMD-SHELL: Docker, which ECS hands it to, "
        f"runs no health check for it (health status UNKNOWN), so there is no probe; {json.dumps(['CMD', *command])} "
        "would run it"
    ]


def probes(
    check: HealthCheck, replaced_when_unhealthy: bool, where: str = "healthCheck.command"
) -> dict[str, dict[str, Any]]:
    """Container fields (``readinessProbe``, ``livenessProbe``, ``startupProbe``) for a health check."""
    command = probe_command(check.command, where)
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
    if replaced_when_unhealthy:
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
