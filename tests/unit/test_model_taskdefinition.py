"""What users paste: the request, describe output, nulls, and the task-level quantity strings."""

import pytest

from ecs_facade.model.taskdefinition import (
    content_hash,
    normalize_task_definition,
    parse_task_cpu,
    parse_task_memory,
)


@pytest.mark.parametrize(
    ("text", "units"),
    [("1024", 1024), (256, 256), ("1 vCPU", 1024), ("0.5 vcpu", 512), ("2 vcpus", 2048), ("0.25 vCPU", 256)],
)
def test_task_cpu_forms(text: str | int, units: int) -> None:
    assert parse_task_cpu(text) == units


@pytest.mark.parametrize(("text", "mib"), [("2048", 2048), (512, 512), ("2 GB", 2048), ("0.5 GB", 512), ("4gb", 4096)])
def test_task_memory_forms(text: str | int, mib: int) -> None:
    assert parse_task_memory(text) == mib


@pytest.mark.parametrize("text", ["lots", "0", "-1", "1.5", "2 TB"])
def test_bad_cpu_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="cpu"):
        parse_task_cpu(text)


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
