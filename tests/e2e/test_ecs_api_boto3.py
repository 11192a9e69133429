"""The ECS API and Application Auto Scaling driven by real boto3, as a deployment script would:
a task definition, a cluster with its instances, a service waited on with the
``services_stable`` waiter and moved to a new revision, a task run with overrides and waited
on with ``tasks_stopped`` (its exit code read), an instance drained, the service scaled by
Application Auto Scaling, everything deleted; and the errors clients catch by class. Each step
is also checked with kubectl: the custom resources are the only truth the API has.

boto3 acts with the team key signed for ``us-east-1`` (an AWS region: the key's home
namespace, ``ecsapi-boto3``), as an unchanged AWS profile would.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.e2e.ecs_api import BOTO3_NAMESPACE, ApiKey, EcsApi
from tests.e2e.kube import Kubectl, simulated_node, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "valid"
NS = BOTO3_NAMESPACE
CLUSTER = "boto3-cluster"
NODES = ("ecsapi-boto3-0", "ecsapi-boto3-1")
CAPACITY = {"cpu": "8", "memory": "32Gi", "pods": "110"}
RESOURCE_ID = f"service/{CLUSTER}/orders"
DIMENSION = "ecs:service:DesiredCount"
# waiters poll every 2 s instead of the SDK's 6/15 s; the attempts bound each wait
FAST = {"Delay": 2, "MaxAttempts": 90}
SIMULATE_EXIT = "ecs.facade.dev/simulate-exit-code"  # kwok ends the container with this code
SIMULATE_AFTER = "ecs.facade.dev/simulate-exit-after-ms"


@pytest.fixture
def api(ecs_api_logs: EcsApi) -> EcsApi:
    return ecs_api_logs


@pytest.fixture
def ecs(api: EcsApi) -> Any:
    return api.boto3_client("ecs")


@pytest.fixture
def autoscaling(api: EcsApi) -> Any:
    return api.boto3_client("application-autoscaling")


def orders_task_definition(revision_note: str) -> dict[str, Any]:
    """tests/corpus/valid/14 (a minimal Fargate web task), renamed, with an environment value
    that tells its revisions apart: the RegisterTaskDefinition request."""
    document = json.loads((CORPUS / "14-fargate-minimal-256.json").read_text())
    document["family"] = "orders"
    document["containerDefinitions"][0]["environment"] = [{"name": "RELEASE", "value": revision_note}]
    return dict(document)


def service_pods(kubectl: Kubectl, service: str) -> list[dict[str, Any]]:
    pods = kubectl.json("get", "pods", "-n", NS, "-l", f"ecs.facade.dev/service={service}")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def running(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if p["status"].get("phase") == "Running"]


def replicas(kubectl: Kubectl, name: str) -> Any:
    return ((kubectl.get("deployment", name, NS) or {}).get("spec") or {}).get("replicas")


def error_code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


@pytest.fixture
def cluster_with_instances(ecs: Any, kubectl: Kubectl) -> Iterator[str]:
    """CreateCluster, and two simulated nodes that join it (ECS_CLUSTER in the agent's config);
    whatever the test left is removed after it."""
    created = ecs.create_cluster(clusterName=CLUSTER, tags=[{"key": "team", "value": "orders"}])["cluster"]
    assert created["clusterName"] == CLUSTER and created["status"] == "ACTIVE", created
    made = kubectl.json("get", "ecscluster", CLUSTER)
    assert made["spec"]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": NS}}
    for node in NODES:
        simulated_node(kubectl, node, {"ecs.facade.dev/cluster": CLUSTER}, CAPACITY)
    yield CLUSTER
    kubectl("delete", "ecsservice", "--all", "-n", NS, "--wait=true", check=False)
    for node in NODES:
        kubectl("delete", "node", node, "--ignore-not-found", check=False)
    kubectl("delete", "ecscluster", CLUSTER, "--ignore-not-found", "--wait=false", check=False)


def test_boto3_service_lifecycle_drain_and_autoscaling(
    ecs: Any, autoscaling: Any, kubectl: Kubectl, cluster_with_instances: str
) -> None:
    # RegisterTaskDefinition
    first = ecs.register_task_definition(**orders_task_definition("1"))["taskDefinition"]
    assert (first["family"], first["revision"], first["status"]) == ("orders", 1, "ACTIVE"), first
    td = kubectl.get("ecstaskdefinition", "orders", NS)
    assert td is not None and td["spec"]["cpu"] == "256" and td["spec"]["memory"] == "512", td

    # CreateService + services_stable
    created = ecs.create_service(
        cluster=CLUSTER,
        serviceName="orders",
        taskDefinition="orders",
        desiredCount=2,
        deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 50},
        placementStrategy=[{"type": "spread", "field": "instanceId"}],
    )["service"]
    assert created["taskDefinition"].endswith(":task-definition/orders:1"), created
    service = kubectl.get("ecsservice", "orders", NS)
    assert service is not None, "CreateService made no ECSService"
    assert (service["spec"]["cluster"], service["spec"]["desiredCount"]) == (CLUSTER, 2)
    ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["orders"], WaiterConfig=FAST)
    assert replicas(kubectl, "orders") == 2
    assert sorted(p["spec"]["nodeName"] for p in running(service_pods(kubectl, "orders"))) == list(NODES)

    # a new revision; UpdateService to it; services_stable again
    second = ecs.register_task_definition(**orders_task_definition("2"))["taskDefinition"]
    assert second["revision"] == 2
    ecs.update_service(cluster=CLUSTER, service="orders", taskDefinition="orders:2")
    assert (kubectl.get("ecsservice", "orders", NS) or {})["spec"]["taskDefinition"] == "orders:2"
    ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["orders"], WaiterConfig=FAST)
    (described,) = ecs.describe_services(cluster=CLUSTER, services=["orders"])["services"]
    assert described["taskDefinition"].endswith(":task-definition/orders:2"), described
    assert (described["runningCount"], len(described["deployments"])) == (2, 1), described

    def releases() -> set[str]:
        pods = running(service_pods(kubectl, "orders"))
        return {e["value"] for p in pods for e in p["spec"]["containers"][0].get("env") or [] if e["name"] == "RELEASE"}

    # the old deployment's last task may still be stopping when the status says stable (the
    # operator counts from the ReplicaSets): a few seconds at most
    wait_for("only revision 2's tasks", lambda: releases() == {"2"}, timeout=15)

    # the service's tasks through ListTasks/DescribeTasks: on the two instances
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName="orders")["taskArns"]
    assert len(arns) == 2, arns
    tasks = ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}, tasks
    assert {t["group"] for t in tasks} == {"service:orders"}

    # drain the first instance: UpdateContainerInstancesState DRAINING
    instance_arns = ecs.list_container_instances(cluster=CLUSTER)["containerInstanceArns"]
    instances = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=instance_arns)[
        "containerInstances"
    ]
    by_node = {i["ec2InstanceId"]: i for i in instances}
    assert sorted(by_node) == list(NODES), instances
    drained_arn = by_node[NODES[0]]["containerInstanceArn"]
    answer = ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[drained_arn], status="DRAINING")
    assert [i["status"] for i in answer["containerInstances"]] == ["DRAINING"], answer
    assert not answer.get("failures"), answer
    # the API labels the node; the operator cordons it and moves the service's tasks off
    node = kubectl.json("get", "node", NODES[0])
    assert node["metadata"]["labels"].get("ecs.facade.dev/container-instance-status") == "DRAINING", node["metadata"]
    wait_for(
        "the draining node cordoned",
        lambda: kubectl.json("get", "node", NODES[0])["spec"].get("unschedulable") is True,
        timeout=30,
    )
    wait_for(
        "the service's tasks moved off the draining instance",
        lambda: (
            len(pods := running(service_pods(kubectl, "orders"))) == 2
            and {p["spec"]["nodeName"] for p in pods} == {NODES[1]}
        ),
        timeout=120,
    )
    ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["orders"], WaiterConfig=FAST)
    (drained,) = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[drained_arn])[
        "containerInstances"
    ]
    assert drained["status"] == "DRAINING", drained
    wait_for(
        "no task on the draining instance",
        lambda: (
            ecs.describe_container_instances(cluster=CLUSTER, containerInstances=[drained_arn])["containerInstances"][
                0
            ]["runningTasksCount"]
            == 0
        ),
        timeout=60,
    )
    active = ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[drained_arn], status="ACTIVE")
    assert [i["status"] for i in active["containerInstances"]] == ["ACTIVE"], active
    wait_for(
        "the node schedulable again",
        lambda: not kubectl.json("get", "node", NODES[0])["spec"].get("unschedulable"),
        timeout=30,
    )

    # Application Auto Scaling: a scalable target (its minimum above the count scales out at
    # once, as Application Auto Scaling does) and a target tracking policy
    autoscaling.register_scalable_target(
        ServiceNamespace="ecs", ResourceId=RESOURCE_ID, ScalableDimension=DIMENSION, MinCapacity=3, MaxCapacity=6
    )
    # no policy yet: the target is an annotation (an HPA needs a metric), and the count is
    # moved into its range at once, as Application Auto Scaling moves it
    service = kubectl.get("ecsservice", "orders", NS) or {}
    target = json.loads(service["metadata"]["annotations"]["ecs.facade.dev/scalable-target"])
    assert (target["minCapacity"], target["maxCapacity"]) == (3, 6), target
    assert service["spec"]["desiredCount"] == 3 and "autoScaling" not in service["spec"], service["spec"]
    wait_for("3 tasks (the scalable target's minimum)", lambda: len(running(service_pods(kubectl, "orders"))) == 3)
    ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["orders"], WaiterConfig=FAST)
    assert replicas(kubectl, "orders") == 3
    policy = autoscaling.put_scaling_policy(
        PolicyName="cpu60",
        ServiceNamespace="ecs",
        ResourceId=RESOURCE_ID,
        ScalableDimension=DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
            "ScaleOutCooldown": 30,
            "ScaleInCooldown": 120,
        },
    )
    assert policy["PolicyARN"].startswith("arn:aws:autoscaling:"), policy
    spec = (kubectl.get("ecsservice", "orders", NS) or {})["spec"]
    assert (spec["autoScaling"]["minCapacity"], spec["autoScaling"]["maxCapacity"]) == (3, 6), spec
    (tracking,) = spec["autoScaling"]["targetTrackingScalingPolicies"]
    assert (tracking["policyName"], tracking["targetValue"]) == ("cpu60", 60), tracking
    hpa = wait_for("the HPA", lambda: kubectl.get("horizontalpodautoscaler", "orders", NS), timeout=60)
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 6), hpa["spec"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu", metric
    ecs.get_waiter("services_stable").wait(cluster=CLUSTER, services=["orders"], WaiterConfig=FAST)
    (scaled,) = ecs.describe_services(cluster=CLUSTER, services=["orders"])["services"]
    assert (scaled["desiredCount"], scaled["runningCount"]) == (3, 3), scaled
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[RESOURCE_ID])
    (target,) = targets["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"], target["ScalableDimension"]) == (3, 6, DIMENSION)
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=RESOURCE_ID)
    assert [p["PolicyName"] for p in policies["ScalingPolicies"]] == ["cpu60"], policies

    # the scaling removed: the policy, then the target; the HPA goes with them
    autoscaling.delete_scaling_policy(
        PolicyName="cpu60", ServiceNamespace="ecs", ResourceId=RESOURCE_ID, ScalableDimension=DIMENSION
    )
    autoscaling.deregister_scalable_target(ServiceNamespace="ecs", ResourceId=RESOURCE_ID, ScalableDimension=DIMENSION)
    service = kubectl.get("ecsservice", "orders", NS) or {}
    assert "autoScaling" not in service["spec"], service["spec"]
    assert "ecs.facade.dev/scalable-target" not in (service["metadata"].get("annotations") or {})
    wait_for("the HPA gone", lambda: kubectl.get("horizontalpodautoscaler", "orders", NS) is None, timeout=60)
    assert (
        autoscaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[RESOURCE_ID])["ScalableTargets"]
        == []
    )

    # a cluster with a service is not deleted
    with pytest.raises(ecs.exceptions.ClusterContainsServicesException):
        ecs.delete_cluster(cluster=CLUSTER)
    assert kubectl.json("get", "ecscluster", CLUSTER)["metadata"]["name"] == CLUSTER

    # delete everything
    ecs.delete_service(cluster=CLUSTER, service="orders", force=True)
    # `delete-service` then `wait services-inactive`: DRAINING while the ECSService is being
    # deleted, then INACTIVE (its tombstone on the ECSCluster), never MISSING (a failure)
    ecs.get_waiter("services_inactive").wait(
        cluster=CLUSTER, services=["orders"], WaiterConfig={"Delay": 2, "MaxAttempts": 60}
    )
    assert kubectl.get("ecsservice", "orders", NS) is None
    (gone,) = ecs.describe_services(cluster=CLUSTER, services=["orders"])["services"]
    assert (gone["status"], gone["runningCount"], gone["deployments"]) == ("INACTIVE", 0, [])
    assert gone["serviceArn"].endswith(f":service/{CLUSTER}/orders")
    annotations = kubectl.json("get", "ecscluster", CLUSTER)["metadata"].get("annotations") or {}
    assert f"{NS}/orders" in json.loads(annotations["ecs.facade.dev/deleted-services"])
    assert ecs.list_services(cluster=CLUSTER)["serviceArns"] == []
    wait_for("the Deployment gone", lambda: kubectl.get("deployment", "orders", NS) is None, timeout=60)

    def refused_for_instances() -> bool:
        """Once the service's tasks are gone (the cluster's counts follow a moment later), the
        instances are what keeps the cluster, as in ECS."""
        try:
            ecs.delete_cluster(cluster=CLUSTER)
        except ClientError as error:
            assert error_code(error).startswith("ClusterContains"), error
            return error_code(error) == "ClusterContainsContainerInstancesException"
        raise AssertionError("DeleteCluster succeeded while container instances are registered")

    wait_for("DeleteCluster refused for the instances", refused_for_instances, timeout=60, interval=2)
    for name in NODES:
        kubectl("delete", "node", name, "--wait=true")

    def deleted() -> Any:
        try:
            return ecs.delete_cluster(cluster=CLUSTER)["cluster"]
        except ClientError as error:
            assert error_code(error).startswith("ClusterContains"), error
            return None

    assert wait_for("DeleteCluster", deleted, timeout=60, interval=2)["status"] == "INACTIVE"
    wait_for("the ECSCluster gone", lambda: not kubectl("get", "ecscluster", CLUSTER, "--ignore-not-found").strip())
    for revision in ("orders:1", "orders:2"):
        assert ecs.deregister_task_definition(taskDefinition=revision)["taskDefinition"]["status"] == "INACTIVE"


def job_task_definition(family: str, exit_code: int) -> dict[str, Any]:
    """A batch job whose container ends with ``exit_code`` (kwok's simulated exit)."""
    labels = {SIMULATE_EXIT: str(exit_code), SIMULATE_AFTER: "1500"}
    container = {"name": "report", "image": "example/report:1", "memory": 128, "command": ["report", "--daily"]}
    return {"family": family, "containerDefinitions": [{**container, "dockerLabels": labels}]}


def ecstasks(kubectl: Kubectl, started_by: str) -> list[dict[str, Any]]:
    items = kubectl.json("get", "ecstasks", "-n", NS)["items"]
    return [t for t in items if (t.get("spec") or {}).get("startedBy") == started_by]


def test_boto3_run_task_overrides_tasks_stopped_and_exit_code(ecs: Any, kubectl: Kubectl) -> None:
    ecs.register_task_definition(**job_task_definition("nightly-report", 3))
    overrides = {
        "containerOverrides": [
            {"name": "report", "command": ["report", "--weekly"], "environment": [{"name": "RUN_ID", "value": "42"}]}
        ]
    }
    answer = ecs.run_task(
        cluster="default", taskDefinition="nightly-report", count=1, startedBy="boto3-e2e", overrides=overrides
    )
    assert not answer["failures"], answer
    (task,) = answer["tasks"]
    assert task["taskDefinitionArn"].endswith(":task-definition/nightly-report:1"), task
    assert task["startedBy"] == "boto3-e2e"
    assert task["overrides"]["containerOverrides"][0]["environment"] == [{"name": "RUN_ID", "value": "42"}]
    # the ECSTask is what RunTask wrote, overrides included
    (made,) = ecstasks(kubectl, "boto3-e2e")
    (override,) = made["spec"]["overrides"]["containerOverrides"]
    assert override["command"] == ["report", "--weekly"] and override["environment"][0]["value"] == "42", made
    pod = wait_for("the task's pod", lambda: kubectl.get("pod", made["metadata"]["name"], NS), timeout=60)
    container = pod["spec"]["containers"][0]
    assert {"name": "RUN_ID", "value": "42"} in container.get("env", []), container
    assert [*(container.get("command") or []), *(container.get("args") or [])][-2:] == ["report", "--weekly"]
    listed = ecs.list_tasks(cluster="default", startedBy="boto3-e2e")["taskArns"]
    assert task["taskArn"] in listed, listed

    ecs.get_waiter("tasks_stopped").wait(cluster="default", tasks=[task["taskArn"]], WaiterConfig=FAST)
    (stopped,) = ecs.describe_tasks(cluster="default", tasks=[task["taskArn"]])["tasks"]
    assert stopped["lastStatus"] == "STOPPED" and stopped["stopCode"] == "EssentialContainerExited", stopped
    (report,) = stopped["containers"]
    assert (report["name"], report["exitCode"]) == ("report", 3), report
    status = (kubectl.get("ecstask", made["metadata"]["name"], NS) or {}).get("status") or {}
    assert status.get("lastStatus") == "STOPPED" and status.get("exitCode") == 3, status
    stopped_arns = ecs.list_tasks(cluster="default", startedBy="boto3-e2e", desiredStatus="STOPPED")["taskArns"]
    assert task["taskArn"] in stopped_arns, stopped_arns

    # StopTask of a running task: stopped by the user, with the reason given
    second = ecs.run_task(cluster="default", taskDefinition="nightly-report", startedBy="boto3-stop")["tasks"][0]
    ecs.stop_task(cluster="default", task=second["taskArn"], reason="cancelled by the e2e test")
    ecs.get_waiter("tasks_stopped").wait(cluster="default", tasks=[second["taskArn"]], WaiterConfig=FAST)
    (cancelled,) = ecs.describe_tasks(cluster="default", tasks=[second["taskArn"]])["tasks"]
    assert cancelled["stopCode"] == "UserInitiated" and cancelled["stoppedReason"] == "cancelled by the e2e test"
    ecs.deregister_task_definition(taskDefinition="nightly-report:1")


@pytest.mark.real_node
def test_boto3_run_task_on_the_real_node_exit_code_of_the_overridden_command(
    ecs: Any, kubectl: Kubectl, real_cluster: str, real_images: dict[str, str]
) -> None:
    """A real process: the command override decides the exit code, not a simulation."""
    container = {"name": "main", "image": real_images["busybox"], "memory": 32, "entryPoint": ["sh", "-c"]}
    ecs.register_task_definition(family="real-job", containerDefinitions=[{**container, "command": ["exit 0"]}])
    overrides = {"containerOverrides": [{"name": "main", "command": ["echo overridden; exit 7"]}]}
    (task,) = ecs.run_task(cluster=real_cluster, taskDefinition="real-job", overrides=overrides)["tasks"]
    ecs.get_waiter("tasks_stopped").wait(cluster=real_cluster, tasks=[task["taskArn"]], WaiterConfig=FAST)
    (stopped,) = ecs.describe_tasks(cluster=real_cluster, tasks=[task["taskArn"]])["tasks"]
    assert stopped["containers"][0]["exitCode"] == 7, stopped
    assert stopped["stopCode"] == "EssentialContainerExited"
    ecs.deregister_task_definition(taskDefinition="real-job:1")


def test_boto3_catches_the_ecs_exceptions(ecs: Any, api: EcsApi, kubectl: Kubectl) -> None:
    """The exception classes of the ECS model, for the requests ECS raises them for."""
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.describe_services(cluster="no-such-cluster", services=["web"])
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.create_service(cluster="no-such-cluster", serviceName="web", taskDefinition="web", desiredCount=1)
    assert kubectl.get("ecsservice", "web", NS) is None
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.update_service(cluster="default", service="no-such-service", desiredCount=2)
    with pytest.raises(ecs.exceptions.ServiceNotFoundException):
        ecs.delete_service(cluster="default", service="no-such-service")
    # the server's own validation (the client's is off): a string where the model has an integer
    unchecked = api.boto3_client("ecs", parameter_validation=False)
    with pytest.raises(unchecked.exceptions.InvalidParameterException) as caught:
        unchecked.register_task_definition(
            family="bad-memory", containerDefinitions=[{"name": "app", "image": "app:1", "memory": "lots"}]
        )
    assert "containerDefinitions[0].memory" in str(caught.value), caught.value
    assert kubectl.get("ecstaskdefinition", "bad-memory", NS) is None
    with pytest.raises(ecs.exceptions.InvalidParameterException):
        ecs.create_service(serviceName="no-task-definition", desiredCount=1)
    assert kubectl.get("ecsservice", "no-task-definition", NS) is None

    # ClusterContainsServicesException: a cluster with a service, then both deleted
    ecs.create_cluster(clusterName="busy")
    ecs.register_task_definition(family="idle", containerDefinitions=[{"name": "a", "image": "a:1", "memory": 32}])
    ecs.create_service(cluster="busy", serviceName="idle", taskDefinition="idle", desiredCount=0)
    with pytest.raises(ecs.exceptions.ClusterContainsServicesException):
        ecs.delete_cluster(cluster="busy")
    assert kubectl.json("get", "ecscluster", "busy")["metadata"]["name"] == "busy"
    ecs.delete_service(cluster="busy", service="idle", force=True)
    wait_for("the service gone", lambda: kubectl.get("ecsservice", "idle", NS) is None, timeout=60)
    assert ecs.delete_cluster(cluster="busy")["cluster"]["status"] == "INACTIVE"
    ecs.deregister_task_definition(taskDefinition="idle:1")


def test_bad_signature_and_foreign_key_are_refused_and_change_nothing(api: EcsApi, kubectl: Kubectl) -> None:
    # a wrong secret for a known key: the signature does not match
    forged = api.boto3_client("ecs", key=api.team.with_secret("not-the-secret"))
    with pytest.raises(ClientError) as caught:
        forged.create_cluster(clusterName="forged")
    assert error_code(caught.value) == "InvalidSignatureException", caught.value.response
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as caught:
        forged.register_task_definition(family="forged", containerDefinitions=[{"name": "a", "image": "a:1"}])
    assert error_code(caught.value) == "InvalidSignatureException"
    # an access key the server does not know
    unknown = api.boto3_client("ecs", key=ApiKey("AKIAUNKNOWN000000000", "x", (NS,)))
    with pytest.raises(ClientError) as caught:
        unknown.create_cluster(clusterName="forged")
    assert error_code(caught.value) == "UnrecognizedClientException", caught.value.response
    # nothing was made
    assert not kubectl("get", "ecscluster", "forged", "--ignore-not-found").strip()
    assert kubectl.get("ecstaskdefinition", "forged", NS) is None

    # a valid key of another namespace, asking for this one (its region names the namespace)
    foreign = api.boto3_client("ecs", key=api.other, namespace=NS)
    with pytest.raises(foreign.exceptions.AccessDeniedException):
        foreign.register_task_definition(family="foreign", containerDefinitions=[{"name": "a", "image": "a:1"}])
    with pytest.raises(foreign.exceptions.AccessDeniedException):
        foreign.create_cluster(clusterName="foreign")
    with pytest.raises(foreign.exceptions.AccessDeniedException):
        foreign.list_services(cluster="default")
    foreign_scaling = api.boto3_client("application-autoscaling", key=api.other, namespace=NS)
    with pytest.raises(ClientError) as caught:
        foreign_scaling.describe_scalable_targets(ServiceNamespace="ecs")
    assert error_code(caught.value) == "AccessDeniedException", caught.value.response
    assert not kubectl("get", "ecscluster", "foreign", "--ignore-not-found").strip()
    assert kubectl.get("ecstaskdefinition", "foreign", NS) is None
    # the same key in its own namespace works: the refusal was the namespace, not the key
    assert "clusterArns" in api.boto3_client("ecs", key=api.other).list_clusters()
