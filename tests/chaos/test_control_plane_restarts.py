"""The API server, then etcd, stopped and started again under a running operator with work in
flight, on a local control plane of its own (issue 27; docs/reliability.md, "The API server
and etcd restarted", has the measured numbers).

The operator runs as its own process (``ecs-facade run --standalone``) and talks to the API
server directly. Each scenario creates a batch of services and, while the operator is still
creating them, changes some (a desiredCount, a rollout to another task definition), then
stops one component of the control plane with ``hack/cluster.sh stop`` (the API server with
SIGTERM, then SIGKILL; etcd with SIGTERM), keeps it down a few seconds and starts it again with
``hack/cluster.sh start`` (the same flags). Right after it is back, more changes: a new
service, a new standalone task (kopf's own watch), another desiredCount. The operator must
reconnect by itself — the same process, never restarted — and:

- the first new service gets its Deployment, and the new task its pod, within a bound
  derived from the operator's settings: the informers' backoff (1 s doubling to 30 s,
  ``kube/informer.py``) or kopf's request backoffs (1, 1, 2, 3, 5, 8, 13, 21 s) at the moment
  the control plane came back, plus one call (``2 * connect + read``), plus a margin;
- every service converges (Ready, its counts, its task definition), each with one
  Deployment, the changes made before the stop and after the start applied, the new task
  RUNNING with one pod;
- the operator's log shows every informer losing its watch and watching again.

The numbers are printed and written to ``.e2e-logs/chaos-restart-results.json``.

Bounded: each wait has a limit; the cluster (the restarted component too: ``hack/cluster.sh
down`` stops it by its PID file) and the operator are stopped at the end
(``E2E_PORT_BASE`` + 1200 and ``.cluster-chaos-restart``: never the e2e suite's cluster)."""

import calendar
import inspect
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ecs_facade.kube.informer import Informer
from tests.chaos.faults import LOG_DIR, LocalCluster, OperatorProcess, cluster_with_crds, recorded, stamped
from tests.e2e.kube import Kubectl, apply_objects, wait_for

pytestmark = pytest.mark.e2e

PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "17000")) + 1200
# the operator's settings here: short, so that the scenarios take seconds
CONNECT, READ, WATCH = 2, 4, 20
CALL_BOUND = 2 * CONNECT + READ  # a call fails within this (kube/client.py, retries)
SETTINGS = {
    "ECS_FACADE_API_CONNECT_TIMEOUT_SECONDS": str(CONNECT),
    "ECS_FACADE_API_READ_TIMEOUT_SECONDS": str(READ),
    "ECS_FACADE_WATCH_TIMEOUT_SECONDS": str(WATCH),
    "ECS_FACADE_SERVICE_WORKERS": "8",
}
# the informers' backoff after a failed watch or list: first, most (kube/informer.py)
INFORMER_BACKOFF: tuple[float, float] = inspect.signature(Informer).parameters["backoff"].default
# kopf's backoffs between the attempts of one request (its watches' too), then the watch is
# asked again at once (kopf's NetworkingSettings.error_backoffs, which the operator keeps)
KOPF_BACKOFFS = (1, 1, 2, 3, 5, 8, 13, 21)
MARGIN = 10.0  # the reconcile's own calls and kubectl's polling, on 2 shared cores
STEADY = 10.0  # a service is Ready once its tasks ran this long (steady_state_seconds)
DOWN = 6.0  # seconds the component stays down
SERVICES = 40
BURST = 10  # services created right before the stop
RESULTS = LOG_DIR / "chaos-restart-results.json"
SERVICE_LABEL = "ecs.facade.dev/service"
TASK_LABEL = "ecs.facade.dev/task"
IMAGES = {"app": "example/app:1", "app2": "example/app:2"}


PROBE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "probe"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "probe"}},
        "template": {
            "metadata": {"labels": {"app": "probe"}},
            "spec": {"containers": [{"name": "probe", "image": "example/probe:1"}]},
        },
    },
}


def informer_delays() -> Iterator[float]:
    first, most = INFORMER_BACKOFF
    delay = first
    while True:
        yield delay
        delay = min(most, delay * 2)


def kopf_delays() -> Iterator[float]:
    while True:
        yield from KOPF_BACKOFFS
        yield 0.0  # the request escalated: the watch is asked again at once


def next_attempt_within(delays: Iterable[float], outage: float) -> float:
    """How long after an outage of ``outage`` seconds a client that retries with ``delays``
    (each attempt failing at once while it lasts) tries again at the latest: the delay in
    which the outage ends."""
    elapsed = 0.0
    for delay in delays:
        elapsed += delay
        if elapsed >= outage:
            return delay
    raise AssertionError("unreachable: the delays never end")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, Kubectl]]:
    why = "the restart scenarios stop and start the local control plane's own processes"
    restarted: dict[str, int | None] = {}
    with cluster_with_crds("restart", PORT_BASE, why) as (local, kubectl):
        try:
            yield local, kubectl
        finally:
            restarted = {component: local.pid(component) for component in ("etcd", "kube-apiserver")}
    for component, pid in restarted.items():  # down stopped the restarted ones too, by their PID files
        assert pid is None or not alive(pid), (component, pid)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def operator(cluster: tuple[LocalCluster, Kubectl]) -> Iterator[OperatorProcess]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    process = OperatorProcess(cluster[0].directory / "kubeconfig", LOG_DIR / "chaos-restart-operator.log", SETTINGS)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, Any]]:
    with recorded(RESULTS) as measured:
        yield measured


def task_definition(name: str) -> dict[str, Any]:
    container = {"name": "app", "image": IMAGES[name], "cpu": 16, "memory": 32}  # 3 x 90 tasks on 12 CPUs
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTaskDefinition",
        "metadata": {"name": name},
        "spec": {"containerDefinitions": [container]},
    }


def service(name: str, desired: int, definition: str = "app") -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": name},
        "spec": {"taskDefinition": definition, "desiredCount": desired},
    }


def ecs_task(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTask",
        "metadata": {"name": name},
        "spec": {"taskDefinition": "app"},
    }


@dataclass
class Snapshot:
    """A namespace's services, Deployments, tasks and pods, read at once (three kubectl calls
    instead of three per service)."""

    services: dict[str, dict[str, Any]]
    deployments: dict[str, list[dict[str, Any]]]  # by service
    pods: dict[str, list[dict[str, Any]]]  # by service or task (not being deleted)
    tasks: dict[str, dict[str, Any]]

    @classmethod
    def read(cls, kubectl: Kubectl, namespace: str) -> "Snapshot":
        def items(kind: str) -> list[dict[str, Any]]:
            return list(kubectl.json("get", kind, "-n", namespace)["items"])

        deployments: dict[str, list[dict[str, Any]]] = {}
        for deployment in items("deployments"):
            owner = (deployment["metadata"].get("labels") or {}).get(SERVICE_LABEL, "")
            deployments.setdefault(owner, []).append(deployment)
        pods: dict[str, list[dict[str, Any]]] = {}
        for pod in items("pods"):
            labels = pod["metadata"].get("labels") or {}
            if not pod["metadata"].get("deletionTimestamp"):
                owner = labels.get(SERVICE_LABEL) or (f"task/{labels[TASK_LABEL]}" if TASK_LABEL in labels else "")
                pods.setdefault(owner or f"other/{labels.get('app')}", []).append(pod)
        return cls(
            services={s["metadata"]["name"]: s for s in items("ecsservices")},
            deployments=deployments,
            pods=pods,
            tasks={t["metadata"]["name"]: t for t in items("ecstasks")},
        )

    def problem(self, name: str, desired: int, definition: str) -> str | None:
        """Why service ``name`` has not converged to ``desired`` tasks of ``definition``
        (None: it has: Ready, its counts, one Deployment of that image, its tasks running)."""
        found = self.services.get(name)
        if found is None:
            return "no such service"
        status = found.get("status") or {}
        ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
        if ready.get("status") != "True" or status.get("runningCount") != desired:
            return f"Ready={ready.get('status')} ({ready.get('message')}), running {status.get('runningCount')}"
        deployments = self.deployments.get(name, [])
        if [d["metadata"]["name"] for d in deployments] != [name]:
            return f"Deployments {[d['metadata']['name'] for d in deployments]}"
        template = deployments[0]["spec"]["template"]["spec"]["containers"][0]["image"]
        if deployments[0]["spec"].get("replicas") != desired or template != IMAGES[definition]:
            return f"Deployment replicas {deployments[0]['spec'].get('replicas')}, image {template}"
        pods = self.pods.get(name, [])
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        images = {p["spec"]["containers"][0]["image"] for p in pods}
        if len(pods) != desired or len(running) != desired or images != {IMAGES[definition]}:
            return f"{len(pods)} tasks, {len(running)} running, images {sorted(images)}"
        return None

    def probe_running(self) -> bool:
        """The plain Deployment's pod runs: the rest of the control plane (controller-manager,
        scheduler, kwok) recovered too, whatever the operator does."""
        return any(p["status"].get("phase") == "Running" for p in self.pods.get("other/probe", []))

    def task_running(self, name: str) -> bool:
        status = (self.tasks.get(name) or {}).get("status") or {}
        return status.get("lastStatus") == "RUNNING" and len(self.pods.get(f"task/{name}", [])) == 1


@dataclass
class Milestones:
    """When (seconds after ``since``) each condition on the namespace's snapshot first held."""

    since: float
    seen: dict[str, float] = field(default_factory=dict)
    explain: Callable[[Snapshot], str] = lambda _: ""

    def watch(
        self, kubectl: Kubectl, namespace: str, checks: dict[str, Callable[[Snapshot], bool]], timeout: float
    ) -> Snapshot:
        deadline = self.since + timeout
        while True:
            try:
                snapshot = Snapshot.read(kubectl, namespace)
            except AssertionError:  # kubectl failures while the control plane settles
                snapshot = None
            now = time.monotonic()
            if snapshot is not None:
                for name, check in checks.items():
                    if name not in self.seen and check(snapshot):
                        self.seen[name] = round(now - self.since, 1)
                if all(name in self.seen for name in checks):
                    return snapshot
            if now > deadline:
                missing = [name for name in checks if name not in self.seen]
                problems = self.explain(snapshot) if snapshot is not None else "no snapshot"
                raise AssertionError(f"after {timeout:.0f} s, not yet: {missing}; seen: {self.seen}; {problems}")
            time.sleep(0.3)


@dataclass
class Restart:
    component: str
    kill: bool
    stopped_at: float = 0.0  # monotonic: the stop began
    exited_after: float = 0.0  # seconds the stop took
    ready_at: float = 0.0  # monotonic: back and healthy
    wall_stopped_at: float = 0.0  # time.time(), for the log's stamps
    escalated: bool = False  # SIGTERM did not stop it within hack/cluster.sh's 20 s: SIGKILL

    @property
    def outage(self) -> float:
        return self.ready_at - self.stopped_at


def created_at(obj: dict[str, Any]) -> float:
    """metadata.creationTimestamp as time.time() (whole seconds)."""
    stamp = obj["metadata"]["creationTimestamp"]
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def logged_since(text: str, since: float, pattern: str) -> list[re.Match[str]]:
    """The log lines matching ``pattern`` written at ``since`` (time.time()) or later."""
    found: list[re.Match[str]] = []
    for line in text.splitlines():
        stamps = stamped(line, "")
        if stamps and stamps[0] >= since - 1 and (match := re.search(pattern, line)):
            found.append(match)
    return found


def wanted(expected: dict[str, tuple[int, str]]) -> Callable[[Snapshot], bool]:
    return lambda snapshot: all(snapshot.problem(n, d, td) is None for n, (d, td) in expected.items())


def restart_with_work_in_flight(
    cluster: tuple[LocalCluster, Kubectl],
    operator: OperatorProcess,
    results: dict[str, Any],
    namespace: str,
    restart: Restart,
    while_down: Callable[[], None] = lambda: None,
    watches_lost: int | None = None,
) -> None:
    """The scenario, for one component: see the module's docstring. ``watches_lost``: how
    many informers must have lost their watch and watched again (None: counted only)."""
    local, kubectl = cluster
    pid = operator.process.pid
    kubectl("create", "namespace", namespace)
    names = [f"s{i:02d}" for i in range(SERVICES)]
    expected = {name: (2, "app") for name in names}
    apply_objects(kubectl, namespace, task_definition("app"), task_definition("app2"))
    created = time.monotonic()
    apply_objects(kubectl, namespace, *(service(n, 2) for n in names))

    # work in flight: some Deployments made, not all; then a scale and a rollout at once
    def some_made() -> int | None:
        made = len(kubectl.json("get", "deployments", "-n", namespace)["items"])
        return made if made >= 1 else None

    wait_for("the first Deployment", some_made, timeout=120, interval=0.2)
    made = len(kubectl.json("get", "deployments", "-n", namespace)["items"])
    # then, at once: a scale, a rollout to another task definition and a burst of new
    # services, and the stop right after: their reconciles are queued or under way
    changed = {**{n: (3, "app") for n in names[:4]}, **{n: (2, "app2") for n in names[4:8]}}
    burst = {f"b{i:02d}": (2, "app") for i in range(BURST)}
    apply_objects(kubectl, namespace, *(service(n, d, td) for n, (d, td) in {**changed, **burst}.items()))
    expected.update(changed | burst)

    restart.wall_stopped_at, restart.stopped_at = time.time(), time.monotonic()
    try:
        said = local.stop_component(restart.component, kill=restart.kill)
        restart.escalated = "SIGKILL" in said and not restart.kill
        restart.exited_after = time.monotonic() - restart.stopped_at
        while_down()
        time.sleep(max(0.0, DOWN - (time.monotonic() - restart.stopped_at)))
    finally:  # back in any case: the next scenario needs the control plane
        local.start_component(restart.component)
    if restart.component == "etcd":  # the API server's own readiness checks etcd
        wait_for("the API server ready", lambda: kubectl.run("get", "--raw", "/readyz").returncode == 0, 60, 0.2)
    restart.ready_at = time.monotonic()

    # right after: a new service, a new standalone task (kopf's watch), another scale; and a
    # plain Deployment, which shows when the rest of the control plane works again
    apply_objects(kubectl, namespace, service("late", 2), ecs_task("late-task"), service(names[8], 3), PROBE)
    expected.update({"late": (2, "app"), names[8]: (3, "app")})
    informer_wait = next_attempt_within(informer_delays(), restart.outage)
    kopf_wait = next_attempt_within(kopf_delays(), restart.outage)
    first_bound = informer_wait + CALL_BOUND + MARGIN
    task_bound = max(informer_wait, kopf_wait) + CALL_BOUND + MARGIN  # kopf's watch: the task's pod
    # a service whose reconcile failed through the outage waits its work queue's backoff
    # (0.5 s doubling): within the outage + 0.5 s after the return
    all_bound = max(first_bound, restart.outage + 0.5 + CALL_BOUND) + STEADY + 2 * MARGIN

    def explain(snapshot: Snapshot) -> str:
        problems = {n: snapshot.problem(n, d, td) for n, (d, td) in expected.items()}
        return f"not converged: { ({n: p for n, p in problems.items() if p}) }"

    milestones = Milestones(restart.ready_at, explain=explain)
    final = milestones.watch(
        kubectl,
        namespace,
        {
            "new service's Deployment": lambda s: bool(s.deployments.get("late")),
            "new task's pod": lambda s: bool(s.pods.get("task/late-task")),
            "plain Deployment's pod Running": Snapshot.probe_running,
            "new task RUNNING": lambda s: s.task_running("late-task"),
            "all converged": wanted(expected),
        },
        timeout=all_bound + 30,
    )
    seen = milestones.seen
    made_of_burst = sum(  # made before the stop (creationTimestamp: whole seconds)
        1 for name in burst if created_at(final.deployments[name][0]) < restart.wall_stopped_at
    )
    key = f"{restart.component} {'SIGKILL' if restart.kill else 'SIGTERM'}"
    results[key] = {
        "Deployments made before the changes": f"{made} of {SERVICES}",
        "burst's Deployments made before the stop": f"{made_of_burst} of {BURST}",
        "stop took (s)": round(restart.exited_after, 1),
        "SIGTERM not enough (SIGKILL after 20 s)": restart.escalated,
        "outage, stop to ready (s)": round(restart.outage, 1),
        "services created to the stop (s)": round(restart.stopped_at - created, 1),
        **{f"{name} after ready (s)": value for name, value in seen.items()},
        "bounds (s)": {"first": first_bound, "task": task_bound, "all": all_bound},
    }

    # the same process, never restarted, and nothing duplicated or lost
    assert operator.alive() and operator.process.pid == pid, operator.text()[-3000:]
    for name, (desired, definition) in expected.items():
        assert final.problem(name, desired, definition) is None, (name, final.problem(name, desired, definition))
    assert final.task_running("late-task")
    assert seen["new service's Deployment"] <= first_bound, (seen, first_bound)
    assert seen["new task's pod"] <= task_bound, (seen, task_bound)
    assert seen["new task RUNNING"] <= all_bound, (seen, all_bound)
    assert seen["all converged"] <= all_bound, (seen, all_bound)

    # the informers that lost their watch and watched again, the calls that failed, in the log
    log = operator.text()
    lost = {m.group(1) for m in logged_since(log, restart.wall_stopped_at, r"(/api\S*): .*; watching again in")}
    relisted = {m.group(1) for m in logged_since(log, restart.wall_stopped_at, r"(/api\S*): resource version")}
    results[key]["informers that lost their watch"] = len(lost)
    results[key]["informers listed again (410)"] = len(relisted)
    results[key]["reconciles failed and retried"] = len(
        logged_since(log, restart.wall_stopped_at, r"reconcile of .* failed; retrying")
    )
    if watches_lost is not None:
        assert len(lost) == watches_lost, sorted(lost)
    # kopf's watchers (one per kind it watches) never gave up: a failed one is not started again
    assert not re.search(r"(?i)watcher for .* (has failed|has finished unexpectedly)", log), log[-3000:]


def test_api_server_restarted_with_work_in_flight(
    cluster: tuple[LocalCluster, Kubectl], operator: OperatorProcess, results: dict[str, Any]
) -> None:
    restart = Restart("kube-apiserver", kill=False)
    # every informer (informers.WATCHED, one scope each) loses its watch
    restart_with_work_in_flight(cluster, operator, results, "chaos-apiserver", restart, watches_lost=12)


def test_api_server_killed_with_work_in_flight(
    cluster: tuple[LocalCluster, Kubectl], operator: OperatorProcess, results: dict[str, Any]
) -> None:
    """No graceful shutdown: the connections are reset at once."""
    restart = Restart("kube-apiserver", kill=True)
    restart_with_work_in_flight(cluster, operator, results, "chaos-apiserver-kill", restart, watches_lost=12)


def test_etcd_restarted_with_work_in_flight(
    cluster: tuple[LocalCluster, Kubectl], operator: OperatorProcess, results: dict[str, Any]
) -> None:
    """The API server stays up, its storage goes: reads and writes fail (5xx, timeouts).

    SIGTERM: with SIGKILL, twice in five runs a pod the scheduler bound at the moment of the
    kill ("Successfully assigned" in its log) was never run by kwok and stayed Pending for
    good, the control plane's own loss, whatever the operator does (docs/reliability.md)."""
    _, kubectl = cluster
    refused: list[str] = []

    def write_while_down() -> None:
        started = time.monotonic()
        try:
            written = kubectl.run("create", "configmap", "while-down", "-n", "chaos-etcd", "--request-timeout=3s")
            refused.append(f"{written.returncode}: {written.stderr.strip()[:200]}")
        except subprocess.TimeoutExpired:
            refused.append("kubectl timed out")
        refused.append(f"after {time.monotonic() - started:.1f} s")

    restart = Restart("etcd", kill=False)
    restart_with_work_in_flight(cluster, operator, results, "chaos-etcd", restart, write_while_down)
    results["etcd SIGTERM"]["a write while etcd was down"] = " ".join(refused)
    assert not refused[0].startswith("0:"), refused  # the storage was gone indeed
