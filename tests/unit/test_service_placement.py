import copy
import re
from typing import Any

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.placement import (
    BINPACK_SCHEDULER,
    NO_MATCH_VALUE,
    and_affinities,
    apply_placement,
    member_of_node_affinity,
    node_label_values,
    service_placement,
)

ZONE = "topology.kubernetes.io/zone"
TYPE = "node.kubernetes.io/instance-type"
HOST = "kubernetes.io/hostname"
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
LABELS = {"ecs.facade.dev/service": "web"}

NODES: dict[str, set[str]] = {
    TYPE: {"t2.small", "t2.micro", "m5.large", "g2.2xlarge", "g2.8xlarge"},
    ZONE: {"us-east-1a", "us-east-1b"},
    "kubernetes.io/os": {"linux", "windows"},
    "kubernetes.io/arch": {"amd64", "arm64"},
}


def req(key: str, operator: str, *values: str) -> dict[str, Any]:
    if values:
        return {"key": key, "operator": operator, "values": list(values)}
    return {"key": key, "operator": operator}


def node_affinity(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {REQUIRED: {"nodeSelectorTerms": [{"matchExpressions": term} for term in terms]}}


def spread(key: str, when: str = "DoNotSchedule") -> dict[str, Any]:
    return {
        "maxSkew": 1,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"ecs.facade.dev/service": "web"}},
        "matchLabelKeys": ["pod-template-hash"],
        "nodeAffinityPolicy": "Honor",
        "nodeTaintsPolicy": "Honor",
    }


ANTI_AFFINITY = {REQUIRED: [{"labelSelector": {"matchLabels": {"ecs.facade.dev/service": "web"}}, "topologyKey": HOST}]}


# regular expressions expanded over the nodes' label values


@pytest.mark.parametrize(
    ("expression", "requirement"),
    [
        ("attribute:ecs.instance-type =~ t2.*", req(TYPE, "In", "t2.micro", "t2.small")),
        ("attribute:ecs.instance-type =~ g2.*", req(TYPE, "In", "g2.2xlarge", "g2.8xlarge")),
        ("attribute:ecs.instance-type matches 't2\\.(micro|small)'", req(TYPE, "In", "t2.micro", "t2.small")),
        ("attribute:ecs.instance-type !~ t2.*", req(TYPE, "NotIn", "t2.micro", "t2.small")),
        ("not(attribute:ecs.instance-type =~ t2.*)", req(TYPE, "NotIn", "t2.micro", "t2.small")),
        ("not(attribute:ecs.instance-type !~ g2.*)", req(TYPE, "In", "g2.2xlarge", "g2.8xlarge")),
        ("attribute:ecs.instance-type =~ '.*large'", req(TYPE, "In", "g2.2xlarge", "g2.8xlarge", "m5.large")),
        # the whole value must match, as with Java's String.matches: 'large' alone is no match
        ("attribute:ecs.instance-type =~ 'large|small'", req(TYPE, "In", NO_MATCH_VALUE)),
        ("attribute:ecs.availability-zone =~ 'us-east-1[ab]'", req(ZONE, "In", "us-east-1a", "us-east-1b")),
        # ECS spellings of the os and architecture labels match too
        ("attribute:ecs.os-type =~ 'LIN.*'", req("kubernetes.io/os", "In", "linux")),
        ("attribute:ecs.os-type =~ 'win.*'", req("kubernetes.io/os", "In", "windows")),
        ("attribute:ecs.cpu-architecture =~ 'x86.*'", req("kubernetes.io/arch", "In", "amd64")),
        ("attribute:ecs.cpu-architecture =~ '(aarch|arm)64'", req("kubernetes.io/arch", "In", "arm64")),
        # nothing matches: In the sentinel matches no node, NotIn the sentinel every node
        ("attribute:ecs.instance-type =~ p3.*", req(TYPE, "In", NO_MATCH_VALUE)),
        ("attribute:ecs.instance-type !~ p3.*", req(TYPE, "NotIn", NO_MATCH_VALUE)),
        ("attribute:stack =~ prod.*", req("ecs.facade.dev/attribute.stack", "In", NO_MATCH_VALUE)),
        # without regular-expression syntax the value stays literal, whatever the nodes have
        ("attribute:ecs.instance-type =~ c5.large", req(TYPE, "In", "c5.large")),
        ("attribute:ecs.instance-type !~ t2.small", req(TYPE, "NotIn", "t2.small")),
    ],
)
def test_regular_expressions_expand_over_node_values(expression: str, requirement: dict[str, Any]) -> None:
    assert member_of_node_affinity(expression, NODES) == node_affinity([requirement])


def test_no_match_sentinel_is_a_valid_label_value() -> None:
    assert len(NO_MATCH_VALUE) <= 63
    assert re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", NO_MATCH_VALUE)


def test_regular_expressions_in_compound_expressions() -> None:
    expression = "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1b"
    assert member_of_node_affinity(expression, NODES) == node_affinity(
        [req(TYPE, "In", "t2.micro", "t2.small"), req(ZONE, "NotIn", "us-east-1b")]
    )


def test_alternatives_merge_and_drop_the_sentinel() -> None:
    expression = "attribute:ecs.instance-type =~ p3.* or attribute:ecs.instance-type =~ g2.*"
    assert member_of_node_affinity(expression, NODES) == node_affinity([req(TYPE, "In", "g2.2xlarge", "g2.8xlarge")])
    only_misses = "attribute:ecs.instance-type =~ p3.* or attribute:ecs.instance-type =~ p4.*"
    assert member_of_node_affinity(only_misses, NODES) == node_affinity([req(TYPE, "In", NO_MATCH_VALUE)])


def test_values_that_are_not_label_values_are_ignored() -> None:
    assert member_of_node_affinity("attribute:x =~ .*", {"ecs.facade.dev/attribute.x": ["ok", "not ok"]}) == (
        node_affinity([req("ecs.facade.dev/attribute.x", "In", "ok")])
    )


def test_without_node_values_regular_expressions_are_still_rejected() -> None:
    with pytest.raises(TranslationError, match="regular expressions cannot be expressed as Kubernetes node affinity"):
        member_of_node_affinity("attribute:ecs.instance-type =~ t2.*")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "attribute:ecs.instance-type =~ '*.large'",
            "memberOf expression \"attribute:ecs.instance-type =~ '*.large'\": 'attribute:ecs.instance-type =~ "
            "*.large': the pattern '*.large' is not a valid regular expression (nothing to repeat at position 0); "
            "'*' repeats what comes before it, write '.*' for any characters",
        ),
        ("attribute:stack =~ 'a(b'", "the pattern 'a(b' is not a valid regular expression (missing ), unterminated"),
    ],
)
def test_invalid_regular_expressions(expression: str, message: str) -> None:
    with pytest.raises(TranslationError, match=re.escape(message)):
        member_of_node_affinity(expression, NODES)


def test_scheduler_subjects_stay_rejected_with_node_values() -> None:
    with pytest.raises(TranslationError, match="task:group is evaluated by the ECS scheduler"):
        member_of_node_affinity("task:group =~ service:.*", NODES)


def test_node_label_values() -> None:
    nodes: list[dict[str, Any]] = [
        {"metadata": {"name": "a", "labels": {TYPE: "t2.small", ZONE: "us-east-1a"}}},
        {"metadata": {"name": "b", "labels": {TYPE: "m5.large", ZONE: "us-east-1a"}}},
        {"metadata": {"name": "c"}},
        {"metadata": {"name": "d", "labels": None}},
    ]
    assert node_label_values(nodes) == {TYPE: {"t2.small", "m5.large"}, ZONE: {"us-east-1a"}}
    assert member_of_node_affinity("attribute:ecs.instance-type =~ 't2.*'", node_label_values(nodes)) == (
        node_affinity([req(TYPE, "In", "t2.small")])
    )


# service_placement: constraints


def test_nothing_gives_an_empty_fragment() -> None:
    assert service_placement([], [], LABELS) == {}
    assert service_placement(None, None, LABELS) == {}


def test_distinct_instance() -> None:
    assert service_placement([{"type": "distinctInstance"}], [], LABELS) == {
        "affinity": {"podAntiAffinity": ANTI_AFFINITY}
    }
    # twice is once; an explicit null expression is absent
    twice: list[dict[str, Any]] = [{"type": "distinctInstance", "expression": None}, {"type": "distinctInstance"}]
    assert service_placement(twice, [], LABELS) == {"affinity": {"podAntiAffinity": ANTI_AFFINITY}}


def test_member_of() -> None:
    constraints = [{"type": "memberOf", "expression": "attribute:ecs.instance-type == t2.small"}]
    assert service_placement(constraints, [], LABELS) == {
        "affinity": {"nodeAffinity": node_affinity([req(TYPE, "In", "t2.small")])}
    }


def test_member_of_constraints_are_anded() -> None:
    constraints = [
        {"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t2.*"},
        {"type": "memberOf", "expression": "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"},
        {"type": "distinctInstance"},
    ]
    assert service_placement(constraints, [], LABELS, NODES) == {
        "affinity": {
            "nodeAffinity": node_affinity(
                [req(TYPE, "In", "t2.micro", "t2.small"), req(ZONE, "In", "us-east-1a", "us-east-1b")]
            ),
            "podAntiAffinity": ANTI_AFFINITY,
        }
    }


# service_placement: strategies


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("instanceId", HOST),
        ("host", HOST),
        ("attribute:ecs.availability-zone", ZONE),
        ("attribute:ecs.instance-type", TYPE),
        ("attribute:stack", "ecs.facade.dev/attribute.stack"),
    ],
)
def test_spread(field: str, key: str) -> None:
    assert service_placement([], [{"type": "spread", "field": field}], LABELS) == {
        "topologySpreadConstraints": [spread(key)]
    }


def test_only_the_first_spread_is_a_hard_constraint() -> None:
    strategies = [
        {"type": "spread", "field": "attribute:ecs.availability-zone"},
        {"type": "spread", "field": "instanceId"},
    ]
    assert service_placement([], strategies, LABELS) == {
        "topologySpreadConstraints": [spread(ZONE), spread(HOST, "ScheduleAnyway")]
    }


def test_a_repeated_spread_key_is_dropped() -> None:
    strategies = [
        {"type": "spread", "field": "instanceId"},
        {"type": "spread", "field": "host"},
        {"type": "spread", "field": "attribute:ecs.availability-zone"},
    ]
    assert service_placement([], strategies, LABELS) == {
        "topologySpreadConstraints": [spread(HOST), spread(ZONE, "ScheduleAnyway")]
    }


@pytest.mark.parametrize("field", ["cpu", "memory"])
def test_binpack(field: str) -> None:
    assert service_placement([], [{"type": "binpack", "field": field}], LABELS) == {
        "schedulerName": "ecs-facade-binpack"
    }
    assert BINPACK_SCHEDULER == "ecs-facade-binpack"


def test_random_is_the_default_scheduler() -> None:
    assert service_placement([], [{"type": "random"}], LABELS) == {}
    assert service_placement([], [{"type": "random", "field": "ignored"}], LABELS) == {}


def test_spread_then_binpack_keeps_both() -> None:
    strategies = [
        {"type": "spread", "field": "attribute:ecs.availability-zone"},
        {"type": "binpack", "field": "memory"},
    ]
    assert service_placement([], strategies, LABELS) == {
        "topologySpreadConstraints": [spread(ZONE)],
        "schedulerName": BINPACK_SCHEDULER,
    }


def test_a_spread_after_binpack_only_scores() -> None:
    strategies = [{"type": "binpack", "field": "cpu"}, {"type": "spread", "field": "instanceId"}]
    assert service_placement([], strategies, LABELS) == {
        "topologySpreadConstraints": [spread(HOST, "ScheduleAnyway")],
        "schedulerName": BINPACK_SCHEDULER,
    }


def test_random_does_not_outrank_a_spread() -> None:
    strategies = [{"type": "random"}, {"type": "spread", "field": "instanceId"}]
    assert service_placement([], strategies, LABELS) == {"topologySpreadConstraints": [spread(HOST)]}


def test_everything_together() -> None:
    constraints = [
        {"type": "distinctInstance"},
        {"type": "memberOf", "expression": "attribute:ecs.instance-type =~ g2.*"},
    ]
    strategies = [
        {"type": "spread", "field": "attribute:ecs.availability-zone"},
        {"type": "spread", "field": "instanceId"},
        {"type": "binpack", "field": "memory"},
    ]
    assert service_placement(constraints, strategies, LABELS, NODES) == {
        "affinity": {
            "nodeAffinity": node_affinity([req(TYPE, "In", "g2.2xlarge", "g2.8xlarge")]),
            "podAntiAffinity": ANTI_AFFINITY,
        },
        "topologySpreadConstraints": [spread(ZONE), spread(HOST, "ScheduleAnyway")],
        "schedulerName": BINPACK_SCHEDULER,
    }


def test_the_fragment_does_not_alias_the_labels() -> None:
    labels = dict(LABELS)
    fragment = service_placement([{"type": "distinctInstance"}], [{"type": "spread", "field": "host"}], labels)
    labels["ecs.facade.dev/service"] = "changed"
    assert fragment["topologySpreadConstraints"] == [spread(HOST)]
    assert fragment["affinity"]["podAntiAffinity"] == ANTI_AFFINITY


# service_placement: errors


@pytest.mark.parametrize(
    ("constraints", "strategies", "message"),
    [
        (
            [{"type": "distinctinstance"}],
            [],
            'placementConstraints[0] {"type": "distinctinstance"}: unknown constraint type \'distinctinstance\'; '
            "expected one of distinctInstance, memberOf",
        ),
        ([{}], [], "placementConstraints[0] {}: unknown constraint type None"),
        (
            [{"type": "distinctInstance", "expression": "attribute:a exists"}],
            [],
            'placementConstraints[0] {"type": "distinctInstance", "expression": "attribute:a exists"}: '
            "distinctInstance takes no expression",
        ),
        (
            [{"type": "distinctInstance"}, {"type": "memberOf"}],
            [],
            'placementConstraints[1] {"type": "memberOf"}: memberOf needs an expression',
        ),
        ([{"type": "memberOf", "expression": "  "}], [], "memberOf needs an expression"),
        (
            [{"type": "memberOf", "expression": "task:group == service:web"}],
            [],
            "placementConstraints[0]: memberOf expression 'task:group == service:web': task:group is evaluated "
            "by the ECS scheduler at placement time",
        ),
        (
            [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t2.*"}],
            [],
            "placementConstraints[0]: memberOf expression 'attribute:ecs.instance-type =~ t2.*': "
            "'attribute:ecs.instance-type =~ t2.*': the pattern 't2.*' is a regular expression",
        ),
        (
            [],
            [{"type": "spread", "field": "attribute:ecs.availability-zone"}, {"type": "Spread", "field": "host"}],
            'placementStrategy[1] {"type": "Spread", "field": "host"}: unknown strategy type \'Spread\'; '
            "expected one of binpack, random, spread",
        ),
        (
            [],
            [{"type": "spread"}],
            'placementStrategy[0] {"type": "spread"}: spread needs a field instanceId, host or attribute:<name>, '
            "not None",
        ),
        (
            [],
            [{"type": "spread", "field": "cpu"}],
            "spread needs a field instanceId, host or attribute:<name>, not 'cpu'",
        ),
        (
            [],
            [{"type": "spread", "field": "attribute:team/name"}],
            'placementStrategy[0] {"type": "spread", "field": "attribute:team/name"}: attribute \'team/name\' would '
            "be node label 'ecs.facade.dev/attribute.team/name', which is not a valid Kubernetes label key",
        ),
        (
            [],
            [{"type": "binpack", "field": "instanceId"}],
            'placementStrategy[0] {"type": "binpack", "field": "instanceId"}: binpack needs the field cpu or memory, '
            "not 'instanceId'",
        ),
        ([], [{"type": "binpack"}], "binpack needs the field cpu or memory, not None"),
    ],
)
def test_errors_name_the_entry(
    constraints: list[dict[str, Any]], strategies: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(TranslationError, match=re.escape(message)):
        service_placement(constraints, strategies, LABELS)


def test_placement_needs_a_selector() -> None:
    with pytest.raises(ValueError, match="task_labels must select the service's pods"):
        service_placement([{"type": "distinctInstance"}], [], {})


def test_too_many_terms_across_constraints() -> None:
    eight = " or ".join(f"attribute:a{i} exists" for i in range(8))
    nine = " or ".join(f"attribute:b{i} exists" for i in range(9))
    constraints = [{"type": "memberOf", "expression": eight}, {"type": "memberOf", "expression": nine}]
    with pytest.raises(TranslationError, match=re.escape("placementConstraints: the memberOf placement constraints")):
        service_placement(constraints, [], LABELS)


# merging with the task definition's pod spec


def test_and_affinities() -> None:
    task = {
        "nodeAffinity": node_affinity([req("kubernetes.io/os", "In", "linux")]),
        "podAffinity": {REQUIRED: [{"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "db"}}}]},
    }
    fragment = service_placement(
        [{"type": "distinctInstance"}, {"type": "memberOf", "expression": "attribute:ecs.instance-type == t2.small"}],
        [],
        LABELS,
    )
    assert and_affinities(task, fragment["affinity"]) == {
        "nodeAffinity": node_affinity([req("kubernetes.io/os", "In", "linux"), req(TYPE, "In", "t2.small")]),
        "podAffinity": task["podAffinity"],
        "podAntiAffinity": ANTI_AFFINITY,
    }
    assert and_affinities(None, {}) is None
    assert and_affinities(task, None) == task
    preferred = {"podAntiAffinity": {PREFERRED: [{"weight": 1, "podAffinityTerm": {"topologyKey": HOST}}]}}
    assert and_affinities(fragment["affinity"], preferred)["podAntiAffinity"] == {  # type: ignore[index]
        **ANTI_AFFINITY,
        **preferred["podAntiAffinity"],
    }


def test_apply_placement() -> None:
    pod_spec = {
        "containers": [{"name": "app", "image": "nginx"}],
        "affinity": {"nodeAffinity": node_affinity([req("kubernetes.io/arch", "In", "arm64")])},
    }
    original = copy.deepcopy(pod_spec)
    fragment = service_placement(
        [{"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1a"}],
        [{"type": "spread", "field": "instanceId"}, {"type": "binpack", "field": "cpu"}],
        LABELS,
    )
    assert apply_placement(pod_spec, fragment) == {
        "containers": [{"name": "app", "image": "nginx"}],
        "affinity": {
            "nodeAffinity": node_affinity([req("kubernetes.io/arch", "In", "arm64"), req(ZONE, "In", "us-east-1a")])
        },
        "topologySpreadConstraints": [spread(HOST)],
        "schedulerName": BINPACK_SCHEDULER,
    }
    assert pod_spec == original
    assert apply_placement(pod_spec, {}) == pod_spec


def test_apply_placement_adds_tolerations_once() -> None:
    windows = {"key": "os", "operator": "Equal", "value": "windows", "effect": "NoSchedule"}
    dedicated = {"key": "ecs.facade.dev/cluster", "operator": "Equal", "value": "prod", "effect": "NoSchedule"}
    pod_spec = {"containers": [], "tolerations": [windows]}
    merged = apply_placement(pod_spec, {"tolerations": [dedicated, windows]})
    assert merged["tolerations"] == [windows, dedicated]
    assert pod_spec["tolerations"] == [windows]
    assert "tolerations" not in apply_placement({"containers": []}, {})


def test_apply_placement_refuses_a_second_scheduler() -> None:
    with pytest.raises(TranslationError, match="a pod has only one scheduler"):
        apply_placement({"schedulerName": "volcano"}, {"schedulerName": BINPACK_SCHEDULER})
    assert apply_placement({"schedulerName": "default-scheduler"}, {"schedulerName": BINPACK_SCHEDULER}) == {
        "schedulerName": BINPACK_SCHEDULER
    }
