"""Container instances and attributes through the ECS API: the pure half field by field, the
handlers through the Dispatcher (model validation included) on a fake store of nodes."""

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from ecs_facade.api import CUSTOM_ATTRIBUTE_LABEL_PREFIX, LABEL_CLUSTER, LABEL_INSTANCE_STATUS, LABEL_SERVICE
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import instances, scope
from ecs_facade.ecsapi.errors import EcsError
from ecs_facade.ecsapi.instances_handlers import InstanceActions
from ecs_facade.ecsapi.protocol import Dispatcher
from tests.unit import ecsapi_calls

ARNS = Arns("us-east-1", "123456789012")
UID_A = "aaaaaaaa-0000-0000-0000-000000000001"
UID_B = "bbbbbbbb-0000-0000-0000-000000000002"
UID_C = "cccccccc-0000-0000-0000-000000000003"
ID_A, ID_B, ID_C = (u.replace("-", "") for u in (UID_A, UID_B, UID_C))


def _node(name: str, uid: str, labels: dict[str, str] | None = None, ready: str = "True") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "uid": uid,
            "labels": {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", **(labels or {})},
            "creationTimestamp": "2026-03-01T10:00:00Z",
        },
        "spec": {"providerID": f"aws:///us-east-1a/i-0{name}"},
        "status": {
            "allocatable": {"cpu": "2", "memory": "4Gi"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "lastHeartbeatTime": "2026-03-01T11:00:00Z",
                    "lastTransitionTime": "2026-03-01T10:01:00Z",
                }
            ],
            "nodeInfo": {"kubeletVersion": "v1.33.1", "containerRuntimeVersion": "containerd://2.0"},
        },
    }


def _pod(node: str, name: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "team-a", "labels": {LABEL_SERVICE: "web"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": "500m"}}}]},
        "status": {"phase": phase},
    }


class FakeStore:
    def __init__(self) -> None:
        self.namespaces: dict[str, dict[str, str]] = {"team-a": {}, "team-b": {}}
        self.clusters: list[dict[str, Any]] = [
            {"metadata": {"name": "prod"}, "spec": {"namespaceSelector": scope.namespace_selector_of("team-a")}},
            {"metadata": {"name": "shared"}, "spec": {}},
        ]
        self.nodes: dict[str, dict[str, Any]] = {
            "a": _node("a", UID_A, {LABEL_CLUSTER: "prod", f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}stack": "blue"}),
            "b": _node("b", UID_B, {LABEL_CLUSTER: "prod", "node.kubernetes.io/instance-type": "m5.large"}),
            "c": _node("c", UID_C, {LABEL_CLUSTER: "shared"}),
        }
        self.pods: dict[str, list[dict[str, Any]]] = {"a": [_pod("a", "p1"), _pod("a", "p2")], "b": []}
        self.patches: list[tuple[str, Mapping[str, Any]]] = []
        self.pod_reads: list[str] = []

    def list_clusters(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.clusters)

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self.namespaces.get(namespace)

    def list_nodes(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.nodes.values()))

    def list_pods_on(self, node: str) -> list[dict[str, Any]]:
        self.pod_reads.append(node)
        return copy.deepcopy(self.pods.get(node, []))

    def patch_node(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        self.patches.append((name, patch))
        node = self.nodes.get(name)
        if node is None:
            return None
        for section in ("labels", "annotations"):
            values = node["metadata"].setdefault(section, {})
            for key, value in ((patch.get("metadata") or {}).get(section) or {}).items():
                if value is None:
                    values.pop(key, None)
                else:
                    values[key] = value
        return copy.deepcopy(node)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def dispatcher(store: FakeStore) -> Dispatcher:
    return ecsapi_calls.dispatcher_of(InstanceActions(store, ARNS))


def _arn(instance_id: str, cluster: str = "prod") -> str:
    return ARNS.container_instance(cluster, instance_id)


# --- pure


def test_find_instance_by_id_arn_and_node_name() -> None:
    nodes = instances.cluster_nodes(FakeStore().list_nodes(), "prod")
    assert [instances.node_name(n) for n in nodes] == ["a", "b"]
    assert instances.find_instance(ID_B, nodes, "prod") is nodes[1]
    assert instances.find_instance(_arn(ID_B), nodes, "prod") is nodes[1]
    assert instances.find_instance(f"arn:aws:ecs:us-east-1:1:container-instance/{ID_A}", nodes, "prod") is nodes[0]
    assert instances.find_instance(_arn(ID_B, "other"), nodes, "prod") is None  # another cluster's ARN
    assert instances.find_instance("b", nodes, "prod") is nodes[1]
    assert instances.find_instance("zzz", nodes, "prod") is None
    with pytest.raises(EcsError, match=r"InvalidParameterException.*not a container instance ARN"):
        instances.find_instance(ARNS.service("prod", "web"), nodes, "prod")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("attribute:stack == blue", ["a"]),
        ("attribute:stack != blue", ["b"]),  # a node without the attribute matches !=, as in placement
        ("attribute:stack exists", ["a"]),
        ("not (attribute:stack exists)", ["b"]),
        ("attribute:ecs.instance-type == m5.large", ["b"]),
        ("attribute:ecs.instance-type in [t3.small, m5.large] or attribute:stack == blue", ["a", "b"]),
        ("attribute:ecs.os-type == LINUX and attribute:ecs.cpu-architecture == x86_64", ["a", "b"]),
        ("attribute:ecs.instance-type =~ m5.*", ["b"]),  # a regex: expanded over the nodes' values
        ("runningTasksCount > 1", ["a"]),
        ("runningTasksCount == 0", ["b"]),
        ("not(runningTasksCount > 1)", ["b"]),
        ("ec2InstanceId == i-0b", ["b"]),
        ("ec2InstanceId in [i-0a, i-0x]", ["a"]),
        ("agentConnected == true", ["a", "b"]),
        ("agentVersion =~ 'v1\\.33\\..*'", ["a", "b"]),
        ("registeredAt < 2026-03-02", ["a", "b"]),
        ("registeredAt >= 2026-03-02", []),
    ],
)
def test_filter_matches_as_placement_and_the_instance_view(expression: str, expected: list[str]) -> None:
    store = FakeStore()
    nodes = instances.cluster_nodes(store.list_nodes(), "prod")
    answer = instances.list_container_instances({"filter": expression}, nodes, store.pods, "prod", ARNS)
    ids = {"a": ID_A, "b": ID_B}
    assert answer == {"containerInstanceArns": [_arn(ids[n]) for n in expected]}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("attribute:stack = blue", "filter 'attribute:stack = blue': unexpected character '='"),
        ("task:group == web", "task:group selects tasks"),
        ("runningTasksCount > many", "runningTasksCount compares with an integer"),
        ("registeredAt > yesterday", "registeredAt compares with a date"),
        ("attribute:stack > blue", "node affinity can only compare integers"),
    ],
)
def test_a_bad_filter_is_an_invalid_parameter(expression: str, message: str) -> None:
    store = FakeStore()
    nodes = instances.cluster_nodes(store.list_nodes(), "prod")
    with pytest.raises(EcsError) as caught:
        instances.list_container_instances({"filter": expression}, nodes, store.pods, "prod", ARNS)
    assert caught.value.name == "InvalidParameterException"
    assert message in caught.value.message


def test_filter_needs_pods_only_for_running_tasks() -> None:
    assert instances.filter_needs_pods(instances.parse_filter("runningTasksCount > 0 or attribute:a exists"))
    assert not instances.filter_needs_pods(instances.parse_filter("attribute:a exists"))
    assert not instances.filter_needs_pods(None)


def test_requirement_matches_as_the_scheduler() -> None:
    labels = {"k": "5", "s": "x"}
    assert instances.requirement_matches({"key": "k", "operator": "Gt", "values": ["4"]}, labels)
    assert not instances.requirement_matches({"key": "k", "operator": "Lt", "values": ["5"]}, labels)
    assert not instances.requirement_matches({"key": "s", "operator": "Gt", "values": ["1"]}, labels)
    assert not instances.requirement_matches({"key": "z", "operator": "Gt", "values": ["1"]}, labels)
    assert instances.requirement_matches({"key": "z", "operator": "NotIn", "values": ["1"]}, labels)
    assert instances.requirement_matches({"key": "z", "operator": "DoesNotExist"}, labels)
    assert not instances.requirement_matches({"key": "s", "operator": "In", "values": ["y"]}, labels)


def test_describe_fields_and_include() -> None:
    store = FakeStore()
    store.nodes["a"]["metadata"]["annotations"] = {instances.TAGS_ANNOTATION: '[{"key": "team", "value": "x"}]'}
    nodes = instances.cluster_nodes(store.list_nodes(), "prod")
    answer = instances.describe_container_instances(
        {"containerInstances": [ID_A, "nope", ID_A], "include": ["TAGS", "CONTAINER_INSTANCE_HEALTH"]},
        nodes,
        store.pods,
        "prod",
        ARNS,
    )
    assert answer["failures"] == [{"arn": _arn("nope"), "reason": "MISSING"}]
    [instance] = answer["containerInstances"]  # named twice, described once
    assert instance["containerInstanceArn"] == _arn(ID_A)
    assert instance["ec2InstanceId"] == "i-0a"
    assert instance["status"] == "ACTIVE"
    assert instance["agentConnected"] is True
    assert instance["runningTasksCount"] == 2 and instance["pendingTasksCount"] == 0
    assert {"name": "stack", "value": "blue"} in instance["attributes"]
    assert instance["tags"] == [{"key": "team", "value": "x"}]
    assert instance["healthStatus"] == {
        "overallStatus": "OK",
        "details": [
            {
                "type": "CONTAINER_RUNTIME",
                "status": "OK",
                "lastUpdated": 1772362800.0,
                "lastStatusChange": 1772359260.0,
            }
        ],
    }
    plain = instances.describe_container_instances({"containerInstances": [ID_A]}, nodes, store.pods, "prod", ARNS)
    assert "tags" not in plain["containerInstances"][0] and "healthStatus" not in plain["containerInstances"][0]


def test_health_without_ready_and_not_ready() -> None:
    node = _node("x", UID_A, ready="False")
    assert instances.health_status(node)["overallStatus"] == "IMPAIRED"
    node["status"]["conditions"] = []
    assert instances.health_status(node) == {"overallStatus": "INSUFFICIENT_DATA", "details": []}


def test_node_tags_reads_a_bad_annotation_as_none() -> None:
    for raw in ("not json", '{"key": "a"}', "[1, 2]"):
        assert instances.node_tags({"metadata": {"annotations": {instances.TAGS_ANNOTATION: raw}}}) == []


def test_state_patch_only_active_or_draining() -> None:
    assert instances.state_patch({"status": "DRAINING"}) == {
        "metadata": {"labels": {LABEL_INSTANCE_STATUS: "DRAINING"}}
    }
    assert instances.state_patch({"status": "ACTIVE"}) == {"metadata": {"labels": {LABEL_INSTANCE_STATUS: None}}}
    with pytest.raises(EcsError, match=r"InvalidParameterException.*REGISTERING"):
        instances.state_patch({"status": "REGISTERING"})


def test_attribute_patches_check_everything_first() -> None:
    nodes = instances.cluster_nodes(FakeStore().list_nodes(), "prod")
    patches, answer = instances.attribute_patches(
        {
            "attributes": [
                {"name": "stack", "value": "green", "targetId": _arn(ID_A)},
                {"name": "gpu", "targetType": "container-instance", "targetId": ID_B},
            ]
        },
        nodes,
        "prod",
        ARNS,
        delete=False,
    )
    assert patches == {
        "a": {f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}stack": "green"},
        "b": {f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}gpu": ""},
    }
    assert answer == {
        "attributes": [
            {"name": "stack", "value": "green", "targetType": "container-instance", "targetId": _arn(ID_A)},
            {"name": "gpu", "targetType": "container-instance", "targetId": _arn(ID_B)},
        ]
    }
    deleted, _ = instances.attribute_patches(
        {"attributes": [{"name": "stack", "targetId": _arn(ID_A)}]}, nodes, "prod", ARNS, delete=True
    )
    assert deleted == {"a": {f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}stack": None}}


@pytest.mark.parametrize(
    ("attribute", "name", "message"),
    [
        ({"name": "x", "targetId": "nope", "targetType": "container-instance"}, "TargetNotFoundException", "nope"),
        ({"name": "x"}, "InvalidParameterException", "attributes[0].targetId: required"),
        ({"name": "x", "targetId": ID_A}, "InvalidParameterException", "attributes[0].targetType: required"),
        ({"name": "ecs.x", "targetId": _arn(ID_A)}, "InvalidParameterException", "ECS built-in attributes"),
        ({"name": "x", "value": "has space", "targetId": _arn(ID_A)}, "InvalidParameterException", "node label"),
    ],
)
def test_attribute_refusals(attribute: dict[str, Any], name: str, message: str) -> None:
    nodes = instances.cluster_nodes(FakeStore().list_nodes(), "prod")
    with pytest.raises(EcsError) as caught:
        instances.attribute_patches({"attributes": [attribute]}, nodes, "prod", ARNS, delete=False)
    assert caught.value.name == name
    assert message in caught.value.message


def test_at_most_ten_custom_attributes_per_instance() -> None:
    nodes = instances.cluster_nodes(FakeStore().list_nodes(), "prod")  # a has one already
    many = [{"name": f"n{i}", "value": "v", "targetId": _arn(ID_A)} for i in range(10)]
    with pytest.raises(EcsError, match="AttributeLimitExceededException"):
        instances.attribute_patches({"attributes": many}, nodes, "prod", ARNS, delete=False)
    patches, _ = instances.attribute_patches({"attributes": many[:9]}, nodes, "prod", ARNS, delete=False)
    assert len(patches["a"]) == 9
    with pytest.raises(EcsError, match=r"InvalidParameterException.*at most 10"):
        instances.attribute_patches({"attributes": [*many, many[0]]}, nodes, "prod", ARNS, delete=False)


def test_list_attributes_filters_and_pages() -> None:
    nodes = instances.cluster_nodes(FakeStore().list_nodes(), "prod")
    answer = instances.list_attributes(
        {"targetType": "container-instance", "attributeName": "stack"}, nodes, "prod", ARNS
    )
    assert answer == {
        "attributes": [{"name": "stack", "value": "blue", "targetType": "container-instance", "targetId": _arn(ID_A)}]
    }
    by_value = instances.list_attributes(
        {"targetType": "container-instance", "attributeName": "ecs.os-type", "attributeValue": "linux"},
        nodes,
        "prod",
        ARNS,
    )
    assert [a["targetId"] for a in by_value["attributes"]] == [_arn(ID_A), _arn(ID_B)]
    first = instances.list_attributes({"targetType": "container-instance", "maxResults": 2}, nodes, "prod", ARNS)
    rest = instances.list_attributes(
        {"targetType": "container-instance", "nextToken": first["nextToken"]}, nodes, "prod", ARNS
    )
    everything = instances.list_attributes({"targetType": "container-instance"}, nodes, "prod", ARNS)
    assert first["attributes"] + rest["attributes"] == everything["attributes"]
    assert "nextToken" not in rest
    with pytest.raises(EcsError, match="attributeValue: give attributeName"):
        instances.list_attributes({"targetType": "container-instance", "attributeValue": "x"}, nodes, "prod", ARNS)


# --- through the Dispatcher


def test_registers_the_instance_actions(dispatcher: Dispatcher) -> None:
    assert set(dispatcher.implemented("ecs")) == {
        "ListContainerInstances",
        "DescribeContainerInstances",
        "UpdateContainerInstancesState",
        "PutAttributes",
        "DeleteAttributes",
        "ListAttributes",
    }


def test_list_by_status_pages_and_reads_no_pods(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.nodes["b"]["metadata"]["labels"][LABEL_INSTANCE_STATUS] = "DRAINING"
    assert ecsapi_calls.call(dispatcher, "ListContainerInstances", {"cluster": "prod", "status": "DRAINING"}) == {
        "containerInstanceArns": [_arn(ID_B)]
    }
    first = ecsapi_calls.call(dispatcher, "ListContainerInstances", {"cluster": ARNS.cluster("prod"), "maxResults": 1})
    assert first["containerInstanceArns"] == [_arn(ID_A)]
    second = ecsapi_calls.call(
        dispatcher, "ListContainerInstances", {"cluster": "prod", "nextToken": first["nextToken"]}
    )
    assert second == {"containerInstanceArns": [_arn(ID_B)]}
    assert store.pod_reads == []
    ecsapi_calls.call(dispatcher, "ListContainerInstances", {"cluster": "prod", "filter": "runningTasksCount > 0"})
    assert store.pod_reads == ["a", "b"]


def test_clusters_the_namespace_does_not_see_are_not_found(dispatcher: Dispatcher) -> None:
    with pytest.raises(EcsError, match=r"ClusterNotFoundException: Cluster not found."):
        ecsapi_calls.call(dispatcher, "ListContainerInstances", {"cluster": "prod"}, namespaces=frozenset({"team-b"}))
    with pytest.raises(EcsError, match="ClusterNotFoundException"):
        ecsapi_calls.call(dispatcher, "DescribeContainerInstances", {"cluster": "nope", "containerInstances": [ID_A]})


def test_the_model_refuses_a_bad_status(dispatcher: Dispatcher) -> None:
    with pytest.raises(EcsError, match=r"InvalidParameterException.*status"):
        ecsapi_calls.call(dispatcher, "ListContainerInstances", {"status": "SLEEPING"})
    with pytest.raises(EcsError, match=r"InvalidParameterException.*containerInstances"):
        ecsapi_calls.call(dispatcher, "DescribeContainerInstances", {"cluster": "prod"})


def test_describe_reads_only_the_described_nodes_pods(dispatcher: Dispatcher, store: FakeStore) -> None:
    answer = ecsapi_calls.call(
        dispatcher, "DescribeContainerInstances", {"cluster": "prod", "containerInstances": [ID_A]}
    )
    assert answer["containerInstances"][0]["runningTasksCount"] == 2
    assert store.pod_reads == ["a"]
    with pytest.raises(EcsError, match="at most 100"):
        ecsapi_calls.call(
            dispatcher, "DescribeContainerInstances", {"cluster": "prod", "containerInstances": ["x"] * 101}
        )


def test_update_state_patches_the_label_and_answers_the_instances(dispatcher: Dispatcher, store: FakeStore) -> None:
    answer = ecsapi_calls.call(
        dispatcher,
        "UpdateContainerInstancesState",
        {"cluster": "prod", "containerInstances": [_arn(ID_B), "gone"], "status": "DRAINING"},
    )
    assert store.patches == [("b", {"metadata": {"labels": {LABEL_INSTANCE_STATUS: "DRAINING"}}})]
    assert [i["status"] for i in answer["containerInstances"]] == ["DRAINING"]
    assert answer["failures"] == [{"arn": _arn("gone"), "reason": "MISSING"}]
    ecsapi_calls.call(
        dispatcher,
        "UpdateContainerInstancesState",
        {"cluster": "prod", "containerInstances": [ID_B], "status": "ACTIVE"},
    )
    assert LABEL_INSTANCE_STATUS not in store.nodes["b"]["metadata"]["labels"]


def test_writes_to_a_shared_clusters_instances_need_a_key_of_every_namespace(
    dispatcher: Dispatcher, store: FakeStore
) -> None:
    request = {"cluster": "shared", "containerInstances": [ID_C], "status": "DRAINING"}
    with pytest.raises(EcsError, match=r"AccessDeniedException.*shared"):
        ecsapi_calls.call(dispatcher, "UpdateContainerInstancesState", request)
    with pytest.raises(EcsError, match="AccessDeniedException"):
        ecsapi_calls.call(
            dispatcher,
            "PutAttributes",
            {"cluster": "shared", "attributes": [{"name": "x", "targetId": _arn(ID_C, "shared")}]},
        )
    assert store.patches == []
    # reading is fine; a key of every namespace may write
    assert ecsapi_calls.call(dispatcher, "ListContainerInstances", {"cluster": "shared"})["containerInstanceArns"] == [
        _arn(ID_C, "shared")
    ]
    ecsapi_calls.call(dispatcher, "UpdateContainerInstancesState", request, namespaces=frozenset({"team-a", "*"}))
    assert store.nodes["c"]["metadata"]["labels"][LABEL_INSTANCE_STATUS] == "DRAINING"


def test_put_list_delete_attributes(dispatcher: Dispatcher, store: FakeStore) -> None:
    put = ecsapi_calls.call(
        dispatcher,
        "PutAttributes",
        {"cluster": "prod", "attributes": [{"name": "zone-group", "value": "g1", "targetId": _arn(ID_B)}]},
    )
    assert put == {
        "attributes": [
            {"name": "zone-group", "value": "g1", "targetType": "container-instance", "targetId": _arn(ID_B)}
        ]
    }
    assert store.nodes["b"]["metadata"]["labels"][f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}zone-group"] == "g1"
    listed = ecsapi_calls.call(
        dispatcher,
        "ListAttributes",
        {"cluster": "prod", "targetType": "container-instance", "attributeName": "zone-group"},
    )
    assert [a["targetId"] for a in listed["attributes"]] == [_arn(ID_B)]
    ecsapi_calls.call(
        dispatcher,
        "DeleteAttributes",
        {"cluster": "prod", "attributes": [{"name": "zone-group", "targetId": _arn(ID_B)}]},
    )
    assert f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}zone-group" not in store.nodes["b"]["metadata"]["labels"]
    with pytest.raises(EcsError, match=r"InvalidParameterException.*targetType"):
        ecsapi_calls.call(dispatcher, "ListAttributes", {"cluster": "prod", "targetType": "task"})


def test_a_put_that_fails_a_check_writes_nothing(dispatcher: Dispatcher, store: FakeStore) -> None:
    request = {
        "cluster": "prod",
        "attributes": [
            {"name": "ok", "value": "v", "targetId": _arn(ID_A)},
            {"name": "x", "value": "v", "targetId": _arn("missing")},
        ],
    }
    with pytest.raises(EcsError, match="TargetNotFoundException"):
        ecsapi_calls.call(dispatcher, "PutAttributes", request)
    assert store.patches == []


# --- one translation for the CLI and the API


def test_the_cli_writes_the_same_patches(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecs_facade import cli
    from ecs_facade.kube import client as kube

    written: list[tuple[str, Mapping[str, Any]]] = []
    monkeypatch.setattr(kube, "patch_node", lambda name, patch: written.append((name, patch)))
    assert cli.main(["drain", "a"]) == 0
    assert cli.main(["put-attributes", "a", "stack=green", "gpu"]) == 0
    assert cli.main(["delete-attributes", "a", "stack"]) == 0
    assert written == [
        ("a", instances.state_patch({"status": "DRAINING"})),
        (
            "a",
            {
                "metadata": {
                    "labels": {
                        f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}stack": "green",
                        f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}gpu": "",
                    }
                }
            },
        ),
        ("a", {"metadata": {"labels": {f"{CUSTOM_ATTRIBUTE_LABEL_PREFIX}stack": None}}}),
    ]
    with pytest.raises(cli.CliError, match="ECS built-in attributes"):
        cli._attribute_labels(["ecs.x=1"], delete=False)
