"""ECS container instances (DescribeContainerInstances) from nodes and the pods bound to them."""

from fractions import Fraction
from typing import Any

import pytest

from ecs_facade.api import (
    LABEL_CAPACITY_PROVIDER,
    LABEL_CLUSTER,
    LABEL_INSTANCE_STATUS,
    LABEL_SERVICE,
    LABEL_TASK,
)
from ecs_facade.views.container_instance import (
    cluster_instance_counts,
    cluster_of,
    container_instance_id,
    describe_container_instance,
    draining,
    ec2_instance_id,
    host_ports,
    instance_attributes,
    instance_summary,
    is_ecs_task,
    parse_quantity,
    pod_requests,
    resource_value,
    slim_pod,
)

UID = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
MIB = 1024 * 1024
GIB = 1024 * MIB


def node(
    name: str = "n1",
    labels: dict[str, str] | None = None,
    cpu: str = "4",
    memory: str = "16Gi",
    ready: str = "True",
    provider_id: str | None = None,
    capacity_only: bool = False,
    node_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    resources = {"cpu": cpu, "memory": memory, "pods": "110"}
    status: dict[str, Any] = {
        "capacity": resources if capacity_only else {"cpu": "8", "memory": "32Gi"},
        "conditions": [
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": ready},
        ],
        "nodeInfo": node_info
        if node_info is not None
        else {
            "kubeletVersion": "v1.31.0",
            "containerRuntimeVersion": "containerd://1.7.20",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }
    if not capacity_only:
        status["allocatable"] = resources
    spec: dict[str, Any] = {}
    if provider_id is not None:
        spec["providerID"] = provider_id
    return {
        "metadata": {"name": name, "uid": UID, "labels": labels or {}, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": spec,
        "status": status,
    }


def container(
    name: str = "app",
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    ports: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    result: dict[str, Any] = {"name": name, "image": "nginx:1.27", "resources": resources, **extra}
    if ports is not None:
        result["ports"] = ports
    return result


def pod(
    *containers: dict[str, Any],
    init: list[dict[str, Any]] | None = None,
    phase: str = "Running",
    node_name: str | None = "n1",
    labels: dict[str, str] | None = None,
    deleting: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "ns", "labels": labels if labels is not None else {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    pod_spec: dict[str, Any] = {"containers": list(containers) or [container()], **spec}
    if init is not None:
        pod_spec["initContainers"] = init
    if node_name is not None:
        pod_spec["nodeName"] = node_name
    return {"metadata": meta, "spec": pod_spec, "status": {"phase": phase}}


def task_pod(*containers: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return pod(*containers, labels={LABEL_SERVICE: "web"}, **kw)


def describe(n: dict[str, Any], *pods: dict[str, Any]) -> dict[str, Any]:
    return describe_container_instance(n, pods, region="us-east-1", account_id="123456789012")


# quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("2", Fraction(2)),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("512Mi", 512 * MIB),
        ("1Gi", GIB),
        ("1G", 10**9),
        ("100k", 100_000),
        ("1Ki", 1024),
        ("1M", 10**6),
        ("1e3", 1000),
        ("1E3", 1000),
        ("5e-1", Fraction(1, 2)),
        ("1E", 10**18),
        ("100n", Fraction(1, 10**7)),
        ("250u", Fraction(1, 4000)),
        ("1.5Gi", 3 * GIB // 2),
        ("0", 0),
        (2, 2),
        (0.25, Fraction(1, 4)),
    ],
)
def test_parse_quantity(text: str | int | float, value: Fraction | int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1Mb", "1 Gi", "1e", "Gi", "1.2.3", "1ki"])
def test_parse_quantity_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quantity(text)


# requests


def test_requests_sum_regular_containers() -> None:
    p = pod(
        container("a", requests={"cpu": "250m", "memory": "512Mi"}),
        container("b", requests={"cpu": "1", "memory": "1Gi"}),
    )
    assert pod_requests(p) == (1250, 1536 * MIB)


def test_requests_decimal_units() -> None:
    p = pod(container(requests={"cpu": "0.1", "memory": "1G"}), container("b", requests={"memory": "100k"}))
    assert pod_requests(p) == (100, 10**9 + 100_000)


def test_requests_round_up_after_summing() -> None:
    p = pod(container(requests={"cpu": "100u", "memory": "0.5"}), container("b", requests={"cpu": "100u"}))
    assert pod_requests(p) == (1, 1)


def test_requests_none() -> None:
    assert pod_requests(pod(container())) == (0, 0)
    assert pod_requests({}) == (0, 0)


def test_limits_only_container_requests_its_limits() -> None:
    p = pod(container(limits={"cpu": "500m", "memory": "256Mi"}))
    assert pod_requests(p) == (500, 256 * MIB)


def test_limits_default_only_missing_requests() -> None:
    p = pod(container(requests={"cpu": "100m"}, limits={"cpu": "2", "memory": "1Gi"}))
    assert pod_requests(p) == (100, GIB)


def test_pod_level_requests_win_over_container_sum() -> None:
    p = pod(
        container("a", requests={"cpu": "1", "memory": "1Gi"}),
        container("b", requests={"cpu": "1", "memory": "1Gi"}),
        resources={"requests": {"cpu": "500m"}},
    )
    # cpu from the pod level, memory (not named there) from the containers
    assert pod_requests(p) == (500, 2 * GIB)


def test_pod_level_limits_without_any_requests_default_requests() -> None:
    p = pod(container(), resources={"limits": {"cpu": "2", "memory": "1Gi"}})
    assert pod_requests(p) == (2000, GIB)


def test_pod_level_limits_with_container_requests_use_containers() -> None:
    p = pod(container(requests={"cpu": "300m"}), resources={"limits": {"cpu": "2"}})
    assert pod_requests(p) == (300, 0)


def test_sidecars_add_to_regular_containers() -> None:
    p = pod(
        container("app", requests={"cpu": "1", "memory": "1Gi"}),
        init=[container("log", requests={"cpu": "100m", "memory": "128Mi"}, restartPolicy="Always")],
    )
    assert pod_requests(p) == (1100, 1152 * MIB)


def test_init_container_larger_than_the_rest_sets_the_request() -> None:
    p = pod(
        container("app", requests={"cpu": "500m", "memory": "256Mi"}),
        init=[container("migrate", requests={"cpu": "2", "memory": "128Mi"})],
    )
    # cpu: max(500, 2000); memory: max(256Mi, 128Mi)
    assert pod_requests(p) == (2000, 256 * MIB)


def test_init_container_counts_the_sidecars_started_before_it() -> None:
    p = pod(
        container("app", requests={"cpu": "500m", "memory": "256Mi"}),
        init=[
            container("proxy", requests={"cpu": "200m", "memory": "64Mi"}, restartPolicy="Always"),
            container("migrate", requests={"cpu": "1", "memory": "128Mi"}),
            container("log", requests={"cpu": "300m", "memory": "64Mi"}, restartPolicy="Always"),
        ],
    )
    # regular + sidecars: 1000m, 384Mi; migrate runs next to proxy only: 1200m, 192Mi
    assert pod_requests(p) == (1200, 384 * MIB)


def test_init_container_started_before_sidecars_runs_alone() -> None:
    p = pod(
        container("app", requests={"cpu": "100m"}),
        init=[
            container("migrate", requests={"cpu": "1"}),
            container("proxy", requests={"cpu": "500m"}, restartPolicy="Always"),
        ],
    )
    assert pod_requests(p) == (1000, 0)


def test_init_container_limits_only() -> None:
    p = pod(container("app", requests={"memory": "64Mi"}), init=[container("init", limits={"memory": "1Gi"})])
    assert pod_requests(p) == (0, GIB)


def test_overhead_is_added() -> None:
    p = pod(container(requests={"cpu": "250m", "memory": "512Mi"}), overhead={"cpu": "250m", "memory": "120Mi"})
    assert pod_requests(p) == (500, 632 * MIB)


def test_overhead_added_to_pod_level_requests() -> None:
    p = pod(container(), resources={"requests": {"cpu": "1", "memory": "1Gi"}}, overhead={"cpu": "100m"})
    assert pod_requests(p) == (1100, GIB)


# ports, tasks


def test_host_ports() -> None:
    p = pod(
        container(
            ports=[
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 9000, "hostPort": 443, "protocol": "TCP"},
                {"containerPort": 53, "hostPort": 53, "protocol": "UDP"},
                {"containerPort": 81},
                {"containerPort": 82, "hostPort": 0},
                {"containerPort": 7, "hostPort": 7, "protocol": "SCTP"},
            ]
        ),
        init=[container("proxy", ports=[{"containerPort": 15000, "hostPort": 15000}], restartPolicy="Always")],
    )
    assert host_ports(p) == (["443", "8080", "15000"], ["53"])
    assert host_ports(pod(container())) == ([], [])


def test_is_ecs_task() -> None:
    assert is_ecs_task(pod(labels={LABEL_SERVICE: "web"}))
    assert is_ecs_task(pod(labels={LABEL_TASK: "t1"}))
    assert not is_ecs_task(pod(labels={"app": "web"}))
    assert not is_ecs_task({"metadata": {}})


# slim pods


def test_slim_pod_keeps_what_the_view_needs() -> None:
    full = pod(
        container(
            "app",
            requests={"cpu": "1"},
            ports=[{"containerPort": 80, "hostPort": 80}],
            env=[{"name": "A", "value": "1"}],
            readinessProbe={"httpGet": {"port": 80}},
        ),
        init=[container("log", limits={"memory": "1Gi"}, restartPolicy="Always", command=["x"])],
        labels={LABEL_TASK: "t1"},
        deleting=True,
        resources={"requests": {"cpu": "2"}},
        overhead={"cpu": "10m"},
        schedulingGates=[{"name": "g"}],
        volumes=[{"name": "v", "emptyDir": {}}],
    )
    full["metadata"].update(annotations={"a": "b"}, uid="u", managedFields=[{}])
    full["status"].update(containerStatuses=[{"name": "app"}], podIP="10.0.0.1")
    assert slim_pod(full) == {
        "metadata": {
            "name": "p",
            "namespace": "ns",
            "labels": {LABEL_TASK: "t1"},
            "deletionTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "nodeName": "n1",
            "schedulingGates": [{"name": "g"}],
            "resources": {"requests": {"cpu": "2"}},
            "overhead": {"cpu": "10m"},
            "containers": [
                {
                    "name": "app",
                    "resources": {"requests": {"cpu": "1"}},
                    "ports": [{"containerPort": 80, "hostPort": 80}],
                }
            ],
            "initContainers": [{"name": "log", "resources": {"limits": {"memory": "1Gi"}}, "restartPolicy": "Always"}],
        },
        "status": {"phase": "Running"},
        # pod-level CPU (2) with the overhead; the sidecar's memory limit as its request
        "held": (2010, 1024 * MIB, ["80"], []),
    }


def test_slim_pod_is_a_copy_and_gives_the_same_answers() -> None:
    full = task_pod(
        container(requests={"cpu": "250m"}, ports=[{"containerPort": 80, "hostPort": 80, "protocol": "UDP"}]),
        init=[container("side", requests={"memory": "1Mi"}, restartPolicy="Always")],
    )
    slim = slim_pod(full)
    assert pod_requests(slim) == pod_requests(full) == (250, MIB)
    assert host_ports(slim) == host_ports(full) == ([], ["80"])
    assert slim["held"] == (250, MIB, [], ["80"])  # worked out once, read by every describe
    assert is_ecs_task(slim)
    slim["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "9"
    slim["metadata"]["labels"]["x"] = "y"
    assert full["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "250m"
    assert "x" not in full["metadata"]["labels"]


def test_slim_pod_of_a_bare_pod() -> None:
    assert slim_pod({"metadata": {"name": "p"}}) == {"metadata": {"name": "p"}, "spec": {}, "held": (0, 0, [], [])}


# identity


def test_cluster_of() -> None:
    assert cluster_of({}) == "default"
    assert cluster_of({LABEL_CLUSTER: ""}) == "default"
    assert cluster_of({LABEL_CLUSTER: "prod"}) == "prod"


def test_container_instance_id() -> None:
    assert container_instance_id(node()) == "6f1c2a3b4d5e4f608a9b0c1d2e3f4a5b"
    assert container_instance_id({"metadata": {"name": "kwok-1"}}) == "kwok-1"


@pytest.mark.parametrize(
    ("provider_id", "expected"),
    [
        ("aws:///us-east-1a/i-0123456789abcdef0", "i-0123456789abcdef0"),
        ("aws:///i-0123456789abcdef0", "i-0123456789abcdef0"),
        ("aws:///us-east-1a/fargate-ip-10-0-0-1", "n1"),
        ("kwok://n1", "n1"),
        ("gce://project/zone/i-123", "n1"),
        ("", "n1"),
        (None, "n1"),
    ],
)
def test_ec2_instance_id(provider_id: str | None, expected: str) -> None:
    assert ec2_instance_id(node(provider_id=provider_id)) == expected


def test_arn_format_and_stability() -> None:
    arn = "arn:aws:ecs:us-east-1:123456789012:container-instance/default/6f1c2a3b4d5e4f608a9b0c1d2e3f4a5b"
    assert describe(node())["containerInstanceArn"] == arn
    assert describe(node(), task_pod(), pod(phase="Pending"))["containerInstanceArn"] == arn
    prod = describe(node(labels={LABEL_CLUSTER: "prod", LABEL_INSTANCE_STATUS: "DRAINING"}))
    assert prod["containerInstanceArn"] == arn.replace("/default/", "/prod/")
    other = node()
    other["metadata"]["uid"] = "00000000-0000-0000-0000-000000000001"
    assert describe(other)["containerInstanceArn"].endswith("/default/00000000000000000000000000000001")


# attributes


def test_builtin_attributes_in_ecs_spelling() -> None:
    labels = {
        "topology.kubernetes.io/zone": "us-east-1a",
        "node.kubernetes.io/instance-type": "m5.large",
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "ecs.facade.dev/ami-id": "ami-0abc",
        "kubernetes.io/hostname": "n1",
    }
    assert instance_attributes(labels, {}) == [
        {"name": "ecs.ami-id", "value": "ami-0abc"},
        {"name": "ecs.availability-zone", "value": "us-east-1a"},
        {"name": "ecs.cpu-architecture", "value": "x86_64"},
        {"name": "ecs.instance-type", "value": "m5.large"},
        {"name": "ecs.os-type", "value": "linux"},
    ]


def test_windows_arm64_and_unknown_spellings() -> None:
    def attrs(os: str, arch: str) -> dict[str, str]:
        found = instance_attributes({"kubernetes.io/os": os, "kubernetes.io/arch": arch}, {})
        return {a["name"]: a["value"] for a in found}

    assert attrs("windows", "arm64") == {"ecs.os-type": "windows", "ecs.cpu-architecture": "arm64"}
    assert attrs("plan9", "riscv64") == {"ecs.os-type": "plan9", "ecs.cpu-architecture": "riscv64"}


def test_os_and_arch_fall_back_to_node_info() -> None:
    info = {"operatingSystem": "linux", "architecture": "arm64"}
    assert instance_attributes({}, info) == [
        {"name": "ecs.cpu-architecture", "value": "arm64"},
        {"name": "ecs.os-type", "value": "linux"},
    ]
    labelled = instance_attributes({"kubernetes.io/os": "windows", "kubernetes.io/arch": "amd64"}, info)
    assert labelled == [
        {"name": "ecs.cpu-architecture", "value": "x86_64"},
        {"name": "ecs.os-type", "value": "windows"},
    ]
    assert instance_attributes({}, {}) == []


def test_custom_and_other_builtin_attributes() -> None:
    labels = {
        "ecs.facade.dev/attribute.stack": "prod",
        "ecs.facade.dev/attribute.gpu": "",
        "ecs.facade.dev/attribute.ecs.sneaky": "x",
        "ecs.facade.dev/os-family": "LINUX",
        "ecs.facade.dev/outpost-arn": "arn:x",
        "app": "ignored",
        "other.example.com/stack": "ignored",
    }
    assert instance_attributes(labels, {}) == [
        {"name": "ecs.os-family", "value": "LINUX"},
        {"name": "ecs.outpost-arn", "value": "arn:x"},
        {"name": "gpu"},
        {"name": "stack", "value": "prod"},
    ]


def test_operator_own_labels_are_not_attributes() -> None:
    labels = {
        LABEL_CLUSTER: "prod",
        LABEL_INSTANCE_STATUS: "DRAINING",
        LABEL_CAPACITY_PROVIDER: "spot",
        "ecs.facade.dev/attribute.": "empty name",
        "ecs.facade.dev/availability-zone": "not the zone label",
    }
    assert instance_attributes(labels, {}) == []


# describe


def test_describe_idle_node() -> None:
    instance = describe(node(provider_id="aws:///us-east-1a/i-0123456789abcdef0", labels={"kubernetes.io/os": "linux"}))
    assert instance == {
        "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/default/"
        "6f1c2a3b4d5e4f608a9b0c1d2e3f4a5b",
        "ec2InstanceId": "i-0123456789abcdef0",
        "status": "ACTIVE",
        "agentConnected": True,
        "runningTasksCount": 0,
        "pendingTasksCount": 0,
        "registeredResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 16384},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": []},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ],
        "remainingResources": [
            {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 16384},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": []},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
        ],
        "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}, {"name": "ecs.os-type", "value": "linux"}],
        "registeredAt": "2026-01-01T00:00:00Z",
        "versionInfo": {"agentVersion": "v1.31.0", "dockerVersion": "containerd://1.7.20"},
    }
    assert "capacityProviderName" not in instance
    assert "statusReason" not in instance
    assert "tags" not in instance
    assert "healthStatus" not in instance


def test_remaining_resources() -> None:
    instance = describe(
        node(),
        task_pod(container(requests={"cpu": "256m", "memory": "512Mi"})),
        task_pod(container(requests={"cpu": "1", "memory": "1Gi"})),
    )
    assert resource_value(instance, "registeredResources", "CPU") == 4096
    assert resource_value(instance, "registeredResources", "MEMORY") == 16384
    assert resource_value(instance, "remainingResources", "CPU") == (4000 - 1256) * 1024 // 1000 == 2809
    assert resource_value(instance, "remainingResources", "MEMORY") == 16384 - 1536 == 14848
    assert instance["runningTasksCount"] == 2


def test_registered_resources_round_down() -> None:
    instance = describe(node(cpu="3500m", memory="16393000Ki"))
    assert resource_value(instance, "registeredResources", "CPU") == 3500 * 1024 // 1000 == 3584
    assert resource_value(instance, "registeredResources", "MEMORY") == 16393000 // 1024 == 16008
    one = describe(node(cpu="1", memory="1000Mi"), pod(container(requests={"cpu": "1m", "memory": "1"})))
    assert resource_value(one, "remainingResources", "CPU") == 999 * 1024 // 1000 == 1022
    assert resource_value(one, "remainingResources", "MEMORY") == 999


def test_registered_resources_fall_back_to_capacity() -> None:
    instance = describe(node(cpu="2", memory="8Gi", capacity_only=True))
    assert resource_value(instance, "registeredResources", "CPU") == 2048
    assert resource_value(instance, "registeredResources", "MEMORY") == 8192


def test_node_without_resources() -> None:
    instance = describe({"metadata": {"name": "bare"}})
    assert resource_value(instance, "registeredResources", "CPU") == 0
    assert resource_value(instance, "remainingResources", "MEMORY") == 0
    assert instance["agentConnected"] is False
    assert instance["ec2InstanceId"] == "bare"
    assert instance["containerInstanceArn"].endswith(":container-instance/default/bare")
    assert instance["attributes"] == []
    assert "registeredAt" not in instance
    assert "versionInfo" not in instance


def test_remaining_never_below_zero() -> None:
    instance = describe(node(cpu="1", memory="1Gi"), pod(container(requests={"cpu": "2", "memory": "2Gi"})))
    assert resource_value(instance, "remainingResources", "CPU") == 0
    assert resource_value(instance, "remainingResources", "MEMORY") == 0


def test_non_ecs_pods_take_room_but_are_not_tasks() -> None:
    instance = describe(
        node(),
        pod(container(requests={"cpu": "500m", "memory": "1Gi"}, ports=[{"containerPort": 9100, "hostPort": 9100}])),
        pod(container(requests={"cpu": "500m"}), phase="Pending"),
    )
    assert instance["runningTasksCount"] == 0
    assert instance["pendingTasksCount"] == 0
    assert resource_value(instance, "remainingResources", "CPU") == 3000 * 1024 // 1000 == 3072
    assert resource_value(instance, "remainingResources", "MEMORY") == 15360
    assert resource_value(instance, "remainingResources", "PORTS") == ["9100"]


def test_terminated_pods_hold_nothing() -> None:
    big = container(requests={"cpu": "2", "memory": "8Gi"}, ports=[{"containerPort": 80, "hostPort": 80}])
    instance = describe(node(), task_pod(big, phase="Succeeded"), task_pod(big, phase="Failed"))
    assert resource_value(instance, "remainingResources", "CPU") == 4096
    assert resource_value(instance, "remainingResources", "MEMORY") == 16384
    assert resource_value(instance, "remainingResources", "PORTS") == []
    assert instance["runningTasksCount"] == instance["pendingTasksCount"] == 0


def test_deleting_pods_hold_room_but_are_not_running_or_pending() -> None:
    req = container(requests={"cpu": "1", "memory": "1Gi"})
    instance = describe(node(), task_pod(req, deleting=True), task_pod(req, phase="Pending", deleting=True))
    assert instance["runningTasksCount"] == 0
    assert instance["pendingTasksCount"] == 0
    assert resource_value(instance, "remainingResources", "CPU") == 2000 * 1024 // 1000
    assert resource_value(instance, "remainingResources", "MEMORY") == 14336


def test_running_and_pending_task_counts() -> None:
    instance = describe(
        node(),
        task_pod(),
        pod(labels={LABEL_TASK: "t1"}),
        task_pod(phase="Pending"),
        task_pod(phase="Unknown"),
    )
    assert instance["runningTasksCount"] == 2
    assert instance["pendingTasksCount"] == 1


def test_pods_of_other_nodes_are_ignored() -> None:
    req = container(requests={"cpu": "1", "memory": "1Gi"})
    instance = describe(node(), task_pod(req, node_name="n2"), task_pod(req, node_name=None))
    assert instance["runningTasksCount"] == 0
    assert resource_value(instance, "remainingResources", "CPU") == 4096


def test_ports_in_use_are_listed_as_remaining() -> None:
    instance = describe(
        node(),
        task_pod(
            container(
                ports=[
                    {"containerPort": 80, "hostPort": 8080},
                    {"containerPort": 53, "hostPort": 53, "protocol": "UDP"},
                ]
            )
        ),
        task_pod(container(ports=[{"containerPort": 80, "hostPort": 443}, {"containerPort": 80, "hostPort": 8080}])),
        task_pod(container(ports=[{"containerPort": 1, "hostPort": 9}]), phase="Failed"),
    )
    assert resource_value(instance, "remainingResources", "PORTS") == ["443", "8080"]
    assert resource_value(instance, "remainingResources", "PORTS_UDP") == ["53"]
    assert resource_value(instance, "registeredResources", "PORTS") == []
    assert resource_value(instance, "registeredResources", "PORTS_UDP") == []


def test_slim_pods_describe_the_same() -> None:
    pods = [
        task_pod(container(requests={"cpu": "256m", "memory": "512Mi"}, ports=[{"containerPort": 80, "hostPort": 80}])),
        task_pod(phase="Pending", init=[container("side", limits={"cpu": "1"}, restartPolicy="Always")]),
    ]
    assert describe(node(), *pods) == describe(node(), *[slim_pod(p) for p in pods])


def test_draining_status() -> None:
    assert describe(node(labels={LABEL_INSTANCE_STATUS: "DRAINING"}))["status"] == "DRAINING"
    assert describe(node(labels={LABEL_INSTANCE_STATUS: "ACTIVE"}))["status"] == "ACTIVE"
    assert describe(node(labels={LABEL_INSTANCE_STATUS: "draining"}))["status"] == "ACTIVE"
    assert describe(node())["status"] == "ACTIVE"


def test_draining() -> None:
    assert draining(node(labels={LABEL_INSTANCE_STATUS: "DRAINING"}))
    assert not draining(node(labels={LABEL_INSTANCE_STATUS: "ACTIVE"}))
    assert not draining(node())
    assert not draining({"metadata": {"name": "bare"}})


def test_agent_connected_follows_ready() -> None:
    assert describe(node(ready="True"))["agentConnected"] is True
    assert describe(node(ready="False"))["agentConnected"] is False
    assert describe(node(ready="Unknown"))["agentConnected"] is False


def test_capacity_provider_name() -> None:
    assert describe(node(labels={LABEL_CAPACITY_PROVIDER: "spot"}))["capacityProviderName"] == "spot"
    assert "capacityProviderName" not in describe(node(labels={LABEL_CAPACITY_PROVIDER: ""}))


def test_ec2_instance_id_of_kwok_node() -> None:
    assert describe(node(name="kwok-node-0", provider_id="kwok://kwok-node-0"))["ec2InstanceId"] == "kwok-node-0"


def test_version_info_partial() -> None:
    assert describe(node(node_info={"kubeletVersion": "v1.30.2"}))["versionInfo"] == {"agentVersion": "v1.30.2"}
    assert "versionInfo" not in describe(node(node_info={}))


def test_resource_value_missing() -> None:
    with pytest.raises(KeyError):
        resource_value(describe(node()), "remainingResources", "GPU")
    with pytest.raises(KeyError):
        resource_value({}, "remainingResources", "CPU")


# cluster counts


def test_cluster_instance_counts() -> None:
    instances = [
        describe(node(), task_pod(), task_pod(phase="Pending")),
        describe(node(labels={LABEL_INSTANCE_STATUS: "DRAINING"}), task_pod()),
        describe(node(ready="False"), task_pod(phase="Pending"), task_pod(phase="Pending")),
    ]
    assert cluster_instance_counts(instances) == {
        "registeredContainerInstancesCount": 3,
        "activeContainerInstancesCount": 2,
        "drainingContainerInstancesCount": 1,
        "connectedContainerInstancesCount": 2,
        "runningTasksCount": 2,
        "pendingTasksCount": 3,
    }


def test_an_instance_summary_counts_as_its_full_view_does() -> None:
    other = task_pod(node_name="elsewhere")
    cases = [
        (node(), [task_pod(), task_pod(phase="Pending"), task_pod(phase="Succeeded"), other]),
        (node(labels={LABEL_INSTANCE_STATUS: "DRAINING"}), [task_pod(deleting=True), task_pod()]),
        (node(ready="False"), [task_pod(phase="Pending"), task_pod(phase="Failed")]),
        (node(), []),
    ]
    for instance, pods in cases:
        summary = instance_summary(instance, pods)
        assert cluster_instance_counts([summary]) == cluster_instance_counts([describe(instance, *pods)])
    assert instance_summary(node(labels={LABEL_INSTANCE_STATUS: "DRAINING"}), [task_pod()]) == {
        "status": "DRAINING",
        "agentConnected": True,
        "runningTasksCount": 1,
        "pendingTasksCount": 0,
    }


def test_cluster_instance_counts_empty() -> None:
    assert cluster_instance_counts([]) == {
        "registeredContainerInstancesCount": 0,
        "activeContainerInstancesCount": 0,
        "drainingContainerInstancesCount": 0,
        "connectedContainerInstancesCount": 0,
        "runningTasksCount": 0,
        "pendingTasksCount": 0,
    }


def test_a_kept_quantity_is_the_same_and_true_is_still_no_quantity() -> None:
    assert parse_quantity("512Mi") == parse_quantity("512Mi") == 512 * 2**20
    assert parse_quantity(1) == 1
    with pytest.raises(ValueError):
        parse_quantity(True)  # equal to 1 and hashed alike, yet no quantity
