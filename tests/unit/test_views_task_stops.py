"""Why a standalone task stopped, from pods shaped as a real kubelet reports them: StopTask on a
container that traps SIGTERM, a container killed for its hard memory limit, a SUCCESS
dependency that exits 1, a non-essential container that exits 1."""

from typing import Any

from ecs_facade.translate.task import build_task_pod
from ecs_facade.views.task import (
    OUT_OF_MEMORY,
    STOPPED_BY_USER,
    Observation,
    container_views,
    describe_task,
    failed_dependency,
    observe_task,
    pod_stop,
)
from tests.unit.helpers import container, task_definition

STARTED = "2026-01-01T00:00:01Z"
FINISHED = "2026-01-01T00:00:30Z"


def running(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": "docker.io/library/busybox:local",
        "imageID": "sha256:1f0e",
        "containerID": f"containerd://{name}-1",
        "ready": True,
        "restartCount": 0,
        "started": True,
        "state": {"running": {"startedAt": STARTED}},
        "lastState": {},
    }


def terminated(name: str, code: int, reason: str | None = None) -> dict[str, Any]:
    """As the kubelet says it: ``Completed`` for 0, ``Error`` otherwise, or ``OOMKilled``."""
    state = {
        "exitCode": code,
        "reason": reason or ("Completed" if code == 0 else "Error"),
        "startedAt": STARTED,
        "finishedAt": FINISHED,
        "containerID": f"containerd://{name}-1",
    }
    return {**running(name), "ready": False, "started": False, "state": {"terminated": state}}


def waiting(name: str, reason: str = "PodInitializing") -> dict[str, Any]:
    return {
        "name": name,
        "image": "docker.io/library/busybox:local",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
        "state": {"waiting": {"reason": reason}},
        "lastState": {},
    }


def task_pod(*containers: dict[str, Any]) -> dict[str, Any]:
    pod, _ = build_task_pod(task_definition(*containers), 1)
    pod["metadata"].update(name="job-1", namespace="ns", creationTimestamp="2026-01-01T00:00:00Z")
    pod["spec"]["nodeName"] = "real-node-0"
    return pod


def observed(
    pod: dict[str, Any],
    phase: str,
    containers: list[dict[str, Any]],
    init: list[dict[str, Any]] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    meta = dict(pod["metadata"])
    if deleting:
        meta.update(deletionTimestamp="2026-01-01T00:00:20Z", deletionGracePeriodSeconds=10)
    status: dict[str, Any] = {
        "phase": phase,
        "hostIP": "10.0.0.2",
        "podIP": "10.1.0.7",
        "containerStatuses": containers,
    }
    if init is not None:
        status["initContainerStatuses"] = init
    return {**pod, "metadata": meta, "status": status}


def by_name(update: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in update["containers"]}


# 1. StopTask on a container that traps SIGTERM


def trapping() -> dict[str, Any]:
    return task_pod(container(name="app", command=["sh", "-c", "trap '' TERM; sleep 3600"], stopTimeout=10))


RUNNING_TASK = {"lastStatus": "RUNNING", "desiredStatus": "RUNNING", "startedAt": STARTED}


def stop_task(reason: str = "maintenance window") -> tuple[dict[str, Any], Observation]:
    """The first observation after StopTask: STOPPING, and the pod deleted."""
    first = observe_task(observed(trapping(), "Running", [running("app")]), RUNNING_TASK, reason)
    assert first is not None
    return {**RUNNING_TASK, **first.update}, first


def test_stop_task_makes_the_task_stopping_and_deletes_its_pod() -> None:
    prior, first = stop_task()
    assert first.delete_pod
    assert (prior["lastStatus"], prior["desiredStatus"]) == ("STOPPING", "STOPPED")
    assert (prior["stopCode"], prior["stoppedReason"]) == ("UserInitiated", "maintenance window")
    assert "exitCode" not in prior
    assert by_name(prior)["app"]["lastStatus"] == "RUNNING"


def test_stop_task_stays_stopping_while_the_container_ignores_sigterm() -> None:
    prior, _ = stop_task()
    seen = observe_task(observed(trapping(), "Running", [running("app")], deleting=True), prior, "maintenance window")
    assert seen is not None and not seen.delete_pod
    assert (seen.update["lastStatus"], seen.update["stopCode"]) == ("STOPPING", "UserInitiated")
    assert seen.update["stoppedReason"] == "maintenance window"


def test_stop_task_keeps_user_initiated_when_the_essential_container_is_killed() -> None:
    """SIGKILL after stopTimeout: 137 is recorded, the stop stays the caller's (ECS)."""
    prior, _ = stop_task()
    for phase in ("Running", "Failed"):  # before and after the kubelet sets the pod's phase
        pod = observed(trapping(), phase, [terminated("app", 137)], deleting=True)
        seen = observe_task(pod, prior, "maintenance window")
        assert seen is not None and not seen.delete_pod
        update = seen.update
        assert (update["lastStatus"], update["desiredStatus"]) == ("STOPPED", "STOPPED")
        assert update["stopCode"] == "UserInitiated"
        assert update["stoppedReason"] == "maintenance window"
        assert update["exitCode"] == 137
        assert by_name(update)["app"] == {
            "name": "app",
            "image": "nginx:1.27",
            "lastStatus": "STOPPED",
            "exitCode": 137,
            "reason": "Error",
            "healthStatus": "UNKNOWN",
        }


def test_stop_task_keeps_user_initiated_when_the_container_exits_at_sigterm() -> None:
    for code in (0, 143):
        prior, _ = stop_task(STOPPED_BY_USER)
        seen = observe_task(observed(trapping(), "Running", [terminated("app", code)], deleting=True), prior, None)
        assert seen is not None
        assert (seen.update["lastStatus"], seen.update["stopCode"]) == ("STOPPED", "UserInitiated")
        assert seen.update["stoppedReason"] == STOPPED_BY_USER
        assert (seen.update["exitCode"], by_name(seen.update)["app"]["exitCode"]) == (code, code)


def test_a_stopping_task_waits_for_its_other_containers_and_records_the_essential_exit() -> None:
    pod = task_pod(container(name="app"), container(name="agent", essential=False))
    prior = {**RUNNING_TASK, "lastStatus": "STOPPING", "stopCode": "UserInitiated", "stoppedReason": "bye"}
    seen = observe_task(
        observed(pod, "Running", [terminated("app", 143), running("agent")], deleting=True), prior, "bye"
    )
    assert seen is not None
    assert (seen.update["lastStatus"], seen.update["exitCode"]) == ("STOPPING", 143)
    assert by_name(seen.update)["agent"]["lastStatus"] == "RUNNING"
    done = observe_task(
        observed(pod, "Failed", [terminated("app", 143), terminated("agent", 137)], deleting=True), prior, "bye"
    )
    assert done is not None
    assert (done.update["lastStatus"], done.update["stopCode"], done.update["stoppedReason"]) == (
        "STOPPED",
        "UserInitiated",
        "bye",
    )
    assert {n: (c["lastStatus"], c["exitCode"]) for n, c in by_name(done.update).items()} == {
        "app": ("STOPPED", 143),
        "agent": ("STOPPED", 137),
    }


def test_any_stop_code_of_a_stopping_task_is_kept() -> None:
    prior = {"lastStatus": "STOPPING", "stopCode": "TerminationNotice", "stoppedReason": "host going away"}
    seen = observe_task(observed(trapping(), "Failed", [terminated("app", 1)], deleting=True), prior, None)
    assert seen is not None
    assert (seen.update["stopCode"], seen.update["stoppedReason"], seen.update["exitCode"]) == (
        "TerminationNotice",
        "host going away",
        1,
    )


def test_a_pod_gone_before_its_exit_was_seen_keeps_what_was_seen() -> None:
    prior, _ = stop_task()
    prior = {**prior, "exitCode": 143}  # seen before, in an earlier event
    seen = observe_task(None, prior, "maintenance window")
    assert seen is not None and not seen.delete_pod
    assert (seen.update["lastStatus"], seen.update["stopCode"]) == ("STOPPED", "UserInitiated")
    assert seen.update["stoppedReason"] == "maintenance window"
    assert "exitCode" not in seen.update  # the status keeps the 143 seen before
    assert by_name(seen.update)["app"]["lastStatus"] == "STOPPED"


def test_a_pod_not_there_yet_says_nothing() -> None:
    assert observe_task(None, {"lastStatus": "PROVISIONING"}, None) is None


def test_an_essential_exit_before_stop_task_is_the_tasks_end() -> None:
    pod = observed(trapping(), "Failed", [terminated("app", 3)])
    seen = observe_task(pod, RUNNING_TASK, "too late")
    assert seen is not None and seen.delete_pod
    assert (seen.update["stopCode"], seen.update["stoppedReason"], seen.update["exitCode"]) == (
        "EssentialContainerExited",
        "Essential container in task exited",
        3,
    )


# 2. A container killed for its hard memory limit


def hungry() -> dict[str, Any]:
    return task_pod(
        container(name="app", memory=32, command=["sh", "-c", "tail /dev/zero"]),
        container(name="agent", essential=False),
    )


def test_an_oom_killed_essential_container_stops_the_task_with_ecs_out_of_memory_error() -> None:
    pod = observed(hungry(), "Running", [terminated("app", 137, "OOMKilled"), running("agent")])
    seen = observe_task(pod, RUNNING_TASK, None)
    assert seen is not None and seen.delete_pod
    update = seen.update
    assert (update["lastStatus"], update["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert update["stopCode"] == "EssentialContainerExited"
    assert update["stoppedReason"] == "OutOfMemoryError: Container killed due to memory usage" == OUT_OF_MEMORY
    assert update["exitCode"] == 137
    assert by_name(update)["app"] == {
        "name": "app",
        "image": "nginx:1.27",
        "lastStatus": "STOPPED",
        "exitCode": 137,
        "reason": OUT_OF_MEMORY,
        "healthStatus": "UNKNOWN",
    }
    assert by_name(update)["agent"]["lastStatus"] == "STOPPED"


def test_an_oom_killed_non_essential_container_leaves_the_task_running() -> None:
    pod = observed(hungry(), "Running", [running("app"), terminated("agent", 137, "OOMKilled")])
    seen = observe_task(pod, RUNNING_TASK, None)
    assert seen is not None and not seen.delete_pod
    assert seen.update["lastStatus"] == "RUNNING"
    assert "stopCode" not in seen.update
    agent = by_name(seen.update)["agent"]
    assert (agent["lastStatus"], agent["exitCode"], agent["reason"]) == ("STOPPED", 137, OUT_OF_MEMORY)


def test_a_service_task_killed_for_memory_is_described_with_the_same_reason() -> None:
    pod = observed(hungry(), "Running", [terminated("app", 137, "OOMKilled"), running("agent")])
    task = describe_task(pod, "arn:task", "arn:td:1", "service:web", "ecs-svc/1")
    assert (task["stopCode"], task["stoppedReason"]) == ("EssentialContainerExited", OUT_OF_MEMORY)


def test_a_plain_kill_137_is_no_out_of_memory_error() -> None:
    pod = observed(hungry(), "Running", [terminated("app", 137), running("agent")])
    stop = pod_stop(pod)
    assert stop is not None
    assert (stop.code, stop.reason, stop.exit_code) == (
        "EssentialContainerExited",
        "Essential container in task exited",
        137,
    )
    assert {v["name"]: v.get("reason") for v in container_views(pod)}["app"] == "Error"


# 3. A SUCCESS dependency that exits 1


def migrating() -> dict[str, Any]:
    """``migrate`` (SUCCESS dependency: an init container) before the essential ``app``, and
    a non-essential ``agent`` nobody waits for."""
    return task_pod(
        container(name="migrate", essential=False, command=["sh", "-c", "exit 1"]),
        container(name="app", dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}]),
        container(name="agent", essential=False),
    )


def init_failed(phase: str = "Failed") -> dict[str, Any]:
    """What the kubelet reports: the init container terminated, the others waiting with
    PodInitializing, the pod Failed (``restartPolicy: Never``)."""
    pod = observed(
        migrating(), phase, [waiting("app"), waiting("agent")], init=[{**terminated("migrate", 1), "ready": False}]
    )
    pod["status"]["conditions"] = [
        {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized"},
        {"type": "Ready", "status": "False", "reason": "PodFailed"},
    ]
    return pod


def test_the_failed_dependency_is_the_init_container_that_exited_non_zero() -> None:
    pod = migrating()
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["migrate"]
    assert failed_dependency(init_failed()) == ("migrate", 1)
    assert failed_dependency(init_failed(phase="Pending")) == ("migrate", 1)  # runs once: final already
    ok = observed(pod, "Pending", [waiting("app")], init=[terminated("migrate", 0)])
    assert failed_dependency(ok) is None


def test_a_dependency_restarted_by_its_restart_policy_has_not_failed_until_the_pod_did() -> None:
    pod = task_pod(
        container(name="migrate", essential=False, restartPolicy={"enabled": True}),
        container(name="app", dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}]),
    )
    assert pod["spec"]["initContainers"][0]["restartPolicy"] == "OnFailure"
    failing = observed(pod, "Pending", [waiting("app")], init=[terminated("migrate", 1)])
    assert failed_dependency(failing) is None
    assert pod_stop(failing) is None
    assert failed_dependency({**failing, "status": {**failing["status"], "phase": "Failed"}}) == ("migrate", 1)


def test_a_failed_success_dependency_stops_the_task_before_the_dependent_starts() -> None:
    seen = observe_task(init_failed(), {"lastStatus": "ACTIVATING", "desiredStatus": "RUNNING"}, None)
    assert seen is not None and seen.delete_pod
    update = seen.update
    assert (update["lastStatus"], update["desiredStatus"]) == ("STOPPED", "STOPPED")
    assert update["stopCode"] == "TaskFailedToStart"
    assert update["stoppedReason"] == (
        "CannotStartContainerError: container 'migrate' exited with 1; the containers that depend on its "
        "SUCCESS (dependsOn SUCCESS, or COMPLETE, which is enforced as SUCCESS) can never start"
    )
    assert update["exitCode"] == 1
    containers = by_name(update)
    assert containers["migrate"] == {
        "name": "migrate",
        "image": "nginx:1.27",
        "lastStatus": "STOPPED",
        "exitCode": 1,
        "reason": "Error",
        "healthStatus": "UNKNOWN",
    }
    never = (
        "CannotStartContainerError: dependency condition not met: container 'migrate' exited with 1, "
        "SUCCESS needs exit code 0"
    )
    for name in ("app", "agent"):
        assert containers[name] == {
            "name": name,
            "image": "nginx:1.27",
            "lastStatus": "STOPPED",
            "reason": never,
            "healthStatus": "UNKNOWN",
        }


def test_a_failed_dependency_of_an_essential_sidecar_ends_the_task_for_the_dependency() -> None:
    """A sidecar started before the failed init container is killed with the pod: its exit is
    not the task's end, the dependency is."""
    pod = task_pod(
        container(name="envoy"),
        container(name="migrate", essential=False),
        container(
            name="app",
            dependsOn=[
                {"containerName": "envoy", "condition": "START"},
                {"containerName": "migrate", "condition": "SUCCESS"},
            ],
        ),
    )
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["envoy", "migrate"]
    ended = observed(pod, "Failed", [waiting("app")], init=[terminated("envoy", 137), terminated("migrate", 2)])
    stop = pod_stop(ended)
    assert stop is not None
    assert (stop.code, stop.exit_code) == ("TaskFailedToStart", 2)
    seen = observe_task(ended, {"lastStatus": "ACTIVATING"}, None)
    assert seen is not None
    containers = by_name(seen.update)
    assert (containers["envoy"]["exitCode"], containers["envoy"]["reason"]) == (137, "Error")
    assert containers["app"]["reason"].startswith("CannotStartContainerError: dependency condition not met")


def test_a_pod_that_ended_always_gives_a_stop_code_and_reason() -> None:
    pod = task_pod(container(name="app"))
    evicted = observed(pod, "Failed", [waiting("app", "ContainerCreating")])
    evicted["status"].update(reason="Evicted", message="The node was low on resource: memory.")
    stop = pod_stop(evicted)
    assert stop is not None
    assert (stop.code, stop.reason) == ("TaskFailedToStart", "Evicted: The node was low on resource: memory.")
    lost = observed(pod, "Failed", [running("app")])  # marked Failed with its node gone, statuses stale
    stop = pod_stop(lost)
    assert stop is not None
    assert (stop.code, stop.reason) == ("TerminationNotice", "The task's pod ended (phase Failed) while it ran")
    for ended in (evicted, lost, init_failed()):
        seen = observe_task(ended, RUNNING_TASK, None)
        assert seen is not None
        assert seen.update["lastStatus"] == "STOPPED"
        assert seen.update["stopCode"] and seen.update["stoppedReason"]
        assert {c["lastStatus"] for c in seen.update["containers"]} == {"STOPPED"}


# 4. A non-essential container that exits 1


def test_a_non_essential_container_that_exits_1_leaves_the_task_running() -> None:
    pod = task_pod(container(name="app"), container(name="touch", essential=False))
    assert {c["name"]: c.get("restartPolicy") for c in pod["spec"]["containers"]} == {"app": None, "touch": "Never"}
    assert pod["spec"]["restartPolicy"] == "Never"
    seen = observe_task(observed(pod, "Running", [running("app"), terminated("touch", 1)]), RUNNING_TASK, None)
    assert seen is not None and not seen.delete_pod
    assert seen.update["lastStatus"] == "RUNNING"
    assert not {"stopCode", "stoppedReason", "exitCode", "desiredStatus"} & seen.update.keys()
    containers = by_name(seen.update)
    assert (containers["touch"]["lastStatus"], containers["touch"]["exitCode"]) == ("STOPPED", 1)
    assert containers["app"]["lastStatus"] == "RUNNING"
