"""Task volumes and mount points."""

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.taskdefinition import TranslationOptions
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
    with pytest.raises(TranslationError, match="sourceVolume 'nope' is not declared"):
        translate(container(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}]))
