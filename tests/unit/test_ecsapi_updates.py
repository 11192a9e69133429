"""UpdateCluster / UpdateClusterSettings and DeleteTaskDefinitions: pure halves field by field,
then through the Dispatcher on a fake store."""

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import scope, taskdefinitions, updates
from ecs_facade.ecsapi.errors import EcsError
from ecs_facade.ecsapi.handlers import Conflict
from ecs_facade.ecsapi.protocol import Dispatcher
from ecs_facade.ecsapi.updates_handlers import UpdateActions
from tests.unit import ecsapi_calls

ARNS = Arns("us-east-1", "123456789012")
NOW = "2026-05-01T12:00:00Z"


def _cluster(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": "4"}, "spec": spec}


def _td(deregistered: list[int], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "team-a",
            "uid": "td-uid",
            "resourceVersion": "8",
            "annotations": annotations or {},
        },
        "spec": {"family": "web", "deregisteredRevisions": deregistered},
    }


def _revisions(*numbers: int) -> list[dict[str, Any]]:
    return [
        {
            "metadata": {
                "namespace": "team-a",
                "ownerReferences": [{"kind": "ECSTaskDefinition", "name": "web", "uid": "td-uid"}],
                "annotations": {"ecs.facade.dev/registered-at": "2026-01-01T00:00:00Z"},
            },
            "revision": n,
            "data": {"taskDefinition": {"family": "web", "containerDefinitions": [{"name": "c", "image": "i"}]}},
        }
        for n in numbers
    ]


def _merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, Mapping):
            _merge(target.setdefault(key, {}), value)
        else:
            target[key] = copy.deepcopy(value)


# --- UpdateCluster, pure


def test_update_cluster_patch_replaces_settings_by_name() -> None:
    cluster = _cluster(
        "prod",
        {
            "settings": [{"name": "containerInsights", "value": "disabled"}],
            "configuration": {"executeCommandConfiguration": {"logging": "NONE"}},
        },
    )
    patch = updates.update_cluster_patch(
        cluster,
        {
            "cluster": "prod",
            "settings": [{"name": "containerInsights", "value": "enhanced"}],
            "serviceConnectDefaults": {"namespace": "apps"},
        },
    )
    assert patch == {
        "spec": {
            "settings": [{"name": "containerInsights", "value": "enhanced"}],
            "serviceConnectDefaults": {"namespace": "apps"},
        },
        "metadata": {"resourceVersion": "4"},
    }
    same = {"cluster": "prod", "configuration": {"executeCommandConfiguration": {"logging": "NONE"}}}
    assert updates.update_cluster_patch(cluster, same) is None


# --- DeleteTaskDefinitions, pure


def test_delete_marks_inactive_revisions_and_fails_the_others() -> None:
    td = _td([1, 2])
    patches, answer = updates.delete_task_definitions(
        {"taskDefinitions": ["web:1", ARNS.task_definition("web", 2), "web:3", "web:9", "web:1"]},
        [td],
        _revisions(1, 2, 3),
        ARNS,
        NOW,
    )
    assert patches == {
        "web": {
            "metadata": {
                "annotations": {taskdefinitions.DELETED_REVISIONS_ANNOTATION: json.dumps({"1": NOW, "2": NOW})},
                "resourceVersion": "8",
            }
        }
    }
    shown = answer["taskDefinitions"]
    assert [(d["taskDefinitionArn"], d["status"]) for d in shown] == [
        (ARNS.task_definition("web", 1), "DELETE_IN_PROGRESS"),
        (ARNS.task_definition("web", 2), "DELETE_IN_PROGRESS"),
    ]
    assert shown[0]["deleteRequestedAt"] == 1777636800.0
    assert answer["failures"] == [
        {"arn": ARNS.task_definition("web", 3), "reason": updates.STILL_ACTIVE},
        {"arn": ARNS.task_definition("web", 9), "reason": updates.DOES_NOT_EXIST},
    ]


def test_delete_again_writes_nothing_and_keeps_the_first_time() -> None:
    td = _td([1], {taskdefinitions.DELETED_REVISIONS_ANNOTATION: json.dumps({"1": "2026-04-01T00:00:00Z"})})
    patches, answer = updates.delete_task_definitions({"taskDefinitions": ["web:1"]}, [td], _revisions(1, 2), ARNS, NOW)
    assert patches == {}
    assert answer["taskDefinitions"][0]["deleteRequestedAt"] == 1775001600.0


def test_deleted_revisions_read_as_delete_in_progress() -> None:
    td = _td([1], {taskdefinitions.DELETED_REVISIONS_ANNOTATION: json.dumps({"1": NOW})})
    statuses = [r.status for r in taskdefinitions.revisions_of(td, _revisions(1, 2))]
    assert statuses == ["DELETE_IN_PROGRESS", "ACTIVE"]
    listed = taskdefinitions.list_task_definitions({"status": "DELETE_IN_PROGRESS"}, [td], _revisions(1, 2), ARNS)
    assert listed["taskDefinitionArns"] == [ARNS.task_definition("web", 1)]
    broken = _td([1], {taskdefinitions.DELETED_REVISIONS_ANNOTATION: "not json"})
    assert [r.status for r in taskdefinitions.revisions_of(broken, _revisions(1))] == ["INACTIVE"]


@pytest.mark.parametrize(
    ("refs", "message"),
    [(["web"], "names no revision"), ([f"web:{n}" for n in range(1, 12)], "at most 10")],
)
def test_delete_refusals(refs: list[str], message: str) -> None:
    with pytest.raises(EcsError) as caught:
        updates.delete_task_definitions({"taskDefinitions": refs}, [_td([])], _revisions(1), ARNS, NOW)
    assert caught.value.name == "InvalidParameterException"
    assert message in caught.value.message


# --- through the Dispatcher


class FakeStore:
    def __init__(self) -> None:
        self.clusters = [
            _cluster("prod", {"namespaceSelector": scope.namespace_selector_of("team-a")}),
            _cluster("shared", {}),
        ]
        self.task_definitions = [_td([1])]
        self.revisions = _revisions(1, 2)
        self.conflicts = 0
        self.writes: list[tuple[str, Mapping[str, Any]]] = []

    def list_clusters(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.clusters)

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return {}

    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict("changed")
        self.writes.append((name, patch))
        for cluster in self.clusters:
            if cluster["metadata"]["name"] == name:
                _merge(cluster, patch)
                return True
        return False

    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.task_definitions)

    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.revisions)

    def patch_task_definition(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict("changed")
        self.writes.append((name, patch))
        _merge(self.task_definitions[0], patch)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def dispatcher(store: FakeStore) -> Dispatcher:
    return ecsapi_calls.dispatcher_of(UpdateActions(store, ARNS))


def test_update_cluster_answers_the_cluster_with_its_settings(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.conflicts = 1
    answer = ecsapi_calls.call(
        dispatcher,
        "UpdateCluster",
        {"cluster": ARNS.cluster("prod"), "settings": [{"name": "containerInsights", "value": "enabled"}]},
    )
    cluster = answer["cluster"]
    assert cluster["clusterArn"] == ARNS.cluster("prod")
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    assert store.clusters[0]["spec"]["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    same = ecsapi_calls.call(
        dispatcher,
        "UpdateClusterSettings",
        {"cluster": "prod", "settings": [{"name": "containerInsights", "value": "enabled"}]},
    )
    assert same["cluster"]["settings"] == cluster["settings"]
    assert len(store.writes) == 1  # nothing changed the second time


def test_update_cluster_refusals(dispatcher: Dispatcher, store: FakeStore) -> None:
    with pytest.raises(EcsError, match="ClusterNotFoundException"):
        ecsapi_calls.call(dispatcher, "UpdateCluster", {"cluster": "nope", "settings": []})
    with pytest.raises(EcsError, match="AccessDeniedException"):
        ecsapi_calls.call(dispatcher, "UpdateCluster", {"cluster": "shared", "configuration": {}})
    with pytest.raises(EcsError, match="InvalidParameterException"):  # the model: UpdateCluster needs a cluster
        ecsapi_calls.call(dispatcher, "UpdateCluster", {"settings": []})
    store.conflicts = 3
    with pytest.raises(EcsError, match="ClientException"):
        ecsapi_calls.call(dispatcher, "UpdateCluster", {"cluster": "prod", "configuration": {"x": 1}})
    assert store.writes == []


def test_delete_task_definitions_through_the_dispatcher(dispatcher: Dispatcher, store: FakeStore) -> None:
    answer = ecsapi_calls.call(dispatcher, "DeleteTaskDefinitions", {"taskDefinitions": ["web:1", "web:2"]})
    assert [d["status"] for d in answer["taskDefinitions"]] == ["DELETE_IN_PROGRESS"]
    assert [f["arn"] for f in answer["failures"]] == [ARNS.task_definition("web", 2)]
    described = taskdefinitions.describe_task_definition(
        {"taskDefinition": "web:1"}, store.task_definitions, store.revisions, ARNS
    )
    assert described["taskDefinition"]["status"] == "DELETE_IN_PROGRESS"


def test_deregister_of_a_revision_being_deleted_writes_nothing() -> None:
    td = _td([1], {taskdefinitions.DELETED_REVISIONS_ANNOTATION: json.dumps({"1": NOW})})
    patch, answer = taskdefinitions.deregister_task_definition({"taskDefinition": "web:1"}, [td], _revisions(1), ARNS)
    assert patch is None
    assert answer["taskDefinition"]["status"] == "DELETE_IN_PROGRESS"
