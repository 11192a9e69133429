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


def essential_exit(pod: Mapping[str, Any]) -> tuple[str, int | None] | None:
    """The first essential container that has terminated, with its exit code."""
    statuses = _statuses(pod)
    for name in essential_containers(pod):
        terminated = ((statuses.get(name) or {}).get("state") or {}).get("terminated")
        if terminated is not None:
            return name, terminated.get("exitCode")
    return None


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
