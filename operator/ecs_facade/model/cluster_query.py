"""The ECS cluster query language: a tokenizer and recursive-descent parser into a small AST.

ECS uses these expressions in ``memberOf`` placement constraints (task definitions, services,
RunTask) to pick container instances.  The parser only checks syntax and subjects; what an
expression *means* on Kubernetes is decided by ``ecs_facade.translate.placement``, so that
every consumer shares one notion of what is a valid expression.

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``)::

    expression := conjunction (("or" | "||") conjunction)*
    conjunction := unary (("and" | "&&") unary)*
    unary      := ("not" | "!") unary | "(" expression ")" | comparison
    comparison := subject operator [argument]
    argument   := value | "[" value ("," value)* "]" | "(" value ("," value)* ")"
    value      := bare-word | 'single-quoted' | "double-quoted"

Positions in error messages are 0-based character offsets into the expression.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final


class Operator(enum.StrEnum):
    """Canonical comparison operators; every ECS alias (``equals``, ``not_in``, ...) maps to one."""

    EQ = "=="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    IN = "in"
    NOT_IN = "!in"
    MATCHES = "=~"
    NOT_MATCHES = "!~"
    EXISTS = "exists"
    NOT_EXISTS = "!exists"


OPERATOR_ALIASES: Final[dict[str, Operator]] = {
    "==": Operator.EQ,
    "equals": Operator.EQ,
    "!=": Operator.NE,
    "not_equals": Operator.NE,
    ">": Operator.GT,
    "greater_than": Operator.GT,
    ">=": Operator.GE,
    "greater_than_equal": Operator.GE,
    "<": Operator.LT,
    "less_than": Operator.LT,
    "<=": Operator.LE,
    "less_than_equal": Operator.LE,
    "in": Operator.IN,
    "!in": Operator.NOT_IN,
    "not_in": Operator.NOT_IN,
    "=~": Operator.MATCHES,
    "matches": Operator.MATCHES,
    "!~": Operator.NOT_MATCHES,
    "not_matches": Operator.NOT_MATCHES,
    "exists": Operator.EXISTS,
    "!exists": Operator.NOT_EXISTS,
    "not_exists": Operator.NOT_EXISTS,
}
"""Every spelling ECS accepts for an operator (named forms are matched case-insensitively)."""

LIST_OPERATORS: Final = frozenset({Operator.IN, Operator.NOT_IN})
"""Operators whose argument is a list."""

UNARY_OPERATORS: Final = frozenset({Operator.EXISTS, Operator.NOT_EXISTS})
"""Operators that take no argument."""

ATTRIBUTE_PREFIX: Final = "attribute:"
TASK_GROUP: Final = "task:group"
FIELD_SUBJECTS: Final = frozenset(
    {"agentConnected", "agentVersion", "ec2InstanceId", "instanceId", "registeredAt", "runningTasksCount"}
)
"""Subjects other than ``attribute:<name>`` and ``task:group``; spelled exactly as ECS does."""


@dataclass(frozen=True)
class Comparison:
    """``subject operator [argument]``; ``values`` is empty for ``exists``/``!exists``."""

    subject: str
    operator: Operator
    values: tuple[str, ...] = ()

    @property
    def attribute(self) -> str | None:
        """The attribute name of an ``attribute:<name>`` subject, else None."""
        if self.subject.startswith(ATTRIBUTE_PREFIX):
            return self.subject[len(ATTRIBUTE_PREFIX) :]
        return None

    def __str__(self) -> str:
        if self.operator in UNARY_OPERATORS:
            return f"{self.subject} {self.operator}"
        if self.operator in LIST_OPERATORS:
            return f"{self.subject} {self.operator} [{', '.join(_quote(v) for v in self.values)}]"
        return f"{self.subject} {self.operator} {_quote(self.values[0])}"


@dataclass(frozen=True)
class And:
    """All operands hold; a chain ``a and b and c`` is one node with three operands."""

    operands: tuple[Expr, ...]

    def __str__(self) -> str:
        return " and ".join(_render(o, parent=And) for o in self.operands)


@dataclass(frozen=True)
class Or:
    """At least one operand holds."""

    operands: tuple[Expr, ...]

    def __str__(self) -> str:
        return " or ".join(_render(o, parent=Or) for o in self.operands)


@dataclass(frozen=True)
class Not:
    operand: Expr

    def __str__(self) -> str:
        return f"not({self.operand})"


Expr = Comparison | And | Or | Not


def _render(expr: Expr, *, parent: type[And] | type[Or]) -> str:
    """Parenthesise only where precedence needs it, so messages echo readable expressions."""
    if isinstance(expr, Or) and parent is And:
        return f"({expr})"
    if isinstance(expr, And | Or) and isinstance(expr, parent):
        return f"({expr})"
    return str(expr)


_WORD_CHARS: Final = r"A-Za-z0-9._\-*:/+"
_WORD: Final = re.compile(rf"[{_WORD_CHARS}]+")
_BARE_VALUE: Final = re.compile(rf"[{_WORD_CHARS}]+\Z")
_SYMBOL_OPERATORS: Final = ("==", "!=", ">=", "<=", "=~", "!~", ">", "<")
_NEGATED_WORD_OPERATORS: Final = ("in", "exists")
_PUNCTUATION: Final = {"(": "lparen", ")": "rparen", "[": "lbracket", "]": "rbracket", ",": "comma"}
_CLOSING: Final = {"(": ")", "[": "]"}
_QUOTE_HINT: Final = "; values with characters other than letters, digits and . - _ * : / + must be quoted"


def _quote(value: str) -> str:
    """Double quotes, so a comparison reads well inside messages that single-quote it."""
    if _BARE_VALUE.match(value) and value.lower() not in ("and", "or", "not"):
        return value
    out: list[str] = []
    for i, ch in enumerate(value):
        if ch == "\\" and (i + 1 == len(value) or value[i + 1] in '"\\'):
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class _Token:
    kind: str
    """word, string, op, and, or, bang, lparen, rparen, lbracket, rbracket, comma, end."""
    text: str
    """As written, for messages."""
    value: str
    """Word or unquoted string contents; the operator symbol for ``op``."""
    pos: int

    @property
    def end(self) -> int:
        return self.pos + len(self.text)


class _Failure(Exception):
    """Raised inside the parser, turned into a ValueError carrying the whole expression."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _where(token: _Token) -> str:
    if token.kind == "end":
        return f" at position {token.pos} (end of expression)"
    return f", found {token.text!r} at position {token.pos}"


def _tokenize(text: str) -> Iterator[_Token]:
    """Lazy, so that a bad character is reported only if the parser gets that far."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _PUNCTUATION:
            yield _Token(_PUNCTUATION[ch], ch, ch, i)
            i += 1
            continue
        if ch in "'\"":
            string = _read_string(text, i)
            yield string
            i = string.end
            continue
        if text.startswith("&&", i):
            yield _Token("and", "&&", "and", i)
            i += 2
            continue
        if text.startswith("||", i):
            yield _Token("or", "||", "or", i)
            i += 2
            continue
        symbol = next((s for s in _SYMBOL_OPERATORS if text.startswith(s, i)), None)
        if symbol is not None:
            yield _Token("op", symbol, symbol, i)
            i += len(symbol)
            continue
        if ch == "!":
            word = _WORD.match(text, i + 1)
            if word is not None and word.group().lower() in _NEGATED_WORD_OPERATORS:
                written = "!" + word.group()
                yield _Token("op", written, "!" + word.group().lower(), i)
                i += len(written)
            else:
                yield _Token("bang", "!", "!", i)
                i += 1
            continue
        word = _WORD.match(text, i)
        if word is not None:
            yield _Token("word", word.group(), word.group(), i)
            i = word.end()
            continue
        hint = {
            "=": " (did you mean '=='?)",
            "&": " (did you mean '&&' or 'and'?)",
            "|": " (did you mean '||' or 'or'?)",
        }.get(ch, _QUOTE_HINT)
        raise _Failure(f"unexpected character {ch!r} at position {i}{hint}")
    yield _Token("end", "", "", len(text))


def _read_string(text: str, start: int) -> _Token:
    r"""A quoted value; ``\'`` (or ``\"``) escapes the quote, other backslashes are kept for regexes."""
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            chars.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return _Token("string", text[start : i + 1], "".join(chars), start)
        chars.append(ch)
        i += 1
    raise _Failure(f"the quote {quote} at position {start} is never closed")


class _Parser:
    def __init__(self, tokens: Iterator[_Token]) -> None:
        self.pending = tokens
        self.tokens: list[_Token] = []
        self.index = 0
        self.value_end = -1
        """Where the last value ended: a token glued to it hints at a value needing quotes."""

    @property
    def current(self) -> _Token:
        while self.index >= len(self.tokens):
            self.tokens.append(next(self.pending))
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        if token.kind != "end":
            self.index += 1
        return token

    def at_keyword(self, kind: str) -> bool:
        """``and``/``or``/``not`` as words or symbols; ``bang`` stands for ``not``."""
        token = self.current
        if token.kind == kind or (kind == "not" and token.kind == "bang"):
            return True
        return token.kind == "word" and token.value.lower() == kind

    def parse(self) -> Expr:
        if self.current.kind == "end":
            raise _Failure("the expression is empty")
        expr = self.expression()
        if self.current.kind != "end":
            token = self.current
            hint = ""
            if token.kind == "rparen":
                hint = "; this ')' has no matching '('"
            elif token.pos == self.value_end:
                hint = _QUOTE_HINT
            elif token.kind in ("word", "string") and self.tokens[self.index - 1].end == self.value_end:
                hint = "; a value containing spaces must be quoted"
            raise _Failure(f"expected 'and', 'or' or the end of the expression{_where(token)}{hint}")
        return expr

    def expression(self) -> Expr:
        operands = [self.conjunction()]
        while self.at_keyword("or"):
            self.advance()
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self) -> Expr:
        operands = [self.unary()]
        while self.at_keyword("and"):
            self.advance()
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self) -> Expr:
        if self.at_keyword("not"):
            self.advance()
            return Not(self.unary())
        if self.current.kind == "lparen":
            opening = self.advance()
            inner = self.expression()
            if self.current.kind != "rparen":
                raise _Failure(
                    f"expected 'and', 'or' or ')' (closing the '(' opened at position {opening.pos})"
                    f"{_where(self.current)}"
                )
            self.advance()
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        token = self.current
        if token.kind != "word" or token.value.lower() in ("and", "or"):
            raise _Failure(f"expected a subject such as attribute:ecs.instance-type{_where(token)}")
        subject = self.advance().value
        _check_subject(subject, token)
        operator = self.operator(subject)
        if operator in UNARY_OPERATORS:
            return Comparison(subject, operator)
        if operator in LIST_OPERATORS:
            return Comparison(subject, operator, self.value_list(operator))
        if self.current.kind in ("lbracket", "lparen"):
            raise _Failure(
                f"'{operator}' takes a single value, not a list (use 'in' to test several values){_where(self.current)}"
            )
        return Comparison(subject, operator, (self.value(operator),))

    def operator(self, subject: str) -> Operator:
        token = self.current
        if token.kind == "op":
            self.advance()
            return OPERATOR_ALIASES[token.value]
        if token.kind == "word" and token.value.lower() in OPERATOR_ALIASES:
            self.advance()
            return OPERATOR_ALIASES[token.value.lower()]
        raise _Failure(
            f"expected an operator (==, !=, >, >=, <, <=, in, !in, =~, !~, exists, !exists) "
            f"after {subject!r}{_where(token)}"
        )

    def value(self, after: str) -> str:
        token = self.current
        if token.kind in ("word", "string"):
            self.advance()
            self.value_end = token.end
            return token.value
        raise _Failure(f"expected a value after '{after}'{_where(token)}")

    def value_list(self, operator: Operator) -> tuple[str, ...]:
        opening = self.current
        if opening.kind not in ("lbracket", "lparen"):
            raise _Failure(f"expected a list such as [a, b] after '{operator}'{_where(opening)}")
        self.advance()
        closing = _CLOSING[opening.text]
        values = [self.value(opening.text)]
        while self.current.kind == "comma":
            separator = self.advance()
            values.append(self.value(separator.text))
        if self.current.text != closing:
            raise _Failure(
                f"expected ',' or {closing!r} (closing the {opening.text!r} opened at position {opening.pos})"
                f"{_where(self.current)}"
            )
        self.advance()
        return tuple(values)


def _check_subject(subject: str, token: _Token) -> None:
    if subject in FIELD_SUBJECTS or subject == TASK_GROUP:
        return
    if subject.startswith(ATTRIBUTE_PREFIX) and len(subject) > len(ATTRIBUTE_PREFIX):
        return
    known = ", ".join(sorted(FIELD_SUBJECTS | {TASK_GROUP}))
    raise _Failure(f"unknown subject {subject!r} at position {token.pos}; expected attribute:<name> or one of {known}")


def parse_expression(text: str, *, what: str = "memberOf expression") -> Expr:
    """Parse a cluster query expression; operator aliases come out in their canonical form.

    ``what`` names the expression in error messages (for example "memberOf expression"), so a
    user reading a status condition knows which field to fix.
    """
    try:
        return _Parser(_tokenize(text)).parse()
    except _Failure as failure:
        raise ValueError(f"{what} {text!r}: {failure.message}") from None
    except RecursionError:  # the parser descends once per '(' or 'not': client input must not crash it
        shown = text if len(text) <= 64 else text[:61] + "..."
        raise ValueError(f"{what} {shown!r}: nested too deeply; expected fewer parentheses and 'not's") from None
