"""The generated ECSTaskDefinition, ECSService and ECSTask CRDs and models: current, and usable on real ECS JSON."""

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
    CreateServiceRequest,
    RegisterTaskDefinitionRequest,
    RunTaskRequest,
)
from ecs_facade.model.task import TaskSpec

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


# A CreateService request as in the ECS API reference and `aws ecs create-service
# --cli-input-json` examples: Fargate behind an ALB, Service Connect, circuit breaker.
CREATE_SERVICE: dict[str, Any] = {
    "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
    "serviceName": "ecs-simple-service-elb",
    "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    "loadBalancers": [
        {
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
            "containerName": "app",
            "containerPort": 8080,
        }
    ],
    "serviceRegistries": [{"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abc"}],
    "desiredCount": 10,
    "clientToken": "deploy-2024-06-01",
    "launchType": "FARGATE",
    "platformVersion": "LATEST",
    "deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 50,
        "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": False},
    },
    "networkConfiguration": {
        "awsvpcConfiguration": {
            "subnets": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "assignPublicIp": "DISABLED",
        }
    },
    "healthCheckGracePeriodSeconds": 60,
    "schedulingStrategy": "REPLICA",
    "deploymentController": {"type": "ECS"},
    "tags": [{"key": "team", "value": "web"}],
    "enableECSManagedTags": True,
    "propagateTags": "SERVICE",
    "enableExecuteCommand": False,
    "serviceConnectConfiguration": {
        "enabled": True,
        "namespace": "prod",
        "services": [{"portName": "http", "clientAliases": [{"port": 80, "dnsName": "web"}]}],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web-sc"}},
    },
}


# A RunTask request as in the ECS API reference and `aws ecs run-task --cli-input-json`
# examples: a one-off Fargate migration with container and task-level overrides.
RUN_TASK: dict[str, Any] = {
    "cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
    "taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    "launchType": "FARGATE",
    "platformVersion": "LATEST",
    "group": "migrations",
    "startedBy": "ci/deploy-2024_06_01",
    "networkConfiguration": {
        "awsvpcConfiguration": {
            "subnets": ["subnet-0123456789abcdef0"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "assignPublicIp": "DISABLED",
        }
    },
    "overrides": {
        "containerOverrides": [
            {
                "name": "app",
                "command": ["migrate", "--to", "latest"],
                "environment": [{"name": "LOG_LEVEL", "value": "debug"}],
                "environmentFiles": [{"value": "arn:aws:s3:::config/web.env", "type": "s3"}],
                "cpu": 256,
                "memoryReservation": 512,
                "resourceRequirements": [{"value": "1", "type": "GPU"}],
            }
        ],
        "cpu": "512",
        "memory": "1024",
        "taskRoleArn": "arn:aws:iam::123456789012:role/migrate",
        "ephemeralStorage": {"sizeInGiB": 30},
        "inferenceAcceleratorOverrides": [],
    },
    "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.instance-type =~ m5.*"}],
    "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"}],
    "tags": [{"key": "team", "value": "web"}],
    "enableECSManagedTags": True,
    "propagateTags": "TASK_DEFINITION",
    "enableExecuteCommand": False,
    "desiredStatus": "RUNNING",
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


@pytest.fixture(scope="module")
def service_crd() -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load((REPO / "crds" / "ecs.facade.dev_ecsservices.yaml").read_text())
    return crd


@pytest.fixture(scope="module")
def task_crd() -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load((REPO / "crds" / "ecs.facade.dev_ecstasks.yaml").read_text())
    return crd


@pytest.fixture(scope="module")
def task_schema(task_crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = task_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.fixture(scope="module")
def service_schema(service_crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = service_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
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


def test_generator_writes_the_crds_and_the_models(gen: ModuleType) -> None:
    crds = {gen.CRD_PATH, gen.SERVICE_CRD_PATH, gen.TASK_CRD_PATH, gen.CLUSTER_CRD_PATH}
    chart_crds = {REPO / "charts" / "ecs-facade" / "crds" / path.name for path in crds}
    package_crds = {REPO / "operator" / "ecs_facade" / "crds" / path.name for path in crds}  # offline validation
    assert set(gen.generate()) == {gen.MODELS_PATH, *crds, *chart_crds, *package_crds, gen.RBAC_RULES_PATH}


def test_the_charts_crds_are_the_same_text_as_crds(gen: ModuleType) -> None:
    files = gen.generate()
    for path in (gen.CRD_PATH, gen.SERVICE_CRD_PATH, gen.TASK_CRD_PATH, gen.CLUSTER_CRD_PATH):
        assert files[REPO / "charts" / "ecs-facade" / "crds" / path.name] == files[path]
    assert gen.SERVICE_CRD_PATH == REPO / "crds" / "ecs.facade.dev_ecsservices.yaml"
    assert gen.TASK_CRD_PATH == REPO / "crds" / "ecs.facade.dev_ecstasks.yaml"


def test_stale_check_reports_a_changed_task_crd(gen: ModuleType, tmp_path: Path) -> None:
    generated_text = gen.generate()[gen.TASK_CRD_PATH]
    committed = tmp_path / "ecstasks.yaml"
    committed.write_text(generated_text.replace("maxLength: 255\n", "maxLength: 256\n", 1))
    (problem,) = gen.stale({committed: generated_text})
    assert f"{committed} is stale" in problem
    assert gen.stale({tmp_path / "missing.yaml": generated_text})  # a deleted file is stale too


def test_generation_is_deterministic(gen: ModuleType) -> None:
    assert gen.generate() == gen.generate()


def test_descriptions_are_plain_text_cut_at_a_sentence(gen: ModuleType) -> None:
    doc = "<p>The <code>name</code> &amp; more.   Second sentence.</p> <p>Other paragraph.</p>"
    assert gen.describe(doc) == "The name & more. Second sentence."
    assert gen.describe(doc, limit=20) == "The name & more."


# --- models ---------------------------------------------------------------------


def test_model_fields_are_the_botocore_members(gen: ModuleType) -> None:
    shapes, _ = gen.load_model()
    for root in ("RegisterTaskDefinitionRequest", "CreateServiceRequest", "RunTaskRequest"):
        for name in gen.structures_in_dependency_order(shapes, root):
            model = getattr(generated, name)
            extensions = list(gen.EXTENSIONS.get(name, {}))
            dropped = gen.DROPPED.get(name, ())
            botocore_members = [m for m in shapes[name]["members"] if m not in dropped]
            assert list(model.model_fields) == [*botocore_members, *extensions], name
    assert list(gen.EXTENSIONS["CreateServiceRequest"]) == ["forceNewDeployment", "autoScaling"]
    assert list(gen.EXTENSIONS["RunTaskRequest"]) == ["desiredStatus", "reason"]
    assert gen.DROPPED == {"RunTaskRequest": ("count", "clientToken")}


def test_shapes_shared_by_both_requests_are_generated_once() -> None:
    source = (REPO / "operator" / "ecs_facade" / "model" / "generated.py").read_text()
    for shared in ("Tag", "Secret", "LogConfiguration"):
        assert source.count(f"\nclass {shared}(GeneratedModel):") == 1, shared
    assert "class HookDetails" not in source  # a botocore document: any JSON, no model


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


# --- ECSService: models -----------------------------------------------------------


def test_service_model_accepts_a_create_service_request() -> None:
    request = CreateServiceRequest.model_validate(CREATE_SERVICE)
    assert request.serviceName == "ecs-simple-service-elb"
    assert request.desiredCount == 10
    assert request.loadBalancers is not None and request.loadBalancers[0].containerPort == 8080
    config = request.deploymentConfiguration
    assert config is not None and config.deploymentCircuitBreaker is not None
    assert (config.maximumPercent, config.minimumHealthyPercent) == (200, 50)
    assert config.deploymentCircuitBreaker.rollback is True
    assert request.networkConfiguration is not None
    vpc = request.networkConfiguration.awsvpcConfiguration
    assert vpc is not None and vpc.assignPublicIp == "DISABLED"
    connect = request.serviceConnectConfiguration
    assert connect is not None and connect.services is not None
    assert connect.services[0].clientAliases is not None and connect.services[0].clientAliases[0].dnsName == "web"
    assert request.forceNewDeployment is None


def test_service_model_needs_only_the_task_definition() -> None:
    request = CreateServiceRequest.model_validate({"taskDefinition": "web"})
    assert request.serviceName is None  # metadata.name, filled in by the operator
    assert request.cluster == "default"  # as the CRD defaults it
    assert request.desiredCount is None  # DAEMON services have none
    assert request.deploymentConfiguration is None
    with pytest.raises(ValidationError) as failure:
        CreateServiceRequest.model_validate({"serviceName": "web", "desiredCount": 1})
    assert [e["loc"] for e in failure.value.errors()] == [("taskDefinition",)]


def test_service_model_takes_force_new_deployment_and_free_form_hook_details() -> None:
    request = CreateServiceRequest.model_validate(
        {
            "taskDefinition": "web",
            "forceNewDeployment": "2024-06-01T12:00:00Z",
            "deploymentConfiguration": {
                "strategy": "BLUE_GREEN",
                "lifecycleHooks": [{"targetType": "AWS_LAMBDA", "hookDetails": {"any": ["json", 1]}}],
            },
        }
    )
    assert request.forceNewDeployment == "2024-06-01T12:00:00Z"
    config = request.deploymentConfiguration
    assert config is not None and config.lifecycleHooks is not None
    assert config.lifecycleHooks[0].hookDetails == {"any": ["json", 1]}


def test_service_model_rejects_an_unknown_key_naming_where_it_is() -> None:
    body = copy.deepcopy(CREATE_SERVICE)
    body["deploymentConfiguration"]["maxPercent"] = 150
    body["desiredcount"] = 3
    with pytest.raises(ValidationError) as failure:
        CreateServiceRequest.model_validate(body)
    assert sorted((e["loc"], e["type"]) for e in failure.value.errors()) == [
        (("deploymentConfiguration", "maxPercent"), "extra_forbidden"),
        (("desiredcount",), "extra_forbidden"),
    ]


def test_example_service_validates() -> None:
    example = yaml.safe_load((REPO / "examples" / "web" / "service.yaml").read_text())
    spec = CreateServiceRequest.model_validate({"serviceName": example["metadata"]["name"], **example["spec"]})
    assert (spec.taskDefinition, spec.desiredCount, spec.cluster) == ("web", 3, "default")


# --- ECSService: CRD --------------------------------------------------------------


def test_service_crd_names_and_subresources(service_crd: dict[str, Any]) -> None:
    spec = service_crd["spec"]
    assert service_crd["metadata"]["name"] == "ecsservices.ecs.facade.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "ECSService",
        "listKind": "ECSServiceList",
        "plural": "ecsservices",
        "singular": "ecsservice",
        "shortNames": ["ecssvc"],
        "categories": ["ecs"],
    }
    (version,) = spec["versions"]
    assert version["subresources"] == {
        "status": {},
        "scale": {"specReplicasPath": ".spec.desiredCount", "statusReplicasPath": ".status.runningCount"},
    }
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert list(columns) == [
        "Desired",
        "Running",
        "Pending",
        "Task Definition",
        "Rollout",
        "Ready",
        "Revision ARN",
        "Message",
        "Age",
    ]
    assert columns["Rollout"]["jsonPath"] == '.status.deployments[?(@.status=="PRIMARY")].rolloutState'
    # what DescribeServices says: the count an autoscaler set, a DAEMON service's from its nodes
    assert columns["Desired"]["jsonPath"] == ".status.desiredCount"
    assert {n for n, c in columns.items() if c.get("priority") == 1} == {"Revision ARN", "Message"}


def test_service_crd_spec_is_the_create_service_request(service_schema: dict[str, Any]) -> None:
    spec = service_schema["properties"]["spec"]
    assert list(spec["properties"]) == list(CreateServiceRequest.model_fields)
    assert spec["required"] == ["taskDefinition"]
    assert "x-kubernetes-preserve-unknown-fields" not in spec
    assert all(node.get("description") for node in spec["properties"].values())
    props = spec["properties"]
    assert props["cluster"]["default"] == "default"
    assert props["desiredCount"] == {**props["desiredCount"], "type": "integer", "minimum": 0}
    assert props["serviceName"]["pattern"] == "^[A-Za-z0-9_-]{1,255}$"
    assert props["taskDefinition"]["minLength"] == 1
    assert props["schedulingStrategy"]["enum"] == ["REPLICA", "DAEMON"]
    assert props["launchType"]["enum"] == ["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"]
    assert props["placementConstraints"]["maxItems"] == 10
    assert props["placementStrategy"]["maxItems"] == 5
    assert props["forceNewDeployment"]["type"] == "string"
    assert "starts a new deployment" in props["forceNewDeployment"]["description"]
    percents = props["deploymentConfiguration"]["properties"]
    assert percents["minimumHealthyPercent"] | {"minimum": 0, "maximum": 100} == percents["minimumHealthyPercent"]
    # ECS's defaults depend on schedulingStrategy; a static default would be wrong for DAEMON
    assert "default" not in percents["maximumPercent"]
    assert "default" not in percents["minimumHealthyPercent"]


def test_service_crd_is_structural_and_bounded(service_schema: dict[str, Any]) -> None:
    nodes = list(walk(service_schema, ""))
    untyped = [p for p, n in nodes if "type" not in n and not n.get("x-kubernetes-preserve-unknown-fields")]
    assert untyped == []
    preserved = [p for p, n in nodes if n.get("x-kubernetes-preserve-unknown-fields")]
    assert preserved == [".spec.deploymentConfiguration.lifecycleHooks[].hookDetails"]
    unbounded = [p for p, n in nodes if n.get("type") == "array" and "maxItems" not in n and ".status." not in p]
    assert unbounded == []
    status = service_schema["properties"]["status"]["properties"]
    assert (status["deployments"]["maxItems"], status["events"]["maxItems"]) == (20, 100)
    deployment = status["deployments"]["items"]["properties"]
    assert deployment["rolloutState"]["enum"] == ["COMPLETED", "FAILED", "IN_PROGRESS"]
    assert deployment["status"]["enum"] == ["PRIMARY", "ACTIVE", "INACTIVE"]
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]


def test_service_crd_rules_name_their_field(service_schema: dict[str, Any]) -> None:
    rules = service_schema["properties"]["spec"]["x-kubernetes-validations"]
    by_message = {r["message"]: r for r in rules}
    assert by_message["desiredCount is required unless schedulingStrategy is DAEMON"]["fieldPath"] == ".desiredCount"
    immutable = by_message["schedulingStrategy cannot be changed; create a new service"]
    assert "oldSelf" in immutable["rule"]
    for rule in rules:
        field = rule["fieldPath"].rsplit(".", 1)[-1]
        assert field in rule["message"], rule
        assert "messageExpression" not in rule


# --- ECSTask: models ----------------------------------------------------------------


def test_task_model_accepts_a_run_task_request_with_overrides() -> None:
    spec = TaskSpec.model_validate(RUN_TASK)
    assert TaskSpec is RunTaskRequest
    assert spec.overrides is not None and spec.overrides.containerOverrides is not None
    (app,) = spec.overrides.containerOverrides
    assert (app.name, app.command, app.memoryReservation) == ("app", ["migrate", "--to", "latest"], 512)
    assert app.environment is not None and app.environment[0].value == "debug"
    assert spec.overrides.ephemeralStorage is not None and spec.overrides.ephemeralStorage.sizeInGiB == 30
    assert spec.placementStrategy is not None and spec.placementStrategy[0].type == "spread"
    assert (spec.startedBy, spec.desiredStatus, spec.reason) == ("ci/deploy-2024_06_01", "RUNNING", None)


def test_task_model_needs_only_the_task_definition() -> None:
    spec = TaskSpec.model_validate({"taskDefinition": "web"})
    assert (spec.cluster, spec.desiredStatus, spec.group, spec.startedBy) == ("default", "RUNNING", None, None)
    stopped = TaskSpec.model_validate({"taskDefinition": "web", "desiredStatus": "STOPPED", "reason": "done"})
    assert (stopped.desiredStatus, stopped.reason) == ("STOPPED", "done")
    with pytest.raises(ValidationError) as failure:
        TaskSpec.model_validate({"cluster": "prod"})
    assert [(e["loc"], e["type"]) for e in failure.value.errors()] == [(("taskDefinition",), "missing")]


def test_task_model_rejects_unknown_keys_count_and_client_token() -> None:
    body = copy.deepcopy(RUN_TASK)
    body["count"] = 2
    body["clientToken"] = "abc"
    body["overrides"]["containerOverrides"][0]["comand"] = ["typo"]
    with pytest.raises(ValidationError) as failure:
        TaskSpec.model_validate(body)
    assert sorted((e["loc"], e["type"]) for e in failure.value.errors()) == [
        (("clientToken",), "extra_forbidden"),
        (("count",), "extra_forbidden"),
        (("overrides", "containerOverrides", 0, "comand"), "extra_forbidden"),
    ]


# --- ECSTask: CRD -------------------------------------------------------------------


def test_task_crd_names_subresources_and_columns(task_crd: dict[str, Any]) -> None:
    spec = task_crd["spec"]
    assert task_crd["metadata"]["name"] == "ecstasks.ecs.facade.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "ECSTask",
        "listKind": "ECSTaskList",
        "plural": "ecstasks",
        "singular": "ecstask",
        "shortNames": ["ecstask"],
        "categories": ["ecs"],
    }
    (version,) = spec["versions"]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Task Definition": ".spec.taskDefinition",
        "Last Status": ".status.lastStatus",
        "Exit Code": ".status.exitCode",
        "Started By": ".spec.startedBy",
        "Age": ".metadata.creationTimestamp",
    }


def test_task_crd_spec_is_the_run_task_request(task_schema: dict[str, Any]) -> None:
    spec = task_schema["properties"]["spec"]
    assert list(spec["properties"]) == list(RunTaskRequest.model_fields)
    assert "count" not in spec["properties"] and "clientToken" not in spec["properties"]
    assert spec["required"] == ["taskDefinition"]
    assert all(node.get("description") for node in spec["properties"].values())
    props = spec["properties"]
    assert props["cluster"]["default"] == "default"
    assert props["taskDefinition"]["minLength"] == 1
    assert props["startedBy"] | {"maxLength": 128, "pattern": "^[A-Za-z0-9_/-]{1,128}$"} == props["startedBy"]
    assert props["desiredStatus"] | {"enum": ["RUNNING", "STOPPED"], "default": "RUNNING"} == props["desiredStatus"]
    assert props["reason"]["maxLength"] == 255
    assert (props["placementConstraints"]["maxItems"], props["placementStrategy"]["maxItems"]) == (10, 5)
    container = props["overrides"]["properties"]["containerOverrides"]["items"]["properties"]
    assert container["environment"]["items"]["properties"]["name"]["type"] == "string"
    nodes = list(walk(task_schema, ""))
    assert [p for p, n in nodes if "type" not in n and not n.get("x-kubernetes-preserve-unknown-fields")] == []
    assert [p for p, n in nodes if n.get("x-kubernetes-preserve-unknown-fields")] == []
    assert [p for p, n in nodes if n.get("type") == "array" and "maxItems" not in n and ".status." not in p] == []


def test_task_crd_rules_keep_the_task_as_run(task_schema: dict[str, Any]) -> None:
    rules = task_schema["properties"]["spec"]["x-kubernetes-validations"]
    stopped, *immutable = rules
    assert stopped == {
        "rule": "!has(oldSelf.desiredStatus) || oldSelf.desiredStatus != 'STOPPED' || self.desiredStatus == 'STOPPED'",
        "message": "a STOPPED task cannot be started again: run a new task",
        "fieldPath": ".desiredStatus",
    }
    assert all("oldSelf" in r["rule"] for r in rules)  # transition rules: checked on update only
    assert {r["message"] for r in immutable} == {
        "ECS tasks cannot be changed after RunTask; only desiredStatus and reason can"
    }
    fields = [r["fieldPath"].removeprefix(".") for r in immutable]
    assert fields == [f for f in RunTaskRequest.model_fields if f not in ("desiredStatus", "reason")]
    for field in ("taskDefinition", "overrides", "cluster", "group", "startedBy"):
        assert field in fields
    assert {"placementConstraints", "placementStrategy"} <= set(fields)


def test_task_crd_status_is_like_describe_tasks(task_schema: dict[str, Any]) -> None:
    status = task_schema["properties"]["status"]["properties"]
    assert list(status) == [
        "observedGeneration",
        "taskArn",
        "taskDefinitionArn",
        "clusterArn",
        "capacityProviderName",
        "lastStatus",
        "desiredStatus",
        "stopCode",
        "stoppedReason",
        "exitCode",
        "healthStatus",
        "group",
        "startedBy",
        "createdAt",
        "pullStartedAt",
        "startedAt",
        "stoppingAt",
        "stoppedAt",
        "containers",
        "podName",
        "conditions",
    ]
    states = ["PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"]
    states.append("STOPPED")
    assert status["lastStatus"]["enum"] == status["desiredStatus"]["enum"] == states
    assert "EssentialContainerExited" in status["stopCode"]["enum"]
    assert status["healthStatus"]["enum"] == ["HEALTHY", "UNHEALTHY", "UNKNOWN"]
    assert status["exitCode"] | {"type": "integer", "format": "int32"} == status["exitCode"]
    assert {status[t]["format"] for t in ("createdAt", "pullStartedAt", "startedAt", "stoppingAt", "stoppedAt")} == {
        "date-time"
    }
    container = status["containers"]["items"]["properties"]
    assert set(container) == {"name", "image", "lastStatus", "exitCode", "reason", "healthStatus"}
    assert container["exitCode"]["format"] == "int32"
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
