"""Running the operator: leader election on a real Lease, and the Prometheus metrics."""

import json
import socket
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config

from ecs_facade.leader import Conflict, KubeLease, LeaderElector, LeadershipLost, Timings
from ecs_facade.metrics import parse, serve
from tests.e2e.kube import Kubectl, wait_for

pytestmark = pytest.mark.e2e


def coordination(kubeconfig: str) -> client.CoordinationV1Api:
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.CoordinationV1Api(client.ApiClient(configuration))


def holder(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    lease = kubectl.get("lease", name, namespace) or {}
    return (lease.get("spec") or {}).get("holderIdentity")


FAST = Timings(lease_duration=3, renew_deadline=2.0, retry_period=0.5)


def test_one_replica_leads_and_a_standby_takes_over(kubectl: Kubectl, namespace: str) -> None:
    api = coordination(kubectl.kubeconfig)
    name = f"lease-{uuid.uuid4().hex[:6]}"
    lease = KubeLease(api, name, namespace)
    a = LeaderElector(lease, "replica-a", FAST)
    b = LeaderElector(lease, "replica-b", FAST)
    never = threading.Event()

    assert a.wait_for_leadership(never)
    assert holder(kubectl, namespace, name) == "replica-a"
    assert not b.try_acquire_or_renew()  # held and fresh: the standby waits
    assert a.try_acquire_or_renew()  # the leader renews

    # a clean shutdown releases the Lease: the standby takes over at once
    a.release()
    assert b.try_acquire_or_renew()
    assert holder(kubectl, namespace, name) == "replica-b"

    # b stops renewing (hung, partitioned): a new candidate takes over once it has seen no
    # change for the lease duration on its own clock
    c = LeaderElector(lease, "replica-c", FAST)
    started = time.monotonic()
    assert c.wait_for_leadership(never)
    waited = time.monotonic() - started
    assert holder(kubectl, namespace, name) == "replica-c"
    assert waited >= FAST.lease_duration, f"took the Lease {waited:.1f}s after first seeing it, before it expired"
    spec = kubectl.json("get", "lease", name, "-n", namespace)["spec"]
    assert spec["leaseTransitions"] == 2

    # two writes carrying the same resourceVersion: the API server takes one, 409 for the other
    # (each a change: an update that changes nothing keeps the resourceVersion)
    record, version = lease.read(5)
    assert record is not None and version is not None
    lease.replace({**record, "holderIdentity": "replica-d"}, version, 5)
    with pytest.raises(Conflict):
        lease.replace({**record, "holderIdentity": "replica-e"}, version, 5)
    assert holder(kubectl, namespace, name) == "replica-d"


def test_a_leader_that_cannot_renew_stops(kubectl: Kubectl, namespace: str) -> None:
    api = coordination(kubectl.kubeconfig)
    name = f"lease-{uuid.uuid4().hex[:6]}"
    lost: list[str] = []
    a = LeaderElector(KubeLease(api, name, namespace), "replica-a", FAST, on_lost=lost.append)
    assert a.try_acquire_or_renew()
    # another replica took the Lease (as after a partition): renewals fail from now on
    kubectl(
        "patch", "lease", name, "-n", namespace, "--type=merge",
        "-p", json.dumps({"spec": {"holderIdentity": "replica-b", "renewTime": "2099-01-01T00:00:00.000000Z"}}),
    )  # fmt: skip
    stop = threading.Event()
    renewing = threading.Thread(target=a.keep_leading, args=(stop,), daemon=True)
    renewing.start()
    renewing.join(10)
    assert lost == ["the Lease is held by replica-b"], "the leader kept running without its Lease"
    with pytest.raises(LeadershipLost):
        a.check()
    stop.set()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_metrics_count_reconciles_and_api_requests(kubectl: Kubectl, namespace: str) -> None:
    port = free_port()
    serve(port)  # the registry of this process: the in-process operator's counters
    manifests = Path(__file__).resolve().parents[2] / "examples" / "web"
    kubectl(
        "apply", "-n", namespace, "-f", str(manifests / "taskdefinition.yaml"), "-f", str(manifests / "service.yaml")
    )
    wait_for("the Deployment", lambda: kubectl.get("deployment", "web", namespace))

    def scrape() -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return parse(response.read().decode())

    def counted() -> dict[str, float] | None:
        samples = scrape()
        key = 'controller_runtime_reconcile_total{controller="ecsservice",result="success"}'
        return samples if samples.get(key, 0) > 0 else None

    samples = wait_for("a counted service reconcile", counted)
    assert samples['controller_runtime_reconcile_time_seconds_count{controller="ecsservice"}'] > 0
    assert samples['rest_client_requests_total{code="200",method="PATCH"}'] > 0
