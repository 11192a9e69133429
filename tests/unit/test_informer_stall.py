"""A watch that goes silent is noticed and resumed (kube/informer.py, HttpTransport's read
timeout): a small API server on loopback lists, then streams a few watch events and stops
sending in the middle of the stream without closing it (a stalled proxy or API server). The
informer must give that watch up within the watch's timeout plus the read timeout, watch
again from the last version it saw, and hand on every event once, those sent after the stall
included; when the version is gone by then, it lists again and the list shows what it missed."""

import json
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes import client

from ecs_facade.kube.informer import HttpTransport, Informer

WATCH_TIMEOUT, READ_TIMEOUT = 1, 0.5
BOUND = WATCH_TIMEOUT + READ_TIMEOUT  # silence for longer than this: the watch is given up


def pod(name: str, version: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(version)}}


class Scripted(socketserver.ThreadingTCPServer):
    """Answers ``/api/v1/pods`` lists and watches from a script: ``lists`` (the items and the
    list's version, in order) and ``watches`` (per resourceVersion asked: the events to send,
    then "stall" or "end"). Records each request and when it came."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, lists: list[tuple[list[dict[str, Any]], int]], watches: dict[str, tuple[list[Any], str]]):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lists, self.watches = lists, watches
        self.asked: list[tuple[float, str, str]] = []  # (when, list | watch, resourceVersion)
        self.stalled_at: float | None = None
        self.stop = threading.Event()


class Handler(socketserver.StreamRequestHandler):
    server: Scripted

    def handle(self) -> None:
        request = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # the headers
        url = urlparse(request.split()[1])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        script = self.server
        if query.get("watch") != "true":
            script.asked.append((time.monotonic(), "list", ""))
            items, listed = script.lists.pop(0)
            body = json.dumps({"items": items, "metadata": {"resourceVersion": str(listed)}}).encode()
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            self.wfile.write(f"{head}Connection: close\r\n\r\n".encode() + body)
            return
        version = query.get("resourceVersion", "")
        script.asked.append((time.monotonic(), "watch", version))
        events, then = script.watches.pop(version, ([], "stall"))
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        self.wfile.write(f"{head}Connection: close\r\n\r\n".encode())
        for event in events:
            line = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()
        if then == "end":
            self.wfile.write(b"0\r\n\r\n")
            return
        if script.stalled_at is None:  # the first stall's
            script.stalled_at = time.monotonic()  # silent from now on, the connection open
        script.stop.wait(30)


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Scripted] = []

    def start(lists: list[tuple[list[dict[str, Any]], int]], watches: dict[str, tuple[list[Any], str]]) -> Scripted:
        server = Scripted(lists, watches)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


def informer(server: Scripted, lists: list[Any], events: list[tuple[str, str, str]]) -> Informer:
    api = client.ApiClient(client.Configuration(host=f"http://127.0.0.1:{server.server_address[1]}"))
    return Informer(
        "/api/v1/pods",
        HttpTransport(api, read_timeout=READ_TIMEOUT, connect_timeout=1.0),
        on_list=lambda items, first: lists.append(([i["metadata"]["name"] for i in items], first)),
        on_event=lambda kind, obj: events.append(
            (kind, obj["metadata"]["name"], obj["metadata"].get("resourceVersion"))
        ),
        timeout_seconds=WATCH_TIMEOUT,
        backoff=(0.05, 0.2),
    )


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_watch_that_goes_silent_is_resumed_from_the_last_version_within_the_bound(serve: Any) -> None:
    server = serve(
        [([pod("a", 5)], 10)],
        {
            "10": ([{"type": "ADDED", "object": pod("b", 11)}, {"type": "MODIFIED", "object": pod("a", 12)}], "stall"),
            # what happened while the first watch was silent: the resumed watch brings it
            "12": ([{"type": "ADDED", "object": pod("c", 13)}, {"type": "DELETED", "object": pod("b", 14)}], "end"),
        },
    )
    lists: list[Any] = []
    events: list[tuple[str, str, str]] = []
    watcher = informer(server, lists, events)
    watcher.sync()
    watcher.start()
    try:
        wait_until(lambda: len(events) == 4)
    finally:
        watcher.stop()
    assert lists == [(["a"], True)]  # listed once: a resumed watch needs no list
    assert events == [("ADDED", "b", "11"), ("MODIFIED", "a", "12"), ("ADDED", "c", "13"), ("DELETED", "b", "14")]
    watches = [(when, version) for when, what, version in server.asked if what == "watch"]
    assert [version for _, version in watches[:2]] == ["10", "12"]
    assert server.stalled_at is not None
    noticed = watches[1][0] - server.stalled_at
    # not dropped at once (the socket stayed open), and not later than the bound (+ backoff, slack)
    assert BOUND * 0.9 <= noticed <= BOUND + 1.0, noticed


def test_a_silent_watch_whose_version_is_gone_by_then_lists_again_and_misses_nothing(serve: Any) -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version"}}
    server = serve(
        [([pod("a", 5)], 10), ([pod("a", 5), pod("b", 11), pod("c", 13)], 20)],
        {
            "10": ([{"type": "ADDED", "object": pod("b", 11)}], "stall"),
            "11": ([gone], "end"),
            "20": ([{"type": "ADDED", "object": pod("d", 21)}], "end"),
        },
    )
    lists: list[Any] = []
    events: list[tuple[str, str, str]] = []
    watcher = informer(server, lists, events)
    watcher.sync()
    watcher.start()
    try:
        wait_until(lambda: len(events) == 2)
    finally:
        watcher.stop()
    # c came while the watch was silent and its version went: the second list shows it
    assert lists == [(["a"], True), (["a", "b", "c"], False)]
    assert events == [("ADDED", "b", "11"), ("ADDED", "d", "21")]
    assert [(what, version) for _, what, version in server.asked][:5] == [
        ("list", ""),
        ("watch", "10"),
        ("watch", "11"),
        ("list", ""),
        ("watch", "20"),
    ]
