"""The task actions (RunTask, StopTask, DescribeTasks, ListTasks): the ECSTasks RunTask writes,
the ECS Task shape read from ECSTasks, services' pods and services' stopped tasks, and ECS's
errors, through the Dispatcher over a fake Store; boto3's tasks waiters' contract."""

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from ecs_facade.api import API_VERSION, LABEL_FAMILY, LABEL_SERVICE, LABEL_TASK
from ecs_facade.arns import Arns
from ecs_facade.ecsapi import tasks
from ecs_facade.ecsapi.protocol import Dispatcher
from ecs_facade.ecsapi.tasks_handlers import TaskActions
from ecs_facade.translate.run_task import (
    LABEL_CLIENT_TOKEN,
    RunTaskError,
    client_token_label,
    family_name_prefix,
    run_task_manifests,
)
from ecs_facade.translate.task import LABEL_REVISION
from ecs_facade.translate.taskdefinition import ANNOTATION_CONTAINER_NAMES, ANNOTATION_ESSENTIAL
from ecs_facade.views.deployments import deployment_id
from ecs_facade.views.service_tasks import task_id
from tests.unit import ecsapi_calls

ARNS = Arns("us-east-1", "123456789012")
PREFIX = "arn:aws:ecs:us-east-1:123456789012"
TASK_UID = "0a1b2c3d-0000-4000-8000-000000000001"
TASK_ID = TASK_UID.replace("-", "")
POD_UID = "5e6f7a8b-0000-4000-8000-000000000002"
POD_ID = POD_UID.replace("-", "")
NODE_UID = "9c9c9c9c-0000-4000-8000-000000000003"
NODE_ID = NODE_UID.replace("-", "")
EPOCH_0 = 1767225600.0  # 2026-01-01T00:00:00Z
STOPPED_ID = "f" * 32


def _revision(number: int) -> dict[str, Any]:
    """Family web's revision ``number``: app (nginx:NUMBER) and its log router."""
    return ecsapi_calls.web_revision(
        number,
        containerDefinitions=[
            {"name": "app", "image": f"nginx:{number}"},
            {"name": "log_router", "image": "fluent-bit"},
        ],
    )


def _ecs_task(name: str = "web-abcde", uid: str = TASK_UID, **spec: Any) -> dict[str, Any]:
    """An ECSTask as the operator's status shows it running (controllers/task.py)."""
    arn = f"{PREFIX}:task/default/{uid.replace('-', '')}"
    return {
        "apiVersion": API_VERSION,
        "kind": "ECSTask",
        "metadata": {"name": name, "namespace": "team-a", "uid": uid, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"cluster": "default", "taskDefinition": "web:3", "desiredStatus": "RUNNING", **spec},
        "status": {
            "taskArn": arn,
            "taskDefinitionArn": f"{PREFIX}:task-definition/web:3",
            "clusterArn": f"{PREFIX}:cluster/default",
            "group": "family:web",
            "startedBy": spec.get("startedBy"),
            "podName": name,
            "lastStatus": "RUNNING",
            "desiredStatus": "RUNNING",
            "healthStatus": "UNKNOWN",
            "createdAt": "2026-01-01T00:00:00Z",
            "pullStartedAt": "2026-01-01T00:00:01Z",
            "startedAt": "2026-01-01T00:00:05Z",
            "containers": [
                {"name": "app", "image": "nginx:3", "lastStatus": "RUNNING", "healthStatus": "UNKNOWN"},
            ],
        },
    }


def _pod(
    name: str,
    uid: str,
    labels: Mapping[str, str],
    state: Mapping[str, Any] | None = None,
    restarts: int = 0,
    **meta: Any,
) -> dict[str, Any]:
    """A pod as translate/ builds it and the kubelet reports it: container `app` (ECS name
    `app`) essential, running on node-1."""
    return {
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "uid": uid,
            "labels": dict(labels),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "annotations": {ANNOTATION_CONTAINER_NAMES: json.dumps({"app": "app"}), ANNOTATION_ESSENTIAL: "app"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d9f", "uid": "rs-1"}],
            **meta,
        },
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx:3"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": True,
                    "restartCount": restarts,
                    "state": dict(state or {"running": {"startedAt": "2026-01-01T00:00:05Z"}}),
                }
            ],
        },
    }


def _service(name: str = "web", cluster: str = "default", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ECSService",
        "metadata": {"name": name, "namespace": "team-a", "resourceVersion": "7"},
        "spec": {"cluster": cluster, "taskDefinition": "web", "desiredCount": 1},
        "status": dict(status),
    }


SERVICE_LABELS = {LABEL_SERVICE: "web", LABEL_FAMILY: "web", LABEL_REVISION: "3"}


class FakeStore(ecsapi_calls.FakeObjects):
    """Namespaces, ECSClusters, task definitions, ECSTasks, ECSServices, pods and nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.clusters: list[dict[str, Any]] = [{"metadata": {"name": "batch"}, "spec": {}}]
        self.namespaces: dict[str, dict[str, str]] = {"team-a": {}, "team-b": {}}
        # family web: revisions 2 (deregistered), 3
        self.tds: list[dict[str, Any]] = [
            {
                "metadata": {"name": "web", "namespace": "team-a", "uid": "uid-web"},
                "spec": {"family": "web", "deregisteredRevisions": [2]},
            }
        ]
        self.revisions = [_revision(n) for n in (2, 3)]
        self.ecs_tasks: list[dict[str, Any]] = []
        self.pods: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.nodes: list[dict[str, Any]] = [{"metadata": {"name": "node-1", "uid": NODE_UID}}]
        self.writes: list[tuple[str, Any]] = []
        self.created = 0

    def list_ecs_tasks(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy([t for t in self.ecs_tasks if t["metadata"]["namespace"] == namespace])

    def list_task_pods(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy([p for p in self.pods if p["metadata"]["namespace"] == namespace])

    def list_nodes(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.nodes)

    def create_ecs_task(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        self.created += 1
        created = copy.deepcopy(dict(manifest))
        meta = created["metadata"]
        meta["name"] = meta.pop("generateName") + f"x{self.created:04d}"
        meta.update(
            uid=f"00000000-0000-4000-8000-{self.created:012d}",
            resourceVersion="1",
            creationTimestamp="2026-01-01T00:00:00Z",
        )
        self.ecs_tasks.append(created)
        self.writes.append(("create", copy.deepcopy(created)))
        return copy.deepcopy(created)

    def patch_ecs_task(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        for task in self.ecs_tasks:
            if (task["metadata"]["namespace"], task["metadata"]["name"]) == (namespace, name):
                task["spec"].update(copy.deepcopy(dict(patch["spec"])))
                self.writes.append(("patch", copy.deepcopy(dict(patch))))
                return copy.deepcopy(task)
        return None

    def delete_pod(self, namespace: str, name: str) -> None:
        self.writes.append(("delete-pod", name))


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def dispatcher(store: FakeStore) -> Dispatcher:
    return ecsapi_calls.dispatcher_of(TaskActions(store, ARNS))


# --- the one RunTask translator (the CLI's and the API's)


def test_run_task_manifests_hold_the_request_without_count_and_client_token() -> None:
    request = {
        "cluster": "batch",
        "taskDefinition": "Web_App:3",
        "count": 3,
        "clientToken": "t-1",
        "overrides": {"containerOverrides": [{"name": "app", "command": ["migrate"]}]},
        "startedBy": "ci",
        "group": "nightly",
        "tags": [{"key": "team", "value": "a"}],
        "enableExecuteCommand": True,
        "launchType": None,
    }
    manifests = run_task_manifests(request, "team-a")
    assert len(manifests) == 3
    assert manifests[0] == {
        "apiVersion": API_VERSION,
        "kind": "ECSTask",
        "metadata": {
            "generateName": "web-app-",
            "namespace": "team-a",
            "labels": {LABEL_CLIENT_TOKEN: client_token_label("t-1")},
        },
        "spec": {
            "cluster": "batch",
            "taskDefinition": "Web_App:3",
            "overrides": {"containerOverrides": [{"name": "app", "command": ["migrate"]}]},
            "startedBy": "ci",
            "group": "nightly",
            "tags": [{"key": "team", "value": "a"}],
            "enableExecuteCommand": True,
        },
    }
    assert manifests[1]["spec"] == manifests[0]["spec"] and manifests[1]["spec"] is not manifests[0]["spec"]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"taskDefinition": "web", "count": 11}, "count: 11 is out of range; expected 1 to 10"),
        ({"taskDefinition": "web", "count": 0}, "count: 0 is out of range"),
        ({"taskDefinition": "web:x"}, "not a positive integer"),
        ({}, "taskDefinition: missing"),
    ],
)
def test_run_task_manifests_refuse(request_: dict[str, Any], message: str) -> None:
    with pytest.raises(RunTaskError, match=message):
        run_task_manifests(request_, "team-a")


def test_client_token_label_is_a_label_value() -> None:
    label = client_token_label("Ünïcode token with spaces " * 3)
    assert len(label) <= 63 and label.isalnum()
    assert client_token_label("a") != client_token_label("b")
    assert "labels" not in run_task_manifests({"taskDefinition": "web"}, "team-a")[0]["metadata"]


def test_generate_name_is_a_dns_label_prefix() -> None:
    assert family_name_prefix("x" * 300) == "x" * 50 + "-"
    assert family_name_prefix("__") == "task-"


# --- RunTask


def test_run_task_creates_count_ecstasks_and_answers_them_as_describe_shows_them(
    dispatcher: Dispatcher, store: FakeStore
) -> None:
    answer = ecsapi_calls.call(
        dispatcher,
        "RunTask",
        {
            "cluster": "batch",
            "taskDefinition": "web",
            "count": 2,
            "startedBy": "ci",
            "overrides": {"containerOverrides": [{"name": "app", "command": ["migrate"]}]},
            "tags": [{"key": "team", "value": "a"}],
        },
    )
    created = [w[1] for w in store.writes if w[0] == "create"]
    assert len(created) == 2
    assert created[0]["spec"]["taskDefinition"] == "web" and created[0]["spec"]["cluster"] == "batch"
    assert answer["failures"] == []
    first = answer["tasks"][0]
    ident = created[0]["metadata"]["uid"].replace("-", "")
    assert first == {
        "taskArn": f"{PREFIX}:task/batch/{ident}",
        "taskDefinitionArn": f"{PREFIX}:task-definition/web:3",  # the latest ACTIVE revision
        "clusterArn": f"{PREFIX}:cluster/batch",
        "lastStatus": "PROVISIONING",
        "desiredStatus": "RUNNING",
        "group": "family:web",
        "startedBy": "ci",
        "healthStatus": "UNKNOWN",
        "createdAt": EPOCH_0,
        "containers": [
            {"name": "app", "image": "nginx:3", "lastStatus": "PENDING", "taskArn": first["taskArn"]},
            {"name": "log_router", "image": "fluent-bit", "lastStatus": "PENDING", "taskArn": first["taskArn"]},
        ],
        "launchType": "EC2",
        "overrides": {
            "containerOverrides": [{"name": "app", "command": ["migrate"]}],
            "inferenceAcceleratorOverrides": [],
        },
        "enableExecuteCommand": False,
        "version": 1,
        "tags": [{"key": "team", "value": "a"}],
    }
    assert answer["tasks"][1]["taskArn"] != first["taskArn"]


def test_run_task_writes_the_cluster_by_name(dispatcher: Dispatcher, store: FakeStore) -> None:
    ecsapi_calls.call(dispatcher, "RunTask", {"cluster": f"{PREFIX}:cluster/batch", "taskDefinition": "web"})
    ecsapi_calls.call(dispatcher, "RunTask", {"taskDefinition": "web"})
    assert [t["spec"]["cluster"] for t in store.ecs_tasks] == ["batch", "default"]


@pytest.mark.parametrize(
    ("request_", "member"),
    [
        ({"taskDefinition": "web", "count": "3"}, "count"),
        ({"taskDefinition": "web", "launchType": "MOON"}, "launchType"),
        ({"taskDefinition": "web", "overrides": {"containerOverrides": [{"cpu": "x"}]}}, "overrides"),
    ],
)
def test_run_task_is_validated_against_the_model(dispatcher: Dispatcher, request_: dict[str, Any], member: str) -> None:
    refused = ecsapi_calls.error(dispatcher, "RunTask", request_)
    assert refused.name == "InvalidParameterException" and member in refused.message


def test_run_task_retried_with_its_client_token_starts_nothing_again(dispatcher: Dispatcher, store: FakeStore) -> None:
    request = {"taskDefinition": "web", "count": 2, "clientToken": "retry-me"}
    first = ecsapi_calls.call(dispatcher, "RunTask", request)
    assert len(store.ecs_tasks) == 2
    store.ecs_tasks[0]["status"] = {"lastStatus": "RUNNING"}  # the operator started one meanwhile
    again = ecsapi_calls.call(dispatcher, "RunTask", request)
    assert len(store.ecs_tasks) == 2
    assert sorted(t["taskArn"] for t in again["tasks"]) == sorted(t["taskArn"] for t in first["tasks"])
    assert sorted(t["lastStatus"] for t in again["tasks"]) == ["PROVISIONING", "RUNNING"]
    other = ecsapi_calls.call(dispatcher, "RunTask", {**request, "clientToken": "another"})
    assert len(other["tasks"]) == 2 and len(store.ecs_tasks) == 4


def test_run_task_answer_is_what_describe_tasks_says_right_after(dispatcher: Dispatcher, store: FakeStore) -> None:
    answer = ecsapi_calls.call(dispatcher, "RunTask", {"taskDefinition": "web:3"})
    described = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [answer["tasks"][0]["taskArn"]]})
    assert described == {"tasks": answer["tasks"], "failures": []}


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        ({"cluster": "nope", "taskDefinition": "web"}, "ClusterNotFoundException", "Cluster not found."),
        ({"taskDefinition": "other"}, "ClientException", "TaskDefinition not found."),
        ({"taskDefinition": "web:9"}, "ClientException", "TaskDefinition not found."),
        ({"taskDefinition": "web:2"}, "ClientException", "TaskDefinition is inactive"),
        ({"taskDefinition": "web", "count": 11}, "InvalidParameterException", "count: 11 is out of range"),
        ({"taskDefinition": "web", "count": 0}, "InvalidParameterException", "count: 0 is out of range"),
        ({"taskDefinition": "web", "startedBy": "a b"}, "InvalidParameterException", "startedBy: 'a b'"),
        ({"taskDefinition": "web", "startedBy": "x" * 129}, "InvalidParameterException", "startedBy"),
        (
            {"taskDefinition": "web", "launchType": "EC2", "capacityProviderStrategy": [{"capacityProvider": "a"}]},
            "InvalidParameterException",
            "not both",
        ),
    ],
)
def test_run_task_errors(
    dispatcher: Dispatcher, store: FakeStore, request_: dict[str, Any], error: str, message: str
) -> None:
    refused = ecsapi_calls.error(dispatcher, "RunTask", request_)
    assert refused.name == error and message in refused.message
    assert store.writes == []


def test_run_task_without_task_definition_names_the_member(dispatcher: Dispatcher) -> None:
    refused = ecsapi_calls.error(dispatcher, "RunTask", {"cluster": "default"})
    assert refused.name == "InvalidParameterException" and "taskDefinition" in refused.message


def test_run_task_in_a_namespace_the_key_may_not_use_is_denied(dispatcher: Dispatcher) -> None:
    refused = ecsapi_calls.error(dispatcher, "RunTask", {"taskDefinition": "web"}, region="team-b")
    assert refused.name == "AccessDeniedException"


# --- DescribeTasks


def test_describe_an_ecstask_from_its_status(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.ecs_tasks.append(_ecs_task(startedBy="ci", tags=[{"key": "k", "value": "v"}]))
    store.pods.append(_pod("web-abcde", "pod-of-task", {LABEL_TASK: "web-abcde"}))
    answer = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [TASK_ID], "include": ["TAGS"]})
    arn = f"{PREFIX}:task/default/{TASK_ID}"
    assert answer == {
        "tasks": [
            {
                "taskArn": arn,
                "taskDefinitionArn": f"{PREFIX}:task-definition/web:3",
                "clusterArn": f"{PREFIX}:cluster/default",
                "lastStatus": "RUNNING",
                "desiredStatus": "RUNNING",
                "group": "family:web",
                "startedBy": "ci",
                "healthStatus": "UNKNOWN",
                "createdAt": EPOCH_0,
                "pullStartedAt": EPOCH_0 + 1,
                "startedAt": EPOCH_0 + 5,
                "containers": [
                    {
                        "name": "app",
                        "image": "nginx:3",
                        "lastStatus": "RUNNING",
                        "healthStatus": "UNKNOWN",
                        "taskArn": arn,
                    }
                ],
                "containerInstanceArn": f"{PREFIX}:container-instance/default/{NODE_ID}",
                "launchType": "EC2",
                "overrides": {"containerOverrides": [], "inferenceAcceleratorOverrides": []},
                "enableExecuteCommand": False,
                "version": 4,
                "tags": [{"key": "k", "value": "v"}],
            }
        ],
        "failures": [],
    }


def test_describe_a_stopped_ecstask_gives_its_stop(dispatcher: Dispatcher, store: FakeStore) -> None:
    task = _ecs_task()
    task["status"].update(
        lastStatus="STOPPED",
        desiredStatus="STOPPED",
        stopCode="EssentialContainerExited",
        stoppedReason="Essential container in task exited",
        exitCode=3,
        stoppingAt="2026-01-01T00:01:00Z",
        stoppedAt="2026-01-01T00:01:02Z",
        containers=[{"name": "app", "image": "nginx:3", "lastStatus": "STOPPED", "exitCode": 3, "reason": ""}],
    )
    store.ecs_tasks.append(task)
    described = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [f"{PREFIX}:task/default/{TASK_ID}"]})[
        "tasks"
    ][0]
    assert described["lastStatus"] == "STOPPED" and described["desiredStatus"] == "STOPPED"
    assert described["stopCode"] == "EssentialContainerExited"
    assert described["stoppedReason"] == "Essential container in task exited"
    assert described["stoppingAt"] == EPOCH_0 + 60 and described["stoppedAt"] == EPOCH_0 + 62
    assert described["containers"][0]["exitCode"] == 3 and described["containers"][0]["lastStatus"] == "STOPPED"
    assert described["version"] == 8
    assert "exitCode" not in described and "tags" not in described  # not members of ECS's Task; no include


def test_describe_a_service_task_from_its_pod(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services.append(_service())
    store.pods.append(_pod("web-7d9f-x1", POD_UID, SERVICE_LABELS))
    described = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [POD_ID]})["tasks"][0]
    arn = f"{PREFIX}:task/default/{POD_ID}"
    assert described == {
        "taskArn": arn,
        "taskDefinitionArn": f"{PREFIX}:task-definition/web:3",
        "clusterArn": f"{PREFIX}:cluster/default",
        "group": "service:web",
        "startedBy": deployment_id("rs-1"),
        "lastStatus": "RUNNING",
        "desiredStatus": "RUNNING",
        "healthStatus": "UNKNOWN",
        "createdAt": EPOCH_0,
        "startedAt": EPOCH_0 + 5,
        "containers": [
            {"name": "app", "image": "nginx:3", "lastStatus": "RUNNING", "healthStatus": "UNKNOWN", "taskArn": arn}
        ],
        "containerInstanceArn": f"{PREFIX}:container-instance/default/{NODE_ID}",
        "launchType": "EC2",
        "overrides": {"containerOverrides": [], "inferenceAcceleratorOverrides": []},
        "enableExecuteCommand": False,
        "version": 4,
    }
    assert described["startedBy"].startswith("ecs-svc/")
    tags = [{"key": "aws:ecs:serviceName", "value": "web"}]
    store.pods[0]["metadata"]["annotations"][tasks.TAGS_ANNOTATION] = json.dumps(tags)
    tagged = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [POD_ID], "include": ["TAGS"]})["tasks"][0]
    assert tagged == {**described, "tags": tags}


def test_a_restarted_service_pod_is_a_new_task_and_the_old_one_is_its_status_entry(
    dispatcher: Dispatcher, store: FakeStore
) -> None:
    """An essential exit restarts the pod in place: ECS's replacement task, a new ID; the
    stopped one is what the service's status.stoppedTasks keeps."""
    stopped_entry = {
        "taskArn": f"{PREFIX}:task/default/{POD_ID}",
        "taskDefinitionArn": f"{PREFIX}:task-definition/web:3",
        "group": "service:web",
        "startedBy": deployment_id("rs-1"),
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "healthStatus": "UNKNOWN",
        "createdAt": "2026-01-01T00:00:00Z",
        "startedAt": "2026-01-01T00:00:05Z",
        "stoppedAt": "2026-01-01T00:00:30Z",
        "containers": [{"name": "app", "image": "nginx:3", "lastStatus": "STOPPED", "exitCode": 3}],
    }
    store.services.append(_service(stoppedTasks=[stopped_entry]))
    store.pods.append(_pod("web-7d9f-x1", POD_UID, SERVICE_LABELS, restarts=1))
    new_id = task_id(POD_UID, 1)
    answer = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [POD_ID, new_id]})
    old, new = answer["tasks"]
    assert old["lastStatus"] == "STOPPED" and old["stopCode"] == "EssentialContainerExited"
    assert old["stoppedAt"] == EPOCH_0 + 30 and old["containers"][0]["exitCode"] == 3
    assert old["clusterArn"] == f"{PREFIX}:cluster/default" and old["version"] == 8
    assert new["taskArn"].endswith(new_id) and new["lastStatus"] == "RUNNING"


def test_a_service_pod_whose_task_stopped_is_described_by_the_status_entry(
    dispatcher: Dispatcher, store: FakeStore
) -> None:
    """Between the essential exit and the kubelet's restart the pod shows the task STOPPED;
    the operator's entry (when, why) is what DescribeTasks gives once written."""
    exited = {"terminated": {"exitCode": 3, "startedAt": "2026-01-01T00:00:05Z", "finishedAt": "2026-01-01T00:00:30Z"}}
    entry = {
        "taskArn": f"{PREFIX}:task/default/{POD_ID}",
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedAt": "2026-01-01T00:00:30Z",
        "containers": [],
    }
    store.pods.append(_pod("web-7d9f-x1", POD_UID, SERVICE_LABELS, state=exited))
    store.services.append(_service())
    before = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [POD_ID]})["tasks"][0]
    assert before["lastStatus"] == "STOPPED" and "stoppedAt" not in before  # the pod's view
    store.services[0]["status"]["stoppedTasks"] = [entry]
    after = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [POD_ID]})["tasks"][0]
    assert after["stoppedAt"] == EPOCH_0 + 30


def test_unknown_tasks_are_missing_failures(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.ecs_tasks.append(_ecs_task())
    answer = ecsapi_calls.call(
        dispatcher,
        "DescribeTasks",
        {"tasks": ["0" * 32, f"{PREFIX}:task/batch/{TASK_ID}", TASK_ID]},
    )
    assert [t["taskArn"] for t in answer["tasks"]] == [f"{PREFIX}:task/default/{TASK_ID}"]
    assert answer["failures"] == [
        {"arn": f"{PREFIX}:task/default/{'0' * 32}", "reason": "MISSING"},
        # an ARN naming another cluster names no task of this one
        {"arn": f"{PREFIX}:task/batch/{TASK_ID}", "reason": "MISSING"},
    ]


def test_tasks_of_another_namespace_are_missing(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.ecs_tasks.append(_ecs_task())
    answer = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [TASK_ID]}, namespace="team-b")
    assert answer["tasks"] == [] and answer["failures"][0]["reason"] == "MISSING"


def test_describe_tasks_errors(dispatcher: Dispatcher) -> None:
    assert ecsapi_calls.error(dispatcher, "DescribeTasks", {"tasks": ["a"] * 101}).message.startswith(
        "tasks: 101 given"
    )
    assert ecsapi_calls.error(dispatcher, "DescribeTasks", {"tasks": []}).name == "InvalidParameterException"
    nowhere = ecsapi_calls.error(dispatcher, "DescribeTasks", {"cluster": "nope", "tasks": ["a"]})
    assert nowhere.name == "ClusterNotFoundException"
    assert ecsapi_calls.error(dispatcher, "DescribeTasks", {"tasks": ["not/an id"]}).name == "InvalidParameterException"


def test_describe_tasks_needs_its_tasks_member(dispatcher: Dispatcher) -> None:
    refused = ecsapi_calls.error(dispatcher, "DescribeTasks", {})
    assert refused.name == "InvalidParameterException" and "tasks" in refused.message


# --- the waiters (botocore's ecs waiters-2.json: TasksRunning, TasksStopped)


def _waiter_state(answer: Mapping[str, Any], waiter: str) -> str | None:
    """What botocore's waiter makes of one DescribeTasks answer (its acceptors, in order)."""
    statuses = [t["lastStatus"] for t in answer["tasks"]]
    reasons = [f["reason"] for f in answer["failures"]]
    if waiter == "TasksRunning":
        if "STOPPED" in statuses or "MISSING" in reasons:
            return "failure"
        return "success" if statuses and all(s == "RUNNING" for s in statuses) else None
    return "success" if statuses and all(s == "STOPPED" for s in statuses) else None


def test_waiters_contract(dispatcher: Dispatcher, store: FakeStore) -> None:
    botocore = pytest.importorskip("botocore")
    import os

    waiters_file = os.path.join(os.path.dirname(botocore.__file__), "data", "ecs", "2014-11-13", "waiters-2.json")
    with open(waiters_file) as handle:
        waiters = json.load(handle)["waiters"]
    assert [a["argument"] for a in waiters["TasksRunning"]["acceptors"]] == [
        "tasks[].lastStatus",
        "failures[].reason",
        "tasks[].lastStatus",
    ]
    assert waiters["TasksStopped"]["acceptors"][0]["argument"] == "tasks[].lastStatus"
    started = ecsapi_calls.call(dispatcher, "RunTask", {"taskDefinition": "web"})["tasks"][0]["taskArn"]
    answer = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [started]})
    assert _waiter_state(answer, "TasksRunning") is None  # PROVISIONING: keep waiting
    store.ecs_tasks[0]["status"] = {"lastStatus": "RUNNING"}
    assert (
        _waiter_state(ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [started]}), "TasksRunning") == "success"
    )
    store.ecs_tasks[0]["status"] = {"lastStatus": "STOPPED", "desiredStatus": "STOPPED"}
    answer = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [started]})
    assert _waiter_state(answer, "TasksStopped") == "success"
    assert _waiter_state(answer, "TasksRunning") == "failure"
    store.ecs_tasks.clear()  # the retention removed it: MISSING
    gone = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [started]})
    assert gone["failures"] == [{"arn": started, "reason": "MISSING"}]
    assert _waiter_state(gone, "TasksRunning") == "failure"


# --- StopTask


def test_stop_an_ecstask_sets_its_desired_status(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.ecs_tasks.append(_ecs_task())
    answer = ecsapi_calls.call(dispatcher, "StopTask", {"task": TASK_ID, "reason": "deploy 42"})
    assert store.writes == [("patch", {"spec": {"desiredStatus": "STOPPED", "reason": "deploy 42"}})]
    task = answer["task"]
    assert task["taskArn"] == f"{PREFIX}:task/default/{TASK_ID}"
    assert task["desiredStatus"] == "STOPPED" and task["lastStatus"] == "RUNNING"
    assert task["stopCode"] == "UserInitiated" and task["stoppedReason"] == "deploy 42"
    # described again: desired STOPPED from the spec, before the operator's next status
    again = ecsapi_calls.call(dispatcher, "DescribeTasks", {"tasks": [TASK_ID]})["tasks"][0]
    assert again["desiredStatus"] == "STOPPED"


def test_stop_without_reason_is_stopped_by_user(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.ecs_tasks.append(_ecs_task())
    answer = ecsapi_calls.call(dispatcher, "StopTask", {"task": f"{PREFIX}:task/default/{TASK_ID}"})
    assert store.writes == [("patch", {"spec": {"desiredStatus": "STOPPED"}})]
    assert answer["task"]["stoppedReason"] == "Task stopped by user"


def test_stop_a_stopped_task_changes_nothing(dispatcher: Dispatcher, store: FakeStore) -> None:
    task = _ecs_task()
    task["status"].update(lastStatus="STOPPED", desiredStatus="STOPPED", stopCode="EssentialContainerExited")
    store.ecs_tasks.append(task)
    answer = ecsapi_calls.call(dispatcher, "StopTask", {"task": TASK_ID, "reason": "again"})
    assert store.writes == []
    assert answer["task"]["stopCode"] == "EssentialContainerExited"


def test_stop_a_service_task_deletes_its_pod(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services.append(_service())
    store.pods.append(_pod("web-7d9f-x1", POD_UID, SERVICE_LABELS))
    answer = ecsapi_calls.call(dispatcher, "StopTask", {"task": POD_ID, "reason": "bad node"})
    assert store.writes == [("delete-pod", "web-7d9f-x1")]
    assert answer["task"]["group"] == "service:web"
    assert answer["task"]["desiredStatus"] == "STOPPED" and answer["task"]["stoppedReason"] == "bad node"


def test_stop_task_errors(dispatcher: Dispatcher, store: FakeStore) -> None:
    refused = ecsapi_calls.error(dispatcher, "StopTask", {"task": "0" * 32})
    assert (refused.name, refused.message) == ("InvalidParameterException", "The referenced task was not found.")
    assert (
        ecsapi_calls.error(dispatcher, "StopTask", {"cluster": "nope", "task": "a"}).name == "ClusterNotFoundException"
    )
    assert ecsapi_calls.error(dispatcher, "StopTask", {}).name == "InvalidParameterException"  # task is required
    store.ecs_tasks.append(_ecs_task())
    long = ecsapi_calls.error(dispatcher, "StopTask", {"task": TASK_ID, "reason": "x" * 256})
    assert long.message == "reason: 256 characters; expected at most 255, as ECS takes"
    assert store.writes == []


# --- ListTasks


def _listing_store(store: FakeStore) -> None:
    store.ecs_tasks += [
        _ecs_task("one", "00000000-0000-4000-8000-00000000000a", startedBy="ci"),
        _ecs_task("two", "00000000-0000-4000-8000-00000000000b", taskDefinition="batch:1", cluster="batch"),
    ]
    stopped = _ecs_task("three", "00000000-0000-4000-8000-00000000000c")
    stopped["status"].update(lastStatus="STOPPED", desiredStatus="STOPPED")
    store.ecs_tasks.append(stopped)
    store.services.append(
        _service(stoppedTasks=[{"taskArn": f"{PREFIX}:task/default/{STOPPED_ID}", "lastStatus": "STOPPED"}])
    )
    store.pods.append(_pod("web-7d9f-x1", POD_UID, SERVICE_LABELS))
    store.pods.append(_pod("one", "pod-of-one", {LABEL_TASK: "one"}))
    store.pods.append(_pod("two", "pod-of-two", {LABEL_TASK: "two"}))
    store.pods[-1]["spec"]["nodeName"] = "node-2"
    store.nodes.append({"metadata": {"name": "node-2", "uid": "other"}})


def _ids(answer: Mapping[str, Any]) -> list[str]:
    return [arn.rsplit("/", 1)[-1] for arn in answer["taskArns"]]


def test_list_tasks_filters(dispatcher: Dispatcher, store: FakeStore) -> None:
    _listing_store(store)
    one, two, three = (f"0000000000004000800000000000000{c}" for c in "abc")
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {})) == [one, POD_ID]  # RUNNING, cluster default
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"cluster": "batch"})) == [two]
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"desiredStatus": "STOPPED"})) == [three, STOPPED_ID]
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"desiredStatus": "PENDING"})) == []
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"serviceName": "web"})) == [POD_ID]
    stopped_of_service = ecsapi_calls.call(dispatcher, "ListTasks", {"serviceName": "web", "desiredStatus": "STOPPED"})
    assert _ids(stopped_of_service) == [STOPPED_ID]
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"startedBy": "ci"})) == [one]
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"startedBy": deployment_id("rs-1")})) == [POD_ID]
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"family": "web"})) == [one, POD_ID]
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"family": "batch", "cluster": "batch"})) == [two]
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"launchType": "FARGATE"})) == []
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"launchType": "EC2"})) == [one, POD_ID]
    on_node = ecsapi_calls.call(
        dispatcher, "ListTasks", {"containerInstance": f"{PREFIX}:container-instance/default/{NODE_ID}"}
    )
    assert _ids(on_node) == [one, POD_ID]
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"containerInstance": "other"})) == []
    assert _ids(ecsapi_calls.call(dispatcher, "ListTasks", {"containerInstance": "other", "cluster": "batch"})) == [two]


def test_list_tasks_pages(dispatcher: Dispatcher, store: FakeStore) -> None:
    _listing_store(store)
    first = ecsapi_calls.call(dispatcher, "ListTasks", {"maxResults": 1})
    assert _ids(first) == ["0000000000004000800000000000000a"] and first["nextToken"]
    second = ecsapi_calls.call(dispatcher, "ListTasks", {"maxResults": 1, "nextToken": first["nextToken"]})
    assert _ids(second) == [POD_ID] and "nextToken" not in second
    refused = ecsapi_calls.error(dispatcher, "ListTasks", {"nextToken": "bm9wZQ"})
    assert refused.name == "InvalidParameterException"


def test_list_tasks_errors(dispatcher: Dispatcher, store: FakeStore) -> None:
    _listing_store(store)
    assert ecsapi_calls.error(dispatcher, "ListTasks", {"cluster": "nope"}).name == "ClusterNotFoundException"
    refused = ecsapi_calls.error(dispatcher, "ListTasks", {"serviceName": "nope"})
    assert (refused.name, refused.message) == ("ServiceNotFoundException", "Service not found.")
    assert ecsapi_calls.error(dispatcher, "ListTasks", {"desiredStatus": "GONE"}).name == "InvalidParameterException"


# --- the pure half on its own


def test_namespace_tasks_keeps_each_id_once() -> None:
    pod = _pod("web-7d9f-x1", POD_UID, SERVICE_LABELS)
    entry = {"taskArn": f"{PREFIX}:task/default/{POD_ID}", "lastStatus": "STOPPED"}
    found = tasks.namespace_tasks([], [pod], [_service(stoppedTasks=[entry])], [], ARNS)
    # the pod still runs (a task the status called stopped is a later look): the pod wins
    assert [(t.kind, t.ident) for t in found] == [(tasks.SERVICE_POD, POD_ID)]
    assert found[0].described["containerInstanceArn"] == f"{PREFIX}:container-instance/default/node-1"


# --- the CLI's run-task: the same translator


def test_cli_run_task_creates_what_the_translator_builds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecs_facade import cli
    from ecs_facade.kube import client as kube

    created: list[dict[str, Any]] = []

    def create(manifest: Mapping[str, Any], plural: str) -> dict[str, Any]:
        assert plural == "ecstasks"
        made = copy.deepcopy(dict(manifest))
        made["metadata"]["name"] = made["metadata"]["generateName"] + str(len(created))
        created.append(made)
        return made

    monkeypatch.setattr(kube, "create", create)
    code = cli.main(["run-task", "--task-definition", "web:3", "--count", "2", "--started-by", "ci", "-n", "team-a"])
    assert code == 0
    expected = run_task_manifests(
        {"cluster": "default", "taskDefinition": "web:3", "count": 2, "startedBy": "ci"}, "team-a"
    )
    assert [{**m, "metadata": {k: v for k, v in m["metadata"].items() if k != "name"}} for m in created] == expected
    assert "started team-a/web-0" in capsys.readouterr().out
    assert cli.main(["run-task", "--task-definition", "web", "--count", "11"]) == 1
    assert "count: 11 is out of range" in capsys.readouterr().err
