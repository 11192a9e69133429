"""Kubernetes API-convention conditions."""

from collections.abc import Mapping, Sequence
from typing import Any


def set_condition(
    conditions: Sequence[Mapping[str, Any]] | None,
    *,
    type: str,
    status: bool,
    reason: str,
    message: str,
    observed_generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """Return the conditions with ``type`` set; ``lastTransitionTime`` moves only when status changes."""
    wanted = "True" if status else "False"
    result: list[dict[str, Any]] = []
    previous: Mapping[str, Any] | None = None
    for condition in conditions or []:
        if condition.get("type") == type:
            previous = condition
        else:
            result.append(dict(condition))
    transition = now
    if previous is not None and previous.get("status") == wanted and previous.get("lastTransitionTime"):
        transition = previous["lastTransitionTime"]
    entry: dict[str, Any] = {
        "type": type,
        "status": wanted,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
    }
    if observed_generation is not None:
        entry["observedGeneration"] = observed_generation
    result.append(entry)
    return sorted(result, key=lambda c: str(c.get("type")))
