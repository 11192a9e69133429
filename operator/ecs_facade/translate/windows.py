"""Windows task definitions: recognised, placed on Windows nodes, kept to what a Windows pod may hold.

A task definition is a Windows one when ``runtimePlatform.operatingSystemFamily`` is a
``WINDOWS_SERVER_*`` value, or, without an operating system family (EC2 Windows task
definitions rarely state one), when a mount point's ``containerPath`` or a host volume's
``sourcePath`` is a Windows path (``C:\\data``, ``\\\\.\\pipe\\docker_engine``).

Its pod gets ``spec.os.name: windows`` (the API server then refuses the Linux-only fields,
rather than a Windows kubelet failing the pod), ``nodeSelector kubernetes.io/os: windows``
and, for a given Windows Server version, ``node.kubernetes.io/windows-build``: process-isolated
Windows containers run only on a node of the image's build. The fields ECS documents as not
supported for Windows containers, and those Kubernetes refuses on a Windows pod, are
reported as ignored instead of set. A ``CMD-SHELL`` health check runs with ``cmd /S /C``,
the shell Docker gives it on Windows (``/bin/sh -c`` on Linux).
"""

import re
from typing import Any, Final

from ecs_facade.model.generated import ContainerDefinition
from ecs_facade.model.taskdefinition import TaskDefinition
from ecs_facade.translate import TranslationError

OS_LABEL: Final = "kubernetes.io/os"
WINDOWS_BUILD_LABEL: Final = "node.kubernetes.io/windows-build"

# runtimePlatform.operatingSystemFamily (botocore OSFamily) → the node label kubelets on
# Windows set: "major.minor.build" of the Windows Server release; FULL and CORE share a build.
WINDOWS_BUILDS: Final = {
    "WINDOWS_SERVER_2016_FULL": "10.0.14393",
    "WINDOWS_SERVER_2019_FULL": "10.0.17763",
    "WINDOWS_SERVER_2019_CORE": "10.0.17763",
    "WINDOWS_SERVER_2004_CORE": "10.0.19041",
    "WINDOWS_SERVER_20H2_CORE": "10.0.19042",
    "WINDOWS_SERVER_2022_FULL": "10.0.20348",
    "WINDOWS_SERVER_2022_CORE": "10.0.20348",
    "WINDOWS_SERVER_2025_FULL": "10.0.26100",
    "WINDOWS_SERVER_2025_CORE": "10.0.26100",
}

# The taints that keep Linux pods off Windows nodes: `os=windows` (the Kubernetes Windows
# user guide's `--register-with-taints`) and `node.kubernetes.io/os=windows` (GKE's Windows
# node pools). A Windows pod tolerates both; where they are absent this changes nothing.
WINDOWS_TOLERATIONS: Final = (
    {"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"},
)

# Docker's default shell for a Windows container (for CMD-SHELL health checks)
WINDOWS_SHELL: Final = ("cmd", "/S", "/C")

# A drive-absolute path (C:\data, c:/data) or a named pipe (\\.\pipe\docker_engine).
_WINDOWS_PATH = re.compile(r"^([A-Za-z]:[\\/]|\\\\\.\\pipe\\[^\\]+$)")

# Container fields ECS does not support for Windows containers, and what Kubernetes says.
_NOT_ON_WINDOWS_CONTAINER_FIELDS: Final = {
    "user": "a Windows container has no uid/gid; ECS does not support user for Windows containers",
    "readonlyRootFilesystem": "a Windows container needs a writable root filesystem",
    "privileged": "Windows has no privileged containers",
    "linuxParameters": "Linux kernel features do not exist on Windows",
    "systemControls": "a Windows pod cannot set sysctls",
    "dnsServers": "ECS does not support it for Windows containers",
    "dnsSearchDomains": "ECS does not support it for Windows containers",
    "extraHosts": "ECS does not support it for Windows containers",
}
_NOT_ON_WINDOWS_TASK_FIELDS: Final = {
    "pidMode": "a Windows pod cannot share the host's or the task's process namespace",
    "ipcMode": "a Windows pod cannot share the host's IPC namespace",
}


def is_windows_path(path: str | None) -> bool:
    return bool(path) and bool(_WINDOWS_PATH.match(path or ""))


def operating_system(task_definition: TaskDefinition) -> str | None:
    """``"windows"``, ``"linux"``, or None when neither the platform nor the paths say."""
    platform = task_definition.runtimePlatform
    family = platform.operatingSystemFamily if platform is not None else None
    if family:
        return "windows" if family.startswith("WINDOWS") else "linux"
    paths = [m.containerPath for c in task_definition.containerDefinitions for m in c.mountPoints or []]
    paths += [v.host.sourcePath for v in task_definition.volumes or [] if v.host is not None]
    return "windows" if any(is_windows_path(p) for p in paths) else None


def without_linux_fields(task_definition: TaskDefinition, ignored: list[str], notes: list[str]) -> TaskDefinition:
    """The task definition with the fields a Windows pod cannot hold removed, each reported in
    ``ignored``, and ``CMD-SHELL`` health checks in the Windows shell (reported in ``notes``).

    ``networkMode: host`` is refused: ECS runs Windows tasks with the default network mode or
    awsvpc, and a Windows pod has no host network (an alpha kubelet feature, deprecated)."""
    if task_definition.networkMode == "host":
        raise TranslationError(
            "networkMode host: a Windows task runs with the default network mode or awsvpc, as in ECS "
            "(a Windows pod cannot use the node's network)"
        )
    containers = [_container(c, ignored, notes) for c in task_definition.containerDefinitions]
    update: dict[str, Any] = {"containerDefinitions": containers}
    for name, why in _NOT_ON_WINDOWS_TASK_FIELDS.items():
        if getattr(task_definition, name) is not None:
            ignored.append(f"{name} (Windows: {why})")
            update[name] = None
    return task_definition.model_copy(update=update)


def _container(container: ContainerDefinition, ignored: list[str], notes: list[str]) -> ContainerDefinition:
    update: dict[str, Any] = {}
    check = container.healthCheck
    if check is not None and check.command and check.command[0] == "CMD-SHELL":
        update["healthCheck"] = check.model_copy(update={"command": ["CMD", *WINDOWS_SHELL, *check.command[1:]]})
        notes.append(
            f"containerDefinitions[{container.name}].healthCheck: CMD-SHELL runs with {' '.join(WINDOWS_SHELL)}, "
            "Docker's default Windows shell (on ECS an image's own SHELL would be used instead)"
        )
    for name, why in _NOT_ON_WINDOWS_CONTAINER_FIELDS.items():
        value = getattr(container, name)
        if value is None:
            continue
        if value:  # `privileged: false` or `[]` ask for nothing
            ignored.append(f"containerDefinitions[{container.name}].{name} (Windows: {why})")
        update[name] = None
    return container.model_copy(update=update) if update else container


def windows_scheduling(task_definition: TaskDefinition) -> dict[str, Any]:
    """The pod fields that place a Windows task: ``os``, ``nodeSelector`` and ``tolerations``."""
    platform = task_definition.runtimePlatform
    selector = {OS_LABEL: "windows"}
    build = WINDOWS_BUILDS.get(platform.operatingSystemFamily or "") if platform is not None else None
    if build is not None:
        selector[WINDOWS_BUILD_LABEL] = build
    return {"os": {"name": "windows"}, "nodeSelector": selector, "tolerations": [dict(t) for t in WINDOWS_TOLERATIONS]}


def cpu_limit(kube_container: dict[str, Any]) -> None:
    """On Windows ECS enforces a container's ``cpu`` as a quota, not a share: its request is also its limit."""
    resources = kube_container.get("resources") or {}
    cpu = (resources.get("requests") or {}).get("cpu")
    if cpu is not None:
        resources.setdefault("limits", {})["cpu"] = cpu
