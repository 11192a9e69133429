"""ECS deployment configuration as Kubernetes rolling-update parameters, exactly.

ECS keeps, during a deployment, at most ``floor(desired * maximumPercent / 100)`` tasks
RUNNING or PENDING, and at least ``ceil(desired * minimumHealthyPercent / 100)`` healthy
RUNNING tasks. A Deployment keeps at most ``replicas + maxSurge`` pods and at least
``replicas - maxUnavailable`` available ones, so with absolute numbers:

    maxSurge       = floor(desired * maximumPercent / 100) - desired
    maxUnavailable = desired - ceil(desired * minimumHealthyPercent / 100)

Percentages would not do: Kubernetes rounds a surge percentage up where ECS rounds the
maximum down. Edge cases:

- 100 % / 200 % (the defaults): surge ``desired``, unavailable 0: new tasks start first.
- 0 % / 100 %: surge 0, unavailable ``desired``: all old tasks stop, then new ones start.
- 100 % / 100 % (or any pair giving 0 and 0): ECS can neither start nor stop a task and the
  deployment never progresses; Kubernetes refuses 0/0, so ecs-facade surges by one task,
  keeping the healthy minimum and exceeding the maximum by one (reported in the service's
  conditions).
- desiredCount 0: nothing runs; maxUnavailable 1 keeps the Deployment valid.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RollingUpdate:
    max_surge: int
    max_unavailable: int
    stalls_in_ecs: bool  # ECS would never make progress with these percentages

    def strategy(self) -> dict[str, object]:
        return {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": self.max_surge, "maxUnavailable": self.max_unavailable},
        }


def rolling_update(desired: int, maximum_percent: int, minimum_healthy_percent: int) -> RollingUpdate:
    if desired <= 0:
        return RollingUpdate(0, 1, stalls_in_ecs=False)
    upper = math.floor(desired * maximum_percent / 100)
    lower = math.ceil(desired * minimum_healthy_percent / 100)
    surge = max(upper - desired, 0)
    unavailable = max(desired - lower, 0)
    if surge == 0 and unavailable == 0:
        return RollingUpdate(1, 0, stalls_in_ecs=True)
    return RollingUpdate(surge, unavailable, stalls_in_ecs=False)


def circuit_breaker_threshold(desired: int, threshold: Mapping[str, Any] | None = None) -> int:
    """The failed tasks at which ECS's deployment circuit breaker fails a deployment.

    ``threshold``: the breaker's ``thresholdConfiguration`` ({type, value}; by default
    BOUNDED_PERCENT 50). BOUNDED_PERCENT: ``value`` percent of the desired count, rounded up,
    at least 3 and at most 200 (the default: half the desired count); UNBOUNDED_PERCENT: the
    same without those bounds (at least one failed task); COUNT: ``value`` failed tasks."""
    kind = str((threshold or {}).get("type") or "BOUNDED_PERCENT")
    value = (threshold or {}).get("value")
    value = 50 if value is None else int(value)
    if kind == "COUNT":
        return max(1, value)
    share = math.ceil(desired * value / 100)
    if kind == "UNBOUNDED_PERCENT":
        return max(1, share)
    return min(200, max(3, share))


def daemon_rolling_update(minimum_healthy_percent: int) -> dict[str, object]:
    """DAEMON services replace tasks node by node: the share of nodes that may be without one.

    The node count changes with the cluster, so this stays a percentage (Kubernetes rounds
    it up; at least one node at a time so the rollout can progress).
    """
    unavailable = max(100 - minimum_healthy_percent, 0)
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": f"{unavailable}%" if unavailable else 1},
    }
