"""List, then watch, one kind of object in one scope: what client-go's informers do.

kopf runs every watch event through its per-object pipeline (a worker task per object, the
event kept whole until that worker handles it, every index and handler invoked with its
keyword arguments). For pods, most of a cluster's events, that was most of the operator's
CPU and its memory peaks (docs/performance.md). An informer parses each event, hands the
object to its callbacks and drops it, at the pace the stream is read:

- the first ``sync`` lists every object (in pages) before the watch starts, so that the
  callers can wait for a complete picture before anything reconciles;
- the watch resumes from the last resource version it saw (bookmarks included) when its
  server-side timeout ends it or the connection drops;
- a watch that goes silent (a stalled connection: a proxy or a NAT that stopped forwarding,
  an API server that hangs) is given up when no byte came for the server's timeout plus the
  read timeout (``HttpTransport``), and resumed like a dropped one: the server ends every
  watch by its timeout, so a healthy watch is never silent that long;
- ``410 Gone`` (the version is too old for the API server's watch cache) lists everything
  again; the callback compares the new list with what it holds.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import orjson
from kubernetes import client
from kubernetes.client.exceptions import ApiException

logger = logging.getLogger(__name__)

Obj = dict[str, Any]
OnList = Callable[[list[Obj], bool], None]  # (every object, whether this is the first list)
OnEvent = Callable[[str, Obj], None]  # (ADDED | MODIFIED | DELETED, the object)


class Gone(Exception):
    """The resource version is no longer served (HTTP 410): list again."""


class Stopped(Exception):
    """The informer was stopped in the middle of a list."""


class Transport(Protocol):
    def list(self, path: str, limit: int, token: str | None, label_selector: str | None) -> Obj:
        """One page of the list (``token``: the previous page's ``continue``)."""

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int, label_selector: str | None
    ) -> Iterator[Obj]:
        """The watch events from ``resource_version`` on, until the server ends the watch."""

    def close(self) -> None:
        """Ends a watch in progress, and any later one (from another thread)."""


class HttpTransport:
    """Lists and watches with the kubernetes client's configuration (credentials, TLS) but
    parses the responses itself: the client's models are slower than the JSON they hold,
    and its Watch helper keeps no bookmarks.

    Every request waits at most ``connect_timeout`` for its connection and, for each read,
    ``read_timeout`` (a list's page) or the watch's own timeout plus ``read_timeout`` (a
    watch): a stalled connection raises instead of holding the informer's thread."""

    def __init__(self, api: client.ApiClient, read_timeout: float, connect_timeout: float = 5.0) -> None:
        self._api = api
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._current: Any = None
        self._closed = False
        self._lock = threading.Lock()

    def _get(self, path: str, query: list[tuple[str, Any]], timeout: tuple[float, float]) -> Any:
        request = self._api.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
        )
        response = self._api.call_api(*request, _request_timeout=timeout)
        if not 200 <= response.status <= 299:
            response.read()  # type: ignore[no-untyped-call]
            if response.status == 410:
                raise Gone(path)
            raise ApiException(http_resp=response)
        return response.response  # the urllib3 response, not read yet

    def list(self, path: str, limit: int, token: str | None, label_selector: str | None) -> Obj:
        query: list[tuple[str, Any]] = [("limit", limit)] + ([("continue", token)] if token else [])
        query += [("labelSelector", label_selector)] if label_selector else []
        raw = self._get(path, query, (self._connect_timeout, self._read_timeout))
        parsed: Obj = orjson.loads(raw.data)
        return parsed

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int, label_selector: str | None
    ) -> Iterator[Obj]:
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout_seconds),
        ]
        query += [("labelSelector", label_selector)] if label_selector else []
        # a read that waits longer than the server's own end of the watch: the stream is stalled
        raw = self._get(path, query, (self._connect_timeout, timeout_seconds + self._read_timeout))
        with self._lock:
            self._current = raw
            closed = self._closed
        try:
            if closed:  # closed while the request was on its way
                return
            pending = b""
            for chunk in raw.stream(None, decode_content=False):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)
        finally:
            with self._lock:
                self._current = None
            raw.release_conn()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._current is not None:
                getattr(self._current, "shutdown", self._current.close)()


class Informer:
    """One list-and-watch (``path``: e.g. ``/api/v1/pods`` or ``/api/v1/namespaces/x/pods``;
    ``label_selector``: only the objects it selects)."""

    def __init__(
        self,
        path: str,
        transport: Transport,
        *,
        on_list: OnList,
        on_event: OnEvent,
        timeout_seconds: int = 300,
        label_selector: str | None = None,
        page_size: int = 500,
        backoff: tuple[float, float] = (1.0, 30.0),
        trim: Callable[[Obj], Obj] | None = None,
    ) -> None:
        self.path = path
        self._selector = label_selector
        self._transport = transport
        self._on_list, self._on_event = on_list, on_event
        self._timeout = timeout_seconds
        self._page = page_size
        self._backoff = backoff
        self._trim = trim
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.resource_version = ""
        self.synced = False
        self.progress = 0  # lists done and watch events handed on (bookmarks too): how run() tells a new outage

    def sync(self) -> None:
        """List everything (page by page; a 410 between pages starts the list again) and
        hand it to ``on_list`` at once: the watch then starts from the list's version.

        Each page's items are trimmed as the page comes (``trim``): the whole list is held
        until ``on_list`` has it, and at a thousand services that was a restart's memory peak."""
        while True:
            items: list[Obj] = []
            token: str | None = None
            try:
                while True:
                    if self._stop.is_set():
                        raise Stopped(self.path)
                    page = self._transport.list(self.path, self._page, token, self._selector)
                    listed = page.pop("items", None) or []
                    items.extend(listed if self._trim is None else map(self._trim, listed))
                    del listed
                    meta = page.get("metadata") or {}
                    token = meta.get("continue") or None
                    if token is None:
                        break
            except Gone:
                logger.info("%s: the list's continue token expired; listing again", self.path)
                self._stop.wait(self._backoff[0])
                continue
            self._on_list(items, not self.synced)
            self.resource_version = str(meta.get("resourceVersion") or "")
            self.synced = True
            self.progress += 1
            return

    def watch_once(self) -> int:
        """One watch, until the server ends it (its timeout), the version is gone or the
        connection fails (raised). Returns the number of events it brought."""
        seen = 0
        for event in self._transport.watch(self.path, self.resource_version, self._timeout, self._selector):
            if self._stop.is_set():
                return seen
            kind, obj = str(event.get("type") or ""), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Gone(obj.get("message") or self.path)
                raise RuntimeError(f"{self.path}: watch error {obj.get('code')}: {obj.get('message')}")
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if kind != "BOOKMARK":
                self._on_event(kind, obj)
            if version:
                self.resource_version = str(version)
            seen += 1
            self.progress += 1
        return seen

    def run(self) -> None:
        """Watch until stopped: resume after the server's timeout, list again after a 410,
        back off (doubling, bounded) after a failure or a watch that ends at once.

        A connection that fails after the informer made progress since its last failure (a
        list, a watch event) is a new outage, not the next step of the last one: the backoff
        starts again from its first delay, and a 410 after it lists again at once. (Before,
        a watch that worked for minutes after an API server restart and broke at the next
        one waited the delay the first outage had reached, 30 s, and as much again for its
        410: tests/chaos/test_control_plane_restarts.py.)"""
        failures, must_list, gone = 0, not self.synced, 0
        progress_at_failure = self.progress
        while not self._stop.is_set():
            try:
                if must_list:
                    self.sync()
                    must_list = False
                started = time.monotonic()
                if self.watch_once() or time.monotonic() - started >= 1.0:
                    failures = gone = 0
                    continue
                failure = "the watch ended at once"
            except Gone:
                logger.info("%s: resource version %s is gone; listing again", self.path, self.resource_version)
                must_list, gone = True, gone + 1
                if gone == 1:
                    continue
                failure = "gone again right after a list"  # not at full speed
            except Stopped:
                return
            except Exception as error:  # a dropped connection, an API server restart
                failure = str(error) or type(error).__name__
                if self.progress != progress_at_failure:  # it worked since the last failure
                    failures = gone = 0
                progress_at_failure = self.progress
            if self._stop.is_set():
                return
            failures += 1
            delay = min(self._backoff[1], self._backoff[0] * 2 ** (failures - 1))
            logger.warning("%s: %s; watching again in %.1f s", self.path, failure, delay)
            self._stop.wait(delay)

    def start(self, target: Callable[[], None] | None = None) -> None:
        """Watch in a thread of its own (``target`` wraps ``run``, e.g. in a context)."""
        self._thread = threading.Thread(target=target or self.run, name=f"informer{self.path}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._transport.close()
        if self._thread is not None:
            self._thread.join(timeout)
