"""ECS clusters and capacity provider strategies as node affinity and per-task provider choice.

Container instances are nodes: a task may only run on the nodes of its ECS cluster
(cluster_node_affinity), and a node tainted ``ecs.facade.dev/cluster=<name>:NoSchedule`` is
dedicated to that cluster: its tasks tolerate the taint, other pods stay off
(cluster_pod_placement); and a capacity provider is a node group, the nodes a label selector
picks (provider_selector_requirements; by default ``LABEL_CAPACITY_PROVIDER=<name>``).

A capacity provider strategy says how many of a service's tasks each provider runs: the
first ``base`` tasks go to the provider with the base, the rest are split by ``weight``
(provider_targets).  The Kubernetes scheduler knows nothing of such a split, so service pods
are created behind a scheduling gate (with_capacity_gate); the operator picks a provider for
each gated pod in turn (next_provider), narrows the pod's node affinity to that provider and
lifts the gate (gated_pod_patch).  The pod template already allows only the strategy's
providers (strategy_node_affinity), so a pod never lands outside its strategy.

The split has to be the same whether tasks are counted all at once or placed one by one, or
scaling a service from n to n + 1 tasks could ask for a task to move.  The largest-remainder
method (Hamilton) does not have that property: with weights 1, 3, 3 it gives 1, 1, 1 for
three tasks and 0, 2, 2 for four (the Alabama paradox).  The split therefore uses the quota
method of Balinski and Young (1975): tasks are handed out one at a time, each to the provider
with the highest ``weight / (tasks + 1)`` among those still below their exact share of the
new total.  Like the largest-remainder method it stays within quota (every provider gets its
exact share rounded down or up), and adding a task never takes one away from a provider.

Pure: no I/O, no API client; the controllers bring the pods and the cluster's selectors.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ecs_facade.api import (
    DEFAULT_CLUSTER,
    LABEL_CAPACITY_PROVIDER,
    LABEL_CLUSTER,
    SCHEDULING_GATE_CAPACITY_PROVIDER,
)
from ecs_facade.translate import TranslationError
from ecs_facade.translate.placement import REQUIRED

STRATEGY_FIELD: Final = "capacityProviderStrategy"
DEFAULT_STRATEGY_FIELD: Final = "defaultCapacityProviderStrategy"

MAX_BASE: Final = 100_000
MAX_WEIGHT: Final = 1_000
MAX_PROVIDERS: Final = 20
"""ECS accepts at most 20 capacity providers in one strategy."""

STRATEGY_KEYS: Final = ("capacityProvider", "base", "weight")
SELECTOR_KEYS: Final = frozenset({"matchLabels", "matchExpressions"})
SELECTOR_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")
_VALUE_OPERATORS: Final = frozenset({"In", "NotIn"})

_LABEL_VALUE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
_LABEL_VALUE_RULE: Final = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"


def check_label_value(what: str, value: str, consequence: str = "so no node or pod label can hold it") -> None:
    """Cluster and provider names (and metric dimensions) end up as label values, which
    Kubernetes restricts."""
    if not value or len(value) > 63 or not _LABEL_VALUE.match(value):
        raise TranslationError(
            f"{what} {value!r} cannot be a Kubernetes label value ({_LABEL_VALUE_RULE}), {consequence}"
        )


# --- clusters ---


def cluster_node_affinity(cluster: str) -> dict[str, Any]:
    """The pod ``affinity`` that keeps a task on the container instances (nodes) of its ECS cluster.

    An ECS instance without ECS_CLUSTER joins the ``default`` cluster, so the default cluster is
    the nodes without the cluster label as well as those labelled ``default``.
    """
    if cluster == DEFAULT_CLUSTER:
        terms = [
            {"matchExpressions": [{"key": LABEL_CLUSTER, "operator": "DoesNotExist"}]},
            {"matchExpressions": [{"key": LABEL_CLUSTER, "operator": "In", "values": [DEFAULT_CLUSTER]}]},
        ]
    else:
        check_label_value("cluster name", cluster)
        terms = [{"matchExpressions": [{"key": LABEL_CLUSTER, "operator": "In", "values": [cluster]}]}]
    return {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": terms}}}


def cluster_pod_placement(cluster: str) -> dict[str, Any]:
    """The placement fragment (apply_placement) of a task of ``cluster``: the cluster's node
    affinity and, for a named cluster, the toleration of the taint that dedicates a node to
    it (``ecs.facade.dev/cluster=<name>:NoSchedule``).  An ECS container instance belongs to
    one cluster and runs only that cluster's tasks; with the taint, pods that are not the
    cluster's tasks (other workloads of the Kubernetes cluster) stay off its nodes too.
    """
    fragment: dict[str, Any] = {"affinity": cluster_node_affinity(cluster)}
    if cluster != DEFAULT_CLUSTER:
        fragment["tolerations"] = [
            {"key": LABEL_CLUSTER, "operator": "Equal", "value": cluster, "effect": "NoSchedule"}
        ]
    return fragment


# --- strategies ---


def _describe(field: str, index: int, item: Any) -> str:
    """``capacityProviderStrategy[1] {"capacityProvider": "spot"}``: which entry is at fault."""
    if isinstance(item, Mapping):
        shown = json.dumps({key: value for key, value in item.items() if value is not None}, default=str)
    else:
        shown = json.dumps(item, default=str)
    return f"{field}[{index}] {shown}"


def _bounded(what: str, name: str, value: Any, maximum: int) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise TranslationError(f"{what}: {name} must be an integer, not {value!r}")
    if not 0 <= value <= maximum:
        raise TranslationError(f"{what}: {name} must be between 0 and {maximum}, not {value}")
    return value


def validate_strategy(strategy: Sequence[Mapping[str, Any]], *, field: str = STRATEGY_FIELD) -> list[dict[str, Any]]:
    """A normalised copy (``{capacityProvider, base, weight}``, absent numbers 0) of a strategy as ECS checks it.

    ``field`` names the strategy in messages (``defaultCapacityProviderStrategy`` for a cluster's).
    An empty strategy is no strategy and comes back empty.  Raises TranslationError naming the entry.
    """
    if len(strategy) > MAX_PROVIDERS:
        raise TranslationError(
            f"{field}: a capacity provider strategy can contain at most {MAX_PROVIDERS} capacity providers, "
            f"not {len(strategy)}"
        )
    normalised: list[dict[str, Any]] = []
    for index, item in enumerate(strategy):
        what = _describe(field, index, item)
        if not isinstance(item, Mapping):
            raise TranslationError(f"{what}: an entry must be an object with capacityProvider, base and weight")
        unknown = sorted(str(key) for key in item if key not in STRATEGY_KEYS)
        if unknown:
            raise TranslationError(
                f"{what}: unknown field {', '.join(unknown)}; expected capacityProvider, base and weight"
            )
        name = item.get("capacityProvider")
        if not isinstance(name, str) or not name.strip():
            raise TranslationError(f"{what}: capacityProvider must name a capacity provider")
        try:
            check_label_value("capacity provider name", name)
        except TranslationError as error:
            raise TranslationError(f"{what}: {error}") from None
        if any(entry["capacityProvider"] == name for entry in normalised):
            raise TranslationError(
                f"{what}: the capacity provider strategy cannot contain duplicate capacity providers ({name!r})"
            )
        base = _bounded(what, "base", item.get("base"), MAX_BASE)
        weight = _bounded(what, "weight", item.get("weight"), MAX_WEIGHT)
        normalised.append({"capacityProvider": name, "base": base, "weight": weight})
    with_base = [entry for entry in normalised if entry["base"] > 0]
    if len(with_base) > 1:
        shown = ", ".join(f"{entry['capacityProvider']} has {entry['base']}" for entry in with_base)
        raise TranslationError(f"{field}: only one capacity provider can have a base greater than 0 ({shown})")
    if normalised and all(entry["weight"] == 0 for entry in normalised):
        raise TranslationError(
            f"{field}: at least one capacity provider must have a weight value greater than zero "
            "(with every weight 0 no task beyond the base could be placed)"
        )
    return normalised


def _required(strategy: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A validated strategy that is not empty: placing tasks needs at least one provider."""
    normalised = validate_strategy(strategy)
    if not normalised:
        raise TranslationError(f"{STRATEGY_FIELD}: no capacity provider to place tasks with")
    return normalised


def _quota_split(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` tasks split by ``weights`` with the quota method (see the module docstring).

    A provider may take the next task only while it is below its exact share of the new total
    (``placed * W < (h + 1) * weight``, in integers); among those, the highest
    ``weight / (placed + 1)`` wins, ties to the earlier provider.  Weight 0 is never eligible.
    """
    whole = sum(weights)
    placed = [0] * len(weights)
    for house in range(1, total + 1):
        best = -1
        for index, weight in enumerate(weights):
            if placed[index] * whole >= house * weight:
                continue
            if best < 0 or weight * (placed[best] + 1) > weights[best] * (placed[index] + 1):
                best = index
        placed[best] += 1
    return placed


def provider_targets(total: int, strategy: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many of ``total`` tasks each provider should run, in strategy order (0 included); sums to ``total``.

    The provider with a base gets the first ``base`` tasks (all of them when ``total`` is
    smaller); the rest are split by weight with the quota method, so that the targets for
    ``total + 1`` never take a task away from a provider.  Cost: O(total x providers).
    """
    if total < 0:
        raise ValueError(f"total must not be negative, not {total}")
    normalised = _required(strategy)
    targets = {entry["capacityProvider"]: 0 for entry in normalised}
    remaining = total
    for entry in normalised:
        if entry["base"] > 0:
            targets[entry["capacityProvider"]] = min(entry["base"], total)
            remaining -= targets[entry["capacityProvider"]]
    split = _quota_split(remaining, [entry["weight"] for entry in normalised])
    for entry, count in zip(normalised, split, strict=True):
        targets[entry["capacityProvider"]] += count
    return targets


def next_provider(strategy: Sequence[Mapping[str, Any]], placed: Mapping[str, int]) -> str:
    """The capacity provider for one more task, given how many tasks each provider already has.

    The one furthest below its target for one task more (ties: strategy order), so placing
    tasks one at a time reproduces provider_targets, and a count that has drifted (tasks that
    failed, were stopped or scaled in) is pulled back towards the targets.  Tasks counted under
    providers that are not in the strategy are ignored: they are no part of this split.
    """
    normalised = _required(strategy)
    counts: dict[str, int] = {}
    for entry in normalised:
        count = placed.get(entry["capacityProvider"], 0)
        if count < 0:
            raise ValueError(f"placed[{entry['capacityProvider']!r}] must not be negative, not {count}")
        counts[entry["capacityProvider"]] = count
    targets = provider_targets(sum(counts.values()) + 1, normalised)
    # max() keeps the first of equal keys, so ties go to the earlier provider
    return max(targets, key=lambda provider: targets[provider] - counts[provider])


# --- capacity providers as node groups ---


def _selector_requirements(what: str, selector: Mapping[str, Any]) -> list[dict[str, Any]]:
    unknown = sorted(str(key) for key in selector if key not in SELECTOR_KEYS)
    if unknown:
        raise TranslationError(f"{what}: unknown field {', '.join(unknown)}; expected matchLabels and matchExpressions")
    requirements: list[dict[str, Any]] = []
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise TranslationError(f"{what}: matchLabels must map label keys to values")
    for key, value in match_labels.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise TranslationError(f"{what}: matchLabels {key!r}: {value!r} must map a label key to a string value")
        requirements.append({"key": key, "operator": "In", "values": [value]})
    match_expressions = selector.get("matchExpressions") or []
    if not isinstance(match_expressions, Sequence) or isinstance(match_expressions, str):
        raise TranslationError(f"{what}: matchExpressions must be a list of requirements")
    for index, expression in enumerate(match_expressions):
        where = f"{what}: matchExpressions[{index}] {json.dumps(expression, default=str)}"
        if not isinstance(expression, Mapping):
            raise TranslationError(f"{where}: a requirement must be an object with key, operator and values")
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values")
        if not isinstance(key, str) or not key:
            raise TranslationError(f"{where}: key must name a node label")
        if operator not in SELECTOR_OPERATORS:
            raise TranslationError(
                f"{where}: unknown operator {operator!r}; expected one of {', '.join(SELECTOR_OPERATORS)}"
            )
        if operator in _VALUE_OPERATORS:
            if (
                not isinstance(values, Sequence)
                or isinstance(values, str)
                or not values
                or not all(isinstance(value, str) for value in values)
            ):
                raise TranslationError(f"{where}: {operator} needs a non-empty list of string values")
            requirement: dict[str, Any] = {"key": key, "operator": operator, "values": list(values)}
        else:
            if values:
                raise TranslationError(f"{where}: {operator} takes no values")
            requirement = {"key": key, "operator": operator}
        requirements.append(requirement)
    unique: list[dict[str, Any]] = []
    for requirement in requirements:
        if requirement not in unique:
            unique.append(requirement)
    if not unique:
        # an empty label selector selects every node, but an empty nodeSelectorTerm selects none
        raise TranslationError(
            f"{what}: an empty selector would make every node part of the capacity provider; "
            "give matchLabels or matchExpressions"
        )
    return unique


def provider_selector_requirements(
    provider: str, selectors: Mapping[str, Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The node selector requirements (``matchExpressions`` entries) for the nodes of one capacity provider.

    ``selectors`` maps provider names to Kubernetes label selectors (as the cluster defines its
    node groups); a provider without one is the nodes labelled ``LABEL_CAPACITY_PROVIDER=<name>``.
    """
    selector = (selectors or {}).get(provider)
    if selector is None:
        check_label_value("capacity provider name", provider)
        return [{"key": LABEL_CAPACITY_PROVIDER, "operator": "In", "values": [provider]}]
    what = f"capacity provider {provider!r} selector"
    if not isinstance(selector, Mapping):
        raise TranslationError(f"{what}: must be a label selector with matchLabels and/or matchExpressions")
    return _selector_requirements(what, selector)


def strategy_node_affinity(
    strategy: Sequence[Mapping[str, Any]], selectors: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The pod ``affinity`` that allows only nodes of the strategy's providers: one nodeSelectorTerm per provider.

    On the pod template, so that a task stays inside its strategy even before a provider is
    chosen for it.  AND it with other node affinity using placement.and_affinities.
    """
    terms: list[dict[str, Any]] = []
    for entry in _required(strategy):
        term = {"matchExpressions": provider_selector_requirements(entry["capacityProvider"], selectors)}
        if term not in terms:
            terms.append(term)
    return {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": terms}}}


# --- gated pods ---


def gated_pod_patch(
    pod_affinity: Mapping[str, Any] | None, provider: str, selectors: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """What assigns a scheduling-gated pod to ``provider``: ``{"affinity": ..., "label": {...}}``.

    Kubernetes lets a gated pod's node affinity only narrow: requirements may be added to each
    existing nodeSelectorTerm, or terms set where there are none.  So the provider's
    requirements are appended to every required term; where the template's
    strategy_node_affinity has a term per provider, the other providers' terms become
    unsatisfiable (or equivalent), the provider's own stays.  Preferences and pod
    (anti-)affinity are left as they are.  ``label`` goes on the pod's metadata.labels.
    """
    check_label_value("capacity provider name", provider)
    requirements = provider_selector_requirements(provider, selectors)
    affinity = copy.deepcopy(dict(pod_affinity or {}))
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    required = dict(node_affinity.get(REQUIRED) or {})
    terms = [dict(term) for term in required.get("nodeSelectorTerms") or []]
    if terms:
        for term in terms:
            expressions = list(term.get("matchExpressions") or [])
            expressions += [r for r in requirements if r not in expressions]
            term["matchExpressions"] = expressions
    else:
        terms = [{"matchExpressions": requirements}]
    required["nodeSelectorTerms"] = terms
    node_affinity[REQUIRED] = required
    affinity["nodeAffinity"] = node_affinity
    return {"affinity": copy.deepcopy(affinity), "label": {LABEL_CAPACITY_PROVIDER: provider}}


def with_capacity_gate(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``pod_spec`` held back by the capacity provider scheduling gate (added once)."""
    spec = copy.deepcopy(dict(pod_spec))
    gates = list(spec.get("schedulingGates") or [])
    if not any(gate.get("name") == SCHEDULING_GATE_CAPACITY_PROVIDER for gate in gates):
        gates.append({"name": SCHEDULING_GATE_CAPACITY_PROVIDER})
    spec["schedulingGates"] = gates
    return spec


def is_capacity_gated(pod: Mapping[str, Any]) -> bool:
    """Whether a Pod (as a dict) still waits for a capacity provider to be chosen."""
    gates = (pod.get("spec") or {}).get("schedulingGates") or []
    return any(gate.get("name") == SCHEDULING_GATE_CAPACITY_PROVIDER for gate in gates)


# --- which strategy applies ---


def effective_strategy(
    own: Sequence[Mapping[str, Any]] | None,
    launch_type: str | None,
    cluster_default: Sequence[Mapping[str, Any]] | None,
) -> list[dict[str, Any]]:
    """The validated strategy that applies to a service or task, as ECS picks it; empty for none.

    The service's (task's) own capacityProviderStrategy wins; a launchType opts out of the
    cluster's defaultCapacityProviderStrategy; otherwise that default applies.
    """
    if own:
        if launch_type:
            raise TranslationError(
                "Specifying both a launch type and capacity provider strategy is not supported. "
                f"Remove one and try again (launchType {launch_type!r})."
            )
        return validate_strategy(own)
    if launch_type:
        return []
    return validate_strategy(cluster_default or [], field=DEFAULT_STRATEGY_FIELD)
