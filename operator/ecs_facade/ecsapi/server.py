"""The HTTP layer of the ECS API: aiohttp in, protocol and sigv4 do the work.

One route, `POST /`, checked in this order: content type, body size, X-Amz-Target,
signature (over the body as received), JSON and the model's input shape, then the handler.
Every answer is JSON with an `x-amzn-RequestId`; every refusal is a 4xx with the AWS error
name, so SDKs raise the typed exception instead of retrying; only a handler's own failure
is a 500 (ServerException), logged with its traceback.
"""

from __future__ import annotations

import logging
import ssl
import time
import uuid

from aiohttp import web

from .errors import ApiError
from .model import ServiceModel
from .options import DEFAULT_HOST, DEFAULT_PORT
from .protocol import ACCEPTED_CONTENT_TYPES, CONTENT_TYPE, Dispatcher, RequestContext, encode, error_body, error_status
from .sigv4 import Authenticator

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes; a task definition is at most 64 KiB, a request far less than this

DISPATCHER = web.AppKey("dispatcher", Dispatcher)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
MAX_BODY_KEY = web.AppKey("max_body", int)


ANONYMOUS_WARNING_INTERVAL = 60.0  # seconds between the reminders that anonymous requests are served
_anonymous_warned = -float("inf")


def _warn_anonymous(key_id: str | None) -> None:
    """Anonymous mode is said at start-up and again, at most once a minute, while requests
    use it: a server left in it by mistake shows up in any stretch of its log."""
    global _anonymous_warned
    now = time.monotonic()
    if now - _anonymous_warned >= ANONYMOUS_WARNING_INTERVAL:
        _anonymous_warned = now
        log.warning(
            "ANONYMOUS MODE: a request (access key %s, unchecked) was served without a signature check;"
            " every namespace is open to anyone who reaches this port",
            key_id or "none",
        )


def _reply(status: int, body: bytes, request_id: str) -> web.Response:
    return web.Response(
        status=status, body=body, headers={"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}
    )


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise ApiError("RequestEntityTooLargeException", f"the request body is larger than {limit} bytes", 413)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise ApiError("RequestEntityTooLargeException", f"the request body is larger than {limit} bytes", 413)
    return bytes(body)


def _headers(request: web.Request) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    return headers


async def handle(request: web.Request) -> web.Response:
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    model: ServiceModel | None = None
    action = "-"
    key_id: str | None = None
    try:
        if request.method != "POST" or request.path != "/":
            raise ApiError("UnknownOperationException", "the ECS API answers POST / only", 404)
        if request.content_type not in ACCEPTED_CONTENT_TYPES:
            raise ApiError(
                "UnsupportedMediaTypeException",
                f"Content-Type {request.content_type or '(none)'} is not supported; expected {CONTENT_TYPE}",
                415,
            )
        body = await _read_body(request, request.app[MAX_BODY_KEY])
        dispatcher = request.app[DISPATCHER]
        model, action = dispatcher.resolve(request.headers.get("X-Amz-Target"))
        identity = request.app[AUTHENTICATOR].authenticate(
            method=request.method,
            raw_path=request.raw_path.partition("?")[0],
            raw_query=request.raw_path.partition("?")[2],
            headers=_headers(request),
            body=body,
            service=model.signing_name,
        )
        key_id = identity.access_key_id
        if identity.anonymous:
            _warn_anonymous(key_id)
        parsed = dispatcher.parse(model, action, body)
        context = RequestContext(
            service=model.service,
            action=action,
            request_id=request_id,
            region=identity.region,
            access_key_id=identity.access_key_id,
            namespaces=identity.namespaces,
            anonymous=identity.anonymous,
            home_namespace=identity.home_namespace,
        )
        response = _reply(200, encode(await dispatcher.call(model, parsed, context)), request_id)
    except ApiError as error:
        response = _reply(error_status(error, model), error_body(error), request_id)
        log.debug("%s %s: %s", request_id, action, error)
    except Exception:
        log.exception("%s %s: the handler failed", request_id, action)
        name = model.server_error if model is not None else "ServerException"
        failure = ApiError(name, f"ecs-facade failed to process the request (request id {request_id})", 500)
        response = _reply(500, error_body(failure), request_id)
    log.info(
        "api %s %s key=%s status=%d %.1fms",
        request_id,
        action,
        key_id or "-",
        response.status,
        (time.monotonic() - started) * 1000,
    )
    return response


def make_app(dispatcher: Dispatcher, authenticator: Authenticator, max_body: int = MAX_BODY) -> web.Application:
    """The aiohttp application; `max_body` bounds what one request may send."""
    app = web.Application(client_max_size=max_body)
    app[DISPATCHER] = dispatcher
    app[AUTHENTICATOR] = authenticator
    app[MAX_BODY_KEY] = max_body
    app.router.add_route("*", "/{tail:.*}", handle)
    if authenticator.anonymous:
        log.warning(
            "ANONYMOUS MODE: the ECS API accepts every request without checking its signature, with access to"
            " every namespace. For local use only; never expose it."
        )
    return app


async def start(
    app: web.Application, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Serve `app` on the running event loop (the operator's own, or a test's) and return its
    runner (`await runner.cleanup()` stops it) and the port bound (port 0: a free one); with
    `ssl_context`, HTTPS (serving.ssl_context)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    return runner, int(runner.addresses[0][1])
