"""Tags through the ECS API: the pure rules, then TagResource/UntagResource/ListTagsForResource
through the Dispatcher on a fake store of every taggable kind."""

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from ecs_facade.api import LABEL_CLUSTER, LABEL_SERVICE
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import instances, scope, tags
from ecs_facade.ecsapi.errors import EcsError
from ecs_facade.ecsapi.handlers import Conflict
from ecs_facade.ecsapi.protocol import Dispatcher
from ecs_facade.ecsapi.tags_handlers import TagActions
from ecs_facade.views.service_tasks import task_id as service_task_id
from tests.unit import ecsapi_calls

ARNS = Arns("us-east-1", "123456789012")
NODE_UID = "aaaaaaaa-0000-0000-0000-000000000001"
TASK_UID = "bbbbbbbb-0000-0000-0000-000000000002"
POD_UID = "cccccccc-0000-0000-0000-000000000003"
NODE_ID, TASK_ID = NODE_UID.replace("-", ""), TASK_UID.replace("-", "")
TEAM = [{"key": "team", "value": "a"}]


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping):
            _merge(target.setdefault(key, {}), value)
        else:
            target[key] = copy.deepcopy(value)


class FakeStore:
    def __init__(self) -> None:
        self.clusters: list[dict[str, Any]] = [
            {
                "metadata": {"name": "prod", "resourceVersion": "1"},
                "spec": {"tags": list(TEAM), "namespaceSelector": scope.namespace_selector_of("team-a")},
            },
            {"metadata": {"name": "shared", "resourceVersion": "1"}, "spec": {}},
        ]
        self.services: list[dict[str, Any]] = [
            {"metadata": {"name": "web", "resourceVersion": "3"}, "spec": {"cluster": "prod", "tags": list(TEAM)}}
        ]
        self.task_definitions: list[dict[str, Any]] = [
            {"metadata": {"name": "web", "namespace": "team-a", "uid": "td-uid", "resourceVersion": "5"}, "spec": {}}
        ]
        self.revisions = [
            {
                "metadata": {
                    "namespace": "team-a",
                    "ownerReferences": [{"kind": "ECSTaskDefinition", "name": "web", "uid": "td-uid"}],
                },
                "revision": n,
                "data": {"taskDefinition": {"family": "web", "tags": [{"key": "rev", "value": str(n)}]}},
            }
            for n in (1, 2)
        ]
        self.tasks: list[dict[str, Any]] = [
            {"metadata": {"name": "job-1", "uid": TASK_UID, "resourceVersion": "9"}, "spec": {"cluster": "prod"}}
        ]
        self.nodes: list[dict[str, Any]] = [
            {"metadata": {"name": "n1", "uid": NODE_UID, "labels": {LABEL_CLUSTER: "prod"}}}
        ]
        self.pods: list[dict[str, Any]] = [
            {
                "metadata": {
                    "name": "web-abc",
                    "uid": POD_UID,
                    "labels": {LABEL_SERVICE: "web"},
                    "annotations": {instances.TAGS_ANNOTATION: json.dumps(TEAM)},
                },
                "status": {"containerStatuses": [{"name": "c", "restartCount": 2}]},
            }
        ]
        self.writes: list[tuple[str, str, Mapping[str, Any]]] = []
        self.conflicts = 0

    def _write(self, kind: str, name: str, patch: Mapping[str, Any]) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict("changed")
        self.writes.append((kind, name, patch))

    def list_clusters(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.clusters)

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return {} if namespace in ("team-a", "team-b") else None

    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool:
        self._write("cluster", name, patch)
        for cluster in self.clusters:
            if cluster["metadata"]["name"] == name:
                _merge(cluster, patch)
                return True
        return False

    def list_services(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.services) if namespace == "team-a" else []

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        self._write("service", name, patch)
        _merge(self.services[0], patch)
        return copy.deepcopy(self.services[0])

    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.task_definitions) if namespace == "team-a" else []

    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.revisions)

    def patch_task_definition(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        self._write("task-definition", name, patch)
        _merge(self.task_definitions[0], patch)

    def list_tasks(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.tasks) if namespace == "team-a" else []

    def patch_task(self, namespace: str, name: str, patch: Mapping[str, Any]) -> bool:
        self._write("task", name, patch)
        _merge(self.tasks[0], patch)
        return True

    def list_service_pods(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.pods) if namespace == "team-a" else []

    def patch_pod(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        self._write("pod", name, patch)
        _merge(self.pods[0], patch)

    def list_nodes(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.nodes)

    def list_pods_on(self, node: str) -> list[dict[str, Any]]:
        return []

    def patch_node(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        self._write("node", name, patch)
        _merge(self.nodes[0], patch)
        return copy.deepcopy(self.nodes[0])


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def dispatcher(store: FakeStore) -> Dispatcher:
    return ecsapi_calls.dispatcher_of(TagActions(store, ARNS))


# --- pure


def test_tagged_merges_and_keeps_the_order() -> None:
    current = [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    assert tags.tagged(current, [{"key": "b", "value": "3"}, {"key": "c"}]) == [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "3"},
        {"key": "c", "value": ""},
    ]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            [{"key": "aws:cloudformation:stack", "value": "x"}],
            "tags[0].key: 'aws:cloudformation:stack' starts with 'aws:'",
        ),
        ([{"key": "ok", "value": "AWS:x"}], "tags[0].value"),
    ],
)
def test_tagged_refuses_the_reserved_prefix(new: list[dict[str, str]], message: str) -> None:
    with pytest.raises(EcsError) as caught:
        tags.tagged([], new)
    assert caught.value.name == "InvalidParameterException"
    assert message in caught.value.message


def test_at_most_fifty_tags_aws_ones_not_counted() -> None:
    current = [{"key": f"k{i}", "value": ""} for i in range(49)] + [{"key": "aws:ecs:clusterName", "value": "x"}]
    assert len(tags.tagged(current, [{"key": "k49", "value": ""}])) == 51
    with pytest.raises(EcsError, match="LimitExceededException"):
        tags.tagged(current, [{"key": "k49", "value": ""}, {"key": "k50", "value": ""}])


def test_untagged_ignores_absent_keys_and_refuses_aws_ones() -> None:
    current = [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    assert tags.untagged(current, ["b", "zzz"]) == [{"key": "a", "value": "1"}]
    with pytest.raises(EcsError, match="tagKeys"):
        tags.untagged(current, ["aws:x"])


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("arn:aws:ecs:us-east-1:1:service/web", "Long arn format must be used for tagging operations"),
        ("arn:aws:ecs:us-east-1:1:task/0123", "Long arn format"),
        ("arn:aws:ecs:us-east-1:1:task-definition/web", "names a family"),
        ("arn:aws:s3:::bucket", "is not an ECS ARN"),
        ("web", "is not an ECS ARN"),
    ],
)
def test_resource_takes_long_arns_only(arn: str, message: str) -> None:
    with pytest.raises(EcsError) as caught:
        tags.resource(arn)
    assert caught.value.name == "InvalidParameterException"
    assert message in caught.value.message


def test_revision_tags_override_and_patch() -> None:
    td = {"metadata": {"name": "web", "resourceVersion": "5"}}
    assert tags.revision_tags(td, 2, [{"key": "rev", "value": "2"}]) == [{"key": "rev", "value": "2"}]
    patch = tags.revision_tags_patch(td, 2, [{"key": "x", "value": "y"}])
    assert patch == {
        "metadata": {
            "annotations": {tags.REVISION_TAGS_ANNOTATION: '{"2": [{"key": "x", "value": "y"}]}'},
            "resourceVersion": "5",
        }
    }
    td["metadata"]["annotations"] = patch["metadata"]["annotations"]
    assert tags.revision_tags(td, 2, []) == [{"key": "x", "value": "y"}]
    assert tags.revision_tags(td, 1, [{"key": "rev", "value": "1"}]) == [{"key": "rev", "value": "1"}]
    both = json.loads(tags.revision_tags_patch(td, 1, [])["metadata"]["annotations"][tags.REVISION_TAGS_ANNOTATION])
    assert both == {"1": [], "2": [{"key": "x", "value": "y"}]}


def test_node_tags_patch_removes_the_annotation_when_empty() -> None:
    assert tags.node_tags_patch([]) == {"metadata": {"annotations": {instances.TAGS_ANNOTATION: None}}}
    assert tags.node_tags_patch(TEAM)["metadata"]["annotations"][instances.TAGS_ANNOTATION] == json.dumps(TEAM)


# --- through the Dispatcher


@pytest.mark.parametrize(
    ("arn", "kind", "expected"),
    [
        (ARNS.cluster("prod"), "cluster", TEAM),
        (ARNS.service("prod", "web"), "service", TEAM),
        (ARNS.task_definition("web", 1), "task-definition", [{"key": "rev", "value": "1"}]),
        (ARNS.task("prod", TASK_ID), "task", []),
        (ARNS.container_instance("prod", NODE_ID), "node", []),
        (ARNS.task("prod", POD_UID.replace("-", "")), "pod", TEAM),  # a service task
        (ARNS.task("prod", service_task_id(POD_UID, 2)), "pod", TEAM),  # its incarnation after two ends
    ],
)
def test_tag_list_untag_each_kind(
    dispatcher: Dispatcher, store: FakeStore, arn: str, kind: str, expected: list[dict[str, str]]
) -> None:
    assert ecsapi_calls.call(dispatcher, "ListTagsForResource", {"resourceArn": arn}) == {"tags": expected}
    assert (
        ecsapi_calls.call(dispatcher, "TagResource", {"resourceArn": arn, "tags": [{"key": "env", "value": "prod"}]})
        == {}
    )
    assert store.writes[-1][0] == kind
    assert ecsapi_calls.call(dispatcher, "ListTagsForResource", {"resourceArn": arn}) == {
        "tags": [*expected, {"key": "env", "value": "prod"}]
    }
    ecsapi_calls.call(dispatcher, "UntagResource", {"resourceArn": arn, "tagKeys": ["env"]})
    assert ecsapi_calls.call(dispatcher, "ListTagsForResource", {"resourceArn": arn}) == {"tags": expected}


def test_writes_are_conditional_and_land_where_the_tags_live(dispatcher: Dispatcher, store: FakeStore) -> None:
    ecsapi_calls.call(
        dispatcher, "TagResource", {"resourceArn": ARNS.service("prod", "web"), "tags": [{"key": "x", "value": "1"}]}
    )
    assert store.writes[-1] == (
        "service",
        "web",
        {"spec": {"tags": [*TEAM, {"key": "x", "value": "1"}]}, "metadata": {"resourceVersion": "3"}},
    )
    ecsapi_calls.call(
        dispatcher, "TagResource", {"resourceArn": ARNS.task_definition("web", 2), "tags": [{"key": "x"}]}
    )
    kind, name, written = list(store.writes)[-1]
    assert (kind, name, written["metadata"]["resourceVersion"]) == ("task-definition", "web", "5")
    assert "spec" not in written  # the registered content (and so the revision) is not touched
    assert store.task_definitions[0].get("spec") == {}


def test_describe_task_definition_shows_the_tagged_revision_tags(dispatcher: Dispatcher, store: FakeStore) -> None:
    from ecs_facade.ecsapi import taskdefinitions

    ecsapi_calls.call(dispatcher, "UntagResource", {"resourceArn": ARNS.task_definition("web", 2), "tagKeys": ["rev"]})
    answer = taskdefinitions.describe_task_definition(
        {"taskDefinition": "web:2", "include": ["TAGS"]}, store.task_definitions, store.revisions, ARNS
    )
    assert answer["tags"] == []


def test_a_conflict_is_retried(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.conflicts = 2
    ecsapi_calls.call(
        dispatcher, "TagResource", {"resourceArn": ARNS.cluster("prod"), "tags": [{"key": "x", "value": "1"}]}
    )
    assert {"key": "x", "value": "1"} in store.clusters[0]["spec"]["tags"]
    store.conflicts = 3
    with pytest.raises(EcsError, match="ClientException"):
        ecsapi_calls.call(
            dispatcher, "TagResource", {"resourceArn": ARNS.cluster("prod"), "tags": [{"key": "y", "value": "1"}]}
        )


def test_nothing_to_change_writes_nothing(dispatcher: Dispatcher, store: FakeStore) -> None:
    ecsapi_calls.call(dispatcher, "TagResource", {"resourceArn": ARNS.cluster("prod"), "tags": TEAM})
    ecsapi_calls.call(dispatcher, "UntagResource", {"resourceArn": ARNS.service("prod", "web"), "tagKeys": ["absent"]})
    assert store.writes == []


@pytest.mark.parametrize(
    ("action", "arn", "error"),
    [
        ("TagResource", ARNS.cluster("nope"), "ClusterNotFoundException"),
        ("ListTagsForResource", ARNS.cluster("nope"), "ClusterNotFoundException"),
        ("TagResource", ARNS.service("prod", "nope"), "ResourceNotFoundException"),
        ("UntagResource", ARNS.task_definition("web", 9), "ResourceNotFoundException"),
        ("ListTagsForResource", ARNS.task("prod", "0" * 32), "InvalidParameterException"),
        ("ListTagsForResource", ARNS.task("shared", TASK_ID), "InvalidParameterException"),  # another cluster's
        ("ListTagsForResource", ARNS.container_instance("prod", "0" * 32), "InvalidParameterException"),
        ("ListTagsForResource", ARNS.service("nope", "web"), "ClusterNotFoundException"),
        ("ListTagsForResource", ARNS.task("prod", service_task_id(POD_UID, 3)), "InvalidParameterException"),
        ("ListTagsForResource", ARNS.task("shared", POD_UID.replace("-", "")), "InvalidParameterException"),
    ],
)
def test_not_found(dispatcher: Dispatcher, action: str, arn: str, error: str) -> None:
    request: dict[str, Any] = {"resourceArn": arn}
    if action == "TagResource":
        request["tags"] = TEAM
    if action == "UntagResource":
        request["tagKeys"] = ["team"]
    with pytest.raises(EcsError) as caught:
        ecsapi_calls.call(dispatcher, action, request)
    assert caught.value.name == error


def test_another_namespace_sees_none_of_it(dispatcher: Dispatcher) -> None:
    with pytest.raises(EcsError, match="ClusterNotFoundException"):
        ecsapi_calls.call(
            dispatcher, "ListTagsForResource", {"resourceArn": ARNS.cluster("prod")}, namespaces=frozenset({"team-b"})
        )
    with pytest.raises(EcsError, match="ResourceNotFoundException"):
        ecsapi_calls.call(
            dispatcher,
            "TagResource",
            {"resourceArn": ARNS.task_definition("web", 1), "tags": TEAM},
            namespaces=frozenset({"team-b"}),
        )


def test_a_shared_cluster_is_tagged_only_by_a_key_of_every_namespace(dispatcher: Dispatcher, store: FakeStore) -> None:
    request = {"resourceArn": ARNS.cluster("shared"), "tags": TEAM}
    assert ecsapi_calls.call(dispatcher, "ListTagsForResource", {"resourceArn": ARNS.cluster("shared")}) == {"tags": []}
    with pytest.raises(EcsError, match="AccessDeniedException"):
        ecsapi_calls.call(dispatcher, "TagResource", request)
    ecsapi_calls.call(dispatcher, "TagResource", request, namespaces=frozenset({"team-a", "*"}))
    assert store.clusters[1]["spec"]["tags"] == TEAM


def test_the_model_checks_tag_lengths(dispatcher: Dispatcher) -> None:
    with pytest.raises(EcsError, match="InvalidParameterException"):
        ecsapi_calls.call(
            dispatcher, "TagResource", {"resourceArn": ARNS.cluster("prod"), "tags": [{"key": "k" * 129}]}
        )
    with pytest.raises(EcsError, match="InvalidParameterException"):
        ecsapi_calls.call(dispatcher, "TagResource", {"resourceArn": ARNS.cluster("prod"), "tags": TEAM * 51})
