#!/usr/bin/env python3
"""ecs-facade's scale benchmark: S services of T tasks on N simulated container instances,
against the same Deployments and PodDisruptionBudgets created directly through the API (the
floor the API server, the controllers and kwok set on this machine: a hand-written equivalent
of an ECS service is a Deployment and its budget).

    .venv/bin/python hack/bench/bench.py --quick            # a minute: proves the program works
    .venv/bin/python hack/bench/bench.py                    # N=200, S=125,250,500, T=4, 3 runs
    .venv/bin/python hack/bench/bench.py --sizes 5000 --repeats 1 --nodes 1000   # the ECS quota

It brings up its own local control plane (.cluster-bench/, ports 19000+) with an audit log
of the operator's requests, runs the operator as a separate process (the Helm chart's
ServiceAccount and RBAC, so its requests are told apart), and writes JSON, Markdown and a
PNG plot to --output (default hack/bench/results/). Numbers, not assertions: see
docs/performance.md for how to read them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "operator"))

from kubernetes import client, config, watch  # noqa: E402

from ecs_facade.metrics import parse  # noqa: E402
from ecs_facade.model.taskdefinition import parse_task_definition  # noqa: E402
from ecs_facade.translate.service import ServiceDecisions, build_disruption_budget, build_workload  # noqa: E402

CLUSTER_DIR = REPO / ".cluster-bench"
PORT_BASE = 19000
OPERATOR_NAMESPACE, ACCOUNT = "ecs-facade-system", "ecs-facade"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{ACCOUNT}"
WRITES = {"create", "update", "patch", "delete", "deletecollection"}
TASK_DEFINITION = {"cpu": "256", "memory": "512", "containerDefinitions": [{"name": "app", "image": "app:1"}]}
BUDGET = "budget"  # a baseline body's PodDisruptionBudget, created with its Deployment


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def progress(what: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    print(f"\r  {what:<28} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end, file=sys.stderr)


# --- the cluster ------------------------------------------------------------------------


class Cluster:
    def __init__(self, nodes: int) -> None:
        self.env = {
            **os.environ,
            "ECS_FACADE_CLUSTER_DIR": str(CLUSTER_DIR),
            "ECS_FACADE_PORT_BASE": str(PORT_BASE),
            "ECS_FACADE_NODES": str(nodes),
            "ECS_FACADE_NODE_CPU": "64",
            "ECS_FACADE_NODE_MEMORY": "256Gi",
            "ECS_FACADE_AUDIT_USER": OPERATOR_USER,
        }
        self.kubeconfig = str(CLUSTER_DIR / "kubeconfig")
        self.audit_log = CLUSTER_DIR / "logs" / "audit.log"
        self._offset = 0
        self._events: list[dict[str, Any]] = []

    def up(self) -> None:
        subprocess.run([REPO / "hack/cluster.sh", "down", "--purge"], env=self.env, capture_output=True)
        started = time.monotonic()
        subprocess.run([REPO / "hack/cluster.sh", "up"], env=self.env, check=True, capture_output=True)
        log(f"control plane up in {time.monotonic() - started:.0f}s")
        out = subprocess.run([REPO / "hack/cluster.sh", "env"], env=self.env, capture_output=True, text=True)
        self.bin = out.stdout.split("PATH=")[1].split(":")[0]
        self.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds"))
        rendered = subprocess.run(
            [f"{self.bin}/helm", "template", ACCOUNT, str(REPO / "charts/ecs-facade"), "-n", OPERATOR_NAMESPACE,
             "--kube-version", "1.37.0", "--show-only", "templates/serviceaccount.yaml",
             "--show-only", "templates/rbac.yaml"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        self.kubectl("create", "namespace", OPERATOR_NAMESPACE)
        self.kubectl("apply", "-n", OPERATOR_NAMESPACE, "-f", "-", input=rendered)

    def down(self) -> None:
        subprocess.run([REPO / "hack/cluster.sh", "down", "--purge"], env=self.env, capture_output=True)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each control-plane process has used so far (etcd, kube-apiserver, ...)."""
        used = {}
        for pidfile in sorted((CLUSTER_DIR / "pids").glob("*.pid")):
            try:
                used[pidfile.stem] = process_cpu_seconds(int(pidfile.read_text()))
            except (OSError, ValueError):
                continue
        return used

    def profile(self, path: Path, after: float, seconds: int) -> list[threading.Thread]:
        """CPU profiles (pprof) of kube-apiserver and kube-controller-manager over ``seconds``,
        starting ``after`` seconds from now, written to ``path`` with ``-apiserver`` and
        ``-controller-manager`` added to its stem (the control plane must run with
        ECS_FACADE_PROFILING)."""
        servers = {
            "apiserver": (),
            # the controller-manager's secure port, asked with the admin's credentials
            "controller-manager": (f"--server=https://127.0.0.1:{PORT_BASE + 257}", "--insecure-skip-tls-verify"),
        }

        def run(component: str, server: tuple[str, ...]) -> None:
            time.sleep(after)
            query = f"/debug/pprof/profile?seconds={seconds}"
            out = subprocess.run(
                [f"{self.bin}/kubectl", "--kubeconfig", self.kubeconfig, *server, "get", "--raw", query],
                capture_output=True, timeout=seconds + 60,
            )  # fmt: skip
            if out.returncode != 0:
                log(f"  no {component} profile: {out.stderr.decode(errors='replace').strip()}")
                return
            path.with_name(f"{path.stem}-{component}{path.suffix}").write_bytes(out.stdout)

        threads = [threading.Thread(target=run, args=item, daemon=True) for item in servers.items()]
        for thread in threads:
            thread.start()
        return threads

    def kubectl(self, *args: str, input: str | None = None) -> str:
        return subprocess.run(
            [f"{self.bin}/kubectl", "--kubeconfig", self.kubeconfig, *args],
            input=input, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    def operator_kubeconfig(self) -> Path:
        token = self.kubectl("create", "token", ACCOUNT, "-n", OPERATOR_NAMESPACE, "--duration", "24h").strip()
        admin = json.loads(self.kubectl("config", "view", "--raw", "--minify", "-o", "json"))
        path = CLUSTER_DIR / "operator.kubeconfig"
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "bench", "cluster": admin["clusters"][0]["cluster"]}],
                    "users": [{"name": ACCOUNT, "user": {"token": token}}],
                    "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": ACCOUNT}}],
                    "current-context": "bench",
                }
            )
        )
        return path

    def operator_requests(self, since: float, until: float | None = None) -> list[dict[str, Any]]:
        """The operator's requests (audit events, one per request) received in [since, until);
        the log is read on from where the last call stopped."""
        with self.audit_log.open("rb") as lines:
            lines.seek(self._offset)
            while line := lines.readline():
                if not line.endswith(b"\n"):
                    break  # a line being written: read it next time
                self._offset += len(line)
                event = json.loads(line)
                if event.get("stage") == "ResponseComplete":
                    event["_at"] = _epoch(event["requestReceivedTimestamp"])
                    self._events.append(event)
        return [e for e in self._events if e["_at"] >= since and (until is None or e["_at"] < until)]


def _epoch(stamp: str) -> float:
    import datetime

    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def writes(events: Iterable[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["verb"] in WRITES)


def writes_by_resource(events: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Writes counted by verb, resource and subresource ("patch ecsservices/status")."""
    counted: dict[str, int] = {}
    for event in events:
        if event["verb"] in WRITES:
            ref = event.get("objectRef") or {}
            resource = ref.get("resource") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
            key = f"{event['verb']} {resource}"
            counted[key] = counted.get(key, 0) + 1
    return dict(sorted(counted.items()))


# --- the operator as a process ----------------------------------------------------------


@dataclass
class Operator:
    cluster: Cluster
    metrics_port: int = PORT_BASE + 90
    profile: Path | None = None  # py-spy's collapsed stacks of the operator, when set (one file per start)
    starts: int = 0
    process: subprocess.Popen[bytes] | None = None
    pid: int = 0  # the operator's (under py-spy, the profiler's child)
    rss_samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.cluster.operator_kubeconfig())}
        logfile = (CLUSTER_DIR / "logs" / "operator.log").open("ab")
        command = [str(REPO / ".venv/bin/ecs-facade"), "run", "--standalone", f"--metrics-port={self.metrics_port}"]
        self.starts += 1
        if self.profile is not None:
            output = self.profile.with_name(f"{self.profile.stem}-{self.starts}{self.profile.suffix}")
            # --nonblocking: pausing the operator for each sample slows it down so much that the
            # run would measure the profiler, not the operator (docs/performance.md)
            command = [str(REPO / ".venv/bin/py-spy"), "record", "--format", "raw", "--rate", "50", "--gil",
                       "--nonblocking", "--output", str(output), "--", sys.executable, *command]  # fmt: skip
        self.process = subprocess.Popen(command, env=env, stdout=logfile, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        if self.profile is not None:
            self.pid = wait(lambda: _child_of(self.process.pid) if self.process else None, 30, "the profiled operator")
        self._stop.clear()
        threading.Thread(target=self._sample, daemon=True).start()
        wait(lambda: self.metrics() is not None, 60, "the operator's metrics endpoint")

    def _sample(self) -> None:
        while not self._stop.wait(0.5) and self.process is not None:
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    self.rss_samples.append(int(line.split()[1]) * 1024)

    def mark(self) -> int:
        """Where the RSS samples stand now: peak_since(mark) is the peak of what follows."""
        return len(self.rss_samples)

    def peak_since(self, mark: int) -> int:
        return max(self.rss_samples[mark:], default=0)

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return process_cpu_seconds(self.pid)

    def metrics(self) -> dict[str, float] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        return parse(text)

    def sums(self) -> dict[str, float]:
        """The operator's histogram sums and counts: mean reconcile time and queue wait."""
        wanted = (
            "controller_runtime_reconcile_time_seconds",
            "workqueue_queue_duration_seconds",
            "ecs_facade_watch_lag_seconds",
            "python_gc_pause_seconds",
        )
        return {k: v for k, v in (self.metrics() or {}).items() if k.startswith(wanted) and "_bucket" not in k}

    def queued(self) -> float:
        """Keys in the service work queue, due or waiting (nan: no metrics)."""
        metrics = self.metrics()
        if metrics is None:
            return float("nan")
        return sum(v for k, v in metrics.items() if k.startswith("workqueue_depth"))

    def reconciles(self) -> float:
        return sum(v for k, v in (self.metrics() or {}).items() if k.startswith("controller_runtime_reconcile_total"))

    def stop(self) -> None:
        self._stop.set()
        if self.process is not None:
            os.kill(self.pid, signal.SIGTERM)  # the operator itself (py-spy, if it runs it, exits after it)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.kill()
                self.process.wait()
            self.process = None


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """The benchmark process's own CPU (its watchers and creating threads)."""
    used = os.times()
    return used.user + used.system


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 1) for name in after}


def _child_of(pid: int) -> int | None:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if children else None


def wait(probe: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def wait_idle(cluster: Cluster, quiet: float, timeout: float, operator: Operator | None = None) -> float:
    """Wall-clock time when the operator made no request (but watches) for ``quiet`` seconds
    and (given ``operator``) has nothing in its service work queue, delayed keys included (a
    status refresh that waits for its time)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(1)
        recent = [e for e in cluster.operator_requests(time.time() - quiet) if e["verb"] != "watch"]
        if not recent and (operator is None or operator.queued() == 0):
            last = cluster.operator_requests(time.time() - quiet - 30)
            active = [_epoch(e["requestReceivedTimestamp"]) for e in last if e["verb"] != "watch"]
            return max(active, default=time.time() - quiet)
    raise SystemExit("bench: the operator never went idle")


# --- one run ----------------------------------------------------------------------------


class Watcher:
    """First times (monotonic) at which each object of a kind reached a state, from a watch."""

    def __init__(
        self, api: client.ApiClient, namespace: str, kind: str, predicate: Callable[[dict[str, Any]], str | None]
    ):
        self.times: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(api, namespace, kind, predicate), daemon=True)
        self._thread.start()

    def _run(
        self, api: client.ApiClient, namespace: str, kind: str, predicate: Callable[[dict[str, Any]], str | None]
    ) -> None:
        objects = client.CustomObjectsApi(api)
        group, version, plural = {
            "deployments": ("apps", "v1", "deployments"),
            "ecsservices": ("ecs.facade.dev", "v1alpha1", "ecsservices"),
        }[kind]
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(
                    objects.list_namespaced_custom_object, group, version, namespace, plural, timeout_seconds=30
                ):
                    body = event["object"]
                    state = predicate(body)
                    if state is not None:
                        self.times.setdefault((body["metadata"]["name"], state), time.monotonic())
                    if self._stop.is_set():
                        break
            except Exception:  # a watch ends (or fails): start another
                time.sleep(0.2)

    def count(self, state: str) -> int:
        return sum(1 for _, s in list(self.times) if s == state)

    def since(self, state: str, started: dict[str, float]) -> list[float]:
        """Seconds from each object's start (a create, a patch) to the watch seeing it reach
        ``state``, sorted; objects it was not seen reach are left out."""
        return sorted(self.times[(n, state)] - t for n, t in started.items() if (n, state) in self.times)

    def stop(self) -> None:
        self._stop.set()


def deployment_state(tasks: int) -> Callable[[dict[str, Any]], str | None]:
    def state(body: dict[str, Any]) -> str | None:
        spec, status = body.get("spec") or {}, body.get("status") or {}
        replicas = spec.get("replicas")
        if replicas is not None and status.get("readyReplicas") == replicas == tasks:
            return "ready"
        if replicas == tasks:
            return "reconciled"
        if replicas == tasks + 1:
            return "scaled"
        return None

    return state


def service_state(body: dict[str, Any]) -> str | None:
    status = body.get("status") or {}
    desired = (body.get("spec") or {}).get("desiredCount")
    if status.get("runningCount") == desired and status.get("desiredCount") == desired:
        return f"converged-{desired}"
    return None


def steady_state(body: dict[str, Any]) -> str | None:
    """Ready with reason SteadyState: the tasks have also been healthy for the operator's settle
    time (ECS_FACADE_STEADY_STATE_SECONDS), and the deployment is COMPLETED."""
    status = body.get("status") or {}
    desired = (body.get("spec") or {}).get("desiredCount")
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    if ready.get("status") == "True" and ready.get("reason") == "SteadyState" and status.get("runningCount") == desired:
        return f"steady-{desired}"
    return None


def admin_api(cluster: Cluster, concurrency: int) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=cluster.kubeconfig, client_configuration=configuration)
    configuration.connection_pool_maxsize = concurrency * 2
    return client.ApiClient(configuration)


def create_all(
    what: str, bodies: list[dict[str, Any]], create: Callable[[dict[str, Any]], Any], concurrency: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Create every body with ``concurrency`` threads: the monotonic times each create started
    and returned."""
    started: dict[str, float] = {}
    returned: dict[str, float] = {}
    done = 0
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:

        def one(body: dict[str, Any]) -> None:
            name = body["metadata"]["name"]
            started[name] = time.monotonic()
            create(body)
            returned[name] = time.monotonic()

        for future in concurrent.futures.as_completed([pool.submit(one, b) for b in bodies]):
            future.result()
            done += 1
            if done % max(1, len(bodies) // 20) == 0 or done == len(bodies):
                progress(what, done, len(bodies))
    return started, returned


def delete_namespace(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=3600s")


def baseline_run(
    cluster: Cluster, services: int, tasks: int, concurrency: int, pprof: Path | None = None
) -> dict[str, Any]:
    """The same Deployments and PodDisruptionBudgets the operator would make (its translators,
    the defaults of an ECSService without a deploymentConfiguration), created directly, each
    budget just before its Deployment as the operator applies them: the floor."""
    namespace = f"baseline-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    api = admin_api(cluster, concurrency)
    task_definition = parse_task_definition(TASK_DEFINITION, "app")
    decisions = ServiceDecisions(desired_count=tasks)
    bodies = []
    for i in range(services):
        name = f"svc-{i}"
        manifest = build_workload(name, namespace, task_definition, 1, decisions).manifest
        budget = build_disruption_budget(name, namespace, tasks, decisions.minimum_healthy_percent)
        bodies.append({**manifest, BUDGET: budget})
    watcher = Watcher(api, namespace, "deployments", deployment_state(tasks))
    apps = client.AppsV1Api(api)
    policy = client.PolicyV1Api(api)

    def create(body: dict[str, Any]) -> None:
        deployment = {k: v for k, v in body.items() if k != BUDGET}
        policy.create_namespaced_pod_disruption_budget(namespace, body[BUDGET])
        apps.create_namespaced_deployment(namespace, deployment)

    control_plane = cluster.cpu_seconds()
    bench_before = own_cpu_seconds()
    first = time.monotonic()
    if pprof is not None:
        cluster.profile(pprof.with_name(f"{pprof.name}-baseline.pprof"), 5, 30)
    created, returned = create_all("baseline Deployments and budgets", bodies, create, concurrency)
    done = max(returned.values())
    wait(lambda: watcher.count("ready") >= services, 7200, "the baseline to converge")
    convergence = max(t for (_, s), t in watcher.times.items() if s == "ready") - first
    control_plane = cpu_used(control_plane, cluster.cpu_seconds())
    control_plane["bench client"] = round(own_cpu_seconds() - bench_before, 1)
    watcher.stop()
    delete_namespace(cluster, namespace)
    # the floor of the operator's reconcile latency: from a create to the benchmark's watch
    # seeing the Deployment, with nobody in between
    latencies = watcher.since("reconciled", created)
    return {
        "convergence_seconds": convergence,
        # the floor of the operator's first reconciles: S Deployment writes take this long here
        "created_seconds": done - first,
        "create_latency_seconds": percentiles(latencies),
        # from a create's start to its answer: the budget and the Deployment exist (the API-side floor)
        "create_call_seconds": percentiles(sorted(returned[n] - t for n, t in created.items())),
        "control_plane_cpu_seconds": control_plane,
    }


def ecs_facade_run(
    cluster: Cluster,
    operator: Operator,
    services: int,
    tasks: int,
    concurrency: int,
    quiet: float,
    pprof: Path | None = None,
) -> dict[str, Any]:
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    api = admin_api(cluster, concurrency)
    objects = client.CustomObjectsApi(api)
    group = ("ecs.facade.dev", "v1alpha1", namespace)
    task_definition = {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSTaskDefinition"}
    objects.create_namespaced_custom_object(
        *group, "ecstaskdefinitions", {**task_definition, "metadata": {"name": "app"}, "spec": TASK_DEFINITION}
    )

    def revision() -> Any:
        registered = objects.get_namespaced_custom_object(*group, "ecstaskdefinitions", "app")
        return (registered.get("status") or {}).get("revision")

    wait(revision, 60, "the task definition revision")
    bodies = [
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSService",
            "metadata": {"name": f"svc-{i}"},
            "spec": {"taskDefinition": "app", "desiredCount": tasks},
        }
        for i in range(services)
    ]
    deployments = Watcher(api, namespace, "deployments", deployment_state(tasks))
    ecs_services = Watcher(api, namespace, "ecsservices", service_state)
    steady_services = Watcher(api, namespace, "ecsservices", steady_state)
    cpu_before, wall_before = operator.cpu_seconds(), time.time()
    reconciles_before = operator.reconciles()
    sums_before = operator.sums()
    bench_before = own_cpu_seconds()
    control_plane = cluster.cpu_seconds()
    first = time.monotonic()
    if pprof is not None:
        cluster.profile(pprof.with_name(f"{pprof.name}-ecs-facade.pprof"), 5, 30)
    created, returned = create_all(
        "ECSServices",
        bodies,
        lambda b: objects.create_namespaced_custom_object("ecs.facade.dev", "v1alpha1", namespace, "ecsservices", b),
        concurrency,
    )
    # the operator's CPU while it made the first reconciles: it shares the two cores with them
    wait(lambda: deployments.count("reconciled") >= services, 600, "the Deployments", interval=0.05)
    cpu_in_burst = operator.cpu_seconds() - cpu_before
    wait(lambda: ecs_services.count(f"converged-{tasks}") >= services, 7200, "the services to converge")
    convergence = max(t for (_, s), t in ecs_services.times.items() if s == f"converged-{tasks}") - first
    control_plane = cpu_used(control_plane, cluster.cpu_seconds())
    cpu_at_convergence = operator.cpu_seconds() - cpu_before
    control_plane["bench client"] = round(own_cpu_seconds() - bench_before, 1)
    sums = {k: v - sums_before.get(k, 0.0) for k, v in operator.sums().items()}
    created_seconds = max(returned.values()) - first
    latencies = deployments.since("reconciled", created)
    # where the time to convergence went: the Deployments written, their tasks ready, the
    # services' statuses saying so
    reconciled_seconds = max(t for (_, s), t in deployments.times.items() if s == "reconciled") - first
    wait(lambda: deployments.count("ready") >= services, 120, "the Deployments' ready counts")
    tasks_ready_seconds = max(t for (_, s), t in deployments.times.items() if s == "ready") - first

    # a desiredCount change on a tenth of the services
    changed = [f"svc-{i}" for i in range(0, services, 10)]
    patched: dict[str, float] = {}
    for name in changed:
        patched[name] = time.monotonic()
        objects.patch_namespaced_custom_object(
            "ecs.facade.dev", "v1alpha1", namespace, "ecsservices", name, {"spec": {"desiredCount": tasks + 1}}
        )
    wait(lambda: all((n, "scaled") in deployments.times for n in changed), 600, "the scaled Deployments")
    scale_latencies = deployments.since("scaled", patched)
    wait(lambda: ecs_services.count(f"converged-{tasks + 1}") >= len(changed), 600, "the scaled services")
    # the steady state comes a settle time after the last task is ready: the idle stretch and the
    # steady-state window start after it, so that its writes are not taken for steady-state ones
    # (a scaled service may have been scaled before it settled: only its new count is waited for)
    unchanged = [f"svc-{i}" for i in range(services) if f"svc-{i}" not in patched]
    wait(
        lambda: (
            all((n, f"steady-{tasks}") in steady_services.times for n in unchanged)
            and all((n, f"steady-{tasks + 1}") in steady_services.times for n in changed)
        ),
        600,
        "the services' steady state",
    )
    idle_at = wait_idle(cluster, 5, 600, operator)
    cpu = operator.cpu_seconds() - cpu_before
    events = cluster.operator_requests(wall_before, idle_at + 1)
    offset = time.time() - time.monotonic()
    reached = {n: t for (n, state), t in deployments.times.items() if state == "reconciled"}
    reconciles = operator.reconciles() - reconciles_before

    # steady state: a quiet stretch after convergence should cost no writes at all
    quiet_from = time.time()
    time.sleep(quiet)
    steady = cluster.operator_requests(quiet_from, time.time())
    deployments.stop()
    ecs_services.stop()
    steady_services.stop()
    return {
        "namespace": namespace,
        "convergence_seconds": convergence,
        "created_seconds": created_seconds,
        "reconciled_seconds": reconciled_seconds,
        "tasks_ready_seconds": tasks_ready_seconds,
        "reconcile_latency_seconds": percentiles(latencies),
        "reconcile_latency_parts_seconds": latency_parts(created, returned, reached, events, offset),
        "reconcile_latency_api_seconds": percentiles(
            [answered - (created[n] + offset) for n, (_, answered) in first_applies(events).items() if n in created]
        ),
        "scale_latency_seconds": percentiles(scale_latencies),
        "scale_latency_api_seconds": percentiles(
            [answered - (patched[n] + offset) for n, answered in scale_applies(events, patched, offset).items()]
        ),
        "cpu_seconds": cpu,
        "cpu_seconds_to_convergence": cpu_at_convergence,
        "cpu_seconds_in_burst": cpu_in_burst,
        "control_plane_cpu_seconds": control_plane,
        "mean_reconcile_seconds": _mean(sums, "controller_runtime_reconcile_time_seconds"),
        "mean_queue_wait_seconds": _mean(sums, "workqueue_queue_duration_seconds"),
        "mean_queue_wait_urgent_seconds": _mean(sums, "workqueue_queue_duration_seconds", 'urgent="true"'),
        "mean_watch_lag_seconds": _mean(sums, "ecs_facade_watch_lag_seconds"),
        # the collector stops every thread: its full collections are candidates for the tail
        "gc_pause_seconds": {
            g: round(sums.get(f'python_gc_pause_seconds_sum{{generation="{g}"}}', 0.0), 3) for g in "012"
        },
        "gc_pauses": {g: int(sums.get(f'python_gc_pause_seconds_count{{generation="{g}"}}', 0.0)) for g in "012"},
        # the standing budgets the disruption controller had to look at during the burst
        "budget_writes_before_convergence": len(
            [
                e
                for e in events
                if (e.get("objectRef") or {}).get("resource") == "poddisruptionbudgets"
                and e["verb"] in ("create", "patch", "update")
                and _epoch(e["requestReceivedTimestamp"]) <= first + convergence + offset
            ]
        ),
        # when they came (seconds from the first create): during the burst, or at its end
        "budget_write_seconds": with_first(
            [
                _epoch(e["requestReceivedTimestamp"]) - (first + offset)
                for e in events
                if (e.get("objectRef") or {}).get("resource") == "poddisruptionbudgets"
                and e["verb"] in ("create", "patch", "update")
            ]
        ),
        "requests": len([e for e in events if e["verb"] != "watch"]),
        "writes": writes(events),
        "writes_by_verb": writes_by_resource(events),
        # what the operator wrote while the first reconciles were still being made: it shares
        # the API server with them
        "writes_in_burst": writes_by_resource(
            e for e in events if _epoch(e["requestReceivedTimestamp"]) <= first + reconciled_seconds + offset
        ),
        "reconciles": reconciles,
        "requests_per_reconcile": len([e for e in events if e["verb"] != "watch"]) / max(reconciles, 1),
        "steady_seconds": quiet,
        "steady_writes": writes(steady),
        "steady_requests": len([e for e in steady if e["verb"] != "watch"]),
    }


def _mean(sums: dict[str, float], histogram: str, label: str = "") -> float | None:
    total = sum(v for k, v in sums.items() if k.startswith(f"{histogram}_sum") and label in k)
    count = sum(v for k, v in sums.items() if k.startswith(f"{histogram}_count") and label in k)
    return round(total / count, 4) if count else None


def restart_run(cluster: Cluster, operator: Operator) -> dict[str, Any]:
    """Restart with everything in place: time until idle, and the writes it made (none expected)."""
    operator.stop()
    started = time.time()
    mark = operator.mark()
    operator.start()
    idle_at = wait_idle(cluster, 5, 900, operator)
    events = cluster.operator_requests(started, idle_at + 1)
    rss = Path(f"/proc/{operator.pid}/status").read_text().split("VmRSS:")[1].split()[0]
    return {
        "rss_bytes_when_idle": int(rss) * 1024,  # no burst behind it: what the state itself takes
        "peak_rss_bytes": operator.peak_since(mark),  # kopf holds every object's first event until all are indexed
        "idle_after_seconds": max(0.0, idle_at - started),
        "writes": writes(events),
        "writes_by_verb": writes_by_resource(events),
    }


def latency_parts(
    created: dict[str, float],
    returned: dict[str, float],
    seen: dict[str, float],
    events: Iterable[dict[str, Any]],
    offset: float,
) -> dict[str, Any]:
    """Where a first reconcile's latency goes, per service: from its create (started) to the
    API server receiving the operator's apply of its Deployment (the watch, the queue, the
    reconcile), the apply itself (received to answered, from the audit log), and from the
    answer to the benchmark's watch seeing the Deployment. The first part is also split at
    the create's answer (``returned``): the create call, which the operator has no part in,
    and what follows it (the watch to the operator, its queue and reconcile, the apply's
    request on its way). ``created``, ``returned`` and ``seen`` are monotonic; ``offset``
    turns them into wall-clock time, as the audit log has it.

    Percentiles of each part, and the parts of the slowest 1 % of services (by the whole)."""
    applies = first_applies(events)
    parts = []
    for name, started in created.items():
        if name in applies and name in seen and name in returned:
            received, answered = applies[name]
            parts.append(
                (
                    received - (started + offset),
                    answered - received,
                    seen[name] + offset - answered,
                    returned[name] - started,
                    received - (returned[name] + offset),
                )
            )
    if not parts:
        return {}
    slowest = sorted(parts, key=lambda p: sum(p[:3]))[-max(1, len(parts) // 100) :]
    names = ("to_apply", "apply", "to_watch", "create_call", "created_to_apply")
    return {
        **{name: percentiles([p[i] for p in parts]) for i, name in enumerate(names)},
        "slowest_1_percent_mean": {name: statistics.fmean(p[i] for p in slowest) for i, name in enumerate(names)},
    }


def first_applies(events: Iterable[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Per Deployment, the operator's first write of it (its create, a POST or an apply): when
    the API server received it and when it answered (wall-clock, from the audit log). From
    the answer on, the Deployment exists."""
    applies: dict[str, tuple[float, float]] = {}
    for event in events:
        ref = event.get("objectRef") or {}
        if event["verb"] not in ("create", "patch") or ref.get("resource") != "deployments" or ref.get("subresource"):
            continue
        name = str(ref.get("name"))
        received, answered = _epoch(event["requestReceivedTimestamp"]), _epoch(event["stageTimestamp"])
        if name not in applies or received < applies[name][0]:
            applies[name] = (received, answered)
    return applies


def scale_applies(events: Iterable[dict[str, Any]], patched: dict[str, float], offset: float) -> dict[str, float]:
    """Per changed service, when the API server answered the operator's first server-side
    apply of its Deployment after the change (``patched``, monotonic): the new replicas in
    place, read where the benchmark's own watch cannot lag. An apply is the patch with
    ``force=true`` in its URI; the takeover's JSON patch of managedFields before it has none."""
    answers: dict[str, float] = {}
    for event in events:
        ref = event.get("objectRef") or {}
        if event["verb"] != "patch" or ref.get("resource") != "deployments" or ref.get("subresource"):
            continue
        name = str(ref.get("name"))
        if name not in patched or "force=true" not in str(event.get("requestURI")):
            continue
        received, answered = _epoch(event["requestReceivedTimestamp"]), _epoch(event["stageTimestamp"])
        if received >= patched[name] + offset and (name not in answers or answered < answers[name]):
            answers[name] = answered
    return answers


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1], "n": len(ordered)}


def with_first(values: list[float]) -> dict[str, float]:
    """Percentiles, and the smallest value (the first of a series of times)."""
    return {"first": min(values), **percentiles(values)} if values else {}


# --- report -----------------------------------------------------------------------------


def summarize(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def report(results: dict[str, Any], output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(results, indent=2))
    rows = []
    for size in results["sizes"]:
        runs = size["runs"]
        base = summarize([r["baseline"]["convergence_seconds"] for r in runs])
        ecs = summarize([r["ecs_facade"]["convergence_seconds"] for r in runs])
        # each run's ecs-facade against its own baseline, run just before or just after it
        ratio = summarize([r["ecs_facade"]["convergence_seconds"] / r["baseline"]["convergence_seconds"] for r in runs])
        p99 = summarize([r["ecs_facade"]["reconcile_latency_seconds"].get("p99", 0) for r in runs])
        floor_p99 = _median_of(runs, "baseline", "create_latency_seconds")
        api_p99 = _median_of(runs, "ecs_facade", "reconcile_latency_api_seconds")
        call_p99 = _median_of(runs, "baseline", "create_call_seconds")
        rows.append(
            f"| {size['services']} | {size['services'] * results['tasks']} "
            f"| {base['median']:.1f} ({base['min']:.1f} to {base['max']:.1f}) "
            f"| {ecs['median']:.1f} ({ecs['min']:.1f} to {ecs['max']:.1f}) "
            f"| {ratio['median']:.2f} ({ratio['min']:.2f} to {ratio['max']:.2f}) "
            f"| {api_p99:.2f} | {call_p99:.2f} | {p99['median']:.2f} | {floor_p99:.2f} "
            f"| {statistics.median(r['ecs_facade']['steady_writes'] for r in runs):.0f} "
            f"| {statistics.median(r['ecs_facade']['requests_per_reconcile'] for r in runs):.2f} "
            f"| {size['peak_rss_bytes'] / 2**20:.0f} | {size['deletion_peak_rss_bytes'] / 2**20:.0f} |"
        )
    each_run = [
        f"| {size['services']} | {number} | {'ecs-facade' if r['ecs_facade'].get('measured_first') else 'baseline'} "
        f"| {r['baseline']['convergence_seconds']:.1f} | {r['ecs_facade']['convergence_seconds']:.1f} "
        f"| {r['ecs_facade']['convergence_seconds'] / r['baseline']['convergence_seconds']:.2f} |"
        for size in results["sizes"]
        for number, r in enumerate(size["runs"], 1)
    ]
    costs = []
    for size in results["sizes"]:
        runs = size["runs"]

        def median(value: Callable[[dict[str, Any]], float], runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(value(r) for r in runs)

        count = size["services"]
        costs.append(
            f"| {count} | {median(lambda r: r['ecs_facade']['cpu_seconds']):.1f} "
            f"| {median(lambda r, count=count: r['ecs_facade']['writes'] / count):.1f} "
            f"| {median(lambda r: sum(r['baseline']['control_plane_cpu_seconds'].values())):.0f} "
            f"| {median(lambda r: sum(r['ecs_facade']['control_plane_cpu_seconds'].values())):.0f} "
            f"| {median(lambda r: r['ecs_facade']['mean_queue_wait_urgent_seconds'] or 0):.2f} "
            f"| {median(lambda r: r['ecs_facade']['mean_watch_lag_seconds'] or 0):.2f} "
            f"| {median(lambda r: r['ecs_facade'].get('budget_writes_before_convergence', float('nan'))):.0f} |"
        )
    timeline = []
    for size in results["sizes"]:
        runs = size["runs"]

        def at(key: str, run: str = "ecs_facade", runs: list[dict[str, Any]] = runs) -> str:
            values = [r[run].get(key) for r in runs if r[run].get(key) is not None]
            return f"{statistics.median(values):.1f}" if values else "n/a"

        timeline.append(
            f"| {size['services']} | {at('created_seconds', 'baseline')} | {at('convergence_seconds', 'baseline')} "
            f"| {at('created_seconds')} | {at('reconciled_seconds')} | {at('tasks_ready_seconds')} "
            f"| {at('convergence_seconds')} |"
        )
    parts = []
    for size in results["sizes"]:
        measured = [r["ecs_facade"].get("reconcile_latency_parts_seconds") or {} for r in size["runs"]]
        measured = [m for m in measured if m]
        if not measured:
            continue

        def part(name: str, key: str, measured: list[dict[str, Any]] = measured) -> str:
            return f"{statistics.median(m[name][key] for m in measured):.2f}"

        slowest = " + ".join(
            f"{statistics.median(m['slowest_1_percent_mean'][n] for m in measured):.2f}"
            for n in ("to_apply", "apply", "to_watch")
        )
        parts.append(
            f"| {size['services']} | {part('to_apply', 'p50')} / {part('to_apply', 'p99')} "
            f"| {part('apply', 'p50')} / {part('apply', 'p99')} "
            f"| {part('to_watch', 'p50')} / {part('to_watch', 'p99')} "
            f"| {slowest} |"
        )
    scaling = [
        f"| {size['services']} | {_median_of(size['runs'], 'ecs_facade', 'scale_latency_api_seconds', 'p50'):.2f}"
        f" / {_median_of(size['runs'], 'ecs_facade', 'scale_latency_api_seconds'):.2f}"
        f" | {_median_of(size['runs'], 'ecs_facade', 'scale_latency_seconds', 'p50'):.2f}"
        f" / {_median_of(size['runs'], 'ecs_facade', 'scale_latency_seconds'):.2f} |"
        for size in results["sizes"]
    ]
    restart = results.get("restart") or {}
    text = [
        f"# ecs-facade benchmark ({results['started']})",
        "",
        f"{results['nodes']} simulated nodes, {results['tasks']} tasks per service,"
        f" concurrency {results['concurrency']},"
        f" baseline: {'Deployments and budgets' if results.get('baseline_budgets') else 'Deployments only'},"
        f" {results['repeats']} run(s) per size; median (min to max).",
        "",
        "| services | tasks | baseline convergence s | ecs-facade convergence s | ratio (of each run)"
        " | reconcile p99 s, to the Deployment created | baseline create p99 s, to its answer"
        " | reconcile p99 s, to the watch | baseline create p99 s, to the watch | steady writes"
        " | requests/reconcile | peak RSS MiB | peak RSS MiB, deleting them all |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Ratio: each run's ecs-facade convergence over its own baseline's (the two run back to back on"
        " the same cluster, the baseline first in odd runs and second in even ones, so that a machine"
        " slowing down or speeding up over the benchmark favours neither), median and spread of the"
        " runs. "
        "Reconcile p99, to the Deployment created: from the start of an ECSService's create to the API"
        " server's answer to the operator's apply that created its Deployment with the right replicas"
        " (the audit log); its floor, the baseline's create p99 to its answer: from the start of a"
        " Deployment's create to its answer. Reconcile p99, to the watch: from the same start to the"
        " benchmark's own watch seeing the Deployment; its floor, the baseline's: from a Deployment's"
        " create to the same watch seeing it, with no operator in between. The watch adds the API"
        " server's delivery and the benchmark client's own queue, in the same process as its 20"
        " creating threads.",
        "",
        "Each run, in the order they ran:",
        "",
        "| services | run | measured first | baseline convergence s | ecs-facade convergence s | ratio |",
        "|---|---|---|---|---|---|",
        *each_run,
        "",
        "Costs (medians): the operator's CPU seconds and writes per service until it was idle; the CPU"
        " seconds of everything else (control plane, kwok, the benchmark's client) until convergence, in"
        " the baseline run and in the ecs-facade run; the mean wait of a first reconcile in the work"
        " queue and the mean watch lag (creation to the operator seeing the service); the disruption budgets"
        " written before convergence (each one standing makes every pod event cost the disruption"
        " controller more).",
        "",
        "| services | operator CPU s | writes per service | others' CPU s, baseline | others' CPU s, ecs-facade"
        " | queue wait s | watch lag s | budgets written before convergence |",
        "|---|---|---|---|---|---|---|---|",
        *costs,
        "",
        "Timeline (medians, seconds from the first create): the baseline's S Deployments created, and"
        " converged; the S ECSServices created, their S Deployments written by the operator, every"
        " Deployment's tasks ready, every service's status saying so (convergence).",
        "",
        "| services | baseline: created | baseline: converged | ECSServices created | Deployments written"
        " | tasks ready | converged |",
        "|---|---|---|---|---|---|---|",
        *timeline,
        "",
        "Where a first reconcile's latency goes (medians of the runs, p50 / p99 s): from the"
        " ECSService's create to the API server receiving the operator's apply of its Deployment (the"
        " create, the watch, the queue, the reconcile), the apply (the audit log's received to"
        " answered), and from the answer to the benchmark's watch seeing the Deployment; and the same"
        " three parts of the slowest 1 % of services (means).",
        "",
        "| services | create to apply | apply | answer to watch | slowest 1 % |",
        "|---|---|---|---|---|",
        *parts,
        "",
        "A `desiredCount` change on every tenth service once all have converged (medians of the runs,"
        " p50 / p99 s): from the change's patch to the API server's answer to the operator's apply of"
        " the new replicas (the audit log), and to the benchmark's watch seeing them.",
        "",
        "| services | to the apply's answer | to the watch |",
        "|---|---|---|",
        *scaling,
        "",
        f"Restart with {results['sizes'][-1]['services']} services in place: idle after"
        f" {restart.get('idle_after_seconds', float('nan')):.1f} s, {restart.get('writes', 'n/a')} writes"
        f" {restart.get('writes_by_verb', {})}; RSS then {restart.get('rss_bytes_when_idle', 0) / 2**20:.0f} MiB"
        f" (peak while listing everything: {restart.get('peak_rss_bytes', 0) / 2**20:.0f} MiB).",
        "",
    ]
    (output / "results.md").write_text("\n".join(text))
    plot(results, output / "convergence.png")


def _median_of(runs: list[dict[str, Any]], run: str, key: str, at: str = "p99") -> float:
    values = [(r[run].get(key) or {}).get(at) for r in runs]
    return statistics.median([v for v in values if v is not None] or [float("nan")])


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s["services"] for s in results["sizes"]]
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for key, label in (
        ("baseline", "Deployments created directly (baseline)"),
        ("ecs_facade", "ECSServices (ecs-facade)"),
    ):
        medians = [statistics.median(r[key]["convergence_seconds"] for r in s["runs"]) for s in results["sizes"]]
        lows = [
            m - min(r[key]["convergence_seconds"] for r in s["runs"])
            for m, s in zip(medians, results["sizes"], strict=True)
        ]
        highs = [
            max(r[key]["convergence_seconds"] for r in s["runs"]) - m
            for m, s in zip(medians, results["sizes"], strict=True)
        ]
        axis.errorbar(sizes, medians, yerr=[lows, highs], marker="o", capsize=4, label=label)
    axis.set_xlabel(f"services ({results['tasks']} tasks each)")
    axis.set_ylabel("time to converge (s)")
    axis.set_title(f"Convergence on {results['nodes']} simulated nodes, 2 cores")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def measure_baseline(cluster: Cluster, services: int, args: argparse.Namespace, prefix: Path | None) -> dict[str, Any]:
    log("  baseline")
    baseline = baseline_run(cluster, services, args.tasks, args.concurrency, prefix)
    log(f"  baseline converged in {baseline['convergence_seconds']:.1f}s")
    return baseline


def measure_ecs_facade(
    cluster: Cluster,
    operator: Operator,
    services: int,
    args: argparse.Namespace,
    prefix: Path | None,
    results: dict[str, Any],
    restart: bool,
) -> dict[str, Any]:
    """One ecs-facade run, then (``restart``) the operator's restart with the services in
    place, then all of them deleted at once."""
    log("  ecs-facade")
    mark = operator.mark()
    measured = ecs_facade_run(cluster, operator, services, args.tasks, args.concurrency, args.quiet_seconds, prefix)
    measured["peak_rss_bytes"] = operator.peak_since(mark)
    measured["steady_rss_bytes"] = operator.rss_samples[-1] if operator.rss_samples else 0
    log(
        f"  ecs-facade converged in {measured['convergence_seconds']:.1f}s,"
        f" reconcile p99 {measured['reconcile_latency_api_seconds'].get('p99', 0):.2f}s"
        f" (to the watch {measured['reconcile_latency_seconds'].get('p99', 0):.2f}s),"
        f" steady writes {measured['steady_writes']}"
    )
    if restart:
        results["restart"] = restart_run(cluster, operator)
        restarted = results["restart"]
        log(f"  restart: idle after {restarted['idle_after_seconds']:.1f}s, {restarted['writes']} writes")
    mark = operator.mark()
    delete_namespace(cluster, measured.pop("namespace"))
    # all S services and their children deleted at once: a burst of events
    measured["deletion_peak_rss_bytes"] = operator.peak_since(mark)
    wait_idle(cluster, 5, 600, operator)  # the next run, a baseline perhaps, starts with it idle
    return measured


# --- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 runs: proves the program works (CI)")
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--sizes", default="125,250,500", help="service counts, comma separated")
    parser.add_argument("--scale", type=int, default=None, help="one size of this many services (e.g. 5000)")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--quiet-seconds", type=float, default=60, help="steady-state window after convergence")
    parser.add_argument("--output", type=Path, default=REPO / "hack/bench/results")
    parser.add_argument("--keep-cluster", action="store_true")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the operator under py-spy (GIL-holder samples); collapsed stacks here",
    )
    parser.add_argument(
        "--pprof",
        type=Path,
        default=None,
        help="30 s CPU profiles of kube-apiserver and kube-controller-manager from 5 s into each run,"
        " files named from this prefix",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.scale:
        sizes = [args.scale]
    if args.quick:
        args.nodes, sizes, args.tasks, args.repeats, args.quiet_seconds = 10, [5, 10], 2, 2, 5
    cluster = Cluster(args.nodes)
    if args.pprof is not None:
        cluster.env["ECS_FACADE_PROFILING"] = "true"
        args.pprof.parent.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")},
        "nodes": args.nodes,
        "tasks": args.tasks,
        "repeats": args.repeats,
        "concurrency": args.concurrency,
        # since issue 27 the baseline writes a budget per Deployment, and the operator applies
        # each service's budget with its workload
        "baseline_budgets": True,
        "sizes": [],
    }
    cluster.up()
    operator = Operator(cluster, profile=args.profile)
    try:
        operator.start()
        for services in sizes:
            size: dict[str, Any] = {"services": services, "runs": []}
            operator.rss_samples.clear()
            for run in range(args.repeats):
                # Odd runs measure ecs-facade first: a machine that slows down (or speeds up)
                # over a `make bench` would otherwise always favour the same side.
                first = "baseline" if run % 2 == 0 else "ecs-facade"
                log(f"S={services} run {run + 1}/{args.repeats}: {first} first")
                prefix = args.pprof and args.pprof.with_name(f"{args.pprof.name}-{services}-{run + 1}")
                last = run == args.repeats - 1 and services == sizes[-1]
                if first == "baseline":
                    baseline = measure_baseline(cluster, services, args, prefix)
                    measured = measure_ecs_facade(cluster, operator, services, args, prefix, results, last)
                else:
                    measured = measure_ecs_facade(cluster, operator, services, args, prefix, results, last)
                    baseline = measure_baseline(cluster, services, args, prefix)
                measured["measured_first"] = first == "ecs-facade"
                size["runs"].append({"baseline": baseline, "ecs_facade": measured})
            ecs_runs = [r["ecs_facade"] for r in size["runs"]]
            size["peak_rss_bytes"] = max(r["peak_rss_bytes"] for r in ecs_runs)  # creation to steady state
            size["steady_rss_bytes"] = ecs_runs[-1]["steady_rss_bytes"]
            size["deletion_peak_rss_bytes"] = max(r["deletion_peak_rss_bytes"] for r in ecs_runs)
            results["sizes"].append(size)
        report(results, args.output)
        log(f"wrote {args.output}/results.json, results.md, convergence.png")
    finally:
        operator.stop()
        if not args.keep_cluster:
            cluster.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
