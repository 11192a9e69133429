"""ECS task lifecycle from pod and container states."""

from typing import Any

from ecs_facade.views.task import container_views, essential_exit, failed_to_start, last_status, on_its_way


def pod(
    node: str | None = "n1",
    phase: str = "Pending",
    statuses: list[dict[str, Any]] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "annotations": {
            "ecs.facade.dev/essential-containers": "app",
            "ecs.facade.dev/container-names": '{"app":"App","log":"log"}',
        }
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: dict[str, Any] = {
        "containers": [{"name": "app", "image": "a", "readinessProbe": {}}],
        "initContainers": [{"name": "log", "image": "l", "restartPolicy": "Always"}],
    }
    if node:
        spec["nodeName"] = node
    return {"metadata": meta, "spec": spec, "status": {"phase": phase, "containerStatuses": statuses or []}}


RUNNING = {"running": {"startedAt": "2026-01-01T00:00:01Z"}}


def test_lifecycle() -> None:
    assert last_status(pod(node=None)) == "PROVISIONING"
    assert last_status(pod()) == "PENDING"
    assert last_status(pod(phase="Running", statuses=[{"name": "log", "state": RUNNING}])) == "ACTIVATING"
    assert last_status(pod(phase="Running", statuses=[{"name": "app", "state": RUNNING}])) == "RUNNING"
    assert last_status(pod(phase="Running", statuses=[{"name": "app", "state": RUNNING}], deleting=True)) == "STOPPING"
    exited = {"name": "app", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}
    assert last_status(pod(phase="Running", statuses=[exited])) == "STOPPED"
    assert last_status(None) == "STOPPED"


def test_essential_exit_and_non_essential_exit() -> None:
    sidecar_exit = {"name": "log", "state": {"terminated": {"exitCode": 1}}}
    assert essential_exit(pod(phase="Running", statuses=[sidecar_exit, {"name": "app", "state": RUNNING}])) is None
    app_exit = {"name": "app", "state": {"terminated": {"exitCode": 0}}}
    assert essential_exit(pod(phase="Running", statuses=[app_exit])) == ("app", 0)


def test_containers_use_ecs_names_and_health() -> None:
    views = container_views(pod(phase="Running", statuses=[{"name": "app", "state": RUNNING, "ready": True}]))
    assert views == [
        {"name": "log", "image": "l", "lastStatus": "PENDING", "healthStatus": "UNKNOWN"},
        {"name": "App", "image": "a", "lastStatus": "RUNNING", "healthStatus": "HEALTHY"},
    ]


def test_image_pull_errors_are_failures_to_start() -> None:
    waiting = {"name": "app", "state": {"waiting": {"reason": "ErrImagePull", "message": "not found"}}}
    assert failed_to_start(pod(statuses=[waiting])) == "ErrImagePull: not found"


def test_a_service_task_is_described_like_a_standalone_one() -> None:
    from ecs_facade.views.deployments import deployment_id
    from ecs_facade.views.task import describe_task, service_task_identity

    service_pod = pod(phase="Running", statuses=[{"name": "app", "state": RUNNING, "ready": True}])
    service_pod["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "uid": "rs-uid"}]
    group, started_by = service_task_identity(service_pod, "web")
    assert (group, started_by) == ("service:web", deployment_id("rs-uid"))
    assert started_by.startswith("ecs-svc/")
    task = describe_task(service_pod, "arn:task", "arn:td:1", group, started_by)
    assert task["lastStatus"] == "RUNNING"
    assert task["healthStatus"] == "HEALTHY"
    assert task["group"] == "service:web"
    assert [c["name"] for c in task["containers"]] == ["log", "App"]


def test_a_task_on_its_way_is_created_or_bound_and_nothing_more() -> None:
    assert on_its_way(pod(node=None))  # just created
    assert on_its_way(pod())  # bound to a container instance
    assert on_its_way({"metadata": {}, "status": {}})  # no phase yet
    waiting = {"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}
    assert not on_its_way(pod(statuses=[waiting]))  # a container shows up: it may be failing to start
    assert not on_its_way(pod(phase="Running", statuses=[{"name": "app", "state": RUNNING}]))
    assert not on_its_way(pod(phase="Failed"))
    assert not on_its_way(pod(deleting=True))
    unschedulable = pod(node=None)
    unschedulable["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    assert not on_its_way(unschedulable)  # TasksUnplaceable is news
    scheduled = pod()
    scheduled["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]
    assert on_its_way(scheduled)
