"""Hostile ECS input for property-based tests (hypothesis): task definitions, services and tasks
shaped from botocore's ECS model, with every field now and then of the wrong type, huge, deeply
nested, non-ASCII or out of range, and with the cross references ECS checks (container names,
dependsOn, links, volumesFrom, sourceVolume, the task definition a service or task names) often
pointing nowhere, at each other in cycles, or at duplicates.

Shared by the unit property tests (tests/unit/test_hostile_input.py: thousands of examples on the
operator's pure path) and the API-server test (tests/e2e/test_hostile_input.py: a few hundred
objects, one seed).
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session  # type: ignore[import-untyped]
from botocore.model import Shape  # type: ignore[import-untyped]
from hypothesis import strategies as st

# A handful of names, so that duplicates, cycles and dangling references are common.
NAMES = ["web", "app", "sidecar", "db", "Web", "x" * 300, "ünï", "log-router", ""]
VOLUMES = ["data", "tmp", "missing", "", "ü"]
# Strings that break things: empty, whitespace, control characters, RTL, emoji, NUL, very long.
NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "\x00",
        "\u202e",
        "💥",
        "a" * 70_000,
        "${X}",
        "../../etc/passwd",
        "-1",
        "1e400",
        "NaN",
        "0x10",
        "null",
        "true",
        "web:web",
        "arn:aws:ecs:us-east-1:1:task-definition/",
    ]
)
TEXT = st.one_of(st.text(max_size=20), NASTY_TEXT, st.sampled_from(NAMES))
INTEGERS = st.one_of(
    st.integers(min_value=-5, max_value=70_000),
    st.sampled_from([-(2**63), -1, 0, 2**31, 2**63, 2**64, 10**30]),
)
SCALAR = st.one_of(st.none(), st.booleans(), INTEGERS, st.floats(allow_nan=False, allow_infinity=False), TEXT)


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for index in range(depth):
        value = {"n": value} if index % 2 else [value]
    return value


# Any JSON value: what a user's YAML can hold where the schema wants something else.
ANY_JSON = st.one_of(
    st.recursive(
        SCALAR,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=8,
    ),
    st.sampled_from([50, 200]).map(_deep),
)


@functools.cache
def ecs_model() -> Any:
    return botocore.session.get_session().get_service_model("ecs")


def from_shape(shape: Shape, depth: int = 0, wrong: float = 0.1) -> st.SearchStrategy[Any]:
    """Values of a botocore shape, with any JSON value instead now and then (``wrong``)."""
    right = _right(shape, depth, wrong)
    if wrong <= 0:
        return right
    return st.one_of(right, right, right, right, right, right, right, right, ANY_JSON)


def _right(shape: Shape, depth: int, wrong: float) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        if depth > 4:
            return st.just({})
        members = {name: from_shape(member, depth + 1, wrong) for name, member in shape.members.items()}
        return st.fixed_dictionaries({}, optional=members)
    if kind == "list":
        return st.lists(from_shape(shape.member, depth + 1, wrong), max_size=3)
    if kind == "map":
        return st.dictionaries(TEXT, from_shape(shape.value, depth + 1, wrong), max_size=3)
    if kind == "string":
        enum = getattr(shape, "enum", None) or []
        return st.one_of(st.sampled_from(enum), TEXT) if enum else TEXT
    if kind in ("integer", "long"):
        return INTEGERS
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return SCALAR


@st.composite
def container(draw: st.DrawFn) -> dict[str, Any]:
    """A container definition: botocore's shape, with references among a few names."""
    model = ecs_model()
    body: dict[str, Any] = draw(from_shape(model.shape_for("ContainerDefinition"), depth=1))
    if not isinstance(body, dict):
        return body  # a wrong type for the whole container
    body["name"] = draw(st.sampled_from(NAMES) | TEXT)
    body.setdefault("image", draw(st.sampled_from(["nginx", "busybox:1.36", "", "a" * 5000, "UPPER/Case"])))
    condition = st.sampled_from(["START", "COMPLETE", "SUCCESS", "HEALTHY", "ANY", ""])
    if draw(st.booleans()):
        body["dependsOn"] = draw(
            st.lists(
                st.fixed_dictionaries({"containerName": st.sampled_from(NAMES), "condition": condition}), max_size=3
            )
        )
    if draw(st.booleans()):
        body["links"] = draw(st.lists(st.sampled_from(NAMES).map(lambda n: f"{n}:{n}") | st.sampled_from(NAMES)))
    if draw(st.booleans()):
        body["volumesFrom"] = draw(
            st.lists(st.fixed_dictionaries({"sourceContainer": st.sampled_from(NAMES)}), max_size=2)
        )
    if draw(st.booleans()):
        body["mountPoints"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {"sourceVolume": st.sampled_from(VOLUMES), "containerPath": st.sampled_from(["/d", "", "rel", "/"])}
                ),
                max_size=2,
            )
        )
    return body


@st.composite
def task_definition_spec(draw: st.DrawFn) -> dict[str, Any]:
    """An ECSTaskDefinition's spec: RegisterTaskDefinitionRequest's shape, hostile."""
    model = ecs_model()
    spec: dict[str, Any] = draw(from_shape(model.shape_for("RegisterTaskDefinitionRequest"), wrong=0.1))
    if not isinstance(spec, dict):
        return {"family": "f", "containerDefinitions": spec}
    spec["containerDefinitions"] = draw(st.lists(container(), min_size=0, max_size=4) | ANY_JSON)
    if draw(st.booleans()):
        spec["volumes"] = draw(
            st.lists(st.fixed_dictionaries({"name": st.sampled_from(VOLUMES)}, optional={"host": ANY_JSON}), max_size=3)
        )
    for key in ("cpu", "memory"):
        if draw(st.booleans()):
            spec[key] = draw(
                st.sampled_from(["256", "1 vCPU", "0", "-1", ".5 gb", "1e9", "1" * 40, "", "lots"]) | INTEGERS
            )
    return spec


@st.composite
def service_spec(draw: st.DrawFn) -> dict[str, Any]:
    """An ECSService's spec: CreateServiceRequest's shape, hostile; its task definition often missing."""
    model = ecs_model()
    spec: dict[str, Any] = draw(from_shape(model.shape_for("CreateServiceRequest"), wrong=0.1))
    if not isinstance(spec, dict):
        spec = {}
    spec.pop("serviceName", None)  # the object's name
    spec["taskDefinition"] = draw(st.sampled_from(["web", "web:1", "missing", "web:0", "web:-1", "", "a" * 300]) | TEXT)
    return spec


@st.composite
def task_spec(draw: st.DrawFn) -> dict[str, Any]:
    """An ECSTask's spec: RunTaskRequest's shape (overrides and all), hostile."""
    model = ecs_model()
    spec: dict[str, Any] = draw(from_shape(model.shape_for("RunTaskRequest"), wrong=0.1))
    if not isinstance(spec, dict):
        spec = {}
    for key in ("count", "clientToken"):
        spec.pop(key, None)  # not ECSTask fields: one object is one task
    spec["taskDefinition"] = draw(st.sampled_from(["web", "web:1", "missing", "web:0", "", "a" * 300]) | TEXT)
    if draw(st.booleans()):
        overrides = {
            "containerOverrides": draw(
                st.lists(
                    st.fixed_dictionaries(
                        {"name": st.sampled_from(NAMES)},
                        optional={
                            "command": st.lists(TEXT, max_size=2) | ANY_JSON,
                            "cpu": INTEGERS,
                            "memory": INTEGERS,
                            "environment": ANY_JSON,
                        },
                    ),
                    max_size=3,
                )
            )
        }
        spec["overrides"] = draw(st.just(overrides) | ANY_JSON)
    return spec


# --- near misses: a valid object with one to three fields changed ---------------------------
# Mostly what the API server accepts, so that the operator's own checks get the hostile part.


def _members(shape_name: str, *skip: str) -> dict[str, Shape]:
    shape = ecs_model().shape_for(shape_name)
    return {name: member for name, member in shape.members.items() if name not in skip}


@st.composite
def _changed(draw: st.DrawFn, base: dict[str, Any], shape_name: str, skip: tuple[str, ...]) -> dict[str, Any]:
    members = _members(shape_name, *skip)
    names = draw(st.lists(st.sampled_from(sorted(members)), min_size=1, max_size=3, unique=True))
    out = dict(base)
    for name in names:
        out[name] = draw(from_shape(members[name], depth=1, wrong=0.1))
    return out


@st.composite
def near_container(draw: st.DrawFn, name: str) -> dict[str, Any]:
    base = {"name": name, "image": "nginx", "memory": 64}
    if draw(st.booleans()):
        return draw(_changed(base, "ContainerDefinition", ("name",)))
    body = dict(base)
    condition = st.sampled_from(["START", "COMPLETE", "SUCCESS", "HEALTHY"])
    others = st.sampled_from(["web", "app", "sidecar", "missing"])
    choice = draw(st.integers(0, 3))
    if choice == 0:
        body["dependsOn"] = draw(
            st.lists(st.fixed_dictionaries({"containerName": others, "condition": condition}), min_size=1, max_size=2)
        )
    elif choice == 1:
        body["links"] = draw(st.lists(others, min_size=1, max_size=2))
    elif choice == 2:
        body["volumesFrom"] = [{"sourceContainer": draw(others)}]
    else:
        body["mountPoints"] = [{"sourceVolume": draw(st.sampled_from(VOLUMES)), "containerPath": "/d"}]
    return body


@st.composite
def near_task_definition_spec(draw: st.DrawFn) -> dict[str, Any]:
    """A small valid task definition (one to three containers, maybe duplicate names) with changes."""
    names = draw(st.lists(st.sampled_from(["web", "app", "sidecar"]), min_size=1, max_size=3))
    spec: dict[str, Any] = {"containerDefinitions": [draw(near_container(name)) for name in names]}
    if draw(st.booleans()):
        spec = draw(_changed(spec, "RegisterTaskDefinitionRequest", ("containerDefinitions", "family")))
    if draw(st.booleans()):
        spec["volumes"] = [{"name": draw(st.sampled_from(VOLUMES))}]
    return spec


@st.composite
def near_service_spec(draw: st.DrawFn) -> dict[str, Any]:
    base = {"taskDefinition": draw(st.sampled_from(["web", "web:1", "missing"])), "desiredCount": 1}
    return draw(_changed(base, "CreateServiceRequest", ("serviceName", "taskDefinition", "clientToken")))


@st.composite
def near_task_spec(draw: st.DrawFn) -> dict[str, Any]:
    base = {"taskDefinition": draw(st.sampled_from(["web", "web:1", "missing"]))}
    return draw(_changed(base, "RunTaskRequest", ("taskDefinition", "count", "clientToken")))
