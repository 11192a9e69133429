import copy
import random
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import pytest

from ecs_facade.api import LABEL_CAPACITY_PROVIDER, LABEL_CLUSTER, SCHEDULING_GATE_CAPACITY_PROVIDER
from ecs_facade.translate import TranslationError
from ecs_facade.translate.capacity import (
    cluster_node_affinity,
    cluster_pod_placement,
    effective_strategy,
    gated_pod_patch,
    is_capacity_gated,
    next_provider,
    provider_selector_requirements,
    provider_targets,
    strategy_node_affinity,
    validate_strategy,
    with_capacity_gate,
)
from ecs_facade.translate.placement import and_affinities

REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
ZONE = "topology.kubernetes.io/zone"
POOL = "example.com/pool"


def req(key: str, operator: str, *values: str) -> dict[str, Any]:
    if values:
        return {"key": key, "operator": operator, "values": list(values)}
    return {"key": key, "operator": operator}


def required(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": [{"matchExpressions": term} for term in terms]}}}


def entry(provider: str, base: int = 0, weight: int = 0) -> dict[str, Any]:
    return {"capacityProvider": provider, "base": base, "weight": weight}


def weighted(*weights: int) -> list[dict[str, Any]]:
    return [entry(f"p{index}", weight=weight) for index, weight in enumerate(weights)]


def requirement_holds(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Node affinity semantics: NotIn and DoesNotExist also hold for a node without the label."""
    key, operator = requirement["key"], requirement["operator"]
    if operator == "In":
        return key in labels and labels[key] in requirement["values"]
    if operator == "NotIn":
        return key not in labels or labels[key] not in requirement["values"]
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise AssertionError(operator)


def node_matches(affinity: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    terms = affinity["nodeAffinity"][REQUIRED]["nodeSelectorTerms"]
    return any(all(requirement_holds(r, labels) for r in term.get("matchExpressions", [])) for term in terms)


# --- cluster_node_affinity ---


def test_named_cluster_pins_to_its_label() -> None:
    assert cluster_node_affinity("prod") == required([req(LABEL_CLUSTER, "In", "prod")])


def test_default_cluster_takes_unlabelled_nodes_too() -> None:
    assert cluster_node_affinity("default") == required(
        [req(LABEL_CLUSTER, "DoesNotExist")],
        [req(LABEL_CLUSTER, "In", "default")],
    )


@pytest.mark.parametrize(
    ("labels", "cluster", "matches"),
    [
        ({}, "default", True),
        ({LABEL_CLUSTER: "default"}, "default", True),
        ({LABEL_CLUSTER: "prod"}, "default", False),
        ({}, "prod", False),
        ({LABEL_CLUSTER: "prod"}, "prod", True),
        ({LABEL_CLUSTER: "default"}, "prod", False),
    ],
)
def test_cluster_affinity_selects_the_clusters_instances(labels: dict[str, str], cluster: str, matches: bool) -> None:
    assert node_matches(cluster_node_affinity(cluster), labels) is matches


def test_named_cluster_tolerates_the_taint_that_dedicates_nodes_to_it() -> None:
    assert cluster_pod_placement("prod") == {
        "affinity": cluster_node_affinity("prod"),
        "tolerations": [{"key": LABEL_CLUSTER, "operator": "Equal", "value": "prod", "effect": "NoSchedule"}],
    }


def test_default_cluster_tolerates_no_taint() -> None:
    assert cluster_pod_placement("default") == {"affinity": cluster_node_affinity("default")}


@pytest.mark.parametrize("cluster", ["", "a" * 64, "team/prod", "-prod", "prod_"])
def test_cluster_name_must_be_a_label_value(cluster: str) -> None:
    with pytest.raises(TranslationError, match=r"cluster name .* cannot be a Kubernetes label value"):
        cluster_node_affinity(cluster)


def test_cluster_name_of_63_characters_is_fine() -> None:
    name = "c" * 63
    assert cluster_node_affinity(name) == required([req(LABEL_CLUSTER, "In", name)])


# --- validate_strategy ---


def test_validate_fills_defaults_and_keeps_order() -> None:
    strategy: list[dict[str, Any]] = [
        {"capacityProvider": "spot", "weight": 4},
        {"capacityProvider": "on-demand", "base": 2},
        {"capacityProvider": "FARGATE_SPOT", "base": None, "weight": None},
        {"capacityProvider": "x", "base": 0, "weight": 1000},
    ]
    assert validate_strategy(strategy) == [
        {"capacityProvider": "spot", "base": 0, "weight": 4},
        {"capacityProvider": "on-demand", "base": 2, "weight": 0},
        {"capacityProvider": "FARGATE_SPOT", "base": 0, "weight": 0},
        {"capacityProvider": "x", "base": 0, "weight": 1000},
    ]


def test_validate_returns_a_copy() -> None:
    strategy = [{"capacityProvider": "a", "weight": 1}]
    result = validate_strategy(strategy)
    result[0]["weight"] = 7
    assert strategy == [{"capacityProvider": "a", "weight": 1}]


def test_validate_accepts_the_limits() -> None:
    assert validate_strategy([{"capacityProvider": "a", "base": 100000, "weight": 1000}]) == [
        {"capacityProvider": "a", "base": 100000, "weight": 1000}
    ]


def test_validate_accepts_base_with_zero_weight_when_another_has_weight() -> None:
    assert validate_strategy([entry("a", base=3), entry("b", weight=1)]) == [entry("a", 3, 0), entry("b", 0, 1)]


def test_empty_strategy_is_no_strategy() -> None:
    assert validate_strategy([]) == []


def test_twenty_providers_are_allowed_twenty_one_not() -> None:
    assert len(validate_strategy(weighted(*[1] * 20))) == 20
    with pytest.raises(TranslationError) as error:
        validate_strategy(weighted(*[1] * 21))
    assert str(error.value) == (
        "capacityProviderStrategy: a capacity provider strategy can contain at most 20 capacity providers, not 21"
    )


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (
            [{"capacityProvider": "a", "weight": 1}, {"capacityProvider": "", "weight": 1}],
            'capacityProviderStrategy[1] {"capacityProvider": "", "weight": 1}: '
            "capacityProvider must name a capacity provider",
        ),
        (
            [{"capacityProvider": "  ", "weight": 1}],
            'capacityProviderStrategy[0] {"capacityProvider": "  ", "weight": 1}: '
            "capacityProvider must name a capacity provider",
        ),
        (
            [{"weight": 1}],
            'capacityProviderStrategy[0] {"weight": 1}: capacityProvider must name a capacity provider',
        ),
        (
            [{"capacityProvider": 5, "weight": 1}],
            'capacityProviderStrategy[0] {"capacityProvider": 5, "weight": 1}: '
            "capacityProvider must name a capacity provider",
        ),
        (
            [{"capacityProvider": "a", "weight": 1}, {"capacityProvider": "a", "weight": 2}],
            'capacityProviderStrategy[1] {"capacityProvider": "a", "weight": 2}: '
            "the capacity provider strategy cannot contain duplicate capacity providers ('a')",
        ),
        (
            [
                {"capacityProvider": "a", "base": 1, "weight": 1},
                {"capacityProvider": "b", "weight": 1},
                {"capacityProvider": "c", "base": 2},
            ],
            "capacityProviderStrategy: only one capacity provider can have a base greater than 0 (a has 1, c has 2)",
        ),
        (
            [{"capacityProvider": "a", "base": -1, "weight": 1}],
            'capacityProviderStrategy[0] {"capacityProvider": "a", "base": -1, "weight": 1}: '
            "base must be between 0 and 100000, not -1",
        ),
        (
            [{"capacityProvider": "a", "weight": -2}],
            'capacityProviderStrategy[0] {"capacityProvider": "a", "weight": -2}: '
            "weight must be between 0 and 1000, not -2",
        ),
        (
            [{"capacityProvider": "a", "base": 100001, "weight": 1}],
            'capacityProviderStrategy[0] {"capacityProvider": "a", "base": 100001, "weight": 1}: '
            "base must be between 0 and 100000, not 100001",
        ),
        (
            [{"capacityProvider": "a", "weight": 1001}],
            'capacityProviderStrategy[0] {"capacityProvider": "a", "weight": 1001}: '
            "weight must be between 0 and 1000, not 1001",
        ),
        (
            [{"capacityProvider": "a", "weight": "1"}],
            'capacityProviderStrategy[0] {"capacityProvider": "a", "weight": "1"}: '
            "weight must be an integer, not '1'",
        ),
        (
            [{"capacityProvider": "a", "weight": True}],
            'capacityProviderStrategy[0] {"capacityProvider": "a", "weight": true}: '
            "weight must be an integer, not True",
        ),
        (
            [{"capacityProvider": "a", "base": 1.5, "weight": 1}],
            'capacityProviderStrategy[0] {"capacityProvider": "a", "base": 1.5, "weight": 1}: '
            "base must be an integer, not 1.5",
        ),
        (
            [{"capacityProvider": "a", "base": 2}, {"capacityProvider": "b"}],
            "capacityProviderStrategy: at least one capacity provider must have a weight value greater than zero "
            "(with every weight 0 no task beyond the base could be placed)",
        ),
        (
            [{"capacityProvider": "a", "weight": 1, "capacity": 3, "priority": 1}],
            'capacityProviderStrategy[0] {"capacityProvider": "a", "weight": 1, "capacity": 3, "priority": 1}: '
            "unknown field capacity, priority; expected capacityProvider, base and weight",
        ),
        (
            ["a"],
            'capacityProviderStrategy[0] "a": an entry must be an object with capacityProvider, base and weight',
        ),
    ],
)
def test_validate_errors(strategy: list[Any], message: str) -> None:
    with pytest.raises(TranslationError) as error:
        validate_strategy(strategy)
    assert str(error.value) == message


def test_provider_name_must_be_a_label_value() -> None:
    name = "p" * 64
    with pytest.raises(TranslationError) as error:
        validate_strategy([{"capacityProvider": name, "weight": 1}])
    assert str(error.value) == (
        f'capacityProviderStrategy[0] {{"capacityProvider": "{name}", "weight": 1}}: '
        f"capacity provider name '{name}' cannot be a Kubernetes label value (at most 63 letters, digits, '-', "
        "'_' or '.', starting and ending with a letter or digit), so no node or pod label can hold it"
    )


def test_validate_names_the_field_in_messages() -> None:
    with pytest.raises(TranslationError, match=r"^defaultCapacityProviderStrategy: at least one capacity provider"):
        validate_strategy([{"capacityProvider": "a"}], field="defaultCapacityProviderStrategy")


# --- provider_targets ---


def test_ecs_example_base_then_one_to_four() -> None:
    # 1 task for A's base, the other 5 split 1:4
    strategy = [{"capacityProvider": "A", "base": 1, "weight": 1}, {"capacityProvider": "B", "weight": 4}]
    assert provider_targets(6, strategy) == {"A": 2, "B": 4}


def test_ecs_example_equal_weights_split_evenly() -> None:
    strategy = [{"capacityProvider": "A", "weight": 1}, {"capacityProvider": "B", "weight": 1}]
    assert [provider_targets(n, strategy) for n in range(5)] == [
        {"A": 0, "B": 0},
        {"A": 1, "B": 0},
        {"A": 1, "B": 1},
        {"A": 2, "B": 1},
        {"A": 2, "B": 2},
    ]


def test_ecs_example_one_to_four_per_five_tasks() -> None:
    strategy = [{"capacityProvider": "A", "weight": 1}, {"capacityProvider": "B", "weight": 4}]
    assert provider_targets(5, strategy) == {"A": 1, "B": 4}
    assert provider_targets(10, strategy) == {"A": 2, "B": 8}
    assert provider_targets(100, strategy) == {"A": 20, "B": 80}


def test_fargate_base_and_spot() -> None:
    strategy = [
        {"capacityProvider": "FARGATE", "base": 2, "weight": 1},
        {"capacityProvider": "FARGATE_SPOT", "weight": 3},
    ]
    assert provider_targets(10, strategy) == {"FARGATE": 4, "FARGATE_SPOT": 6}


def test_base_is_capped_at_total() -> None:
    strategy = [{"capacityProvider": "A", "weight": 1}, {"capacityProvider": "B", "base": 3, "weight": 1}]
    assert provider_targets(0, strategy) == {"A": 0, "B": 0}
    assert provider_targets(2, strategy) == {"A": 0, "B": 2}
    assert provider_targets(3, strategy) == {"A": 0, "B": 3}
    assert provider_targets(4, strategy) == {"A": 1, "B": 3}
    assert provider_targets(5, strategy) == {"A": 1, "B": 4}


def test_base_provider_with_weight_zero_gets_only_its_base() -> None:
    strategy = [{"capacityProvider": "on-demand", "base": 2}, {"capacityProvider": "spot", "weight": 1}]
    assert provider_targets(1, strategy) == {"on-demand": 1, "spot": 0}
    assert provider_targets(7, strategy) == {"on-demand": 2, "spot": 5}


def test_weight_zero_gets_nothing_and_is_listed() -> None:
    strategy = [entry("a", weight=0), entry("b", weight=2), entry("c", weight=0)]
    assert provider_targets(9, strategy) == {"a": 0, "b": 9, "c": 0}
    assert list(provider_targets(9, strategy)) == ["a", "b", "c"]


def test_split_one_to_two() -> None:
    assert [tuple(provider_targets(n, weighted(1, 2)).values()) for n in range(1, 9)] == [
        (0, 1),
        (1, 1),
        (1, 2),
        (1, 3),
        (2, 3),
        (2, 4),
        (2, 5),
        (3, 5),
    ]


def test_ties_go_to_the_earlier_provider() -> None:
    assert provider_targets(1, weighted(3, 3, 3)) == {"p0": 1, "p1": 0, "p2": 0}
    assert provider_targets(2, weighted(3, 3, 3)) == {"p0": 1, "p1": 1, "p2": 0}
    assert provider_targets(1, [entry("z", weight=5), entry("a", weight=5)]) == {"z": 1, "a": 0}


def test_no_alabama_paradox() -> None:
    # largest remainder gives 1, 1, 1 for three tasks and 0, 2, 2 for four: a task would have to move
    strategy = weighted(1, 3, 3)
    assert provider_targets(3, strategy) == {"p0": 0, "p1": 2, "p2": 1}
    assert provider_targets(4, strategy) == {"p0": 0, "p1": 2, "p2": 2}
    assert provider_targets(5, strategy) == {"p0": 1, "p1": 2, "p2": 2}
    assert provider_targets(7, strategy) == {"p0": 1, "p1": 3, "p2": 3}


def test_exact_shares_are_met_exactly() -> None:
    assert provider_targets(12, weighted(1, 2, 3)) == {"p0": 2, "p1": 4, "p2": 6}
    assert provider_targets(1000, weighted(1, 1000)) == {"p0": 1, "p1": 999}


def test_targets_validate_the_strategy() -> None:
    with pytest.raises(TranslationError, match="only one capacity provider can have a base greater than 0"):
        provider_targets(3, [entry("a", base=1, weight=1), entry("b", base=1, weight=1)])
    with pytest.raises(TranslationError) as error:
        provider_targets(3, [])
    assert str(error.value) == "capacityProviderStrategy: no capacity provider to place tasks with"


def test_negative_total_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="total must not be negative, not -1"):
        provider_targets(-1, weighted(1))


def random_strategies(count: int, seed: int) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    strategies: list[list[dict[str, Any]]] = [
        weighted(1),
        weighted(1, 1),
        weighted(1, 3, 3),
        weighted(1, 4, 4, 0),
        weighted(1000, 1),
        [entry("a", base=5), entry("b", weight=1), entry("c", weight=2)],
    ]
    while len(strategies) < count:
        size = rng.randint(1, 8)
        weights = [rng.choice([0, 1, 2, 3, 4, 5, 7, 10, 100, rng.randint(0, 1000)]) for _ in range(size)]
        if not any(weights):
            weights[rng.randrange(size)] = rng.randint(1, 1000)
        strategy = weighted(*weights)
        if rng.random() < 0.4:
            strategy[rng.randrange(size)]["base"] = rng.randint(1, 20)
        strategies.append(strategy)
    return strategies


STRATEGIES = random_strategies(150, seed=20240611)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_targets_sum_stay_within_quota_and_never_shrink(strategy: list[dict[str, Any]]) -> None:
    base = sum(e["base"] for e in strategy)
    weights = sum(e["weight"] for e in strategy)
    previous = provider_targets(0, strategy)
    assert set(previous.values()) == {0}
    for total in range(1, 51):
        targets = provider_targets(total, strategy)
        assert list(targets) == [e["capacityProvider"] for e in strategy]
        assert sum(targets.values()) == total
        assert all(targets[p] >= previous[p] for p in targets), (total, previous, targets)
        rest = max(0, total - base)
        for e in strategy:
            share = Fraction(rest * e["weight"], weights)
            beyond_base = targets[e["capacityProvider"]] - min(e["base"], total)
            assert share - 1 < beyond_base < share + 1, (total, e, targets)
        previous = targets


# --- next_provider ---


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_placing_one_by_one_reproduces_the_targets(strategy: list[dict[str, Any]]) -> None:
    placed = {e["capacityProvider"]: 0 for e in strategy}
    for total in range(1, 51):
        placed[next_provider(strategy, placed)] += 1
        assert placed == provider_targets(total, strategy)


def test_next_provider_from_nothing_takes_the_base_first() -> None:
    strategy = [{"capacityProvider": "A", "base": 1, "weight": 1}, {"capacityProvider": "B", "weight": 4}]
    order = []
    placed: dict[str, int] = {}
    for _ in range(6):
        provider = next_provider(strategy, placed)
        order.append(provider)
        placed[provider] = placed.get(provider, 0) + 1
    assert order == ["A", "B", "B", "B", "A", "B"]
    assert placed == {"A": 2, "B": 4}


def test_next_provider_pulls_a_drifted_count_back() -> None:
    strategy = weighted(1, 1)
    assert next_provider(strategy, {"p0": 5, "p1": 0}) == "p1"
    assert next_provider(strategy, {"p0": 0, "p1": 5}) == "p0"
    assert next_provider(strategy, {"p0": 3, "p1": 3}) == "p0"


def test_next_provider_refills_a_lost_base() -> None:
    strategy = [{"capacityProvider": "od", "base": 2, "weight": 1}, {"capacityProvider": "spot", "weight": 1}]
    assert next_provider(strategy, {"od": 1, "spot": 3}) == "od"


def test_next_provider_never_picks_weight_zero_beyond_base() -> None:
    strategy = [entry("base-only", base=1), entry("zero"), entry("w", weight=1)]
    assert next_provider(strategy, {}) == "base-only"
    assert next_provider(strategy, {"base-only": 1}) == "w"
    assert next_provider(strategy, {"base-only": 1, "w": 40}) == "w"


def test_next_provider_ignores_providers_outside_the_strategy() -> None:
    strategy = weighted(1, 1)
    assert next_provider(strategy, {"old": 10, "p0": 1}) == "p1"
    assert next_provider(strategy, {"old": 10}) == "p0"


def test_next_provider_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match=r"placed\['p0'\] must not be negative, not -1"):
        next_provider(weighted(1), {"p0": -1})


def test_next_provider_needs_a_strategy() -> None:
    with pytest.raises(TranslationError, match="no capacity provider to place tasks with"):
        next_provider([], {})


# --- provider_selector_requirements ---


def test_provider_without_selector_is_its_label() -> None:
    expected = [req(LABEL_CAPACITY_PROVIDER, "In", "spot")]
    assert provider_selector_requirements("spot", {}) == expected
    assert provider_selector_requirements("spot", None) == expected
    assert provider_selector_requirements("spot", {"other": {"matchLabels": {POOL: "x"}}}) == expected


def test_match_labels_become_in_requirements() -> None:
    selectors = {"spot": {"matchLabels": {POOL: "spot", "node.kubernetes.io/lifecycle": "spot"}}}
    assert provider_selector_requirements("spot", selectors) == [
        req(POOL, "In", "spot"),
        req("node.kubernetes.io/lifecycle", "In", "spot"),
    ]


def test_match_expressions_are_copied_after_match_labels() -> None:
    selectors: dict[str, dict[str, Any]] = {
        "gpu": {
            "matchExpressions": [
                {"key": ZONE, "operator": "In", "values": ["a", "b"]},
                {"key": "example.com/legacy", "operator": "NotIn", "values": ["true"]},
                {"key": "example.com/gpu", "operator": "Exists"},
                {"key": "example.com/tainted", "operator": "DoesNotExist", "values": []},
            ],
            "matchLabels": {POOL: "gpu"},
        }
    }
    original = copy.deepcopy(selectors)
    result = provider_selector_requirements("gpu", selectors)
    assert result == [
        req(POOL, "In", "gpu"),
        req(ZONE, "In", "a", "b"),
        req("example.com/legacy", "NotIn", "true"),
        req("example.com/gpu", "Exists"),
        req("example.com/tainted", "DoesNotExist"),
    ]
    result[1]["values"].append("c")
    assert selectors == original


def test_duplicate_requirements_are_dropped() -> None:
    selectors = {
        "p": {"matchLabels": {POOL: "x"}, "matchExpressions": [{"key": POOL, "operator": "In", "values": ["x"]}]}
    }
    assert provider_selector_requirements("p", selectors) == [req(POOL, "In", "x")]


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (
            {"matchExpressions": [{"key": "k", "operator": "Gt", "values": ["1"]}]},
            "capacity provider 'p' selector: matchExpressions[0] "
            '{"key": "k", "operator": "Gt", "values": ["1"]}: '
            "unknown operator 'Gt'; expected one of In, NotIn, Exists, DoesNotExist",
        ),
        (
            {"matchExpressions": [{"key": "k", "operator": "In"}]},
            "capacity provider 'p' selector: matchExpressions[0] "
            '{"key": "k", "operator": "In"}: In needs a non-empty list of string values',
        ),
        (
            {"matchExpressions": [{"key": "k", "operator": "NotIn", "values": []}]},
            "capacity provider 'p' selector: matchExpressions[0] "
            '{"key": "k", "operator": "NotIn", "values": []}: NotIn needs a non-empty list of string values',
        ),
        (
            {"matchExpressions": [{"key": "k", "operator": "In", "values": "a"}]},
            "capacity provider 'p' selector: matchExpressions[0] "
            '{"key": "k", "operator": "In", "values": "a"}: In needs a non-empty list of string values',
        ),
        (
            {"matchExpressions": [{"key": "k", "operator": "Exists", "values": ["a"]}]},
            "capacity provider 'p' selector: matchExpressions[0] "
            '{"key": "k", "operator": "Exists", "values": ["a"]}: Exists takes no values',
        ),
        (
            {"matchExpressions": [{"operator": "Exists"}]},
            'capacity provider \'p\' selector: matchExpressions[0] {"operator": "Exists"}: key must name a node label',
        ),
        (
            {"matchExpressions": ["k"]},
            "capacity provider 'p' selector: matchExpressions[0] "
            '"k": a requirement must be an object with key, operator and values',
        ),
        (
            {"matchLabels": {POOL: 3}},
            f"capacity provider 'p' selector: matchLabels '{POOL}': 3 must map a label key to a string value",
        ),
        (
            {"matchLabels": ["a"]},
            "capacity provider 'p' selector: matchLabels must map label keys to values",
        ),
        (
            {"matchLabels": {POOL: "x"}, "nodeSelector": {}},
            "capacity provider 'p' selector: unknown field nodeSelector; expected matchLabels and matchExpressions",
        ),
        (
            {},
            "capacity provider 'p' selector: an empty selector would make every node part of the capacity "
            "provider; give matchLabels or matchExpressions",
        ),
        (
            {"matchLabels": {}, "matchExpressions": []},
            "capacity provider 'p' selector: an empty selector would make every node part of the capacity "
            "provider; give matchLabels or matchExpressions",
        ),
    ],
)
def test_selector_errors(selector: dict[str, Any], message: str) -> None:
    with pytest.raises(TranslationError) as error:
        provider_selector_requirements("p", {"p": selector})
    assert str(error.value) == message


def test_default_selector_needs_a_label_value_name() -> None:
    with pytest.raises(TranslationError, match=r"capacity provider name 'a/b' cannot be a Kubernetes label value"):
        provider_selector_requirements("a/b", {})


# --- strategy_node_affinity ---


def test_strategy_affinity_has_one_term_per_provider() -> None:
    strategy = [entry("od", base=1, weight=1), entry("spot", weight=3), entry("gpu")]
    selectors = {"spot": {"matchLabels": {POOL: "spot"}}}
    assert strategy_node_affinity(strategy, selectors) == required(
        [req(LABEL_CAPACITY_PROVIDER, "In", "od")],
        [req(POOL, "In", "spot")],
        [req(LABEL_CAPACITY_PROVIDER, "In", "gpu")],
    )


def test_strategy_affinity_without_selectors() -> None:
    assert strategy_node_affinity([{"capacityProvider": "a", "weight": 1}]) == required(
        [req(LABEL_CAPACITY_PROVIDER, "In", "a")]
    )


def test_strategy_affinity_merges_identical_terms() -> None:
    selectors = {"p0": {"matchLabels": {POOL: "x"}}, "p1": {"matchLabels": {POOL: "x"}}}
    assert strategy_node_affinity(weighted(1, 1), selectors) == required([req(POOL, "In", "x")])


@pytest.mark.parametrize(
    ("labels", "matches"),
    [
        ({LABEL_CAPACITY_PROVIDER: "od"}, True),
        ({POOL: "spot"}, True),
        ({LABEL_CAPACITY_PROVIDER: "spot"}, False),
        ({LABEL_CAPACITY_PROVIDER: "other"}, False),
        ({}, False),
    ],
)
def test_strategy_affinity_allows_only_the_providers_nodes(labels: dict[str, str], matches: bool) -> None:
    affinity = strategy_node_affinity(
        [entry("od", weight=1), entry("spot", weight=1)], {"spot": {"matchLabels": {POOL: "spot"}}}
    )
    assert node_matches(affinity, labels) is matches


def test_strategy_affinity_needs_a_valid_strategy() -> None:
    with pytest.raises(TranslationError, match="no capacity provider to place tasks with"):
        strategy_node_affinity([], {})
    with pytest.raises(TranslationError, match="duplicate capacity providers"):
        strategy_node_affinity([entry("a", weight=1), entry("a", weight=1)], {})


# --- gated_pod_patch ---


def test_patch_without_affinity_sets_one_term() -> None:
    assert gated_pod_patch(None, "spot", {}) == {
        "affinity": required([req(LABEL_CAPACITY_PROVIDER, "In", "spot")]),
        "label": {LABEL_CAPACITY_PROVIDER: "spot"},
    }
    assert gated_pod_patch({}, "spot", {})["affinity"] == required([req(LABEL_CAPACITY_PROVIDER, "In", "spot")])


def test_patch_appends_to_every_existing_term() -> None:
    selectors = {"spot": {"matchLabels": {POOL: "spot"}}}
    template = strategy_node_affinity([entry("od", weight=1), entry("spot", weight=1)], selectors)
    patch = gated_pod_patch(template, "spot", selectors)
    assert patch == {
        "affinity": required(
            [req(LABEL_CAPACITY_PROVIDER, "In", "od"), req(POOL, "In", "spot")],
            [req(POOL, "In", "spot")],
        ),
        "label": {LABEL_CAPACITY_PROVIDER: "spot"},
    }


def test_patch_only_adds_to_terms() -> None:
    """What Kubernetes allows on a gated pod: the old terms, in order, each with its requirements as a prefix."""
    template = and_affinities(
        cluster_node_affinity("default"), strategy_node_affinity([entry("a", weight=1), entry("b", weight=2)], {})
    )
    assert template is not None
    patched = gated_pod_patch(template, "b", {})["affinity"]
    old_terms = template["nodeAffinity"][REQUIRED]["nodeSelectorTerms"]
    new_terms = patched["nodeAffinity"][REQUIRED]["nodeSelectorTerms"]
    assert len(new_terms) == len(old_terms) == 4
    added = []
    for old, new in zip(old_terms, new_terms, strict=True):
        assert new["matchExpressions"][: len(old["matchExpressions"])] == old["matchExpressions"]
        added.append(new["matchExpressions"][len(old["matchExpressions"]) :])
    # the terms for b already require b; the terms for a get it added (and can no longer match)
    assert [term["matchExpressions"][-1]["values"] for term in old_terms] == [["a"], ["b"], ["a"], ["b"]]
    provider_b = [req(LABEL_CAPACITY_PROVIDER, "In", "b")]
    assert added == [provider_b, [], provider_b, []]


@pytest.mark.parametrize(
    ("labels", "matches"),
    [
        ({LABEL_CAPACITY_PROVIDER: "b"}, True),
        ({LABEL_CAPACITY_PROVIDER: "b", LABEL_CLUSTER: "default"}, True),
        ({LABEL_CAPACITY_PROVIDER: "b", LABEL_CLUSTER: "prod"}, False),
        ({LABEL_CAPACITY_PROVIDER: "a"}, False),
        ({}, False),
    ],
)
def test_patched_pod_lands_only_on_the_chosen_provider_in_its_cluster(labels: dict[str, str], matches: bool) -> None:
    template = and_affinities(
        cluster_node_affinity("default"), strategy_node_affinity([entry("a", weight=1), entry("b", weight=2)], {})
    )
    patched = gated_pod_patch(template, "b", {})["affinity"]
    assert node_matches(patched, labels) is matches


def test_patch_leaves_preferences_pod_affinity_and_match_fields_alone() -> None:
    preferred = [{"weight": 10, "preference": {"matchExpressions": [req(ZONE, "In", "a")]}}]
    anti = {REQUIRED: [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}
    affinity: dict[str, Any] = {
        "nodeAffinity": {
            REQUIRED: {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
                    {"matchExpressions": [req(ZONE, "In", "b")]},
                ]
            },
            PREFERRED: preferred,
        },
        "podAntiAffinity": anti,
    }
    original = copy.deepcopy(affinity)
    patch = gated_pod_patch(affinity, "p", {"p": {"matchExpressions": [{"key": POOL, "operator": "Exists"}]}})
    assert patch["affinity"] == {
        "nodeAffinity": {
            REQUIRED: {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
                        "matchExpressions": [req(POOL, "Exists")],
                    },
                    {"matchExpressions": [req(ZONE, "In", "b"), req(POOL, "Exists")]},
                ]
            },
            PREFERRED: preferred,
        },
        "podAntiAffinity": anti,
    }
    assert affinity == original
    patch["affinity"]["nodeAffinity"][PREFERRED].append({})
    assert affinity == original


def test_patch_with_empty_required_terms_sets_them() -> None:
    affinity: dict[str, Any] = {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": []}}}
    assert gated_pod_patch(affinity, "a", {})["affinity"] == required([req(LABEL_CAPACITY_PROVIDER, "In", "a")])


def test_patch_does_not_repeat_requirements_already_there() -> None:
    affinity = required([req(LABEL_CAPACITY_PROVIDER, "In", "a")], [req(ZONE, "In", "z")])
    assert gated_pod_patch(affinity, "a", {})["affinity"] == required(
        [req(LABEL_CAPACITY_PROVIDER, "In", "a")],
        [req(ZONE, "In", "z"), req(LABEL_CAPACITY_PROVIDER, "In", "a")],
    )


def test_patch_label_is_the_provider_even_with_a_selector() -> None:
    patch = gated_pod_patch(None, "spot", {"spot": {"matchLabels": {POOL: "spot-pool"}}})
    assert patch == {"affinity": required([req(POOL, "In", "spot-pool")]), "label": {LABEL_CAPACITY_PROVIDER: "spot"}}


def test_patch_rejects_a_provider_that_cannot_be_a_label() -> None:
    with pytest.raises(TranslationError, match=r"capacity provider name 'a b' cannot be a Kubernetes label value"):
        gated_pod_patch(None, "a b", {"a b": {"matchLabels": {POOL: "x"}}})


# --- scheduling gate ---


def test_with_capacity_gate_adds_the_gate_once() -> None:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"}]}
    gated = with_capacity_gate(spec)
    assert gated == {
        "containers": [{"name": "c", "image": "i"}],
        "schedulingGates": [{"name": SCHEDULING_GATE_CAPACITY_PROVIDER}],
    }
    assert "schedulingGates" not in spec
    assert with_capacity_gate(gated) == gated
    gated["containers"][0]["image"] = "changed"
    assert spec["containers"][0]["image"] == "i"


def test_with_capacity_gate_keeps_other_gates() -> None:
    spec = {"containers": [], "schedulingGates": [{"name": "example.com/quota"}]}
    assert with_capacity_gate(spec)["schedulingGates"] == [
        {"name": "example.com/quota"},
        {"name": SCHEDULING_GATE_CAPACITY_PROVIDER},
    ]
    assert spec["schedulingGates"] == [{"name": "example.com/quota"}]


@pytest.mark.parametrize(
    ("pod", "gated"),
    [
        ({"spec": {"schedulingGates": [{"name": SCHEDULING_GATE_CAPACITY_PROVIDER}]}}, True),
        ({"spec": {"schedulingGates": [{"name": "x"}, {"name": SCHEDULING_GATE_CAPACITY_PROVIDER}]}}, True),
        ({"spec": {"schedulingGates": [{"name": "x"}]}}, False),
        ({"spec": {"schedulingGates": None}}, False),
        ({"spec": {}}, False),
        ({"metadata": {"name": "p"}}, False),
    ],
)
def test_is_capacity_gated(pod: dict[str, Any], gated: bool) -> None:
    assert is_capacity_gated(pod) is gated


def test_gate_round_trip() -> None:
    assert is_capacity_gated({"spec": with_capacity_gate({"containers": []})}) is True


# --- effective_strategy ---

OWN = [{"capacityProvider": "spot", "weight": 1}]
DEFAULT = [{"capacityProvider": "od", "base": 1, "weight": 1}]


def test_own_strategy_wins() -> None:
    assert effective_strategy(OWN, None, DEFAULT) == [{"capacityProvider": "spot", "base": 0, "weight": 1}]


def test_launch_type_opts_out_of_the_cluster_default() -> None:
    assert effective_strategy(None, "EC2", DEFAULT) == []
    assert effective_strategy([], "FARGATE", DEFAULT) == []
    # the default is not even looked at
    assert effective_strategy(None, "EC2", [{"capacityProvider": ""}]) == []


def test_cluster_default_applies_otherwise() -> None:
    expected = [{"capacityProvider": "od", "base": 1, "weight": 1}]
    assert effective_strategy(None, None, DEFAULT) == expected
    assert effective_strategy([], "", DEFAULT) == expected


def test_no_strategy_at_all() -> None:
    assert effective_strategy(None, None, None) == []
    assert effective_strategy([], None, []) == []


def test_launch_type_and_own_strategy_conflict() -> None:
    with pytest.raises(TranslationError) as error:
        effective_strategy(OWN, "EC2", None)
    assert str(error.value) == (
        "Specifying both a launch type and capacity provider strategy is not supported. "
        "Remove one and try again (launchType 'EC2')."
    )


def test_effective_strategy_names_the_field_at_fault() -> None:
    with pytest.raises(TranslationError, match=r"^capacityProviderStrategy\[0\]"):
        effective_strategy([{"capacityProvider": "a", "weight": 2000}], None, DEFAULT)
    with pytest.raises(TranslationError, match=r"^defaultCapacityProviderStrategy\[0\]"):
        effective_strategy(None, None, [{"capacityProvider": "a", "weight": 2000}])
