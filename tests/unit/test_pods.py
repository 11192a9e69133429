"""What the pod informer's events do: the index first, then the service's queue or the task's
reconcile; which namespaces it watches."""

import contextvars
from typing import Any

import kopf
import pytest

from ecs_facade.controllers import common, pods, service, task
from ecs_facade.controllers.indexes import Indexes, PodIndex


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

    def tasks_changed(body: Any, namespace: str, name: str, indexes: Any, logger: Any, **kwargs: Any) -> None:
        seen.append(("tasks_changed", namespace, name, kwargs["deleted"], kwargs["variables"] is not None))

    monkeypatch.setattr(service, "tasks_changed", tasks_changed)
    monkeypatch.setattr(common, "_handler_context", contextvars.copy_context())
    return seen


def events(index: PodIndex, submitted: list[tuple[Any, ...]], patterns: tuple[str, ...] = ()) -> pods.PodEvents:
    indexes = Indexes.from_kwargs({name: {} for name in Indexes.__dataclass_fields__}, pods=index)
    return pods.PodEvents(indexes, index, kopf.OperatorSettings(), lambda f, *a: submitted.append((f, *a)), patterns)


def test_a_service_task_event_updates_the_index_then_queues_the_service(calls: list[tuple[Any, ...]]) -> None:
    index, submitted = PodIndex(), list[tuple[Any, ...]]()
    handler = events(index, submitted)
    handler.event("ADDED", pod("p1", {"ecs.facade.dev/service": "web"}))
    assert [t.name for t in index[("service", "ns", "web")]] == ["p1"]
    assert calls == [("tasks_changed", "ns", "web", False, True)]
    handler.event("DELETED", pod("p1", {"ecs.facade.dev/service": "web"}))
    assert ("service", "ns", "web") not in index
    assert calls[-1] == ("tasks_changed", "ns", "web", True, True)
    assert submitted == []


def test_a_gated_task_is_placed_off_the_informers_thread(calls: list[tuple[Any, ...]]) -> None:
    index, submitted = PodIndex(), list[tuple[Any, ...]]()
    events(index, submitted).event("ADDED", pod("p1", {"ecs.facade.dev/service": "web"}, gated=True))
    assert [s[0] for s in submitted] == [service.assign_capacity_provider]
    assert submitted[0][1:3] == ("ns", "web")


def test_a_standalone_task_pod_runs_the_tasks_reconcile(calls: list[tuple[Any, ...]]) -> None:
    index, submitted = PodIndex(), list[tuple[Any, ...]]()
    events(index, submitted).event("MODIFIED", pod("job-1", {"ecs.facade.dev/task": "job"}))
    assert [(s[0], s[1], s[2]) for s in submitted] == [(task.reconcile, "ns", "job")]
    assert calls == []


def test_before_any_kopf_handler_ran_a_service_is_left_to_its_own_event(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(service, "tasks_changed", lambda *a, **k: seen.append(a))
    monkeypatch.setattr(common, "_handler_context", None)
    index: PodIndex = PodIndex()
    events(index, []).event("ADDED", pod("p1", {"ecs.facade.dev/service": "web"}))
    assert seen == [] and index.count() == 1


def test_the_first_list_fills_the_index_a_relist_hands_on_the_changes(calls: list[tuple[Any, ...]]) -> None:
    index: PodIndex = PodIndex()
    handler = events(index, [])
    web = {"ecs.facade.dev/service": "web"}
    handler.listed(None, [pod("p1", web), pod("p2", web)], True)
    assert calls == [] and index.count() == 2
    handler.listed(None, [pod("p1", web)], False)
    assert calls == [("tasks_changed", "ns", "web", True, True)] and index.count() == 1


def test_pods_of_namespaces_not_watched_are_ignored(calls: list[tuple[Any, ...]]) -> None:
    index: PodIndex = PodIndex()
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
    assert list(pods.scopes(patterns)) == expected


def test_wanted_follows_kopfs_namespace_patterns() -> None:
    assert pods.wanted((), "anything")
    assert pods.wanted(("team-a",), "team-a") and not pods.wanted(("team-a",), "team-b")
    assert pods.wanted(("team-*, !team-x",), "team-a") and not pods.wanted(("team-*, !team-x",), "team-x")
