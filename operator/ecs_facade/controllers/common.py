"""Small things every controller needs: the logger type, kopf's context, timestamps, messages
(the per-object locks are in the operator's state: controllers/state.py)."""

import contextvars
import datetime
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ecs_facade.views.conditions import set_condition

Logger = logging.Logger | logging.LoggerAdapter[Any]


class HandlerContext:
    """A copy of one kopf handler's context variables (the first), for the work that starts
    outside kopf's handlers (the informers' threads): kopf.event() and kopf's object loggers
    find the operator's event queue, one for all objects, only through variables that kopf
    sets around its handlers. One per operator start (informers.Watching, in kopf's memo)."""

    def __init__(self) -> None:
        self._context: contextvars.Context | None = None

    def remember(self) -> None:
        if self._context is None:
            self._context = contextvars.copy_context()

    def get(self) -> contextvars.Context | None:
        """A copy of the remembered context (a Context can be entered by one thread at a
        time), or None before any kopf handler ran."""
        return None if self._context is None else self._context.copy()

    def known(self) -> bool:
        return self._context is not None


def remember_handler_context(memo: Mapping[str, Any]) -> None:
    """From a kopf handler (``memo``: kopf's): keep its context for the informers' work."""
    watching = memo.get("watching")
    if watching is not None:
        watching.context.remember()


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
