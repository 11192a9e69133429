import copy
import re
from typing import Any

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.placement import (
    MAX_NODE_SELECTOR_TERMS,
    combine_node_affinities,
    member_of_node_affinity,
    node_label_key,
)

ZONE = "topology.kubernetes.io/zone"
TYPE = "node.kubernetes.io/instance-type"
OS = "kubernetes.io/os"
ARCH = "kubernetes.io/arch"
HOST = "kubernetes.io/hostname"


def req(key: str, operator: str, *values: str) -> dict[str, Any]:
    if values:
        return {"key": key, "operator": operator, "values": list(values)}
    return {"key": key, "operator": operator}


def affinity(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": term} for term in terms]
        }
    }


@pytest.mark.parametrize(
    ("subject", "key"),
    [
        ("attribute:ecs.availability-zone", ZONE),
        ("attribute:ecs.instance-type", TYPE),
        ("attribute:ecs.os-type", OS),
        ("attribute:ecs.cpu-architecture", ARCH),
        ("attribute:ecs.ami-id", "ecs.facade.dev/ami-id"),
        ("attribute:ecs.vpc-id", "ecs.facade.dev/vpc-id"),
        ("attribute:ecs.subnet-id", "ecs.facade.dev/subnet-id"),
        ("attribute:ecs.os-family", "ecs.facade.dev/os-family"),
        ("attribute:ecs.capability.docker-remote-api.1.30", "ecs.facade.dev/capability.docker-remote-api.1.30"),
        ("attribute:stack", "ecs.facade.dev/attribute.stack"),
        ("attribute:Team_Name.v2", "ecs.facade.dev/attribute.Team_Name.v2"),
        ("attribute:" + "a" * 53, "ecs.facade.dev/attribute." + "a" * 53),
        ("ec2InstanceId", HOST),
        ("instanceId", HOST),
    ],
)
def test_subject_to_node_label(subject: str, key: str) -> None:
    assert node_label_key(subject) == key
    assert member_of_node_affinity(f"{subject} exists") == affinity([req(key, "Exists")])


@pytest.mark.parametrize(
    ("expression", "requirement"),
    [
        # ECS developer guide examples
        ("attribute:ecs.instance-type == t2.small", req(TYPE, "In", "t2.small")),
        (
            "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
            req(ZONE, "In", "us-east-1a", "us-east-1b"),
        ),
        ("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", req(HOST, "In", "i-abcd1234", "i-wxyx7890")),
        ("attribute:ecs.availability-zone != us-east-1d", req(ZONE, "NotIn", "us-east-1d")),
        ("not(attribute:ecs.os-type == windows)", req(OS, "NotIn", "windows")),
        # operators
        ("attribute:stack equals prod", req("ecs.facade.dev/attribute.stack", "In", "prod")),
        ("attribute:stack not_equals prod", req("ecs.facade.dev/attribute.stack", "NotIn", "prod")),
        ("attribute:stack in (a, b)", req("ecs.facade.dev/attribute.stack", "In", "a", "b")),
        ("attribute:stack !in [a, b]", req("ecs.facade.dev/attribute.stack", "NotIn", "a", "b")),
        ("attribute:stack not_in [a]", req("ecs.facade.dev/attribute.stack", "NotIn", "a")),
        ("attribute:stack in [a, b, a]", req("ecs.facade.dev/attribute.stack", "In", "a", "b")),
        ("attribute:stack exists", req("ecs.facade.dev/attribute.stack", "Exists")),
        ("attribute:stack !exists", req("ecs.facade.dev/attribute.stack", "DoesNotExist")),
        ("attribute:stack not_exists", req("ecs.facade.dev/attribute.stack", "DoesNotExist")),
        ("attribute:cores > 4", req("ecs.facade.dev/attribute.cores", "Gt", "4")),
        ("attribute:cores greater_than 4", req("ecs.facade.dev/attribute.cores", "Gt", "4")),
        ("attribute:cores >= 4", req("ecs.facade.dev/attribute.cores", "Gt", "3")),
        ("attribute:cores < 4", req("ecs.facade.dev/attribute.cores", "Lt", "4")),
        ("attribute:cores <= 4", req("ecs.facade.dev/attribute.cores", "Lt", "5")),
        ("attribute:cores less_than_equal 0", req("ecs.facade.dev/attribute.cores", "Lt", "1")),
        ("attribute:cores >= 0", req("ecs.facade.dev/attribute.cores", "Gt", "-1")),
        ("attribute:cores > +007", req("ecs.facade.dev/attribute.cores", "Gt", "7")),
        ("attribute:cores == 4", req("ecs.facade.dev/attribute.cores", "In", "4")),
        # matches without regular-expression syntax is equality
        ("attribute:ecs.instance-type =~ t2.small", req(TYPE, "In", "t2.small")),
        ("attribute:ecs.instance-type matches t2.small", req(TYPE, "In", "t2.small")),
        ("attribute:ecs.instance-type !~ t2.small", req(TYPE, "NotIn", "t2.small")),
        ("attribute:ecs.instance-type not_matches t2.small", req(TYPE, "NotIn", "t2.small")),
        # values normalised to what Kubernetes nodes carry
        ("attribute:ecs.os-type == WINDOWS", req(OS, "In", "windows")),
        ("attribute:ecs.os-type in [Linux, windows]", req(OS, "In", "linux", "windows")),
        ("attribute:ecs.cpu-architecture == x86_64", req(ARCH, "In", "amd64")),
        ("attribute:ecs.cpu-architecture == X86_64", req(ARCH, "In", "amd64")),
        ("attribute:ecs.cpu-architecture == arm64", req(ARCH, "In", "arm64")),
        ("attribute:ecs.cpu-architecture == aarch64", req(ARCH, "In", "arm64")),
        ("attribute:ecs.cpu-architecture in [x86_64, amd64]", req(ARCH, "In", "amd64")),
        ("attribute:ecs.cpu-architecture != x86_64", req(ARCH, "NotIn", "amd64")),
        ("attribute:ecs.instance-type == T2.Small", req(TYPE, "In", "T2.Small")),
        ("attribute:stack == ''", req("ecs.facade.dev/attribute.stack", "In", "")),
        ("attribute:stack == 'a' ", req("ecs.facade.dev/attribute.stack", "In", "a")),
    ],
)
def test_single_comparison(expression: str, requirement: dict[str, Any]) -> None:
    assert member_of_node_affinity(expression) == affinity([requirement])


@pytest.mark.parametrize(
    ("expression", "terms"),
    [
        (
            "attribute:stack exists and (attribute:ecs.instance-type == m5.large "
            "or attribute:ecs.instance-type == m5.xlarge)",
            [[req("ecs.facade.dev/attribute.stack", "Exists"), req(TYPE, "In", "m5.large", "m5.xlarge")]],
        ),
        (
            "attribute:ecs.instance-type == t2.small and attribute:ecs.availability-zone != us-east-1d",
            [[req(TYPE, "In", "t2.small"), req(ZONE, "NotIn", "us-east-1d")]],
        ),
        (
            "attribute:ecs.instance-type == t2.small or attribute:ecs.availability-zone == us-east-1a",
            [[req(TYPE, "In", "t2.small")], [req(ZONE, "In", "us-east-1a")]],
        ),
        (
            "attribute:ecs.instance-type == t2.small || attribute:ecs.instance-type in [t3.small, t2.small]",
            [[req(TYPE, "In", "t2.small", "t3.small")]],
        ),
        # De Morgan
        (
            "not(attribute:a == 1 or attribute:b == 2)",
            [[req("ecs.facade.dev/attribute.a", "NotIn", "1"), req("ecs.facade.dev/attribute.b", "NotIn", "2")]],
        ),
        (
            "not(attribute:a == 1 and attribute:b exists)",
            [[req("ecs.facade.dev/attribute.a", "NotIn", "1")], [req("ecs.facade.dev/attribute.b", "DoesNotExist")]],
        ),
        (
            "!(attribute:a in [1, 2] && !(attribute:b !exists))",
            [
                [req("ecs.facade.dev/attribute.a", "NotIn", "1", "2")],
                [req("ecs.facade.dev/attribute.b", "DoesNotExist")],
            ],
        ),
        ("not not attribute:a == 1", [[req("ecs.facade.dev/attribute.a", "In", "1")]]),
        ("not(attribute:a !in [x])", [[req("ecs.facade.dev/attribute.a", "In", "x")]]),
        ("not(attribute:a =~ x)", [[req("ecs.facade.dev/attribute.a", "NotIn", "x")]]),
        ("not(attribute:a !~ x)", [[req("ecs.facade.dev/attribute.a", "In", "x")]]),
        # negated ordering also admits nodes without the label, as ECS does
        (
            "not(attribute:cores > 4)",
            [
                [req("ecs.facade.dev/attribute.cores", "Lt", "5")],
                [req("ecs.facade.dev/attribute.cores", "DoesNotExist")],
            ],
        ),
        (
            "not(attribute:cores >= 4)",
            [
                [req("ecs.facade.dev/attribute.cores", "Lt", "4")],
                [req("ecs.facade.dev/attribute.cores", "DoesNotExist")],
            ],
        ),
        (
            "not(attribute:cores < 4)",
            [
                [req("ecs.facade.dev/attribute.cores", "Gt", "3")],
                [req("ecs.facade.dev/attribute.cores", "DoesNotExist")],
            ],
        ),
        (
            "not(attribute:cores <= 4)",
            [
                [req("ecs.facade.dev/attribute.cores", "Gt", "4")],
                [req("ecs.facade.dev/attribute.cores", "DoesNotExist")],
            ],
        ),
        # distribution
        (
            "(attribute:a == 1 or attribute:b == 2) and (attribute:c == 3 or attribute:d == 4)",
            [
                [req("ecs.facade.dev/attribute.a", "In", "1"), req("ecs.facade.dev/attribute.c", "In", "3")],
                [req("ecs.facade.dev/attribute.a", "In", "1"), req("ecs.facade.dev/attribute.d", "In", "4")],
                [req("ecs.facade.dev/attribute.b", "In", "2"), req("ecs.facade.dev/attribute.c", "In", "3")],
                [req("ecs.facade.dev/attribute.b", "In", "2"), req("ecs.facade.dev/attribute.d", "In", "4")],
            ],
        ),
        # duplicates within a term and across terms collapse
        ("attribute:a exists and attribute:a exists", [[req("ecs.facade.dev/attribute.a", "Exists")]]),
        ("attribute:a exists or attribute:a exists", [[req("ecs.facade.dev/attribute.a", "Exists")]]),
        # In on different keys, or NotIn, are not merged
        (
            "attribute:a != 1 or attribute:a != 2",
            [[req("ecs.facade.dev/attribute.a", "NotIn", "1")], [req("ecs.facade.dev/attribute.a", "NotIn", "2")]],
        ),
    ],
)
def test_disjunctive_normal_form(expression: str, terms: list[list[dict[str, Any]]]) -> None:
    assert member_of_node_affinity(expression) == affinity(*terms)


def test_or_of_ands_keeps_one_term_per_alternative() -> None:
    expression = (
        "(attribute:ecs.os-type == linux and attribute:ecs.cpu-architecture == arm64) or "
        "(attribute:ecs.os-type == windows and attribute:ecs.cpu-architecture == x86_64)"
    )
    assert member_of_node_affinity(expression) == affinity(
        [req(OS, "In", "linux"), req(ARCH, "In", "arm64")],
        [req(OS, "In", "windows"), req(ARCH, "In", "amd64")],
    )


def test_dnf_at_the_limit_is_accepted() -> None:
    clauses = [f"(attribute:a{i} exists or attribute:b{i} exists)" for i in range(6)]
    terms = member_of_node_affinity(" and ".join(clauses))["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert len(terms) == MAX_NODE_SELECTOR_TERMS == 64
    assert all(len(term["matchExpressions"]) == 6 for term in terms)


@pytest.mark.parametrize(
    "expression",
    [
        " and ".join(f"(attribute:a{i} exists or attribute:b{i} exists)" for i in range(7)),
        " or ".join(f"attribute:a{i} exists" for i in range(65)),
        "not(" + " and ".join(f"(attribute:a{i} exists and attribute:b{i} exists)" for i in range(33)) + ")",
        " and ".join(f"(attribute:a{i} exists or attribute:b{i} exists)" for i in range(40)),
    ],
)
def test_dnf_above_the_limit_is_rejected(expression: str) -> None:
    with pytest.raises(TranslationError, match="expands to more than 64 node selector terms"):
        member_of_node_affinity(expression)


@pytest.mark.parametrize(
    "subject", ["task:group", "agentConnected", "agentVersion", "registeredAt", "runningTasksCount"]
)
def test_scheduler_subjects_are_rejected(subject: str) -> None:
    expression = f"attribute:ecs.instance-type == t2.small and {subject} == 1"
    message = (
        f"memberOf expression {expression!r}: {subject} is evaluated by the ECS scheduler at placement "
        "time and has no node-affinity equivalent"
    )
    with pytest.raises(TranslationError, match=re.escape(message)):
        member_of_node_affinity(expression)


@pytest.mark.parametrize(
    "expression", ["task:group == service:production", "not(task:group == database)", "runningTasksCount == 0"]
)
def test_documented_scheduler_examples_are_rejected(expression: str) -> None:
    with pytest.raises(TranslationError, match="is evaluated by the ECS scheduler at placement time"):
        member_of_node_affinity(expression)


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("attribute:ecs.instance-type =~ g2.*", "attribute:ecs.instance-type =~ g2.*"),
        ("attribute:ecs.instance-type matches 't2.(micro|small)'", 'attribute:ecs.instance-type =~ "t2.(micro|small)"'),
        ("not(attribute:ecs.instance-type !~ '^m5')", 'attribute:ecs.instance-type !~ "^m5"'),
        ("attribute:ecs.instance-type =~ 't2\\.small'", 'attribute:ecs.instance-type =~ "t2\\.small"'),
        ("attribute:stack =~ prod+", "attribute:stack =~ prod+"),
    ],
)
def test_regular_expressions_are_rejected(expression: str, shown: str) -> None:
    with pytest.raises(TranslationError) as raised:
        member_of_node_affinity(expression)
    message = str(raised.value)
    assert message.startswith(f"memberOf expression {expression!r}: '{shown}': the pattern ")
    assert "regular expressions cannot be expressed as Kubernetes node affinity" in message
    assert "list the values instead, e.g. attribute:" in message
    assert "in [value1, value2]" in message


def test_regular_expression_message_is_exact() -> None:
    expression = "attribute:ecs.instance-type =~ g2.*"
    with pytest.raises(TranslationError) as raised:
        member_of_node_affinity(expression)
    assert str(raised.value) == (
        "memberOf expression 'attribute:ecs.instance-type =~ g2.*': 'attribute:ecs.instance-type =~ g2.*': "
        "the pattern 'g2.*' is a regular expression, and regular expressions cannot be expressed as "
        "Kubernetes node affinity; list the values instead, e.g. attribute:ecs.instance-type in "
        "[value1, value2]"
    )


def test_negated_regular_expression_suggests_not_in() -> None:
    with pytest.raises(TranslationError, match=re.escape("e.g. attribute:stack !in [value1, value2]")):
        member_of_node_affinity("attribute:stack !~ 'a|b'")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "attribute:team/name exists",
            "attribute 'team/name' would be node label 'ecs.facade.dev/attribute.team/name', which is not a "
            "valid Kubernetes label key",
        ),
        ("attribute:" + "a" * 54 + " exists", "which is not a valid Kubernetes label key"),
        ("attribute:stack- exists", "attribute 'stack-' would be node label 'ecs.facade.dev/attribute.stack-'"),
        ("attribute:stack* exists", "attribute 'stack*'"),
        ("attribute:ecs. exists", "attribute 'ecs.' would be node label 'ecs.facade.dev/'"),
        ("attribute:ecs.a:b exists", "attribute 'ecs.a:b'"),
    ],
)
def test_attributes_that_cannot_be_label_keys_are_rejected(expression: str, message: str) -> None:
    with pytest.raises(TranslationError, match=re.escape(message)):
        member_of_node_affinity(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "attribute:stack == 'two words'",
            "'two words' in 'attribute:stack == \"two words\"' is not a valid Kubernetes label value",
        ),
        ("attribute:stack in [ok, -bad]", "'-bad' in 'attribute:stack in [ok, -bad]' is not a valid"),
        ("attribute:stack == " + "v" * 64, "is not a valid Kubernetes label value (at most 63 letters"),
        ("attribute:stack != a/b", "'a/b' in 'attribute:stack != a/b'"),
        ("attribute:stack =~ a:b", "'a:b' in 'attribute:stack =~ a:b'"),
    ],
)
def test_values_that_cannot_be_label_values_are_rejected(expression: str, message: str) -> None:
    with pytest.raises(TranslationError, match=re.escape(message)):
        member_of_node_affinity(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "attribute:cores > 1.5",
            "'attribute:cores > 1.5': node affinity can only compare integers with Gt/Lt, and '1.5' is not an integer",
        ),
        ("attribute:cores <= two", "and 'two' is not an integer"),
        ("not(attribute:cores >= 2x)", "'attribute:cores >= 2x'"),
    ],
)
def test_ordering_needs_integers(expression: str, message: str) -> None:
    with pytest.raises(TranslationError, match=re.escape(message)):
        member_of_node_affinity(expression)


def test_syntax_errors_are_translation_errors() -> None:
    with pytest.raises(
        TranslationError,
        match=re.escape("memberOf expression 'attribute:x ==': expected a value after '==' at position 14"),
    ):
        member_of_node_affinity("attribute:x ==")


def test_first_error_names_the_comparison_as_written() -> None:
    with pytest.raises(TranslationError, match=re.escape("'attribute:stack =~ a.*'")):
        member_of_node_affinity("not(attribute:stack =~ a.* or attribute:stack exists)")


# combine_node_affinities


def test_combine_nothing() -> None:
    assert combine_node_affinities([]) is None
    assert combine_node_affinities([{}]) is None


def test_combine_one_is_a_copy() -> None:
    one = member_of_node_affinity("attribute:ecs.instance-type == t2.small")
    combined = combine_node_affinities([one])
    assert combined == one
    assert combined is not one
    assert combined is not None
    combined["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].clear()
    assert one == affinity([req(TYPE, "In", "t2.small")])


def test_combine_ands_single_terms() -> None:
    combined = combine_node_affinities(
        [
            member_of_node_affinity("attribute:ecs.instance-type == t2.small"),
            member_of_node_affinity("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"),
        ]
    )
    assert combined == affinity([req(TYPE, "In", "t2.small"), req(ZONE, "In", "us-east-1a", "us-east-1b")])


def test_combine_takes_the_cross_product_of_terms() -> None:
    first = member_of_node_affinity("attribute:a exists or attribute:b exists")
    second = member_of_node_affinity("attribute:c exists or attribute:d exists")
    third = member_of_node_affinity("attribute:e exists")
    a, b, c, d, e = (req(f"ecs.facade.dev/attribute.{n}", "Exists") for n in "abcde")
    assert combine_node_affinities([first, second, third]) == affinity([a, c, e], [a, d, e], [b, c, e], [b, d, e])


def test_combine_drops_repeated_requirements_and_terms() -> None:
    first = member_of_node_affinity("attribute:a exists")
    assert combine_node_affinities([first, first]) == first
    both = member_of_node_affinity("attribute:a exists or attribute:b exists")
    a, b = (req(f"ecs.facade.dev/attribute.{n}", "Exists") for n in "ab")
    assert combine_node_affinities([both, both]) == affinity([a], [a, b], [b, a], [b])


def test_combine_does_not_modify_its_inputs() -> None:
    first = member_of_node_affinity("attribute:a exists or attribute:b exists")
    second = member_of_node_affinity("attribute:c exists")
    before = copy.deepcopy([first, second])
    combine_node_affinities([first, second])
    assert [first, second] == before


def test_combine_keeps_match_fields_and_preferences() -> None:
    preference = {"weight": 10, "preference": {"matchExpressions": [req(ZONE, "In", "z1")]}}
    first = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [req("metadata.name", "In", "node-1")]}]
        },
        "preferredDuringSchedulingIgnoredDuringExecution": [preference],
    }
    second = member_of_node_affinity("attribute:ecs.instance-type == t2.small")
    assert combine_node_affinities([first, second]) == {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [req(TYPE, "In", "t2.small")],
                    "matchFields": [req("metadata.name", "In", "node-1")],
                }
            ]
        },
        "preferredDuringSchedulingIgnoredDuringExecution": [preference],
    }
    only_preference = {"preferredDuringSchedulingIgnoredDuringExecution": [preference]}
    assert combine_node_affinities([only_preference]) == only_preference


def test_combine_is_bounded() -> None:
    eight = member_of_node_affinity(" or ".join(f"attribute:a{i} exists" for i in range(8)))
    nine = member_of_node_affinity(" or ".join(f"attribute:b{i} exists" for i in range(9)))
    at_limit = combine_node_affinities([eight, eight])
    assert at_limit is not None
    terms = at_limit["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert len(terms) == 64
    assert terms[0] == {"matchExpressions": [req("ecs.facade.dev/attribute.a0", "Exists")]}
    with pytest.raises(
        TranslationError,
        match=re.escape("the memberOf placement constraints together expand to more than 64 node selector terms"),
    ):
        combine_node_affinities([eight, nine])
