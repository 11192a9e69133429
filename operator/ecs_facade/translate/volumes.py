"""ECS task volumes and mount points as pod volumes and volume mounts.

- a volume with only a ``name`` (or ``host`` without ``sourcePath``) is scratch space
  shared by the task's containers: ``emptyDir``;
- ``host.sourcePath`` is a bind mount from the node: ``hostPath``, refused unless the
  caller allows it (it gives a task the node's files; ``HostPathDisabled`` lets the caller
  say how: the operator's setting, ``render``'s flag);
- ``dockerVolumeConfiguration`` with scope ``task`` (the default) lives as long as the task:
  ``emptyDir``; with scope ``shared`` it outlives tasks: the PersistentVolumeClaim named
  after the volume (``<volume name>``, lower-cased, ``_`` → ``-``) in the namespace;
- ``efsVolumeConfiguration``: the PersistentVolumeClaim ``efs-<fileSystemId>``, with
  ``rootDirectory`` as the mounts' ``subPath``.

Mount paths are absolute: ``/...``, and on a Windows task also ``C:\\...`` and named pipes
(``\\\\.\\pipe\\name``), as Kubernetes accepts them on Windows nodes.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_facade.model.generated import ContainerDefinition, Volume
from ecs_facade.translate import TranslationError
from ecs_facade.translate.windows import is_windows_path

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_WINDOWS_ABSOLUTE = r"/path, C:\path or \\.\pipe\name"


def volume_name(ecs_name: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", ecs_name.lower()).strip("-")[:63].rstrip("-")
    if not _LABEL.match(name):
        raise TranslationError(f"volume name {ecs_name!r} has no letters or digits")
    return name


OPERATOR_HOST_PATH_SETTING = "the operator setting ECS_FACADE_ALLOW_HOST_PATH=true"


class HostPathDisabled(TranslationError):
    """A host volume while host volumes are disabled. What enables them depends on who
    translates, so the caller may name it (``enabled_by``); the default names the operator's
    setting, since the operator is what runs tasks."""

    def __init__(self, where: str, path: str, enabled_by: str = OPERATOR_HOST_PATH_SETTING) -> None:
        self.where, self.path = where, path
        super().__init__(
            f"{where}.host.sourcePath {path!r}: host volumes are disabled (they expose the node's files); "
            f"{enabled_by} enables them"
        )

    def enabled_by(self, how: str) -> "HostPathDisabled":
        """The same refusal, naming ``how`` host volumes are enabled (e.g. a command's flag)."""
        return HostPathDisabled(self.where, self.path, how)


@dataclass
class TaskVolumes:
    pod_volumes: list[dict[str, Any]] = field(default_factory=list)
    sub_paths: dict[str, str] = field(default_factory=dict)  # ECS volume name -> subPath
    kube_names: dict[str, str] = field(default_factory=dict)  # ECS volume name -> pod volume name
    ignored: list[str] = field(default_factory=list)
    windows: bool = False  # Windows paths are absolute


def task_volumes(volumes: Sequence[Volume], allow_host_path: bool, windows: bool = False) -> TaskVolumes:
    result = TaskVolumes(windows=windows)
    seen: dict[str, str] = {}
    for volume in volumes:
        kube = volume_name(volume.name or "")
        if kube in seen:
            raise TranslationError(f"volumes {seen[kube]!r} and {volume.name!r} have the same Kubernetes name {kube!r}")
        seen[kube] = volume.name or ""
        result.kube_names[volume.name or ""] = kube
        where = f"volumes[{volume.name}]"
        if volume.host is not None and volume.host.sourcePath:
            if is_windows_path(volume.host.sourcePath) and not windows:
                raise TranslationError(
                    f"{where}.host.sourcePath {volume.host.sourcePath!r} is a Windows path, "
                    "but runtimePlatform.operatingSystemFamily is LINUX"
                )
            if not allow_host_path:
                raise HostPathDisabled(where, volume.host.sourcePath)
            result.pod_volumes.append({"name": kube, "hostPath": {"path": volume.host.sourcePath}})
        elif volume.efsVolumeConfiguration is not None:
            efs = volume.efsVolumeConfiguration
            claim = f"efs-{efs.fileSystemId.lower()}"
            result.pod_volumes.append({"name": kube, "persistentVolumeClaim": {"claimName": claim}})
            root = (efs.rootDirectory or "/").strip("/")
            if root:
                result.sub_paths[volume.name or ""] = root
            extras = [
                k
                for k in ("transitEncryption", "transitEncryptionPort", "authorizationConfig")
                if getattr(efs, k) is not None
            ]
            if extras:
                result.ignored.append(
                    f"{where}.efsVolumeConfiguration.{{{', '.join(extras)}}} (set them on the PersistentVolume)"
                )
        elif volume.dockerVolumeConfiguration is not None:
            docker = volume.dockerVolumeConfiguration
            if docker.scope == "shared":
                result.pod_volumes.append({"name": kube, "persistentVolumeClaim": {"claimName": kube}})
            else:
                result.pod_volumes.append({"name": kube, "emptyDir": {}})
            extras = [k for k in ("driver", "driverOpts", "labels") if getattr(docker, k)]
            if docker.driver in (None, "local") and extras == ["driver"]:
                extras = []
            if extras:
                result.ignored.append(
                    f"{where}.dockerVolumeConfiguration.{{{', '.join(extras)}}} (Docker volume drivers)"
                )
        elif volume.fsxWindowsFileServerVolumeConfiguration is not None:
            raise TranslationError(f"{where}: FSx for Windows File Server volumes are not supported")
        elif getattr(volume, "s3filesVolumeConfiguration", None) is not None:
            raise TranslationError(f"{where}: S3 Files volumes are not supported")
        elif volume.configuredAtLaunch:
            raise TranslationError(f"{where}: volumes configured at launch (EBS) are not supported")
        else:
            result.pod_volumes.append({"name": kube, "emptyDir": {}})
    return result


def volume_mounts(
    container: ContainerDefinition,
    by_name: dict[str, ContainerDefinition],
    volumes: TaskVolumes,
) -> list[dict[str, Any]]:
    """The container's mountPoints, then the mounts of every container in its volumesFrom."""
    mounts: list[dict[str, Any]] = []
    for index, mount in enumerate(container.mountPoints or []):
        where = f"containerDefinitions[{container.name}].mountPoints[{index}]"
        mounts.append(_mount(where, mount.sourceVolume, mount.containerPath, mount.readOnly, volumes))
    for source in container.volumesFrom or []:
        other = by_name.get(source.sourceContainer or "")
        if other is None:
            raise TranslationError(
                f"containerDefinitions[{container.name}].volumesFrom names {source.sourceContainer!r}, "
                "which is not a container of this task definition"
            )
        for index, mount in enumerate(other.mountPoints or []):
            read_only = source.readOnly if source.readOnly is not None else mount.readOnly
            where = f"containerDefinitions[{other.name}].mountPoints[{index}]"
            mounts.append(_mount(where, mount.sourceVolume, mount.containerPath, read_only, volumes))
    return mounts


def _mount(
    where: str, source: str | None, path: str | None, read_only: bool | None, volumes: TaskVolumes
) -> dict[str, Any]:
    """One mount point; ``where`` is its field path (``containerDefinitions[NAME].mountPoints[i]``)."""
    if not source or source not in volumes.kube_names:
        declared = ", ".join(sorted(volumes.kube_names)) or "none"
        raise TranslationError(
            f"{where}.sourceVolume: {source!r} is not declared in volumes; expected the name of one of the "
            f"task definition's volumes (declared: {declared})"
        )
    if path and is_windows_path(path) and not volumes.windows:
        raise TranslationError(
            f"{where}.containerPath: {path!r} is a Windows path, but runtimePlatform.operatingSystemFamily is LINUX"
        )
    if not path or not (path.startswith("/") or is_windows_path(path)):
        expected = _WINDOWS_ABSOLUTE if volumes.windows else "/path"
        raise TranslationError(f"{where}.containerPath: {path!r} is not an absolute path (expected {expected})")
    mount: dict[str, Any] = {"name": volumes.kube_names[source], "mountPath": path}
    if read_only:
        mount["readOnly"] = True
    if source in volumes.sub_paths:
        mount["subPath"] = volumes.sub_paths[source]
    return mount
