"""ECS placement as Kubernetes scheduling: memberOf as node affinity; service constraints and strategies.

A cluster query selects container instances; on Kubernetes the instances are nodes and their
attributes are node labels, so a query becomes ``nodeAffinity.requiredDuringScheduling...``.
Node selector terms are an OR of ANDs, hence the expression is rewritten in disjunctive normal
form: ``not`` is pushed down to the comparisons (De Morgan, operator negation), every ``or``
alternative becomes one ``nodeSelectorTerm`` and every ``and`` operand one ``matchExpression``.

Only subjects that describe the instance itself can become node labels; subjects that the ECS
scheduler evaluates at placement time (task groups, running task counts, agent state) have no
node-affinity equivalent and are rejected with a TranslationError.  Node affinity has no regular
expressions either: given the label values present on the cluster's nodes (``node_values``),
``=~``/``!~`` are expanded to ``In``/``NotIn`` over the values that match, a snapshot of the
nodes at translation time; without them a real regular expression is rejected.

Services (and standalone tasks) add constraints and strategies on top (service_placement).
ECS filters container instances with the constraints, then ranks them by the strategies in
order; the Kubernetes scheduler also filters (required node affinity, required pod
anti-affinity, DoNotSchedule topology spread) and then scores (ScheduleAnyway topology spread,
the NodeResourcesFit strategy of a scheduler profile), so each maps onto one of those stages.

See docs/placement.md for the user-facing tables.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from itertools import combinations, product
from typing import Any, Final

from ecs_facade.api import CUSTOM_ATTRIBUTE_LABEL_PREFIX, LABEL_PREFIX
from ecs_facade.model.cluster_query import (
    ATTRIBUTE_PREFIX,
    And,
    Comparison,
    Expr,
    Not,
    Operator,
    parse_expression,
)
from ecs_facade.translate import TranslationError

REQUIRED: Final = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED: Final = "preferredDuringSchedulingIgnoredDuringExecution"

MAX_NODE_SELECTOR_TERMS: Final = 64
"""Upper bound on OR-alternatives; DNF can grow exponentially and the scheduler evaluates each term."""

ATTRIBUTE_LABELS: Final[dict[str, str]] = {
    "ecs.availability-zone": "topology.kubernetes.io/zone",
    "ecs.instance-type": "node.kubernetes.io/instance-type",
    "ecs.os-type": "kubernetes.io/os",
    "ecs.cpu-architecture": "kubernetes.io/arch",
    "ecs.ami-id": f"{LABEL_PREFIX}ami-id",
}
"""ECS built-in attributes that have a well-known Kubernetes node label.

Any other ``ecs.<name>`` attribute maps to ``ecs.facade.dev/<name>`` and a custom attribute
``<name>`` to ``ecs.facade.dev/attribute.<name>``: nodes that should match must carry those
labels (set by whoever provisions the nodes).
"""

INSTANCE_ID_LABEL: Final = "kubernetes.io/hostname"
INSTANCE_ID_SUBJECTS: Final = frozenset({"ec2InstanceId", "instanceId"})

SCHEDULER_SUBJECTS: Final = frozenset(
    {"task:group", "agentConnected", "agentVersion", "registeredAt", "runningTasksCount"}
)
"""Subjects about the ECS scheduler's view of an instance at placement time, not about the node."""

_ARCHITECTURES: Final[dict[str, str]] = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "arm64": "arm64",
    "aarch64": "arm64",
}


def _os_value(value: str) -> str:
    """ECS spells ``ecs.os-type`` LINUX/WINDOWS in places; ``kubernetes.io/os`` is lower-case."""
    return value.lower()


def _arch_value(value: str) -> str:
    """ECS reports ``x86_64``; Kubernetes (GOARCH) says ``amd64``."""
    lowered = value.lower()
    return _ARCHITECTURES.get(lowered, lowered)


_VALUE_NORMALISERS: Final[dict[str, Callable[[str], str]]] = {
    "kubernetes.io/os": _os_value,
    "kubernetes.io/arch": _arch_value,
}


def _spellings(key: str, value: str) -> tuple[str, ...]:
    """A node label value and how ECS spells it, so ``=~ LINUX`` or ``=~ x86.*`` match as on ECS."""
    if key == "kubernetes.io/os":
        return (value, value.upper())
    if key == "kubernetes.io/arch":
        return (value, *_ECS_ARCHITECTURES.get(value, ()))
    return (value,)


_LABEL_NAME: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
_LABEL_VALUE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
_INTEGER: Final = re.compile(r"[+-]?[0-9]+\Z")
_REGEX_METACHARACTERS: Final = re.compile(r"[\\^$*+?()\[\]{}|]")
"""``.`` is deliberately absent: ``=~ t2.small`` is meant literally in practice."""

NO_MATCH_VALUE: Final = "no-match.ecs-facade.invalid"
"""A label value no node carries (``.invalid`` is reserved, RFC 2606).

A regular expression that matches no value on any node becomes ``In [NO_MATCH_VALUE]`` (no node
matches, as on ECS) and its negation ``NotIn [NO_MATCH_VALUE]`` (every node matches): node
affinity rejects ``In``/``NotIn`` with an empty list, and an empty term would match nothing.
"""

NodeValues = Mapping[str, Collection[str]]
"""Node label key -> the values that label has on the cluster's nodes (see node_label_values)."""

_ECS_ARCHITECTURES: Final[dict[str, tuple[str, ...]]] = {"amd64": ("x86_64",), "arm64": ("aarch64",)}

_NEGATION: Final[dict[Operator, Operator]] = {
    Operator.EQ: Operator.NE,
    Operator.NE: Operator.EQ,
    Operator.IN: Operator.NOT_IN,
    Operator.NOT_IN: Operator.IN,
    Operator.MATCHES: Operator.NOT_MATCHES,
    Operator.NOT_MATCHES: Operator.MATCHES,
    Operator.EXISTS: Operator.NOT_EXISTS,
    Operator.NOT_EXISTS: Operator.EXISTS,
    Operator.GT: Operator.LE,
    Operator.GE: Operator.LT,
    Operator.LT: Operator.GE,
    Operator.LE: Operator.GT,
}
_ORDERING: Final = frozenset({Operator.GT, Operator.GE, Operator.LT, Operator.LE})

_Literal = tuple[str, str, tuple[str, ...]]
"""One matchExpression as (key, Kubernetes operator, values): hashable, for de-duplication."""
_Term = tuple[Comparison, ...]


def node_label_key(subject: str) -> str:
    """The node label standing for a cluster query subject (also the topologyKey for spreads)."""
    if subject in INSTANCE_ID_SUBJECTS:
        return INSTANCE_ID_LABEL
    if subject in SCHEDULER_SUBJECTS:
        raise TranslationError(
            f"{subject} is evaluated by the ECS scheduler at placement time and has no node-affinity equivalent"
        )
    if not subject.startswith(ATTRIBUTE_PREFIX) or subject == ATTRIBUTE_PREFIX:
        raise TranslationError(f"{subject!r} is not a cluster query subject that names a node label")
    attribute = subject[len(ATTRIBUTE_PREFIX) :]
    if attribute in ATTRIBUTE_LABELS:
        return ATTRIBUTE_LABELS[attribute]
    if attribute.startswith("ecs."):
        prefix, name = LABEL_PREFIX, attribute[len("ecs.") :]
    else:
        prefix, name = CUSTOM_ATTRIBUTE_LABEL_PREFIX, attribute
    key = prefix + name
    label_name = key.split("/", 1)[1]
    if len(label_name) > 63 or not _LABEL_NAME.match(label_name) or "/" in name:
        raise TranslationError(
            f"attribute {attribute!r} would be node label {key!r}, which is not a valid Kubernetes "
            "label key (the part after the '/' must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit)"
        )
    return key


def attribute_label(name: str, value: str) -> tuple[str, str]:
    """The node label (key, value) holding a custom ECS attribute (PutAttributes)."""
    if name.startswith("ecs."):
        raise TranslationError(f"attribute {name!r}: names starting with 'ecs.' are ECS built-in attributes")
    key = node_label_key(f"{ATTRIBUTE_PREFIX}{name}")
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise TranslationError(
            f"attribute {name!r}: value {value!r} cannot be a node label value (at most 63 letters, digits,"
            " '-', '_' or '.', starting and ending with a letter or digit)"
        )
    return key, value


def attribute_labels(attributes: Iterable[tuple[str, str]], delete: bool = False) -> dict[str, str | None]:
    """The node label merge patch for PutAttributes (or, ``delete``, DeleteAttributes) of
    custom attributes (name, value): one translation for the CLI and the ECS API. A deleted
    attribute is its label set to None (removed by the merge patch)."""
    labels: dict[str, str | None] = {}
    for name, value in attributes:
        key, label_value = attribute_label(name, value)
        labels[key] = None if delete else label_value
    return labels


def comparison_requirement(comparison: Comparison, node_values: NodeValues | None = None) -> dict[str, Any]:
    """One cluster query comparison as the node selector requirement placement makes of it
    (``{key, operator, values}``). ListContainerInstances' ``filter`` matches each node's
    labels against these, so a filter lists exactly the nodes a ``memberOf`` of the same
    expression places tasks on. Raises TranslationError as member_of_node_affinity does."""
    key, operator, values = _literal(comparison, node_values)
    return {"key": key, "operator": operator, "values": list(values)} if values else {"key": key, "operator": operator}


def _label_values(key: str, comparison: Comparison) -> list[str]:
    normalise = _VALUE_NORMALISERS.get(key, str)
    values: list[str] = []
    for raw in comparison.values:
        value = normalise(raw)
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            raise TranslationError(
                f"{raw!r} in '{comparison}' is not a valid Kubernetes label value (at most 63 letters, "
                "digits, '-', '_' or '.', starting and ending with a letter or digit), so no node "
                "label can hold it"
            )
        if value not in values:
            values.append(value)
    return values


def _integer(comparison: Comparison) -> int:
    value = comparison.values[0]
    if not _INTEGER.match(value):
        raise TranslationError(
            f"'{comparison}': node affinity can only compare integers with Gt/Lt, and {value!r} is not an integer"
        )
    return int(value)


def _matching_values(key: str, comparison: Comparison, node_values: NodeValues) -> tuple[str, ...]:
    """The values of ``key`` on the nodes that the pattern matches as a whole (Java ``String.matches``).

    Sorted, so that the pod template (and hence the Deployment) only changes when the nodes do.
    """
    pattern = comparison.values[0]
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        hint = "; '*' repeats what comes before it, write '.*' for any characters" if "*" in pattern else ""
        raise TranslationError(
            f"'{comparison}': the pattern {pattern!r} is not a valid regular expression ({error}){hint}"
        ) from None
    matching = sorted(
        value
        for value in set(node_values.get(key, ()))
        if len(value) <= 63
        and _LABEL_VALUE.match(value)
        and any(compiled.fullmatch(spelling) for spelling in _spellings(key, value))
    )
    return tuple(matching) or (NO_MATCH_VALUE,)


def _literal(comparison: Comparison, node_values: NodeValues | None = None) -> _Literal:
    """One comparison as one matchExpression; raises TranslationError when there is none."""
    key = node_label_key(comparison.subject)
    operator = comparison.operator
    if operator in (Operator.MATCHES, Operator.NOT_MATCHES):
        pattern = comparison.values[0]
        if _REGEX_METACHARACTERS.search(pattern) and node_values is not None:
            values = _matching_values(key, comparison, node_values)
            return (key, "In" if operator is Operator.MATCHES else "NotIn", values)
        if _REGEX_METACHARACTERS.search(pattern):
            raise TranslationError(
                f"'{comparison}': the pattern {pattern!r} is a regular expression, and regular "
                "expressions cannot be expressed as Kubernetes node affinity; list the values "
                f"instead, e.g. {comparison.subject} {'in' if operator is Operator.MATCHES else '!in'} "
                "[value1, value2]"
            )
        operator = Operator.EQ if operator is Operator.MATCHES else Operator.NE
    if operator in (Operator.EQ, Operator.IN):
        return (key, "In", tuple(_label_values(key, comparison)))
    if operator in (Operator.NE, Operator.NOT_IN):
        return (key, "NotIn", tuple(_label_values(key, comparison)))
    if operator is Operator.EXISTS:
        return (key, "Exists", ())
    if operator is Operator.NOT_EXISTS:
        return (key, "DoesNotExist", ())
    number = _integer(comparison)
    if operator is Operator.GT:
        return (key, "Gt", (str(number),))
    if operator is Operator.GE:
        return (key, "Gt", (str(number - 1),))
    if operator is Operator.LT:
        return (key, "Lt", (str(number),))
    return (key, "Lt", (str(number + 1),))


def _check(expr: Expr, node_values: NodeValues | None) -> None:
    """Translate every comparison once as written, so errors quote what the user wrote."""
    if isinstance(expr, Comparison):
        _literal(expr, node_values)
    elif isinstance(expr, Not):
        _check(expr.operand, node_values)
    else:
        for operand in expr.operands:
            _check(operand, node_values)


def _negate(comparison: Comparison) -> list[Comparison]:
    """The alternatives of ``not comparison``.

    ``not (x > 5)`` also holds on nodes without the label, which Gt/Lt never match, so ordering
    comparisons negate to ``x <= 5 or x !exists``.  In/NotIn need no such care: NotIn and
    DoesNotExist already match nodes without the label.
    """
    negated = Comparison(comparison.subject, _NEGATION[comparison.operator], comparison.values)
    if comparison.operator in _ORDERING:
        return [negated, Comparison(comparison.subject, Operator.NOT_EXISTS)]
    return [negated]


def _too_many() -> TranslationError:
    return TranslationError(
        f"it expands to more than {MAX_NODE_SELECTOR_TERMS} node selector terms when rewritten as an "
        "OR of ANDs; simplify it, for example by testing several values with 'in [..]'"
    )


def _dnf(expr: Expr, negated: bool = False) -> list[_Term]:
    """Disjunctive normal form: a list of alternatives, each a tuple of comparisons to AND."""
    if isinstance(expr, Not):
        return _dnf(expr.operand, not negated)
    if isinstance(expr, Comparison):
        return [(c,) for c in _negate(expr)] if negated else [(expr,)]
    parts = [_dnf(operand, negated) for operand in expr.operands]
    conjunctive = isinstance(expr, And) != negated
    if not conjunctive:
        alternatives = [term for part in parts for term in part]
        if len(alternatives) > MAX_NODE_SELECTOR_TERMS:
            raise _too_many()
        return alternatives
    terms: list[_Term] = [()]
    for part in parts:
        if len(terms) * len(part) > MAX_NODE_SELECTOR_TERMS:
            raise _too_many()
        terms = [left + right for left, right in product(terms, part)]
    return terms


def _unique(items: Sequence[_Literal]) -> tuple[_Literal, ...]:
    return tuple(dict.fromkeys(items))


def _merge_in_alternatives(terms: list[tuple[_Literal, ...]]) -> list[tuple[_Literal, ...]]:
    """``x == a or x == b`` gives two terms differing in one In on the same key: make it one In."""
    merged = True
    while merged:
        merged = False
        for i, j in combinations(range(len(terms)), 2):
            only_i = [lit for lit in terms[i] if lit not in terms[j]]
            only_j = [lit for lit in terms[j] if lit not in terms[i]]
            if len(only_i) != 1 or len(only_j) != 1 or len(terms[i]) != len(terms[j]):
                continue
            (key_i, op_i, values_i), (key_j, op_j, values_j) = only_i[0], only_j[0]
            if key_i != key_j or op_i != "In" or op_j != "In":
                continue
            values = tuple(dict.fromkeys(values_i + values_j))
            if len(values) > 1:
                values = tuple(value for value in values if value != NO_MATCH_VALUE)
            union = (key_i, "In", values)
            terms[i] = tuple(union if lit == only_i[0] else lit for lit in terms[i])
            del terms[j]
            merged = True
            break
    return terms


def _affinity(terms: Sequence[Sequence[_Literal]]) -> dict[str, Any]:
    return {
        REQUIRED: {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {"key": key, "operator": operator, "values": list(values)}
                        if values
                        else {"key": key, "operator": operator}
                        for key, operator, values in term
                    ]
                }
                for term in terms
            ]
        }
    }


def member_of_node_affinity(expression: str, node_values: NodeValues | None = None) -> dict[str, Any]:
    """The ``nodeAffinity`` for one ``memberOf`` expression.

    ``node_values`` (node label key -> values on the cluster's nodes, see node_label_values)
    lets ``=~``/``!~`` with a regular expression expand to ``In``/``NotIn`` over the values that
    match; without it such an expression is an error.  Raises TranslationError (a ValueError)
    both for a syntax error and for valid ECS that node affinity cannot express, so callers
    handle one exception; the message quotes the expression.
    """
    try:
        expr = parse_expression(expression)
    except ValueError as error:
        raise TranslationError(str(error)) from None
    try:
        _check(expr, node_values)
        dnf = _dnf(expr)
        terms = [_unique([_literal(c, node_values) for c in term]) for term in dnf]
    except TranslationError as error:
        raise TranslationError(f"memberOf expression {expression!r}: {error}") from None
    return _affinity(_merge_in_alternatives(list(dict.fromkeys(terms))))


def node_label_values(nodes: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """The ``node_values`` for member_of_node_affinity, from Node objects (as dicts) as listed."""
    values: dict[str, set[str]] = {}
    for node in nodes:
        for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
            values.setdefault(key, set()).add(value)
    return values


def _and_terms(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    term: dict[str, Any] = {}
    for field in ("matchExpressions", "matchFields"):
        requirements = list(left.get(field) or [])
        requirements += [r for r in right.get(field) or [] if r not in requirements]
        if requirements:
            term[field] = requirements
    return term


def combine_node_affinities(affinities: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """AND several node affinities (one per ``memberOf`` constraint); None when there are none.

    Required terms are ORed within one affinity, so ANDing affinities takes the cross product of
    their terms; preferences are weights that add up, so they are simply concatenated.
    """
    term_lists = [
        a[REQUIRED]["nodeSelectorTerms"] for a in affinities if (a.get(REQUIRED) or {}).get("nodeSelectorTerms")
    ]
    preferred = [p for a in affinities for p in a.get(PREFERRED) or []]
    combined: dict[str, Any] = {}
    if term_lists:
        terms: list[dict[str, Any]] = [{}]
        for term_list in term_lists:
            if len(terms) * len(term_list) > MAX_NODE_SELECTOR_TERMS:
                raise TranslationError(
                    f"the memberOf placement constraints together expand to more than "
                    f"{MAX_NODE_SELECTOR_TERMS} node selector terms; simplify them, for example by "
                    "testing several values with 'in [..]'"
                )
            terms = [_and_terms(left, right) for left, right in product(terms, term_list)]
        unique: list[dict[str, Any]] = []
        for term in terms:
            if term not in unique:
                unique.append(term)
        combined[REQUIRED] = {"nodeSelectorTerms": unique}
    if preferred:
        combined[PREFERRED] = preferred
    return copy.deepcopy(combined) if combined else None


# --- services (and standalone tasks): placementConstraints and placementStrategy ---

BINPACK_SCHEDULER: Final = "ecs-facade-binpack"
"""kube-scheduler profile scoring NodeResourcesFit with MostAllocated (hack/scheduler/ecs-facade-binpack.yaml)."""

DEFAULT_SCHEDULER: Final = "default-scheduler"

ROLLOUT_LABEL_KEY: Final = "pod-template-hash"
"""Set by the Deployment controller per ReplicaSet: spreading by it balances each revision on its own."""

CONSTRAINT_TYPES: Final = ("distinctInstance", "memberOf")
STRATEGY_TYPES: Final = ("binpack", "random", "spread")
BINPACK_FIELDS: Final = ("cpu", "memory")
HOST_FIELDS: Final = frozenset({"instanceId", "host"})


def _describe(kind: str, index: int, item: Mapping[str, Any]) -> str:
    """``placementStrategy[1] {"type": "spread", "field": "x"}``: which entry of the ECS input is at fault."""
    shown = json.dumps({key: value for key, value in item.items() if value is not None}, default=str)
    return f"{kind}[{index}] {shown}"


def _constraint_affinity(
    index: int, constraint: Mapping[str, Any], node_values: NodeValues | None
) -> dict[str, Any] | None:
    """memberOf -> node affinity; distinctInstance -> None (handled by the caller)."""
    what = _describe("placementConstraints", index, constraint)
    kind = constraint.get("type")
    expression = constraint.get("expression")
    if kind == "distinctInstance":
        if expression:
            raise TranslationError(f"{what}: distinctInstance takes no expression")
        return None
    if kind == "memberOf":
        if not isinstance(expression, str) or not expression.strip():
            raise TranslationError(f"{what}: memberOf needs an expression")
        try:
            return member_of_node_affinity(expression, node_values)
        except TranslationError as error:
            raise TranslationError(f"placementConstraints[{index}]: {error}") from None
    raise TranslationError(f"{what}: unknown constraint type {kind!r}; expected one of {', '.join(CONSTRAINT_TYPES)}")


def _spread_key(what: str, field: Any) -> str:
    """The topologyKey (node label) an ECS spread field stands for."""
    if field in HOST_FIELDS:
        return INSTANCE_ID_LABEL
    if isinstance(field, str) and field.startswith(ATTRIBUTE_PREFIX):
        try:
            return node_label_key(field)
        except TranslationError as error:
            raise TranslationError(f"{what}: {error}") from None
    raise TranslationError(f"{what}: spread needs a field instanceId, host or attribute:<name>, not {field!r}")


def _spread(key: str, task_labels: Mapping[str, str], hard: bool) -> dict[str, Any]:
    """One topology spread constraint; ``hard`` only for the strategy that ECS applies first."""
    return {
        "maxSkew": 1,
        "topologyKey": key,
        "whenUnsatisfiable": "DoNotSchedule" if hard else "ScheduleAnyway",
        "labelSelector": {"matchLabels": dict(task_labels)},
        "matchLabelKeys": [ROLLOUT_LABEL_KEY],
        # only nodes the pod may run on count as domains: a zone made of tainted or
        # non-matching nodes has no tasks and would otherwise hold the minimum at zero
        "nodeAffinityPolicy": "Honor",
        "nodeTaintsPolicy": "Honor",
    }


def service_placement(
    constraints: Sequence[Mapping[str, Any]] | None,
    strategies: Sequence[Mapping[str, Any]] | None,
    task_labels: Mapping[str, str],
    node_values: NodeValues | None = None,
) -> dict[str, Any]:
    """The pod-spec fragment (``affinity``, ``topologySpreadConstraints``, ``schedulerName``) for ECS placement.

    ``constraints``/``strategies`` are ``placementConstraints``/``placementStrategy`` as in ECS
    JSON (``null`` counts as absent); ``task_labels`` selects this service's own pods, for
    distinctInstance and spread; ``node_values`` expands regular expressions in memberOf (see
    member_of_node_affinity).  Keys are left out when there is nothing to say, so ``{}`` means
    "default scheduler, no constraint".  Raises TranslationError naming the offending entry.
    """
    if not task_labels:
        raise ValueError("task_labels must select the service's pods; an empty selector would match every pod")
    fragment: dict[str, Any] = {}
    affinity: dict[str, Any] = {}
    node_affinities: list[dict[str, Any]] = []
    distinct = False
    for index, constraint in enumerate(constraints or []):
        node_affinity = _constraint_affinity(index, constraint, node_values)
        if node_affinity is None:
            distinct = True
        else:
            node_affinities.append(node_affinity)
    try:
        combined = combine_node_affinities(node_affinities)
    except TranslationError as error:
        raise TranslationError(f"placementConstraints: {error}") from None
    if combined:
        affinity["nodeAffinity"] = combined
    if distinct:
        affinity["podAntiAffinity"] = {
            REQUIRED: [{"labelSelector": {"matchLabels": dict(task_labels)}, "topologyKey": INSTANCE_ID_LABEL}]
        }
    if affinity:
        fragment["affinity"] = affinity

    spreads: list[dict[str, Any]] = []
    binpack = False
    for index, strategy in enumerate(strategies or []):
        what = _describe("placementStrategy", index, strategy)
        kind = strategy.get("type")
        field = strategy.get("field")
        if kind == "spread":
            key = _spread_key(what, field)
            # ECS ranks by the strategies in order, so only a spread that no earlier strategy
            # outranks is a filter; the others are scores.  A later spread over the same key
            # adds nothing (and the API rejects a duplicate key + whenUnsatisfiable).
            if all(spread["topologyKey"] != key for spread in spreads):
                spreads.append(_spread(key, task_labels, hard=not spreads and not binpack))
        elif kind == "binpack":
            if field not in BINPACK_FIELDS:
                raise TranslationError(f"{what}: binpack needs the field cpu or memory, not {field!r}")
            binpack = True
        elif kind == "random":
            # the default scheduler's scores; ECS ignores the field of a random strategy
            continue
        else:
            expected = ", ".join(STRATEGY_TYPES)
            raise TranslationError(f"{what}: unknown strategy type {kind!r}; expected one of {expected}")
    if spreads:
        fragment["topologySpreadConstraints"] = spreads
    if binpack:
        fragment["schedulerName"] = BINPACK_SCHEDULER
    return fragment


def _and_pod_affinity(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Pod (anti-)affinity terms are ANDed as list entries and preferences add up: concatenate."""
    combined: dict[str, Any] = {}
    for field in (REQUIRED, PREFERRED):
        terms = list((left or {}).get(field) or [])
        terms += [term for term in (right or {}).get(field) or [] if term not in terms]
        if terms:
            combined[field] = terms
    return combined or None


def and_affinities(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Two pod ``affinity`` objects that must both hold, as one (None when both are empty).

    Used to merge the task definition's memberOf node affinity with the service's placement.
    """
    left, right = left or {}, right or {}
    combined: dict[str, Any] = {}
    node = combine_node_affinities([a["nodeAffinity"] for a in (left, right) if a.get("nodeAffinity")])
    if node:
        combined["nodeAffinity"] = node
    for field in ("podAffinity", "podAntiAffinity"):
        pod = _and_pod_affinity(left.get(field), right.get(field))
        if pod:
            combined[field] = pod
    return copy.deepcopy(combined) if combined else None


def apply_placement(pod_spec: Mapping[str, Any], fragment: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``pod_spec`` with a placement fragment merged in (constraints ANDed,
    spreads and tolerations added)."""
    merged = copy.deepcopy(dict(pod_spec))
    affinity = and_affinities(pod_spec.get("affinity"), fragment.get("affinity"))
    if affinity:
        merged["affinity"] = affinity
    for key in ("topologySpreadConstraints", "tolerations"):
        entries = list(merged.get(key) or [])
        for entry in fragment.get(key) or []:
            if entry not in entries:
                entries.append(copy.deepcopy(entry))
        if entries:
            merged[key] = entries
    scheduler = fragment.get("schedulerName")
    if scheduler:
        current = pod_spec.get("schedulerName")
        if current and current not in (scheduler, DEFAULT_SCHEDULER):
            raise TranslationError(
                f"the pod already uses scheduler {current!r} and placement needs {scheduler!r}; "
                "a pod has only one scheduler"
            )
        merged["schedulerName"] = scheduler
    return merged
