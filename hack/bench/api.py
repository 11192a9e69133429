#!/usr/bin/env python3
"""The ECS API's benchmark: calls per second and latency of DescribeServices and RunTask
against `ecs-facade api`, with the operator running, on a local control plane of its own.

    .venv/bin/python hack/bench/api.py --quick          # 10 s per action: proves the program works
    .venv/bin/python hack/bench/api.py                  # 100 services, 4 clients, 60 s per action

It brings up the control plane (hack/cluster.sh) in .cluster-bench-api/ on ports 22500+ (apart
from hack/bench/bench.py's 19000+ and the e2e suites'), the CRDs, the operator as a process
(the chart's ServiceAccount and RBAC) and `ecs-facade api` as a process (keys directory with one
key for the namespace bench-api; admin credentials towards Kubernetes). Through the API it
creates a cluster, a task definition and --services services (desiredCount --desired), then, for
--seconds each, --concurrency clients send back to back:

- DescribeServices of 10 services drawn at random (ECS's maximum per call);
- RunTask of one task (count 1) of that task definition (skipped when the server answers
  that it does not implement RunTask).

The clients are aiohttp coroutines in this process sending requests signed with SigV4 by
botocore's signer, as an SDK signs them. It prints, per action: calls, calls/s, p50, p99, max,
errors (non-2xx) and failures (2xx with `failures`), the machine's load average and the CPU the
API process used; --json writes the same as JSON. Numbers, not assertions: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "operator"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp  # noqa: E402
import bench  # noqa: E402  the control plane and its helpers (hack/bench/bench.py)
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]  # noqa: E402
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]  # noqa: E402
from botocore.credentials import Credentials  # type: ignore[import-untyped]  # noqa: E402

CLUSTER_DIR = REPO / ".cluster-bench-api"
PORT_BASE = 22500
API_PORT = PORT_BASE + 88
METRICS_PORT = PORT_BASE + 90
NAMESPACE = "bench-api"
ECS_CLUSTER = "bench"
FAMILY = "bench-web"
TARGET = "AmazonEC2ContainerServiceV20141113"
REGION = "us-east-1"  # an AWS region: the key's home namespace
TASK_DEFINITION = {
    "family": FAMILY,
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "app", "image": "app:1", "essential": True}],
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = (float(v) for v in Path("/proc/loadavg").read_text().split()[:3])
    return one, five, fifteen


# --- the processes ------------------------------------------------------------------------


@dataclass
class Process:
    """A process of ours, started in its own session, stopped by its PID."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return bench.process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)


def python_env(kubeconfig: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "operator"), os.environ.get("PYTHONPATH")])),
    }


# --- the client -----------------------------------------------------------------------------


@dataclass
class Client:
    """Signed AWS JSON 1.1 requests over one aiohttp session (keep-alive, up to `limit` connections)."""

    endpoint: str
    credentials: Credentials
    session: aiohttp.ClientSession

    async def call(self, action: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode()
        request = AWSRequest(
            method="POST",
            url=self.endpoint + "/",
            data=data,
            headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET}.{action}"},
        )
        SigV4Auth(self.credentials, "ecs", REGION).add_auth(request)
        async with self.session.post(self.endpoint + "/", data=data, headers=dict(request.headers.items())) as answer:
            return answer.status, await answer.json(content_type=None)


@dataclass
class Result:
    action: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    failures: int = 0

    def summary(self) -> dict[str, Any]:
        ok = sorted(self.latencies)
        calls = len(ok) + sum(self.errors.values())

        def pct(p: float) -> float | None:
            return round(ok[min(len(ok) - 1, int(p * len(ok)))] * 1000, 1) if ok else None

        return {
            "action": self.action,
            "calls": calls,
            "calls_per_second": round(calls / self.seconds, 1),
            "ok": len(ok),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(ok[-1] * 1000, 1) if ok else None,
            "mean_ms": round(statistics.fmean(ok) * 1000, 1) if ok else None,
            "errors": self.errors,
            "failures": self.failures,
        }


async def measure(
    client: Client, action: str, make: Callable[[], dict[str, Any]], seconds: float, concurrency: int
) -> Result:
    """`concurrency` clients sending `action` back to back for `seconds`."""
    result = Result(action, seconds)
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status, body = await client.call(action, make())
            except (TimeoutError, aiohttp.ClientError, ValueError) as error:
                name = type(error).__name__
                result.errors[name] = result.errors.get(name, 0) + 1
                continue
            took = time.monotonic() - started
            if 200 <= status < 300:
                result.latencies.append(took)
                if body.get("failures"):
                    result.failures += 1
            else:
                name = f"{status} {body.get('__type')}"
                result.errors[name] = result.errors.get(name, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.monotonic() - started
    return result


async def must(client: Client, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
    status, answer = await client.call(action, body)
    if not 200 <= status < 300:
        raise SystemExit(f"api bench: {action} answered {status}: {answer}")
    return answer


async def run(
    args: argparse.Namespace,
    endpoint: str,
    key_id: str,
    secret: str,
    processes: Mapping[str, Process],
    cluster: bench.Cluster,
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        client = Client(endpoint, Credentials(key_id, secret), session)
        await must(client, "CreateCluster", {"clusterName": ECS_CLUSTER})
        await must(client, "RegisterTaskDefinition", TASK_DEFINITION)
        names = [f"svc-{n:04d}" for n in range(args.services)]
        log(f"creating {len(names)} services (desiredCount {args.desired}) through the API")
        semaphore = asyncio.Semaphore(args.concurrency)

        async def create(name: str) -> None:
            async with semaphore:
                body = {
                    "cluster": ECS_CLUSTER,
                    "serviceName": name,
                    "taskDefinition": FAMILY,
                    "desiredCount": args.desired,
                }
                await must(client, "CreateService", body)

        await asyncio.gather(*(create(n) for n in names))
        await asyncio.sleep(args.settle)  # let the operator's first reconciles pass
        results: dict[str, Any] = {}

        def describe() -> dict[str, Any]:
            return {"cluster": ECS_CLUSTER, "services": random.sample(names, min(10, len(names)))}

        def run_task() -> dict[str, Any]:
            return {"cluster": ECS_CLUSTER, "taskDefinition": FAMILY, "count": 1, "startedBy": "api-bench"}

        for action, make in (("DescribeServices", describe), ("RunTask", run_task)):
            if action == "RunTask":
                _, answer = await client.call(action, run_task())
                if answer.get("__type") == "UnsupportedFeatureException":
                    log("RunTask: not implemented by this server: not run")
                    results[action] = {"action": action, "not_run": answer.get("message")}
                    continue
            load_before = loadavg()
            cpu_before = {name: p.cpu_seconds() for name, p in processes.items()} | cluster.cpu_seconds()
            own_before = bench.own_cpu_seconds()
            log(f"{action}: {args.concurrency} clients for {args.seconds:g}s")
            result = await measure(client, action, make, args.seconds, args.concurrency)
            summary = result.summary()
            summary["load_before"] = load_before
            summary["load_after"] = loadavg()
            cpu_after = {name: p.cpu_seconds() for name, p in processes.items()} | cluster.cpu_seconds()
            summary["api_cpu_seconds"] = round(cpu_after["api"] - cpu_before["api"], 1)
            # where the machine's CPU went meanwhile: the API, the operator, the control plane, these clients
            summary["cpu_seconds"] = bench.cpu_used(cpu_before, cpu_after) | {
                "clients": round(bench.own_cpu_seconds() - own_before, 1)
            }
            results[action] = summary
            log(f"  {json.dumps(summary)}")
        return results


def table(results: Mapping[str, Any]) -> str:
    lines = [
        "| action | calls | calls/s | p50 ms | p99 ms | max ms | errors | 2xx with failures | API CPU s"
        " | load (1 min) before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for action, r in results.items():
        if "not_run" in r:
            lines.append(f"| {action} | not run: {r['not_run']} | | | | | | | | |")
            continue
        errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "0"
        load = f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}"
        lines.append(
            f"| {action} | {r['calls']} | {r['calls_per_second']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |"
            f" {errors} | {r['failures']} | {r['api_cpu_seconds']} | {load} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--desired", type=int, default=0, help="desiredCount of each service (0: no pods)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60, help="per action")
    parser.add_argument("--settle", type=float, default=10, help="seconds between creating and measuring")
    parser.add_argument("--nodes", type=int, default=3, help="simulated container instances (kwok nodes)")
    parser.add_argument("--quick", action="store_true", help="20 services, 10 s per action")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--keep", action="store_true", help="leave the control plane up")
    args = parser.parse_args()
    if args.quick:
        args.services, args.seconds, args.settle = 20, 10, 3

    bench.CLUSTER_DIR, bench.PORT_BASE = CLUSTER_DIR, PORT_BASE  # bench.Cluster reads them
    cluster = bench.Cluster(args.nodes)
    log(f"control plane in {CLUSTER_DIR} (ports {PORT_BASE}+), load {loadavg()}")
    cluster.up()
    processes: list[Process] = []
    try:
        cluster.kubectl("create", "namespace", NAMESPACE)
        cluster.kubectl("label", "nodes", "--all", f"ecs.facade.dev/cluster={ECS_CLUSTER}", "--overwrite")
        operator = Process(
            "operator",
            [sys.executable, "-m", "ecs_facade", "run", "--standalone", f"--metrics-port={METRICS_PORT}"],
            python_env(cluster.operator_kubeconfig()),
            CLUSTER_DIR / "logs" / "operator.log",
        )
        operator.start()
        processes.append(operator)
        key_id, secret = ("AKIABENCH" + secrets.token_hex(8)).upper()[:20], secrets.token_urlsafe(30)
        keys = CLUSTER_DIR / "api-keys"
        keys.mkdir(mode=0o700, exist_ok=True)
        (keys / key_id).write_text(json.dumps({"secretAccessKey": secret, "namespaces": [NAMESPACE]}))
        api = Process(
            "api",
            [sys.executable, "-m", "ecs_facade", "api", "--port", str(API_PORT), "--keys-dir", str(keys)],
            python_env(Path(cluster.kubeconfig)),
            CLUSTER_DIR / "logs" / "api.log",
        )
        api.start()
        processes.append(api)
        endpoint = f"http://127.0.0.1:{API_PORT}"
        bench.wait(lambda: _answers(endpoint), 60, "the ECS API")
        bench.wait(lambda: operator.alive() and urllib.request.urlopen(
            f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).status == 200, 60, "the operator")  # fmt: skip
        results = asyncio.run(run(args, endpoint, key_id, secret, {"api": api, "operator": operator}, cluster))
        conditions = {
            "services": args.services,
            "desiredCount": args.desired,
            "concurrency": args.concurrency,
            "seconds_per_action": args.seconds,
            "nodes": args.nodes,
            "cpus": os.cpu_count(),
            "api_alive": api.alive(),
        }
        print(table(results))
        print(json.dumps(conditions))
        if args.json:
            args.json.write_text(json.dumps({"conditions": conditions, "results": results}, indent=2))
    finally:
        for process in reversed(processes):
            process.stop()
        if not args.keep:
            cluster.down()
    return 0


def _answers(endpoint: str) -> bool:
    """A running server refuses an unsigned request with its own JSON error."""
    request = urllib.request.Request(
        endpoint + "/", data=b"{}", method="POST",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{TARGET}.ListClusters"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
