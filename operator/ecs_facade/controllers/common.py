"""Small things every controller needs: the logger type, per-object locks, timestamps, messages."""

import datetime
import logging
import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ecs_facade.views.conditions import set_condition

Logger = logging.Logger | logging.LoggerAdapter[Any]

_locks: defaultdict[tuple[str, str, str], threading.Lock] = defaultdict(threading.Lock)


def lock_for(kind: str, namespace: str, name: str) -> threading.Lock:
    """Reconciles of one object run one at a time, whichever watch triggered them."""
    return _locks[(kind, namespace, name)]


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_message(error: Exception) -> str:
    """A validation error as one line naming each field."""
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'spec'}: {e['msg']}" for e in error.errors(include_url=False)
        )
    return str(error)


def ready_conditions(
    status: Mapping[str, Any], generation: int, ready: bool, reason: str, message: str
) -> list[dict[str, Any]]:
    """The status's conditions with ``Ready`` set now (the one condition tasks and clusters have)."""
    return set_condition(
        status.get("conditions"),
        type="Ready",
        status=ready,
        reason=reason,
        message=message,
        observed_generation=generation,
        now=now(),
    )
