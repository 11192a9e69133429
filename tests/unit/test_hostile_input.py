"""Hostile input on the operator's pure path (issue 27): whatever a user writes into an
ECSTaskDefinition, ECSService or ECSTask, the API server's checks (run offline,
ecs_facade.validation) return problems and never raise, and the parsing and translation the
controllers run raise only the errors those controllers catch, with a message naming a field.
An error of another type would escape the controller: kopf would log a traceback and retry the
object for ever instead of marking it InvalidSpec.

Generated from botocore's shapes (tests/hostile.py); regression cases found by the generator are
pinned with @example and as plain tests below.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ecs_facade.api import KIND_SERVICE, KIND_TASK, KIND_TASK_DEFINITION
from ecs_facade.controllers.common import error_message
from ecs_facade.model.autoscaling import AutoScaling
from ecs_facade.model.references import parse_task_definition_ref
from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.taskdefinition import normalize_task_definition, parse_task_definition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.autoscaling import build_autoscaler
from ecs_facade.translate.overrides import apply_overrides
from ecs_facade.translate.placement import service_placement
from ecs_facade.translate.service import ServiceDecisions, build_workload
from ecs_facade.translate.task import build_task_pod
from ecs_facade.translate.taskdefinition import translate_task_definition
from ecs_facade.validation import validate
from tests.hostile import (
    ecs_model,
    near_service_spec,
    near_task_definition_spec,
    near_task_spec,
    service_spec,
    task_definition_spec,
    task_spec,
)

HOSTILE = settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "700")),  # per kind; more with HOSTILE_EXAMPLES
    deadline=2000,  # ms per example: a hang or a blow-up in size fails
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    derandomize=True,  # the same examples on every run (CI): a failure is reproducible
)
BASE = {"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx", "memory": 128}]}


@functools.cache
def field_names() -> frozenset[str]:
    """Every member name of botocore's ECS shapes (and spec): a message names at least one."""
    model = ecs_model()
    names = {"spec", "family", "containerDefinitions", "taskDefinition", "overrides", "autoScaling"}
    for shape_name in model.shape_names:
        shape = model.shape_for(shape_name)
        if shape.type_name == "structure":
            names.update(shape.members)
    return frozenset(names)


def keys_in(value: Any) -> set[str]:
    """The keys of every object in ``value``: an unknown field is named by its own key."""
    if isinstance(value, dict):
        return {str(k) for k in value} | {key for item in value.values() for key in keys_in(item)}
    if isinstance(value, list):
        return {key for item in value for key in keys_in(item)}
    return set()


def assert_readable(error: Exception, given: Any = None) -> str:
    message = error_message(error)
    assert message.strip(), f"{type(error).__name__} with an empty message"
    named = field_names() | keys_in(given)
    assert any(name and name in message for name in named), f"the message names no field: {message[:300]!r}"
    return message


def refused_readably(run: Callable[[], Any], allowed: tuple[type[Exception], ...], given: Any) -> Exception | None:
    """Runs ``run``: it succeeds, or raises one of ``allowed`` with a readable message."""
    try:
        run()
    except allowed as error:
        assert_readable(error, given)
        event(f"refused by the operator: {type(error).__name__}")
        return error
    event("accepted and translated")
    return None


def assert_problems_readable(kind: str, spec: Any) -> bool:
    result = validate(kind, spec)
    for problem in result.problems:
        assert problem.path.startswith("spec"), problem
        assert problem.message.strip(), problem
    event("accepted by the API server's checks" if result.ok else "refused by the API server's checks")
    return result.ok


# --- task definitions ----------------------------------------------------------------------


def _task_definition_path(spec: Any) -> None:
    """What controllers/taskdefinition.reconcile runs (it catches ValidationError and ValueError)."""
    normalize_task_definition(spec, "hostile")
    parsed = parse_task_definition(spec, "hostile")
    translate_task_definition(parsed)
    translate_task_definition(parsed, service=True)
    build_task_pod(parsed, 1, "ns")


@HOSTILE
@given(spec=st.one_of(task_definition_spec(), near_task_definition_spec()))
@example(
    spec={
        "family": "web",
        "containerDefinitions": [
            {"name": "a", "image": "x", "dependsOn": [{"containerName": "a", "condition": "START"}]}
        ],
    }
)
def test_task_definitions_are_refused_readably(spec: dict[str, Any]) -> None:
    assert_problems_readable(KIND_TASK_DEFINITION, spec)
    refused_readably(lambda: _task_definition_path(spec), (ValidationError, ValueError), spec)


# --- services ------------------------------------------------------------------------------


def _service_path(spec: dict[str, Any]) -> None:
    """What controllers/service/plan.plan runs on the service's own fields."""
    parsed = ServiceSpec.model_validate({"serviceName": "svc", **spec})
    parse_task_definition_ref(parsed.taskDefinition)
    if spec.get("autoScaling"):
        scaling = AutoScaling.model_validate(spec["autoScaling"])
        try:
            build_autoscaler("svc", "ns", scaling, {"app": "svc"})
        except TranslationError as error:
            assert_readable(error, spec)
    service_placement(spec.get("placementConstraints"), spec.get("placementStrategy"), {"app": "svc"})
    definition = parse_task_definition(BASE, "web")
    build_workload("svc", "ns", definition, 1, ServiceDecisions(desired_count=1))


@HOSTILE
@given(spec=st.one_of(service_spec(), near_service_spec()))
@example(spec={"healthCheckGracePeriodSeconds": 2**63, "taskDefinition": "web"})
def test_services_are_refused_readably(spec: dict[str, Any]) -> None:
    if assert_problems_readable(KIND_SERVICE, spec):
        refused_readably(lambda: _service_path(spec), (ValidationError, ValueError), spec)


# --- tasks ---------------------------------------------------------------------------------


def _task_path(spec: dict[str, Any]) -> None:
    """What controllers/task.py runs: it catches only ValidationError and TranslationError."""
    parse_task_definition_ref(str(spec["taskDefinition"]))
    definition = apply_overrides(parse_task_definition(BASE, "web"), spec.get("overrides"))
    build_task_pod(definition, 1, "ns")
    constraints, strategies = spec.get("placementConstraints"), spec.get("placementStrategy")
    if constraints or strategies:
        service_placement(constraints, strategies, {"task": "t"})


@HOSTILE
@given(spec=st.one_of(task_spec(), near_task_spec()))
def test_tasks_are_refused_readably(spec: dict[str, Any]) -> None:
    if assert_problems_readable(KIND_TASK, spec):
        try:
            parse_task_definition_ref(str(spec["taskDefinition"]))
        except ValueError as error:  # the task controller reads it first, and catches ValueError there
            assert_readable(error, spec)
            return
        refused_readably(lambda: _task_path(spec), (ValidationError, TranslationError), spec)


@pytest.mark.parametrize("depth", [50, 500])
def test_deep_nesting_is_refused_not_a_recursion_error(depth: int) -> None:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": [value]}
    spec = {"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx", "dockerLabels": value}]}
    assert not validate(KIND_TASK_DEFINITION, spec).ok
    with pytest.raises(ValidationError):
        parse_task_definition(spec, "web")


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**400, -(10**400)])
def test_an_integer_beyond_int64_is_a_problem_not_a_crash(number: int) -> None:
    """Found by the generator: the offline check raised ValueError('overflow') from cel-python's
    int when a CEL rule read a number beyond int64 (``ecs-facade render`` crashed)."""
    spec = {"taskDefinition": "web", "desiredCount": 1, "healthCheckGracePeriodSeconds": number}
    result = validate(KIND_SERVICE, spec)  # raised before
    assert all(problem.path.startswith("spec") for problem in result.problems), result.problems
    assert result.evaluated, "the CEL rules ran"
