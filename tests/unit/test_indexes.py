"""Index entries are slimmed copies: what the controllers ask of them must not change."""

import copy
from typing import Any

import pytest

from ecs_facade.controllers import indexes
from ecs_facade.controllers.indexes import slim_workload
from ecs_facade.controllers.service import apply as controller
from ecs_facade.views.service import rollout_readiness, service_counts
from ecs_facade.views.task_state import task_state


def deployment(*managers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "uid": "u1",
            "generation": 3,
            "labels": {"ecs.facade.dev/service": "web"},
            "annotations": {"ecs.facade.dev/applied-digest": "abc"},
            "ownerReferences": [{"uid": "s1", "kind": "ECSService", "name": "web"}],
            "managedFields": list(managers),
        },
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"ecs.facade.dev/service": "web"}},
            "template": {
                "metadata": {"labels": {"a": "b"}, "annotations": {"ecs.facade.dev/force-new-deployment": "x"}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
        },
        "status": {"observedGeneration": 3, "replicas": 4, "readyReplicas": 3, "updatedReplicas": 4},
    }


def entry(manager: str, fields: dict[str, Any], operation: str = "Apply", subresource: str | None = None) -> Any:
    found = {"manager": manager, "operation": operation, "fieldsV1": fields}
    return {**found, "subresource": subresource} if subresource else found


CASES = [
    [entry("ecs-facade", {"f:spec": {"f:replicas": {}, "f:template": {}}})],
    [
        entry("ecs-facade", {"f:spec": {"f:template": {}}}),
        entry("kubectl-edit", {"f:spec": {"f:replicas": {}}}, "Update"),
    ],
    [entry("ecs-facade", {"f:spec": {}}), entry("kube-controller-manager", {"f:status": {}}, "Update", "status")],
    [entry("kube-controller-manager", {"f:spec": {"f:replicas": {}}}, "Update", "scale")],
    [entry("someone", {}, "Update", "scale")],
    [entry("ecs-facade-replicas-handover", {"f:spec": {"f:replicas": {}}}), entry("ecs-facade", {"f:metadata": {}})],
]


@pytest.mark.parametrize("managers", CASES)
def test_a_slim_workload_answers_like_the_full_one(managers: list[dict[str, Any]]) -> None:
    full = deployment(*managers)
    slim = slim_workload(full)
    assert controller._edited_by_others(slim) == controller._edited_by_others(full)
    for manager in ("ecs-facade", "ecs-facade-replicas-handover"):
        assert controller.owns_replicas(slim, manager) == controller.owns_replicas(full, manager)
    assert service_counts(4, slim) == service_counts(4, full)
    assert rollout_readiness("web", service_counts(4, full), slim) == rollout_readiness(
        "web", service_counts(4, full), full
    )
    assert slim["spec"]["template"]["metadata"] == full["spec"]["template"]["metadata"]
    assert slim["metadata"]["annotations"] == full["metadata"]["annotations"]
    assert "spec" not in slim["spec"]["template"]


@pytest.mark.parametrize("managers", CASES)
def test_a_trimmed_listed_object_answers_like_the_full_one(managers: list[dict[str, Any]]) -> None:
    full = deployment(*managers)
    trimmed = indexes.trimmed(copy.deepcopy(full))
    assert controller._edited_by_others(trimmed) == controller._edited_by_others(full)
    for manager in ("ecs-facade", "ecs-facade-replicas-handover"):
        assert controller.owns_replicas(trimmed, manager) == controller.owns_replicas(full, manager)
    assert indexes.deployment_keys(trimmed) == indexes.deployment_keys(full)
    assert {k: v for k, v in trimmed.items() if k != "metadata"} == {k: v for k, v in full.items() if k != "metadata"}


def test_trimming_drops_the_field_sets_nothing_reads() -> None:
    pod = {
        "metadata": {
            "name": "p",
            "managedFields": [
                entry("kube-controller-manager", {"f:metadata": {"f:labels": {}}, "f:spec": {"f:containers": {}}}),
                entry("kwok", {"f:status": {"f:conditions": {}}}, "Update", "status"),
            ],
        }
    }
    assert indexes.trimmed(pod)["metadata"]["managedFields"] == [
        {"manager": "kube-controller-manager", "operation": "Apply", "fieldsV1": {"f:spec": {}}},
        {"manager": "kwok", "operation": "Update", "subresource": "status", "fieldsV1": {}},
    ]
    assert indexes.trimmed({"metadata": {"name": "bare"}}) == {"metadata": {"name": "bare"}}


def test_a_daemon_set_has_no_count() -> None:
    daemon = deployment()
    daemon["kind"] = "DaemonSet"
    del daemon["spec"]["replicas"]
    assert "replicas" not in slim_workload(daemon)["spec"]


def test_the_slim_copy_is_a_copy() -> None:
    full = deployment(entry("ecs-facade", {"f:spec": {}}))
    slim = slim_workload(full)
    full["metadata"]["annotations"]["x"] = "y"
    full["status"]["readyReplicas"] = 0
    assert "x" not in slim["metadata"]["annotations"] and slim["status"]["readyReplicas"] == 3


def pod(
    labels: dict[str, str], node: str | None = "n1", phase: str = "Running", name: str = "p1", version: str = "1"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "labels": labels, "resourceVersion": version},
        "spec": {
            **({"nodeName": node} if node else {}),
            "containers": [{"name": "app", "image": "app:1", "resources": {"requests": {"cpu": "250m"}}}],
        },
        "status": {"phase": phase, "containerStatuses": [{"name": "app", "restartCount": 2}]},
    }


def pods_index(*bodies: dict[str, Any]) -> indexes.ObjectIndex:
    index = indexes.ObjectIndex(indexes.pod_keys)
    for body in bodies:
        index.put(body)
    return index


def test_one_pod_index_answers_each_view_under_its_old_keys() -> None:
    service_pod = pod({"ecs.facade.dev/service": "web", "pod-template-hash": "h1"})
    task_pod = pod({"ecs.facade.dev/task": "job"}, node=None, phase="Pending", name="p2")
    other = pod({"app": "x"}, node="n2", name="p3")
    views = indexes.Indexes.create(Pod=pods_index(service_pod, task_pod, other))
    [task] = views.tasks[("ns", "web")]
    assert (task.name, task.template_hash, task.phase, task.restarts, task.node) == ("p1", "h1", "Running", 2, "n1")
    assert [p["spec"]["nodeName"] for p in indexes.values_at(views.pods_by_node, "n1")] == ["n1"]
    assert indexes.values_at(views.pods_by_node, "n2")[0]["metadata"]["labels"] == {"app": "x"}
    assert indexes.one(views.task_pods, ("ns", "job")) == task_pod  # the whole pod: the task view reads it all
    # a pod that is not bound yet is on no node; one without our labels is no task
    assert sorted(views.pods_by_node) == ["n1", "n2"]
    assert list(views.tasks) == [("ns", "web")] and list(views.task_pods) == [("ns", "job")]
    assert ("ns", "web") in views.tasks and ("ns", "other") not in views.tasks
    assert views.tasks.get(("ns", "other"), []) == []


def test_a_pod_of_no_view_is_not_indexed() -> None:
    assert indexes.pod_keys(pod({}, node=None)) == {}
    index = pods_index(pod({}, node=None))
    assert list(index) == [] and index.count() == 1  # still known: a relist can tell it went


def test_a_changed_pod_leaves_the_keys_it_no_longer_has() -> None:
    index = pods_index(pod({"ecs.facade.dev/service": "web"}, node=None))
    assert list(index) == [("service", "ns", "web")]
    index.put(pod({"ecs.facade.dev/service": "api"}, node="n1", version="2"))
    assert sorted(index) == [("node", "n1"), ("service", "ns", "api")]
    [task] = index[("service", "ns", "api")]
    assert task.node == "n1"
    index.remove("ns", "p1")
    assert list(index) == [] and index.count() == 0
    assert index.get(("service", "ns", "api")) is None and index.get(("node", "n1"), ()) == ()


def test_values_are_a_copy_that_does_not_change_under_the_reader() -> None:
    index = pods_index(pod({"ecs.facade.dev/service": "web"}), pod({"ecs.facade.dev/service": "web"}, name="p2"))
    values = index[("service", "ns", "web")]
    index.remove("ns", "p2")
    assert [t.name for t in values] == ["p1", "p2"]
    assert [t.name for t in index[("service", "ns", "web")]] == ["p1"]


def test_a_relist_tells_what_changed_and_what_went() -> None:
    web = {"ecs.facade.dev/service": "web"}
    index = pods_index(pod(web), pod(web, name="p2"), pod(web, name="p3"))
    changes = index.replace([pod(web, version="1"), pod(web, name="p2", version="7"), pod(web, name="p4")], None)
    kinds = sorted((kind, p["metadata"]["name"]) for kind, p in changes)
    assert kinds == [("ADDED", "p4"), ("DELETED", "p3"), ("MODIFIED", "p2")]
    gone = next(p for kind, p in changes if kind == "DELETED")
    # what a deletion's handlers read of a pod the list no longer has
    assert gone["kind"] == "Pod" and gone["metadata"]["labels"] == web and gone["spec"]["nodeName"] == "n1"
    assert sorted(t.name for t in index[("service", "ns", "web")]) == ["p1", "p2", "p4"]


def test_a_relist_of_one_namespace_keeps_the_others() -> None:
    other = pod({"ecs.facade.dev/service": "web"}, name="q1")
    other["metadata"]["namespace"] = "other"
    index = pods_index(pod({"ecs.facade.dev/service": "web"}), other)
    changes = index.replace([], "ns")
    assert [(kind, p["metadata"]["name"]) for kind, p in changes] == [("DELETED", "p1")]
    assert sorted(index) == [("node", "n1"), ("service", "other", "web")]
    assert index.count() == 1


def test_a_task_state_says_when_it_became_ready_and_when_it_failed() -> None:
    def pod(phase: str, conditions: list[dict[str, Any]], containers: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "metadata": {"name": "web-1", "labels": {"pod-template-hash": "h"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "app"}]},
            "status": {"phase": phase, "conditions": conditions, "containerStatuses": containers},
        }

    labels = {"pod-template-hash": "h"}
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T10:00:05Z"}
    running = task_state(pod("Running", [ready], [{"name": "app", "restartCount": 0}]), labels)
    assert (running.ready_since, running.failures, running.runs, running.node) == (
        "2026-12-01T10:00:05Z",
        (),
        (),
        "node-1",
    )
    # an essential container exited: the pod failed when it finished, after running for a second
    ended = {"terminated": {"exitCode": 1, "startedAt": "2026-12-01T10:00:05Z", "finishedAt": "2026-12-01T10:00:06Z"}}
    not_ready = {**ready, "status": "False", "lastTransitionTime": "2026-12-01T10:00:06Z"}
    failed = task_state(pod("Failed", [not_ready], [{"name": "app", "state": ended}]), labels)
    assert (failed.ready_since, failed.failures) == (None, ("2026-12-01T10:00:06Z",))
    assert failed.runs == (("2026-12-01T10:00:05Z", "2026-12-01T10:00:06Z"),)
    # a container restarted twice (on a real node): two failures, at the last restart's time
    restarted = {"name": "app", "restartCount": 2, "lastState": ended, "state": {"running": {}}}
    crashing = task_state(pod("Running", [not_ready], [restarted]), labels)
    assert (crashing.restarts, crashing.failures) == (2, ("2026-12-01T10:00:06Z",) * 2)
    assert crashing.ready_since is None


def test_a_restart_of_all_containers_is_one_failure_and_a_restart_policy_none() -> None:
    """An essential exit under RestartAllContainers restarts every container once: one task ended."""
    every_exit = [{"action": "RestartAllContainers", "exitCodes": {"operator": "NotIn"}}]
    ended = {"terminated": {"exitCode": 1, "startedAt": "2026-12-01T10:00:05Z", "finishedAt": "2026-12-01T10:00:06Z"}}
    body: dict[str, Any] = {
        "metadata": {
            "name": "web-1",
            "labels": {"pod-template-hash": "h"},
            "annotations": {"ecs.facade.dev/restart-policies": '{"cron":[]}'},
        },
        "spec": {
            "containers": [
                {"name": "app", "restartPolicy": "Always", "restartPolicyRules": every_exit},
                {"name": "worker", "restartPolicy": "Always", "restartPolicyRules": every_exit},
                {"name": "cron", "restartPolicy": "Always"},  # an ECS restart policy: restarted alone
            ]
        },
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "app", "restartCount": 1, "lastState": ended},
                {"name": "worker", "restartCount": 1, "lastState": ended},
                {"name": "cron", "restartCount": 5, "lastState": ended},
            ],
        },
    }
    state = task_state(body, {"pod-template-hash": "h"})
    assert (state.restarts, state.failures) == (1, ("2026-12-01T10:00:06Z",))


def found(index: Any, key: Any) -> Any:
    """The one value under ``key`` (indexes.one), which must be there."""
    value = indexes.one(index, key)
    assert value is not None, key
    return value


def meta(name: str, namespace: str = "ns", **fields: Any) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "1", **fields}


def test_task_definitions_are_found_by_family_and_by_name() -> None:
    views = indexes.Indexes.create()
    definitions = views.objects["ECSTaskDefinition"]
    definitions.put({"metadata": meta("web-v2"), "spec": {"family": "web", "cpu": "256"}})
    definitions.put({"metadata": meta("api"), "spec": {"containerDefinitions": []}})  # family: its name
    definitions.put({"metadata": meta("batch"), "spec": {"taskDefinition": {"family": "jobs"}}})  # describe output
    web = found(views.task_definitions, ("ns", "web"))
    assert web is not None and web.name == "web-v2" and web.spec["cpu"] == "256"
    assert found(views.task_definitions_by_name, ("ns", "web-v2")) is web
    assert found(views.task_definitions, ("ns", "api")).name == "api"
    assert found(views.task_definitions, ("ns", "jobs")).name == "batch"
    assert indexes.one(views.task_definitions, ("other", "web")) is None
    definitions.put({"metadata": meta("web"), "spec": {"family": "web"}})  # two of one family: the one named so
    assert found(views.task_definitions, ("ns", "web")).name == "web"


def revision(name: str, number: int, owner: str | None = "web") -> dict[str, Any]:
    owners = [{"kind": "ECSTaskDefinition", "name": owner, "uid": "u"}] if owner else []
    annotations = {"ecs.facade.dev/content-hash": f"h{number}", "ecs.facade.dev/registered-at": "2026-01-01T00:00:00Z"}
    return {
        "metadata": meta(name, annotations=annotations, ownerReferences=owners),
        "revision": number,
        "data": {"taskDefinition": {"family": "web", "containerDefinitions": [{"name": "app"}]}},
    }


def test_revisions_are_found_by_their_task_definition_oldest_first() -> None:
    views = indexes.Indexes.create()
    for body in (revision("web-2", 2), revision("web-1", 1), revision("stray", 1, owner=None)):
        views.objects["ControllerRevision"].put(body)
    found = indexes.revisions_of(views.revisions, "ns", "web")
    assert [(r.name, r.revision, r.status, r.content_hash) for r in found] == [
        ("web-1", 1, "ACTIVE", "h1"),
        ("web-2", 2, "ACTIVE", "h2"),
    ]
    assert found[0].owner == "web" and found[0].registered_at == "2026-01-01T00:00:00Z"
    assert found[0].request["containerDefinitions"] == [{"name": "app"}]
    assert indexes.revision_keys(revision("stray", 1, owner=None)) == {}  # not one of a task definition


def test_a_services_daemon_set_and_autoscaler_are_found_by_the_service() -> None:
    views = indexes.Indexes.create()
    labels = {"ecs.facade.dev/service": "web"}
    daemon_set = {**deployment(), "kind": "DaemonSet", "metadata": {**meta("web", labels=labels)}}
    views.objects["DaemonSet"].put(daemon_set)
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": meta("web", labels=labels), "spec": {"maxReplicas": 5}}
    views.objects["HorizontalPodAutoscaler"].put(hpa)
    [slim] = views.daemon_sets[("ns", "web")]
    assert slim == slim_workload(daemon_set) and "containers" not in str(slim["spec"])
    assert found(views.autoscalers, ("ns", "web"))["spec"] == {"maxReplicas": 5}
    assert indexes.daemon_set_keys({"metadata": meta("other")}) == {}
    assert indexes.autoscaler_keys({"metadata": meta("other")}) == {}


def test_nodes_namespaces_and_clusters_are_found_by_their_name() -> None:
    views = indexes.Indexes.create()
    node = {
        "metadata": meta(
            "n1",
            namespace="",
            labels={"ecs.facade.dev/cluster": "prod"},
            annotations={"ecs.facade.dev/cordoned-for-drain": "true", "other.io/note": "dropped"},
        ),
        "spec": {"providerID": "kwok://n1", "unschedulable": True, "taints": [{"key": "k"}]},
        "status": {
            "allocatable": {"cpu": "4"},
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "MemoryPressure", "status": "False"}],
            "images": [{"names": ["big"]}],
        },
    }
    views.objects["Node"].put(node)
    slim = found(views.nodes, "n1")
    assert slim["metadata"]["annotations"] == {"ecs.facade.dev/cordoned-for-drain": "true"}
    assert slim["spec"] == {"providerID": "kwok://n1", "unschedulable": True}
    assert slim["status"]["conditions"] == [{"type": "Ready", "status": "True"}] and "images" not in slim["status"]
    assert list(views.nodes) == ["n1"]
    views.objects["Namespace"].put({"metadata": meta("team-a", namespace="", labels={"team": "a"})})
    assert found(views.namespaces, "team-a") == {"team": "a"}
    views.objects["ECSCluster"].put({"metadata": meta("prod-cluster", namespace=""), "spec": {"clusterName": "prod"}})
    views.objects["ECSCluster"].put({"metadata": meta("default", namespace=""), "spec": {}})
    assert found(views.clusters, "prod").name == "prod-cluster"  # by its ECS name
    assert found(views.clusters, "default").name == "default"
    assert indexes.one(views.clusters, "prod-cluster") is None


def test_ecs_tasks_are_found_by_namespace_and_name() -> None:
    views = indexes.Indexes.create()
    views.objects["ECSTask"].put(
        {"metadata": meta("job-1"), "spec": {"cluster": "prod"}, "status": {"lastStatus": "RUNNING"}}
    )
    [(key, (task,))] = list(views.ecs_tasks.items())
    assert key == ("ns", "job-1") and task.spec == {"cluster": "prod"} and task.status["lastStatus"] == "RUNNING"
    assert [t.name for t in indexes.all_values(views.ecs_tasks)] == ["job-1"]


def test_every_kind_has_its_own_index() -> None:
    views = indexes.Indexes.create()
    assert set(views.objects) == set(indexes.KEYS)
    assert len({id(index) for index in views.objects.values()}) == len(indexes.KEYS)
    mine = indexes.ObjectIndex(indexes.pod_keys)
    assert indexes.Indexes.create(Pod=mine).objects["Pod"] is mine


def test_caught_up_waits_for_the_object_at_the_handlers_generation() -> None:
    import threading

    views = indexes.Indexes.create()
    tasks = views.objects["ECSTask"]
    body = {"metadata": {**meta("job-1"), "generation": 2}, "spec": {}}
    assert not views.caught_up("ECSTask", body, timeout=0.01)  # not seen yet
    tasks.put({"metadata": {**meta("job-1"), "generation": 1}, "spec": {}})
    assert not views.caught_up("ECSTask", body, timeout=0.01)  # seen, with the spec before
    tasks.put({"metadata": {**meta("job-1"), "uid": "another", "generation": 3}, "spec": {}})
    assert not views.caught_up("ECSTask", body, timeout=0.01)  # one of the same name, not this one
    later = threading.Timer(0.05, tasks.put, [{"metadata": {**meta("job-1"), "generation": 2}, "spec": {}}])
    later.start()
    assert views.caught_up("ECSTask", body, timeout=5)  # woken by the informer's put
    later.join()
    tasks.put({"metadata": {**meta("job-1"), "generation": 3}, "spec": {}})
    assert views.caught_up("ECSTask", body, timeout=0)  # a later generation will do
