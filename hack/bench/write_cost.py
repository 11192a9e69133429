#!/usr/bin/env python3
"""What one write of each kind the operator makes costs the rest of the machine.

    .venv/bin/python hack/bench/write_cost.py                 # 1000 of each, 20 at a time
    .venv/bin/python hack/bench/write_cost.py --count 200     # quicker
    .venv/bin/python hack/bench/write_cost.py --repeats 3     # median and spread of three rounds

The scale benchmark (bench.py) shows the API server and the controller-manager doing more
CPU work with ecs-facade than with the same Deployments created directly; this program says
which writes that work comes from. On its own control plane (bench.py's, no operator
running, no node), it makes ``--count`` writes of one kind at a time, ``--concurrency`` at a
time, through the operator's own request path (``kube.client._call``), and reports the CPU
seconds etcd, kube-apiserver and kube-controller-manager spent on them until the machine
was quiet again, per write. Numbers, not assertions; docs/performance.md reads them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import REPO, TASK_DEFINITION, Cluster, cpu_used, log

from ecs_facade.api import FIELD_MANAGER
from ecs_facade.kube import client as kube
from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate.service import ServiceDecisions, build_disruption_budget, build_workload

SERVICES = "/apis/ecs.facade.dev/v1alpha1/namespaces/{ns}/ecsservices"
APPLY = [("fieldManager", FIELD_MANAGER), ("force", "true")]
MEASURED = ("etcd", "kube-apiserver", "kube-controller-manager")


def service_status(running: int, stamp: str) -> dict[str, Any]:
    """A status of the size and shape the operator writes for a four-task service."""
    arn = "arn:aws:ecs:us-east-1:000000000000:task-definition/app:1"
    conditions = [
        {
            "type": t,
            "status": "True" if t == "Ready" and running == 4 else "False",
            "reason": "DeploymentInProgress",
            "message": "a new deployment is rolling out",
            "observedGeneration": 1,
            "lastTransitionTime": stamp,
        }
        for t in ("Ready", "Progressing", "Degraded")
    ]
    deployment = {
        "id": "ecs-svc/1234567890123456789",
        "status": "PRIMARY",
        "taskDefinition": arn,
        "desiredCount": 4,
        "pendingCount": 4 - running,
        "runningCount": running,
        "failedTasks": 0,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": "ECS deployment ecs-svc/1234567890123456789 in progress.",
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    return {
        "desiredCount": 4,
        "runningCount": running,
        "pendingCount": 4 - running,
        "taskDefinition": arn,
        "deployments": [deployment],
        "events": [{"id": str(uuid.uuid4()), "createdAt": stamp, "message": "(service x) has started 4 tasks."}],
        "observedGeneration": 1,
        "conditions": conditions,
    }


def kinds(namespace: str, count: int, round_: int = 0) -> dict[str, Callable[[int], Any]]:
    """One write per call, by the name docs/performance.md uses for it (``round_``: objects
    of their own for each round, the status patches excepted: they change the same services)."""
    task_definition = parse_task_definition(TASK_DEFINITION, "app")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    apps = f"/apis/apps/v1/namespaces/{namespace}/deployments"

    def deployment(i: int, prefix: str) -> dict[str, Any]:
        # no replicas: the Deployment alone, not the pods the controllers would make for it
        manifest = build_workload(
            f"{prefix}-{round_}-{i}", namespace, task_definition, 1, ServiceDecisions(desired_count=0)
        ).manifest
        return {**manifest, "spec": {**manifest["spec"], "replicas": 0}}

    def service(i: int) -> None:
        body = {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSService",
            "metadata": {"name": f"svc-{round_}-{i}"},
            "spec": {"taskDefinition": "app", "desiredCount": 4},
        }
        kube._call("POST", SERVICES.format(ns=namespace), body)

    def status(i: int) -> None:
        # two changes per service, as a rollout's progress makes them
        path = SERVICES.format(ns=namespace) + f"/svc-{round_}-{i % count}/status"
        body = {"status": service_status(1 + i // count, stamp)}
        kube._call("PATCH", path, body, [("fieldManager", FIELD_MANAGER)], kube.MERGE_PATCH)

    def create_deployment(i: int) -> None:
        kube._call("POST", apps, deployment(i, "created"))

    def apply_deployment(i: int) -> None:
        body = deployment(i, "applied")
        kube._call("PATCH", f"{apps}/{body['metadata']['name']}", body, APPLY, kube.APPLY_PATCH)

    def apply_budget(i: int) -> None:
        body = build_disruption_budget(f"svc-{round_}-{i}", namespace, 4, 50)
        path = f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/svc-{round_}-{i}"
        kube._call("PATCH", path, body, APPLY, kube.APPLY_PATCH)

    def event(i: int) -> None:
        involved = {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSService", "name": f"svc-{round_}-{i}",
                    "namespace": namespace, "uid": str(uuid.uuid4())}  # fmt: skip
        body = kube.event_body(involved, "Normal", "ECSServiceEvent", "(service x) has reached a steady state.", stamp)
        kube._call("POST", f"/api/v1/namespaces/{namespace}/events", body)

    return {
        "ECSService create": service,
        "ECSService status patch (merge)": status,
        "Deployment create (the baseline's)": create_deployment,
        "Deployment apply (the operator's)": apply_deployment,
        "PodDisruptionBudget apply": apply_budget,
        "Event create": event,
    }


def settle(cluster: Cluster, quiet: float = 0.2, timeout: float = 120) -> None:
    """Until the measured processes use under ``quiet`` CPU-s per second (their echoes done)."""
    deadline = time.monotonic() + timeout
    before = cluster.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(2)
        after = cluster.cpu_seconds()
        if sum(after[p] - before[p] for p in MEASURED) / 2 < quiet:
            return
        before = after


def measure(cluster: Cluster, what: str, write: Callable[[int], Any], count: int, concurrency: int) -> dict[str, Any]:
    settle(cluster)
    before = cluster.cpu_seconds()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(write, i) for i in range(count)]:
            future.result()
    wall = time.monotonic() - started
    settle(cluster)
    used = cpu_used(before, cluster.cpu_seconds())
    per_write = {p: round(1000 * used[p] / count, 2) for p in MEASURED}
    total = round(sum(per_write.values()), 2)
    log(f"  {what:<38} {count} in {wall:5.1f}s   CPU ms per write: {per_write}  total {total}")
    return {"writes": count, "seconds": round(wall, 1), "cpu_ms_per_write": per_write, "total_cpu_ms_per_write": total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1, help="rounds of every kind; the median is reported")
    parser.add_argument("--output", type=Path, default=REPO / "hack/bench/results/write-cost.json")
    parser.add_argument("--keep-cluster", action="store_true")
    args = parser.parse_args(argv)
    cluster = Cluster(0)
    cluster.up()
    try:
        os.environ["KUBECONFIG"] = cluster.kubeconfig
        results = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "count": args.count,
            "concurrency": args.concurrency,
            "repeats": args.repeats,
            "kinds": {},
        }
        rounds: dict[str, list[dict[str, Any]]] = {}
        for round_ in range(args.repeats):
            # a namespace per round, deleted after it: the controllers' cost per write grows
            # with the objects already in a namespace, so rounds sharing one would each cost
            # more than the one before (docs/performance.md)
            namespace = f"cost-{uuid.uuid4().hex[:6]}"
            cluster.kubectl("create", "namespace", namespace)
            cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(
                {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSTaskDefinition", "metadata": {"name": "app"},
                 "spec": TASK_DEFINITION}))  # fmt: skip
            for what, write in kinds(namespace, args.count, round_).items():
                n = 2 * args.count if what.startswith("ECSService status") else args.count
                rounds.setdefault(what, []).append(measure(cluster, what, write, n, args.concurrency))
            cluster.kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=600s")
        for what, measured in rounds.items():
            totals = [m["total_cpu_ms_per_write"] for m in measured]
            median = sorted(measured, key=lambda m: m["total_cpu_ms_per_write"])[len(measured) // 2]
            results["kinds"][what] = {**median, "total_min": min(totals), "total_max": max(totals), "rounds": measured}
            log(f"{what:<40} total CPU ms per write: median {statistics.median(totals):.1f}"
                f" ({min(totals):.1f} to {max(totals):.1f})")  # fmt: skip
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
        log(f"wrote {args.output}")
    finally:
        if not args.keep_cluster:
            cluster.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
