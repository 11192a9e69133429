"""ECS task volumes and mount points as pod volumes and volume mounts.

- a volume with only a ``name`` (or ``host`` without ``sourcePath``) is scratch space
  shared by the task's containers: ``emptyDir``;
- ``host.sourcePath`` is a bind mount from the node: ``hostPath``, refused unless the
  operator allows it (it gives a task the node's files);
- ``dockerVolumeConfiguration`` with scope ``task`` (the default) lives as long as the task:
  ``emptyDir``; with scope ``shared`` it outlives tasks: the PersistentVolumeClaim named
  after the volume (``<volume name>``, lower-cased, ``_`` → ``-``) in the namespace;
- ``efsVolumeConfiguration``: the PersistentVolumeClaim ``efs-<fileSystemId>``, with
  ``rootDirectory`` as the mounts' ``subPath``.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_facade.model.generated import ContainerDefinition, Volume
from ecs_facade.translate import TranslationError

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def volume_name(ecs_name: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", ecs_name.lower()).strip("-")[:63].rstrip("-")
    if not _LABEL.match(name):
        raise TranslationError(f"volume name {ecs_name!r} has no letters or digits")
    return name


@dataclass
class TaskVolumes:
    pod_volumes: list[dict[str, Any]] = field(default_factory=list)
    sub_paths: dict[str, str] = field(default_factory=dict)  # ECS volume name -> subPath
    kube_names: dict[str, str] = field(default_factory=dict)  # ECS volume name -> pod volume name
    ignored: list[str] = field(default_factory=list)


def task_volumes(volumes: Sequence[Volume], allow_host_path: bool) -> TaskVolumes:
    result = TaskVolumes()
    seen: dict[str, str] = {}
    for volume in volumes:
        kube = volume_name(volume.name or "")
        if kube in seen:
            raise TranslationError(f"volumes {seen[kube]!r} and {volume.name!r} have the same Kubernetes name {kube!r}")
        seen[kube] = volume.name or ""
        result.kube_names[volume.name or ""] = kube
        where = f"volumes[{volume.name}]"
        if volume.host is not None and volume.host.sourcePath:
            if not allow_host_path:
                raise TranslationError(
                    f"{where}.host.sourcePath {volume.host.sourcePath!r}: host volumes are disabled "
                    "(they expose the node's files); the operator setting ECS_FACADE_ALLOW_HOST_PATH enables them"
                )
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
    for mount in container.mountPoints or []:
        mounts.append(_mount(container.name, mount.sourceVolume, mount.containerPath, mount.readOnly, volumes))
    for source in container.volumesFrom or []:
        other = by_name.get(source.sourceContainer or "")
        if other is None:
            raise TranslationError(
                f"containerDefinitions[{container.name}].volumesFrom names {source.sourceContainer!r}, "
                "which is not a container of this task definition"
            )
        for mount in other.mountPoints or []:
            read_only = source.readOnly if source.readOnly is not None else mount.readOnly
            mounts.append(_mount(container.name, mount.sourceVolume, mount.containerPath, read_only, volumes))
    return mounts


def _mount(
    container: str, source: str | None, path: str | None, read_only: bool | None, volumes: TaskVolumes
) -> dict[str, Any]:
    if not source or source not in volumes.kube_names:
        raise TranslationError(
            f"containerDefinitions[{container}].mountPoints sourceVolume {source!r} is not declared in volumes"
        )
    if not path or not path.startswith("/"):
        raise TranslationError(
            f"containerDefinitions[{container}].mountPoints containerPath {path!r} is not an absolute path"
        )
    mount: dict[str, Any] = {"name": volumes.kube_names[source], "mountPath": path}
    if read_only:
        mount["readOnly"] = True
    if source in volumes.sub_paths:
        mount["subPath"] = volumes.sub_paths[source]
    return mount
