"""Task status with containers that run once, restart by an ECS restart policy, or restart all."""

import json
from typing import Any

from ecs_facade.translate.lifecycle import ANNOTATION_RESTART_PERIODS, ANNOTATION_RESTART_POLICIES
from ecs_facade.translate.task import build_task_pod
from ecs_facade.translate.taskdefinition import translate_task_definition
from ecs_facade.views.task import container_views, essential_exit, failure_containers, last_status, task_failures
from tests.unit.helpers import container, task_definition

RUNNING = {"running": {"startedAt": "2026-01-01T00:00:01Z"}}


def exited(code: int) -> dict[str, Any]:
    return {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed"}}


def status(name: str, state: dict[str, Any], restarts: int = 0, last: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"name": name, "state": state, "restartCount": restarts}
    if last is not None:
        result["lastState"] = last
    return result


def task_pod(*containers: dict[str, Any]) -> dict[str, Any]:
    pod, _ = build_task_pod(task_definition(*containers), 1)
    return pod


def service_pod(*containers: dict[str, Any]) -> dict[str, Any]:
    translation = translate_task_definition(task_definition(*containers), service=True)
    return {
        "metadata": {"annotations": translation.annotations},
        "spec": {"restartPolicy": "Always", **translation.pod_spec},
    }


def with_statuses(
    pod: dict[str, Any], *statuses: dict[str, Any], init: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    return {
        **pod,
        "spec": {**pod["spec"], "nodeName": "n1"},
        "status": {"phase": "Running", "containerStatuses": list(statuses), "initContainerStatuses": list(init)},
    }


def test_a_non_essential_container_that_ran_once_leaves_the_task_running() -> None:
    pod = with_statuses(
        task_pod(container(name="app"), container(name="touch", essential=False)),
        status("app", RUNNING),
        status("touch", exited(0)),
    )
    assert essential_exit(pod) is None
    assert last_status(pod) == "RUNNING"
    views = {v["name"]: v for v in container_views(pod)}
    assert (views["touch"]["lastStatus"], views["touch"]["exitCode"]) == ("STOPPED", 0)
    assert views["app"]["lastStatus"] == "RUNNING"


def test_an_exit_restarted_by_the_restart_policy_does_not_end_the_task() -> None:
    pod = task_pod(container(name="app", restartPolicy={"enabled": True, "ignoredExitCodes": [0]}))
    assert json.loads(pod["metadata"]["annotations"][ANNOTATION_RESTART_POLICIES]) == {"app": [0]}
    assert essential_exit(with_statuses(pod, status("app", exited(1)))) is None
    assert essential_exit(with_statuses(pod, status("app", exited(0)))) == ("app", 0)


def test_an_exit_before_the_restart_attempt_period_is_not_restarted_and_ends_the_task() -> None:
    """ECS: "If a container isn't able to run for this time period and exits early, it will not
    be restarted." The kubelet restarts it all the same; its last termination says how long it ran."""
    policy = {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}
    pod = task_pod(container(name="app", restartPolicy=policy))
    assert json.loads(pod["metadata"]["annotations"][ANNOTATION_RESTART_PERIODS]) == {"app": 60}

    def ran(seconds: int) -> dict[str, Any]:
        finished = f"2026-01-01T00:{seconds // 60:02d}:{seconds % 60:02d}Z"
        return {"terminated": {"exitCode": 1, "startedAt": "2026-01-01T00:00:00Z", "finishedAt": finished}}

    waiting = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert essential_exit(with_statuses(pod, status("app", waiting, restarts=1, last=ran(5)))) == ("app", 1)
    assert essential_exit(with_statuses(pod, status("app", ran(59)))) == ("app", 1)
    assert essential_exit(with_statuses(pod, status("app", RUNNING, restarts=1, last=ran(61)))) is None
    assert essential_exit(with_statuses(pod, status("app", ran(60)))) is None
    # no period given: ECS's default, 300 s
    default = task_pod(container(name="app", restartPolicy={"enabled": True}))
    assert json.loads(default["metadata"]["annotations"][ANNOTATION_RESTART_PERIODS]) == {"app": 300}
    assert essential_exit(with_statuses(default, status("app", ran(299)))) == ("app", 1)


def test_an_essential_sidecar_of_a_standalone_task_ends_it_even_once_restarted() -> None:
    """A native sidecar is always restarted: its last termination is the task's end."""
    pod = task_pod(
        container(name="app", dependsOn=[{"containerName": "proxy", "condition": "START"}]),
        container(name="proxy"),
    )
    restarted = status("proxy", RUNNING, restarts=1, last=exited(2))
    assert essential_exit(with_statuses(pod, status("app", RUNNING), init=(restarted,))) == ("proxy", 2)
    assert last_status(with_statuses(pod, status("app", RUNNING), init=(restarted,))) == "STOPPED"


def test_in_a_service_pod_a_restart_is_not_a_present_exit() -> None:
    pod = service_pod(container(name="app"))
    assert essential_exit(with_statuses(pod, status("app", RUNNING, restarts=2, last=exited(1)))) is None


def test_restart_all_is_one_failed_task_not_one_per_container() -> None:
    pod = service_pod(
        container(name="app", dependsOn=[{"containerName": "envoy", "condition": "START"}]),
        container(name="envoy"),
        container(name="touch", essential=False),
    )
    # app exited: every container was restarted once by RestartAllContainers
    statuses = with_statuses(
        pod,
        status("app", RUNNING, restarts=1),
        status("touch", exited(0), restarts=1),
        init=(status("envoy", RUNNING, restarts=1),),
    )
    assert task_failures(statuses) == 1
    assert len(failure_containers(statuses)) == 1


def test_restarts_by_an_ecs_restart_policy_are_no_failed_tasks() -> None:
    pod = service_pod(
        container(name="app"),
        container(name="agent", essential=False, restartPolicy={"enabled": True}),
    )
    assert task_failures(with_statuses(pod, status("app", RUNNING), status("agent", RUNNING, restarts=4))) == 0
    assert task_failures(with_statuses(pod, status("app", RUNNING, restarts=1), status("agent", RUNNING, 5))) == 1


def test_without_restart_all_each_restart_of_a_regular_container_is_a_failed_task() -> None:
    """Clusters without container restart rules: the pod's Always restarts an essential container alone."""
    pod = {
        "metadata": {"annotations": {"ecs.facade.dev/essential-containers": "a,b"}},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "restartPolicy": "Always"},
        "status": {"containerStatuses": [status("a", RUNNING, 2), status("b", RUNNING, 1)]},
    }
    assert task_failures(pod) == 3
    assert failure_containers(pod) == ["a", "b"]
