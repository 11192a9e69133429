"""Calling the ECS API's handlers in unit tests as the server calls them: the request checked
against the service's model, then dispatched with a RequestContext, without HTTP or SigV4.

One place for what every tests/unit/test_ecsapi_*.py needs, so that the context a test's key
has (its namespaces, home namespace and signing region) reads the same in all of them, and the
reads their fake Stores share (FakeObjects)."""

import asyncio
import copy
from collections.abc import Mapping
from typing import Any, Protocol

import orjson
import pytest

from ecs_facade.api import ANNOTATION_CONTENT_HASH, ANNOTATION_REGISTERED_AT, API_VERSION
from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext
from ecs_facade.ecsapi.taskdefinitions import revisions_of
from ecs_facade.model.taskdefinition import content_hash

TEAM_A = frozenset({"team-a"})


def context(
    action: str,
    service: str = "ecs",
    *,
    namespace: str | None = None,
    namespaces: frozenset[str] | None = TEAM_A,
    home: str | None = None,
    region: str = "us-east-1",
) -> RequestContext:
    """The context of a request signed in ``region`` by a key of ``namespaces`` (``namespace``:
    just that one; None: anonymous mode, every namespace). Its home namespace is ``home``, else
    team-a when the key has it, else the key's first namespace by name."""
    if namespace is not None:
        namespaces = frozenset({namespace})
    if home is None and namespaces is not None:
        home = "team-a" if "team-a" in namespaces else min(namespaces)
    return RequestContext(
        service=service,
        action=action,
        request_id="r-1",
        region=region,
        access_key_id="AKIATEST" if namespaces is not None else None,
        namespaces=namespaces,
        anonymous=namespaces is None,
        home_namespace=home,
    )


def call(
    dispatcher: Dispatcher, action: str, request: Mapping[str, Any], *, service: str | None = None, **overrides: Any
) -> Mapping[str, Any]:
    """``action``'s answer to ``request``; ``service``: the one that registered the action unless
    given; ``overrides``: the context's keywords (see ``context``)."""
    if service is None:
        service = next((known for known, name in dispatcher.handlers if name == action), "ecs")
    model = dispatcher.models[service]
    parsed = dispatcher.parse(model, action, orjson.dumps(request))
    return asyncio.run(dispatcher.call(model, parsed, context(action, service, **overrides)))


def error(
    dispatcher: Dispatcher, action: str, request: Mapping[str, Any], *, service: str | None = None, **overrides: Any
) -> ApiError:
    """The ApiError ``action`` refuses ``request`` with (the test fails if it answers)."""
    with pytest.raises(ApiError) as caught:
        call(dispatcher, action, request, service=service, **overrides)
    return caught.value


class FakeObjects:
    """What the fake Stores of these tests list as the API server would: namespaces (and their
    labels), ECSClusters, ECSServices, ECSTaskDefinitions and their ControllerRevisions; each
    test file's FakeStore adds its writes and whatever else its actions read."""

    def __init__(self) -> None:
        self.clusters: list[dict[str, Any]] = []
        self.namespaces: dict[str, dict[str, str]] = {"team-a": {}, "team-b": {}}
        self.services: list[dict[str, Any]] = []
        self.tds: list[dict[str, Any]] = []
        self.revisions: list[dict[str, Any]] = []

    def list_clusters(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.clusters)

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self.namespaces.get(namespace)

    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy([o for o in self.tds if o["metadata"]["namespace"] == namespace])

    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy([r for r in self.revisions if r["metadata"]["namespace"] == namespace])

    def list_services(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy([s for s in self.services if s["metadata"]["namespace"] == namespace])


class Registrar(Protocol):
    def register(self, dispatcher: Dispatcher) -> None: ...


def dispatcher_of(*actions: Registrar) -> Dispatcher:
    """A Dispatcher with the handlers of ``actions`` (an Actions class bound to its Store)."""
    made = Dispatcher()
    for registrar in actions:
        registrar.register(made)
    return made


def ecs_service(name: str, cluster: str, namespace: str, status: Mapping[str, Any], **spec: Any) -> dict[str, Any]:
    """An ECSService of task definition web, as the API server holds it."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ECSService",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": "7",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"cluster": cluster, "taskDefinition": "web", "desiredCount": 2, **spec},
        "status": copy.deepcopy(dict(status)),
    }


def web_revision(number: int, **task_definition: Any) -> dict[str, Any]:
    """A ControllerRevision of family web in team-a, as the operator registers it."""
    return {
        "metadata": {
            "name": f"web-{number}",
            "namespace": "team-a",
            "ownerReferences": [{"kind": "ECSTaskDefinition", "name": "web", "uid": "uid-web"}],
        },
        "revision": number,
        "data": {"taskDefinition": {"family": "web", **task_definition}},
    }


def register_revision(td: Mapping[str, Any], revisions: list[dict[str, Any]], request: Mapping[str, Any]) -> None:
    """The operator's registration, as the fake stores play it: a ControllerRevision for the
    normalized ``request`` of ``td`` unless the latest one has the same content."""
    meta = td["metadata"]
    digest = content_hash(request)
    mine = revisions_of(td, revisions)
    if mine and mine[-1].content_hash == digest:
        return
    number = mine[-1].revision + 1 if mine else 1
    revisions.append(
        {
            "metadata": {
                "name": f"{meta['name']}-{number}",
                "namespace": meta["namespace"],
                "annotations": {ANNOTATION_CONTENT_HASH: digest, ANNOTATION_REGISTERED_AT: "2026-01-01T00:00:00Z"},
                "ownerReferences": [{"kind": "ECSTaskDefinition", "name": meta["name"], "uid": meta["uid"]}],
            },
            "revision": number,
            "data": {"taskDefinition": request},
        }
    )
