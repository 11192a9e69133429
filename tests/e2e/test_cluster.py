"""Clusters and container instances on a real API server: nodes as instances of their cluster,
counts like DescribeClusters, remaining resources, draining, custom attributes, deletion."""

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import kubernetes
import pytest

from ecs_facade.cli import main as cli
from tests.e2e.kube import Kubectl, condition, simulated_node, wait_for
from tests.e2e.kube import apply_objects as apply

pytestmark = pytest.mark.e2e

# the client's config and watch helpers are untyped
KUBERNETES: Any = kubernetes
CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110"}
# cluster -> its nodes: (name, zone, instance type)
NODES = {
    "prod": [("prod-0", "zone-a", "m5.large"), ("prod-1", "zone-b", "m5.large"), ("prod-2", "zone-c", "m5.xlarge")],
    "batch": [("batch-0", "zone-a", "c5.xlarge"), ("batch-1", "zone-b", "c5.xlarge")],
    "drain": [("drain-0", "zone-a", "m5.large"), ("drain-1", "zone-b", "m5.large")],
    "capacity": [("capacity-0", "zone-a", "m5.large")],
}


def ecs_cluster(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSCluster", "metadata": {"name": name}, "spec": spec}


def task_definition(name: str, cpu: int = 256, memory: int = 128) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTaskDefinition",
        "metadata": {"name": name},
        "spec": {"containerDefinitions": [{"name": "app", "image": "example/app:1", "cpu": cpu, "memory": memory}]},
    }


def service(name: str, cluster: str, desired: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": name},
        "spec": {"cluster": cluster, "taskDefinition": name, "desiredCount": desired, **spec},
    }


def cluster_status(kubectl: Kubectl, name: str) -> dict[str, Any]:
    found = kubectl("get", "ecscluster", name, "-o", "json", "--ignore-not-found")
    return (json.loads(found).get("status") or {}) if found.strip() else {}


def service_pods(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.json("get", "pods", "-n", namespace, "-l", f"ecs.facade.dev/service={name}")[
        "items"
    ]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def running(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if p["status"].get("phase") == "Running" and condition(p, "Ready")]


def nodes_of(pods: list[dict[str, Any]]) -> list[str]:
    return sorted(p["spec"].get("nodeName") or "" for p in pods)


def ecs(*args: str) -> Any:
    """The ecs-facade CLI in this process (same kubeconfig as the operator), its JSON output parsed."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli(list(args))
    assert code == 0, f"ecs-facade {' '.join(args)} exited {code}: {out.getvalue()}"
    text = out.getvalue()
    return json.loads(text) if text.lstrip().startswith("{") else text


def instance(node: str, cluster: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = ecs("describe-container-instances", "--cluster", cluster, node)["containerInstances"]
    assert len(found) == 1, found
    return found[0]


def resource(instance: dict[str, Any], which: str, name: str) -> Any:
    entry = next(r for r in instance[which] if r["name"] == name)
    return entry.get("integerValue", entry.get("stringSetValue"))


@pytest.fixture(scope="module")
def clusters(kubectl: Kubectl, operator: Any) -> Iterator[dict[str, list[str]]]:
    """Simulated nodes labelled for their cluster, and the ECSClusters; removed afterwards so that
    other tests see only the default cluster's nodes."""
    names = []
    for cluster, nodes in NODES.items():
        for name, zone, instance_type in nodes:
            labels = {
                "ecs.facade.dev/cluster": cluster,
                "topology.kubernetes.io/zone": zone,
                "node.kubernetes.io/instance-type": instance_type,
            }
            simulated_node(kubectl, name, labels, CAPACITY)
            names.append(name)
    kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [ecs_cluster(c) for c in NODES]}),
    )
    yield {cluster: [n for n, _, _ in nodes] for cluster, nodes in NODES.items()}
    kubectl("delete", "ecscluster", *NODES, "--wait=false", "--ignore-not-found", check=False)
    kubectl("delete", "node", *names, "--ignore-not-found", check=False)


def test_default_cluster_exists_without_setup(kubectl: Kubectl, operator: Any) -> None:
    status = wait_for(
        "the default cluster ACTIVE", lambda: cluster_status(kubectl, "default").get("status") == "ACTIVE"
    )
    assert status
    default = cluster_status(kubectl, "default")
    assert default["clusterArn"] == "arn:aws:ecs:us-east-1:000000000000:cluster/default"
    assert default["registeredContainerInstancesCount"] >= 3  # the control plane's unlabelled nodes


def test_services_run_on_their_own_cluster_and_clusters_count_them(
    kubectl: Kubectl, namespace: str, clusters: dict[str, list[str]]
) -> None:
    apply(kubectl, namespace, task_definition("web"), task_definition("job"))
    spread = [{"type": "spread", "field": "instanceId"}]
    apply(kubectl, namespace, service("web", "prod", 3, placementStrategy=spread), service("job", "batch", 2))

    wait_for("web: 3 running", lambda: len(running(service_pods(kubectl, namespace, "web"))) == 3)
    wait_for("job: 2 running", lambda: len(running(service_pods(kubectl, namespace, "job"))) == 2)
    assert set(nodes_of(service_pods(kubectl, namespace, "web"))) <= set(clusters["prod"])
    assert nodes_of(service_pods(kubectl, namespace, "web")) == clusters["prod"]  # spread: one per instance
    assert set(nodes_of(service_pods(kubectl, namespace, "job"))) <= set(clusters["batch"])

    def counts(name: str, instances: int, services: int, tasks: int) -> bool:
        s = cluster_status(kubectl, name)
        return (
            s.get("registeredContainerInstancesCount") == instances
            and s.get("activeServicesCount") == services
            and s.get("runningTasksCount") == tasks
            and s.get("pendingTasksCount") == 0
        )

    wait_for("prod: 3 instances, 1 service, 3 tasks", lambda: counts("prod", 3, 1, 3))
    wait_for("batch: 2 instances, 1 service, 2 tasks", lambda: counts("batch", 2, 1, 2))
    table = kubectl("get", "ecsclusters", "prod", "batch")
    header = table.splitlines()[0].split()
    assert header[:7] == ["NAME", "STATUS", "INSTANCES", "SERVICES", "RUNNING", "PENDING", "READY"], table
    assert header[-1] == "AGE"
    rows = {line.split()[0]: line.split()[1:7] for line in table.splitlines()[1:]}
    assert rows["prod"] == ["ACTIVE", "3", "1", "3", "0", "True"], table

    # an instance that goes away, and one that goes NotReady and comes back, are counted as such
    kubectl("scale", "ecsservice", "job", "-n", namespace, "--replicas=0")
    wait_for("batch: 0 tasks", lambda: counts("batch", 2, 1, 0))
    kubectl("label", "node", "batch-1", "ecs.facade.dev/cluster=prod", "--overwrite")
    wait_for("batch-1 moved to prod", lambda: counts("batch", 1, 1, 0) and counts("prod", 4, 1, 3))
    kubectl("label", "node", "batch-1", "ecs.facade.dev/cluster=batch", "--overwrite")
    wait_for("batch-1 back in batch", lambda: counts("batch", 2, 1, 0) and counts("prod", 3, 1, 3))


def test_instances_report_attributes_and_remaining_resources_drop_by_task_requests(
    kubectl: Kubectl, namespace: str, clusters: dict[str, list[str]]
) -> None:
    before = instance("capacity-0", "capacity")
    assert before["containerInstanceArn"].startswith("arn:aws:ecs:us-east-1:000000000000:container-instance/capacity/")
    assert before["ec2InstanceId"] == "capacity-0"  # kwok nodes have no EC2 provider ID
    assert before["status"] == "ACTIVE" and before["agentConnected"] is True
    attributes = {a["name"]: a.get("value") for a in before["attributes"]}
    assert attributes["ecs.availability-zone"] == "zone-a"
    assert attributes["ecs.instance-type"] == "m5.large"
    assert attributes["ecs.os-type"] == "linux"
    assert resource(before, "registeredResources", "CPU") == 4096
    assert resource(before, "registeredResources", "MEMORY") == 16384

    apply(kubectl, namespace, task_definition("sized", cpu=512, memory=300))
    apply(kubectl, namespace, service("sized", "capacity", 3))
    wait_for("sized: 3 running", lambda: len(running(service_pods(kubectl, namespace, "sized"))) == 3)

    after = wait_for(
        "capacity-0 counts 3 running tasks",
        lambda: (i := instance("capacity-0", "capacity"))["runningTasksCount"] == 3 and i,
    )
    assert resource(after, "remainingResources", "CPU") == resource(before, "remainingResources", "CPU") - 3 * 512
    assert resource(after, "remainingResources", "MEMORY") == resource(before, "remainingResources", "MEMORY") - 3 * 300
    assert after["containerInstanceArn"] == before["containerInstanceArn"]  # stable per node
    wait_for("capacity cluster: 3 running", lambda: cluster_status(kubectl, "capacity").get("runningTasksCount") == 3)


def test_custom_attribute_is_usable_in_member_of(
    kubectl: Kubectl, namespace: str, clusters: dict[str, list[str]]
) -> None:
    ecs("put-attributes", "prod-1", "stack=blue")
    try:
        attributes = {a["name"]: a.get("value") for a in instance("prod-1", "prod")["attributes"]}
        assert attributes["stack"] == "blue"
        apply(kubectl, namespace, task_definition("blue"))
        constraint = [{"type": "memberOf", "expression": "attribute:stack == blue"}]
        apply(kubectl, namespace, service("blue", "prod", 3, placementConstraints=constraint))
        wait_for("blue: 3 running", lambda: len(running(service_pods(kubectl, namespace, "blue"))) == 3)
        assert nodes_of(service_pods(kubectl, namespace, "blue")) == ["prod-1"] * 3
    finally:
        ecs("delete-attributes", "prod-1", "stack")
    labels = kubectl.json("get", "node", "prod-1")["metadata"]["labels"]
    assert "ecs.facade.dev/attribute.stack" not in labels


def test_draining_moves_service_tasks_within_minimum_healthy_and_leaves_standalone_tasks(
    kubectl: Kubectl, namespace: str, clusters: dict[str, list[str]]
) -> None:
    apply(kubectl, namespace, task_definition("drained"), task_definition("oneoff"))
    config = {"minimumHealthyPercent": 50, "maximumPercent": 200}
    spread = [{"type": "spread", "field": "instanceId"}]
    apply(kubectl, namespace, service("drained", "drain", 4, deploymentConfiguration=config, placementStrategy=spread))
    wait_for("drained: 4 running", lambda: len(running(service_pods(kubectl, namespace, "drained"))) == 4)
    assert nodes_of(service_pods(kubectl, namespace, "drained")) == ["drain-0"] * 2 + ["drain-1"] * 2
    standalone = {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTask",
        "metadata": {"name": "oneoff"},
        "spec": {
            "cluster": "drain",
            "taskDefinition": "oneoff",
            "placementConstraints": [{"type": "memberOf", "expression": "ec2InstanceId == drain-0"}],
        },
    }
    apply(kubectl, namespace, standalone)
    wait_for(
        "the standalone task RUNNING",
        lambda: (kubectl.get("ecstask", "oneoff", namespace) or {}).get("status", {}).get("lastStatus") == "RUNNING",
    )
    assert kubectl.json("get", "pod", "oneoff", "-n", namespace)["spec"]["nodeName"] == "drain-0"

    ecs("drain", "drain-0")
    lowest = 4
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pods = service_pods(kubectl, namespace, "drained")
        lowest = min(lowest, len(running(pods)))
        live = running(pods)
        if len(live) == 4 and len(pods) == 4 and nodes_of(live) == ["drain-1"] * 4:
            break
        time.sleep(0.2)
    pods = service_pods(kubectl, namespace, "drained")
    assert nodes_of(running(pods)) == ["drain-1"] * 4, nodes_of(pods)
    assert lowest >= 2, f"only {lowest} tasks were running during the drain (minimumHealthyPercent 50 of 4)"
    node = kubectl.json("get", "node", "drain-0")
    assert node["spec"].get("unschedulable") is True
    assert instance("drain-0", "drain")["status"] == "DRAINING"
    wait_for(
        "1 draining instance", lambda: cluster_status(kubectl, "drain").get("drainingContainerInstancesCount") == 1
    )
    task = kubectl.get("ecstask", "oneoff", namespace) or {}
    assert task["status"]["lastStatus"] == "RUNNING", "draining must leave standalone tasks alone"
    assert kubectl.json("get", "pod", "oneoff", "-n", namespace)["spec"]["nodeName"] == "drain-0"
    budget = kubectl.json("get", "poddisruptionbudget", "drained", "-n", namespace)
    assert budget["spec"]["minAvailable"] == 2

    ecs("activate", "drain-0")
    wait_for("drain-0 schedulable", lambda: not kubectl.json("get", "node", "drain-0")["spec"].get("unschedulable"))
    assert instance("drain-0", "drain")["status"] == "ACTIVE"
    kubectl("scale", "ecsservice", "drained", "-n", namespace, "--replicas=6")
    wait_for(
        "new tasks placed on drain-0 again",
        lambda: nodes_of(running(service_pods(kubectl, namespace, "drained"))).count("drain-0") == 2,
    )


class ReadyTasks:
    """The service's tasks that are Ready and not being deleted (as the disruption controller
    counts healthy pods), followed from a watch in a thread: its lowest count once all
    ``desired`` were Ready first, so that no moment between two polls is missed."""

    def __init__(self, kubectl: Kubectl, namespace: str, name: str, desired: int) -> None:
        self.api = KUBERNETES.config.new_client_from_config(config_file=kubectl.kubeconfig)
        self.namespace, self.selector, self.desired = namespace, f"ecs.facade.dev/service={name}", desired
        self.ready: dict[str, bool] = {}
        self.all_ready_at: float | None = None  # time.monotonic() when all desired were first Ready
        self.lowest: int | None = None  # since then
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def count(self) -> int:
        with self._lock:
            return sum(self.ready.values())

    def _seen(self, pod: Any, deleted: bool) -> None:
        name = pod.metadata.name
        conditions = {c.type: c.status for c in (pod.status.conditions or [])}
        with self._lock:
            if deleted:
                self.ready.pop(name, None)
            else:
                self.ready[name] = pod.metadata.deletion_timestamp is None and conditions.get("Ready") == "True"
            count = sum(self.ready.values())
            if self.all_ready_at is None and count >= self.desired:
                self.all_ready_at = time.monotonic()
            if self.all_ready_at is not None:
                self.lowest = count if self.lowest is None else min(self.lowest, count)

    def _run(self) -> None:
        pods = KUBERNETES.client.CoreV1Api(self.api)
        version = None
        while not self._stop.is_set():
            if version is None:  # (again after a 410: the list is the state)
                listed = pods.list_namespaced_pod(self.namespace, label_selector=self.selector)
                with self._lock:
                    self.ready.clear()
                for pod in listed.items:
                    self._seen(pod, deleted=False)
                version = listed.metadata.resource_version
            try:
                stream = KUBERNETES.watch.Watch().stream(
                    pods.list_namespaced_pod,
                    self.namespace,
                    label_selector=self.selector,
                    resource_version=version,
                    timeout_seconds=2,  # ends by itself: the loop sees a stop soon
                )
                for event in stream:
                    self._seen(event["object"], deleted=event["type"] == "DELETED")
                    version = event["object"].metadata.resource_version
            except KUBERNETES.client.ApiException as error:
                if error.status != 410:
                    raise
                version = None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_kubectl_drain_in_a_new_services_first_seconds_keeps_minimum_healthy(
    kubectl: Kubectl, namespace: str, clusters: dict[str, list[str]]
) -> None:
    """Issue 27: a new service's PodDisruptionBudget comes with its workload, so `kubectl drain`
    of an instance the moment its tasks run keeps minimumHealthyPercent (with the budget 30 s
    after the tasks ran, as before, both tasks on the drained instance went at once)."""
    apply(kubectl, namespace, task_definition("fresh"))
    # 4 tasks, 2 on each instance; a floor of 3: one task of the drained instance at a time
    config = {"minimumHealthyPercent": 75, "maximumPercent": 200}
    spread = [{"type": "spread", "field": "instanceId"}]
    tasks = ReadyTasks(kubectl, namespace, "fresh", 4)
    try:
        apply(
            kubectl, namespace, service("fresh", "drain", 4, deploymentConfiguration=config, placementStrategy=spread)
        )
        wait_for("fresh: 4 tasks Ready", lambda: tasks.all_ready_at is not None, interval=0.05)
        assert nodes_of(service_pods(kubectl, namespace, "fresh")) == ["drain-0"] * 2 + ["drain-1"] * 2
        began = time.monotonic()
        drained = kubectl.run(
            "drain", "drain-0", "--pod-selector=ecs.facade.dev/service=fresh", "--ignore-daemonsets",
            "--delete-emptydir-data", "--timeout=100s",
        )  # fmt: skip
        took = time.monotonic() - began
        assert drained.returncode == 0, f"kubectl drain failed after {took:.1f} s: {drained.stderr}"
        wait_for(
            "fresh: 4 tasks Ready on drain-1",
            lambda: (
                nodes_of(running(service_pods(kubectl, namespace, "fresh"))) == ["drain-1"] * 4 and tasks.count() == 4
            ),
        )
    finally:
        tasks.stop()
        kubectl("uncordon", "drain-0", check=False)
    assert tasks.all_ready_at is not None and began - tasks.all_ready_at < 5, "the drain did not start at once"
    assert tasks.lowest is not None and tasks.lowest >= 3, (
        f"only {tasks.lowest} tasks were Ready during the drain (minimumHealthyPercent 75 of 4: 3)"
    )
    logging.getLogger(__name__).info(
        "kubectl drain of a new service's instance %.1f s after its tasks ran: took %.1f s, lowest Ready %d of 4",
        began - tasks.all_ready_at,
        took,
        tasks.lowest,
    )


def test_service_in_missing_cluster_waits_for_it(kubectl: Kubectl, namespace: str, operator: Any) -> None:
    apply(kubectl, namespace, task_definition("lost"))
    apply(kubectl, namespace, service("lost", "nowhere", 1))

    def reason() -> str | None:
        ready = condition(kubectl.get("ecsservice", "lost", namespace), "Ready") or {}
        return str(ready.get("reason")) if ready.get("status") == "False" else None

    assert wait_for("ClusterNotFound", lambda: reason() == "ClusterNotFound")
    ready = condition(kubectl.get("ecsservice", "lost", namespace), "Ready") or {}
    assert "nowhere" in ready["message"]
    assert kubectl.get("deployment", "lost", namespace) is None  # nothing half-created

    kubectl("apply", "-f", "-", input=json.dumps(ecs_cluster("nowhere")))
    try:
        wait_for(
            "the service's Deployment once the cluster exists", lambda: kubectl.get("deployment", "lost", namespace)
        )
        affinity = kubectl.json("get", "deployment", "lost", "-n", namespace)["spec"]["template"]["spec"]["affinity"]
        terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert {"key": "ecs.facade.dev/cluster", "operator": "In", "values": ["nowhere"]} in terms[0][
            "matchExpressions"
        ]
    finally:
        kubectl("delete", "ecsservice", "lost", "-n", namespace, "--wait=false")
        kubectl("delete", "ecscluster", "nowhere", "--wait=false", check=False)


def test_deleting_a_cluster_is_held_while_it_has_services(kubectl: Kubectl, namespace: str, operator: Any) -> None:
    simulated_node(kubectl, "pool-0", {"example.com/pool": "tmp"}, CAPACITY)
    try:
        kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps(ecs_cluster("tmp", instanceSelector={"matchLabels": {"example.com/pool": "tmp"}})),
        )
        wait_for(
            "the operator labels pool-0 for cluster tmp",
            lambda: kubectl.json("get", "node", "pool-0")["metadata"]["labels"].get("ecs.facade.dev/cluster") == "tmp",
        )
        apply(kubectl, namespace, task_definition("kept"))
        apply(kubectl, namespace, service("kept", "tmp", 1))
        wait_for("kept: 1 running", lambda: len(running(service_pods(kubectl, namespace, "kept"))) == 1)
        assert nodes_of(service_pods(kubectl, namespace, "kept")) == ["pool-0"]
        wait_for("tmp counts the service", lambda: cluster_status(kubectl, "tmp").get("activeServicesCount") == 1)

        kubectl("delete", "ecscluster", "tmp", "--wait=false")

        def held() -> dict[str, Any] | None:
            ready = condition({"status": cluster_status(kubectl, "tmp")}, "Ready") or {}
            return ready if ready.get("reason") == "ClusterContainsServices" else None

        ready = wait_for("the deletion held with ClusterContainsServices", held)
        assert f"{namespace}/kept" in ready["message"] and ready["status"] == "False"
        assert cluster_status(kubectl, "tmp")["status"] == "DEPROVISIONING"
        events = kubectl(
            "get", "events", "-A", "--field-selector", "involvedObject.name=tmp,reason=ClusterContainsServices"
        )
        assert "ClusterContainsServicesException" in events, events
        time.sleep(3)
        assert kubectl("get", "ecscluster", "tmp", "--ignore-not-found").strip(), "deleted while a service remains"

        kubectl("delete", "ecsservice", "kept", "-n", namespace)
        wait_for("the cluster gone", lambda: not kubectl("get", "ecscluster", "tmp", "--ignore-not-found").strip())
        wait_for(
            "the operator's cluster label removed",
            lambda: "ecs.facade.dev/cluster" not in kubectl.json("get", "node", "pool-0")["metadata"]["labels"],
        )
    finally:
        kubectl("delete", "node", "pool-0", "--ignore-not-found", check=False)


def test_capacity_provider_strategy_places_base_then_weights(kubectl: Kubectl, namespace: str, operator: Any) -> None:
    nodes = {
        "cp-spot-0": {"ecs.facade.dev/capacity-provider": "spot"},
        "cp-spot-1": {"ecs.facade.dev/capacity-provider": "spot"},
    }
    nodes["cp-od-0"] = {"example.com/lifecycle": "on-demand"}
    for name, labels in nodes.items():
        simulated_node(kubectl, name, {"ecs.facade.dev/cluster": "cp", **labels}, CAPACITY)
    groups = [{"capacityProvider": "ondemand", "nodeSelector": {"matchLabels": {"example.com/lifecycle": "on-demand"}}}]
    cluster = ecs_cluster(
        "cp",
        capacityProviders=["spot", "ondemand"],
        capacityProviderNodeGroups=groups,
        defaultCapacityProviderStrategy=[{"capacityProvider": "spot", "weight": 1}],
    )
    kubectl("apply", "-f", "-", input=json.dumps(cluster))
    try:
        apply(kubectl, namespace, task_definition("mixed"))
        strategy = [{"capacityProvider": "ondemand", "base": 1, "weight": 1}, {"capacityProvider": "spot", "weight": 2}]
        apply(kubectl, namespace, service("mixed", "cp", 4, capacityProviderStrategy=strategy))
        wait_for("mixed: 4 running", lambda: len(running(service_pods(kubectl, namespace, "mixed"))) == 4)
        pods = service_pods(kubectl, namespace, "mixed")
        providers = sorted(p["metadata"]["labels"].get("ecs.facade.dev/capacity-provider", "") for p in pods)
        # base 1 on ondemand, the other 3 split 1:2 -> ondemand 2, spot 2
        assert providers == ["ondemand", "ondemand", "spot", "spot"], providers
        for pod in pods:
            on_demand = pod["metadata"]["labels"]["ecs.facade.dev/capacity-provider"] == "ondemand"
            assert (pod["spec"]["nodeName"] == "cp-od-0") is on_demand, pod["spec"]["nodeName"]
            assert not pod["spec"].get("schedulingGates")

        # a standalone task takes the cluster's default strategy
        task = {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSTask",
            "metadata": {"name": "spot-task"},
            "spec": {"cluster": "cp", "taskDefinition": "mixed"},
        }
        apply(kubectl, namespace, task)
        status = wait_for(
            "the task RUNNING",
            lambda: (
                (s := (kubectl.get("ecstask", "spot-task", namespace) or {}).get("status") or {}).get("lastStatus")
                == "RUNNING"
                and s
            ),
        )
        assert status["capacityProviderName"] == "spot"
        assert kubectl.json("get", "pod", "spot-task", "-n", namespace)["spec"]["nodeName"].startswith("cp-spot-")
    finally:
        kubectl("delete", "ecsservice,ecstask", "--all", "-n", namespace, "--wait=false", check=False)
        kubectl("delete", "ecscluster", "cp", "--wait=false", check=False)
        kubectl("delete", "node", *nodes, "--ignore-not-found", check=False)
