"""ECS ``memberOf`` placement constraints as Kubernetes required node affinity.

A cluster query selects container instances; on Kubernetes the instances are nodes and their
attributes are node labels, so a query becomes ``nodeAffinity.requiredDuringScheduling...``.
Node selector terms are an OR of ANDs, hence the expression is rewritten in disjunctive normal
form: ``not`` is pushed down to the comparisons (De Morgan, operator negation), every ``or``
alternative becomes one ``nodeSelectorTerm`` and every ``and`` operand one ``matchExpression``.

Only subjects that describe the instance itself can become node labels; subjects that the ECS
scheduler evaluates at placement time (task groups, running task counts, agent state) and
regular expressions have no node-affinity equivalent and are rejected with a TranslationError.
See docs/placement.md for the user-facing tables.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from itertools import combinations, product
from typing import Any, Final

from ecs_facade.api import LABEL_PREFIX
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

CUSTOM_ATTRIBUTE_LABEL_PREFIX: Final = f"{LABEL_PREFIX}attribute."
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

_LABEL_NAME: Final = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
_LABEL_VALUE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
_INTEGER: Final = re.compile(r"[+-]?[0-9]+\Z")
_REGEX_METACHARACTERS: Final = re.compile(r"[\\^$*+?()\[\]{}|]")
"""``.`` is deliberately absent: ``=~ t2.small`` is meant literally in practice."""

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


def _literal(comparison: Comparison) -> _Literal:
    """One comparison as one matchExpression; raises TranslationError when there is none."""
    key = node_label_key(comparison.subject)
    operator = comparison.operator
    if operator in (Operator.MATCHES, Operator.NOT_MATCHES):
        pattern = comparison.values[0]
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


def _check(expr: Expr) -> None:
    """Translate every comparison once as written, so errors quote what the user wrote."""
    if isinstance(expr, Comparison):
        _literal(expr)
    elif isinstance(expr, Not):
        _check(expr.operand)
    else:
        for operand in expr.operands:
            _check(operand)


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
            union = (key_i, "In", tuple(dict.fromkeys(values_i + values_j)))
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


def member_of_node_affinity(expression: str) -> dict[str, Any]:
    """The ``nodeAffinity`` for one ``memberOf`` expression.

    Raises TranslationError (a ValueError) both for a syntax error and for valid ECS that node
    affinity cannot express, so callers handle one exception; the message quotes the expression.
    """
    try:
        expr = parse_expression(expression)
    except ValueError as error:
        raise TranslationError(str(error)) from None
    try:
        _check(expr)
        dnf = _dnf(expr)
        terms = [_unique([_literal(c) for c in term]) for term in dnf]
    except TranslationError as error:
        raise TranslationError(f"memberOf expression {expression!r}: {error}") from None
    return _affinity(_merge_in_alternatives(list(dict.fromkeys(terms))))


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
