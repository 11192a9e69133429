"""The ECS API driven by the real `aws` CLI (v1, in its own virtual environment: hack/awscli.sh),
as a user's script would: a task definition from a JSON file, a cluster and its instances, a
service waited on with `aws ecs wait services-stable`, an update to a new revision, the lists,
and everything deleted; each step also checked with kubectl (the custom resources are the
only truth the API has).

The CLI acts in the namespace ``ecsapi-awscli`` by signing for a region of that name
(docs/ecs-api.md, "The namespace a request acts in").
"""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.ecs_api import AWSCLI_NAMESPACE, EcsApi, run_aws
from tests.e2e.kube import Kubectl, simulated_node, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "valid"
NS = AWSCLI_NAMESPACE
CLUSTER = "cli-cluster"
NODES = ("ecsapi-cli-0", "ecsapi-cli-1")
CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110"}


class Aws:
    """`aws --endpoint-url <the fixture's> --region <namespace> ...` with the team key."""

    def __init__(self, binary: Path, api: EcsApi, namespace: str = NS) -> None:
        self.binary = binary
        self.env = api.sdk_env(namespace=namespace)
        self.base = ("--endpoint-url", api.endpoint, "--region", namespace)

    def __call__(self, *args: str, timeout: float = 120) -> Any:
        result = run_aws(self.binary, self.env, *self.base, *args, timeout=timeout)
        assert result.returncode == 0, f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr}"
        return result.json()

    def fails(self, *args: str) -> str:
        result = run_aws(self.binary, self.env, *self.base, *args)
        assert result.returncode != 0, f"aws {' '.join(args)} succeeded: {result.stdout}"
        return result.stderr


@pytest.fixture
def aws(aws_cli: Path, ecs_api_logs: EcsApi) -> Aws:
    return Aws(aws_cli, ecs_api_logs)


def corpus_task_definition(tmp_path: Path, color: str) -> Path:
    """tests/corpus/valid/01 (a web container with an OpenTelemetry sidecar, health check,
    awslogs), with one environment value changed per revision: the file the CLI reads."""
    document = json.loads((CORPUS / "01-web-metrics-sidecar.json").read_text())
    for entry in document["containerDefinitions"][0]["environment"]:
        if entry["name"] == "PODINFO_UI_COLOR":
            entry["value"] = color
    path = tmp_path / f"td-{color.strip('#')}.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def deployment_replicas(kubectl: Kubectl, name: str) -> Any:
    deployment = kubectl.get("deployment", name, NS) or {}
    return (deployment.get("spec") or {}).get("replicas")


def running_pods(kubectl: Kubectl, service: str) -> list[dict[str, Any]]:
    pods = kubectl.json("get", "pods", "-n", NS, "-l", f"ecs.facade.dev/service={service}")["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def test_aws_cli_service_lifecycle(aws: Aws, kubectl: Kubectl, tmp_path: Path) -> None:
    # the quick start of docs/ecs-api.md: the CLI reaches the API and is answered
    listed = aws("ecs", "list-clusters")
    assert "clusterArns" in listed, listed

    # register-task-definition from a JSON file, as scripts keep them
    registered = aws(
        "ecs", "register-task-definition", "--cli-input-json", f"file://{corpus_task_definition(tmp_path, '#34577c')}"
    )["taskDefinition"]
    assert registered["family"] == "storefront-web" and registered["revision"] == 1, registered
    assert registered["taskDefinitionArn"].endswith(":task-definition/storefront-web:1")
    assert registered["status"] == "ACTIVE"
    td = kubectl.get("ecstaskdefinition", "storefront-web", NS)
    assert td is not None, "RegisterTaskDefinition made no ECSTaskDefinition"
    assert [c["name"] for c in td["spec"]["containerDefinitions"]] == ["web", "aws-otel-collector"]
    assert td["spec"]["containerDefinitions"][0]["image"] == "ghcr.io/stefanprodan/podinfo:6.7.0"
    wait_for(
        "revision 1 written by the operator",
        lambda: kubectl.get("controllerrevision", "storefront-web-1", NS),
        timeout=60,
    )

    # create-cluster; its container instances are nodes that join it (as ECS_CLUSTER does)
    cluster = aws("ecs", "create-cluster", "--cluster-name", CLUSTER, "--tags", "key=team,value=storefront")["cluster"]
    assert cluster["clusterName"] == CLUSTER and cluster["status"] == "ACTIVE", cluster
    made = kubectl.json("get", "ecscluster", CLUSTER)
    assert made["spec"]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": NS}}
    assert made["spec"]["tags"] == [{"key": "team", "value": "storefront"}]
    for node in NODES:
        simulated_node(kubectl, node, {"ecs.facade.dev/cluster": CLUSTER}, CAPACITY)

    # create-service, then the CLI's own waiter
    created = aws(
        "ecs", "create-service", "--cluster", CLUSTER, "--service-name", "storefront",
        "--task-definition", "storefront-web:1", "--desired-count", "2",
        "--deployment-configuration", "maximumPercent=200,minimumHealthyPercent=50",
    )["service"]  # fmt: skip
    assert created["serviceName"] == "storefront" and created["desiredCount"] == 2, created
    assert created["taskDefinition"].endswith(":task-definition/storefront-web:1")
    service = kubectl.get("ecsservice", "storefront", NS)
    assert service is not None, "CreateService made no ECSService"
    assert service["spec"]["cluster"] == CLUSTER
    assert service["spec"]["desiredCount"] == 2
    assert service["spec"]["taskDefinition"] == "storefront-web:1"
    assert service["spec"]["deploymentConfiguration"] == {"maximumPercent": 200, "minimumHealthyPercent": 50}
    aws("ecs", "wait", "services-stable", "--cluster", CLUSTER, "--services", "storefront", timeout=300)
    assert deployment_replicas(kubectl, "storefront") == 2
    pods = running_pods(kubectl, "storefront")
    assert len(pods) == 2 and {p["spec"]["nodeName"] for p in pods} <= set(NODES), pods

    # a new revision, the service moved to it, waited on again
    second = aws(
        "ecs", "register-task-definition", "--cli-input-json", f"file://{corpus_task_definition(tmp_path, '#ff0000')}"
    )["taskDefinition"]
    assert second["revision"] == 2
    updated = aws(
        "ecs", "update-service", "--cluster", CLUSTER, "--service", "storefront",
        "--task-definition", "storefront-web:2", "--desired-count", "3",
    )["service"]  # fmt: skip
    assert updated["desiredCount"] == 3
    service = kubectl.get("ecsservice", "storefront", NS) or {}
    assert service["spec"]["taskDefinition"] == "storefront-web:2"
    assert service["spec"]["desiredCount"] == 3
    aws("ecs", "wait", "services-stable", "--cluster", CLUSTER, "--services", "storefront", timeout=300)
    assert deployment_replicas(kubectl, "storefront") == 3
    pods = running_pods(kubectl, "storefront")
    assert len(pods) == 3
    for pod in pods:
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env") or []}
        assert env.get("PODINFO_UI_COLOR") == "#ff0000", (pod["metadata"]["name"], env)

    # describe-services: the new revision, one deployment, the counts
    (described,) = aws("ecs", "describe-services", "--cluster", CLUSTER, "--services", "storefront")["services"]
    assert described["taskDefinition"].endswith(":task-definition/storefront-web:2")
    assert (described["desiredCount"], described["runningCount"]) == (3, 3)
    assert len(described["deployments"]) == 1 and described["deployments"][0]["status"] == "PRIMARY"
    assert described["status"] == "ACTIVE"

    # the lists
    clusters = aws("ecs", "list-clusters")["clusterArns"]
    assert any(arn.endswith(f":cluster/{CLUSTER}") for arn in clusters), clusters
    services = aws("ecs", "list-services", "--cluster", CLUSTER)["serviceArns"]
    assert [arn.rsplit("/", 1)[1] for arn in services] == ["storefront"]
    revisions = aws("ecs", "list-task-definitions", "--family-prefix", "storefront-web")["taskDefinitionArns"]
    assert [arn.rsplit(":", 1)[1] for arn in revisions] == ["1", "2"]
    families = aws("ecs", "list-task-definition-families")["families"]
    assert "storefront-web" in families

    # a cluster with a service is not deleted (ECS: ClusterContainsServicesException)
    refused = aws.fails("ecs", "delete-cluster", "--cluster", CLUSTER)
    assert "ClusterContainsServicesException" in refused, refused
    assert kubectl.json("get", "ecscluster", CLUSTER)["metadata"]["name"] == CLUSTER

    # delete-service --force: gone, and its Deployment with it
    deleted = aws("ecs", "delete-service", "--cluster", CLUSTER, "--service", "storefront", "--force")["service"]
    assert deleted["serviceName"] == "storefront"
    wait_for("the ECSService gone", lambda: kubectl.get("ecsservice", "storefront", NS) is None, timeout=120)
    wait_for("the Deployment gone", lambda: kubectl.get("deployment", "storefront", NS) is None, timeout=120)

    # the instances leave (the EC2 instances terminated), then the cluster can go
    for node in NODES:
        kubectl("delete", "node", node, "--wait=true")

    def cluster_deleted() -> Any:
        result = run_aws(aws.binary, aws.env, *aws.base, "ecs", "delete-cluster", "--cluster", CLUSTER)
        return result.json()["cluster"] if result.returncode == 0 else None

    gone = wait_for("delete-cluster to succeed", cluster_deleted, timeout=120, interval=2)
    assert gone["status"] == "INACTIVE"
    wait_for("the ECSCluster gone", lambda: not kubectl("get", "ecscluster", CLUSTER, "--ignore-not-found").strip())
    revisions_left = aws("ecs", "deregister-task-definition", "--task-definition", "storefront-web:1")
    assert revisions_left["taskDefinition"]["status"] == "INACTIVE"


def test_aws_cli_errors_are_ecs_exceptions(aws: Aws, kubectl: Kubectl) -> None:
    """The CLI prints the exception name the server gave, as it does for ECS."""
    missing = aws.fails("ecs", "describe-services", "--cluster", "no-such-cluster", "--services", "web")
    assert "ClusterNotFoundException" in missing, missing
    invalid = aws.fails("ecs", "create-service", "--service-name", "x", "--desired-count", "1")
    assert "InvalidParameterException" in invalid, invalid
    assert kubectl.get("ecsservice", "x", NS) is None


def test_aws_cli_run_task_with_overrides_waits_for_its_exit_code(aws: Aws, kubectl: Kubectl, tmp_path: Path) -> None:
    """run-task with --overrides from a file, `aws ecs wait tasks-stopped`, the exit code read."""
    labels = {"ecs.facade.dev/simulate-exit-code": "4", "ecs.facade.dev/simulate-exit-after-ms": "1000"}
    job = {
        "family": "cli-job",
        "containerDefinitions": [{"name": "job", "image": "example/job:1", "memory": 64, "dockerLabels": labels}],
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    aws("ecs", "register-task-definition", "--cli-input-json", f"file://{tmp_path / 'job.json'}")
    overrides = {"containerOverrides": [{"name": "job", "environment": [{"name": "BATCH", "value": "7"}]}]}
    (tmp_path / "overrides.json").write_text(json.dumps(overrides))
    (task,) = aws(
        "ecs", "run-task", "--cluster", "default", "--task-definition", "cli-job",
        "--started-by", "aws-cli", "--overrides", f"file://{tmp_path / 'overrides.json'}",
    )["tasks"]  # fmt: skip
    made = [t for t in kubectl.json("get", "ecstasks", "-n", NS)["items"] if t["spec"].get("startedBy") == "aws-cli"]
    assert len(made) == 1, made
    (override,) = made[0]["spec"]["overrides"]["containerOverrides"]
    assert (override["name"], override["environment"]) == ("job", [{"name": "BATCH", "value": "7"}]), override
    aws("ecs", "wait", "tasks-stopped", "--cluster", "default", "--tasks", task["taskArn"], timeout=180)
    (stopped,) = aws("ecs", "describe-tasks", "--cluster", "default", "--tasks", task["taskArn"])["tasks"]
    assert stopped["lastStatus"] == "STOPPED" and stopped["containers"][0]["exitCode"] == 4, stopped
    aws("ecs", "deregister-task-definition", "--task-definition", "cli-job:1")
