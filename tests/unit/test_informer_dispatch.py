"""What each kind's informer events lead to (the handlers kopf used to call for them), and
kopf's create/update/resume handlers meeting an object the informer has not delivered yet."""

import threading
from collections.abc import Callable
from typing import Any, cast

import kopf
import pytest

from ecs_facade.config import Config
from ecs_facade.controllers import cluster, indexes, informers, service, task, taskdefinition
from ecs_facade.controllers.common import HandlerContext
from ecs_facade.controllers.indexes import Indexes
from ecs_facade.controllers.service import triggers
from ecs_facade.controllers.state import OperatorState

SERVICE = "ecs.facade.dev/service"


def known() -> HandlerContext:
    context = HandlerContext()
    context.remember()
    return context


class Recorder:
    """The informers' Events of one kind, with what it submits off the informer's thread."""

    def __init__(self, watched: informers.Watched, patterns: tuple[str, ...] = ()) -> None:
        self.indexes = Indexes.create()
        self.submitted: list[tuple[Any, ...]] = []
        self.state = OperatorState(config=Config())
        self.events = informers.Events(
            watched,
            self.state,
            self.indexes,
            kopf.OperatorSettings(),
            lambda f, *a, **k: self.submitted.append((f, *a, k)),
            patterns,
            known(),
        )

    def functions(self) -> list[Any]:
        return [s[0] for s in self.submitted]


def obj(name: str, namespace: str = "ns", labels: dict[str, str] | None = None, **rest: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "1", "generation": 1}
    return {"metadata": {**meta, "labels": labels or {}, **rest.pop("metadata", {})}, **rest}


@pytest.fixture
def workload_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str, bool]]:
    seen: list[tuple[str, str, str, bool]] = []

    def workload_event(state: Any, body: Any, namespace: str, name: str, *_: Any, deleted: bool, **__: Any) -> None:
        seen.append((body["kind"], namespace, name, deleted))

    monkeypatch.setattr(service, "workload_event", workload_event)
    return seen


@pytest.mark.parametrize("watched", [informers.DAEMON_SETS, informers.AUTOSCALERS])
def test_a_services_daemon_set_or_autoscaler_queues_the_service(
    watched: informers.Watched, workload_events: list[tuple[str, str, str, bool]]
) -> None:
    recorder = Recorder(watched)
    recorder.events.event("MODIFIED", obj("web", labels={SERVICE: "web"}, spec={"replicas": 2}))
    assert workload_events == [(watched.kind, "ns", "web", False)]  # at once: it only queues
    assert recorder.submitted == []
    key = ("ns", "web")
    held = recorder.indexes.daemon_sets if watched is informers.DAEMON_SETS else recorder.indexes.autoscalers
    assert key in held  # the index first
    recorder.events.event("DELETED", obj("web", labels={SERVICE: "web"}))
    assert workload_events[-1] == (watched.kind, "ns", "web", True)  # at once too: the reconcile checks
    assert recorder.submitted == [] and key not in held


def test_a_node_turning_draining_queues_the_services_with_tasks_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[tuple[str, str, bool, bool, Any]] = []
    monkeypatch.setattr(
        triggers,
        "enqueue",
        lambda _state, namespace, name, _indexes, logger, **k: queued.append(
            (namespace, name, k["urgent"], k["apply"], logger)
        ),
    )
    recorder = Recorder(informers.NODES, patterns=("team-a",))  # nodes are watched whatever the namespaces
    web = obj("web", namespace="team-a", spec={"taskDefinition": "web:1"})
    recorder.indexes.objects["ECSService"].put(web)
    pod = obj("web-1", namespace="team-a", labels={SERVICE: "web"}, spec={"nodeName": "n1"}, status={})
    recorder.indexes.objects["Pod"].put(pod)
    node = obj("n1", namespace="", labels={"ecs.facade.dev/container-instance-status": "ACTIVE"})
    recorder.events.event("ADDED", node)
    assert queued == [] and indexes.one(recorder.indexes.nodes, "n1") is not None
    node["metadata"]["labels"]["ecs.facade.dev/container-instance-status"] = "DRAINING"
    recorder.events.event("MODIFIED", node)
    assert [q[:4] for q in queued] == [("team-a", "web", True, True)]
    assert isinstance(queued[0][4], kopf.ObjectLogger)  # the service's logger, not the node's
    recorder.events.event("MODIFIED", node)  # still DRAINING: nothing new
    assert len(queued) == 1


def test_a_namespace_is_only_indexed() -> None:
    recorder = Recorder(informers.NAMESPACES)
    recorder.events.event("ADDED", obj("team-a", namespace="", labels={"team": "a"}))
    assert indexes.one(recorder.indexes.namespaces, "team-a") == {"team": "a"} and recorder.submitted == []


def test_a_revision_queues_the_services_of_its_task_definition() -> None:
    recorder = Recorder(informers.REVISIONS)
    owners = [{"kind": "ECSTaskDefinition", "name": "web", "uid": "u"}]
    body = obj("web-3", metadata={"ownerReferences": owners}, revision=3, data={"taskDefinition": {}})
    recorder.events.event("ADDED", body)
    [(function, _state, namespace, owner, given, _, options)] = recorder.submitted
    assert (function, namespace, owner, given, options) == (
        taskdefinition.revision_changed,
        "ns",
        "web",
        recorder.indexes,
        {},
    )
    assert [r.revision for r in indexes.revisions_of(recorder.indexes.revisions, "ns", "web")] == [3]
    recorder.events.event("ADDED", obj("other-1"))  # not a task definition's
    assert len(recorder.submitted) == 1


def test_a_task_definitions_change_queues_the_services_of_its_family() -> None:
    recorder = Recorder(informers.ECS_TASK_DEFINITIONS)
    recorder.events.event("MODIFIED", obj("web-v2", spec={"family": "web"}, status={"status": "ACTIVE"}))
    assert [(s[0], *s[2:5]) for s in recorder.submitted] == [
        (taskdefinition.task_definition_event, "ns", "web-v2", recorder.indexes)
    ]
    assert indexes.one(recorder.indexes.task_definitions, ("ns", "web")) is not None


def test_a_clusters_spec_change_is_handed_on_not_its_status_writes() -> None:
    recorder = Recorder(informers.ECS_CLUSTERS, patterns=("team-a",))  # watched whatever the namespaces
    body = obj("prod", namespace="", spec={"clusterName": "production"})
    recorder.events.event("ADDED", body)
    recorder.events.event("MODIFIED", {**body, "status": {"registeredContainerInstancesCount": 3}})
    assert [(s[0], *s[2:4]) for s in recorder.submitted] == [
        (task.cluster_event, "prod", {"clusterName": "production"})
    ]
    [held] = indexes.values_at(recorder.indexes.clusters, "production")
    assert held.status == {"registeredContainerInstancesCount": 3}
    changed = obj("prod", namespace="", metadata={"generation": 2}, spec={"clusterName": "production", "x": 1})
    recorder.events.event("MODIFIED", changed)
    recorder.events.event("DELETED", changed)
    assert recorder.functions() == [task.cluster_event] * 3
    assert indexes.one(recorder.indexes.clusters, "production") is None


def test_an_ecs_task_is_only_indexed_its_changes_are_kopfs() -> None:
    recorder = Recorder(informers.ECS_TASKS)
    recorder.events.event("ADDED", obj("job-1", spec={"taskDefinition": "web"}))
    assert indexes.one(recorder.indexes.ecs_tasks, ("ns", "job-1")) is not None and recorder.submitted == []


def test_the_first_list_is_handed_on_once_every_kind_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(informers.ECS_CLUSTERS)
    recorder.events.listed(None, [obj("prod", namespace="", spec={})], True)
    assert recorder.submitted == []  # not before the other kinds are listed: a task would miss its definition
    recorder.events.hand_on_listed()
    assert recorder.functions() == [task.cluster_event]
    recorder.events.hand_on_listed()  # once
    assert len(recorder.submitted) == 1
    pods = Recorder(informers.PODS)
    pods.events.listed(None, [obj("p1", labels={SERVICE: "web"})], True)
    pods.events.hand_on_listed()  # pods never were kopf's: their services are queued at start-up
    assert pods.submitted == []


def test_the_kinds_and_where_they_are_watched() -> None:
    assert {w.kind for w in informers.WATCHED} == set(indexes.KEYS)
    assert {w.kind for w in informers.WATCHED if w.cluster_scoped} == {"Node", "Namespace", "ECSCluster"}
    assert informers.NODES.scopes(("team-a",)) == [None] and informers.NODES.path("team-a") == "/api/v1/nodes"
    assert informers.ECS_TASKS.scopes(("team-a",)) == ["team-a"]
    assert informers.ECS_TASKS.path("team-a") == "/apis/ecs.facade.dev/v1alpha1/namespaces/team-a/ecstasks"
    assert informers.REVISIONS.label_selector == "app.kubernetes.io/managed-by=ecs-facade"
    assert informers.DAEMON_SETS.label_selector == SERVICE and informers.AUTOSCALERS.label_selector == SERVICE
    assert informers.AUTOSCALERS.path(None) == "/apis/autoscaling/v2/horizontalpodautoscalers"


def test_a_cluster_event_queues_its_services_and_starts_the_tasks_that_waited(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued: list[tuple[str, str, bool, bool]] = []
    started: list[str] = []
    monkeypatch.setattr(
        task, "enqueue_service", lambda _state, ns, name, *_, **k: queued.append((ns, name, k["urgent"], k["apply"]))
    )
    monkeypatch.setattr(task, "reconcile", lambda _state, ns, name, *_: started.append(name))
    views = Indexes.create()
    for name, ref in (("web", "production"), ("api", "arn:aws:ecs:us-east-1:1:cluster/production"), ("x", "other")):
        views.objects["ECSService"].put(obj(name, spec={"cluster": ref, "taskDefinition": "web"}))
    views.objects["ECSTask"].put(obj("waiting", spec={"cluster": "production"}))
    views.objects["ECSTask"].put(obj("started", spec={"cluster": "production"}, status={"taskDefinitionArn": "arn"}))
    task.cluster_event(OperatorState(config=Config()), "prod", {"clusterName": "production"}, views, cast(Any, None))
    assert sorted(queued) == [("ns", "api", True, True), ("ns", "web", True, True)]  # queued, not reconciled here
    assert started == ["waiting"]


def test_start_up_makes_one_set_of_indexes_in_kopfs_memo_then_lets_the_service_workers_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[Any] = []

    async def start(self: informers.Watching, settings: Any, timeout: int) -> None:
        steps.append(("listed", self.patterns, self.indexes))

    monkeypatch.setattr(informers.Watching, "start", start)
    monkeypatch.setattr(service, "release_service_workers", lambda state: steps.append("released"))
    memo = kopf.Memo(namespaces=("team-a", "team-b"), state=OperatorState(config=Config()))
    start_informers = cast(Callable[..., Any], informers.start_informers)
    import asyncio

    asyncio.run(start_informers(settings=kopf.OperatorSettings(), memo=memo))
    assert steps == [("listed", ("team-a", "team-b"), memo["indexes"]), "released"]
    assert memo["watching"].indexes is memo["indexes"]
    first = memo["watching"]
    asyncio.run(start_informers(settings=kopf.OperatorSettings(), memo=memo))  # kopf retries a failed start
    assert memo["watching"] is not first and memo["indexes"] is not steps[0][2]
    cast(Callable[..., None], informers.stop_informers)(memo=memo)


# kopf's create/update/resume handlers may run before the informer delivered their object


def handlers() -> list[tuple[str, Callable[..., None], Any, str]]:
    """(kind, the kopf handler, its module, the namespace of its objects)"""
    return [
        ("ECSTask", cast(Callable[..., None], task.task_changed), task, "ns"),
        ("ECSTaskDefinition", cast(Callable[..., None], taskdefinition.task_definition_changed), taskdefinition, "ns"),
        ("ECSCluster", cast(Callable[..., None], cluster.cluster_changed), cluster, ""),
    ]


@pytest.fixture
def reconciled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What each reconcile found of its object in the index."""
    seen: list[tuple[str, Any]] = []
    for kind, _, module, namespace in handlers():

        def reconcile(*args: Any, kind: str = kind, namespace: str = namespace) -> None:
            name, views = (args[1], args[2]) if kind == "ECSCluster" else (args[2], args[3])  # args[0]: the state
            lookup = {
                "ECSTask": lambda: indexes.one(views.ecs_tasks, (namespace, name)),
                "ECSTaskDefinition": lambda: indexes.one(views.task_definitions_by_name, (namespace, name)),
                "ECSCluster": lambda: indexes.one(views.clusters, name),
            }
            found = lookup[kind]()
            seen.append((kind, None if found is None else found.generation))

        monkeypatch.setattr(module, "reconcile", reconcile)
    return seen


def kopf_body(name: str, namespace: str, generation: int) -> dict[str, Any]:
    meta = {"name": name, "uid": f"uid-{name}", "generation": generation, "resourceVersion": str(generation)}
    return {"metadata": {**meta, **({"namespace": namespace} if namespace else {})}, "spec": {"family": name}}


@pytest.mark.parametrize("case", range(3), ids=["ECSTask", "ECSTaskDefinition", "ECSCluster"])
def test_a_kopf_handler_waits_for_the_informer_to_deliver_its_object(
    case: int, reconciled: list[tuple[str, Any]]
) -> None:
    kind, handler, _, namespace = handlers()[case]
    views = Indexes.create()
    memo = kopf.Memo(indexes=views, state=OperatorState(config=Config()))
    body = kopf_body("web", namespace, 1)
    later = threading.Timer(0.05, views.objects[kind].put, [body])  # the informer, a moment after kopf
    later.start()
    handler(name="web", namespace=namespace or None, body=kopf.Body(cast(Any, body)), logger=None, memo=memo)
    later.join()
    assert reconciled == [(kind, 1)]  # run once the index had it, not before


@pytest.mark.parametrize("case", range(3), ids=["ECSTask", "ECSTaskDefinition", "ECSCluster"])
def test_a_kopf_handler_of_a_spec_change_waits_for_that_generation(
    case: int, reconciled: list[tuple[str, Any]]
) -> None:
    kind, handler, _, namespace = handlers()[case]
    views = Indexes.create()
    views.objects[kind].put(kopf_body("web", namespace, 1))
    later = threading.Timer(0.05, views.objects[kind].put, [kopf_body("web", namespace, 2)])
    later.start()
    changed = kopf.Body(cast(Any, kopf_body("web", namespace, 2)))
    handler(
        name="web",
        namespace=namespace or None,
        body=changed,
        logger=None,
        memo=kopf.Memo(indexes=views, state=OperatorState(config=Config())),
    )
    later.join()
    assert reconciled == [(kind, 2)]


@pytest.mark.parametrize("case", range(3), ids=["ECSTask", "ECSTaskDefinition", "ECSCluster"])
def test_a_kopf_handler_whose_object_does_not_come_is_retried(
    case: int, reconciled: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, handler, _, namespace = handlers()[case]
    monkeypatch.setattr(indexes, "INDEX_WAIT_SECONDS", 0.01)
    body = kopf.Body(cast(Any, kopf_body("web", namespace, 1)))
    with pytest.raises(kopf.TemporaryError):
        handler(
            name="web",
            namespace=namespace or None,
            body=body,
            logger=None,
            memo=kopf.Memo(indexes=Indexes.create(), state=OperatorState(config=Config())),
        )
    assert reconciled == []


def test_a_kopf_handler_of_a_listed_object_runs_at_once(reconciled: list[tuple[str, Any]]) -> None:
    views = Indexes.create()
    body = kopf_body("job-1", "ns", 1)
    views.objects["ECSTask"].put(body)  # resumed after a restart: the first lists had it
    memo = kopf.Memo(indexes=views, state=OperatorState(config=Config()))
    cast(Callable[..., None], task.task_changed)(
        name="job-1", namespace="ns", body=kopf.Body(cast(Any, body)), logger=None, memo=memo
    )
    assert reconciled == [("ECSTask", 1)]


def test_a_deleted_node_and_a_deleted_task_definition_leave_no_memory() -> None:
    nodes = Recorder(informers.NODES)
    node = obj("n1", namespace="", labels={"ecs.facade.dev/container-instance-status": "DRAINING"})
    nodes.events.event("ADDED", node)
    assert nodes.state.services.instance_states == {"n1": "DRAINING"}
    nodes.events.event("DELETED", node)
    assert nodes.state.services.instance_states == {}
    revisions = Recorder(informers.REVISIONS)
    translations = revisions.state.services.translations
    options = Config().translation
    translations[("web-1", "h1", "web", options)] = cast(Any, ("parsed", "translated"))
    translations[("api-1", "h2", "api", options)] = cast(Any, ("parsed", "translated"))
    owner = {"ownerReferences": [{"kind": "ECSTaskDefinition", "name": "web"}]}
    revisions.events.event("DELETED", obj("web-1", metadata=owner))  # with its task definition
    assert [key[0] for key in translations] == ["api-1"]


def test_a_task_deleted_while_it_runs_leaves_no_memory() -> None:
    """kopf calls the task's deletion handler only when a finalizer held it (a STOPPED task's
    retention timer): the informer's deletion forgets it whatever its state."""
    tasks = Recorder(informers.ECS_TASKS)
    tasks.state.tasks.written[("ns", "job", "uid-job")] = {"lastStatus": "RUNNING"}
    tasks.state.tasks.written[("ns", "other", "uid-other")] = {"lastStatus": "RUNNING"}
    tasks.events.event("ADDED", obj("job", spec={"taskDefinition": "web"}))
    assert ("ns", "job", "uid-job") in tasks.state.tasks.written
    tasks.events.event("DELETED", obj("job", spec={"taskDefinition": "web"}))
    assert list(tasks.state.tasks.written) == [("ns", "other", "uid-other")]
