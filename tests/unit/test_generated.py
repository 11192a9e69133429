"""The generated ECSTaskDefinition CRD and models: current, and usable on real ECS JSON."""

import copy
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from ecs_facade.model import generated
from ecs_facade.model.generated import (
    TASK_DEFINITION_OUTPUT_ONLY_FIELDS,
    ContainerDefinition,
    RegisterTaskDefinitionRequest,
)

REPO = Path(__file__).resolve().parents[2]

# `aws ecs describe-task-definition` output as ECS returns it: explicit nulls, output-only
# keys, empty lists, task-level cpu/memory as strings.
DESCRIBED: dict[str, Any] = {
    "taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
                "cpu": 0,
                "memory": None,
                "memoryReservation": 256,
                "links": [],
                "portMappings": [
                    {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp", "name": "http", "appProtocol": "http"}
                ],
                "essential": True,
                "entryPoint": [],
                "command": ["--port", "8080"],
                "environment": [{"name": "LOG_LEVEL", "value": "info"}],
                "environmentFiles": [],
                "mountPoints": [{"sourceVolume": "cache", "containerPath": "/cache", "readOnly": False}],
                "volumesFrom": [],
                "secrets": [
                    {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}
                ],
                "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"}],
                "linuxParameters": {"initProcessEnabled": True, "capabilities": {"add": [], "drop": ["NET_RAW"]}},
                "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"},
                    "secretOptions": [],
                },
                "healthCheck": {
                    "command": ["CMD-SHELL", "curl -f http://localhost:8080/healthz || exit 1"],
                    "interval": 30,
                    "timeout": 5,
                    "retries": 3,
                    "startPeriod": None,
                },
                "systemControls": [],
                "dockerLabels": {"team": "web"},
            },
            {
                "name": "migrate",
                "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1.4.2",
                "cpu": 0,
                "memory": 128,
                "essential": False,
                "command": ["migrate"],
                "environment": [],
                "mountPoints": [],
                "volumesFrom": [],
            },
        ],
        "family": "web",
        "taskRoleArn": "arn:aws:iam::123456789012:role/web",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "revision": 7,
        "volumes": [{"name": "cache", "host": {}}],
        "status": "ACTIVE",
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
        "placementConstraints": [],
        "compatibilities": ["EC2", "FARGATE"],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 30},
        "registeredAt": "2024-05-29T16:26:40.123000+00:00",
        "registeredBy": "arn:aws:sts::123456789012:assumed-role/deploy/ci",
        "deregisteredAt": None,
    },
    "tags": [{"key": "team", "value": "web"}],
}


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    """hack/gen_crds.py, loaded from its path: hack/ is not a package."""
    spec = importlib.util.spec_from_file_location("gen_crds", REPO / "hack" / "gen_crds.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load((REPO / "crds" / "ecs.facade.dev_ecstaskdefinitions.yaml").read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def request_body() -> dict[str, Any]:
    """The describe output's taskDefinition without its output-only keys: a request."""
    body = copy.deepcopy(DESCRIBED["taskDefinition"])
    return {k: v for k, v in body.items() if k not in TASK_DEFINITION_OUTPUT_ONLY_FIELDS}


# --- the committed files are what the generator makes ---------------------------


def test_committed_crd_and_models_are_current(gen: ModuleType) -> None:
    problems = gen.stale(gen.generate())
    assert not problems, "\n\n".join(problems)


def test_stale_check_reports_a_changed_file(gen: ModuleType, tmp_path: Path) -> None:
    generated_text = gen.generate()[gen.CRD_PATH]
    committed = tmp_path / "crd.yaml"
    committed.write_text(generated_text.replace("maxItems: 10\n", "maxItems: 11\n", 1))
    problems = gen.stale({committed: generated_text})
    assert len(problems) == 1
    assert f"{committed} is stale" in problems[0]
    assert "-                maxItems: 11\n+                maxItems: 10" in problems[0]
    committed.write_text(generated_text)
    assert gen.stale({committed: generated_text}) == []


def test_generation_is_deterministic(gen: ModuleType) -> None:
    assert gen.generate() == gen.generate()


def test_descriptions_are_plain_text_cut_at_a_sentence(gen: ModuleType) -> None:
    doc = "<p>The <code>name</code> &amp; more.   Second sentence.</p> <p>Other paragraph.</p>"
    assert gen.describe(doc) == "The name & more. Second sentence."
    assert gen.describe(doc, limit=20) == "The name & more."


# --- models ---------------------------------------------------------------------


def test_model_fields_are_the_botocore_members(gen: ModuleType) -> None:
    shapes, _ = gen.load_model()
    for name in gen.structures_in_dependency_order(shapes, "RegisterTaskDefinitionRequest"):
        model = getattr(generated, name)
        assert list(model.model_fields) == list(shapes[name]["members"]), name


def test_models_accept_describe_task_definition_output() -> None:
    request = RegisterTaskDefinitionRequest.model_validate(request_body())
    app, migrate = request.containerDefinitions
    assert request.family == "web"
    assert request.cpu == "512"
    assert app.memory is None  # explicit null: absent
    assert app.memoryReservation == 256
    assert app.healthCheck is not None and app.healthCheck.startPeriod is None
    assert app.dependsOn is not None and app.dependsOn[0].condition == "SUCCESS"
    assert app.logConfiguration is not None and app.logConfiguration.options == {
        "awslogs-group": "/ecs/web",
        "awslogs-region": "us-east-1",
    }
    assert migrate.essential is False
    assert request.ephemeralStorage is not None and request.ephemeralStorage.sizeInGiB == 30


def test_models_accept_yaml_ints_for_task_cpu_and_memory_and_no_family() -> None:
    request = RegisterTaskDefinitionRequest.model_validate(
        {"cpu": 256, "memory": "2 GB", "containerDefinitions": [{"name": "app", "image": "nginx"}]}
    )
    assert request.cpu == 256
    assert request.memory == "2 GB"
    assert request.family is None


def test_models_reject_output_only_keys_left_in_a_request() -> None:
    with pytest.raises(ValidationError) as failure:
        RegisterTaskDefinitionRequest.model_validate(DESCRIBED["taskDefinition"])
    locations = {error["loc"] for error in failure.value.errors()}
    assert ("taskDefinitionArn",) in locations
    assert ("revision",) in locations


def test_models_reject_an_unknown_key_naming_where_it_is() -> None:
    body = request_body()
    body["containerDefinitions"][0]["imagee"] = "typo"
    with pytest.raises(ValidationError) as failure:
        RegisterTaskDefinitionRequest.model_validate(body)
    errors = failure.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("containerDefinitions", 0, "imagee"), "extra_forbidden")]
    assert "containerDefinitions.0.imagee\n  Extra inputs are not permitted" in str(failure.value)


def test_container_needs_name_and_image() -> None:
    with pytest.raises(ValidationError) as failure:
        ContainerDefinition.model_validate({"cpu": 0})
    assert {e["loc"] for e in failure.value.errors()} == {("name",), ("image",)}


# --- CRD schema -----------------------------------------------------------------


def walk(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


def test_crd_schema_is_structural(crd_schema: dict[str, Any]) -> None:
    untyped = [
        path
        for path, node in walk(crd_schema, "")
        if "type" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and not node.get("x-kubernetes-int-or-string")
    ]
    assert untyped == []


def test_crd_preserves_unknown_fields_only_for_output_only_keys(crd_schema: dict[str, Any]) -> None:
    preserved = {
        path.rsplit(".", 1)[-1]
        for path, node in walk(crd_schema, "")
        if node.get("x-kubernetes-preserve-unknown-fields")
    }
    assert preserved == set(TASK_DEFINITION_OUTPUT_ONLY_FIELDS)
    assert "x-kubernetes-preserve-unknown-fields" not in crd_schema["properties"]["spec"]


def test_crd_every_array_is_bounded(crd_schema: dict[str, Any]) -> None:
    """Unbounded arrays make the API server reject the CEL rules as too costly."""
    spec = crd_schema["properties"]["spec"]
    unbounded = [path for path, node in walk(spec, "spec") if node.get("type") == "array" and "maxItems" not in node]
    assert unbounded == []
    assert spec["properties"]["containerDefinitions"]["maxItems"] == 10


def test_crd_spec_takes_the_request_and_the_describe_output(crd_schema: dict[str, Any]) -> None:
    spec = crd_schema["properties"]["spec"]
    body = set(RegisterTaskDefinitionRequest.model_fields) | TASK_DEFINITION_OUTPUT_ONLY_FIELDS
    assert set(spec["properties"]) == body | {"taskDefinition", "deregisteredRevisions"}
    wrapped = spec["properties"]["taskDefinition"]
    assert set(wrapped["properties"]) == body
    assert wrapped["required"] == ["containerDefinitions"]
    assert set(DESCRIBED) <= set(spec["properties"])
    assert set(DESCRIBED["taskDefinition"]) <= set(wrapped["properties"])
    for where in (spec, wrapped):
        assert where["properties"]["cpu"].get("x-kubernetes-int-or-string") is True
        assert where["properties"]["memory"].get("x-kubernetes-int-or-string") is True
        assert where["x-kubernetes-validations"], "rules apply at spec level and inside taskDefinition"
    rules = [r["rule"] for r in spec["x-kubernetes-validations"]]
    assert "has(self.containerDefinitions) != has(self.taskDefinition)" in rules
