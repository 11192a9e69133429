"""What users paste: the request, describe output, nulls, and the task-level quantity strings."""

import re

import pytest

from ecs_facade.model.taskdefinition import (
    TASK_CPU_PATTERN,
    TASK_MEMORY_PATTERN,
    content_hash,
    normalize_task_definition,
    parse_task_cpu,
    parse_task_memory,
)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("1024", 1024),
        (256, 256),
        ("1 vCPU", 1024),
        ("1 vcpu", 1024),
        ("0.5 vcpu", 512),
        ("2 vcpus", 2048),
        ("0.25 vCPU", 256),
        (".25 vcpu", 256),  # the ECS developer guide's ECS Exec example
        (".125 VCPU", 128),
        ("4vCPU", 4096),
        (" 512 ", 512),
        ("1024.0", 1024),
    ],
)
def test_task_cpu_forms(text: str | int, units: int) -> None:
    assert parse_task_cpu(text) == units


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        ("2048", 2048),
        (512, 512),
        ("2 GB", 2048),
        ("1 gb", 1024),
        ("0.5 GB", 512),
        ("0.5GB", 512),
        (".5 gb", 512),  # the ECS Exec example again
        ("4gb", 4096),
        (" 3 Gb ", 3072),
        ("2 GiB", 2048),
        ("512 MiB", 512),
    ],
)
def test_task_memory_forms(text: str | int, mib: int) -> None:
    assert parse_task_memory(text) == mib


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("lots", "neither CPU units"),
        ("2 TB", "neither CPU units"),
        ("-1", "neither CPU units"),
        ("1,5 vcpu", "neither CPU units"),
        ("\uff11 vcpu", "neither CPU units"),  # a full-width digit: not \d in RE2, nor here
        ("", "neither CPU units"),
        ("0", "not a positive whole number"),
        ("1.5", "not a positive whole number"),
        (".1 vcpu", "not a positive whole number"),  # 102.4 units
    ],
)
def test_bad_cpu_says_what_is_accepted(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"^cpu: {re.escape(repr(text))} is {why}"):
        parse_task_cpu(text)


@pytest.mark.parametrize(
    ("text", "why"), [("2 TB of ram", "neither MiB"), ("0 GB", "not a positive"), ("0.3", "not a")]
)
def test_bad_memory_says_what_is_accepted(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"^memory: {re.escape(repr(text))} is {why}"):
        parse_task_memory(text)


def test_the_crd_pattern_is_the_parsers() -> None:
    """The API server refuses by TASK_*_PATTERN what the parser cannot read (and nothing it can)."""
    for pattern, parse, good, bad in (
        (TASK_CPU_PATTERN, parse_task_cpu, ["256", ".25 vcpu", "2 vCPUs"], ["lots", "1 core"]),
        (TASK_MEMORY_PATTERN, parse_task_memory, ["512", ".5 gb", "1GB"], ["2 TB", "lots"]),
    ):
        compiled = re.compile(pattern, re.ASCII)
        for text in good:
            assert compiled.search(text) and parse(text) > 0
        for text in bad:
            assert not compiled.search(text)
            with pytest.raises(ValueError):
                parse(text)


def test_describe_output_is_unwrapped_and_output_only_keys_dropped() -> None:
    raw = {
        "taskDefinition": {
            "family": "web",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
            "revision": 3,
            "status": "ACTIVE",
            "registeredAt": 1700000000.0,
            "containerDefinitions": [{"name": "a", "image": "x", "memory": 64, "cpu": None}],
        },
        "tags": [{"key": "team", "value": "a"}],
    }
    assert normalize_task_definition(raw, "ignored") == {
        "family": "web",
        "containerDefinitions": [{"name": "a", "image": "x", "memory": 64}],
        "tags": [{"key": "team", "value": "a"}],
    }


def test_family_defaults_to_the_object_name() -> None:
    assert normalize_task_definition({"containerDefinitions": []}, "web")["family"] == "web"


def test_wrapper_beside_request_fields_is_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        normalize_task_definition({"taskDefinition": {"family": "a"}, "cpu": "256"}, "a")


def test_content_hash_ignores_key_order_and_nulls() -> None:
    assert content_hash({"a": 1, "b": {"c": None, "d": 2}}) == content_hash({"b": {"d": 2}, "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})
