from typing import Any

import pytest

from ecs_facade.ecsapi import scope
from ecs_facade.ecsapi.errors import EcsError


@pytest.mark.parametrize(
    ("allowed", "region", "namespace"),
    [
        (["team-a"], None, "team-a"),
        (["team-a"], "us-east-1", "team-a"),  # the configured region
        (["team-a", "team-b"], "eu-west-3", "team-a"),  # any AWS region: home namespace
        (["team-a", "team-b"], "us-gov-west-1", "team-a"),
        (["team-a", "team-b"], "team-b", "team-b"),  # a namespace as the region selects it
        (["team-a", "*"], "anything-else", "anything-else"),
    ],
)
def test_request_namespace(allowed: list[str], region: str | None, namespace: str) -> None:
    assert scope.request_namespace(allowed, region, "us-east-1") == namespace


def test_a_namespace_the_key_is_not_allowed_is_refused() -> None:
    with pytest.raises(EcsError) as caught:
        scope.request_namespace(["team-a", "team-b"], "team-c", "us-east-1")
    assert caught.value.name == "AccessDeniedException"
    assert "namespace 'team-c'" in caught.value.message and "team-a, team-b" in caught.value.message


def test_a_key_needs_a_home_namespace() -> None:
    for allowed in ([], ["*"]):
        with pytest.raises(EcsError, match="AccessDeniedException"):
            scope.request_namespace(allowed, None, "us-east-1")


def test_kubernetes_names() -> None:
    assert scope.kubernetes_name("web") == "web"
    upper, lower = scope.kubernetes_name("Web_API"), scope.kubernetes_name("web-api")
    assert lower == "web-api"
    assert upper.startswith("web-api-") and len(upper) == len("web-api-") + 8 and upper != lower
    long = scope.kubernetes_name("A" * 255)
    assert len(long) <= 63 and long == long.lower()
    assert scope.kubernetes_name("___").startswith("x-")


def _cluster(name: str, selector: dict[str, Any] | None = None, cluster_name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if selector is not None:
        spec["namespaceSelector"] = selector
    if cluster_name:
        spec["clusterName"] = cluster_name
    return {"metadata": {"name": name}, "spec": spec}


def test_visible_clusters_follow_the_namespace_selector() -> None:
    clusters = [
        _cluster("shared"),
        _cluster("payments", {"matchLabels": {"team": "payments"}}),
        _cluster("mine", scope.namespace_selector_of("team-a")),
        _cluster("x-1a2b", cluster_name="X_Prod"),
    ]
    seen = scope.visible_clusters(clusters, "team-a", {"team": "web"})
    assert sorted(seen) == ["X_Prod", "default", "mine", "shared"]
    assert sorted(scope.visible_clusters(clusters, "team-b", {"team": "payments"})) == [
        "X_Prod",
        "default",
        "payments",
        "shared",
    ]


def test_default_is_seen_only_if_it_admits_the_namespace() -> None:
    default = _cluster("default", {"matchLabels": {"team": "ops"}})
    assert "default" not in scope.visible_clusters([default], "team-a", {})
    assert "default" in scope.visible_clusters([default], "ops", {"team": "ops"})


def test_owned_by() -> None:
    name_label = scope.NAMESPACE_NAME_LABEL
    assert scope.owned_by(_cluster("c", scope.namespace_selector_of("team-a")), "team-a")
    expression = {"matchExpressions": [{"key": name_label, "operator": "In", "values": ["team-a"]}]}
    assert scope.owned_by(_cluster("c", expression), "team-a")
    assert not scope.owned_by(_cluster("c", scope.namespace_selector_of("team-a")), "team-b")
    assert not scope.owned_by(_cluster("c"), "team-a")  # no selector: every namespace's
    two = {"matchExpressions": [{"key": name_label, "operator": "In", "values": ["team-a", "team-b"]}]}
    assert not scope.owned_by(_cluster("c", two), "team-a")
