"""The operator's own informer (kube/informer.py) against the real API server: list in pages,
watch, label selection, stop.

Its relist after 410 Gone is tested on a scripted transport (tests/unit/test_informer.py):
on a young cluster the API server's watch cache answers a watch from an old version with
events rather than 410, so it cannot be provoked here on demand."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import config

from ecs_facade.kube.informer import HttpTransport, Informer
from tests.e2e.kube import Kubectl, wait_for

LABEL = "e2e-informer"


class Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lists: list[tuple[list[str], bool]] = []
        self.events: list[tuple[str, str]] = []

    def listed(self, items: list[dict[str, Any]], first: bool) -> None:
        with self.lock:
            self.lists.append((sorted(i["metadata"]["name"] for i in items), first))

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        with self.lock:
            self.events.append((kind, obj["metadata"]["name"]))


def config_map(kubectl: Kubectl, namespace: str, name: str, labelled: bool = True) -> None:
    kubectl("create", "configmap", name, "-n", namespace, f"--from-literal=k={name}")
    if labelled:
        kubectl("label", "configmap", name, "-n", namespace, f"{LABEL}=yes")


@pytest.fixture
def informer(kubectl: Kubectl, namespace: str) -> Iterator[tuple[Informer, Seen]]:
    api = config.new_client_from_config(config_file=kubectl.kubeconfig)  # type: ignore[no-untyped-call]
    seen = Seen()
    informer = Informer(
        f"/api/v1/namespaces/{namespace}/configmaps",
        HttpTransport(api, read_timeout=30),
        on_list=seen.listed,
        on_event=seen.event,
        timeout_seconds=20,
        label_selector=LABEL,
        page_size=2,  # three objects: the list takes two pages
        backoff=(0.2, 1.0),
    )
    yield informer, seen
    informer.stop()


def test_lists_in_pages_then_watches_only_what_the_selector_selects(
    kubectl: Kubectl, namespace: str, informer: tuple[Informer, Seen]
) -> None:
    watcher, seen = informer
    for name in ("a", "b", "c"):
        config_map(kubectl, namespace, name)
    config_map(kubectl, namespace, "unlabelled", labelled=False)
    watcher.sync()
    assert seen.lists == [(["a", "b", "c"], True)]
    watcher.start()
    kubectl("label", "configmap", "a", "-n", namespace, "touched=1")
    kubectl("delete", "configmap", "b", "-n", namespace)
    kubectl("label", "configmap", "unlabelled", "-n", namespace, "touched=1")
    wait_for("the watch's events", lambda: len(seen.events) >= 2 and seen.events, timeout=30)
    time.sleep(1)
    assert seen.events == [("MODIFIED", "a"), ("DELETED", "b")]
    started = time.monotonic()
    watcher.stop()
    assert time.monotonic() - started < 3  # it does not wait for the server's timeout
