"""Request bodies checked against the service model's input shape, as ECS's front end does.

Types, required members, enums, length and value ranges; JSON null is an absent member (AWS
treats it so) and unknown members are ignored (AWS JSON services accept and drop them, which
is what lets an older server take a newer SDK's request). Problems name the member path:
`containerDefinitions[0].memory: expected an integer, got a string`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_PROBLEMS = 10  # enough to fix a request; a hostile one cannot make the answer huge
_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _got(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 64 else text[:61] + "..."


class _Checker:
    def __init__(self, shapes: Mapping[str, Mapping[str, Any]]) -> None:
        self.shapes = shapes
        self.problems: list[str] = []

    def problem(self, path: str, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{path or 'the request'}: {text}")

    def check(self, shape_name: str, value: Any, path: str) -> None:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if shape.get("document"):
            return
        method = getattr(self, f"check_{kind}", None)
        if method is None:  # blob: base64 text on the wire
            if not isinstance(value, str):
                self.problem(path, f"expected a base64 string, got {_got(value)}")
            return
        method(shape, value, path)

    def check_structure(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.problem(path, f"expected an object, got {_got(value)}")
            return
        members: Mapping[str, Mapping[str, str]] = shape.get("members", {})
        for name in shape.get("required", ()):
            if value.get(name) is None:
                self.problem(_join(path, name), "is required")
        present = [name for name in members if value.get(name) is not None]
        if shape.get("union") and len(present) > 1:
            self.problem(path, f"set exactly one of {', '.join(present)}")
        for name in present:
            self.check(members[name]["shape"], value[name], _join(path, name))

    def check_list(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {_got(value)}")
            return
        self.length(shape, len(value), path, "items")
        member = shape["member"]["shape"]
        for index, item in enumerate(value):
            if item is None:
                self.problem(f"{path}[{index}]", "null is not allowed in a list")
            else:
                self.check(member, item, f"{path}[{index}]")

    def check_map(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.problem(path, f"expected an object, got {_got(value)}")
            return
        self.length(shape, len(value), path, "entries")
        for key, item in value.items():
            where = f"{path}[{json.dumps(key)}]"
            self.check(shape["key"]["shape"], key, where)
            if item is None:
                self.problem(where, "null is not allowed as a value")
            else:
                self.check(shape["value"]["shape"], item, where)

    def check_string(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.problem(path, f"expected a string, got {_got(value)}")
            return
        enum = shape.get("enum")
        if enum is not None and value not in enum:
            self.problem(path, f"{_shown(value)} is not one of {', '.join(enum)}")
            return
        self.length(shape, len(value), path, "characters")

    def integer(self, shape: Mapping[str, Any], value: Any, path: str, bounds: tuple[int, int]) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected an integer, got {_got(value)}")
            return
        if not bounds[0] <= value <= bounds[1]:
            self.problem(path, f"{value} is out of range for a {bounds[1].bit_length() + 1}-bit integer")
            return
        self.bounds(shape, value, path)

    def check_integer(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        self.integer(shape, value, path, INT32)

    def check_long(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        self.integer(shape, value, path, INT64)

    def check_double(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"expected a number, got {_got(value)}")
            return
        self.bounds(shape, value, path)

    check_float = check_double

    def check_boolean(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.problem(path, f"expected true or false, got {_got(value)}")

    def check_timestamp(self, shape: Mapping[str, Any], value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"expected a timestamp in epoch seconds, got {_got(value)}")

    def length(self, shape: Mapping[str, Any], length: int, path: str, unit: str) -> None:
        low, high = shape.get("min"), shape.get("max")
        if low is not None and length < low:
            self.problem(path, f"has {length} {unit}, at least {low} expected")
        elif high is not None and length > high:
            self.problem(path, f"has {length} {unit}, at most {high} expected")

    def bounds(self, shape: Mapping[str, Any], value: float, path: str) -> None:
        low, high = shape.get("min"), shape.get("max")
        if low is not None and value < low:
            self.problem(path, f"{value} is less than the minimum {low}")
        elif high is not None and value > high:
            self.problem(path, f"{value} is more than the maximum {high}")


def problems(shapes: Mapping[str, Mapping[str, Any]], shape_name: str, value: Any) -> list[str]:
    """Every way (up to MAX_PROBLEMS) `value` does not fit shape `shape_name`, each naming its path."""
    checker = _Checker(shapes)
    checker.check(shape_name, value, "")
    return checker.problems
