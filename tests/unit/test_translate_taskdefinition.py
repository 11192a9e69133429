"""The one translator, field by field: one test (or more) per row of docs/mapping.md."""

from typing import Any

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.taskdefinition import TranslationOptions
from tests.unit.helpers import all_containers, container, only_container, translate


def test_name_and_image() -> None:
    result = only_container(translate(container(memory=None, memoryReservation=None), memory="512"))
    assert result == {"name": "app", "image": "nginx:1.27"}


def test_entry_point_is_kubernetes_command_and_command_is_args() -> None:
    result = only_container(translate(container(entryPoint=["/bin/sh", "-c"], command=["echo hi"])))
    assert result["command"] == ["/bin/sh", "-c"]
    assert result["args"] == ["echo hi"]


def test_command_alone_keeps_the_image_entrypoint() -> None:
    result = only_container(translate(container(command=["--port", "8080"])))
    assert "command" not in result
    assert result["args"] == ["--port", "8080"]


def test_environment_keeps_order_and_empty_values() -> None:
    result = only_container(translate(container(environment=[{"name": "B", "value": "2"}, {"name": "A"}])))
    assert result["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": ""}]


def test_working_directory() -> None:
    assert only_container(translate(container(workingDirectory="/srv")))["workingDir"] == "/srv"


def test_port_mappings() -> None:
    result = only_container(
        translate(
            container(
                portMappings=[
                    {"containerPort": 80, "protocol": "tcp", "name": "http"},
                    {"containerPort": 53, "protocol": "udp"},
                    {"containerPort": 8080, "hostPort": 0, "name": "a_name_far_too_long_for_kubernetes"},
                    {"containerPort": 9090, "hostPort": 9090},
                ]
            )
        )
    )
    assert result["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 53, "protocol": "UDP"},
        {"containerPort": 8080, "protocol": "TCP"},
        {"containerPort": 9090, "protocol": "TCP", "hostPort": 9090},
    ]


def test_cpu_units_are_a_request_only() -> None:
    assert only_container(translate(container(cpu=256, memory=None), memory="512"))["resources"] == {
        "requests": {"cpu": "250m"}
    }


def test_memory_hard_limit_is_limit_and_request() -> None:
    assert only_container(translate(container(memory=512)))["resources"] == {
        "requests": {"memory": "512Mi"},
        "limits": {"memory": "512Mi"},
    }


def test_memory_reservation_is_the_request() -> None:
    assert only_container(translate(container(memory=512, memoryReservation=128)))["resources"] == {
        "requests": {"memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }


def test_gpu_resource_requirement_is_a_limit() -> None:
    result = only_container(translate(container(resourceRequirements=[{"type": "GPU", "value": "2"}])))
    assert result["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_task_level_cpu_and_memory_are_pod_level_resources() -> None:
    spec = translate(container(), cpu="1 vCPU", memory="2 GB").pod_spec
    assert spec["resources"] == {
        "requests": {"cpu": "1000m", "memory": "2048Mi"},
        "limits": {"cpu": "1000m", "memory": "2048Mi"},
    }


def test_task_level_resources_split_without_pod_level_resources() -> None:
    options = TranslationOptions(pod_level_resources=False)
    translation = translate(
        {"name": "a", "image": "x", "cpu": 256},
        {"name": "b", "image": "y"},
        {"name": "c", "image": "z"},
        cpu="1024",
        memory="1024",
        options=options,
    )
    containers = {c["name"]: c["resources"] for c in translation.pod_spec["containers"]}
    assert "resources" not in translation.pod_spec
    assert containers["a"]["requests"] == {"cpu": "250m", "memory": "341Mi"}
    assert containers["b"]["requests"] == {"cpu": "500m", "memory": "341Mi"}
    assert all(r["limits"] == {"memory": "1024Mi"} for r in containers.values())


def test_user_uid_and_gid_run_as() -> None:
    security = only_container(translate(container(user="1000:2000")))["securityContext"]
    assert security == {"runAsUser": 1000, "runAsGroup": 2000}


def test_user_name_is_a_note_not_an_error() -> None:
    translation = translate(container(user="nginx"))
    assert "securityContext" not in only_container(translation)
    assert any("'nginx' is a name" in note for note in translation.notes)


def test_malformed_user_is_an_error() -> None:
    with pytest.raises(TranslationError, match="user"):
        translate(container(user="a:b:c"))


def test_read_only_root_privileged_and_capabilities() -> None:
    security = only_container(
        translate(
            container(
                readonlyRootFilesystem=True,
                privileged=True,
                linuxParameters={"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}},
            )
        )
    )["securityContext"]
    assert security == {
        "readOnlyRootFilesystem": True,
        "privileged": True,
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
    }


def test_init_process_shares_the_process_namespace() -> None:
    assert translate(container(linuxParameters={"initProcessEnabled": True})).pod_spec["shareProcessNamespace"]


def test_shared_memory_and_tmpfs_are_memory_backed_empty_dirs() -> None:
    translation = translate(
        container(linuxParameters={"sharedMemorySize": 64, "tmpfs": [{"containerPath": "/scratch", "size": 128}]})
    )
    volumes = {v["name"]: v for v in translation.pod_spec["volumes"]}
    assert volumes["tmpfs-app-dev-shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    assert volumes["tmpfs-app-scratch"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "128Mi"}
    mounts = only_container(translation)["volumeMounts"]
    assert {"name": "tmpfs-app-dev-shm", "mountPath": "/dev/shm"} in mounts
    assert {"name": "tmpfs-app-scratch", "mountPath": "/scratch"} in mounts


def test_docker_labels_are_pod_annotations() -> None:
    translation = translate(container(dockerLabels={"com.datadoghq.ad.check_names": '["nginx"]', "bad key!": "x"}))
    assert translation.annotations["com.datadoghq.ad.check_names"] == '["nginx"]'
    assert "bad key!" not in translation.annotations
    assert any("dockerLabels[bad key!]" in line for line in translation.ignored)


def test_stop_timeout_is_the_grace_period() -> None:
    spec = translate(container(stopTimeout=90), {"name": "b", "image": "x", "memory": 64, "stopTimeout": 10}).pod_spec
    assert spec["terminationGracePeriodSeconds"] == 90


def test_interactive_and_pseudo_terminal() -> None:
    result = only_container(translate(container(interactive=True, pseudoTerminal=True)))
    assert (result["stdin"], result["tty"]) == (True, True)


def test_extra_hosts_dns_and_sysctls_are_pod_level() -> None:
    spec = translate(
        container(
            extraHosts=[{"hostname": "db", "ipAddress": "10.0.0.5"}, {"hostname": "db2", "ipAddress": "10.0.0.5"}],
            dnsServers=["10.0.0.2"],
            dnsSearchDomains=["corp.internal"],
            systemControls=[{"namespace": "net.core.somaxconn", "value": "1024"}],
        )
    ).pod_spec
    assert spec["hostAliases"] == [{"ip": "10.0.0.5", "hostnames": ["db", "db2"]}]
    assert spec["dnsConfig"] == {"nameservers": ["10.0.0.2"], "searches": ["corp.internal"]}
    assert spec["securityContext"]["sysctls"] == [{"name": "net.core.somaxconn", "value": "1024"}]


def test_hostname_of_one_container_is_the_pod_hostname() -> None:
    assert translate(container(hostname="web-1")).pod_spec["hostname"] == "web-1"


@pytest.mark.parametrize(
    "field",
    ["ulimits", "logConfiguration", "dockerSecurityOptions", "links", "startTimeout", "environmentFiles"],
)
def test_inexpressible_container_fields_are_reported_not_dropped(field: str) -> None:
    values = {
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
        "dockerSecurityOptions": ["no-new-privileges"],
        "links": ["db"],
        "startTimeout": 60,
        "environmentFiles": [{"value": "arn:aws:s3:::bucket/app.env", "type": "s3"}],
    }
    translation = translate(container(**{field: values[field]}))
    assert any(line.startswith(f"containerDefinitions[app].{field} ") for line in translation.ignored)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("executionRoleArn", "arn:aws:iam::123456789012:role/exec"),
        ("ephemeralStorage", {"sizeInGiB": 50}),
        ("proxyConfiguration", {"containerName": "app", "type": "APPMESH"}),
    ],
)
def test_inexpressible_task_fields_are_reported(field: str, value: object) -> None:
    task: dict[str, Any] = {field: value}
    assert any(line.startswith(f"{field} ") for line in translate(container(), **task).ignored)


def test_network_mode_host() -> None:
    spec = translate(container(), networkMode="host").pod_spec
    assert (spec["hostNetwork"], spec["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")


@pytest.mark.parametrize("mode", ["awsvpc", "bridge"])
def test_network_modes_with_a_pod_network(mode: str) -> None:
    translation = translate(container(), networkMode=mode)
    assert "hostNetwork" not in translation.pod_spec
    assert translation.ignored == []


def test_pid_and_ipc_modes() -> None:
    assert translate(container(), pidMode="task").pod_spec["shareProcessNamespace"] is True
    spec = translate(container(), pidMode="host", ipcMode="host").pod_spec
    assert (spec["hostPID"], spec["hostIPC"]) == (True, True)


def test_task_role_is_a_service_account_per_role() -> None:
    translation = translate(container(), taskRoleArn="arn:aws:iam::123456789012:role/Web_Role")
    assert translation.pod_spec["serviceAccountName"] == "ecs-task-role-web-role"
    (account,) = translation.service_accounts
    assert account["metadata"] == {
        "name": "ecs-task-role-web-role",
        "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/Web_Role"},
    }


def test_runtime_platform_is_a_node_selector() -> None:
    spec = translate(container(), runtimePlatform={"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"})
    assert spec.pod_spec["nodeSelector"] == {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}


def test_member_of_placement_constraint_is_node_affinity() -> None:
    spec = translate(
        container(),
        placementConstraints=[{"type": "memberOf", "expression": "attribute:ecs.instance-type == m5.xlarge"}],
    ).pod_spec
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.xlarge"]}]}
    ]


def test_regex_placement_constraint_is_an_error() -> None:
    with pytest.raises(TranslationError, match="regular expression"):
        translate(container(), placementConstraints=[{"type": "memberOf", "expression": "attribute:x =~ t2.*"}])


def test_container_names_become_dns_labels() -> None:
    assert only_container(translate(container(name="My_App")))["name"] == "my-app"


def test_container_name_that_cannot_be_a_label_is_an_error() -> None:
    with pytest.raises(TranslationError, match="_app"):
        translate(container(name="_app"))


def test_colliding_container_names_are_an_error() -> None:
    with pytest.raises(TranslationError, match="collide"):
        translate(container(name="a_b"), container(name="A-B"))


def test_container_name_mapping_and_essential_list_are_annotated() -> None:
    translation = translate(container(name="Web_App"), container(name="log", essential=False))
    assert translation.annotations["ecs.facade.dev/essential-containers"] == "web-app"
    assert translation.annotations["ecs.facade.dev/container-names"] == '{"log":"log","web-app":"Web_App"}'


def test_null_means_absent() -> None:
    result = only_container(translate(container(essential=None, cpu=None, environment=None, portMappings=None)))
    assert result == {
        "name": "app",
        "image": "nginx:1.27",
        "resources": {"requests": {"memory": "256Mi"}, "limits": {"memory": "256Mi"}},
    }


def test_essential_containers_keep_their_order() -> None:
    translation = translate(container(name="b"), container(name="a"))
    assert [c["name"] for c in translation.pod_spec["containers"]] == ["b", "a"]
    assert "initContainers" not in translation.pod_spec


def test_every_container_is_somewhere() -> None:
    translation = translate(container(name="a"), container(name="b", essential=False))
    assert set(all_containers(translation)) == {"a", "b"}


def test_network_mode_none_and_ipc_mode_none_are_reported() -> None:
    ignored = translate(container(), networkMode="none", ipcMode="none").ignored
    assert any(line.startswith("networkMode none") for line in ignored)
    assert any(line.startswith("ipcMode none") for line in ignored)


def test_other_resource_requirements_are_reported() -> None:
    translation = translate(container(resourceRequirements=[{"type": "InferenceAccelerator", "value": "dev1"}]))
    assert "containerDefinitions[app].resourceRequirements[InferenceAccelerator] (no Kubernetes resource)" in (
        translation.ignored
    )
