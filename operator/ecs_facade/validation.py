"""The API server's checks of ecs-facade objects, made offline: the CRDs' own schemas and CEL rules.

`ecs-facade render` and `convert` run these before anything else, so that they refuse what
`kubectl apply` refuses, with the API server's words, and accept what it accepts. There is no
second copy of the rules to drift: the schemas are read from the CRDs that hack/gen_crds.py
writes (``ecs_facade/crds/``, the same text as ``crds/``), and the ``x-kubernetes-validations``
rules are compiled and evaluated by a CEL interpreter (cel-python), as the API server does:

1. unknown fields are refused, as the API server's strict field validation (kubectl's
   default) refuses them; nothing else is checked then, as with the API server;
2. nulls are dropped and ``default`` values filled in, as the API server does before it validates;
3. the OpenAPI schema: types, ``required``, ``enum``, minimum/maximum, lengths, ``pattern``, item
   counts, and list-type ``set``/``map`` uniqueness;
4. unless step 3 found a type, required, enum or size error (the API server then skips them too),
   every CEL rule on every value present; rules reading ``oldSelf`` (transition rules) only when an
   old object is given, as on an update.

Problems read ``spec.<path>: <what the API server says>``, with the container's name instead of its
index in ``containerDefinitions`` (``spec.containerDefinitions[web].image: Required value``).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import celpy
import yaml
from celpy import celtypes
from celpy.adapter import json_to_cel

from ecs_facade.api import KIND_CLUSTER, KIND_SERVICE, KIND_TASK, KIND_TASK_DEFINITION

CRD_FILES = {
    KIND_TASK_DEFINITION: "ecs.facade.dev_ecstaskdefinitions.yaml",
    KIND_SERVICE: "ecs.facade.dev_ecsservices.yaml",
    KIND_TASK: "ecs.facade.dev_ecstasks.yaml",
    KIND_CLUSTER: "ecs.facade.dev_ecsclusters.yaml",
}
# Schema keywords this validator knows. A keyword it does not know would be a check it silently
# skips, so loading a CRD that has one fails (and a unit test says which).
KEYWORDS = frozenset(
    {
        "type",
        "description",
        "properties",
        "required",
        "items",
        "additionalProperties",
        "enum",
        "default",
        "format",  # only int32/int64/date-time here, which the API server does not check on input
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "maxProperties",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    }
)
NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; correct the existing errors to"
    " complete validation"
)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_OLD_SELF = re.compile(r"\boldSelf\b")
_FIELD_PATH = re.compile(r"\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)|\['(?P<key>[^']*)'\]")

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Problem:
    """One refusal: where (``spec.containerDefinitions[web].image``) and what the API server says."""

    path: str
    message: str
    blocking: bool = False  # a type, required, enum or size error: the API server then runs no CEL rule

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Rule:
    """One ``x-kubernetes-validations`` entry, compiled, and where in the schema it is."""

    location: str  # ".spec.containerDefinitions[]": the schema node, with [] for array items
    rule: str
    message: str
    message_expression: str
    field_path: str
    transition: bool  # reads oldSelf: evaluated on updates only
    program: celpy.Runner = field(compare=False, repr=False)
    message_program: celpy.Runner | None = field(compare=False, repr=False)


@dataclass
class Validation:
    problems: list[Problem] = field(default_factory=list)
    evaluated: list[Rule] = field(default_factory=list)  # every rule evaluation, failed or not
    messages_evaluated: list[Rule] = field(default_factory=list)  # every messageExpression evaluation

    @property
    def ok(self) -> bool:
        return not self.problems


class SchemaError(Exception):
    """The CRD itself has something this validator cannot check (an unknown keyword, a rule that
    does not compile): the CRD or the validator must change, never the check be skipped."""


class CrdValidator:
    """The spec schema of one CRD, with its CEL rules compiled once."""

    def __init__(self, crd: Mapping[str, Any]) -> None:
        (version,) = crd["spec"]["versions"]
        self.kind: str = crd["spec"]["names"]["kind"]
        self.schema: Schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        self.rules: list[Rule] = []
        self._rules: dict[int, list[Rule]] = {}
        environment = celpy.Environment()
        for location, node in _schema_nodes(self.schema, ".spec"):
            unknown = sorted(set(node) - KEYWORDS)
            if unknown:
                raise SchemaError(f"{self.kind} {location}: schema keywords not checked offline: {unknown}")
            compiled = [
                self._compile(environment, location, entry) for entry in node.get("x-kubernetes-validations", [])
            ]
            if compiled:
                self._rules[id(node)] = compiled
                self.rules.extend(compiled)

    def _compile(self, environment: celpy.Environment, location: str, entry: Mapping[str, Any]) -> Rule:
        def program(text: str) -> celpy.Runner:
            try:
                return environment.program(environment.compile(text))
            except Exception as error:  # cel-python raises its parser's errors
                raise SchemaError(f"{self.kind} {location}: CEL {text!r} does not compile: {error}") from error

        expression = entry.get("messageExpression", "")
        return Rule(
            location=location,
            rule=entry["rule"],
            message=entry.get("message", ""),
            message_expression=expression,
            field_path=entry.get("fieldPath", ""),
            transition=bool(_OLD_SELF.search(entry["rule"])),
            program=program(entry["rule"]),
            message_program=program(expression) if expression else None,
        )

    def validate(self, spec: Any, old: Any = None) -> Validation:
        """The problems the API server finds in ``spec`` (on create; on update from ``old``)."""
        result = Validation()
        unknown = list(_unknown_fields(self.schema, spec, "spec"))
        if unknown:
            result.problems = [Problem(path, "unknown field", blocking=True) for path in unknown]
            return result
        spec = _defaulted(self.schema, _without_nulls(self.schema, spec))
        if old is not None:
            old = _defaulted(self.schema, _without_nulls(self.schema, old))
        result.problems.extend(_schema_problems(self.schema, spec, "spec"))
        if any(p.blocking for p in result.problems):
            result.problems.append(Problem("spec", NOT_CHECKED))
            return result
        self._evaluate(self.schema, spec, old, "spec", result)
        return result

    def _evaluate(self, schema: Schema, value: Any, old: Any, path: str, result: Validation) -> None:
        """The CEL rules of ``schema`` on ``value``, then those below it: only on values present."""
        if value is None:
            return
        rules = self._rules.get(id(schema), [])
        if rules:
            activation = {"self": _to_cel(schema, value)}
            if old is not None:
                activation["oldSelf"] = _to_cel(schema, old)
            for rule in rules:
                if rule.transition and old is None:
                    continue  # a transition rule: the API server checks it on updates only
                result.evaluated.append(rule)
                problem = self._run(rule, activation, value, path, result)
                if problem is not None:
                    result.problems.append(problem)
        if isinstance(value, Mapping):
            for key, item in value.items():
                child = _child(schema, key)
                if child is not None:
                    old_item = old.get(key) if isinstance(old, Mapping) else None
                    self._evaluate(child, item, old_item, f"{path}.{key}", result)
        elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
            items = schema["items"]
            olds = _correlated_items(schema, value, old)
            for index, item in enumerate(value):
                self._evaluate(items, item, olds[index], _item_path(path, index, item), result)

    def _run(self, rule: Rule, activation: dict[str, Any], value: Any, path: str, result: Validation) -> Problem | None:
        shown = _type_name(value)
        outcome: Any
        try:
            outcome = rule.program.evaluate(activation)
        except Exception as error:  # no such key, no such overload, ...: the API server reports them
            outcome = error
        if isinstance(outcome, Exception):
            return Problem(path, f"Invalid value: {shown}: {_cel_error(outcome)} evaluating rule: {_rule_text(rule)}")
        if isinstance(outcome, celtypes.BoolType | bool) and bool(outcome):
            return None
        where = path + _field_path(rule.field_path)
        detail = rule.message.strip() or f"failed rule: {rule.rule.strip()}"
        if rule.message_program is not None:
            result.messages_evaluated.append(rule)
            try:
                message = rule.message_program.evaluate(activation)
            except Exception:
                message = None  # the API server falls back to message, too
            if isinstance(message, str) and message.strip() and "\n" not in message:
                detail = message.strip()
        return Problem(where, f"Invalid value: {shown}: {detail}" if shown else detail)


@functools.cache
def validator(kind: str) -> CrdValidator:
    """The validator of ``kind`` (ECSTaskDefinition, ...), from the CRD shipped in this package."""
    text = resources.files("ecs_facade").joinpath("crds", CRD_FILES[kind]).read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return CrdValidator(yaml.load(text, Loader=loader))  # a safe loader, libyaml if there


def validate(kind: str, spec: Any, old: Any = None) -> Validation:
    """What the API server says to ``spec`` of a ``kind`` object (``old``: the object before an update)."""
    return validator(kind).validate(spec, old)


# ------------------------------------------------------------------------ the schema


def _schema_nodes(schema: Schema, location: str) -> Iterator[tuple[str, Schema]]:
    """Every schema node below ``schema`` (itself first), with a location like ``.spec.volumes[]``."""
    yield location, schema
    for name, child in (schema.get("properties") or {}).items():
        yield from _schema_nodes(child, f"{location}.{name}")
    if isinstance(schema.get("items"), Mapping):
        yield from _schema_nodes(schema["items"], f"{location}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from _schema_nodes(schema["additionalProperties"], f"{location}{{}}")


def _preserves(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def _child(schema: Schema, key: str) -> Schema | None:
    """The schema of field ``key`` of an object: a property, or the additionalProperties of a map."""
    properties = schema.get("properties") or {}
    if key in properties:
        return properties[key]  # type: ignore[no-any-return]
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, Mapping) else None


def _item_path(path: str, index: int, item: Any) -> str:
    """``containerDefinitions[web]``: a container is named by its name, as ECS names it."""
    if path.endswith(".containerDefinitions") and isinstance(item, Mapping):
        name = item.get("name")
        if isinstance(name, str) and name:
            return f"{path}[{name}]"
    return f"{path}[{index}]"


def _unknown_fields(schema: Schema, value: Any, path: str) -> Iterator[str]:
    """Fields the schema does not have: strict field validation refuses them (they would be pruned)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = _child(schema, key)
            if child is not None:
                yield from _unknown_fields(child, item, f"{path}.{key}")
            elif not _preserves(schema) and schema.get("type") == "object":
                yield f"{path}.{key}"
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _unknown_fields(schema["items"], item, _item_path(path, index, item))


def _without_nulls(schema: Schema, value: Any) -> Any:
    """Object fields that are null are dropped (the API server prunes non-nullable nulls)."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            child = _child(schema, key)
            if item is None and child is not None and not child.get("nullable") and "default" not in child:
                continue
            out[key] = item if child is None else _without_nulls(child, item)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_without_nulls(schema["items"], item) for item in value]
    return value


def _defaulted(schema: Schema, value: Any) -> Any:
    """Absent (or null) fields with a ``default`` get it, as the API server fills them in."""
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        out = {key: _defaulted(properties[key], item) if key in properties else item for key, item in value.items()}
        for key, child in properties.items():
            if "default" in child and out.get(key) is None:
                out[key] = _defaulted(child, json.loads(json.dumps(child["default"])))
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_defaulted(schema["items"], item) for item in value]
    return value


def _type_of(value: Any) -> str:
    """The JSON type name of a value as read from JSON or YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str | datetime.date):  # YAML timestamps are strings in JSON
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _type_name(value: Any) -> str:
    """How the API server shows a bad value: scalars as they are, objects and arrays by type."""
    kind = _type_of(value)
    if kind in ("object", "array"):
        return ""
    return _shown(value)


def _shown(value: Any) -> str:
    if isinstance(value, datetime.date):
        value = value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value) if isinstance(value, str) else str(value)


def _type_matches(expected: str, value: Any) -> bool:
    actual = _type_of(value)
    return actual == expected or (expected == "number" and actual == "integer")


def _schema_problems(schema: Schema, value: Any, path: str) -> Iterator[Problem]:
    """The OpenAPI checks of one value and of everything in it, as the API server makes them."""
    if schema.get("x-kubernetes-int-or-string"):
        if _type_of(value) not in ("integer", "string"):
            shown = json.dumps(_type_of(value))
            yield Problem(path, f"Invalid value: {shown}: must be of type integer or string: {shown}", blocking=True)
            return
    elif "type" in schema and not _type_matches(schema["type"], value):
        shown = json.dumps(_type_of(value))
        yield Problem(path, f"Invalid value: {shown}: must be of type {schema['type']}: {shown}", blocking=True)
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(json.dumps(v) for v in schema["enum"])
        yield Problem(path, f"Unsupported value: {_shown(value)}: supported values: {supported}", blocking=True)
    yield from _value_problems(schema, value, path)
    if isinstance(value, Mapping):
        yield from _object_problems(schema, value, path)
    elif isinstance(value, list):
        yield from _array_problems(schema, value, path)


def _value_problems(schema: Schema, value: Any, path: str) -> Iterator[Problem]:
    """minimum/maximum on numbers, lengths and pattern on strings."""
    invalid = f"Invalid value: {_type_name(value)}"
    if _type_of(value) in ("integer", "number"):
        if "minimum" in schema:
            low = schema["minimum"]
            if schema.get("exclusiveMinimum") and value <= low:
                yield Problem(path, f"{invalid}: should be greater than {_shown(low)}")
            elif value < low:
                yield Problem(path, f"{invalid}: should be greater than or equal to {_shown(low)}")
        if "maximum" in schema:
            high = schema["maximum"]
            if schema.get("exclusiveMaximum") and value >= high:
                yield Problem(path, f"{invalid}: should be less than {_shown(high)}")
            elif value > high:
                yield Problem(path, f"{invalid}: should be less than or equal to {_shown(high)}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield Problem(path, f"Too long: may not be more than {schema['maxLength']} bytes", blocking=True)
        if "minLength" in schema and len(value) < schema["minLength"]:
            yield Problem(path, f"{invalid}: should be at least {schema['minLength']} chars long")
        if "pattern" in schema and not _matches(schema["pattern"], value):
            yield Problem(path, f"{invalid}: should match '{schema['pattern']}'")


@functools.cache
def _compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)  # \d, \s and \w as RE2 (the API server's regexp) has them


def _matches(pattern: str, value: str) -> bool:
    return _compiled_pattern(pattern).search(value) is not None


def _object_problems(schema: Schema, value: Mapping[str, Any], path: str) -> Iterator[Problem]:
    for name in schema.get("required", []):
        if name not in value:
            yield Problem(f"{path}.{name}", "Required value", blocking=True)
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        count, most = len(value), schema["maxProperties"]
        yield Problem(path, f"Too many: {count}: must have at most {most} items", blocking=True)
    for key, item in value.items():
        child = _child(schema, key)
        if child is not None:
            yield from _schema_problems(child, item, f"{path}.{key}")


def _array_problems(schema: Schema, value: list[Any], path: str) -> Iterator[Problem]:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        count, most = len(value), schema["maxItems"]
        yield Problem(path, f"Too many: {count}: must have at most {most} items", blocking=True)
    if "minItems" in schema and len(value) < schema["minItems"]:
        yield Problem(path, f"Invalid value: {len(value)}: should have at least {schema['minItems']} items")
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            yield from _schema_problems(items, item, _item_path(path, index, item))
    list_type = schema.get("x-kubernetes-list-type")
    if list_type in ("set", "map"):
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen: list[Any] = []
        for index, item in enumerate(value):
            identity = {k: item.get(k) for k in keys} if list_type == "map" and isinstance(item, Mapping) else item
            if identity in seen:
                yield Problem(_item_path(path, index, item), f"Duplicate value: {json.dumps(identity, default=str)}")
            else:
                seen.append(identity)


def _correlated_items(schema: Schema, value: list[Any], old: Any) -> list[Any]:
    """The old value of each item, where the API server can tell it (list-type map: by its keys)."""
    if not isinstance(old, list) or schema.get("x-kubernetes-list-type") != "map":
        return [None] * len(value)
    keys = schema.get("x-kubernetes-list-map-keys", [])

    def key(item: Any) -> Any:
        return json.dumps([item.get(k) for k in keys], default=str) if isinstance(item, Mapping) else None

    by_key = {key(item): item for item in old}
    return [by_key.get(key(item)) for item in value]


# ------------------------------------------------------------------------------ CEL


def _to_cel(schema: Schema, value: Any) -> Any:
    """A JSON value as CEL sees it under ``schema``: a ``number`` field is a double even when written 1."""
    if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
        return json_to_cel(json.loads(json.dumps(value, default=str)))
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
            # beyond CEL's int (int64): the API server decodes such a JSON number as a double
            return celtypes.DoubleType(float(value) if abs(value) < 2**1023 else (math.inf if value > 0 else -math.inf))
        if schema.get("type") == "number":
            return celtypes.DoubleType(float(value))
        return celtypes.IntType(int(value)) if float(value).is_integer() else celtypes.DoubleType(value)
    if isinstance(value, datetime.date):
        return celtypes.StringType(value.isoformat())
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, Mapping):
        return celtypes.MapType(
            {celtypes.StringType(key): _to_cel(_child(schema, key) or {}, item) for key, item in value.items()}
        )
    if isinstance(value, Sequence):
        items = schema.get("items")
        return celtypes.ListType([_to_cel(items if isinstance(items, Mapping) else {}, item) for item in value])
    return json_to_cel(value)


def _field_path(field_path: str) -> str:
    """A rule's ``fieldPath`` (``.alarm.comparisonOperator``, ``.labels['a']``) added to the path shown."""
    parts = []
    for match in _FIELD_PATH.finditer(field_path):
        parts.append(f".{match.group('name')}" if match.group("name") else f"[{match.group('key')}]")
    return "".join(parts)


def _cel_error(error: Exception) -> str:
    return error.args[0] if error.args and isinstance(error.args[0], str) else str(error)


def _rule_text(rule: Rule) -> str:
    return rule.message.strip() or rule.rule.strip()
