"""A workload created with a POST made the operator's applied one: its Update's fields move
into its Apply entry, other owners and subresources untouched; the write that does it reads
the object again when it moved on."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from ecs_facade.controllers.service import apply as service
from ecs_facade.kube import client as kube
from ecs_facade.kube.managed_fields import as_applied, created_by_update, union


def entry(manager: str, operation: str, fields: dict[str, Any], subresource: str = "") -> dict[str, Any]:
    made = {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": "2026-12-05T00:00:00Z",
            "fieldsType": "FieldsV1", "fieldsV1": fields}  # fmt: skip
    return {**made, "subresource": subresource} if subresource else made


CREATED = {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}, "f:template": {}}}
STATUS = entry("kube-controller-manager", "Update", {"f:status": {"f:replicas": {}}}, "status")


def test_the_update_of_a_post_becomes_the_managers_apply_where_it_was() -> None:
    managed = [entry("ecs-facade", "Update", CREATED), STATUS]
    assert created_by_update(managed, "ecs-facade")
    upgraded = as_applied(managed, "ecs-facade")
    assert upgraded == [entry("ecs-facade", "Apply", CREATED), STATUS]
    assert upgraded is not None and not created_by_update(upgraded, "ecs-facade")
    assert as_applied(upgraded, "ecs-facade") is None  # nothing left to move


def test_an_apply_entry_there_already_gets_the_updates_fields() -> None:
    applied: dict[str, Any] = {"f:spec": {"f:replicas": {}, "f:selector": {}}}
    managed = [entry("ecs-facade", "Apply", applied), entry("ecs-facade", "Update", CREATED), STATUS]
    upgraded = as_applied(managed, "ecs-facade")
    merged = {"f:metadata": CREATED["f:metadata"], "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {}}}
    assert upgraded == [entry("ecs-facade", "Apply", merged), STATUS]


def test_other_managers_and_the_managers_subresources_are_not_moved() -> None:
    someone = entry("kubectl-edit", "Update", {"f:spec": {"f:paused": {}}})
    own_status = entry("ecs-facade", "Update", {"f:status": {}}, "status")
    managed = [someone, own_status]
    assert not created_by_update(managed, "ecs-facade")
    assert as_applied(managed, "ecs-facade") is None
    upgraded = as_applied([someone, entry("ecs-facade", "Update", CREATED), own_status], "ecs-facade")
    assert upgraded == [someone, entry("ecs-facade", "Apply", CREATED), own_status]


def test_field_sets_unite_key_by_key() -> None:
    a: dict[str, Any] = {"f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}}}}}
    b: dict[str, Any] = {"f:spec": {"f:containers": {'k:{"name":"app"}': {"f:env": {}}, 'k:{"name":"log"}': {".": {}}}}}
    assert union(a, b) == {
        "f:spec": {
            "f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:env": {}}, 'k:{"name":"log"}': {".": {}}}
        }
    }
    assert a == {"f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}}}}}  # not changed in place


class FakeWorkloads:
    """kube.get and kube.replace_managed_fields on one Deployment whose resourceVersion moves
    ``moves`` times between a read and the patch (the Deployment controller's status writes)."""

    def __init__(self, moves: int = 0, gone: bool = False) -> None:
        self.rv, self.moves, self.gone = 1, moves, gone
        self.calls: list[str] = []
        self.managed = [entry("ecs-facade", "Update", CREATED), STATUS]

    def get(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append("get")
        if self.gone:
            return None
        return {"metadata": {"resourceVersion": str(self.rv), "managedFields": self.managed}}

    def replace(self, api_version: str, plural: str, namespace: str, name: str, rv: str, managed: Any) -> None:
        self.calls.append(f"patch at {rv}")
        if self.moves:
            self.moves, self.rv = self.moves - 1, self.rv + 1
            raise ApiException(status=422, reason="the resourceVersion test failed")
        self.managed = list(managed)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeWorkloads]:
    def make(**kwargs: Any) -> FakeWorkloads:
        workloads = FakeWorkloads(**kwargs)
        monkeypatch.setattr(kube, "get", workloads.get)
        monkeypatch.setattr(kube, "replace_managed_fields", workloads.replace)
        return workloads

    return make


def test_taking_over_reads_again_when_the_object_moved_on(fake: Callable[..., FakeWorkloads]) -> None:
    workloads = fake(moves=1)
    service._own_as_applied("apps/v1", "deployments", "ns", "web")
    assert workloads.calls == ["get", "patch at 1", "get", "patch at 2"]
    assert workloads.managed == [entry("ecs-facade", "Apply", CREATED), STATUS]


def test_taking_over_gives_up_after_three_tries_and_says_why(fake: Callable[..., FakeWorkloads]) -> None:
    workloads = fake(moves=5)
    with pytest.raises(ApiException):
        service._own_as_applied("apps/v1", "deployments", "ns", "web")
    assert workloads.calls.count("get") == 3


def test_taking_over_uses_the_object_it_is_given_and_a_deleted_one_is_left_alone(
    fake: Callable[..., FakeWorkloads],
) -> None:
    workloads = fake()
    given = {"metadata": {"resourceVersion": "1", "managedFields": workloads.managed}}
    service._own_as_applied("apps/v1", "deployments", "ns", "web", given)
    assert workloads.calls == ["patch at 1"]  # no GET
    gone = fake(gone=True)
    service._own_as_applied("apps/v1", "deployments", "ns", "web")
    assert gone.calls == ["get"]


def test_a_workload_found_at_a_409_is_taken_as_is_only_if_this_plan_made_it() -> None:
    """The POST's 409 (the index had not shown the workload yet): the workload is this plan's
    when it carries the plan's digest (whose manifest names the owning service's uid) and
    only the operator changed its spec."""

    def plan(uid: str, replicas: int = 2) -> Any:
        owner = [{"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSService", "name": "web", "uid": uid}]
        metadata = {"ownerReferences": owner}
        manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": {"replicas": replicas}}
        return SimpleNamespace(workload=SimpleNamespace(manifest=manifest), extra=[], autoscaler=None)

    def found(digest: str, *managed: dict[str, Any]) -> dict[str, Any]:
        annotations = {service.ANNOTATION_APPLIED: digest}
        return {
            "metadata": {
                "annotations": annotations,
                "managedFields": [entry("ecs-facade", "Update", CREATED), *managed],
            }
        }

    mine = plan("u1")
    assert service._applied_before(mine, found(service._digest(mine)), None)
    assert not service._applied_before(mine, found(service._digest(plan("u2"))), None)  # another service's of the name
    assert not service._applied_before(mine, found(service._digest(plan("u1", replicas=3))), None)  # an older plan's
    edited = entry("kubectl-edit", "Update", {"f:spec": {"f:paused": {}}})
    assert not service._applied_before(mine, found(service._digest(mine), edited), None)  # edited since
