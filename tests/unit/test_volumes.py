"""Task volumes and mount points."""

from typing import Any

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.taskdefinition import TranslationOptions
from ecs_facade.translate.volumes import HostPathDisabled
from tests.unit.helpers import all_containers, container, only_container, translate


def test_scratch_volume_is_an_empty_dir_shared_by_containers() -> None:
    translation = translate(
        container(name="a", mountPoints=[{"sourceVolume": "Shared_Data", "containerPath": "/data"}]),
        container(name="b", mountPoints=[{"sourceVolume": "Shared_Data", "containerPath": "/in", "readOnly": True}]),
        volumes=[{"name": "Shared_Data"}],
    )
    assert translation.pod_spec["volumes"] == [{"name": "shared-data", "emptyDir": {}}]
    containers = all_containers(translation)
    assert containers["a"]["volumeMounts"] == [{"name": "shared-data", "mountPath": "/data"}]
    assert containers["b"]["volumeMounts"] == [{"name": "shared-data", "mountPath": "/in", "readOnly": True}]


def test_volumes_from_mounts_the_other_containers_volumes() -> None:
    translation = translate(
        container(name="a", mountPoints=[{"sourceVolume": "v", "containerPath": "/data"}]),
        container(name="b", volumesFrom=[{"sourceContainer": "a", "readOnly": True}]),
        volumes=[{"name": "v"}],
    )
    assert all_containers(translation)["b"]["volumeMounts"] == [{"name": "v", "mountPath": "/data", "readOnly": True}]


def test_host_path_is_refused_by_default() -> None:
    with pytest.raises(TranslationError, match="host volumes are disabled"):
        translate(container(), volumes=[{"name": "logs", "host": {"sourcePath": "/var/log"}}])


def test_host_path_refusal_lets_the_caller_name_what_enables_it() -> None:
    with pytest.raises(HostPathDisabled) as error:
        translate(container(), volumes=[{"name": "logs", "host": {"sourcePath": "/var/log"}}])
    assert str(error.value) == (
        "volumes[logs].host.sourcePath '/var/log': host volumes are disabled (they expose the node's files); "
        "the operator setting ECS_FACADE_ALLOW_HOST_PATH=true enables them"
    )
    assert str(error.value.enabled_by("the flag --allow-host-path")) == (
        "volumes[logs].host.sourcePath '/var/log': host volumes are disabled (they expose the node's files); "
        "the flag --allow-host-path enables them"
    )


def test_host_path_when_allowed() -> None:
    translation = translate(
        container(mountPoints=[{"sourceVolume": "logs", "containerPath": "/host/logs"}]),
        volumes=[{"name": "logs", "host": {"sourcePath": "/var/log"}}],
        options=TranslationOptions(allow_host_path=True),
    )
    assert translation.pod_spec["volumes"] == [{"name": "logs", "hostPath": {"path": "/var/log"}}]


def test_efs_is_a_claim_named_after_the_file_system_with_root_as_sub_path() -> None:
    translation = translate(
        container(mountPoints=[{"sourceVolume": "content", "containerPath": "/usr/share/nginx/html"}]),
        volumes=[
            {
                "name": "content",
                "efsVolumeConfiguration": {
                    "fileSystemId": "fs-0123ABCD",
                    "rootDirectory": "/sites/www",
                    "transitEncryption": "ENABLED",
                },
            }
        ],
    )
    assert translation.pod_spec["volumes"] == [
        {"name": "content", "persistentVolumeClaim": {"claimName": "efs-fs-0123abcd"}}
    ]
    assert only_container(translation)["volumeMounts"] == [
        {"name": "content", "mountPath": "/usr/share/nginx/html", "subPath": "sites/www"}
    ]
    assert any("transitEncryption" in line for line in translation.ignored)


def test_docker_volumes_task_scope_is_scratch_shared_scope_is_a_claim() -> None:
    translation = translate(
        container(),
        volumes=[
            {"name": "cache", "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}},
            {"name": "db_data", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}},
        ],
    )
    assert translation.pod_spec["volumes"] == [
        {"name": "cache", "emptyDir": {}},
        {"name": "db-data", "persistentVolumeClaim": {"claimName": "db-data"}},
    ]
    assert translation.ignored == []


def test_mount_of_an_undeclared_volume_is_an_error() -> None:
    with pytest.raises(TranslationError, match=r"mountPoints\[0\].sourceVolume: 'nope' is not declared in volumes"):
        translate(container(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}]))


@pytest.mark.parametrize("path", ["C:\\inetpub\\logs", "c:\\data", "D:/cache", "\\\\.\\pipe\\docker_engine", "/data"])
def test_windows_and_slash_paths_are_absolute_on_a_windows_task(path: str) -> None:
    translation = translate(
        container(mountPoints=[{"sourceVolume": "v", "containerPath": path}]),
        volumes=[{"name": "v"}],
        runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"},
    )
    assert only_container(translation)["volumeMounts"] == [{"name": "v", "mountPath": path}]


@pytest.mark.parametrize("path", ["data", "C:data", "\\\\server\\share", "\\\\.\\pipe\\"])
def test_relative_paths_are_refused_on_a_windows_task(path: str) -> None:
    with pytest.raises(TranslationError) as error:
        translate(
            container(mountPoints=[{"sourceVolume": "v", "containerPath": path}]),
            volumes=[{"name": "v"}],
            runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"},
        )
    assert str(error.value) == (
        f"containerDefinitions[app].mountPoints[0].containerPath: {path!r} is not an absolute path "
        "(expected /path, C:\\path or \\\\.\\pipe\\name)"
    )


def test_a_relative_path_on_a_linux_task_names_the_linux_form() -> None:
    with pytest.raises(TranslationError, match=r"containerPath: 'data' is not an absolute path \(expected /path\)$"):
        translate(container(mountPoints=[{"sourceVolume": "v", "containerPath": "data"}]), volumes=[{"name": "v"}])


def test_windows_paths_on_a_linux_task_are_refused() -> None:
    linux: dict[str, Any] = {"runtimePlatform": {"operatingSystemFamily": "LINUX"}}
    with pytest.raises(TranslationError) as error:
        translate(
            container(mountPoints=[{"sourceVolume": "v", "containerPath": "C:\\data"}]),
            volumes=[{"name": "v"}],
            **linux,
        )
    assert str(error.value) == (
        "containerDefinitions[app].mountPoints[0].containerPath: 'C:\\\\data' is a Windows path, "
        "but runtimePlatform.operatingSystemFamily is LINUX"
    )
    with pytest.raises(TranslationError, match=r"^volumes\[pipe\]\.host\.sourcePath .* is a Windows path"):
        translate(
            container(),
            volumes=[{"name": "pipe", "host": {"sourcePath": "\\\\.\\pipe\\docker_engine"}}],
            options=TranslationOptions(allow_host_path=True),
            **linux,
        )


def test_windows_named_pipe_host_volume_is_a_host_path() -> None:
    pipe = "\\\\.\\pipe\\docker_engine"
    translation = translate(
        container(mountPoints=[{"sourceVolume": "engine", "containerPath": pipe}]),
        volumes=[{"name": "engine", "host": {"sourcePath": pipe}}],
        options=TranslationOptions(allow_host_path=True),
    )
    assert translation.pod_spec["volumes"] == [{"name": "engine", "hostPath": {"path": pipe}}]
    assert only_container(translation)["volumeMounts"] == [{"name": "engine", "mountPath": pipe}]
    assert translation.pod_spec["nodeSelector"] == {"kubernetes.io/os": "windows"}
