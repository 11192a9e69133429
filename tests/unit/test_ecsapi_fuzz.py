"""Fuzzing the ECS API in-process: a few hundred requests from tests/fuzz_ecsapi.py (well-formed
per the ECS model and mutated) through the real aiohttp app and Dispatcher, over a fake Store
that keeps what the requests create. Every answer must be a 2xx or a 4xx naming an error the
model declares for the action, never a 5xx; the end-to-end run is tests/e2e/test_ecs_api_fuzz.py."""

from __future__ import annotations

import asyncio
import copy
import http.client
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ecs_facade.arns import Arns
from ecs_facade.ecsapi.handlers import Actions
from ecs_facade.ecsapi.model import ECS
from ecs_facade.ecsapi.protocol import Dispatcher
from ecs_facade.ecsapi.server import make_app, start
from ecs_facade.ecsapi.sigv4 import Authenticator
from ecs_facade.ecsapi.tasks_handlers import TaskActions
from ecs_facade.model.taskdefinition import normalize_task_definition, parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.taskdefinition import translate_task_definition
from tests.fuzz_ecsapi import UNIT, Answer, Case, Ledger, Strategies, cases, encode, leftovers, problem, send
from tests.unit import ecsapi_calls
from tests.unit.test_ecsapi_handlers import FakeStore as HandlerStore

ARNS = Arns("us-east-1", "123456789012")


class FakeStore(ecsapi_calls.FakeObjects):
    """Namespaces, ECSClusters, ECSTaskDefinitions (registered at once, as the operator would),
    their ControllerRevisions and ECSServices, as the API server keeps them."""

    def __init__(self) -> None:
        super().__init__()
        self.namespaces: dict[str, dict[str, str]] = {"default": {}}
        self.clusters: list[dict[str, Any]] = []
        self.tds: list[dict[str, Any]] = []
        self.revisions: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self.version = 0
        self.lock = threading.Lock()  # handlers run in worker threads

    def _stamp(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        obj["metadata"].setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        obj["metadata"].setdefault("uid", f"uid-{self.version}")
        return obj

    def create_cluster(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            if any(c["metadata"]["name"] == manifest["metadata"]["name"] for c in self.clusters):
                return None
            created = self._stamp({**copy.deepcopy(dict(manifest)), "status": {}})
            self.clusters.append(created)
            return copy.deepcopy(created)

    def delete_cluster(self, name: str) -> None:
        self.clusters = [c for c in self.clusters if c["metadata"]["name"] != name]

    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool:
        found = [c for c in self.clusters if c["metadata"]["name"] == name]
        if found:
            found[0]["metadata"].setdefault("annotations", {}).update(patch["metadata"].get("annotations") or {})
        return bool(found)

    def get_task_definition(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = [o for o in self.tds if (o["metadata"]["namespace"], o["metadata"]["name"]) == (namespace, name)]
        return copy.deepcopy(found[0]) if found else None

    def write_task_definition(self, manifest: Mapping[str, Any], exists: bool) -> dict[str, Any]:
        with self.lock:
            meta = manifest["metadata"]
            current = next((o for o in self.tds if o["metadata"]["name"] == meta["name"]), None)
            if current is not None:
                current["spec"] = copy.deepcopy(manifest["spec"])
                current["metadata"]["generation"] += 1
                td = self._stamp(current)
            else:
                td = self._stamp({**copy.deepcopy(dict(manifest)), "status": {}})
                td["metadata"]["generation"] = 1
                self.tds.append(td)
            self._register(td)
            return copy.deepcopy(td)

    def _register(self, td: dict[str, Any]) -> None:
        """The operator's part: one ControllerRevision per new content, or Ready=False InvalidSpec."""
        meta = td["metadata"]
        td["status"] = {"observedGeneration": meta["generation"]}
        try:  # as controllers/taskdefinition.py decides
            request = normalize_task_definition(td["spec"], meta["name"])
            translate_task_definition(parse_task_definition(td["spec"], meta["name"]))
        except (ValidationError, TranslationError, ValueError) as error:  # refused: the API answers its message
            td["status"]["conditions"] = [
                {"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": str(error)[:500]}
            ]
            return
        ecsapi_calls.register_revision(td, self.revisions, request)

    def patch_task_definition(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        with self.lock:
            td = next(o for o in self.tds if (o["metadata"]["namespace"], o["metadata"]["name"]) == (namespace, name))
            td["spec"].update(copy.deepcopy(dict(patch.get("spec") or {})))
            self._stamp(td)

    def create_service(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            meta = manifest["metadata"]
            if any(s["metadata"]["name"] == meta["name"] for s in self.services):
                return None
            created = self._stamp(copy.deepcopy(dict(manifest)))
            created["status"] = {"observedGeneration": 1}  # the operator's part, at once
            self.services.append(created)
            return copy.deepcopy(created)

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            found = next((s for s in self.services if s["metadata"]["name"] == name), None)
            if found is None:
                return None
            for key, value in (patch.get("spec") or {}).items():
                if value is None:
                    found["spec"].pop(key, None)
                else:
                    found["spec"][key] = copy.deepcopy(value)
            return copy.deepcopy(self._stamp(found))

    def delete_service(self, namespace: str, name: str) -> None:
        self.services = [s for s in self.services if s["metadata"]["name"] != name]

    # the task half (ecsapi/tasks_handlers.py TaskStore)
    def list_ecs_tasks(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy([t for t in self.tasks if t["metadata"]["namespace"] == namespace])

    def list_task_pods(self, namespace: str) -> list[dict[str, Any]]:
        return []

    def list_nodes(self) -> list[dict[str, Any]]:
        return []

    def create_ecs_task(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            created = self._stamp(copy.deepcopy(dict(manifest)))
            meta = created["metadata"]
            meta.setdefault("name", f"{meta.pop('generateName', 'task-')}{self.version}")
            meta["uid"] = f"0000-{self.version:08d}"
            self.tasks.append(created)
            return copy.deepcopy(created)

    def patch_ecs_task(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            found = next((t for t in self.tasks if t["metadata"]["name"] == name), None)
            if found is None:
                return None
            found.setdefault("spec", {}).update(copy.deepcopy(dict(patch.get("spec") or {})))
            return copy.deepcopy(self._stamp(found))

    def delete_pod(self, namespace: str, name: str) -> None:
        pass


class Server:
    """The app on loopback, on its own event loop thread, and one kept-alive connection to it."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner, self.port = asyncio.run_coroutine_threadsafe(start(app, "127.0.0.1", 0), self.loop).result(10)
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def send(self, case: Case) -> Answer:
        try:
            return send(self.connection, case)
        except (ConnectionError, http.client.HTTPException):  # the server closed a refused connection
            self.connection.close()
            return send(self.connection, case)

    def stop(self) -> None:
        self.connection.close()
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _no_sleep(seconds: float) -> None:
    pass


DISPATCHER = Dispatcher()
STORE = FakeStore()
Actions(STORE, ARNS, register_timeout=0.5, sleep=_no_sleep).register(DISPATCHER)
TaskActions(STORE, ARNS).register(DISPATCHER)
MODEL = DISPATCHER.models[ECS]
ACTIONS = DISPATCHER.implemented(ECS)
STRATEGIES = Strategies(MODEL, UNIT)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server(make_app(DISPATCHER, Authenticator(None, anonymous=True)))
    yield running
    running.stop()


def _well_formed() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return st.sampled_from(ACTIONS).flatmap(lambda a: STRATEGIES.request(a).map(lambda r: (a, r)))


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(_well_formed())
def test_the_strategies_make_well_formed_requests_for_every_implemented_action(
    drawn: tuple[str, dict[str, Any]],
) -> None:
    """What is drawn as well-formed passes the model's check: otherwise the fuzz would test only
    the validation."""
    action, request = drawn
    DISPATCHER.parse(MODEL, action, encode(request))


@example(Case("CreateService", "valid", f"{MODEL.target_prefix}.CreateService", b'{"serviceName": "fuzz"}'))
@example(Case("DescribeServices", "deep", f"{MODEL.target_prefix}.DescribeServices", b"[" * 5000 + b"]" * 5000))
@example(
    Case("ListClusters", "huge-string", f"{MODEL.target_prefix}.ListClusters", b'{"x": "' + b"x" * 1_100_000 + b'"}')
)
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases(STRATEGIES, ACTIONS))
def test_every_answer_is_a_2xx_or_a_modelled_4xx(server: Server, case: Case) -> None:
    answer = server.send(case)
    assert problem(MODEL, case, answer) is None, (case, problem(MODEL, case, answer))


def test_the_fuzz_reaches_the_actions() -> None:
    """Enough well-formed requests succeed that the handlers, not only the checks, are fuzzed:
    the same strategies (derandomized) must create clusters and task definitions and read them."""
    assert len(ACTIONS) >= 18  # the cluster, task definition, service and task actions at least
    answers: dict[str, int] = {}
    running = Server(make_app(DISPATCHER, Authenticator(None, anonymous=True)))
    try:

        @settings(max_examples=300, deadline=None, database=None, derandomize=True)
        @given(_well_formed())
        def run(drawn: tuple[str, dict[str, Any]]) -> None:
            action, request = drawn
            answer = running.send(Case(action, "valid", STRATEGIES.target(action), encode(request)))
            if answer.status == 200:
                answers[action] = answers.get(action, 0) + 1

        run()
    finally:
        running.stop()
    assert {"CreateCluster", "RegisterTaskDefinition", "DescribeServices", "ListTaskDefinitions"} <= set(answers), (
        answers
    )


def test_nothing_is_left_that_no_2xx_answer_created() -> None:
    """After a fuzz run over a fresh store: every object exists because a 2xx answer created it,
    and is whole (tests/fuzz_ecsapi.py leftovers): a refused request writes nothing."""
    store = FakeStore()
    dispatcher = Dispatcher()
    Actions(store, ARNS, register_timeout=0.5, sleep=_no_sleep).register(dispatcher)
    TaskActions(store, ARNS).register(dispatcher)
    ledger = Ledger()
    running = Server(make_app(dispatcher, Authenticator(None, anonymous=True)))
    try:

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(cases(STRATEGIES, ACTIONS, mutate_share=0.4))
        def run(case: Case) -> None:
            ledger.record(case, running.send(case))

        run()
    finally:
        running.stop()
    assert ledger.succeeded["RegisterTaskDefinition"] and ledger.succeeded["CreateCluster"], ledger
    found = leftovers(ledger, store.clusters, store.tds, store.revisions, store.services, store.tasks)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        # the operator's model: a container without image
        (b'{"family": "fuzz-web", "containerDefinitions": [{"name": "app"}]}', b"containerDefinitions.0.image"),
        # the operator's translation: a volume no Kubernetes name can be made of
        (
            b'{"family": "fuzz-web", "containerDefinitions": [{"name": "app", "image": "nginx"}],'
            b' "volumes": [{"name": ""}]}',
            b"volume name ''",
        ),
    ],
)
def test_a_registration_the_operator_refuses_writes_nothing(body: bytes, named: bytes) -> None:
    """Found by the fuzz: the ECSTaskDefinition was written first and the operator's refusal
    answered after, leaving a family object no revision came from (a 4xx that changed state)."""
    store = FakeStore()
    dispatcher = Dispatcher()
    Actions(store, ARNS, register_timeout=0.5, sleep=_no_sleep).register(dispatcher)
    running = Server(make_app(dispatcher, Authenticator(None, anonymous=True)))
    try:
        answer = running.send(
            Case("RegisterTaskDefinition", "valid", STRATEGIES.target("RegisterTaskDefinition"), body)
        )
    finally:
        running.stop()
    assert (answer.status, answer.error) == (400, "InvalidParameterException"), answer
    assert named in answer.body, answer.body
    assert store.tds == []


def test_concurrent_registrations_of_a_family_each_get_their_revision() -> None:
    """Found by the concurrent e2e fuzz: two RegisterTaskDefinition of one family at once; the
    operator registers the spec it sees, so the second spec, written before the first was
    registered, replaced it and the first request waited for its revision until a 500. In turn,
    each is answered with its own revision, as at ECS."""
    store = HandlerStore()
    store.controller_runs = False  # the operator runs between polls, on what is written then

    async def operator_runs(seconds: float) -> None:
        store.run_controller()

    dispatcher = Dispatcher()
    Actions(store, ARNS, register_timeout=1.0, sleep=operator_runs).register(dispatcher)
    model = dispatcher.models[ECS]

    def request(value: str) -> dict[str, Any]:
        container = {"name": "app", "image": "nginx", "memory": 128, "environment": [{"name": "V", "value": value}]}
        return dispatcher.parse(
            model, "RegisterTaskDefinition", encode({"family": "web", "containerDefinitions": [container]})
        )

    async def both() -> list[Mapping[str, Any]]:
        calls = [dispatcher.call(model, request(v), ecsapi_calls.context("RegisterTaskDefinition")) for v in ("1", "2")]
        return list(await asyncio.gather(*calls))

    first, second = asyncio.run(both())
    assert sorted([first["taskDefinition"]["revision"], second["taskDefinition"]["revision"]]) == [1, 2]
    for answer, value in ((first, "1"), (second, "2")):
        assert answer["taskDefinition"]["containerDefinitions"][0]["environment"] == [{"name": "V", "value": value}]
