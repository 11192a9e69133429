"""The service scheduler's throttle (``status.throttle``), as ECS backs off a service whose
tasks keep failing to start and no circuit breaker is set.

Each round of failures holds launches for longer. A round is judged only on the tasks that
start after the previous hold ends: tasks already launched when launches were held, which
fail while they are held, are not a new attempt (without this, one burst of failures counts
as several rounds at once).
"""

import datetime
from collections.abc import Mapping
from typing import Any

FIRST_SECONDS = 10
MAX_SECONDS = 27 * 60  # ECS's delays grow to about 27 minutes
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def later(stamp: str, seconds: int) -> str:
    moment = datetime.datetime.strptime(stamp, STAMP).replace(tzinfo=datetime.UTC)
    return (moment + datetime.timedelta(seconds=seconds)).strftime(STAMP)


def holding(throttle: Mapping[str, Any], now: str) -> bool:
    """Launches are held: the next attempt is still in the future."""
    until = throttle.get("nextAttemptAt")
    return bool(until) and str(until) > now


def next_throttle(
    throttle: Mapping[str, Any], deployment: str, failed: int, threshold: int, now: str, *, rolling_out: bool
) -> tuple[dict[str, Any], bool]:
    """The throttle after this look at the PRIMARY deployment's ``failed`` tasks, and whether a
    new round of failures just started holding launches (only while it is ``rolling_out``).

    Only a new deployment resets it, as in ECS: tasks that fail a moment after starting can
    make the rollout look complete for an instant, which must not start it over.
    """
    current = dict(throttle) if throttle.get("deployment") == deployment else {}
    counted = int(current.get("failedTasks") or 0)  # failures already judged
    if current and holding(current, now):
        current["failedTasks"] = max(counted, failed)  # tasks launched before the hold
        return current, False
    if not rolling_out or failed - counted < threshold:
        return current, False
    attempts = int(current.get("attempts") or 0) + 1
    delay = min(MAX_SECONDS, FIRST_SECONDS * 2 ** (attempts - 1))
    return {
        "deployment": deployment,
        "attempts": attempts,
        "failedTasks": failed,
        "nextAttemptAt": later(now, delay),
    }, True
