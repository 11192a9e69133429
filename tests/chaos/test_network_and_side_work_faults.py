"""Faults between the operator and the API server, and transient API errors in its side work,
on a local control plane of their own (issue 27; docs/reliability.md, "Timeouts, silent
watches and side work", has the measured numbers).

The operator runs as its own process (``ecs-facade run``) and talks to the API server through
a TCP proxy on loopback that the test controls (``faults.FaultProxy``):

- *hold*: what the operator sends is held while the API server's watch events still reach
  it: the calls it makes in reaction must fail within their timeout (its log shows them
  time out while the hold lasts), and what it missed converges once the network heals (a
  service created meanwhile, a Deployment deleted by hand meanwhile);
- *blackhole*: every open connection goes silent for good, nobody told: the silent watches
  are given up after the watch timeout plus the read timeout and the pooled connections'
  calls time out, and a service created then converges within that bound;
- *drop*: every connection is reset, and new ones for a while: a service created then
  converges once connections are taken again.

Then a validating admission webhook served by the test on loopback refuses the first pod
updates that lift a capacity provider's scheduling gate, and the first creations of a
Deployment deleted by hand: the gates are still lifted, the Deployment still made again.
Nothing is duplicated or lost: every service ends with one Deployment and its tasks.

Bounded: each wait has a limit, the cluster, the proxy, the webhook and the operator are
stopped at the end (``E2E_PORT_BASE`` + 500 and ``.cluster-chaos-network``: never the e2e
suite's cluster)."""

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.chaos.faults import (
    LOG_DIR,
    FaultProxy,
    LocalCluster,
    OperatorProcess,
    RefusingWebhook,
    cluster_with_crds,
    kubeconfig_via,
    recorded,
    stamped,
)
from tests.e2e.kube import Kubectl, apply_objects, condition, simulated_node, wait_for

pytestmark = pytest.mark.e2e

PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "17000")) + 500
# the operator's settings here: short, so that the scenarios take seconds
CONNECT, READ, WATCH = 2, 4, 20
CALL_BOUND = 2 * CONNECT + READ  # a call fails within this (kube/client.py, retries)
SETTINGS = {
    "ECS_FACADE_API_CONNECT_TIMEOUT_SECONDS": str(CONNECT),
    "ECS_FACADE_API_READ_TIMEOUT_SECONDS": str(READ),
    "ECS_FACADE_WATCH_TIMEOUT_SECONDS": str(WATCH),
    "ECS_FACADE_SERVICE_WORKERS": "8",
}
HOLD = 15.0  # seconds the operator's requests are held
DROP = 8.0  # seconds new connections are reset after every open one was
RESULTS = LOG_DIR / "chaos-network-results.json"
GATE = "ecs.facade.dev/capacity-provider"
CAPACITY = {"cpu": "4", "memory": "16Gi", "pods": "110"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, Kubectl]]:
    with cluster_with_crds(
        "network", PORT_BASE, "the fault scenarios need the local control plane: a proxy and a webhook on its loopback"
    ) as (local, kubectl):
        yield local, kubectl


@pytest.fixture(scope="module")
def proxy(cluster: tuple[LocalCluster, Kubectl]) -> Iterator[FaultProxy]:
    made = FaultProxy(cluster[0].api_port)
    yield made
    made.close()


@pytest.fixture(scope="module")
def operator(cluster: tuple[LocalCluster, Kubectl], proxy: FaultProxy) -> Iterator[OperatorProcess]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    kubeconfig = kubeconfig_via(cluster[1], proxy.port, LOG_DIR / "chaos-operator.kubeconfig")
    process = OperatorProcess(kubeconfig, LOG_DIR / "chaos-operator.log", SETTINGS)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, Any]]:
    with recorded(RESULTS) as measured:
        yield measured


def task_definition(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTaskDefinition",
        "metadata": {"name": name},
        "spec": {"containerDefinitions": [{"name": "app", "image": "example/app:1", "cpu": 128, "memory": 128}]},
    }


def service(name: str, desired: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": name},
        "spec": {"taskDefinition": "app", "desiredCount": desired, **spec},
    }


def pods_of(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    items = kubectl.json("get", "pods", "-n", namespace, "-l", f"ecs.facade.dev/service={name}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def converged(kubectl: Kubectl, namespace: str, name: str, desired: int) -> dict[str, Any] | None:
    """The service's Deployment, once its status says its tasks run (and they do) and it is
    Ready (a steady state: its tasks ran ``steady_state_seconds``, 10 s, without a break)."""
    found = kubectl.get("ecsservice", name, namespace) or {}
    status = found.get("status") or {}
    ready = (condition(found, "Ready") or {}).get("status") == "True"
    deployment = kubectl.get("deployment", name, namespace)
    if not (ready and status.get("runningCount") == desired and deployment):
        return None
    running = [p for p in pods_of(kubectl, namespace, name) if p["status"].get("phase") == "Running"]
    return deployment if len(running) == desired else None


def one_deployment_and_its_tasks(kubectl: Kubectl, namespace: str, name: str, desired: int) -> None:
    """Nothing duplicated or lost: one Deployment of the service, its tasks as many as asked."""
    deployments = kubectl.json("get", "deployments", "-n", namespace, "-l", f"ecs.facade.dev/service={name}")
    assert [d["metadata"]["name"] for d in deployments["items"]] == [name]
    pods = pods_of(kubectl, namespace, name)
    assert len(pods) == desired, [p["metadata"]["name"] for p in pods]


def test_network_faults_between_the_operator_and_the_api_server(
    cluster: tuple[LocalCluster, Kubectl], proxy: FaultProxy, operator: OperatorProcess, results: dict[str, Any]
) -> None:
    _, kubectl = cluster
    namespace = "chaos-network"
    kubectl("create", "namespace", namespace)
    apply_objects(kubectl, namespace, task_definition("app"), service("s0", 2))
    started = time.monotonic()
    wait_for("s0 running", lambda: converged(kubectl, namespace, "s0", 2), timeout=120)
    results["first service converged (s)"] = round(time.monotonic() - started, 1)

    # 1. hold: the operator's requests stall, the watch events still come
    held_at = time.time()
    proxy.hold()
    before = (kubectl.get("deployment", "s0", namespace) or {})["metadata"]["uid"]
    apply_objects(kubectl, namespace, service("s1", 2))
    kubectl("delete", "deployment", "s0", "-n", namespace)
    time.sleep(HOLD)
    timeouts = [t for t in stamped(operator.text(), r"[Tt]imed out") if t >= held_at]
    proxy.heal()
    healed = time.monotonic()
    # its calls failed within their timeout while the hold lasted (none hung until the heal)
    assert timeouts, "no call timed out while the requests were held"
    assert timeouts[0] - held_at <= CALL_BOUND + 3, timeouts[0] - held_at
    wait_for("s1's Deployment", lambda: kubectl.get("deployment", "s1", namespace), timeout=60)
    results["hold: s1's Deployment made after the heal (s)"] = round(time.monotonic() - healed, 1)
    wait_for("s1 running", lambda: converged(kubectl, namespace, "s1", 2), timeout=60)
    again = wait_for(
        "s0's Deployment made again",
        lambda: (d := converged(kubectl, namespace, "s0", 2)) and d["metadata"]["uid"] != before and d,
        timeout=60,
    )
    assert again["spec"]["replicas"] == 2
    results["hold: first timeout after (s)"] = round(timeouts[0] - held_at, 1)
    results["hold: timeouts logged while held"] = len(timeouts)
    results["hold: converged after the heal (s)"] = round(time.monotonic() - healed, 1)

    # 2. blackhole: every open connection goes silent for good
    silenced = proxy.blackhole()
    blackholed = time.monotonic()
    apply_objects(kubectl, namespace, service("s2", 2))
    wait_for("s2's Deployment", lambda: kubectl.get("deployment", "s2", namespace), timeout=WATCH + READ + 40)
    results["blackhole: s2's Deployment made after (s)"] = round(time.monotonic() - blackholed, 1)
    wait_for("s2 running", lambda: converged(kubectl, namespace, "s2", 2), timeout=WATCH + READ + 40)
    took = time.monotonic() - blackholed
    results["blackhole: connections silenced"] = silenced
    results["blackhole: converged after (s)"] = round(took, 1)
    assert took <= WATCH + READ + 30, took  # the silent watches given up within their bound

    # 3. drop: every connection reset, new ones too for a while
    proxy.drop(DROP)
    dropped = time.monotonic()
    apply_objects(kubectl, namespace, service("s3", 2))
    wait_for("s3's Deployment", lambda: kubectl.get("deployment", "s3", namespace), timeout=DROP + 60)
    results["drop: s3's Deployment made after connections were taken again (s)"] = round(
        time.monotonic() - dropped - DROP, 1
    )
    wait_for("s3 running", lambda: converged(kubectl, namespace, "s3", 2), timeout=DROP + 60)
    took = time.monotonic() - dropped - DROP
    results["drop: converged after connections were taken again (s)"] = round(took, 1)
    assert took <= 40, took

    for name in ("s0", "s1", "s2", "s3"):
        one_deployment_and_its_tasks(kubectl, namespace, name, 2)
    assert operator.alive(), operator.text()[-3000:]


def gated(request: dict[str, Any]) -> bool:
    """A capacity provider's gate lift: an update of a pod that still waits behind the gate."""
    old = request.get("oldObject") or {}
    gates = (old.get("spec") or {}).get("schedulingGates") or []
    return request["resource"]["resource"] == "pods" and any(g.get("name") == GATE for g in gates)


def test_transient_api_errors_in_the_side_work_are_retried_until_done(
    cluster: tuple[LocalCluster, Kubectl], proxy: FaultProxy, operator: OperatorProcess, results: dict[str, Any]
) -> None:
    _, kubectl = cluster
    proxy.heal()
    namespace = "chaos-side-work"
    kubectl("create", "namespace", namespace)
    webhook = RefusingWebhook(LOG_DIR / "chaos-webhook-pki")
    configuration = webhook.configuration("ecs-facade-chaos-refusals", namespace)
    nodes = {"chaos-alpha-0": "alpha", "chaos-beta-0": "beta"}
    try:
        kubectl("apply", "-f", "-", input=json.dumps(configuration))

        def probed() -> bool:  # the API server calls the webhook (its configuration is loaded)
            kubectl("create", "deployment", "probe", "--image=x", "-n", namespace, "--dry-run=server", check=False)
            return any(seen[3] == "probe" for seen in webhook.seen)

        wait_for("the webhook to be called", probed, timeout=60)
        for node, provider in nodes.items():
            simulated_node(kubectl, node, {"ecs.facade.dev/cluster": "chaos", GATE: provider}, CAPACITY)
        cluster_spec = {"capacityProviders": ["alpha", "beta"]}
        ecs_cluster = {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSCluster", "metadata": {"name": "chaos"}}
        kubectl("apply", "-f", "-", input=json.dumps({**ecs_cluster, "spec": cluster_spec}))

        # the first three gate lifts are refused
        lifts = webhook.arm(gated, 3)
        strategy = [{"capacityProvider": "alpha", "base": 1, "weight": 1}, {"capacityProvider": "beta", "weight": 1}]
        created = time.monotonic()
        apply_objects(
            kubectl,
            namespace,
            task_definition("app"),
            service("placed", 3, cluster="chaos", capacityProviderStrategy=strategy),
        )
        wait_for(
            "the gates lifted",
            lambda: (
                (p := pods_of(kubectl, namespace, "placed")) and all(not q["spec"].get("schedulingGates") for q in p)
            ),
            timeout=90,
        )
        results["gate lifts refused, then lifted after (s)"] = round(time.monotonic() - created, 1)
        wait_for("the placed tasks running", lambda: converged(kubectl, namespace, "placed", 3), timeout=90)
        results["gate lifts refused, then tasks running after (s)"] = round(time.monotonic() - created, 1)
        assert lifts.refused == 3
        pods = pods_of(kubectl, namespace, "placed")
        assert all(not p["spec"].get("schedulingGates") for p in pods)
        providers = sorted(p["metadata"]["labels"][GATE] for p in pods)
        assert providers in (["alpha", "alpha", "beta"], ["alpha", "beta", "beta"]), providers
        for pod in pods:  # each on a node of its own provider
            assert nodes[pod["spec"]["nodeName"]] == pod["metadata"]["labels"][GATE]

        # a Deployment deleted by hand: its first two creations are refused
        creations = webhook.arm(
            lambda r: r["resource"]["resource"] == "deployments" and not r.get("dryRun") and r["operation"] == "CREATE",
            2,
        )
        before = (kubectl.get("deployment", "placed", namespace) or {})["metadata"]["uid"]
        deleted = time.monotonic()
        kubectl("delete", "deployment", "placed", "-n", namespace)
        wait_for(
            "the Deployment made again",
            lambda: (d := kubectl.get("deployment", "placed", namespace)) and d["metadata"]["uid"] != before,
            timeout=90,
        )
        results["Deployment creations refused, then made after (s)"] = round(time.monotonic() - deleted, 1)
        wait_for(
            "the Deployment made again",
            lambda: (d := converged(kubectl, namespace, "placed", 3)) and d["metadata"]["uid"] != before,
            timeout=90,
        )
        results["Deployment creations refused, then its tasks running after (s)"] = round(time.monotonic() - deleted, 1)
        assert creations.refused == 2
        one_deployment_and_its_tasks(kubectl, namespace, "placed", 3)
        assert operator.alive(), operator.text()[-3000:]
    finally:
        kubectl("delete", "validatingwebhookconfiguration", configuration["metadata"]["name"], check=False)
        webhook.close()
        kubectl("delete", "ecsservice", "--all", "-n", namespace, "--wait=false", check=False)
        kubectl("delete", "node", *nodes, "--ignore-not-found", check=False)
