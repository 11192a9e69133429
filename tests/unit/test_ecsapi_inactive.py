"""A deleted service described INACTIVE (ecsapi/inactive.py): the tombstone DeleteService
leaves on the ECSCluster, DescribeServices answering it, its pruning and bounds, and who sees it."""

import copy
from typing import Any

import orjson
import pytest

from ecs_facade.ecsapi import inactive
from ecs_facade.ecsapi.handlers import Actions
from ecs_facade.ecsapi.protocol import Dispatcher

from . import ecsapi_calls
from .test_ecsapi_services import ARNS, PREFIX, FakeStore, _service

NOW = 1_800_000_000.0


def _call(dispatcher: Dispatcher, action: str, request: dict[str, Any], namespace: str = "team-a") -> Any:
    return ecsapi_calls.call(dispatcher, action, request, namespace=namespace)


def _error(dispatcher: Dispatcher, action: str, request: dict[str, Any], namespace: str = "team-a") -> Any:
    return ecsapi_calls.error(dispatcher, action, request, namespace=namespace)


CREATED = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the fake services' creationTimestamp


def _cluster(name: str = "default", annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "resourceVersion": "5"}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": {"clusterName": name, **spec}}


def _with(entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return _cluster(annotations={inactive.ANNOTATION_DELETED: orjson.dumps(entries).decode()})


def _entries(patch: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(patch["metadata"]["annotations"][inactive.ANNOTATION_DELETED])
    return loaded


# --- the pure half


def test_record_deleted_is_a_conditional_patch_of_the_annotation_with_the_service() -> None:
    described = {
        "serviceName": "web",
        "serviceArn": f"{PREFIX}:service/default/web",
        "taskDefinition": f"{PREFIX}:task-definition/web:3",
        "launchType": "EC2",
        "schedulingStrategy": "REPLICA",
        "createdAt": CREATED,
        "desiredCount": 0,
    }
    patch = inactive.record_deleted(_cluster(), "team-a", described, NOW)
    assert patch is not None
    assert patch["metadata"]["resourceVersion"] == "5"
    assert list(patch["metadata"]) == ["resourceVersion", "annotations"]
    assert _entries(patch) == {
        "team-a/web": {
            "namespace": "team-a",
            "deletedAt": NOW,
            "taskDefinition": f"{PREFIX}:task-definition/web:3",
            "launchType": "EC2",
            "schedulingStrategy": "REPLICA",
            "createdAt": CREATED,
        }
    }


def test_record_deleted_needs_a_cluster_object() -> None:
    """``default`` before the operator made it: visible without an object; nowhere to write."""
    assert (
        inactive.record_deleted({"metadata": {"name": "default"}, "spec": {}}, "team-a", {"serviceName": "web"}, NOW)
        is None
    )


def test_record_deleted_prunes_tombstones_older_than_an_hour_and_keeps_the_others() -> None:
    cluster = _with(
        {
            "team-a/old": {"namespace": "team-a", "deletedAt": NOW - inactive.TTL_SECONDS},
            "team-a/young": {"namespace": "team-a", "deletedAt": NOW - inactive.TTL_SECONDS + 1},
            "team-b/web": {"namespace": "team-b", "deletedAt": NOW - 10},
        }
    )
    patch = inactive.record_deleted(cluster, "team-a", {"serviceName": "web"}, NOW)
    assert patch is not None
    assert sorted(_entries(patch)) == ["team-a/web", "team-a/young", "team-b/web"]


def test_record_deleted_keeps_the_newest_up_to_the_limit() -> None:
    cluster = _with({f"team-a/s{i}": {"namespace": "team-a", "deletedAt": NOW - 1000 + i} for i in range(400)})
    patch = inactive.record_deleted(cluster, "team-a", {"serviceName": "web"}, NOW)
    assert patch is not None
    kept = _entries(patch)
    assert len(kept) == inactive.LIMIT
    assert "team-a/web" in kept and "team-a/s399" in kept
    assert "team-a/s100" not in kept  # the oldest went: 299 of s0..s399 are kept, s101..s399
    assert "team-a/s101" in kept


def test_record_deleted_keeps_the_annotation_under_its_byte_bound() -> None:
    long = "x" * 2000
    cluster = _with(
        {f"team-a/s{i}": {"namespace": "team-a", "deletedAt": NOW - 100 + i, "taskDefinition": long} for i in range(90)}
    )
    patch = inactive.record_deleted(cluster, "team-a", {"serviceName": "web", "taskDefinition": long}, NOW)
    assert patch is not None
    value = patch["metadata"]["annotations"][inactive.ANNOTATION_DELETED]
    assert len(value) <= inactive.MAX_BYTES
    kept = _entries(patch)
    assert "team-a/web" in kept and "team-a/s89" in kept and "team-a/s0" not in kept


@pytest.mark.parametrize(
    "value", ["not json", "[1, 2]", '{"team-a/web": 3}', '{"team-a/web": {"namespace": "team-a"}}']
)
def test_an_annotation_edited_into_something_else_counts_as_no_tombstones(value: str) -> None:
    cluster = _cluster(annotations={inactive.ANNOTATION_DELETED: value})
    assert inactive.tombstones(cluster) == {}
    assert inactive.inactive_service(cluster, "default", "team-a", "web", ARNS, NOW) is None
    patch = inactive.record_deleted(cluster, "team-a", {"serviceName": "api"}, NOW)
    assert patch is not None and list(_entries(patch)) == ["team-a/api"]


def test_inactive_service_is_the_service_as_ecs_shows_a_deleted_one() -> None:
    cluster = _with(
        {
            "team-a/web": {
                "namespace": "team-a",
                "deletedAt": NOW - 60,
                "taskDefinition": f"{PREFIX}:task-definition/web:3",
                "launchType": "EC2",
                "createdAt": CREATED,
            }
        }
    )
    described = inactive.inactive_service(cluster, "default", "team-a", "web", ARNS, NOW, ["TAGS"])
    assert described == {
        "serviceArn": f"{PREFIX}:service/default/web",
        "serviceName": "web",
        "clusterArn": f"{PREFIX}:cluster/default",
        "status": "INACTIVE",
        "desiredCount": 0,
        "runningCount": 0,
        "pendingCount": 0,
        "taskDefinition": f"{PREFIX}:task-definition/web:3",
        "deployments": [],
        "events": [],
        "schedulingStrategy": "REPLICA",
        "loadBalancers": [],
        "serviceRegistries": [],
        "placementConstraints": [],
        "placementStrategy": [],
        "launchType": "EC2",
        "createdAt": CREATED,
        "tags": [],
    }


def test_inactive_service_is_only_the_namespaces_own_and_only_for_an_hour() -> None:
    cluster = _with({"team-a/web": {"namespace": "team-a", "deletedAt": NOW - 60}})
    assert inactive.inactive_service(cluster, "default", "team-a", "web", ARNS, NOW) is not None
    assert inactive.inactive_service(cluster, "default", "team-b", "web", ARNS, NOW) is None
    assert inactive.inactive_service(cluster, "default", "team-a", "api", ARNS, NOW) is None
    assert inactive.inactive_service(cluster, "default", "team-a", "web", ARNS, NOW + inactive.TTL_SECONDS) is None
    # an entry whose key and namespace disagree (edited by hand) is nobody's
    forged = _with({"team-b/web": {"namespace": "team-a", "deletedAt": NOW - 60}})
    assert inactive.inactive_service(forged, "default", "team-b", "web", ARNS, NOW) is None


# --- through the handlers (the fake API server of test_ecsapi_services)


class _Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def store() -> FakeStore:
    made = FakeStore()
    made.clusters = [_cluster("default"), _cluster("prod")]
    made.services = [_service("web", desiredCount=0), _service("api", cluster="prod", desiredCount=0)]
    return made


@pytest.fixture
def dispatcher(store: FakeStore, clock: _Clock) -> Dispatcher:
    made = Dispatcher()
    Actions(store, ARNS, wall_clock=clock).register(made)  # type: ignore[arg-type]
    return made


def _describe(dispatcher: Dispatcher, names: list[str], namespace: str = "team-a", **more: Any) -> dict[str, Any]:
    return dict(_call(dispatcher, "DescribeServices", {"services": names, **more}, namespace))


def test_delete_service_writes_the_tombstone_before_deleting(dispatcher: Dispatcher, store: FakeStore) -> None:
    _call(dispatcher, "DeleteService", {"service": "web"})
    assert [kind for kind, _ in store.writes] == ["patch-cluster", "delete"]
    patch = store.writes[0][1]
    assert patch["metadata"]["resourceVersion"] == "5"
    assert _entries(patch) == {
        "team-a/web": {
            "namespace": "team-a",
            "deletedAt": NOW,
            "taskDefinition": f"{PREFIX}:task-definition/web:3",
            "schedulingStrategy": "REPLICA",
            "createdAt": CREATED,
        }
    }
    prod = next(c for c in store.clusters if c["metadata"]["name"] == "prod")
    assert "annotations" not in prod["metadata"]


def test_a_deleted_service_is_described_inactive_then_missing_after_an_hour(
    dispatcher: Dispatcher, clock: _Clock
) -> None:
    _call(dispatcher, "DeleteService", {"service": "web"})
    clock.now = NOW + 30
    described = _describe(dispatcher, ["web", f"{PREFIX}:service/default/web", "nope"])
    assert [(s["serviceName"], s["status"]) for s in described["services"]] == [("web", "INACTIVE")] * 2
    service = described["services"][0]
    assert (service["desiredCount"], service["runningCount"], service["pendingCount"]) == (0, 0, 0)
    assert service["deployments"] == []
    assert service["serviceArn"] == f"{PREFIX}:service/default/web"
    assert service["clusterArn"] == f"{PREFIX}:cluster/default"
    assert service["taskDefinition"] == f"{PREFIX}:task-definition/web:3"
    assert service["createdAt"] == CREATED
    assert described["failures"] == [{"arn": f"{PREFIX}:service/default/nope", "reason": "MISSING"}]
    clock.now = NOW + inactive.TTL_SECONDS
    assert _describe(dispatcher, ["web"]) == {
        "services": [],
        "failures": [{"arn": f"{PREFIX}:service/default/web", "reason": "MISSING"}],
    }


def test_the_tombstone_is_the_clusters_and_the_namespaces_only(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.services.append(_service("web", cluster="prod", namespace="team-b", desiredCount=0))
    _call(dispatcher, "DeleteService", {"service": "web"})
    # another namespace seeing the same cluster: not its service
    assert _describe(dispatcher, ["web"], "team-b")["failures"] == [
        {"arn": f"{PREFIX}:service/default/web", "reason": "MISSING"}
    ]
    # another cluster of the namespace, or an ARN naming another cluster
    assert _describe(dispatcher, ["web"], cluster="prod")["failures"][0]["reason"] == "MISSING"
    assert _describe(dispatcher, [f"{PREFIX}:service/prod/web"])["failures"][0]["reason"] == "MISSING"
    # team-b's live service of the same name in prod is untouched
    assert [s["status"] for s in _describe(dispatcher, ["web"], "team-b", cluster="prod")["services"]] == ["ACTIVE"]


def test_list_services_does_not_list_an_inactive_service(dispatcher: Dispatcher) -> None:
    _call(dispatcher, "DeleteService", {"service": "web"})
    assert _call(dispatcher, "ListServices", {})["serviceArns"] == []
    assert _call(dispatcher, "ListServices", {"cluster": "prod"})["serviceArns"] == [f"{PREFIX}:service/prod/api"]


def test_a_draining_service_is_draining_whatever_its_tombstone(dispatcher: Dispatcher, store: FakeStore) -> None:
    draining = copy.deepcopy(store.services[0])
    _call(dispatcher, "DeleteService", {"service": "web"})
    draining["metadata"]["deletionTimestamp"] = "2026-01-01T01:00:00Z"
    store.services.append(draining)  # the ECSService still there, its finalizers at work
    assert [s["status"] for s in _describe(dispatcher, ["web"])["services"]] == ["DRAINING"]


def test_create_service_again_makes_a_new_service_which_wins_over_the_tombstone(
    dispatcher: Dispatcher, store: FakeStore, clock: _Clock
) -> None:
    _call(dispatcher, "DeleteService", {"service": "web"})
    created = _call(dispatcher, "CreateService", {"serviceName": "web", "taskDefinition": "web:4", "desiredCount": 0})
    assert created["service"]["status"] == "ACTIVE"
    assert [s["metadata"]["name"] for s in store.services] == ["api", "web"]
    assert [s["status"] for s in _describe(dispatcher, ["web"])["services"]] == ["ACTIVE"]
    assert _call(dispatcher, "ListServices", {})["serviceArns"] == [f"{PREFIX}:service/default/web"]
    # deleted again: the newer tombstone replaces the older one
    clock.now = NOW + 100
    _call(dispatcher, "DeleteService", {"service": "web"})
    default = next(c for c in store.clusters if c["metadata"]["name"] == "default")
    entries = inactive.tombstones(default)
    assert list(entries) == ["team-a/web"]
    assert entries["team-a/web"]["deletedAt"] == NOW + 100
    assert entries["team-a/web"]["taskDefinition"] == "web:4"  # the new service's, as its spec asked
    assert [s["status"] for s in _describe(dispatcher, ["web"])["services"]] == ["INACTIVE"]


def test_a_conflicting_cluster_write_is_retried_on_the_cluster_read_again(
    dispatcher: Dispatcher, store: FakeStore
) -> None:
    store.cluster_conflicts = 1
    _call(dispatcher, "DeleteService", {"service": "web"})
    kinds = [kind for kind, _ in store.writes]
    assert kinds == ["patch-cluster", "delete"]
    assert store.writes[0][1]["metadata"]["resourceVersion"] == "6"  # the one read after the 409
    assert [s["status"] for s in _describe(dispatcher, ["web"])["services"]] == ["INACTIVE"]


def test_without_a_cluster_object_the_delete_goes_on_and_the_service_is_missing(
    dispatcher: Dispatcher, store: FakeStore
) -> None:
    store.clusters = [_cluster("prod")]  # default not yet made by the operator
    answer = _call(dispatcher, "DeleteService", {"service": "web"})
    assert answer["service"]["status"] == "DRAINING"
    assert [kind for kind, _ in store.writes] == ["delete"]
    assert _describe(dispatcher, ["web"])["failures"][0]["reason"] == "MISSING"


def test_conflicts_every_time_leave_no_tombstone_but_the_service_deleted(
    dispatcher: Dispatcher, store: FakeStore
) -> None:
    store.cluster_conflicts = 10
    _call(dispatcher, "DeleteService", {"service": "web"})
    assert [kind for kind, _ in store.writes] == ["delete"]
    assert [s["metadata"]["name"] for s in store.services] == ["api"]


def test_update_service_of_an_inactive_service_is_not_active_as_in_ecs(dispatcher: Dispatcher, clock: _Clock) -> None:
    """ECS: "You can't update a service that's inactive." (ServiceNotActiveException)."""
    _call(dispatcher, "DeleteService", {"service": "web"})
    refused = _error(dispatcher, "UpdateService", {"service": "web", "desiredCount": 1})
    assert (refused.name, refused.message) == ("ServiceNotActiveException", "Service was not ACTIVE.")
    # another namespace, another cluster, or an hour later: not found, as before
    assert _error(dispatcher, "UpdateService", {"service": "web", "desiredCount": 1}, "team-b").name == (
        "ServiceNotFoundException"
    )
    assert _error(dispatcher, "UpdateService", {"service": "web", "cluster": "prod"}).name == "ServiceNotFoundException"
    clock.now = NOW + inactive.TTL_SECONDS
    assert _error(dispatcher, "UpdateService", {"service": "web", "desiredCount": 1}).name == "ServiceNotFoundException"
    assert _error(dispatcher, "UpdateService", {"service": "web", "cluster": "nope"}).name == "ClusterNotFoundException"
