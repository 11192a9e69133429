"""Serving the ECS API: one way to build it, for `ecs-facade api` (on its own) and for
`ecs-facade run --api` (inside the operator's process), so that both answer the same actions
with the same checks.

- ``options.ApiOptions.from_flags``: the flags, else their ``ECS_FACADE_API_*`` environment
  variables, else the defaults (loopback, no TLS, no anonymous mode), checked once at start-up.
- ``build_dispatcher``: every action ecs-facade implements, registered on one Dispatcher.
- ``build_app``: the aiohttp application, its authenticator and its TLS context.
- ``ApiThread``: the API on an event loop and worker threads of its own, in the operator's
  process. Not on kopf's loop: with leader election a standby has no kopf loop yet, and it
  serves too (the custom resources are the truth; any replica can read and write them); and
  the API's hashing, validation and encoding never delay the operator's handlers, nor its
  threads wait for the operator's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import ssl
import threading
import time
from typing import Any

from aiohttp import web

from ecs_facade.arns import Arns

from .options import ApiConfigError, ApiOptions
from .protocol import Dispatcher
from .server import make_app, start
from .sigv4 import Authenticator, DirectoryKeyStore, KeyFormatError

log = logging.getLogger(__name__)

# the API's own worker threads (the actions' Kubernetes calls): its requests never wait for
# the operator's workers, nor the operator's for them; kube.size_pool counts them
WORKER_THREADS = 8


def ssl_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context for the certificate chain and key in PEM files (a kubernetes.io/tls
    Secret, mounted: tls.crt and tls.key); TLS 1.2 at least. ApiConfigError names the file
    that cannot be used."""
    for flag, path in (("--api-tls-cert", cert), ("--api-tls-key", key)):
        if not os.path.isfile(path):
            raise ApiConfigError(f"{flag} {path}: no such file (the TLS Secret's tls.crt and tls.key, mounted)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as error:
        raise ApiConfigError(
            f"--api-tls-cert {cert} / --api-tls-key {key}: not a PEM certificate and its private key ({error})"
        ) from None
    return context


class ReloadingTls:
    """The server's TLS, following the mounted Secret: cert-manager renews a certificate and
    the kubelet swaps the files in place, and a restart must not be what picks it up.

    The listening socket keeps the context it was made with (``context``); its SNI callback,
    which OpenSSL calls in every handshake (with or without a server name), hands the
    connection the newest context. The files are looked at no more than every ``interval``
    seconds (a stat of each, in the handshake); a pair that does not load (caught between
    the two files' updates) is logged and the last good one kept until the next look."""

    def __init__(self, cert: str, key: str, interval: float = 60.0, clock: Any = time.monotonic) -> None:
        self.cert, self.key, self.interval, self.clock = cert, key, interval, clock
        self.context = ssl_context(cert, key)
        self.current = self.context
        self._stamp = self._files()
        self._checked = clock()
        self.context.sni_callback = self._handshake

    def _files(self) -> tuple[tuple[int, int, int], ...]:
        return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in (os.stat(self.cert), os.stat(self.key)))

    def _handshake(self, connection: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        self.reload_if_changed()
        if self.current is not context:
            connection.context = self.current

    def reload_if_changed(self) -> bool:
        now = self.clock()
        if now - self._checked < self.interval:
            return False
        self._checked = now
        try:
            stamp = self._files()
            if stamp == self._stamp:
                return False
            self.current = ssl_context(self.cert, self.key)
        except (OSError, ApiConfigError) as error:
            log.warning("ECS API: cannot load the changed certificate (%s); keeping the one loaded", error)
            return False
        self._stamp = stamp
        log.info("ECS API: certificate %s reloaded", self.cert)
        return True


def build_dispatcher(arns: Arns, store: Any = None) -> Dispatcher:
    """Every action ecs-facade implements, on one Dispatcher: `store` is the custom
    resources' Store (handlers.KubeStore, the operator's kube client, unless a test gives one)."""
    from .account_handlers import AccountActions
    from .autoscaling_handlers import register_autoscaling
    from .handlers import Actions
    from .instances_handlers import InstanceActions
    from .store import ApiKubeStore
    from .tags_handlers import TagActions
    from .tasks_handlers import TaskActions
    from .updates_handlers import UpdateActions

    store = store if store is not None else ApiKubeStore()
    dispatcher = Dispatcher()
    Actions(store, arns).register(dispatcher)  # clusters, task definitions, services
    TaskActions(store, arns).register(dispatcher)  # RunTask, StopTask, Describe/ListTasks
    # container instances and attributes, tags, account settings, UpdateCluster, DeleteTaskDefinitions
    InstanceActions(store, arns).register(dispatcher)
    TagActions(store, arns).register(dispatcher)
    AccountActions(arns).register(dispatcher)
    UpdateActions(store, arns).register(dispatcher)
    # Application Auto Scaling (ECS services' spec.autoScaling), same port (docs/ecs-api.md)
    register_autoscaling(dispatcher, store, arns)
    return dispatcher


def build_authenticator(options: ApiOptions) -> Authenticator:
    try:
        keys = DirectoryKeyStore(options.keys_dir) if options.keys_dir else None
    except KeyFormatError as error:
        raise ApiConfigError(f"--api-keys-dir: {error}") from None
    regions = frozenset(options.regions) if options.regions else None
    default_region = options.regions[0] if options.regions else "us-east-1"
    return Authenticator(keys, anonymous=options.anonymous, regions=regions, default_region=default_region)


def build_app(
    options: ApiOptions, arns: Arns, store: Any = None, dispatcher: Dispatcher | None = None
) -> tuple[web.Application, ssl.SSLContext | None]:
    """The application and its TLS context (None: plain HTTP; a renewed certificate is taken
    up without a restart: ReloadingTls), checked: a key, a certificate or a keys directory
    that cannot be used fails here, at start-up."""
    tls = ReloadingTls(options.tls_cert, options.tls_key) if options.tls_cert and options.tls_key else None
    context = tls.context if tls is not None else None
    app = make_app(dispatcher or build_dispatcher(arns, store), build_authenticator(options))
    if not options.loopback() and context is None:
        log.warning(
            "the ECS API serves plain HTTP on %s: requests and their signatures can be read on the way;"
            " give it a certificate (--api-tls-cert, --api-tls-key) or keep the network trusted",
            options.host,
        )
    return app, context


async def serve(
    options: ApiOptions, arns: Arns, store: Any = None, dispatcher: Dispatcher | None = None
) -> tuple[web.AppRunner, int]:
    """Serve on the running event loop; the runner (``await runner.cleanup()`` stops it) and
    the port bound."""
    app, context = build_app(options, arns, store, dispatcher)
    runner, port = await start(app, options.host, options.port, ssl_context=context)
    log.info("ECS API on %s://%s:%d", options.scheme, options.host, port)
    return runner, port


class ApiThread:
    """The API in a thread of the operator's process, with its own event loop and worker
    threads. ``start`` returns once it listens, or raises what kept it from listening
    (ApiConfigError, OSError for a port in use)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread, runner: web.AppRunner, port: int):
        self.loop, self.thread, self.runner, self.port = loop, thread, runner, port

    @classmethod
    def start(
        cls, options: ApiOptions, arns: Arns, store: Any = None, dispatcher: Dispatcher | None = None
    ) -> ApiThread:
        loop = asyncio.new_event_loop()
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="ecs-api-worker")
        )
        thread = threading.Thread(target=loop.run_forever, name="ecs-api", daemon=True)
        thread.start()
        try:
            runner, port = asyncio.run_coroutine_threadsafe(serve(options, arns, store, dispatcher), loop).result(30)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()
            raise
        return cls(loop, thread, runner, port)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, let the requests in flight finish (aiohttp's shutdown timeout), stop the loop."""
        started = time.monotonic()
        try:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError) as error:
            log.warning("ECS API: did not stop cleanly (%s)", error or type(error).__name__)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(max(0.1, timeout - (time.monotonic() - started)))
        if not self.thread.is_alive():
            self.loop.close()


__all__ = [
    "ApiConfigError",
    "ApiOptions",
    "ApiThread",
    "ReloadingTls",
    "build_app",
    "build_dispatcher",
    "serve",
    "ssl_context",
]
