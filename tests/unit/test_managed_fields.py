"""A workload created with a POST made the operator's applied one: its Update's fields move
into its Apply entry, other owners and subresources untouched."""

from typing import Any

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
