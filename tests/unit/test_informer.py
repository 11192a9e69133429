"""The informer's list-and-watch logic, on a scripted transport (the real one is exercised by
every e2e test: the operator's pods come through it)."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ecs_facade.kube.informer import Gone, Informer


def obj(name: str, version: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": version}}


class Script:
    """Pages to list and watch streams to serve, in order; records what was asked."""

    def __init__(self, lists: list[Any], watches: list[Any]) -> None:
        self.lists, self.watches = lists, watches
        self.asked: list[tuple[str, Any]] = []
        self.selectors: list[str | None] = []
        self.done = threading.Event()
        self.done_at = 0  # len(asked) when the script ran out: the informer retries until stopped

    @property
    def until_done(self) -> list[tuple[str, Any]]:
        """What was asked up to the call that found the script over (retries after it are timing)."""
        return self.asked[: self.done_at]

    def list(self, path: str, limit: int, token: str | None, label_selector: str | None) -> dict[str, Any]:
        self.asked.append(("list", token))
        self.selectors.append(label_selector)
        page = self.lists.pop(0)
        if isinstance(page, Exception):
            raise page
        return dict(page)

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int, label_selector: str | None
    ) -> Iterator[dict[str, Any]]:
        self.asked.append(("watch", resource_version))
        self.selectors.append(label_selector)
        if not self.watches:
            if not self.done.is_set():
                self.done_at = len(self.asked)
                self.done.set()
            raise ConnectionError("script over")
        stream = self.watches.pop(0)
        if isinstance(stream, Exception):
            raise stream
        yield from stream

    def close(self) -> None:
        pass


def run(
    script: Script, label_selector: str | None = None
) -> tuple[list[tuple[list[str], bool]], list[tuple[str, str]], Informer]:
    lists: list[tuple[list[str], bool]] = []
    events: list[tuple[str, str]] = []
    informer = Informer(
        "/api/v1/pods",
        script,
        on_list=lambda items, first: lists.append(([i["metadata"]["name"] for i in items], first)),
        on_event=lambda kind, o: events.append((kind, o["metadata"]["name"])),
        backoff=(0.001, 0.001),
        label_selector=label_selector,
    )
    informer.start()
    assert script.done.wait(5), script.asked
    informer.stop()
    return lists, events, informer


def test_lists_every_page_then_watches_from_the_lists_version() -> None:
    script = Script(
        lists=[
            {"items": [obj("a", "1")], "metadata": {"continue": "t1"}},
            {"items": [obj("b", "2")], "metadata": {"resourceVersion": "10"}},
        ],
        watches=[[{"type": "ADDED", "object": obj("c", "11")}]],
    )
    lists, events, _ = run(script, label_selector="ecs.facade.dev/service")
    assert lists == [(["a", "b"], True)]
    assert script.asked[:3] == [("list", None), ("list", "t1"), ("watch", "10")]
    assert set(script.selectors) == {"ecs.facade.dev/service"}  # every page and every watch
    assert events == [("ADDED", "c")]


def test_resumes_from_the_last_version_seen_bookmarks_included() -> None:
    script = Script(
        lists=[{"items": [], "metadata": {"resourceVersion": "10"}}],
        watches=[
            [{"type": "ADDED", "object": obj("a", "11")}, {"type": "BOOKMARK", "object": obj("", "15")}],
            [{"type": "DELETED", "object": obj("a", "16")}],
        ],
    )
    _lists, events, informer = run(script)
    assert [a for a in script.until_done if a[0] == "watch"] == [("watch", "10"), ("watch", "15"), ("watch", "16")]
    assert events == [("ADDED", "a"), ("DELETED", "a")]  # a bookmark is no event
    assert informer.resource_version == "16"


def test_a_gone_version_lists_again_and_says_it_is_not_the_first_list() -> None:
    script = Script(
        lists=[
            {"items": [obj("a", "1")], "metadata": {"resourceVersion": "10"}},
            {"items": [obj("b", "30")], "metadata": {"resourceVersion": "31"}},
        ],
        watches=[
            [{"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version"}}],
            [],
        ],
    )
    lists, _events, _ = run(script)
    assert lists == [(["a"], True), (["b"], False)]
    assert ("watch", "31") in script.asked


def test_a_410_on_starting_the_watch_lists_again_too() -> None:
    script = Script(
        lists=[
            {"items": [], "metadata": {"resourceVersion": "10"}},
            {"items": [], "metadata": {"resourceVersion": "40"}},
        ],
        watches=[Gone("expired")],
    )
    lists, _, _ = run(script)
    assert [first for _, first in lists] == [True, False]


def test_an_expired_continue_token_starts_the_list_again() -> None:
    script = Script(
        lists=[
            {"items": [obj("a", "1")], "metadata": {"continue": "t1"}},
            Gone("continue expired"),
            {"items": [obj("a", "1"), obj("b", "2")], "metadata": {"resourceVersion": "12"}},
        ],
        watches=[],
    )
    lists, _, _ = run(script)
    assert lists == [(["a", "b"], True)]  # once, complete: not the first page twice


def test_a_failed_watch_is_tried_again_from_the_same_version_without_listing() -> None:
    script = Script(
        lists=[{"items": [], "metadata": {"resourceVersion": "10"}}],
        watches=[ConnectionError("reset"), [{"type": "ADDED", "object": obj("a", "11")}]],
    )
    lists, events, _ = run(script)
    assert len(lists) == 1
    assert [a for a in script.asked if a[0] == "watch"][:2] == [("watch", "10"), ("watch", "10")]
    assert events == [("ADDED", "a")]


def test_a_watch_error_other_than_gone_is_a_failure_not_a_relist() -> None:
    script = Script(
        lists=[{"items": [], "metadata": {"resourceVersion": "10"}}],
        watches=[[{"type": "ERROR", "object": {"code": 500, "message": "internal"}}]],
    )
    lists, _, _ = run(script)
    assert len(lists) == 1 and [a[0] for a in script.until_done].count("watch") == 2


def test_a_failing_first_list_is_raised_to_the_caller() -> None:
    script = Script(lists=[PermissionError("forbidden")], watches=[])
    informer = Informer("/api/v1/pods", script, on_list=lambda *_: None, on_event=lambda *_: None)
    with pytest.raises(PermissionError):
        informer.sync()
    assert not informer.synced


def test_gone_right_after_a_list_backs_off_instead_of_listing_at_full_speed() -> None:
    gone = {"type": "ERROR", "object": {"code": 410, "message": "too old"}}
    script = Script(
        lists=[{"items": [], "metadata": {"resourceVersion": str(v)}} for v in range(10, 14)],
        watches=[[gone], [gone], [gone]],
    )
    informer = Informer("/api/v1/pods", script, on_list=lambda *_: None, on_event=lambda *_: None, backoff=(0.2, 0.2))
    started = time.monotonic()
    informer.start()
    assert script.done.wait(5), script.asked
    informer.stop()
    # the first 410 lists again at once; each one right after a list waits the backoff
    assert time.monotonic() - started >= 0.35
    assert [a[0] for a in script.asked].count("list") == 4


def test_stopping_in_the_middle_of_a_list_ends_the_thread() -> None:
    class Slow(Script):
        def list(self, path: str, limit: int, token: str | None, label_selector: str | None) -> dict[str, Any]:
            informer.stop(timeout=0)  # stopped while this page is on its way
            return {"items": [], "metadata": {"continue": "more"}}

    script = Slow(lists=[], watches=[])
    informer = Informer("/api/v1/pods", script, on_list=lambda *_: None, on_event=lambda *_: None)
    informer.start()
    assert informer._thread is not None
    informer._thread.join(2)
    assert not informer._thread.is_alive() and script.asked == [] and not informer.synced


def test_each_listed_item_is_trimmed_as_its_page_comes() -> None:
    trimmed_while_listing: list[tuple[str, int]] = []
    script = Script(
        lists=[
            {"items": [obj("a", "1"), obj("b", "2")], "metadata": {"continue": "t1"}},
            {"items": [obj("c", "3")], "metadata": {"resourceVersion": "10"}},
        ],
        watches=[[{"type": "ADDED", "object": obj("d", "11")}]],
    )

    def trim(item: dict[str, Any]) -> dict[str, Any]:
        trimmed_while_listing.append((item["metadata"]["name"], len([a for a in script.asked if a[0] == "list"])))
        return {"metadata": {"name": item["metadata"]["name"].upper()}}

    listed: list[list[str]] = []
    events: list[str] = []
    informer = Informer(
        "/api/v1/pods",
        script,
        on_list=lambda items, first: listed.append([i["metadata"]["name"] for i in items]),
        on_event=lambda kind, o: events.append(o["metadata"]["name"]),
        backoff=(0.001, 0.001),
        trim=trim,
    )
    informer.start()
    assert script.done.wait(5), script.asked
    informer.stop()
    assert listed == [["A", "B", "C"]]
    # a page's items are trimmed before the next page is asked for
    assert trimmed_while_listing == [("a", 1), ("b", 1), ("c", 2)]
    assert events == ["d"]  # watch events are handled one at a time, whole
    assert informer.resource_version == "11"


class Timed(Script):
    """A Script that also notes when each call came (monotonic)."""

    def __init__(self, lists: list[Any], watches: list[Any]) -> None:
        super().__init__(lists, watches)
        self.at: list[float] = []

    def list(self, path: str, limit: int, token: str | None, label_selector: str | None) -> dict[str, Any]:
        self.at.append(time.monotonic())
        return super().list(path, limit, token, label_selector)

    def watch(
        self, path: str, resource_version: str, timeout_seconds: int, label_selector: str | None
    ) -> Iterator[dict[str, Any]]:
        self.at.append(time.monotonic())
        yield from super().watch(path, resource_version, timeout_seconds, label_selector)


def broken_after(*events: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A watch that brings ``events``, then its connection breaks (the API server went away)."""
    yield from events
    raise ConnectionError("Response ended prematurely")


def test_a_watch_that_worked_then_broke_backs_off_from_the_first_delay_again() -> None:
    # an outage (three refused watches: 0.1, 0.2, 0.4 s), a watch that works again, then
    # the next outage: its first retry waits the first delay, not the fourth (0.8 s)
    refused = ConnectionError("connection refused")
    script = Timed(
        lists=[{"items": [], "metadata": {"resourceVersion": "10"}}],
        watches=[refused, refused, refused, broken_after({"type": "ADDED", "object": obj("a", "11")}), refused],
    )
    informer = Informer("/api/v1/pods", script, on_list=lambda *_: None, on_event=lambda *_: None, backoff=(0.1, 5))
    informer.start()
    assert script.done.wait(10), script.asked
    informer.stop()
    assert [a[0] for a in script.until_done] == ["list", *["watch"] * 6]
    assert script.at[5] - script.at[4] < 0.3, script.at  # 0.1 s, not 0.8 s
    assert script.at[4] - script.at[3] >= 0.35  # within the first outage, the delay doubled


def test_a_410_after_a_watch_that_worked_then_broke_lists_again_at_once() -> None:
    # a restart of the API server: 410, listed again, the watch works (no event: a quiet
    # kind), breaks at the next restart, and the next watch gets a 410: listed again at
    # once, not taken for "gone again right after a list" (which waits the backoff)
    gone = {"type": "ERROR", "object": {"code": 410, "message": "too old"}}
    script = Timed(
        lists=[{"items": [], "metadata": {"resourceVersion": str(v)}} for v in (10, 20, 30)],
        watches=[[gone], broken_after(), [gone]],
    )
    informer = Informer("/api/v1/pods", script, on_list=lambda *_: None, on_event=lambda *_: None, backoff=(1, 1))
    informer.start()
    assert script.done.wait(10), script.asked
    informer.stop()
    kinds = [a[0] for a in script.until_done]
    assert kinds == ["list", "watch", "list", "watch", "watch", "list", "watch"], kinds
    assert script.at[5] - script.at[4] < 0.5, script.at  # listed again at once after the 410
