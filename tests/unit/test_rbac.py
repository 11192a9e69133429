"""The operator's RBAC (operator/ecs_facade/rbac.py) against what its code registers with kopf.

The e2e suite proves the rules suffice (it runs the operator as the chart's ServiceAccount);
these tests keep them from growing what the code does not use."""

import ast
from pathlib import Path

import kopf
import pytest

import ecs_facade.controllers  # noqa: F401  (registers the handlers)
from ecs_facade import rbac
from ecs_facade.controllers.informers import WATCHED

OPERATOR = Path(__file__).resolve().parents[2] / "operator" / "ecs_facade"


def granted(group: str, resource: str) -> set[str]:
    verbs: set[str] = set()
    for rule in [*rbac.NAMESPACED, *rbac.CLUSTER]:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            verbs.update(rule["verbs"])
    return verbs


def registered(kind: str) -> set[tuple[str, str]]:
    registry = getattr(kopf.get_default_registry(), kind)
    return {(s.group or "", str(s.any_name)) for s in registry.get_all_selectors()}


def informed() -> set[tuple[str, str]]:
    """The kinds the operator's own informers list and watch (controllers/informers.py)."""
    return {(w.api_path.split("/")[2] if w.api_path.startswith("/apis/") else "", w.plural) for w in WATCHED}


def test_every_watched_or_indexed_resource_can_be_listed_and_watched() -> None:
    assert ("apps", "controllerrevisions") in informed() and ("", "nodes") in informed()
    for group, resource in registered("_watching") | registered("_indexing") | registered("_changing") | informed():
        assert {"list", "watch"} <= granted(group, resource), f"{group}/{resource}"


def test_cluster_scoped_kinds_are_granted_cluster_wide_the_others_per_namespace() -> None:
    """The chart binds the cluster rules with a ClusterRoleBinding always, the namespaced ones
    with RoleBindings in each of watchNamespaces (the informers then watch per namespace)."""
    cluster = {(g, r) for rule in rbac.CLUSTER for g in rule["apiGroups"] for r in rule["resources"]}
    for watched in WATCHED:
        group = watched.api_path.split("/")[2] if watched.api_path.startswith("/apis/") else ""
        assert ((group, watched.plural) in cluster) is watched.cluster_scoped, watched.plural


def test_every_resource_kopf_handles_with_progress_can_be_patched() -> None:
    # create/update/resume/delete handlers and timers keep their progress and finalizer in
    # annotations and metadata, which kopf writes with PATCH
    for group, resource in registered("_changing") | registered("_spawning"):
        assert "patch" in granted(group, resource), f"{group}/{resource}"


def test_status_is_patched_for_every_ecs_kind_and_nothing_else() -> None:
    status = {r for rule in [*rbac.NAMESPACED, *rbac.CLUSTER] for r in rule["resources"] if r.endswith("/status")}
    assert status == {f"{kind}/status" for kind in (*rbac.ECS_KINDS, "ecsclusters")}


def test_no_wildcards_and_nothing_on_rbac_objects() -> None:
    for set_name, rules in rbac.all_rules().items():
        for rule in rules:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"], set_name
            assert "rbac.authorization.k8s.io" not in rule["apiGroups"], set_name
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), set_name


def test_no_resource_is_granted_twice() -> None:
    seen: set[tuple[str, str]] = set()
    for rule in [*rbac.NAMESPACED, *rbac.CLUSTER]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) not in seen, f"{group}/{resource} is in two rules"
                seen.add((group, resource))


def _client_calls() -> set[str]:
    """Names of the kube client functions the operator (not the CLI) calls."""
    calls: set[str] = set()
    for path in (OPERATOR / "controllers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "kube":
                calls.add(node.attr)
    return calls


# the write each client function makes, and the rule that must allow it
CLIENT_VERBS = {
    "evict_pod": [("", "pods/eviction", "create")],
    "delete_pod": [("", "pods", "delete")],
    "patch_pod": [("", "pods", "patch")],
    "patch_node": [("", "nodes", "patch")],
    "create_cluster_scoped": [("ecs.facade.dev", "ecsclusters", "create")],
    "patch_cluster_scoped_status": [("ecs.facade.dev", "ecsclusters/status", "patch")],
}


@pytest.mark.parametrize("call", sorted(CLIENT_VERBS))
def test_writes_of_the_client_are_granted(call: str) -> None:
    assert call in _client_calls(), f"{call} is no longer called: drop its rule"
    for group, resource, verb in CLIENT_VERBS[call]:
        assert verb in granted(group, resource), f"{call}: {verb} {group}/{resource}"


def test_aggregated_roles_give_view_read_and_edit_write() -> None:
    roles = rbac.aggregated()
    assert all(set(r["verbs"]) == {"get", "list", "watch"} for r in roles["view"])
    edit_verbs = {v for r in roles["edit"] for v in r["verbs"]}
    assert {"create", "update", "patch", "delete"} <= edit_verbs
    assert not any("ecsclusters" in r["resources"] and "create" in r["verbs"] for r in roles["edit"])
