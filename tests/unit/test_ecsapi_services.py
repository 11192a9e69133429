"""The service actions: the ECSService each request writes, the ECS Service shape read from an
ECSService's spec and status, and ECS's errors, through the Dispatcher over a fake Store."""

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import services
from ecs_facade.ecsapi.handlers import Actions, Conflict
from ecs_facade.ecsapi.protocol import Dispatcher
from tests.unit import ecsapi_calls

ARNS = Arns("us-east-1", "123456789012")
PREFIX = "arn:aws:ecs:us-east-1:123456789012"

# a status as the operator writes it (views/service_status.py)
STATUS: dict[str, Any] = {
    "desiredCount": 2,
    "runningCount": 1,
    "pendingCount": 1,
    "taskDefinition": f"{PREFIX}:task-definition/web:3",
    "deployments": [
        {
            "id": "ecs-svc/1234567890123456789",
            "status": "PRIMARY",
            "taskDefinition": f"{PREFIX}:task-definition/web:3",
            "desiredCount": 2,
            "runningCount": 1,
            "pendingCount": 1,
            "failedTasks": 0,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": None,
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:10Z",
        }
    ],
    "events": [{"id": "e-1", "createdAt": "2026-01-01T00:00:05Z", "message": "(service web) has started 2 tasks."}],
    "conditions": [],
}


class FakeStore(ecsapi_calls.FakeObjects):
    """Namespaces, ECSClusters and ECSServices as the API server holds them."""

    def __init__(self) -> None:
        super().__init__()
        self.clusters: list[dict[str, Any]] = []
        self.namespaces: dict[str, dict[str, str]] = {"team-a": {}, "team-b": {}}
        self.services: list[dict[str, Any]] = []
        # family web: revisions 2 (deregistered), 3 and 4
        self.tds: list[dict[str, Any]] = [
            {
                "metadata": {"name": "web", "namespace": "team-a", "uid": "uid-web"},
                "spec": {"family": "web", "deregisteredRevisions": [2]},
            }
        ]
        self.revisions = [ecsapi_calls.web_revision(n) for n in (2, 3, 4)]
        self.conflicts = 0
        self.cluster_conflicts = 0  # the next cluster patches that answer 409
        self.writes: list[tuple[str, Any]] = []

    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool:
        """A conditional merge patch of metadata (409 when its resourceVersion is stale)."""
        found = [c for c in self.clusters if c["metadata"]["name"] == name]
        if not found:
            return False
        metadata = found[0]["metadata"]
        if self.cluster_conflicts or patch["metadata"].get("resourceVersion") not in (
            None,
            metadata["resourceVersion"],
        ):
            self.cluster_conflicts = max(0, self.cluster_conflicts - 1)
            metadata["resourceVersion"] = str(int(metadata["resourceVersion"]) + 1)  # changed meanwhile
            raise Conflict("the object has been modified")
        metadata.setdefault("annotations", {}).update(copy.deepcopy(patch["metadata"].get("annotations") or {}))
        metadata["resourceVersion"] = str(int(metadata["resourceVersion"]) + 1)
        self.writes.append(("patch-cluster", copy.deepcopy(dict(patch))))
        return True

    def _find(self, namespace: str, name: str) -> dict[str, Any] | None:
        meta = [s for s in self.services if (s["metadata"]["namespace"], s["metadata"]["name"]) == (namespace, name)]
        return meta[0] if meta else None

    def create_service(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        meta = manifest["metadata"]
        if self._find(meta["namespace"], meta["name"]):
            return None
        created = copy.deepcopy(dict(manifest))
        created["metadata"].update(resourceVersion="1", creationTimestamp="2026-01-01T00:00:00Z")
        self.services.append(created)
        self.writes.append(("create", copy.deepcopy(created)))
        return copy.deepcopy(created)

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict("the object has been modified")
        found = self._find(namespace, name)
        assert found is not None and patch["metadata"]["resourceVersion"] == found["metadata"]["resourceVersion"]
        found["spec"].update(copy.deepcopy(dict(patch["spec"])))
        found["metadata"]["resourceVersion"] = str(int(found["metadata"]["resourceVersion"]) + 1)
        self.writes.append(("patch", copy.deepcopy(dict(patch))))
        return copy.deepcopy(found)

    def delete_service(self, namespace: str, name: str) -> None:
        self.services = [
            s for s in self.services if (s["metadata"]["namespace"], s["metadata"]["name"]) != (namespace, name)
        ]
        self.writes.append(("delete", name))


def _service(name: str, cluster: str = "default", namespace: str = "team-a", **spec: Any) -> dict[str, Any]:
    return ecsapi_calls.ecs_service(name, cluster, namespace, STATUS, **spec)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def dispatcher(store: FakeStore) -> Dispatcher:
    return ecsapi_calls.dispatcher_of(Actions(store, ARNS))  # type: ignore[arg-type]  # only the service half of the Store


# --- CreateService


def test_create_service_writes_the_request_as_the_ecsservice_spec(dispatcher: Dispatcher, store: FakeStore) -> None:
    answer = ecsapi_calls.call(
        dispatcher,
        "CreateService",
        {
            "cluster": f"{PREFIX}:cluster/default",
            "serviceName": "Web_App",
            "taskDefinition": "web:3",
            "desiredCount": 2,
            "clientToken": "t-1",
            "deploymentConfiguration": {"maximumPercent": 150, "minimumHealthyPercent": 50},
        },
    )
    (_, created), *_ = store.writes
    assert created["kind"] == "ECSService"
    assert created["metadata"]["namespace"] == "team-a"
    assert created["metadata"]["name"].startswith("web-app-")  # not a DNS label: lowered and hashed
    assert created["spec"] == {
        "cluster": "default",  # the ARN's name
        "serviceName": "Web_App",
        "taskDefinition": "web:3",
        "desiredCount": 2,
        "deploymentConfiguration": {"maximumPercent": 150, "minimumHealthyPercent": 50},
    }
    service = answer["service"]
    assert service["serviceArn"] == f"{PREFIX}:service/default/Web_App"
    assert service["clusterArn"] == f"{PREFIX}:cluster/default"
    assert service["status"] == "ACTIVE"
    assert (service["desiredCount"], service["runningCount"], service["deployments"]) == (2, 0, [])
    assert service["deploymentConfiguration"] == {"maximumPercent": 150, "minimumHealthyPercent": 50}
    assert service["taskDefinition"] == f"{PREFIX}:task-definition/web:3"


def test_create_service_answers_the_revision_a_bare_family_names(dispatcher: Dispatcher, store: FakeStore) -> None:
    answer = ecsapi_calls.call(dispatcher, "CreateService", {"serviceName": "web", "taskDefinition": "web"})
    assert answer["service"]["taskDefinition"] == f"{PREFIX}:task-definition/web:4"  # latest ACTIVE
    assert store.services[0]["spec"]["taskDefinition"] == "web"  # the operator resolves it (docs/services.md)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("nope", "TaskDefinition not found."),
        ("web:9", "TaskDefinition not found."),
        (f"{PREFIX}:task-definition/web:2", "TaskDefinition is inactive"),
    ],
)
def test_create_and_update_refuse_an_unknown_or_inactive_task_definition(
    dispatcher: Dispatcher, store: FakeStore, reference: str, message: str
) -> None:
    error = ecsapi_calls.error(dispatcher, "CreateService", {"serviceName": "api", "taskDefinition": reference})
    assert (error.name, error.message) == ("ClientException", message)
    store.services = [_service("web")]
    error = ecsapi_calls.error(dispatcher, "UpdateService", {"service": "web", "taskDefinition": reference})
    assert (error.name, error.message) == ("ClientException", message)
    assert store.writes == []


def test_create_service_in_an_unknown_or_unadmitting_cluster_is_cluster_not_found(
    dispatcher: Dispatcher, store: FakeStore
) -> None:
    store.clusters = [
        {
            "metadata": {"name": "other"},
            "spec": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-b"}}},
        }
    ]
    for cluster in ("nope", "other"):
        error = ecsapi_calls.error(
            dispatcher, "CreateService", {"cluster": cluster, "serviceName": "web", "taskDefinition": "web"}
        )
        assert (error.name, error.message) == ("ClusterNotFoundException", "Cluster not found.")
    assert store.writes == []


def test_create_service_of_an_existing_name_is_refused(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web")]
    error = ecsapi_calls.error(dispatcher, "CreateService", {"serviceName": "web", "taskDefinition": "web"})
    assert (error.name, error.message) == ("InvalidParameterException", "Creation of service was not idempotent.")
    store.services[0]["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    assert (
        "draining"
        in ecsapi_calls.error(dispatcher, "CreateService", {"serviceName": "web", "taskDefinition": "web"}).message
    )
    assert store.writes == []


def test_create_service_missing_its_task_definition_names_the_member(dispatcher: Dispatcher) -> None:
    error = ecsapi_calls.error(dispatcher, "CreateService", {"serviceName": "web"})
    assert error.name == "InvalidParameterException" and "taskDefinition" in error.message


# --- DescribeServices


def test_describe_services_from_spec_and_status(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [
        _service(
            "web",
            launchType="FARGATE",
            role="arn:aws:iam::123456789012:role/ecs",
            tags=[{"key": "team", "value": "a"}],
        )
    ]
    answer = ecsapi_calls.call(dispatcher, "DescribeServices", {"services": ["web", "gone"], "include": ["TAGS"]})
    (service,) = answer["services"]
    assert answer["failures"] == [{"arn": f"{PREFIX}:service/default/gone", "reason": "MISSING"}]
    assert service["serviceName"] == "web"
    assert (service["desiredCount"], service["runningCount"], service["pendingCount"]) == (2, 1, 1)
    assert service["taskDefinition"] == f"{PREFIX}:task-definition/web:3"  # the revision in use, not spec's "web"
    (deployment,) = service["deployments"]
    assert deployment["createdAt"] == 1767225600.0 and deployment["updatedAt"] == 1767225610.0  # epoch seconds
    assert "rolloutStateReason" not in deployment  # null members are left out, as ECS does
    assert deployment["rolloutState"] == "IN_PROGRESS" and deployment["status"] == "PRIMARY"
    assert service["events"] == [
        {"id": "e-1", "createdAt": 1767225605.0, "message": "(service web) has started 2 tasks."}
    ]
    assert service["createdAt"] == 1767225600.0
    assert service["launchType"] == "FARGATE"
    assert service["roleArn"] == "arn:aws:iam::123456789012:role/ecs"
    assert service["tags"] == [{"key": "team", "value": "a"}]
    assert service["deploymentConfiguration"] == {"maximumPercent": 200, "minimumHealthyPercent": 100}
    assert service["schedulingStrategy"] == "REPLICA"
    without = ecsapi_calls.call(dispatcher, "DescribeServices", {"services": ["web"]})["services"][0]
    assert "tags" not in without


def test_describe_services_by_arn_and_cluster(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.clusters = [{"metadata": {"name": "prod"}, "spec": {}}]
    store.services = [_service("web", cluster="prod"), _service("api")]
    answer = ecsapi_calls.call(
        dispatcher,
        "DescribeServices",
        {"cluster": "prod", "services": [f"{PREFIX}:service/prod/web", f"{PREFIX}:service/default/api", "api"]},
    )
    assert [s["serviceArn"] for s in answer["services"]] == [f"{PREFIX}:service/prod/web"]
    assert [f["arn"] for f in answer["failures"]] == [f"{PREFIX}:service/prod/api"] * 2
    error = ecsapi_calls.error(dispatcher, "DescribeServices", {"cluster": "nope", "services": ["web"]})
    assert error.name == "ClusterNotFoundException"
    assert (
        len(ecsapi_calls.call(dispatcher, "DescribeServices", {"services": [f"s{i}" for i in range(10)]})["failures"])
        == 10
    )
    error = ecsapi_calls.error(dispatcher, "DescribeServices", {"services": [f"s{i}" for i in range(11)]})
    assert error.name == "InvalidParameterException" and "at most 10" in error.message


def test_describe_services_of_another_namespace_are_missing(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web", namespace="team-b")]
    answer = ecsapi_calls.call(dispatcher, "DescribeServices", {"services": ["web"]})
    assert answer["services"] == [] and answer["failures"][0]["reason"] == "MISSING"


def test_a_deleting_service_is_draining() -> None:
    service = _service("web")
    service["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    assert services.describe_service(service, ARNS)["status"] == "DRAINING"


def test_a_service_before_its_first_status_uses_its_spec() -> None:
    service = _service("web")
    del service["status"]
    described = services.describe_service(service, ARNS)
    assert (described["desiredCount"], described["runningCount"], described["deployments"]) == (2, 0, [])
    assert described["taskDefinition"] == "web"


# --- ListServices


def test_list_services_of_the_cluster_filtered_and_paged(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.clusters = [{"metadata": {"name": "prod"}, "spec": {}}]
    store.services = [
        _service("c"),
        _service("a"),
        _service("b", launchType="FARGATE"),
        _service("d", schedulingStrategy="DAEMON"),
        _service("e", cluster="prod"),
    ]
    first = ecsapi_calls.call(dispatcher, "ListServices", {"maxResults": 2})
    assert first["serviceArns"] == [f"{PREFIX}:service/default/a", f"{PREFIX}:service/default/b"]
    second = ecsapi_calls.call(dispatcher, "ListServices", {"maxResults": 2, "nextToken": first["nextToken"]})
    assert second["serviceArns"] == [f"{PREFIX}:service/default/c", f"{PREFIX}:service/default/d"]
    assert "nextToken" not in second
    assert ecsapi_calls.call(dispatcher, "ListServices", {"launchType": "FARGATE"})["serviceArns"] == [
        f"{PREFIX}:service/default/b"
    ]
    assert ecsapi_calls.call(dispatcher, "ListServices", {"schedulingStrategy": "DAEMON"})["serviceArns"] == [
        f"{PREFIX}:service/default/d"
    ]
    assert ecsapi_calls.call(dispatcher, "ListServices", {"cluster": "prod"})["serviceArns"] == [
        f"{PREFIX}:service/prod/e"
    ]
    assert ecsapi_calls.error(dispatcher, "ListServices", {"cluster": "nope"}).name == "ClusterNotFoundException"


# --- UpdateService


def test_update_service_patches_the_spec_conditionally(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web")]
    answer = ecsapi_calls.call(
        dispatcher,
        "UpdateService",
        {
            "service": "web",
            "desiredCount": 5,
            "taskDefinition": "web:4",
            "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 0},
            "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
            "capacityProviderStrategy": [{"capacityProvider": "spot", "weight": 1}],
        },
    )
    ((kind, patch),) = store.writes
    assert kind == "patch"
    assert patch == {
        "metadata": {"resourceVersion": "7"},
        "spec": {
            "desiredCount": 5,
            "taskDefinition": "web:4",
            "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 0},
            "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
            "capacityProviderStrategy": [{"capacityProvider": "spot", "weight": 1}],
        },
    }
    assert answer["service"]["deploymentConfiguration"] == {"maximumPercent": 100, "minimumHealthyPercent": 0}
    assert store.services[0]["spec"]["desiredCount"] == 5
    assert answer["service"]["placementStrategy"] == [{"type": "spread", "field": "attribute:ecs.availability-zone"}]


def test_force_new_deployment_sets_a_new_value_each_time(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web")]
    ecsapi_calls.call(dispatcher, "UpdateService", {"service": "web", "forceNewDeployment": True})
    first = store.services[0]["spec"]["forceNewDeployment"]
    assert first.startswith("20")  # a timestamp: each change starts a deployment (docs/services.md)
    ecsapi_calls.call(dispatcher, "UpdateService", {"service": "web", "forceNewDeployment": True})
    assert store.services[0]["spec"]["forceNewDeployment"] != first
    ecsapi_calls.call(dispatcher, "UpdateService", {"service": "web", "forceNewDeployment": False, "desiredCount": 1})
    assert "forceNewDeployment" not in store.writes[-1][1]["spec"]


def test_update_service_retries_a_conflict(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web")]
    store.conflicts = 2
    ecsapi_calls.call(dispatcher, "UpdateService", {"service": "web", "desiredCount": 3})
    assert store.services[0]["spec"]["desiredCount"] == 3
    store.conflicts = 3
    assert (
        ecsapi_calls.error(dispatcher, "UpdateService", {"service": "web", "desiredCount": 4}).name == "ClientException"
    )


def test_update_service_errors(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web"), _service("daemon", schedulingStrategy="DAEMON")]
    missing = ecsapi_calls.error(dispatcher, "UpdateService", {"service": "nope", "desiredCount": 1})
    assert (missing.name, missing.message) == ("ServiceNotFoundException", "Service not found.")
    assert (
        ecsapi_calls.error(dispatcher, "UpdateService", {"cluster": "nope", "service": "web"}).name
        == "ClusterNotFoundException"
    )
    daemon = ecsapi_calls.error(dispatcher, "UpdateService", {"service": "daemon", "desiredCount": 1})
    assert daemon.name == "InvalidParameterException" and "desiredCount" in daemon.message
    store.services[0]["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    draining = ecsapi_calls.error(dispatcher, "UpdateService", {"service": "web", "desiredCount": 1})
    assert (draining.name, draining.message) == ("ServiceNotActiveException", "Service was not ACTIVE.")
    assert store.writes == []


# --- DeleteService


def test_delete_service_scaled_above_zero_needs_force(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web")]
    error = ecsapi_calls.error(dispatcher, "DeleteService", {"service": "web"})
    assert (error.name, error.message) == (
        "InvalidParameterException",
        "The service cannot be stopped while it is scaled above 0.",
    )
    assert store.writes == []
    answer = ecsapi_calls.call(dispatcher, "DeleteService", {"service": "web", "force": True})
    assert answer["service"]["status"] == "DRAINING"
    assert answer["service"]["serviceArn"] == f"{PREFIX}:service/default/web"
    assert store.writes == [("delete", "web")]


def test_delete_service_scaled_to_zero_or_daemon_needs_no_force(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services = [_service("web", desiredCount=0), _service("daemon", schedulingStrategy="DAEMON")]
    ecsapi_calls.call(dispatcher, "DeleteService", {"service": "web"})
    ecsapi_calls.call(dispatcher, "DeleteService", {"service": f"{PREFIX}:service/default/daemon"})
    assert store.writes == [("delete", "web"), ("delete", "daemon")]
    assert ecsapi_calls.error(dispatcher, "DeleteService", {"service": "web"}).name == "ServiceNotFoundException"


def test_described_count_is_the_one_asked_for_unless_auto_scaled() -> None:
    """ECS answers UpdateService with the new desiredCount at once; the operator's status
    catches up later. An auto scaled service's count is its scaling's (the status)."""
    arns = ARNS
    asked = _service("web", desiredCount=5)  # status: desiredCount 2
    assert services.describe_service(asked, arns)["desiredCount"] == 5
    scaled = _service("web", desiredCount=5, autoScaling={"minCapacity": 1, "maxCapacity": 4})
    assert services.describe_service(scaled, arns)["desiredCount"] == 2


def test_a_new_revision_the_operator_has_not_seen_is_the_primary_deployment() -> None:
    """Right after UpdateService to another revision ECS shows the new PRIMARY deployment and
    the old one ACTIVE: a services_stable waiter must not take the old, settled one as done."""
    arns = ARNS
    service = _service("web", taskDefinition="web:4")
    service["metadata"]["generation"] = 3
    service["status"]["observedGeneration"] = 2  # the status is of revision 3 (STATUS)
    pending, old = services.describe_service(service, arns)["deployments"]
    assert (pending["status"], pending["rolloutState"], pending["runningCount"]) == ("PRIMARY", "IN_PROGRESS", 0)
    assert pending["taskDefinition"] == f"{PREFIX}:task-definition/web:4"
    assert old["status"] == "ACTIVE"
    service["status"]["observedGeneration"] = 3  # seen: the operator's deployments only
    assert [d["status"] for d in services.describe_service(service, arns)["deployments"]] == ["PRIMARY"]
    same = _service("web", taskDefinition="web:3")  # a count change: no new deployment
    same["metadata"]["generation"], same["status"]["observedGeneration"] = 3, 2
    assert len(services.describe_service(same, arns)["deployments"]) == 1


def test_replaced_deployments_are_not_listed() -> None:
    """The operator keeps the deployment a rollout replaced (INACTIVE) in its status; ECS lists
    only PRIMARY and ACTIVE ones, and services_stable waits for exactly one."""
    service = _service("web")
    primary = dict(service["status"]["deployments"][0])
    service["status"]["deployments"] = [primary, {**primary, "id": "ecs-svc/2", "status": "INACTIVE"}]
    assert [d["status"] for d in services.describe_service(service, ARNS)["deployments"]] == ["PRIMARY"]
