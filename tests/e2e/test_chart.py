"""The Helm chart on a real API server: lint, server-side dry run, install into a namespace
that enforces the "restricted" Pod Security Standard, upgrade, uninstall, refused values,
and the operator's RBAC denying what it does not need."""

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import (
    CHART,
    OPERATOR_ACCOUNT,
    OPERATOR_NAMESPACE,
    helm_binary,
    server_version,
)
from tests.e2e.kube import Kubectl, wait_for

pytestmark = pytest.mark.e2e

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


def helm(kubectl: Kubectl, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [helm_binary(kubectl), "--kubeconfig", kubectl.kubeconfig, *args], capture_output=True, text=True, timeout=180
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


@pytest.fixture
def release_namespace(kubectl: Kubectl) -> Iterator[str]:
    """A namespace that enforces the restricted Pod Security Standard."""
    name = f"chart-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted")
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.parametrize("values", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_helm_lint_is_clean(kubectl: Kubectl, values: Path) -> None:
    result = helm(kubectl, "lint", "--strict", str(CHART), "-f", str(values))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout, result.stdout


@pytest.mark.parametrize("values", CI_VALUES, ids=[p.name for p in CI_VALUES])
def test_rendered_chart_passes_a_server_side_dry_run(kubectl: Kubectl, values: Path) -> None:
    for namespace in ("team-a", "team-b", "dry-run"):  # namespaced-values.yaml binds in team-a and team-b
        kubectl("create", "namespace", namespace, check=False)
    rendered = helm(
        kubectl, "template", "dry", str(CHART), "-n", "dry-run", "-f", str(values),
        "--kube-version", server_version(kubectl), "--include-crds",
    ).stdout  # fmt: skip
    out = kubectl("apply", "--dry-run=server", "--server-side", "-f", "-", input=rendered)
    kinds = {line.split("/")[0] for line in out.splitlines() if line.strip()}
    assert {
        "deployment.apps",
        "clusterrole.rbac.authorization.k8s.io",
        "customresourcedefinition.apiextensions.k8s.io",
    } <= kinds, out


def manifest_objects(kubectl: Kubectl, release: str, namespace: str) -> list[dict[str, Any]]:
    text = helm(kubectl, "get", "manifest", release, "-n", namespace).stdout
    return [d for d in yaml.safe_load_all(text) if d]


def test_install_upgrade_uninstall_in_a_restricted_namespace(kubectl: Kubectl, release_namespace: str) -> None:
    release = "chart-e2e"
    helm(kubectl, "install", release, str(CHART), "-n", release_namespace, "--wait=false")
    objects = manifest_objects(kubectl, release, release_namespace)
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]
    for obj in objects:
        scope = ["-n", obj["metadata"].get("namespace", release_namespace)] if "Cluster" not in obj["kind"] else []
        assert kubectl("get", obj["kind"], obj["metadata"]["name"], *scope, "-o", "name").strip(), obj["kind"]

    # the restricted Pod Security Standard admits the operator pod as the defaults make it
    pods = wait_for(
        "the operator pod (admitted under enforce=restricted)",
        lambda: kubectl.json("get", "pods", "-n", release_namespace, "-l", f"app.kubernetes.io/instance={release}")[
            "items"
        ],
        timeout=60,
    )
    (pod,) = pods
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["args"][:3] == ["run", "--liveness=http://0.0.0.0:8080/healthz", "--leader-elect"]
    refused = [
        e["message"]
        for e in kubectl.json("get", "events", "-n", release_namespace)["items"]
        if e["reason"] == "FailedCreate"
    ]
    assert not refused, refused

    # upgrade with changed values: two replicas, debug logs, no metrics Service
    helm(
        kubectl, "upgrade", release, str(CHART), "-n", release_namespace, "--wait=false",
        "--set", "replicaCount=2", "--set", "logLevel=debug", "--set", "metrics.enabled=false",
    )  # fmt: skip
    deployment = kubectl.json("get", "deployment", "chart-e2e-ecs-facade", "-n", release_namespace)
    assert deployment["spec"]["replicas"] == 2
    assert "--debug" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert kubectl.get("service", "chart-e2e-ecs-facade-metrics", release_namespace) is None
    history = json.loads(helm(kubectl, "history", release, "-n", release_namespace, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2]

    # a pod the restricted standard refuses is refused: the label really is enforced
    helm(
        kubectl, "upgrade", release, str(CHART), "-n", release_namespace, "--wait=false", "--reuse-values",
        "--set", "securityContext.allowPrivilegeEscalation=true",
    )  # fmt: skip
    wait_for(
        "the privileged pod to be refused",
        lambda: any(
            "violates PodSecurity" in e["message"]
            for e in kubectl.json("get", "events", "-n", release_namespace)["items"]
            if e["reason"] == "FailedCreate"
        ),
        timeout=60,
    )

    helm(kubectl, "uninstall", release, "-n", release_namespace)
    for obj in objects:
        scope = ["-n", obj["metadata"].get("namespace", release_namespace)] if "Cluster" not in obj["kind"] else []
        gone = kubectl("get", obj["kind"], obj["metadata"]["name"], *scope, "--ignore-not-found", "-o", "name")
        assert not gone.strip(), f"{obj['kind']} {obj['metadata']['name']} left after uninstall"
    # CRDs stay (Helm never deletes crds/): the users' ECS objects survive an uninstall
    assert kubectl("get", "crd", "ecsservices.ecs.facade.dev", "-o", "name").strip()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["--set", "replicaCount=two"], "replicaCount"),
        (["--set", "logLevel=loud"], "logLevel"),
        (["--set", "arn.accountId=12"], "accountId"),
        (["--set", "unknownKey=1"], "unknownKey"),
        # removed with the budgets' delay (issue 27): a values file that still sets it is refused
        (["--set", "disruptionBudgets=draining"], "disruptionBudgets"),
    ],
    ids=[
        "replicas-not-a-number",
        "unknown-log-level",
        "short-account-id",
        "unknown-key",
        "removed-budget-mode",
    ],
)
def test_values_that_break_the_schema_are_refused(kubectl: Kubectl, values: list[str], message: str) -> None:
    result = helm(kubectl, "install", "bad", str(CHART), "-n", "default", "--dry-run=server", *values, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("patch", "nodes", "yes"),
        ("patch", "deployments.apps", "yes"),
        ("create", "pods/eviction", "yes"),
        ("delete", "nodes", "no"),
        ("delete", "deployments.apps", "no"),
        ("update", "deployments.apps", "no"),
        ("create", "ecstasks.ecs.facade.dev", "no"),
        ("get", "secrets", "no"),
        ("create", "clusterroles.rbac.authorization.k8s.io", "no"),
        ("delete", "ecsclusters.ecs.facade.dev", "no"),
    ],
)
def test_operator_account_has_only_what_it_uses(
    kubectl: Kubectl, operator_kubeconfig: Path, verb: str, resource: str, allowed: str
) -> None:
    # operator_kubeconfig: the chart's RBAC for the operator's account is in place (run alone too)
    account = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}"
    result = kubectl.run("auth", "can-i", verb, resource, "--as", account, "-A")
    assert result.stdout.strip() == allowed, result.stdout + result.stderr


def test_a_request_the_operator_does_not_need_is_forbidden(kubectl: Kubectl, operator_kubeconfig: Path) -> None:
    as_operator = Kubectl(kubectl.binary, str(operator_kubeconfig))
    result = as_operator.run("delete", "node", "kwok-node-0", "--dry-run=server")
    assert result.returncode != 0
    assert "Forbidden" in result.stderr and 'cannot delete resource "nodes"' in result.stderr, result.stderr
    secrets = as_operator.run("get", "secrets", "-A")
    assert secrets.returncode != 0 and "Forbidden" in secrets.stderr


@pytest.mark.parametrize(
    ("election", "message"),
    [
        ('{"leaseDurationSeconds": 10, "renewDeadlineSeconds": 10}', "renewDeadlineSeconds must be less than"),
        ('{"renewDeadlineSeconds": 5, "retryPeriodSeconds": 5}', "retryPeriodSeconds must be less than"),
    ],
    ids=["deadline-not-shorter-than-lease", "retry-not-shorter-than-deadline"],
)
def test_leader_election_timings_that_allow_two_leaders_are_refused(
    kubectl: Kubectl, election: str, message: str
) -> None:
    """A leader must stop before a standby may start (docs/reliability.md): the chart refuses
    what the operator would refuse at start."""
    result = helm(
        kubectl, "template", "bad", str(CHART), "--kube-version", server_version(kubectl),
        "--set-json", f"leaderElection={election}", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
