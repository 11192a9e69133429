"""Service auto scaling on the local control plane: a real HorizontalPodAutoscaler, fed by
metrics-server scraping kwok's simulated kubelets, scales an ECSService out and back in."""

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.kube import Kubectl, condition, wait_for

pytestmark = pytest.mark.e2e

USAGE_CPU = "kwok.x-k8s.io/usage-cpu"  # kwok's simulated CPU usage of a pod (hack/cluster.sh)

TASK_DEFINITION = {
    "apiVersion": "ecs.facade.dev/v1alpha1",
    "kind": "ECSTaskDefinition",
    "metadata": {"name": "api"},
    # 256 CPU units = 250m reserved per task: ECS's utilization is usage / this reservation
    "spec": {"cpu": "256", "memory": "512", "containerDefinitions": [{"name": "api", "image": "api:1"}]},
}
CPU_50 = {
    "policyName": "cpu50",
    "targetValue": 50,
    "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageCPUUtilization"},
    "scaleOutCooldown": 15,
    "scaleInCooldown": 30,
}


def service(name: str, desired: int, auto_scaling: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"taskDefinition": "api", "desiredCount": desired}
    if auto_scaling is not None:
        spec["autoScaling"] = auto_scaling
    return {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSService", "metadata": {"name": name}, "spec": spec}


def apply(kubectl: Kubectl, namespace: str, *objects: dict[str, Any]) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))


def running(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", f"ecs.facade.dev/service={name}")["items"]
    return [p for p in pods if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]


def deployment_of(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any] | None:
    """The Deployment with its managedFields (kubectl leaves them out unless asked)."""
    out = kubectl(
        "get", "deployment", name, "-n", namespace, "-o", "json", "--ignore-not-found", "--show-managed-fields"
    )
    return json.loads(out) if out.strip() else None


def replicas_owners(deployment: dict[str, Any]) -> list[str]:
    """The field managers that own the Deployment's spec.replicas."""
    return [
        entry["manager"]
        for entry in deployment["metadata"].get("managedFields") or []
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    ]


@dataclass
class Load:
    """A total CPU load (millicores) shared by the service's running tasks, as traffic behind a
    load balancer would be: each task's simulated usage is total / tasks, kept current as tasks
    come and go."""

    kubectl: Kubectl
    namespace: str
    service: str
    total_millicores: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                pods = running(self.kubectl, self.namespace, self.service)
                if not pods:
                    continue
                share = f"{max(1, self.total_millicores // len(pods))}m"
                for pod in pods:
                    if (pod["metadata"].get("annotations") or {}).get(USAGE_CPU) != share:
                        self.kubectl(
                            "annotate", "pod", pod["metadata"]["name"], "-n", self.namespace,
                            f"{USAGE_CPU}={share}", "--overwrite", check=False,
                        )  # fmt: skip
            except AssertionError:
                continue  # a kubectl failure while pods come and go: try again next second


@dataclass
class Sampler:
    """The Deployment's replica count and who owns it, every half second."""

    kubectl: Kubectl
    namespace: str
    name: str
    samples: list[tuple[float, int, list[str]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(0.5):
            deployment = deployment_of(self.kubectl, self.namespace, self.name)
            if deployment is not None:
                self.samples.append(
                    (time.monotonic(), int(deployment["spec"].get("replicas", -1)), replicas_owners(deployment))
                )


@pytest.fixture
def background() -> Iterator[list[tuple[threading.Event, threading.Thread]]]:
    """Threads started by a test, stopped (and joined) when it ends, pass or fail."""
    started: list[tuple[threading.Event, threading.Thread]] = []
    yield started
    for stop, _ in started:
        stop.set()
    for _, thread in started:
        thread.join(timeout=10)


def start(started: list[tuple[threading.Event, threading.Thread]], worker: Load | Sampler) -> None:
    thread = threading.Thread(target=worker.run, daemon=True)
    started.append((worker.stop, thread))
    thread.start()


def test_cpu_target_tracking_scales_out_and_back_in(
    kubectl: Kubectl, namespace: str, background: list[tuple[threading.Event, threading.Thread]]
) -> None:
    scaling = {"minCapacity": 2, "maxCapacity": 6, "targetTrackingScalingPolicies": [CPU_50]}
    # desiredCount 1 is below minCapacity: the service starts at 2, as Application Auto Scaling moves it
    apply(kubectl, namespace, TASK_DEFINITION, service("api", 1, scaling))
    ecs_service = wait_for("the service", lambda: kubectl.get("ecsservice", "api", namespace))

    hpa = wait_for("the HorizontalPodAutoscaler", lambda: kubectl.get("hpa", "api", namespace))
    (owner,) = hpa["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("ECSService", ecs_service["metadata"]["uid"])
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 50}
    wait_for("2 running tasks", lambda: len(running(kubectl, namespace, "api")) == 2, timeout=60)
    deployment = wait_for("the Deployment", lambda: deployment_of(kubectl, namespace, "api"))
    assert deployment["spec"]["replicas"] == 2
    assert "ecs-facade" not in replicas_owners(deployment)  # the operator gave the count away

    sampler = Sampler(kubectl, namespace, "api")
    start(background, sampler)
    load = Load(kubectl, namespace, "api", total_millicores=500)  # 2 x 250m: 100 % of the reservation
    start(background, load)

    # 500m over 4 tasks is 125m each: exactly the 50 % target, so the service settles at 4
    wait_for(
        "the HPA to scale out to 4 running tasks",
        lambda: len(running(kubectl, namespace, "api")) == 4,
        timeout=150,
        interval=1,
    )
    scaled = deployment_of(kubectl, namespace, "api")
    assert scaled is not None and scaled["spec"]["replicas"] == 4
    assert replicas_owners(scaled) == ["kube-controller-manager"]  # the HPA's scale updates
    status = wait_for(
        "status.desiredCount 4 and the scaling activity",
        lambda: (
            (s := (kubectl.get("ecsservice", "api", namespace) or {}).get("status") or {}).get("desiredCount") == 4
            and (s.get("autoScaling") or {}).get("lastScalingActivity")
            and s
        ),
    )
    activity = status["autoScaling"]["lastScalingActivity"]
    assert activity["description"] == "Setting desired count to 4."
    assert activity["cause"].startswith("policy cpu50 (")
    assert activity["cause"].endswith("changing the desired count from 2 to 4")
    assert (status["autoScaling"]["minCapacity"], status["autoScaling"]["maxCapacity"]) == (2, 6)
    assert [p["policyName"] for p in status["autoScaling"]["policies"]] == ["cpu50"]
    # the scheduler's events name the tasks: the first 2, then the 2 the policy added
    started = wait_for(
        "events naming 4 started tasks",
        lambda: (n := tasks_named(service_events(kubectl, namespace, "api"), "has started")) >= 4 and n,
    )
    assert started == 4
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=ECSService")
    assert tasks_named([e["message"] for e in events["items"]], "has started") == 4

    # load drops to 100m: 25m a task, 10 % — the count returns to minCapacity after the 30 s cooldown
    lowered = time.monotonic()
    load.total_millicores = 100
    wait_for(
        "the HPA to scale back in to 2",
        lambda: (d := deployment_of(kubectl, namespace, "api")) and d["spec"]["replicas"] == 2,
        timeout=150,
        interval=1,
    )
    scaled_in = wait_for(
        "the sampler to record the scale-in",
        lambda: next((t for t, replicas, _ in sampler.samples if t > lowered and replicas == 2), None),
    )
    assert scaled_in - lowered >= 25, (
        f"scaled in {scaled_in - lowered:.0f}s after the load dropped, before the cooldown"
    )
    wait_for("2 running tasks", lambda: len(running(kubectl, namespace, "api")) == 2, timeout=60)
    wait_for(
        "events naming the 2 stopped tasks",
        lambda: tasks_named(service_events(kubectl, namespace, "api"), "has stopped") == 2,
    )

    # never did the operator reset the count or take it back while the policy existed
    sampler.stop.set()
    counts = [replicas for _, replicas, _ in sampler.samples]
    assert counts[0] == 2 and 4 in counts
    assert all("ecs-facade" not in owners for *_, owners in sampler.samples)
    rising = counts[: counts.index(4) + 1]
    assert rising == sorted(rising), f"the count went down during the scale-out: {rising}"
    assert min(counts) == 2


def service_events(kubectl: Kubectl, namespace: str, name: str) -> list[str]:
    return [e["message"] for e in ((kubectl.get("ecsservice", name, namespace) or {}).get("status") or {})["events"]]


def tasks_named(messages: list[str], verb: str) -> int:
    """How many tasks the "(service X) has started N tasks: (task …)…" messages name in all."""
    pattern = re.compile(rf"^\(service [^)]+\) {verb} (\d+) (?:running )?tasks: ((?:\(task [0-9a-f]{{32}}\) ?)+)\.$")
    total = 0
    for message in messages:
        match = pattern.match(message)
        if match:
            assert int(match[1]) == match[2].count("(task "), message
            total += int(match[1])
    return total


def test_desired_count_is_the_autoscalers_until_the_policy_is_removed(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, TASK_DEFINITION, service("web", 3, None))
    wait_for("3 running tasks", lambda: len(running(kubectl, namespace, "web")) == 3, timeout=60)
    deployment = deployment_of(kubectl, namespace, "web")
    assert deployment is not None and "ecs-facade" in replicas_owners(deployment)

    # a policy added to a running service keeps its count: the operator hands spec.replicas over
    # (a plain apply without it would reset the Deployment to one replica)
    scaling = {
        "minCapacity": 1,
        "maxCapacity": 5,
        "targetTrackingScalingPolicies": [{**CPU_50, "scaleInCooldown": 600}],
    }
    apply(kubectl, namespace, service("web", 3, scaling))
    wait_for("the HPA", lambda: kubectl.get("hpa", "web", namespace))

    def handed_over() -> dict[str, Any] | None:
        deployment = deployment_of(kubectl, namespace, "web")
        return deployment if deployment and "ecs-facade" not in replicas_owners(deployment) else None

    handed = wait_for("the count handed over", handed_over)
    assert handed["spec"]["replicas"] == 3
    assert replicas_owners(handed) == ["ecs-facade-replicas-handover"]

    # the HPA is the service's: edits by hand are put back, a deleted one comes back
    kubectl("patch", "hpa", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"maxReplicas":9}}')
    wait_for("maxReplicas put back", lambda: (kubectl.get("hpa", "web", namespace) or {})["spec"]["maxReplicas"] == 5)
    uid = (kubectl.get("hpa", "web", namespace) or {})["metadata"]["uid"]
    kubectl("delete", "hpa", "web", "-n", namespace)
    wait_for(
        "the HPA back",
        lambda: (kubectl.get("hpa", "web", namespace) or {}).get("metadata", {}).get("uid") not in (None, uid),
    )

    # desiredCount edits do not move the count while the HPA owns it
    kubectl("patch", "ecsservice", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"desiredCount":5}}')
    generation = kubectl.json("get", "ecsservice", "web", "-n", namespace)["metadata"]["generation"]
    wait_for(
        "the change to be reconciled",
        lambda: (
            (kubectl.get("ecsservice", "web", namespace) or {}).get("status", {}).get("observedGeneration")
            == generation
        ),
    )
    time.sleep(3)
    deployment = deployment_of(kubectl, namespace, "web")
    assert deployment is not None and deployment["spec"]["replicas"] == 3
    assert (kubectl.get("ecsservice", "web", namespace) or {})["status"]["desiredCount"] == 3

    # removing the policy gives the count back to desiredCount, and the HPA goes
    kubectl(
        "patch",
        "ecsservice",
        "web",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/autoScaling"}]',
    )
    wait_for("5 running tasks", lambda: len(running(kubectl, namespace, "web")) == 5, timeout=60)
    wait_for("the HPA to be deleted", lambda: kubectl.get("hpa", "web", namespace) is None)
    deployment = deployment_of(kubectl, namespace, "web")
    assert deployment is not None and "ecs-facade" in replicas_owners(deployment)
    status = wait_for(
        "status without autoScaling",
        lambda: (
            (s := (kubectl.get("ecsservice", "web", namespace) or {}).get("status") or {}).get("desiredCount") == 5
            and "autoScaling" not in s
            and s
        ),
    )
    assert status["desiredCount"] == 5


@pytest.mark.parametrize(
    ("auto_scaling", "message"),
    [
        (
            {"minCapacity": 5, "maxCapacity": 2, "targetTrackingScalingPolicies": [CPU_50]},
            "minCapacity must not exceed maxCapacity",
        ),
        (
            {
                "minCapacity": 1,
                "maxCapacity": 2,
                "targetTrackingScalingPolicies": [
                    {**CPU_50, "predefinedMetricSpecification": {"predefinedMetricType": "ECSServiceAverageDiskIO"}}
                ],
            },
            'Unsupported value: "ECSServiceAverageDiskIO"',
        ),
        (
            {"minCapacity": 1, "maxCapacity": 2, "targetTrackingScalingPolicies": [{**CPU_50, "scaleInCooldown": -1}]},
            "scaleInCooldown: Invalid value: -1",
        ),
        (
            {
                "minCapacity": 1,
                "maxCapacity": 2,
                "stepScalingPolicies": [
                    {
                        "policyName": "exact",
                        "adjustmentType": "ExactCapacity",
                        "stepAdjustments": [{"scalingAdjustment": 2}],
                        "alarm": {
                            "predefinedMetricSpecification": CPU_50["predefinedMetricSpecification"],
                            "comparisonOperator": "GreaterThanThreshold",
                            "threshold": 70,
                        },
                    }
                ],
            },
            "ExactCapacity cannot be expressed",
        ),
    ],
    ids=["min-above-max", "unknown-metric-type", "negative-cooldown", "exact-capacity"],
)
def test_invalid_policies_are_rejected_by_the_api_server(
    kubectl: Kubectl, namespace: str, auto_scaling: dict[str, Any], message: str
) -> None:
    result = kubectl.run("apply", "-n", namespace, "-f", "-", input=json.dumps(service("bad", 2, auto_scaling)))
    assert result.returncode != 0
    assert message in result.stderr
    assert kubectl.get("ecsservice", "bad", namespace) is None


def test_daemon_services_cannot_auto_scale(kubectl: Kubectl, namespace: str) -> None:
    daemon = service("d", 0, {"minCapacity": 1, "maxCapacity": 2, "targetTrackingScalingPolicies": [CPU_50]})
    daemon["spec"]["schedulingStrategy"] = "DAEMON"
    del daemon["spec"]["desiredCount"]
    result = kubectl.run("apply", "-n", namespace, "-f", "-", input=json.dumps(daemon))
    assert result.returncode != 0 and "autoScaling is not allowed when schedulingStrategy is DAEMON" in result.stderr


def test_policy_only_the_operator_can_check_is_invalid_spec_and_creates_nothing(
    kubectl: Kubectl, namespace: str
) -> None:
    def alarm(metric: str, operator: str, threshold: int) -> dict[str, Any]:
        return {
            "predefinedMetricSpecification": {"predefinedMetricType": metric},
            "comparisonOperator": operator,
            "threshold": threshold,
        }

    scaling = {
        "minCapacity": 1,
        "maxCapacity": 4,
        "stepScalingPolicies": [
            {
                "policyName": "out",
                "adjustmentType": "ChangeInCapacity",
                "stepAdjustments": [{"scalingAdjustment": 1}],
                "alarm": alarm("ECSServiceAverageCPUUtilization", "GreaterThanThreshold", 70),
            },
            {
                "policyName": "in",
                "adjustmentType": "ChangeInCapacity",
                "stepAdjustments": [{"scalingAdjustment": -1}],
                "alarm": alarm("ECSServiceAverageMemoryUtilization", "LessThanThreshold", 30),
            },
        ],
    }
    apply(kubectl, namespace, TASK_DEFINITION, service("steps", 2, scaling))
    ready = wait_for(
        "Ready=False InvalidSpec",
        lambda: (
            (c := condition(kubectl.get("ecsservice", "steps", namespace), "Ready"))
            and c["reason"] == "InvalidSpec"
            and c
        ),
    )
    assert ready["status"] == "False"
    assert "must alarm on the same metric" in ready["message"]
    assert deployment_of(kubectl, namespace, "steps") is None
    assert kubectl.get("hpa", "steps", namespace) is None
