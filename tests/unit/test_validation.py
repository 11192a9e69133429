"""Offline validation is the API server's: the CRDs' own schemas and CEL rules (ecs_facade.validation).

The parity tests prove that every x-kubernetes-validations rule of the four CRDs is compiled and
evaluated offline, the corpus tests that `render` and `convert` refuse what the API server (or the
operator) refuses and accept what it accepts.
"""

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecs_facade.api import KIND_CLUSTER, KIND_SERVICE, KIND_TASK, KIND_TASK_DEFINITION
from ecs_facade.cli import main
from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.validation import CRD_FILES, NOT_CHECKED, CrdValidator, SchemaError, validate, validator

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "corpus"
VALID = sorted((CORPUS / "valid").glob("*.json"))
INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))

# Refused by the API server (schema or CEL rule), so by `convert` too.
API_SERVER_REFUSES = {f"{n:02d}" for n in (*range(1, 23), 29, 30, 32)}
# Refused only by the operator's translator (InvalidSpec), so by `render` but not by `convert`.
OPERATOR_REFUSES = {"23", "24", "25", "26", "27", "28", "31", "33"}


# --- parity: every CEL rule of every CRD is compiled and evaluated offline ----------------


def crd_rules(kind: str) -> set[tuple[str, str]]:
    """(schema location, rule) of every x-kubernetes-validations entry under spec, read from crds/ directly."""
    crd = yaml.safe_load((REPO / "crds" / CRD_FILES[kind]).read_text())
    found: set[tuple[str, str]] = set()

    def walk(node: dict[str, Any], location: str) -> None:
        for entry in node.get("x-kubernetes-validations", []):
            found.add((location, entry["rule"]))
        for name, child in (node.get("properties") or {}).items():
            walk(child, f"{location}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{location}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{location}{{}}")

    walk(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"], ".spec")
    return found


CONTAINER = {
    "name": "app",
    "image": "nginx:1.27",
    "memory": 256,
    "memoryReservation": 512,  # fails: its messageExpression is evaluated
    "dependsOn": [{"containerName": "app", "condition": "START"}],  # fails: so is this one's
    "portMappings": [{"containerPort": 80, "hostPort": 80}],
}
# Objects that reach every node that has rules (a rule may fail: it is evaluated all the same);
# each is validated as an update of itself, so that transition rules (oldSelf) run too.
EVERY_RULE: dict[str, dict[str, Any]] = {
    KIND_TASK_DEFINITION: {
        "family": "parity",
        "networkMode": "awsvpc",
        "containerDefinitions": [CONTAINER],
        "taskDefinition": {"networkMode": "host", "containerDefinitions": [CONTAINER]},
        "deregisteredRevisions": [1],
    },
    KIND_SERVICE: {
        "taskDefinition": "web",
        "desiredCount": 1,
        "autoScaling": {
            "minCapacity": 1,
            "maxCapacity": 3,
            "targetTrackingScalingPolicies": [
                {
                    "policyName": "cpu",
                    "targetValue": 50,
                    "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"},
                }
            ],
            "stepScalingPolicies": [
                {
                    "policyName": "out",
                    "adjustmentType": "ChangeInCapacity",
                    "stepAdjustments": [{"scalingAdjustment": 1}],
                    "alarm": {
                        "comparisonOperator": "GreaterThanThreshold",
                        "threshold": 80,
                        "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"},
                    },
                }
            ],
        },
    },
    KIND_TASK: {"taskDefinition": "web", "group": "batch", "overrides": {"containerOverrides": [{"name": "app"}]}},
    KIND_CLUSTER: {
        "clusterName": "prod",
        "capacityProviders": ["spot"],
        "defaultCapacityProviderStrategy": [{"capacityProvider": "spot", "base": 1, "weight": 1}],
        "instanceSelector": {"matchExpressions": [{"key": "pool", "operator": "Exists"}]},
        "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]},
        "capacityProviderNodeGroups": [
            {
                "capacityProvider": "spot",
                "nodeSelector": {"matchExpressions": [{"key": "lifecycle", "operator": "In", "values": ["spot"]}]},
            }
        ],
    },
}


@pytest.mark.parametrize("kind", list(CRD_FILES))
def test_every_rule_of_the_crd_is_compiled_offline(kind: str) -> None:
    rules = {(r.location, r.rule) for r in validator(kind).rules}
    assert rules == crd_rules(kind)
    assert len(rules) >= 7


@pytest.mark.parametrize("kind", list(CRD_FILES))
def test_every_rule_of_the_crd_is_evaluated_offline(kind: str) -> None:
    spec = EVERY_RULE[kind]
    result = validate(kind, spec, old=copy.deepcopy(spec))
    assert not [p for p in result.problems if p.blocking or "evaluating rule" in p.message], result.problems
    assert {(r.location, r.rule) for r in result.evaluated} == crd_rules(kind)
    with_messages = {(r.location, r.rule) for r in validator(kind).rules if r.message_expression}
    assert {(r.location, r.rule) for r in result.messages_evaluated} == with_messages


def test_message_expressions_give_the_api_servers_words() -> None:
    result = validate(KIND_TASK_DEFINITION, {"containerDefinitions": [CONTAINER]})
    assert [str(p) for p in result.problems] == [
        'spec.containerDefinitions[app]: containerDefinitions: container "app": memoryReservation must not be'
        " greater than memory (the hard limit)",
        'spec.containerDefinitions[app].dependsOn: containerDefinitions: container "app" lists itself in dependsOn',
    ]


def test_transition_rules_run_on_updates_only() -> None:
    spec = {"containerDefinitions": [{"name": "a", "image": "x", "memory": 64}]}
    created = validate(KIND_TASK_DEFINITION, spec)
    assert created.ok
    assert not [r for r in created.evaluated if r.transition]
    undone = validate(KIND_TASK_DEFINITION, spec, old={**spec, "deregisteredRevisions": [1]})
    assert [str(p) for p in undone.problems] == [
        "spec.deregisteredRevisions: deregisteredRevisions: a deregistered (INACTIVE) revision cannot be made"
        " ACTIVE again"
    ]


def test_a_crd_with_a_keyword_or_rule_the_validator_cannot_check_is_refused() -> None:
    crd = yaml.safe_load((REPO / "crds" / CRD_FILES[KIND_TASK]).read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["group"]["uniqueItems"] = True
    with pytest.raises(SchemaError, match=r"\.spec\.group: schema keywords not checked offline: \['uniqueItems'\]"):
        CrdValidator(crd)
    del spec["properties"]["group"]["uniqueItems"]
    spec["x-kubernetes-validations"].append({"rule": "self.group ==", "message": "broken"})
    with pytest.raises(SchemaError, match="does not compile"):
        CrdValidator(crd)


def test_the_package_ships_the_crds_as_generated() -> None:
    package = REPO / "operator" / "ecs_facade" / "crds"
    for name in CRD_FILES.values():
        assert (package / name).read_text() == (REPO / "crds" / name).read_text(), name
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'ecs_facade = ["crds/*.yaml"]' in pyproject  # package data: installed with the CLI
    assert re.search(r'^\s*"cel-python[~=<>]', pyproject, re.M)


def example_objects() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((REPO / "examples").glob("**/*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") in CRD_FILES:
                yield f"{path.parent.name}/{path.name}: {document['kind']}", document


@pytest.mark.parametrize(("name", "document"), list(example_objects()), ids=[n for n, _ in example_objects()])
def test_the_examples_pass_offline_validation(name: str, document: dict[str, Any]) -> None:
    result = validate(document["kind"], document.get("spec") or {})
    assert result.ok, result.problems


def test_every_kind_has_an_example() -> None:
    assert {document["kind"] for _, document in example_objects()} == set(CRD_FILES)


# --- the API server's steps, in its order ---------------------------------------------


def problems(spec: Any) -> list[str]:
    return [str(p) for p in validate(KIND_TASK_DEFINITION, spec).problems]


def td(**container: Any) -> dict[str, Any]:
    return {"containerDefinitions": [{"name": "web", "image": "nginx:1.27", "memory": 256, **container}]}


def test_unknown_fields_are_refused_alone_as_strict_field_validation_does() -> None:
    spec = td(enviroment=[], cpu="lots")
    spec["famly"] = "x"
    assert problems(spec) == ["spec.containerDefinitions[web].enviroment: unknown field", "spec.famly: unknown field"]
    # where the schema preserves unknown fields (describe output's output-only keys), any is taken
    assert problems({**td(), "registeredAt": {"anything": [1, {"goes": None}]}}) == []


def test_nulls_are_absent_and_defaults_filled_in() -> None:
    assert problems({**td(memoryReservation=None, healthCheck=None), "family": None, "cpu": None}) == []
    service = validate(KIND_SERVICE, {"taskDefinition": "web", "desiredCount": None, "cluster": None})
    assert [str(p) for p in service.problems] == [
        "spec.desiredCount: desiredCount is required unless schedulingStrategy is DAEMON"
    ]
    task = validate(KIND_TASK, {"taskDefinition": "web"}, old={"taskDefinition": "web", "desiredStatus": "STOPPED"})
    # desiredStatus defaults to RUNNING, which a STOPPED task cannot go back to
    assert [str(p) for p in task.problems] == [
        "spec.desiredStatus: a STOPPED task cannot be started again: run a new task"
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            td(cpu="256"),
            'spec.containerDefinitions[web].cpu: Invalid value: "string": must be of type integer: "string"',
        ),
        (td(image=None), "spec.containerDefinitions[web].image: Required value"),
        (td(essential="yes"), 'spec.containerDefinitions[web].essential: Invalid value: "string": must be of type'),
        (
            {**td(), "networkMode": "default"},
            'spec.networkMode: Unsupported value: "default": supported values: "bridge", "host", "awsvpc", "none"',
        ),
        (
            {"containerDefinitions": [td()["containerDefinitions"][0] | {"name": f"c{i}"} for i in range(11)]},
            "spec.containerDefinitions: Too many: 11: must have at most 10 items",
        ),
        (
            td(dependsOn=[{"containerName": "x" * 256, "condition": "START"}]),
            "spec.containerDefinitions[web].dependsOn[0].containerName: Too long: may not be more than 255 bytes",
        ),
    ],
)
def test_type_required_enum_and_size_errors_stop_the_cel_rules(spec: dict[str, Any], message: str) -> None:
    spec["containerDefinitions"][0]["memoryReservation"] = 1024  # a CEL rule that would fail
    found = problems(spec)
    assert found[0].startswith(message)
    assert found[1:] == [f"spec: {NOT_CHECKED}"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (td(healthCheck={"command": ["CMD", "true"], "interval": 1}), "healthCheck.interval: Invalid value: 1:"),
        (td(portMappings=[{"containerPort": 70000}]), "portMappings[0].containerPort: Invalid value: 70000:"),
        ({**td(), "family": "my web app"}, 'spec.family: Invalid value: "my web app": should match \'^[A-Za-z'),
        ({**td(), "cpu": "lots"}, 'spec.cpu: Invalid value: "lots": should match'),
    ],
)
def test_value_errors_leave_the_cel_rules_running(spec: dict[str, Any], message: str) -> None:
    spec["containerDefinitions"][0]["memoryReservation"] = 1024
    found = problems(spec)
    assert len(found) == 2 and message in found[0], found
    assert "memoryReservation must not be greater than memory" in found[1]


def test_a_set_list_refuses_duplicates() -> None:
    spec = {**td(), "deregisteredRevisions": [1, 2, 1]}
    assert problems(spec) == ["spec.deregisteredRevisions[2]: Duplicate value: 1"]


@pytest.mark.parametrize("value", [512, "512", ".25 vcpu", "0.25 vCPU", "1 vCPU", " 2 VCPU ", "2 vcpus", "1024"])
def test_task_cpu_forms_ecs_accepts_pass(value: str | int) -> None:
    assert problems({**td(), "cpu": value}) == []


@pytest.mark.parametrize("value", [512, "512", ".5 gb", "1 GB", "0.5GB", "2gb", "2 GiB"])
def test_task_memory_forms_ecs_accepts_pass(value: str | int) -> None:
    assert problems({**td(), "memory": value}) == []


@pytest.mark.parametrize("value", ["lots", "1 core", "-1", "2 TB", "1,5 vcpu", "\u00bd vcpu", "\uff11 vcpu"])
def test_task_cpu_strings_ecs_refuses_are_refused(value: str) -> None:
    (found,) = problems({**td(), "cpu": value})
    assert found.startswith(f"spec.cpu: Invalid value: {json.dumps(value)}: should match")


@pytest.mark.parametrize(
    ("mode", "port", "refused"),
    [
        ("awsvpc", {"containerPort": 8080, "hostPort": 80}, True),
        ("awsvpc", {"containerPort": 8080, "hostPort": 8080}, False),
        ("awsvpc", {"containerPort": 8080, "hostPort": 0}, False),
        ("awsvpc", {"containerPort": 8080}, False),
        ("host", {"containerPort": 9100, "hostPort": 19100}, True),
        ("host", {"containerPort": 9100, "hostPort": 9100}, False),
        ("bridge", {"containerPort": 8080, "hostPort": 80}, False),
        (None, {"containerPort": 8080, "hostPort": 80}, False),  # bridge by default
    ],
)
def test_host_port_must_be_the_container_port_in_awsvpc_and_host_mode(
    mode: str | None, port: dict[str, int], refused: bool
) -> None:
    spec = td(portMappings=[port])
    if mode:
        spec["networkMode"] = mode
    found = problems(spec)
    if refused:
        assert found == [
            "spec.containerDefinitions: containerDefinitions[].portMappings[].hostPort: ECS requires hostPort to"
            f" equal containerPort or be omitted in {mode} mode"
            + (
                " (the task has its own network interface: no port is mapped)"
                if mode == "awsvpc"
                else " (the containers listen on the node's network: no port is mapped)"
            )
        ]
    else:
        assert found == []
    # the same rule inside describe-task-definition output
    wrapped = {"taskDefinition": spec}
    assert [p.removeprefix("spec.taskDefinition") for p in problems(wrapped)] == [p.removeprefix("spec") for p in found]


def test_numbers_are_doubles_in_cel_where_the_schema_says_number() -> None:
    spec = copy.deepcopy(EVERY_RULE[KIND_SERVICE])
    del spec["autoScaling"]["stepScalingPolicies"]
    spec["autoScaling"]["targetTrackingScalingPolicies"][0]["targetValue"] = 50  # an int in JSON
    assert validate(KIND_SERVICE, spec).ok


# --- the corpus: render and convert refuse what is refused and take what is taken ----


def expectation(path: Path) -> str:
    match = re.match(r"#\s*expect:\s*(.+)", path.read_text().splitlines()[0])
    assert match, f"{path.name} has no '# expect:' line"
    return match.group(1).strip()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_corpus_division_is_known() -> None:
    numbers = {p.name[:2] for p in INVALID}
    assert numbers >= API_SERVER_REFUSES | OPERATOR_REFUSES
    assert not API_SERVER_REFUSES & OPERATOR_REFUSES


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_corpus_is_refused_by_render_and_by_convert_when_the_api_server_refuses_it(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expect = expectation(path)
    spec = yaml.safe_load(path.read_text())["spec"]
    offline = validate(KIND_TASK_DEFINITION, spec)
    if path.name[:2] in API_SERVER_REFUSES:
        assert not offline.ok
    if path.name[:2] in OPERATOR_REFUSES:
        assert offline.ok, offline.problems
    if not offline.ok:
        assert expect.lower() in "\n".join(map(str, offline.problems)).lower()
    code, out, err = cli(capsys, "render", str(path))
    assert (code, out) == (1, ""), err
    assert expect.lower() in err.lower(), err
    code, out, err = cli(capsys, "convert", str(path))
    if offline.ok:
        assert code == 0, err  # the API server takes it; the operator refuses it (InvalidSpec)
    else:
        assert (code, out) == (1, "")
        assert expect.lower() in err.lower(), err


def corpus_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in VALID:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
        inner = raw.get("taskDefinition", raw)
        converted = parse_task_definition(raw, inner.get("family") or path.stem).model_dump(
            mode="json", exclude_none=True
        )
        yield f"{path.stem} as is", raw
        yield f"{path.stem} converted", converted


@pytest.mark.parametrize(("name", "spec"), list(corpus_specs()), ids=[n for n, _ in corpus_specs()])
def test_valid_corpus_passes_offline_validation(name: str, spec: dict[str, Any]) -> None:
    result = validate(KIND_TASK_DEFINITION, spec)
    assert result.ok, result.problems
    assert result.evaluated  # the rules ran


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_corpus_renders_and_converts(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "render", "--allow-host-path", str(path))
    assert code == 0, err
    assert list(yaml.safe_load_all(out))[-1]["kind"] == "Pod"
    code, out, err = cli(capsys, "convert", str(path))
    assert code == 0, err
    assert validate(KIND_TASK_DEFINITION, yaml.safe_load(out)["spec"]).ok
