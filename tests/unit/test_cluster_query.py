import re

import pytest

from ecs_facade.model.cluster_query import (
    OPERATOR_ALIASES,
    And,
    Comparison,
    Expr,
    Not,
    Operator,
    Or,
    parse_expression,
)

TYPE = "attribute:ecs.instance-type"
ZONE = "attribute:ecs.availability-zone"


def eq(subject: str, value: str) -> Comparison:
    return Comparison(subject, Operator.EQ, (value,))


A = eq("attribute:a", "1")
B = eq("attribute:b", "2")
C = eq("attribute:c", "3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the examples of the ECS developer guide (cluster query language)
        (f"{TYPE} == t2.small", eq(TYPE, "t2.small")),
        (f"{ZONE} in [us-east-1a, us-east-1b]", Comparison(ZONE, Operator.IN, ("us-east-1a", "us-east-1b"))),
        (f"{TYPE} =~ g2.*", Comparison(TYPE, Operator.MATCHES, ("g2.*",))),
        (
            "ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
            Comparison("ec2InstanceId", Operator.IN, ("i-abcd1234", "i-wxyx7890")),
        ),
        (
            f"{TYPE} =~ g2.* and {ZONE} != us-east-1d",
            And(
                (
                    Comparison(TYPE, Operator.MATCHES, ("g2.*",)),
                    Comparison(ZONE, Operator.NE, ("us-east-1d",)),
                )
            ),
        ),
        ("task:group == service:production", eq("task:group", "service:production")),
        ("not(task:group == database)", Not(eq("task:group", "database"))),
        ("runningTasksCount == 0", eq("runningTasksCount", "0")),
        ("agentConnected == false", eq("agentConnected", "false")),
        ("agentVersion >= 1.39.0", Comparison("agentVersion", Operator.GE, ("1.39.0",))),
        (
            "registeredAt < 2018-06-18T22:28:28+00:00",
            Comparison("registeredAt", Operator.LT, ("2018-06-18T22:28:28+00:00",)),
        ),
        # the examples of the brief
        ("not(attribute:ecs.os-type == windows)", Not(eq("attribute:ecs.os-type", "windows"))),
        (
            f"attribute:stack exists and ({TYPE} == m5.large or {TYPE} == m5.xlarge)",
            And(
                (
                    Comparison("attribute:stack", Operator.EXISTS),
                    Or((eq(TYPE, "m5.large"), eq(TYPE, "m5.xlarge"))),
                )
            ),
        ),
        (
            "attribute:ecs.ami-id == ami-0123456789abcdef0",
            eq("attribute:ecs.ami-id", "ami-0123456789abcdef0"),
        ),
        ("instanceId == i-1", eq("instanceId", "i-1")),
    ],
)
def test_parses_documented_examples(text: str, expected: Expr) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize(
    ("spelling", "operator"),
    [
        ("==", Operator.EQ),
        ("equals", Operator.EQ),
        ("EQUALS", Operator.EQ),
        ("!=", Operator.NE),
        ("not_equals", Operator.NE),
        (">", Operator.GT),
        ("greater_than", Operator.GT),
        (">=", Operator.GE),
        ("greater_than_equal", Operator.GE),
        ("<", Operator.LT),
        ("less_than", Operator.LT),
        ("<=", Operator.LE),
        ("less_than_equal", Operator.LE),
        ("=~", Operator.MATCHES),
        ("matches", Operator.MATCHES),
        ("!~", Operator.NOT_MATCHES),
        ("not_matches", Operator.NOT_MATCHES),
    ],
)
def test_single_value_operator_aliases_are_normalised(spelling: str, operator: Operator) -> None:
    assert parse_expression(f"attribute:x {spelling} v") == Comparison("attribute:x", operator, ("v",))


@pytest.mark.parametrize(
    ("spelling", "operator"),
    [("in", Operator.IN), ("IN", Operator.IN), ("!in", Operator.NOT_IN), ("not_in", Operator.NOT_IN)],
)
def test_list_operator_aliases_are_normalised(spelling: str, operator: Operator) -> None:
    assert parse_expression(f"attribute:x {spelling} [a, b]") == Comparison("attribute:x", operator, ("a", "b"))


@pytest.mark.parametrize(
    ("spelling", "operator"),
    [
        ("exists", Operator.EXISTS),
        ("!exists", Operator.NOT_EXISTS),
        ("not_exists", Operator.NOT_EXISTS),
        ("Exists", Operator.EXISTS),
    ],
)
def test_unary_operator_aliases_are_normalised(spelling: str, operator: Operator) -> None:
    assert parse_expression(f"attribute:x {spelling}") == Comparison("attribute:x", operator)


def test_every_alias_maps_to_a_canonical_operator() -> None:
    assert set(OPERATOR_ALIASES.values()) == set(Operator)
    assert all(OPERATOR_ALIASES[str(op)] is op for op in Operator)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attribute:a == 1 and attribute:b == 2 or attribute:c == 3", Or((And((A, B)), C))),
        ("attribute:a == 1 or attribute:b == 2 and attribute:c == 3", Or((A, And((B, C))))),
        ("attribute:a == 1 and attribute:b == 2 and attribute:c == 3", And((A, B, C))),
        ("attribute:a == 1 or attribute:b == 2 or attribute:c == 3", Or((A, B, C))),
        ("(attribute:a == 1 or attribute:b == 2) and attribute:c == 3", And((Or((A, B)), C))),
        ("not attribute:a == 1 and attribute:b == 2", And((Not(A), B))),
        ("not (attribute:a == 1 and attribute:b == 2)", Not(And((A, B)))),
        ("not not attribute:a == 1", Not(Not(A))),
        ("attribute:a == 1 && attribute:b == 2 || attribute:c == 3", Or((And((A, B)), C))),
        ("!attribute:a == 1 && !(attribute:b == 2)", And((Not(A), Not(B)))),
        ("!(attribute:a == 1 || attribute:b == 2)", Not(Or((A, B)))),
        ("attribute:a == 1 AND attribute:b == 2 OR NOT attribute:c == 3", Or((And((A, B)), Not(C)))),
        ("((attribute:a == 1))", A),
        ("attribute:a==1&&attribute:b==2", And((A, B))),
    ],
)
def test_boolean_structure_and_precedence(text: str, expected: Expr) -> None:
    assert parse_expression(text) == expected


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("attribute:x in [a, b, c]", ("a", "b", "c")),
        ("attribute:x in (a, b)", ("a", "b")),
        ("attribute:x in [a]", ("a",)),
        ("attribute:x in[a,b]", ("a", "b")),
        ("attribute:x in ['a b', \"c,d\"]", ("a b", "c,d")),
    ],
)
def test_argument_lists(text: str, values: tuple[str, ...]) -> None:
    parsed = parse_expression(text)
    assert isinstance(parsed, Comparison)
    assert parsed.values == values


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("t2.small", "t2.small"),
        ("us-east-1a", "us-east-1a"),
        ("g2.*", "g2.*"),
        ("service:production", "service:production"),
        ("a/b_c", "a/b_c"),
        ("'with space'", "with space"),
        ('"double"', "double"),
        ("''", ""),
        ("'it\\'s'", "it's"),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'t2\\.small'", "t2\\.small"),
        ("'a\\\\b'", "a\\b"),
        ("'and'", "and"),
        ("and", "and"),
        ("'(x|y)'", "(x|y)"),
    ],
)
def test_values(argument: str, value: str) -> None:
    assert parse_expression(f"attribute:x == {argument}") == eq("attribute:x", value)


def test_negated_word_operators_need_a_word_boundary() -> None:
    assert parse_expression("!instanceId == i-1") == Not(eq("instanceId", "i-1"))
    assert parse_expression("attribute:x !in[a]") == Comparison("attribute:x", Operator.NOT_IN, ("a",))
    assert parse_expression("attribute:x !exists") == Comparison("attribute:x", Operator.NOT_EXISTS)


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (eq(TYPE, "t2.small"), "attribute:ecs.instance-type == t2.small"),
        (Comparison(ZONE, Operator.IN, ("a", "b")), "attribute:ecs.availability-zone in [a, b]"),
        (Comparison("attribute:x", Operator.NOT_EXISTS), "attribute:x !exists"),
        (eq("attribute:x", "a b"), 'attribute:x == "a b"'),
        (eq("attribute:x", "it's"), 'attribute:x == "it\'s"'),
        (eq("attribute:x", 'say "hi"'), 'attribute:x == "say \\"hi\\""'),
        (eq("attribute:x", "t2\\.small"), 'attribute:x == "t2\\.small"'),
        (eq("attribute:x", "a\\"), 'attribute:x == "a\\\\"'),
        (eq("attribute:x", "or"), 'attribute:x == "or"'),
        (Or((And((A, B)), C)), "attribute:a == 1 and attribute:b == 2 or attribute:c == 3"),
        (And((Or((A, B)), C)), "(attribute:a == 1 or attribute:b == 2) and attribute:c == 3"),
        (Not(Or((A, B))), "not(attribute:a == 1 or attribute:b == 2)"),
        (Or((A, Or((B, C)))), "attribute:a == 1 or (attribute:b == 2 or attribute:c == 3)"),
    ],
)
def test_str_renders_parseable_text(expr: Expr, text: str) -> None:
    assert str(expr) == text
    assert parse_expression(text) == expr


def test_attribute_property() -> None:
    assert eq(TYPE, "x").attribute == "ecs.instance-type"
    assert eq("task:group", "x").attribute is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "attribute:x ==",
            "memberOf expression 'attribute:x ==': expected a value after '==' at position 14",
        ),
        ("", "memberOf expression '': the expression is empty"),
        ("   ", "the expression is empty"),
        (
            "attribute:x == a b",
            "expected 'and', 'or' or the end of the expression, found 'b' at position 17; "
            "a value containing spaces must be quoted",
        ),
        (
            "attribute:x == t2.(a|b)",
            "found '(' at position 18; values with characters other than letters, digits and "
            ". - _ * : / + must be quoted",
        ),
        ("attribute:x = 3", "unexpected character '=' at position 12 (did you mean '=='?)"),
        ("attribute:x == 1 & attribute:y == 2", "unexpected character '&' at position 17 (did you mean '&&'"),
        ("attribute:x == 1 | attribute:y == 2", "unexpected character '|' at position 17 (did you mean '||'"),
        ("attribute:x == a$b", "unexpected character '$' at position 16; values with characters"),
        (
            "attribute:x in [a, b",
            "expected ',' or ']' (closing the '[' opened at position 15) at position 20",
        ),
        (
            "attribute:x in (a, b]",
            "expected ',' or ')' (closing the '(' opened at position 15), found ']' at position 20",
        ),
        ("attribute:x in [a,]", "expected a value after ',', found ']' at position 18"),
        ("attribute:x in []", "expected a value after '[', found ']' at position 16"),
        ("attribute:x in a", "expected a list such as [a, b] after 'in', found 'a' at position 15"),
        ("attribute:x !in a", "after '!in', found 'a'"),
        ("attribute:x == [a, b]", "'==' takes a single value, not a list (use 'in' to test several values)"),
        (
            "(attribute:x exists",
            "expected 'and', 'or' or ')' (closing the '(' opened at position 0) at position 19",
        ),
        ("attribute:x exists)", "found ')' at position 18; this ')' has no matching '('"),
        (
            "attribute:x foo",
            "expected an operator (==, !=, >, >=, <, <=, in, !in, =~, !~, exists, !exists) after "
            "'attribute:x', found 'foo' at position 12",
        ),
        ("attribute:x", "after 'attribute:x' at position 11 (end of expression)"),
        ("attribute:x exists and", "expected a subject such as attribute:ecs.instance-type at position 22"),
        (
            "and attribute:x exists",
            "expected a subject such as attribute:ecs.instance-type, found 'and' at position 0",
        ),
        ("== 1", "found '==' at position 0"),
        ("'attribute:x' exists", "found \"'attribute:x'\" at position 0"),
        (
            "stack exists",
            "unknown subject 'stack' at position 0; expected attribute:<name> or one of agentConnected",
        ),
        ("attribute: exists", "unknown subject 'attribute:'"),
        ("task:grp == a", "unknown subject 'task:grp'"),
        ("attribute:x == 'open", "the quote ' at position 15 is never closed"),
        ("not", "expected a subject such as attribute:ecs.instance-type at position 3 (end of expression)"),
        ("attribute:x exists attribute:y exists", "found 'attribute:y' at position 19"),
    ],
)
def test_syntax_errors_name_the_position(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_expression(text)


def test_error_message_is_exact_and_quotes_the_expression() -> None:
    with pytest.raises(ValueError) as raised:
        parse_expression("attribute:x ==")
    assert str(raised.value) == (
        "memberOf expression 'attribute:x ==': expected a value after '==' at position 14 (end of expression)"
    )


def test_error_prefix_can_name_another_field() -> None:
    with pytest.raises(ValueError, match=re.escape("placementConstraints[1].expression 'x':")):
        parse_expression("x", what="placementConstraints[1].expression")


def test_ast_is_immutable_and_hashable() -> None:
    parsed = parse_expression("attribute:a == 1 and not attribute:b == 2")
    assert hash(parsed) == hash(parse_expression("attribute:a == 1 and not attribute:b == 2"))
    with pytest.raises(AttributeError):
        parsed.operands = ()  # type: ignore[misc,union-attr]


@pytest.mark.parametrize(
    "value", ["", "a b", "it's", 'say "hi"', "\\", "a\\", '\\"', "\\\\.", "t2\\.(a|b)", "and", "NOT", "x,y]"]
)
def test_str_round_trips_any_value(value: str) -> None:
    for expr in (eq("attribute:x", value), Comparison("attribute:x", Operator.IN, (value, "b"))):
        assert parse_expression(str(expr)) == expr
