"""Services on their cluster: the pin to the cluster's nodes, daemons leaving DRAINING instances,
drain replacements, disruption budgets, capacity provider gates; selectors and references."""

from typing import Any

import pytest

from ecs_facade.controllers.indexes import cluster_name, cluster_ref_name
from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.placement import REQUIRED, attribute_label
from ecs_facade.translate.service import ServiceDecisions, build_disruption_budget, build_workload, drain_surge
from ecs_facade.views.selectors import selector_matches

TASK_DEFINITION = parse_task_definition(
    {"containerDefinitions": [{"name": "app", "image": "example/app:1", "memory": 128}]}, "web"
)


def terms(manifest: dict[str, Any]) -> list[list[dict[str, Any]]]:
    affinity = manifest["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][REQUIRED]
    return [term["matchExpressions"] for term in affinity["nodeSelectorTerms"]]


def test_service_tasks_are_pinned_to_their_cluster() -> None:
    manifest = build_workload(
        "web", "ns", TASK_DEFINITION, 1, ServiceDecisions(desired_count=2, cluster="prod")
    ).manifest
    assert terms(manifest) == [[{"key": "ecs.facade.dev/cluster", "operator": "In", "values": ["prod"]}]]


def test_default_cluster_takes_unlabelled_nodes() -> None:
    manifest = build_workload("web", "ns", TASK_DEFINITION, 1, ServiceDecisions(desired_count=1)).manifest
    assert sorted(terms(manifest), key=str) == sorted(
        [
            [{"key": "ecs.facade.dev/cluster", "operator": "DoesNotExist"}],
            [{"key": "ecs.facade.dev/cluster", "operator": "In", "values": ["default"]}],
        ],
        key=str,
    )


def test_cluster_pin_is_anded_with_member_of() -> None:
    decisions = ServiceDecisions(
        desired_count=1,
        cluster="prod",
        placement_constraints=[{"type": "memberOf", "expression": "attribute:ecs.instance-type == m5.large"}],
    )
    manifest = build_workload("web", "ns", TASK_DEFINITION, 1, decisions).manifest
    (only,) = terms(manifest)
    assert {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.large"]} in only
    assert {"key": "ecs.facade.dev/cluster", "operator": "In", "values": ["prod"]} in only


def test_daemon_tasks_leave_draining_instances() -> None:
    decisions = ServiceDecisions(daemon=True, cluster="prod", minimum_healthy_percent=0, maximum_percent=100)
    manifest = build_workload("agent", "ns", TASK_DEFINITION, 1, decisions).manifest
    assert manifest["kind"] == "DaemonSet"
    (only,) = terms(manifest)
    assert {"key": "ecs.facade.dev/container-instance-status", "operator": "NotIn", "values": ["DRAINING"]} in only


def test_replica_tasks_do_not_carry_the_draining_requirement() -> None:
    manifest = build_workload("web", "ns", TASK_DEFINITION, 1, ServiceDecisions(desired_count=1, cluster="c")).manifest
    assert all(r["key"] != "ecs.facade.dev/container-instance-status" for term in terms(manifest) for r in term)


@pytest.mark.parametrize(
    ("desired", "maximum", "on_draining", "surge"),
    [
        (4, 200, 2, 2),  # room for all replacements
        (4, 150, 3, 2),  # maximumPercent caps them: 6 tasks at most
        (4, 100, 2, 0),  # no room: the budget lets tasks stop first
        (3, 133, 1, 0),  # 3 * 133 // 100 = 3: rounds down, as ECS does
        (0, 200, 0, 0),
        (5, 200, 0, 0),
    ],
)
def test_drain_surge_stays_within_maximum_percent(desired: int, maximum: int, on_draining: int, surge: int) -> None:
    assert drain_surge(desired, maximum, on_draining) == surge


def test_drain_surge_adds_replicas_but_not_rollout_surge() -> None:
    plain = build_workload("web", "ns", TASK_DEFINITION, 1, ServiceDecisions(desired_count=4)).manifest
    surged = build_workload("web", "ns", TASK_DEFINITION, 1, ServiceDecisions(desired_count=4, drain_surge=2)).manifest
    assert surged["spec"]["replicas"] == 6
    assert surged["spec"]["strategy"] == plain["spec"]["strategy"]  # still computed from desiredCount


@pytest.mark.parametrize(
    ("desired", "minimum", "floor"),
    [(4, 50, 2), (3, 50, 2), (5, 100, 5), (5, 0, 0), (1, 1, 1), (0, 100, 0)],
)
def test_disruption_budget_is_minimum_healthy_rounded_up(desired: int, minimum: int, floor: int) -> None:
    budget = build_disruption_budget("web", "team", desired, minimum)
    assert budget["apiVersion"] == "policy/v1" and budget["kind"] == "PodDisruptionBudget"
    assert budget["metadata"] == {"name": "web", "namespace": "team", "labels": {"ecs.facade.dev/service": "web"}}
    assert budget["spec"]["minAvailable"] == floor
    assert budget["spec"]["selector"] == {"matchLabels": {"ecs.facade.dev/service": "web"}}
    assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_capacity_provider_strategy_gates_tasks_and_limits_them_to_the_providers() -> None:
    strategy = [
        {"capacityProvider": "spot", "base": 0, "weight": 2},
        {"capacityProvider": "ondemand", "base": 1, "weight": 1},
    ]
    decisions = ServiceDecisions(
        desired_count=3,
        cluster="prod",
        capacity_provider_strategy=strategy,
        capacity_provider_selectors={"ondemand": {"matchLabels": {"lifecycle": "on-demand"}}},
    )
    manifest = build_workload("web", "ns", TASK_DEFINITION, 1, decisions).manifest
    pod_spec = manifest["spec"]["template"]["spec"]
    assert pod_spec["schedulingGates"] == [{"name": "ecs.facade.dev/capacity-provider"}]
    cluster = {"key": "ecs.facade.dev/cluster", "operator": "In", "values": ["prod"]}
    assert sorted(terms(manifest), key=str) == sorted(
        [
            [cluster, {"key": "ecs.facade.dev/capacity-provider", "operator": "In", "values": ["spot"]}],
            [cluster, {"key": "lifecycle", "operator": "In", "values": ["on-demand"]}],
        ],
        key=str,
    )


def test_without_a_strategy_there_is_no_gate() -> None:
    manifest = build_workload("web", "ns", TASK_DEFINITION, 1, ServiceDecisions(desired_count=1)).manifest
    assert "schedulingGates" not in manifest["spec"]["template"]["spec"]


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("prod", "prod"),
        ("arn:aws:ecs:us-east-1:123456789012:cluster/prod", "prod"),
        ("", "default"),
        (None, "default"),
        ("  batch ", "batch"),
    ],
)
def test_cluster_references_are_names_or_arns(ref: str | None, name: str) -> None:
    assert cluster_ref_name(ref) == name


def test_cluster_name_defaults_to_the_object_name() -> None:
    assert cluster_name("prod", {}) == "prod"
    assert cluster_name("prod", {"clusterName": "production"}) == "production"


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchLabels": {"a": "1"}}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
        (
            {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]},
            {"a": "1"},
            False,
        ),
    ],
)
def test_label_selectors_match_as_in_kubernetes(
    selector: dict[str, Any], labels: dict[str, str], matches: bool
) -> None:
    assert selector_matches(selector, labels) is matches


def test_unknown_selector_operator_is_an_error() -> None:
    with pytest.raises(ValueError, match="Gt"):
        selector_matches({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, {"a": "2"})


def test_custom_attributes_are_labels_under_the_attribute_prefix() -> None:
    assert attribute_label("stack", "blue") == ("ecs.facade.dev/attribute.stack", "blue")
    assert attribute_label("flag", "") == ("ecs.facade.dev/attribute.flag", "")
    with pytest.raises(TranslationError, match="built-in"):
        attribute_label("ecs.instance-type", "x")
    with pytest.raises(TranslationError, match="node label value"):
        attribute_label("stack", "has space")
    with pytest.raises(TranslationError, match="not a valid Kubernetes label key"):
        attribute_label("a/b", "x")
