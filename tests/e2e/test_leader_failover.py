"""Two leaders at once, as a fault: two operator replicas run as separate processes
(`ecs-facade run --leader-elect`, one Lease, two identities, each its own ServiceAccount); the
leader is frozen (SIGSTOP) while it has work, the standby takes over, work arrives, and the
old leader is continued (SIGCONT). From the API server's audit log: the standby took over
no sooner than the lease allows and within a bound, and the old leader sent no write after
the hand-over (it exits instead). docs/reliability.md, "Two leaders at once"."""

import datetime
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ecs_facade.config import Config
from tests.e2e.conftest import AUDIT_LOG, AUDITED_NAMESPACE, LOG_DIR, REPO, account_kubeconfig
from tests.e2e.kube import Kubectl, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

WRITES = {"create", "update", "patch", "delete", "deletecollection"}
SETTINGS = Config()  # the defaults: 15 s lease, 10 s renew deadline, 2 s retry period


@dataclass(frozen=True)
class Request:
    user: str
    verb: str
    resource: str
    code: int
    at: float  # when the API server received it (epoch seconds)


def audited(since: float = 0.0) -> list[Request]:
    """The audited replicas' requests, as the API server logged them."""
    found = []
    for line in AUDIT_LOG.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line being written
        if event.get("stage") != "ResponseComplete":
            continue
        at = datetime.datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00")).timestamp()
        if at < since:
            continue
        ref = event.get("objectRef") or {}
        resource = str(ref.get("resource", "")) + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        code = int((event.get("responseStatus") or {}).get("code") or 0)
        found.append(Request(event["user"]["username"], event["verb"], resource, code, at))
    return found


def user(replica: str) -> str:
    return f"system:serviceaccount:{AUDITED_NAMESPACE}:{replica}"


def writes(requests: list[Request], replica: str, leases: bool | None = None) -> list[Request]:
    return [
        r
        for r in requests
        if r.user == user(replica) and r.verb in WRITES and (leases is None or (r.resource == "leases") == leases)
    ]


@dataclass
class Replica:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def replica_kubeconfig(kubectl: Kubectl, name: str) -> Path:
    """A ServiceAccount of the audited namespace (cluster-admin: RBAC is proven by the suite's
    in-process operator, which runs with the chart's) and a kubeconfig with its token."""
    kubectl("create", "namespace", AUDITED_NAMESPACE, check=False)
    kubectl("create", "serviceaccount", name, "-n", AUDITED_NAMESPACE, check=False)
    kubectl(
        "create", "clusterrolebinding", f"{AUDITED_NAMESPACE}-{name}", "--clusterrole=cluster-admin",
        f"--serviceaccount={AUDITED_NAMESPACE}:{name}", check=False,
    )  # fmt: skip
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return account_kubeconfig(kubectl, AUDITED_NAMESPACE, name, LOG_DIR / f"{name}.kubeconfig")


@pytest.fixture
def replicas(kubectl: Kubectl, crds: None) -> Iterator[tuple[str, dict[str, Replica], Any]]:
    """A namespace, and a way to start replicas watching it; every process started is
    stopped after the test by its PID (continued first, should it still be frozen)."""
    if os.environ.get("E2E_KUBECONFIG") or not AUDIT_LOG.parent.exists():
        pytest.fail("this test reads the local control plane's audit log (hack/cluster.sh)", pytrace=False)
    namespace = f"failover-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    started: dict[str, Replica] = {}

    def start(name: str) -> Replica:
        log = LOG_DIR / f"operator-{name}.log"
        env = {
            **os.environ,
            "KUBECONFIG": str(replica_kubeconfig(kubectl, name)),
            "POD_NAME": name,
            "POD_NAMESPACE": namespace,
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "ecs_facade", "run", "--leader-elect", "--lease-name=ecs-facade",
                 f"--namespace={namespace}"],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            )  # fmt: skip
        started[name] = Replica(name, process, log)
        return started[name]

    try:
        yield namespace, started, start
    finally:
        for replica in started.values():
            process = replica.process
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def held_by(kubectl: Kubectl, namespace: str, replica: str) -> bool:
    """The Lease names this replica's process (its pod name and a suffix per process)."""
    lease = kubectl.get("lease", "ecs-facade", namespace) or {}
    holder = str((lease.get("spec") or {}).get("holderIdentity") or "")
    return holder == replica or holder.startswith(f"{replica}_")


def test_a_frozen_leader_sends_no_write_after_the_standby_took_over(
    kubectl: Kubectl, replicas: tuple[str, dict[str, Replica], Any]
) -> None:
    namespace, _, start = replicas
    began = time.time()
    a = start("replica-a")
    wait_for("replica-a to lead", lambda: held_by(kubectl, namespace, "replica-a"), timeout=60)
    b = start("replica-b")
    wait_for("replica-b to wait as a standby", lambda: "waiting for lease" in b.output(), timeout=60)

    # work for the leader: a service it creates the Deployment of
    web = REPO / "examples" / "web"
    kubectl("apply", "-n", namespace, "-f", str(web / "taskdefinition.yaml"), "-f", str(web / "service.yaml"))
    wait_for("the Deployment", lambda: kubectl.get("deployment", "web", namespace), timeout=60)
    wait_for("replica-a's writes in the audit log", lambda: writes(audited(began), "replica-a", leases=False))
    time.sleep(2 * SETTINGS.lease_retry_period_seconds)  # the standby has seen a renewal

    os.kill(a.process.pid, signal.SIGSTOP)
    frozen = time.time()
    # work arrives while it is frozen: its watches will hand it over when it resumes
    kubectl("patch", "ecsservice", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"desiredCount":5}}')
    wait_for(
        "replica-b to take over",
        lambda: held_by(kubectl, namespace, "replica-b"),
        timeout=SETTINGS.lease_duration_seconds + 30,
    )
    taken = [r for r in writes(audited(frozen), "replica-b", leases=True) if r.code < 300]
    assert taken, "replica-b holds the Lease, but the audit log has no write of it by replica-b"
    handed_over = taken[0].at
    handover = handed_over - frozen
    # the standby counted from the last renewal it saw (at most a retry period before the
    # freeze), on its own clock: not sooner than that allows, and within a bound
    assert SETTINGS.lease_duration_seconds - SETTINGS.lease_retry_period_seconds <= handover
    assert handover <= SETTINGS.lease_duration_seconds + 2 * SETTINGS.lease_retry_period_seconds + 3
    wait_for(
        "the new leader to scale the Deployment",
        lambda: ((kubectl.get("deployment", "web", namespace) or {}).get("spec") or {}).get("replicas") == 5,
        timeout=60,
    )
    time.sleep(2)  # the new leader works while the old one is still frozen

    os.kill(a.process.pid, signal.SIGCONT)
    resumed = time.time()
    code = a.process.wait(30)
    exited = time.time() - resumed
    time.sleep(3)  # anything the old leader sent reaches the audit log
    log = audited(began)
    late = [r for r in writes(log, "replica-a") if r.at >= handed_over]
    assert late == [], f"the old leader wrote after the hand-over: {late}"
    assert code == 1, a.output()[-2000:]
    assert "stopped leading" in a.output()
    assert held_by(kubectl, namespace, "replica-b")
    # the new leader runs the operator (its writes are counted, not asserted: in the whole
    # suite the in-process operator watches this namespace too and may have written first)
    assert "Activity 'start_informers' succeeded" in b.output().split(" leads (", 1)[-1], b.output()[-2000:]
    new_work = writes(log, "replica-b", leases=False)

    measured = {
        "handover_seconds": round(handover, 2),
        "old_leader_exit_seconds": round(exited, 3),
        "old_leader_writes_before": len(writes(log, "replica-a", leases=False)),
        "old_leader_writes_after": len(late),
        "new_leader_writes_after": len(new_work),
    }
    # kept with the logs (stdout may be the in-process operator's runner's while it runs)
    (LOG_DIR / "leader-failover.json").write_text(json.dumps(measured) + "\n")
    print(
        f"\nhand-over {handover:.1f}s after SIGSTOP (lease {SETTINGS.lease_duration_seconds}s, renew deadline "
        f"{SETTINGS.lease_renew_deadline_seconds}s, retry {SETTINGS.lease_retry_period_seconds}s); "
        f"old leader exited {exited:.2f}s after SIGCONT with code {code}; writes: replica-a "
        f"{len(writes(log, 'replica-a', leases=False))} (+{len(writes(log, 'replica-a', leases=True))} Lease) "
        f"before the freeze, 0 after; replica-b {len(new_work)} "
        f"(+{len(writes(log, 'replica-b', leases=True))} Lease) after the hand-over"
    )
