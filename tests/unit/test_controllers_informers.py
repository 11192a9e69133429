"""What the operator's own informers' events do: the index first, then the service's queue
or the task's reconcile; which namespaces they watch."""

from typing import Any, cast

import kopf
import pytest

from ecs_facade.config import Config
from ecs_facade.controllers import informers, service, task
from ecs_facade.controllers.common import HandlerContext
from ecs_facade.controllers.indexes import (
    Indexes,
    ObjectIndex,
    deployment_keys,
    pod_keys,
    replica_set_keys,
    service_keys,
)
from ecs_facade.controllers.namespace_patterns import wanted
from ecs_facade.controllers.service import triggers
from ecs_facade.controllers.state import OperatorState


def known() -> HandlerContext:
    """kopf's context, as remembered once a kopf handler ran."""
    context = HandlerContext()
    context.remember()
    return context


def pod(name: str, labels: dict[str, str], namespace: str = "ns", gated: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": "n1"}
    if gated:
        spec = {"schedulingGates": [{"name": "ecs.facade.dev/capacity-provider"}]}
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "resourceVersion": "1"},
        "spec": spec,
        "status": {"phase": "Pending"},
    }


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []

    def tasks_changed(
        state: OperatorState, body: Any, namespace: str, name: str, indexes: Any, logger: Any, **kwargs: Any
    ) -> None:
        seen.append(("tasks_changed", namespace, name, kwargs["deleted"], kwargs["variables"] is not None))

    monkeypatch.setattr(service, "tasks_changed", tasks_changed)
    return seen


def events(
    index: ObjectIndex,
    submitted: list[tuple[Any, ...]],
    patterns: tuple[str, ...] = (),
    context: HandlerContext | None = None,
) -> informers.Events:
    indexes = Indexes.create(Pod=index)
    return informers.Events(
        informers.PODS,
        OperatorState(config=Config()),
        indexes,
        kopf.OperatorSettings(),
        lambda f, *a, **k: submitted.append((f, *a)),
        patterns,
        known() if context is None else context,
    )


def test_a_service_task_event_updates_the_index_then_queues_the_service(calls: list[tuple[Any, ...]]) -> None:
    index, submitted = ObjectIndex(pod_keys), list[tuple[Any, ...]]()
    handler = events(index, submitted)
    handler.event("ADDED", pod("p1", {"ecs.facade.dev/service": "web"}))
    assert [t.name for t in index[("service", "ns", "web")]] == ["p1"]
    assert calls == [("tasks_changed", "ns", "web", False, True)]
    handler.event("DELETED", pod("p1", {"ecs.facade.dev/service": "web"}))
    assert ("service", "ns", "web") not in index
    assert calls[-1] == ("tasks_changed", "ns", "web", True, True)
    assert submitted == []


def test_a_gated_task_is_indexed_as_gated_and_queues_its_service_which_places_it(
    calls: list[tuple[Any, ...]],
) -> None:
    """Nothing off the thread that a failure could lose: the service's reconcile (retried by
    its work queue) places the gated tasks the index shows."""
    index, submitted = ObjectIndex(pod_keys), list[tuple[Any, ...]]()
    events(index, submitted).event("ADDED", pod("p1", {"ecs.facade.dev/service": "web"}, gated=True))
    assert submitted == []
    assert calls == [("tasks_changed", "ns", "web", False, True)]
    [gated] = index[("gated", "ns", "web")]
    assert gated["metadata"]["name"] == "p1" and gated["spec"]["schedulingGates"]
    index.put(pod("p1", {"ecs.facade.dev/service": "web"}))  # its gate lifted
    assert ("gated", "ns", "web") not in index


def test_a_standalone_task_pod_runs_the_tasks_reconcile(calls: list[tuple[Any, ...]]) -> None:
    index, submitted = ObjectIndex(pod_keys), list[tuple[Any, ...]]()
    events(index, submitted).event("MODIFIED", pod("job-1", {"ecs.facade.dev/task": "job"}))
    assert [(s[0], s[2], s[3]) for s in submitted] == [(task.reconcile, "ns", "job")]  # s[1]: the state
    assert calls == []


def test_before_any_kopf_handler_ran_a_services_task_still_queues_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(service, "tasks_changed", lambda *a, **k: seen.append((a[2:4], k["variables"], a[5])))
    index = ObjectIndex(pod_keys)
    events(index, [], context=HandlerContext()).event("ADDED", pod("p1", {"ecs.facade.dev/service": "web"}))
    assert index.count() == 1
    [(key, variables, logger)] = seen
    assert key == ("ns", "web") and variables is None  # the caller's own context, then
    assert not isinstance(logger, kopf.ObjectLogger)  # kopf's would need kopf's event queue


def test_a_services_logger_is_made_once_and_again_once_kopfs_context_is_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(service, "tasks_changed", lambda *a, **k: seen.append(a[5]))
    context = HandlerContext()
    handler = events(ObjectIndex(pod_keys), [], context=context)
    for name in ("web", "api"):  # kept while the service is there
        handler._indexes.objects["ECSService"].put({"metadata": {"name": name, "namespace": "ns", "uid": name}})
    for name in ("p1", "p2"):
        handler.event("ADDED", pod(name, {"ecs.facade.dev/service": "web"}))
    handler.event("ADDED", pod("p3", {"ecs.facade.dev/service": "api"}))
    context.remember()  # a kopf handler ran
    handler.event("MODIFIED", pod("p1", {"ecs.facade.dev/service": "web"}))
    handler.event("MODIFIED", pod("p2", {"ecs.facade.dev/service": "web"}))
    assert seen[0] is seen[1] and seen[2] is not seen[0]  # one per service
    assert not isinstance(seen[0], kopf.ObjectLogger)
    assert isinstance(seen[3], kopf.ObjectLogger) and seen[4] is seen[3]  # kopf's, once it can post Events


def test_the_first_list_fills_the_index_a_relist_hands_on_the_changes(calls: list[tuple[Any, ...]]) -> None:
    index = ObjectIndex(pod_keys)
    handler = events(index, [])
    web = {"ecs.facade.dev/service": "web"}
    handler.listed(None, [pod("p1", web), pod("p2", web)], True)
    assert calls == [] and index.count() == 2
    handler.listed(None, [pod("p1", web)], False)
    assert calls == [("tasks_changed", "ns", "web", True, True)] and index.count() == 1


def test_pods_of_namespaces_not_watched_are_ignored(calls: list[tuple[Any, ...]]) -> None:
    index = ObjectIndex(pod_keys)
    handler = events(index, [], patterns=("team-*, !team-x",))
    mine = pod("p1", {"ecs.facade.dev/service": "web"}, namespace="team-a")
    handler.event("ADDED", mine)
    handler.event("ADDED", pod("p2", {"ecs.facade.dev/service": "web"}, namespace="team-x"))
    handler.listed(None, [mine, pod("p3", {}, namespace="other")], False)
    assert [t.name for t in index[("service", "team-a", "web")]] == ["p1"]
    assert ("service", "team-x", "web") not in index and index.count() == 1


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        ((), [None]),
        (("team-b", "team-a", "team-a"), ["team-a", "team-b"]),  # the chart's watchNamespaces
        (("team-*",), [None]),  # a glob: every namespace, filtered
        (("team-a", "!team-b"), [None]),
    ],
)
def test_scopes(patterns: tuple[str, ...], expected: list[str | None]) -> None:
    assert list(informers.scopes(patterns)) == expected


def test_wanted_follows_kopfs_namespace_patterns() -> None:
    assert wanted((), "anything")
    assert wanted(("team-a",), "team-a") and not wanted(("team-a",), "team-b")
    assert wanted(("team-*, !team-x",), "team-a") and not wanted(("team-*, !team-x",), "team-x")


def workload(kind: str, name: str = "web-1") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"ecs.facade.dev/service": "web"},
            "resourceVersion": "1",
            "ownerReferences": [{"kind": "ECSService", "name": "web", "uid": "u1"}],
        },
        "spec": {"replicas": 3, "template": {"metadata": {"labels": {"a": "b"}}}},
        "status": {"readyReplicas": 1},
    }


def kind_events(
    watched: informers.Watched, indexes: Indexes, submitted: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> tuple[informers.Events, list[tuple[Any, ...]]]:
    direct: list[tuple[Any, ...]] = []

    def workload_event(*a: Any, **k: Any) -> None:
        owners = a[1]["metadata"].get("ownerReferences") or [{}]
        direct.append((a[1]["kind"], k["deleted"], owners[0].get("uid")))

    monkeypatch.setattr(service, "workload_event", workload_event)
    handler = informers.Events(
        watched,
        OperatorState(config=Config()),
        indexes,
        kopf.OperatorSettings(),
        lambda f, *a, **k: submitted.append((f, *a, k)),
        (),
        known(),
    )
    return handler, direct


def test_a_replica_set_event_queues_its_service(calls: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch) -> None:
    index = ObjectIndex(replica_set_keys)
    handler, _ = kind_events(informers.REPLICA_SETS, Indexes.create(ReplicaSet=index), [], monkeypatch)
    handler.listed(None, [workload("ReplicaSet")], True)  # a list's items come without a kind
    [slim] = index[("ns", "web")]
    assert slim["status"] == {"readyReplicas": 1} and "spec" in slim and calls == []
    handler.event("MODIFIED", {**workload("ReplicaSet"), "kind": "ReplicaSet"})
    assert calls == [("tasks_changed", "ns", "web", False, True)]


def test_a_deployment_change_and_its_deletion_are_handled_at_once(
    calls: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both only queue the service (a deletion's check that the service is still there is the
    reconcile's, retried with it): nothing goes off the thread where a failure was lost."""
    index = ObjectIndex(deployment_keys)
    submitted: list[tuple[Any, ...]] = []
    handler, direct = kind_events(informers.DEPLOYMENTS, Indexes.create(Deployment=index), submitted, monkeypatch)
    handler.event("MODIFIED", workload("Deployment"))
    assert direct == [("Deployment", False, "u1")] and submitted == []
    assert index[("ns", "web")][0]["spec"]["replicas"] == 3
    handler.event("DELETED", workload("Deployment"))
    assert ("ns", "web") not in index
    assert direct[-1] == ("Deployment", True, "u1") and submitted == []  # whose it was: the handler checks
    assert calls == []  # a Deployment is no task: the ECS deployments come from ReplicaSets


def test_a_relisted_deployment_that_is_gone_is_handed_on_with_its_owner(
    calls: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted: list[tuple[Any, ...]] = []
    handler, direct = kind_events(informers.DEPLOYMENTS, Indexes.create(), submitted, monkeypatch)
    handler.listed(None, [workload("Deployment")], True)
    handler.listed(None, [], False)
    assert direct == [("Deployment", True, "u1")] and submitted == []


def test_one_failing_change_of_a_relist_does_not_lose_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def tasks_changed(state: OperatorState, body: Any, namespace: str, name: str, *_: Any, **__: Any) -> None:
        seen.append(name)
        if name == "api":
            raise RuntimeError("boom")

    monkeypatch.setattr(service, "tasks_changed", tasks_changed)
    index = ObjectIndex(pod_keys)
    handler = events(index, [])
    handler.listed(None, [], True)
    handler.listed(
        None, [pod("p1", {"ecs.facade.dev/service": "api"}), pod("p2", {"ecs.facade.dev/service": "web"})], False
    )
    assert sorted(seen) == ["api", "web"] and index.count() == 2


def ecs_service(generation: int = 1, status: dict[str, Any] | None = None, rv: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": generation, "resourceVersion": rv},
        "spec": {"taskDefinition": "web:3", "desiredCount": 2},
        "status": status or {},
    }


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []

    def enqueue(state: OperatorState, namespace: str, name: str, indexes: Any, logger: Any, **kwargs: Any) -> None:
        seen.append((namespace, name, kwargs["urgent"], kwargs["apply"]))

    monkeypatch.setattr(triggers, "enqueue", enqueue)
    return seen


def service_events(index: ObjectIndex, state: OperatorState) -> informers.Events:
    indexes = Indexes.create(ECSService=index)
    return informers.Events(informers.ECS_SERVICES, state, indexes, kopf.OperatorSettings(), lambda *a, **k: None)


def test_a_new_or_changed_service_is_queued_urgent_its_status_echo_is_not(
    queued: list[tuple[Any, ...]], state: OperatorState
) -> None:
    index = ObjectIndex(service_keys)
    handler = service_events(index, state)
    handler.event("ADDED", ecs_service())
    assert queued == [("ns", "web", True, True)]
    [snapshot] = index[("service", "ns", "web")]
    assert snapshot.spec["desiredCount"] == 2 and index[("family", "ns", "web")] == ("web",)
    handler.event("MODIFIED", ecs_service(status={"runningCount": 1}, rv="2"))  # the operator's own write
    assert len(queued) == 1
    assert index[("service", "ns", "web")][0].status == {"runningCount": 1}  # the index has it all the same
    handler.event("MODIFIED", ecs_service(generation=2, rv="3"))
    assert queued[-1] == ("ns", "web", True, True) and len(queued) == 2


def test_a_deleted_service_is_forgotten_and_queues_nothing(
    queued: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch, state: OperatorState
) -> None:
    forgotten: list[Any] = []
    monkeypatch.setattr(triggers, "_forget", lambda state, key, uid: forgotten.append((key, uid)))
    index = ObjectIndex(service_keys)
    handler = service_events(index, state)
    handler.event("ADDED", ecs_service())
    handler.event("DELETED", ecs_service())
    assert ("service", "ns", "web") not in index and ("family", "ns", "web") not in index
    assert forgotten == [(("ns", "web"), "u1")] and len(queued) == 1
    handler.event("ADDED", ecs_service())  # created again: news again
    assert len(queued) == 2


def test_a_service_gone_between_two_lists_is_forgotten_under_its_uid(
    queued: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch, state: OperatorState
) -> None:
    forgotten: list[Any] = []
    monkeypatch.setattr(triggers, "_forget", lambda state, key, uid: forgotten.append((key, uid)))
    handler = service_events(ObjectIndex(service_keys), state)
    handler.listed(None, [ecs_service()], True)
    handler.listed(None, [], False)  # a relist after a 410: the service went meanwhile
    assert forgotten == [(("ns", "web"), "u1")]


def test_a_status_echo_asks_for_no_logger_nor_context(queued: list[tuple[Any, ...]], state: OperatorState) -> None:
    asked: list[bool] = []

    def queueing() -> tuple[Any, None]:
        asked.append(True)
        return None, None

    meta = ecs_service()["metadata"]
    service.service_changed(state, "ADDED", meta, Indexes.create(), queueing)
    service.service_changed(state, "MODIFIED", meta, Indexes.create(), queueing)
    assert asked == [True] and len(queued) == 1


def test_a_new_deployment_of_a_running_service_is_urgent_a_first_one_is_batched(
    queued: list[tuple[Any, ...]], state: OperatorState
) -> None:
    """ECS shows a new deployment (PRIMARY, IN_PROGRESS) as soon as UpdateService returns:
    its ReplicaSet is news. A new service's first one waits for the batch (its first status
    is paced)."""
    from ecs_facade.views.deployments import deployment_id

    indexes = Indexes.create()
    rs = {**workload("ReplicaSet"), "kind": "ReplicaSet"}
    rs["metadata"]["uid"] = "rs-2"
    new_service = ecs_service()
    indexes.objects["ECSService"].put(new_service)
    triggers.tasks_changed(state, rs, "ns", "web", indexes, cast(Any, None))
    running = {**ecs_service(), "status": {"deployments": [{"id": deployment_id("rs-1"), "status": "PRIMARY"}]}}
    indexes.objects["ECSService"].put(running)
    triggers.tasks_changed(state, rs, "ns", "web", indexes, cast(Any, None))  # rs-2 is not listed yet
    listed = {**ecs_service(), "status": {"deployments": [{"id": deployment_id("rs-2"), "status": "PRIMARY"}]}}
    indexes.objects["ECSService"].put(listed)
    triggers.tasks_changed(state, rs, "ns", "web", indexes, cast(Any, None))
    assert [q[2] for q in queued] == [False, True, False]
