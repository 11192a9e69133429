"""How many entries each per-object memory holds, on /metrics (``ecs_facade_state_entries``,
``ecs_facade_index_objects``): what the churn scenario (tests/chaos/test_churn.py) reads from
the operator's process to see that nothing is left of deleted objects."""

import asyncio
import logging
import threading
from typing import Any, cast

import kopf
import pytest
from kopf._core.reactor.inventory import ResourceMemories
from prometheus_client import CollectorRegistry, generate_latest

from ecs_facade import metrics
from ecs_facade.controllers import informers
from ecs_facade.controllers import task as task_controller
from ecs_facade.controllers.indexes import Indexes
from ecs_facade.controllers.service import reconciler, triggers
from ecs_facade.controllers.state import OperatorState
from ecs_facade.controllers.workqueue import WorkQueue

LOGGER = logging.getLogger("test")


def test_the_state_counts_each_memory_and_a_deleted_service_takes_its_entries_away(state: OperatorState) -> None:
    assert set(state.sizes().values()) == {0}
    key, uid = ("ns", "web"), "u1"
    services = state.services
    services.written[(*key, uid)] = {}
    services.written_at[(*key, uid)] = 1.0
    services.applied[(*key, uid)] = ("digest", 1, None)
    services.seen[key] = (uid, 1, "")
    services.unhealthy_noted[key] = {("pod", 0)}
    services.progress_turns.wait(("ns", "other", "u9"), 1.0)  # its turn now, used
    services.progress_turns.wait((*key, uid), 1.0)  # the next turn: reserved
    state.tasks.written[("ns", "job", "u2")] = {}
    state.clusters.written["u3"] = {}
    sizes = state.sizes()
    assert sizes["services.written"] == sizes["services.written_at"] == sizes["services.applied"] == 1
    assert sizes["services.seen"] == sizes["services.unhealthy_noted"] == sizes["services.progress_turns"] == 1
    assert sizes["tasks.written"] == sizes["clusters.written"] == 1
    assert sizes["locks"] == 0 and "queue.pending" not in sizes  # the queue is made by a startup handler
    triggers.service_changed(state, "DELETED", {"namespace": "ns", "name": "web", "uid": uid}, Indexes.create(), None)  # type: ignore[arg-type]
    after = state.sizes()
    assert {name: count for name, count in after.items() if count} == {"tasks.written": 1, "clusters.written": 1}


def test_a_work_queue_counts_what_it_holds_until_the_work_is_done() -> None:
    failing = {"a": 1}

    def work(key: Any, _apply: bool, _context: Any) -> None:
        if failing.get(key, 0) > 0:
            failing[key] -= 1
            raise RuntimeError("once")

    queue = WorkQueue("test", work, workers=1, batch_seconds=0.0, backoff_first=0.0)
    queue.add("a", urgent=True, apply=False, context=None)
    queue.add("b", urgent=False, apply=False, context=None, delay=60)
    assert queue.sizes() == {"pending": 2, "dirty": 0, "running": 0, "failures": 0, "heap_entries": 2}
    assert queue.run_one(block=False)  # "a" fails: queued again, its failure remembered
    assert queue.sizes()["failures"] == 1 and queue.sizes()["pending"] == 2
    assert queue.run_one(block=False)  # "a" succeeds: forgotten
    assert queue.sizes() == {"pending": 1, "dirty": 0, "running": 0, "failures": 0, "heap_entries": 1}


def test_the_informers_count_their_side_work_loggers_and_cluster_specs(state: OperatorState) -> None:
    watching = informers.Watching(state, Indexes.create())
    events = informers.Events(informers.ECS_CLUSTERS, state, watching.indexes, cast(Any, None), watching.submit)
    watching._events.append(events)
    assert watching.sizes() == {
        "side_work.pending": 0,
        "side_work.dirty": 0,
        "side_work.running": 0,
        "side_work.failures": 0,
        "side_work.heap_entries": 0,
        "informer_loggers": 0,
        "cluster_specs": 0,
    }
    cluster = {"metadata": {"name": "prod", "namespace": "", "uid": "u1", "generation": 1}, "spec": {}}
    events.event("ADDED", cluster)
    sizes = watching.sizes()
    assert sizes["cluster_specs"] == 1 and sizes["informer_loggers"] == 1 and sizes["side_work.pending"] == 1
    events.event("DELETED", cluster)
    assert watching.sizes()["cluster_specs"] == 0 and watching.sizes()["informer_loggers"] == 0
    assert watching.indexes.sizes()["ECSCluster"] == 0 and watching.indexes.key_counts()["index_keys.ECSCluster"] == 0


def test_the_indexes_count_objects_and_keys_per_kind() -> None:
    indexes = Indexes.create()
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"ecs.facade.dev/service": "web"}},
        "spec": {"nodeName": "n1"},
    }
    indexes.objects["Pod"].put(pod)
    assert indexes.sizes()["Pod"] == 1 and indexes.key_counts()["index_keys.Pod"] == 2  # by node, by service
    indexes.objects["Pod"].remove("ns", "p")
    assert indexes.sizes()["Pod"] == 0 and indexes.key_counts()["index_keys.Pod"] == 0


def test_kopfs_workers_timers_and_memories_are_counted_from_another_thread() -> None:
    memories = ResourceMemories()
    counted: list[dict[str, int]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await memories.recall(cast(Any, {"metadata": {"uid": "u1", "name": "a"}}))
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(stop.wait(), name="worker for (ecstasks, 'u1')"),
            asyncio.create_task(stop.wait(), name="worker for (ecstasks, 'u2')"),
            asyncio.create_task(stop.wait(), name="runner of stopped_task_retention"),
            asyncio.create_task(stop.wait(), name="something else"),
        ]
        await asyncio.sleep(0)
        reader = threading.Thread(target=lambda: counted.append(informers.kopf_sizes(loop, memories)))
        reader.start()
        await asyncio.to_thread(reader.join, 5)
        stop.set()
        await asyncio.gather(*tasks)
        await memories.forget(cast(Any, {"metadata": {"uid": "u1", "name": "a"}}))
        counted.append(informers.kopf_sizes(loop, memories))

    asyncio.run(main())
    assert counted[0] == {"kopf.workers": 2, "kopf.timers": 1, "kopf.memories": 1}
    assert counted[1] == {"kopf.workers": 0, "kopf.timers": 0, "kopf.memories": 0}


def test_the_sizes_are_gauges_read_at_scrape_time_and_a_failing_source_is_left_out() -> None:
    sizes = metrics.Sizes("ecs_facade_test_entries", "Test entries.", "store")
    memory: dict[str, int] = {}
    sizes.sources["operator"] = lambda: {"services.written": len(memory)}

    def broken() -> dict[str, int]:
        raise RuntimeError("a source that fails")

    sizes.sources["broken"] = broken
    registry = CollectorRegistry()
    registry.register(sizes)
    assert 'ecs_facade_test_entries{store="services.written"} 0.0' in generate_latest(registry).decode()
    memory["x"] = 1
    page = metrics.parse(generate_latest(registry).decode())
    assert page == {'ecs_facade_test_entries{store="services.written"}': 1.0}


def test_the_operators_start_up_sets_the_sources_of_its_own_sizes(state: OperatorState) -> None:
    watching = informers.Watching(state, Indexes.create())
    memo: dict[str, Any] = {"memories": ResourceMemories()}

    async def start() -> None:
        informers.count_sizes(cast(Any, memo), watching, asyncio.get_running_loop())

    asyncio.run(start())
    assert set(metrics.STATE_ENTRIES.sources) == {"operator", "informers", "indexes", "kopf"}
    families = list(metrics.STATE_ENTRIES.collect())
    stores = {sample.labels["store"] for sample in families[0].samples}
    assert {"services.written", "locks", "side_work.pending", "index_keys.Pod", "kopf.memories"} <= stores
    kinds = {sample.labels["kind"] for sample in next(iter(metrics.INDEX_OBJECTS.collect())).samples}
    assert kinds == set(Indexes.create().objects)


def _service(uid: str) -> dict[str, Any]:
    return {"kind": "ECSService", "metadata": {"name": "web", "namespace": "ns", "uid": uid}, "spec": {}}


def test_a_service_deleted_while_its_reconcile_runs_leaves_no_memory(
    state: OperatorState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The informer takes the service out of the index and forgets it while a worker's
    reconcile of it runs; what that reconcile remembers afterwards goes at its end."""
    indexes = Indexes.create()
    indexes.objects["ECSService"].put(_service("u1"))
    key = ("ns", "web", "u1")

    def racing(state: OperatorState, service: Any, indexes: Indexes, logger: Any, apply: bool) -> bool:
        indexes.objects["ECSService"].remove("ns", "web")
        triggers.service_changed(state, "DELETED", {"namespace": "ns", "name": "web", "uid": "u1"}, indexes, LOGGER)  # type: ignore[arg-type]
        state.services.written[key] = {"runningCount": 1}  # a status write that succeeded meanwhile
        state.services.status_due[key] = 1.0  # a paced write's due time
        state.services.surging.add(("ns", "web"))
        return False

    monkeypatch.setattr(reconciler, "_reconcile", racing)
    monkeypatch.setattr(reconciler, "lift_gates", lambda *_: None)
    reconciler.reconcile(state, "ns", "web", indexes, LOGGER)
    assert {name: count for name, count in state.sizes().items() if count} == {}


def test_a_service_there_after_its_reconcile_keeps_its_memory_and_one_made_anew_keeps_its_notes(
    state: OperatorState, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexes = Indexes.create()
    indexes.objects["ECSService"].put(_service("u1"))

    def remembering(state: OperatorState, service: Any, indexes: Indexes, logger: Any, apply: bool) -> bool:
        state.services.written[("ns", "web", service.uid)] = {"runningCount": 1}
        state.services.surging.add(("ns", "web"))
        return False

    monkeypatch.setattr(reconciler, "_reconcile", remembering)
    monkeypatch.setattr(reconciler, "lift_gates", lambda *_: None)
    reconciler.reconcile(state, "ns", "web", indexes, LOGGER)
    assert list(state.services.written) == [("ns", "web", "u1")] and state.services.surging == {("ns", "web")}

    def replaced(state: OperatorState, service: Any, indexes: Indexes, logger: Any, apply: bool) -> bool:
        indexes.objects["ECSService"].put(_service("u2"))  # deleted and made again meanwhile
        state.services.written[("ns", "web", "u2")] = {"runningCount": 0}
        return False

    monkeypatch.setattr(reconciler, "_reconcile", replaced)
    reconciler.reconcile(state, "ns", "web", indexes, LOGGER)
    assert list(state.services.written) == [("ns", "web", "u2")]  # the old uid's memory went
    assert state.services.surging == {("ns", "web")}  # kept by name: the new service's


def test_a_task_deleted_while_its_reconcile_runs_leaves_no_memory(
    state: OperatorState, monkeypatch: pytest.MonkeyPatch
) -> None:
    indexes = Indexes.create()
    body = {"kind": "ECSTask", "metadata": {"name": "job", "namespace": "ns", "uid": "u1"}, "spec": {}}
    indexes.objects["ECSTask"].put(body)

    def racing(state: OperatorState, task: Any, *_: Any) -> None:
        indexes.objects["ECSTask"].remove("ns", "job")  # the informer's deletion, then its forgetting
        state.tasks.forget("ns", "job", "u1")
        state.tasks.written[("ns", "job", "u1")] = {"lastStatus": "PROVISIONING"}  # the status written meanwhile

    monkeypatch.setattr(task_controller, "_start", racing)
    task_controller.reconcile(state, "ns", "job", indexes, LOGGER)
    assert not state.tasks.written
    indexes.objects["ECSTask"].put(body)
    monkeypatch.setattr(
        task_controller, "_start", lambda state, *_: state.tasks.written.update({("ns", "job", "u1"): {}})
    )
    task_controller.reconcile(state, "ns", "job", indexes, LOGGER)
    assert list(state.tasks.written) == [("ns", "job", "u1")]  # still there: kept


def test_a_gone_services_pods_leave_no_logger_and_no_placement(state: OperatorState) -> None:
    """The garbage collector deletes a service's pods after the service: their events make no
    logger that is kept, and a capacity provider's choice for each goes with its pod."""
    watching = informers.Watching(state, Indexes.create())
    kopf_settings = kopf.OperatorSettings()
    services = informers.Events(
        informers.ECS_SERVICES, state, watching.indexes, kopf_settings, watching.submit, loggers=watching.loggers
    )
    pods = informers.Events(
        informers.PODS, state, watching.indexes, kopf_settings, watching.submit, loggers=watching.loggers
    )
    watching._events += [services, pods]
    state.queue = WorkQueue("ecsservice", lambda *_: None, workers=1, batch_seconds=0.0)
    services.event("ADDED", _service("u1"))
    pod = {
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "ns", "uid": "p1", "labels": {"ecs.facade.dev/service": "web"}},
        "spec": {},
        "status": {"phase": "Pending"},
    }
    pods.event("ADDED", pod)
    state.services.assigned[("ns", "web-1")] = "alpha"
    assert watching.sizes()["informer_loggers"] == 1  # the service's, made by its pod's event
    services.event("DELETED", _service("u1"))
    assert watching.sizes()["informer_loggers"] == 0
    pods.event("DELETED", pod)
    assert watching.sizes()["informer_loggers"] == 0 and not state.services.assigned
