"""Task definitions on a real API server: revisions, deregistration, the corpus, bad input."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.kube import Kubectl, bound_claim, condition, simulated_node, wait_for

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CLI = [sys.executable, "-m", "ecs_facade"]


def ecs_facade(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)


def apply(kubectl: Kubectl, namespace: str, manifest: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest)


def td_status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    return (kubectl.get("ecstaskdefinition", name, namespace) or {}).get("status") or {}


TASK_DEFINITION = """
apiVersion: ecs.facade.dev/v1alpha1
kind: ECSTaskDefinition
metadata: {{name: web}}
spec:
  containerDefinitions:
  - {{name: web, image: "nginx:{tag}", memory: 256}}
{extra}
"""


def test_edits_register_revisions_and_deregistration_is_honoured(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, TASK_DEFINITION.format(tag="1.26", extra=""))
    wait_for("revision 1", lambda: td_status(kubectl, namespace, "web").get("revision") == 1)
    apply(
        kubectl,
        namespace,
        "apiVersion: ecs.facade.dev/v1alpha1\nkind: ECSService\nmetadata: {name: pinned}\n"
        "spec: {taskDefinition: web, desiredCount: 1}",
    )
    wait_for(
        "the service on revision 1",
        lambda: (
            (kubectl.get("ecsservice", "pinned", namespace) or {})
            .get("status", {})
            .get("taskDefinition", "")
            .endswith("task-definition/web:1")
        ),
    )

    apply(kubectl, namespace, TASK_DEFINITION.format(tag="1.27", extra=""))
    status = wait_for("revision 2", lambda: (s := td_status(kubectl, namespace, "web")).get("revision") == 2 and s)
    assert status["family"] == "web"
    assert status["status"] == "ACTIVE"
    assert status["taskDefinitionArn"] == "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2"
    assert [(r["revision"], r["status"]) for r in status["revisions"]] == [(1, "ACTIVE"), (2, "ACTIVE")]

    # the columns people look at
    row = kubectl("get", "ecstaskdefinitions", "web", "-n", namespace, "--no-headers").split()
    assert row[:5] == ["web", "web", "2", "ACTIVE", "True"]  # NAME FAMILY REVISION STATUS READY

    # the old revision is still describable, with its own content
    old = kubectl.json("get", "controllerrevision", "web-1", "-n", namespace)
    assert old["revision"] == 1
    assert old["data"]["taskDefinition"]["containerDefinitions"][0]["image"] == "nginx:1.26"

    # applying the same content again registers nothing
    apply(kubectl, namespace, TASK_DEFINITION.format(tag="1.27", extra=""))
    assert td_status(kubectl, namespace, "web")["revision"] == 2

    # like ECS, a running service keeps its revision when a new one is registered
    deployment = kubectl.get("deployment", "pinned", namespace)
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"

    # deregister revision 1: INACTIVE; new services cannot use it; the running one is untouched
    apply(kubectl, namespace, TASK_DEFINITION.format(tag="1.27", extra="  deregisteredRevisions: [1]"))
    wait_for(
        "revision 1 INACTIVE",
        lambda: (
            [r["status"] for r in td_status(kubectl, namespace, "web").get("revisions", [])] == ["INACTIVE", "ACTIVE"]
        ),
    )
    apply(
        kubectl,
        namespace,
        "apiVersion: ecs.facade.dev/v1alpha1\nkind: ECSService\nmetadata: {name: late}\n"
        "spec: {taskDefinition: 'web:1', desiredCount: 1}",
    )
    ready = wait_for(
        "TaskDefinitionInactive",
        lambda: (
            (c := condition(kubectl.get("ecsservice", "late", namespace), "Ready"))
            and c["reason"] == "TaskDefinitionInactive"
            and c
        ),
    )
    assert "'web:1' is INACTIVE" in ready["message"]
    pinned = kubectl.get("deployment", "pinned", namespace)
    assert pinned is not None and pinned["metadata"]["uid"] == deployment["metadata"]["uid"]

    # deregistration is permanent, as in ECS: the API server refuses to undo it
    refused = kubectl.run("apply", "-n", namespace, "-f", "-", input=TASK_DEFINITION.format(tag="1.27", extra=""))
    assert refused.returncode != 0
    assert "cannot be made ACTIVE again" in refused.stderr
    assert [r["status"] for r in td_status(kubectl, namespace, "web")["revisions"]] == ["INACTIVE", "ACTIVE"]


def claims_of(pod: dict[str, Any]) -> list[str]:
    return [
        v["persistentVolumeClaim"]["claimName"] for v in pod["spec"].get("volumes", []) if "persistentVolumeClaim" in v
    ]


def test_corpus_converts_renders_applies_and_runs(kubectl: Kubectl, namespace: str) -> None:
    simulated_node(
        kubectl,
        "kwok-arm64",
        {
            "kubernetes.io/arch": "arm64",
            "node.kubernetes.io/instance-type": "m6g.4xlarge",
            "topology.kubernetes.io/zone": "us-east-1a",
        },
        {"cpu": "16", "memory": "64Gi", "pods": "110"},
    )
    simulated_node(
        kubectl,
        "kwok-gpu",
        {
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "g5.xlarge",
            "topology.kubernetes.io/zone": "us-east-1b",
        },
        {"cpu": "16", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": "4"},
    )
    # the Windows tasks (39 asks for the Windows Server 2019 build); the taint of the Kubernetes
    # Windows guide, which Windows pods tolerate, keeps the other tests' Linux pods off it
    simulated_node(
        kubectl,
        "kwok-windows",
        {
            "kubernetes.io/os": "windows",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/windows-build": "10.0.17763",
        },
        {"cpu": "8", "memory": "32Gi", "pods": "110"},
        taints=[{"key": "os", "value": "windows", "effect": "NoSchedule"}],
    )
    files = sorted((CORPUS / "valid").glob("*.json"))
    assert len(files) >= 25
    services = []
    for path in files:
        rendered = ecs_facade("render", "--allow-host-path", str(path))
        assert rendered.returncode == 0, f"{path.name}: {rendered.stderr}"
        pod = next(d for d in yaml.safe_load_all(rendered.stdout) if d["kind"] == "Pod")
        for claim in claims_of(pod):
            bound_claim(kubectl, namespace, claim)
        converted = ecs_facade("convert", str(path))
        assert converted.returncode == 0, f"{path.name}: {converted.stderr}"
        manifest = yaml.safe_load(converted.stdout)
        name = manifest["metadata"]["name"]
        # default (strict) field validation: output-only keys and nulls must not fail the apply
        apply(kubectl, namespace, converted.stdout)
        # and the original file, unconverted, as the spec of an object: the describe-output form too
        raw = json.loads(path.read_text(encoding="utf-8-sig"))  # JSON: YAML refuses 34's tab indentation
        apply(
            kubectl,
            namespace,
            yaml.safe_dump(
                {
                    "apiVersion": "ecs.facade.dev/v1alpha1",
                    "kind": "ECSTaskDefinition",
                    "metadata": {"name": f"raw-{name}"[:253]},
                    "spec": raw,
                }
            ),
        )
        family = manifest["spec"]["family"]
        apply(
            kubectl,
            namespace,
            yaml.safe_dump(
                {
                    "apiVersion": "ecs.facade.dev/v1alpha1",
                    "kind": "ECSService",
                    "metadata": {"name": name},
                    "spec": {"taskDefinition": family, "desiredCount": 1},
                }
            ),
        )
        services.append((path.name, name))

    def not_ready() -> list[tuple[str, Any]]:
        pending = []
        for file, name in services:
            service = kubectl.get("ecsservice", name, namespace) or {}
            if (service.get("status") or {}).get("runningCount") != 1:
                pending.append((file, (condition(service, "Ready") or {}).get("message")))
        return pending

    pending: list[tuple[str, Any]] = []

    def all_running() -> bool:
        pending[:] = not_ready()
        return not pending

    try:
        wait_for("every corpus task Running", all_running, timeout=240)
    except AssertionError as error:
        raise AssertionError(f"{error}; not running: {pending}") from None
    # what Kubernetes cannot express is visible: a condition and a Warning event
    ignored = condition(kubectl.get("ecstaskdefinition", "search-node", namespace), "FieldsIgnored")
    assert ignored is not None and ignored["status"] == "True", ignored
    assert "ulimits" in ignored["message"]
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=search-node")
    warnings = [e for e in events["items"] if e["type"] == "Warning" and e["reason"] == "FieldsIgnored"]
    assert warnings and "ulimits" in warnings[0]["message"]
    # the unconverted copies registered too, as revision 1 of their own object
    for _, name in services:
        status = td_status(kubectl, namespace, f"raw-{name}"[:253])
        assert status.get("revision") == 1, (name, status)
        ready = condition({"status": status}, "Ready")
        assert ready is not None and ready["status"] == "True", (name, ready)


def expectation(path: Path) -> str:
    match = re.match(r"#\s*expect:\s*(.+)", path.read_text().splitlines()[0])
    assert match, f"{path.name} has no '# expect:' line"
    return match.group(1).strip().lower()


def test_malformed_task_definitions_are_rejected_with_a_message_naming_the_problem(
    kubectl: Kubectl, namespace: str
) -> None:
    files = sorted((CORPUS / "invalid").glob("*.yaml"))
    assert len(files) >= 20
    accepted: list[tuple[Path, str]] = []
    problems: list[str] = []
    for path in files:
        expect = expectation(path)
        result = kubectl.run("apply", "-n", namespace, "-f", str(path))
        if result.returncode != 0:
            # the message itself, without kubectl's 'The ECSTaskDefinition "x" is invalid:' prefix
            message = re.sub(r'^.*?ECSTaskDefinition "[^"]*" is invalid:', "", result.stderr, flags=re.S)
            if expect not in message.lower():
                problems.append(f"{path.name}: {expect!r} not in API server message {message.strip()!r}")
        else:
            accepted.append((path, expect))
    for path, expect in accepted:
        name = yaml.safe_load(path.read_text())["metadata"]["name"]

        def invalid(name: str = name) -> dict[str, Any] | None:
            ready = condition(kubectl.get("ecstaskdefinition", name, namespace), "Ready")
            return ready if ready and ready["reason"] == "InvalidSpec" else None

        try:
            ready = wait_for(f"{path.name}: Ready=False InvalidSpec", invalid, timeout=30)
        except AssertionError as error:
            problems.append(str(error))
            continue
        if expect not in ready["message"].lower():
            problems.append(f"{path.name}: {expect!r} not in operator message {ready['message']!r}")
        if td_status(kubectl, namespace, name).get("revision") is not None:
            problems.append(f"{path.name} registered a revision")
    assert not problems, "\n".join(problems)
    print(f"{len(files) - len(accepted)} rejected by the API server, {len(accepted)} by the operator")
