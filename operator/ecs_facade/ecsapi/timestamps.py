"""Timestamps as the ECS API sends them: epoch seconds (AWS JSON 1.1 ``timestamp``), read from
the RFC 3339 times Kubernetes and the operator write in metadata, status and annotations."""

import datetime
from collections.abc import Mapping, Sequence
from typing import Any


def epoch(timestamp: Any) -> float | None:
    """``timestamp`` in epoch seconds; None when there is none or it is no ISO 8601 time (a
    member ECS then leaves out). A number already is epoch seconds; a time without a zone is UTC."""
    if isinstance(timestamp, int | float):
        return timestamp
    if not timestamp:
        return None
    try:
        when = datetime.datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


def with_epochs(item: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``item`` without its null members, its ``keys`` in epoch seconds (left out when they are
    no time): a status item (a task, a deployment, an event) as ECS sends it."""
    out = {key: value for key, value in item.items() if value is not None}
    for key in keys:
        if key in out:
            seconds = epoch(out[key])
            if seconds is None:
                del out[key]
            else:
                out[key] = seconds
    return out
