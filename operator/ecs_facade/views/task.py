"""An ECS task (DescribeTasks) as seen from its pod: one function for standalone tasks and the
tasks of services, so both look the same.

``lastStatus`` from the pod:

| pod | lastStatus |
|---|---|
| not yet scheduled to a node | PROVISIONING |
| scheduled, containers not started (pulling, creating) | PENDING |
| init containers or sidecars starting, essential containers not yet | ACTIVATING |
| essential containers running | RUNNING |
| being deleted (grace period) | STOPPING |
| an essential container exited, or the pod ended or is gone | STOPPED |
"""

import json
from collections.abc import Mapping
from typing import Any

from ecs_facade.translate.lifecycle import ANNOTATION_RESTART_POLICIES
from ecs_facade.translate.taskdefinition import ANNOTATION_CONTAINER_NAMES, ANNOTATION_ESSENTIAL

_FAILED_TO_START = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "ContainerCannotRun",
}


def _statuses(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = pod.get("status") or {}
    return {
        c["name"]: c for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    }


def essential_containers(pod: Mapping[str, Any]) -> list[str]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return [n for n in annotations.get(ANNOTATION_ESSENTIAL, "").split(",") if n]


def restart_policies(pod: Mapping[str, Any]) -> dict[str, set[int]]:
    """The containers with an ECS restart policy, and the exit codes it does not restart on
    (translate.lifecycle)."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        policies = json.loads(annotations.get(ANNOTATION_RESTART_POLICIES, "{}"))
    except ValueError:
        return {}
    if not isinstance(policies, dict):
        return {}
    return {str(name): {int(code) for code in codes} for name, codes in policies.items() if isinstance(codes, list)}


def essential_exit(pod: Mapping[str, Any]) -> tuple[str, int | None] | None:
    """The first essential container whose exit ends the task, with its exit code.

    An exit that the container's ECS restart policy restarts is not one (ECS restarts it in
    the same task). In a standalone task's pod (``restartPolicy: Never``) an essential
    container that was restarted all the same (a native sidecar always is) exited before:
    its last termination counts.
    """
    statuses = _statuses(pod)
    policies = restart_policies(pod)
    standalone = (pod.get("spec") or {}).get("restartPolicy") == "Never"
    for name in essential_containers(pod):
        status = statuses.get(name) or {}
        terminated = (status.get("state") or {}).get("terminated")
        if terminated is None and standalone and status.get("restartCount"):
            terminated = (status.get("lastState") or {}).get("terminated")
        if terminated is None:
            continue
        code = terminated.get("exitCode")
        if name in policies and code not in policies[name]:
            continue  # restarted by its restart policy: the task goes on
        return name, code
    return None


def failure_containers(pod: Mapping[str, Any]) -> list[str]:
    """The containers of a service's pod whose restarts are the ends of its task (for the
    deployment's failed tasks and its circuit breaker): each of their restarts is one.

    With ``RestartAllContainers`` (translate.lifecycle) an essential container's exit restarts
    every container once: one regular container that restarts in no other way stands for them
    all (the one restarted most: a container still waiting to start is not restarted; every
    task has an essential regular container). Otherwise an essential container is restarted
    alone by the pod's ``Always``: every regular container without a restart policy of its
    own. A restart by an ECS restart policy never ends the task. Names are of
    ``spec.containers`` (``status.containerStatuses``) only.
    """
    spec = pod.get("spec") or {}
    statuses = _statuses(pod)
    policies = restart_policies(pod)
    containers = list(spec.get("containers") or [])
    every = [*(spec.get("initContainers") or []), *containers]
    if not any(_restarts_all(c) for c in every):
        return [c["name"] for c in containers if "restartPolicy" not in c]
    only_with_all = [c["name"] for c in containers if c["name"] not in policies and _only_with_all(c)]
    if not only_with_all:
        return []
    return [max(only_with_all, key=lambda name: int((statuses.get(name) or {}).get("restartCount") or 0))]


def task_failures(pod: Mapping[str, Any]) -> int:
    """How often the task a service's pod runs has ended while the pod lived: failure_containers."""
    statuses = _statuses(pod)
    return sum(int((statuses.get(name) or {}).get("restartCount") or 0) for name in failure_containers(pod))


def _restarts_all(container: Mapping[str, Any]) -> bool:
    return any(rule.get("action") == "RestartAllContainers" for rule in container.get("restartPolicyRules") or [])


def _only_with_all(container: Mapping[str, Any]) -> bool:
    """Whether the container is restarted only when all are: it runs once, or any exit of it
    restarts all of them."""
    rules = container.get("restartPolicyRules") or []
    if container.get("restartPolicy") == "Never":
        return not any(rule.get("action") == "Restart" for rule in rules)
    first = rules[0] if rules else {}
    matches_any = (first.get("exitCodes") or {}).get("operator") == "NotIn" and not (first.get("exitCodes") or {}).get(
        "values"
    )
    return first.get("action") == "RestartAllContainers" and matches_any


def failed_to_start(pod: Mapping[str, Any]) -> str | None:
    for status in _statuses(pod).values():
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _FAILED_TO_START:
            return f"{waiting.get('reason')}: {waiting.get('message', '')}".strip(": ")
    return None


def container_views(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    ecs_names = json.loads(annotations.get(ANNOTATION_CONTAINER_NAMES, "{}"))
    spec = pod.get("spec") or {}
    probes = {c["name"]: "readinessProbe" in c for c in [*spec.get("initContainers", []), *spec.get("containers", [])]}
    statuses = _statuses(pod)
    views = []
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        name = container["name"]
        state = (statuses.get(name) or {}).get("state") or {}
        view: dict[str, Any] = {"name": ecs_names.get(name, name), "image": container.get("image")}
        if "terminated" in state:
            view["lastStatus"] = "STOPPED"
            view["exitCode"] = state["terminated"].get("exitCode")
            view["reason"] = state["terminated"].get("reason") or ""
        elif "running" in state:
            view["lastStatus"] = "RUNNING"
        else:
            view["lastStatus"] = "PENDING"
            if (state.get("waiting") or {}).get("reason"):
                view["reason"] = state["waiting"]["reason"]
        if probes.get(name):
            ready = (statuses.get(name) or {}).get("ready")
            view["healthStatus"] = (
                "HEALTHY" if ready else ("UNHEALTHY" if view["lastStatus"] == "RUNNING" else "UNKNOWN")
            )
        else:
            view["healthStatus"] = "UNKNOWN"
        views.append(view)
    return views


def last_status(pod: Mapping[str, Any] | None) -> str:
    if pod is None:
        return "STOPPED"
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed") or essential_exit(pod) is not None:
        return "STOPPED"
    if meta.get("deletionTimestamp"):
        return "STOPPING"
    if not (pod.get("spec") or {}).get("nodeName"):
        return "PROVISIONING"
    statuses = _statuses(pod)
    essential = essential_containers(pod)
    if essential and all("running" in ((statuses.get(n) or {}).get("state") or {}) for n in essential):
        return "RUNNING"
    if any("running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {}) for s in statuses.values()):
        return "ACTIVATING"
    return "PENDING"


def on_its_way(pod: Mapping[str, Any]) -> bool:
    """A task still on its way to running that says nothing new about its service: created,
    or bound to a container instance, with no container started, waiting, failed or stopping,
    and no word from the scheduler that it cannot be placed. Its service's pendingCount may
    move; nothing else can (see views.service.progress_only)."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") not in (None, "Pending"):
        return False
    if status.get("containerStatuses") or status.get("initContainerStatuses"):
        return False
    return not any(
        c.get("type") == "PodScheduled" and c.get("status") == "False" for c in status.get("conditions") or []
    )


def health_status(containers: list[dict[str, Any]], essential: list[str], ecs_names: Mapping[str, str]) -> str:
    """Task health: UNHEALTHY if an essential container is, HEALTHY if all essential ones with a
    health check are, else UNKNOWN (as ECS)."""
    wanted = {ecs_names.get(n, n) for n in essential}
    states = [c["healthStatus"] for c in containers if c["name"] in wanted and c["healthStatus"] != "UNKNOWN"]
    if "UNHEALTHY" in states:
        return "UNHEALTHY"
    return "HEALTHY" if states else "UNKNOWN"


def started_at(pod: Mapping[str, Any]) -> str | None:
    times = [
        s["state"]["running"].get("startedAt") for s in _statuses(pod).values() if "running" in (s.get("state") or {})
    ]
    times = [t for t in times if t]
    return min(times) if times else None


def describe_task(
    pod: Mapping[str, Any],
    task_arn: str,
    task_definition_arn: str | None,
    group: str,
    started_by: str | None,
) -> dict[str, Any]:
    """One task as DescribeTasks shows it, from its pod alone.

    The tasks of services have no ECSTask object: this is their read model (and the one a
    future ListTasks/DescribeTasks API serves); ``service_task_identity`` gives their group
    and startedBy.
    """
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    names = json.loads(annotations.get(ANNOTATION_CONTAINER_NAMES, "{}"))
    containers = container_views(pod)
    task: dict[str, Any] = {
        "taskArn": task_arn,
        "taskDefinitionArn": task_definition_arn,
        "group": group,
        "startedBy": started_by,
        "lastStatus": last_status(pod),
        "desiredStatus": "STOPPED" if (pod.get("metadata") or {}).get("deletionTimestamp") else "RUNNING",
        "containers": containers,
        "healthStatus": health_status(containers, essential_containers(pod), names),
        "createdAt": (pod.get("metadata") or {}).get("creationTimestamp"),
        "startedAt": started_at(pod),
    }
    exited = essential_exit(pod)
    if exited is not None:
        task.update(stopCode="EssentialContainerExited", stoppedReason="Essential container in task exited")
    elif (pod.get("metadata") or {}).get("deletionTimestamp"):
        task.update(stopCode="ServiceSchedulerInitiated", stoppedReason="Task stopped by the service scheduler")
    return {k: v for k, v in task.items() if v is not None}


def service_task_identity(pod: Mapping[str, Any], service: str) -> tuple[str, str]:
    """``group`` and ``startedBy`` of a service's task, as ECS sets them:
    ``service:<name>`` and ``ecs-svc/<deployment id>`` (the deployment is the pod's ReplicaSet)."""
    from ecs_facade.views.deployments import deployment_id

    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    replica_set = next((o for o in owners if o.get("kind") == "ReplicaSet"), None)
    started_by = deployment_id(replica_set["uid"]) if replica_set else f"ecs-svc/{service}"
    return f"service:{service}", started_by
