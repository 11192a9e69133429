"""The one translator, field by field: one test (or more) per row of docs/mapping.md."""

import re
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
        {"containerPort": 8080, "protocol": "TCP", "name": "a-name-far-8e98"},
        {"containerPort": 9090, "protocol": "TCP", "hostPort": 9090},
    ]


def test_awsvpc_host_port_is_the_tasks_own_port_not_the_nodes() -> None:
    # every Fargate describe-task-definition output has hostPort == containerPort
    result = only_container(
        translate(
            container(portMappings=[{"containerPort": 8080, "hostPort": 8080}, {"containerPort": 9090}]),
            networkMode="awsvpc",
        )
    )
    assert result["ports"] == [
        {"containerPort": 8080, "protocol": "TCP"},
        {"containerPort": 9090, "protocol": "TCP"},
    ]


@pytest.mark.parametrize("mode", ["awsvpc", "host"])
def test_host_port_other_than_container_port_is_refused_where_ecs_refuses_it(mode: str) -> None:
    with pytest.raises(TranslationError) as error:
        translate(container(portMappings=[{"containerPort": 8080, "hostPort": 80}]), networkMode=mode)
    assert str(error.value) == (
        f"containerDefinitions[app].portMappings[0].hostPort: 80 differs from containerPort 8080; "
        f"in {mode} network mode hostPort must equal containerPort or be omitted"
    )


def test_host_mode_container_ports_are_node_ports() -> None:
    spec = translate(
        container(portMappings=[{"containerPort": 9100, "hostPort": 9100}, {"containerPort": 9101}]),
        networkMode="host",
    ).pod_spec
    # what the API server sets on a hostNetwork pod, and what keeps two such tasks off one node
    assert spec["containers"][0]["ports"] == [
        {"containerPort": 9100, "protocol": "TCP", "hostPort": 9100},
        {"containerPort": 9101, "protocol": "TCP", "hostPort": 9101},
    ]


@pytest.mark.parametrize("mode", [None, "bridge"])
def test_bridge_fixed_host_port_is_a_node_port_and_dynamic_is_none(mode: str | None) -> None:
    task: dict[str, Any] = {"networkMode": mode} if mode else {}
    result = only_container(
        translate(
            container(
                portMappings=[
                    {"containerPort": 8080, "hostPort": 80},
                    {"containerPort": 8404, "hostPort": 0},
                    {"containerPort": 9102},
                ]
            ),
            **task,
        )
    )
    assert result["ports"] == [
        {"containerPort": 8080, "protocol": "TCP", "hostPort": 80},
        {"containerPort": 8404, "protocol": "TCP"},
        {"containerPort": 9102, "protocol": "TCP"},
    ]


def test_a_long_port_name_is_shortened_deterministically_and_reported() -> None:
    mappings = [
        {"containerPort": 8080, "name": "orders-api-http-8080"},
        {"containerPort": 9090, "name": "orders-api-grpc-9090"},
    ]
    translation = translate(container(portMappings=mappings))
    names = [p["name"] for p in only_container(translation)["ports"]]
    # a shared prefix, told apart by the hash of the ECS name; the same on every translation
    assert names == ["orders-api-2ea1", "orders-api-f67b"]
    assert [p["name"] for p in only_container(translate(container(portMappings=mappings)))["ports"]] == names
    assert translation.notes == [
        "containerDefinitions[app].portMappings[0].name 'orders-api-http-8080' is not a Kubernetes port name "
        "(at most 15 characters of a-z, 0-9 and single '-', unique in the pod): the port is named 'orders-api-2ea1'",
        "containerDefinitions[app].portMappings[1].name 'orders-api-grpc-9090' is not a Kubernetes port name "
        "(at most 15 characters of a-z, 0-9 and single '-', unique in the pod): the port is named 'orders-api-f67b'",
    ]


@pytest.mark.parametrize(
    ("ecs_name", "kube_name"),
    [
        ("http", "http"),
        ("Web_Port", "web-port"),  # lower case and '-' for '_' are not worth a note
        ("a--b", "a-b"),
        ("_metrics_", "metrics"),
        ("8080", "8080-6c23"),  # a port name needs a letter: the hash has one
        ("7", "p7-7902"),  # or 'p' gives one
        ("123456789012345678", "1234567890-37f9"),
    ],
)
def test_port_names_are_valid_kubernetes_port_names(ecs_name: str, kube_name: str) -> None:
    (port,) = only_container(translate(container(portMappings=[{"containerPort": 80, "name": ecs_name}])))["ports"]
    assert port["name"] == kube_name
    assert re.fullmatch(r"(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?", kube_name) and "--" not in kube_name
    assert len(kube_name) <= 15


def test_port_names_are_unique_in_the_pod() -> None:
    translation = translate(
        container(name="a", portMappings=[{"containerPort": 8080, "name": "http"}]),
        container(
            name="b", portMappings=[{"containerPort": 8081, "name": "http"}, {"containerPort": 8082, "name": "HTTP"}]
        ),
    )
    containers = all_containers(translation)
    names = [p["name"] for c in ("a", "b") for p in containers[c]["ports"]]
    assert names[0] == "http" and len(set(names)) == 3
    assert len(translation.notes) == 2


def test_app_protocols_are_annotated_by_port() -> None:
    translation = translate(
        container(
            name="Api",
            portMappings=[
                {"containerPort": 8080, "appProtocol": "http"},
                {"containerPort": 9090, "protocol": "tcp", "appProtocol": "grpc"},
                {"containerPort": 9100},
            ],
        )
    )
    assert translation.annotations["ecs.facade.dev/app-protocols"] == '{"api:8080/TCP":"http","api:9090/TCP":"grpc"}'
    assert "ecs.facade.dev/app-protocols" not in translate(container()).annotations


def test_container_port_range_is_reported() -> None:
    translation = translate(container(portMappings=[{"containerPortRange": "10000-10100", "protocol": "udp"}]))
    assert "ports" not in only_container(translation)
    assert translation.ignored == [
        "containerDefinitions[app].portMappings[0].containerPortRange '10000-10100' "
        "(a pod lists single ports; every port of the pod's IP is reachable without one)"
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
    # b and c share what a leaves (750m), not the whole task each
    assert containers["b"]["requests"] == {"cpu": "375m", "memory": "341Mi"}
    assert containers["c"]["requests"] == {"cpu": "375m", "memory": "341Mi"}
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


# --- Windows -------------------------------------------------------------------------------------

WINDOWS_2019 = {"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE", "cpuArchitecture": "X86_64"}
WINDOWS_TOLERATIONS = [
    {"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"},
]


@pytest.mark.parametrize(
    ("family", "build"),
    [
        ("WINDOWS_SERVER_2019_CORE", "10.0.17763"),
        ("WINDOWS_SERVER_2019_FULL", "10.0.17763"),
        ("WINDOWS_SERVER_2022_CORE", "10.0.20348"),
        ("WINDOWS_SERVER_2025_FULL", "10.0.26100"),
        ("WINDOWS_SERVER_20H2_CORE", "10.0.19042"),
    ],
)
def test_windows_runtime_platform_runs_on_windows_nodes_of_its_build(family: str, build: str) -> None:
    spec = translate(container(), runtimePlatform={"operatingSystemFamily": family}).pod_spec
    assert spec["os"] == {"name": "windows"}
    assert spec["nodeSelector"] == {"kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": build}
    assert spec["tolerations"] == WINDOWS_TOLERATIONS


@pytest.mark.parametrize(
    ("mounts", "volumes"),
    [
        ([{"sourceVolume": "data", "containerPath": "C:\\data"}], [{"name": "data"}]),
        ([{"sourceVolume": "data", "containerPath": "d:/cache"}], [{"name": "data"}]),
        (
            [{"sourceVolume": "pipe", "containerPath": "\\\\.\\pipe\\docker_engine"}],
            [{"name": "pipe", "host": {"sourcePath": "\\\\.\\pipe\\docker_engine"}}],
        ),
    ],
)
def test_windows_paths_make_a_task_without_runtime_platform_a_windows_one(
    mounts: list[dict[str, Any]], volumes: list[dict[str, Any]]
) -> None:
    spec = translate(
        container(mountPoints=mounts), volumes=volumes, options=TranslationOptions(allow_host_path=True)
    ).pod_spec
    assert spec["os"] == {"name": "windows"}
    assert spec["nodeSelector"] == {"kubernetes.io/os": "windows"}  # no build to require
    assert spec["tolerations"] == WINDOWS_TOLERATIONS


def test_linux_tasks_have_no_os_field_or_tolerations() -> None:
    tasks: list[dict[str, Any]] = [{}, {"runtimePlatform": {"operatingSystemFamily": "LINUX"}}]
    for task in tasks:
        spec = translate(
            container(mountPoints=[{"sourceVolume": "v", "containerPath": "/data"}]), volumes=[{"name": "v"}], **task
        ).pod_spec
        assert "os" not in spec and "tolerations" not in spec


def test_linux_only_fields_of_a_windows_task_are_reported_and_not_set() -> None:
    translation = translate(
        container(
            user="1000:1000",
            readonlyRootFilesystem=True,
            privileged=False,  # asks for nothing: not reported
            linuxParameters={
                "initProcessEnabled": True,
                "capabilities": {"add": ["NET_ADMIN"]},
                "sharedMemorySize": 64,
            },
            systemControls=[{"namespace": "net.core.somaxconn", "value": "1024"}],
            dnsServers=["10.0.0.2"],
            dnsSearchDomains=["corp.example.com"],
            extraHosts=[{"hostname": "db", "ipAddress": "10.0.0.5"}],
        ),
        runtimePlatform=WINDOWS_2019,
        pidMode="task",
        ipcMode="host",
    )
    spec = translation.pod_spec
    # what the API server refuses on a pod with os.name windows (pkg/apis/core/validation validateWindows)
    for key in ("securityContext", "shareProcessNamespace", "hostPID", "hostIPC", "hostAliases", "dnsConfig"):
        assert key not in spec, key
    (kube,) = spec["containers"]
    assert "securityContext" not in kube and "volumeMounts" not in kube and "volumes" not in spec
    assert sorted(line.split(" ")[0] for line in translation.ignored) == [
        "containerDefinitions[app].dnsSearchDomains",
        "containerDefinitions[app].dnsServers",
        "containerDefinitions[app].extraHosts",
        "containerDefinitions[app].linuxParameters",
        "containerDefinitions[app].readonlyRootFilesystem",
        "containerDefinitions[app].systemControls",
        "containerDefinitions[app].user",
        "ipcMode",
        "pidMode",
    ]
    assert "containerDefinitions[app].user (Windows: a Windows container has no uid/gid; " in translation.ignored[0]


def test_windows_task_resources_are_split_over_containers_not_pod_level() -> None:
    translation = translate(container(cpu=None, memory=None), runtimePlatform=WINDOWS_2019, cpu="1024", memory="2048")
    # the API server refuses spec.resources on a Windows pod
    assert "resources" not in translation.pod_spec
    assert only_container(translation)["resources"]["requests"] == {"cpu": "1000m", "memory": "2048Mi"}
    assert "cpu/memory: a Windows pod cannot have pod-level resources; the task's are split" in translation.notes


def test_windows_container_cpu_is_also_a_limit() -> None:
    # on Windows ECS enforces container cpu as a quota, not a share
    resources = only_container(translate(container(cpu=512, memory=1024), runtimePlatform=WINDOWS_2019))["resources"]
    assert resources == {"requests": {"cpu": "500m", "memory": "1024Mi"}, "limits": {"memory": "1024Mi", "cpu": "500m"}}
    linux = only_container(translate(container(cpu=512, memory=1024)))["resources"]
    assert "cpu" not in linux["limits"]


def test_windows_task_with_host_network_is_refused() -> None:
    with pytest.raises(TranslationError, match=r"^networkMode host: a Windows task runs with the default network mode"):
        translate(container(), runtimePlatform=WINDOWS_2019, networkMode="host")


def test_windows_awsvpc_and_default_network_ports() -> None:
    mappings = [{"containerPort": 80, "hostPort": 80}]
    awsvpc = only_container(
        translate(container(portMappings=mappings), runtimePlatform=WINDOWS_2019, networkMode="awsvpc")
    )
    assert awsvpc["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    default = only_container(translate(container(portMappings=mappings), runtimePlatform=WINDOWS_2019))
    assert default["ports"] == [{"containerPort": 80, "protocol": "TCP", "hostPort": 80}]  # NAT: a node port


def test_windows_cmd_shell_health_check_runs_in_the_windows_shell() -> None:
    check = {"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "interval": 10}
    translation = translate(container(healthCheck=check), runtimePlatform=WINDOWS_2019)
    probe = only_container(translation)["readinessProbe"]["exec"]["command"]
    assert probe == ["cmd", "/S", "/C", "curl -f http://localhost/ || exit 1"]  # Docker's default Windows shell
    assert translation.notes == [
        "containerDefinitions[app].healthCheck: CMD-SHELL runs with cmd /S /C, Docker's default Windows shell "
        "(on ECS an image's own SHELL would be used instead)"
    ]
    exec_form = {"command": ["CMD", "powershell", "-Command", "exit 0"]}
    probe = only_container(translate(container(healthCheck=exec_form), runtimePlatform=WINDOWS_2019))
    assert probe["readinessProbe"]["exec"]["command"] == ["powershell", "-Command", "exit 0"]
