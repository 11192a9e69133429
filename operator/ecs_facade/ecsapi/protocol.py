"""AWS JSON 1.1 without HTTP: X-Amz-Target -> operation, body -> validated request,
handler -> response body, ApiError -> `{"__type", "message"}` with its status.

Handlers are registered per service and action by the modules that implement actions:

    dispatcher.register("ecs", "ListClusters", list_clusters)

A handler takes the validated request (a dict, camelCase as on the wire) and the
RequestContext, and returns the response dict (datetimes allowed: they go out as epoch
seconds; None values are left out, as AWS never sends null). It raises ApiError with a name
the model defines (ClusterNotFoundException, ...). A plain function runs in a worker thread
(it may block on the Kubernetes API); a coroutine function runs on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import model as service_models
from .errors import ApiError
from .model import ServiceModel
from .validate import problems

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
ACCEPTED_CONTENT_TYPES = frozenset({CONTENT_TYPE, "application/x-amz-json-1.0", "application/json"})


@dataclass(frozen=True)
class RequestContext:
    """Who is asking, for which action, in which region: what a handler needs besides the body."""

    service: str
    action: str
    request_id: str
    region: str
    access_key_id: str | None = None
    namespaces: frozenset[str] | None = None  # None: every namespace (anonymous mode)
    anonymous: bool = False
    home_namespace: str | None = None  # the key's first namespace (ecsapi/scope.py)

    def allows(self, namespace: str) -> bool:
        return self.namespaces is None or "*" in self.namespaces or namespace in self.namespaces

    def require_namespace(self, namespace: str) -> None:
        """Refuse, as AWS refuses an IAM principal, a key acting outside its namespaces."""
        if not self.allows(namespace):
            raise ApiError(
                "AccessDeniedException",
                f"access key {self.access_key_id} is not authorized to perform {self.service}:{self.action}"
                f" in namespace {namespace}",
            )


Response = Mapping[str, Any]
Handler = Callable[[Mapping[str, Any], RequestContext], Response | Awaitable[Response]]


@dataclass
class Dispatcher:
    """The actions this server implements, per service, and the models they are checked against."""

    models: Mapping[str, ServiceModel] = field(
        default_factory=lambda: {s: service_models.load(s) for s in service_models.SERVICES}
    )
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)

    def register(self, service: str, action: str, handler: Handler) -> None:
        model = self.models.get(service)
        if model is None or action not in model.operations:
            raise ValueError(f"{service}: no action {action!r} in the model")
        if (service, action) in self.handlers:
            raise ValueError(f"{service}.{action} is already registered")
        self.handlers[service, action] = handler

    def implemented(self, service: str) -> list[str]:
        return sorted(action for s, action in self.handlers if s == service)

    def resolve(self, target: str | None) -> tuple[ServiceModel, str]:
        """X-Amz-Target `Prefix.Action` -> (its service's model, the action), or UnknownOperationException."""
        if not target:
            raise ApiError("UnknownOperationException", "Missing X-Amz-Target header", 400)
        prefix, _, action = target.partition(".")
        for model in self.models.values():
            if model.target_prefix == prefix and action in model.operations:
                return model, action
        shown = target if len(target) <= 200 else target[:200] + "..."
        raise ApiError("UnknownOperationException", f"Unknown operation {shown}", 400)

    def parse(self, model: ServiceModel, action: str, body: bytes) -> dict[str, Any]:
        """The request body: JSON object (empty body: `{}`), valid for the action's input shape."""
        if body.strip():
            try:
                request = orjson.loads(body)
            except orjson.JSONDecodeError as error:
                raise ApiError("SerializationException", f"the request body is not valid JSON: {error}", 400) from None
        else:
            request = {}
        if not isinstance(request, dict):
            raise ApiError("SerializationException", "the request body must be a JSON object", 400)
        shape = model.operations[action].input
        if shape is not None:
            found = problems(model.shapes, shape, request)
            if found:
                raise ApiError(model.validation_error, "; ".join(found))
        return request

    async def call(self, model: ServiceModel, request: Mapping[str, Any], context: RequestContext) -> Response:
        handler = self.handlers.get((model.service, context.action))
        if handler is None:
            raise not_implemented(model, context.action)
        if inspect.iscoroutinefunction(handler):
            result = await handler(request, context)
        else:
            result = await asyncio.to_thread(handler, request, context)
            if inspect.isawaitable(result):
                result = await result
        if not isinstance(result, Mapping):
            raise TypeError(f"{model.service}.{context.action}: the handler returned {type(result).__name__}")
        return result


def not_implemented(model: ServiceModel, action: str) -> ApiError:
    """An action in the model that ecs-facade does not implement: a 400 the client cannot
    mistake for success (a 5xx would make SDKs retry it), with a name the model defines."""
    name = "UnsupportedFeatureException" if model.service == service_models.ECS else model.validation_error
    return ApiError(
        name, f"ecs-facade does not implement {action} ({model.service}); docs/ecs-api.md lists the actions it does"
    )


def _wire(value: Any) -> Any:
    """orjson's default: datetimes as epoch seconds, as AWS JSON 1.1 sends timestamps."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value]
    if isinstance(value, dt.datetime):
        return _wire(value)
    return value


def encode(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(_drop_none(body), default=_wire)


def error_body(error: ApiError) -> bytes:
    return orjson.dumps({"__type": error.name, "message": error.message})


def error_status(error: ApiError, model: ServiceModel | None) -> int:
    if error.status is not None:
        return error.status
    status = model.error_status(error.name) if model is not None else None
    return status if status is not None else 400
