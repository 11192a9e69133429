"""The operator SIGKILLed in the middle of its work, then started again as a new process
(issue 27; docs/reliability.md, "The operator killed mid-way", has the measured numbers).

SIGKILL is the hard case: no handler runs, nothing in memory survives, nothing is released
or written on the way out (an OOM kill, a lost node, ``kubectl delete pod --force``). What
the operator must not need is anything it knew only in memory:

- *creating 200 services*: 200 ECSServices are created at once by 20 threads; the operator
  is killed once 30 % of their Deployments exist, and started again. Every service then
  converges (Ready, its tasks running, one PRIMARY deployment COMPLETED), each has exactly
  one Deployment, one ReplicaSet and one PodDisruptionBudget, every object the operator
  labels has a live owner, and the new process logs no failed reconcile;
- *a rollout*: a service of 4 tasks (minimumHealthyPercent 50, maximumPercent 150) moved to
  a new revision, the operator killed as the new ReplicaSet appears: (A) started again 2 s
  later, mid-rollout; (B) started again only after the Deployment finished the rollout by
  itself (no event is left to tell the new process); (C) killed, the new revision applied
  while it is down, started again. Each rollout completes (one PRIMARY on the new revision,
  COMPLETED, every task on it, the older ReplicaSets at 0), never fewer than 2 tasks Ready
  (a watch samples the pods all along), nothing duplicated; (D) a revision whose tasks fail,
  the deployment circuit breaker on, the operator killed once the first task failed: the
  breaker still rolls back to the revision before.

Bounded: each wait has a limit; the cluster and every operator process are stopped by the
module (``E2E_PORT_BASE`` + 1000 and ``.cluster-chaos-kill``: never the e2e suite's)."""

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.chaos.faults import LOG_DIR, OperatorProcess, cluster_with_crds, recorded
from tests.e2e.kube import Kubectl, apply_objects, condition, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "17000")) + 1000
GROUP, VERSION = "ecs.facade.dev", "v1alpha1"
LABEL_SERVICE = f"{GROUP}/service"
LABEL_REVISION = f"{GROUP}/task-definition-revision"
SERVICES = 200
KILL_AT = 0.3  # the share of the Deployments made when the operator is killed
STEADY = 5  # ECS_FACADE_STEADY_STATE_SECONDS: a task counts as healthy (and minReadySeconds) after this
SETTINGS = {"ECS_FACADE_STEADY_STATE_SECONDS": str(STEADY)}
RESULTS = LOG_DIR / "chaos-kill-results.json"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Kubectl]:
    with cluster_with_crds(
        "kill", PORT_BASE, "the kill scenarios start operator processes of their own on the local control plane"
    ) as (_, kubectl):
        yield kubectl


@dataclass
class Operators:
    """The operator processes of the module, one after the other: each start is a new
    process with a log of its own; every one is stopped at the end."""

    kubeconfig: str
    started: list[OperatorProcess] = field(default_factory=list)

    def start(self) -> OperatorProcess:
        """A new process, after any earlier one still running is stopped: never two at once."""
        self.stop()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = LOG_DIR / f"chaos-kill-operator-{len(self.started) + 1}.log"
        process = OperatorProcess(Path(self.kubeconfig), log, SETTINGS)
        self.started.append(process)
        return process

    def stop(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture(scope="module")
def operators(cluster: Kubectl) -> Iterator[Operators]:
    made = Operators(cluster.kubeconfig)
    try:
        yield made
    finally:
        made.stop()


@pytest.fixture(scope="module")
def api(cluster: Kubectl) -> client.ApiClient:
    """A Python client for what kubectl would be too slow for (200 creations at once, polls)."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=cluster.kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = 32
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, Any]]:
    with recorded(RESULTS) as measured:
        yield measured


# --- objects and what is read of them


def task_definition(name: str, image: str = "example/app:1", exit_code: int | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image, "cpu": 32, "memory": 32}
    if exit_code is not None:  # its tasks exit with this code a second after they run (a kwok stage)
        container["dockerLabels"] = {f"{GROUP}/simulate-exit-code": str(exit_code)}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ECSTaskDefinition",
        "metadata": {"name": name},
        "spec": {"containerDefinitions": [container]},
    }


def service(name: str, task_definition: str, desired: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ECSService",
        "metadata": {"name": name},
        "spec": {"taskDefinition": task_definition, "desiredCount": desired, **spec},
    }


def items(api: client.ApiClient, path: str, selector: str | None = None) -> list[dict[str, Any]]:
    """A list's items as plain JSON (the generated models are too slow for 200 objects a poll)."""
    query = [("labelSelector", selector)] if selector else []
    request = api.param_serialize(
        "GET", path, query_params=query, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
    )
    response = api.call_api(*request)
    data = response.read()  # type: ignore[no-untyped-call]
    if not 200 <= response.status <= 299:
        raise ApiException(http_resp=response)
    return list(json.loads(data)["items"])


def services_path(namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/ecsservices"


def live(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if not o["metadata"].get("deletionTimestamp")]


def failed(pod: dict[str, Any]) -> bool:
    """The task's container exited with an error (the pod stopped, or restarted in place)."""
    statuses = pod["status"].get("containerStatuses") or []
    ended = [(c.get("state") or {}).get("terminated") or (c.get("lastState") or {}).get("terminated") for c in statuses]
    return pod["status"].get("phase") == "Failed" or any(e and e.get("exitCode") for e in ended)


def is_ready(pod: dict[str, Any]) -> bool:
    ready = condition(pod, "Ready") or {}
    return pod["status"].get("phase") == "Running" and ready.get("status") == "True"


def not_converged(svc: dict[str, Any], revision: str | None = None) -> str | None:
    """Why the service has not converged (None: it has): Ready for its generation, its tasks
    running as desired, one PRIMARY deployment COMPLETED (on ``revision``) and no ACTIVE one."""
    status = svc.get("status") or {}
    ready = condition(svc, "Ready") or {}
    desired = svc["spec"]["desiredCount"]
    deployments = status.get("deployments") or []
    kinds = Counter(d.get("status") for d in deployments)
    if ready.get("status") != "True":
        return f"Ready {ready.get('status')} {ready.get('reason')}"
    if (status.get("runningCount"), status.get("pendingCount")) != (desired, 0):
        return f"running {status.get('runningCount')} pending {status.get('pendingCount')} of {desired}"
    if not deployments or deployments[0].get("status") != "PRIMARY" or kinds["PRIMARY"] != 1 or kinds["ACTIVE"]:
        return f"deployments {dict(kinds)}"
    primary = deployments[0]
    if primary.get("rolloutState") != "COMPLETED" or primary.get("runningCount") != desired:
        return f"PRIMARY {primary.get('rolloutState')} running {primary.get('runningCount')}"
    if revision is not None and not str(primary.get("taskDefinition", "")).endswith(f":{revision}"):
        return f"PRIMARY on {primary.get('taskDefinition')}"
    return None


def no_failed_reconcile(process: OperatorProcess) -> None:
    """The process logged no reconcile that raised and no traceback."""
    text = process.text()
    for mark in ("Traceback", "failed; retrying", "failed with an exception"):
        assert mark not in text, text[max(0, text.index(mark) - 2000) : text.index(mark) + 3000]


OWNED_KINDS = {  # what the operator makes (or its children are), by API path
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "PodDisruptionBudget": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
    "Service": "/api/v1/namespaces/{ns}/services",
    "HorizontalPodAutoscaler": "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
}


def orphans(api: client.ApiClient, namespace: str) -> list[str]:
    """Every object of the namespace that the operator labels or that is owned, whose owner
    is not there (same uid): labelled ones must have an owner."""
    found: dict[str, list[dict[str, Any]]] = {
        kind: items(api, path.format(ns=namespace)) for kind, path in OWNED_KINDS.items()
    }
    found["ECSService"] = items(api, services_path(namespace))
    alive = {(kind, o["metadata"]["uid"]) for kind, objs in found.items() for o in live(objs)}
    lost: list[str] = []
    for kind, objs in found.items():
        if kind == "ECSService":
            continue
        for obj in live(objs):
            meta = obj["metadata"]
            owners = meta.get("ownerReferences") or []
            if not owners and LABEL_SERVICE in (meta.get("labels") or {}):
                lost.append(f"{kind} {meta['name']}: labelled, no owner")
            lost.extend(
                f"{kind} {meta['name']}: owner {o['kind']} {o['name']} {o['uid']} gone"
                for o in owners
                if (o["kind"], o["uid"]) not in alive
            )
    return lost


def one_of_each(api: client.ApiClient, namespace: str, names: list[str]) -> None:
    """Nothing duplicated: per service one Deployment and one PodDisruptionBudget (by the
    label, whatever their names), named after it and owned by it."""
    for kind in ("Deployment", "PodDisruptionBudget"):
        objs = live(items(api, OWNED_KINDS[kind].format(ns=namespace), LABEL_SERVICE))
        per_service = Counter(o["metadata"]["labels"][LABEL_SERVICE] for o in objs)
        doubled = {name: n for name, n in per_service.items() if n != 1}
        assert doubled == {}, f"{kind}s more than once: {doubled}"
        assert sorted(per_service) == sorted(names), f"{kind}s missing: {sorted(set(names) - set(per_service))}"
        assert all(o["metadata"]["name"] == o["metadata"]["labels"][LABEL_SERVICE] for o in objs)


# --- 1. killed while creating 200 services


def test_killed_while_creating_200_services(
    cluster: Kubectl, api: client.ApiClient, operators: Operators, results: dict[str, Any]
) -> None:
    kubectl, namespace = cluster, "chaos-kill-create"
    kubectl("create", "namespace", namespace)
    apply_objects(kubectl, namespace, task_definition("app"))
    first = operators.start()
    deployments_path = OWNED_KINDS["Deployment"].format(ns=namespace)
    wait_for(
        "the task definition registered",
        lambda: ((kubectl.get("ecstaskdefinition", "app", namespace) or {}).get("status") or {}).get("revision") == 1,
        timeout=120,
    )
    names = [f"svc-{i:03d}" for i in range(SERVICES)]
    custom = client.CustomObjectsApi(api)

    def create(name: str) -> float:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "ecsservices", service(name, "app", 1))
        return time.monotonic()

    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        creations = pool.map(create, names)
        # the operator makes their Deployments meanwhile: killed once KILL_AT of them exist
        seen = wait_for(
            f"{KILL_AT:.0%} of the Deployments",
            lambda: (n := len(items(api, deployments_path))) >= SERVICES * KILL_AT and n,
            timeout=180,
            interval=0.05,
        )
        first.kill()
        killed = time.monotonic()
        created_at_kill = len(items(api, services_path(namespace)))
        finished = list(creations)
    at_kill = len(items(api, deployments_path))  # none made after the kill: this is what it left
    budgets_at_kill = len(items(api, OWNED_KINDS["PodDisruptionBudget"].format(ns=namespace)))
    results["create: services created (s)"] = round(max(finished) - started, 1)
    results["create: services there at the kill"] = created_at_kill
    results["create: Deployments seen when the kill was sent"] = seen
    results["create: Deployments there at the kill"] = at_kill
    results["create: budgets there at the kill"] = budgets_at_kill
    results["create: killed after (s)"] = round(killed - started, 1)
    assert 0 < at_kill < SERVICES, f"the kill did not come mid-way: {at_kill} of {SERVICES} Deployments (seen {seen})"
    assert not first.alive()

    time.sleep(2)  # down for a moment
    second = operators.start()
    restarted = time.monotonic()
    waiting: dict[str, str | None] = {}

    def all_converged() -> bool:
        nonlocal waiting
        objs = {o["metadata"]["name"]: o for o in items(api, services_path(namespace))}
        waiting = {name: not_converged(objs[name]) for name in names}
        waiting = {name: why for name, why in waiting.items() if why is not None}
        return not waiting

    try:
        wait_for("every service converged", all_converged, timeout=240, interval=2)
    except AssertionError as error:
        shown = dict(list(waiting.items())[:10])
        raise AssertionError(f"{len(waiting)} services not converged, e.g. {shown}") from error
    results["create: all converged after the restart (s)"] = round(time.monotonic() - restarted, 1)

    one_of_each(api, namespace, names)
    replica_sets = live(items(api, OWNED_KINDS["ReplicaSet"].format(ns=namespace), LABEL_SERVICE))
    per_service = Counter(rs["metadata"]["labels"][LABEL_SERVICE] for rs in replica_sets)
    assert set(per_service.values()) == {1}, "a Deployment rolled out again after the restart"
    pods = live(items(api, OWNED_KINDS["Pod"].format(ns=namespace), LABEL_SERVICE))
    assert Counter(p["metadata"]["labels"][LABEL_SERVICE] for p in pods) == Counter(names)
    assert all(is_ready(p) for p in pods)
    assert orphans(api, namespace) == []
    generations = Counter(d["metadata"]["generation"] for d in items(api, deployments_path))
    results["create: Deployment generations"] = dict(generations)
    assert second.alive(), second.text()[-3000:]
    no_failed_reconcile(second)
    second.stop()


# --- 2. killed in the middle of rollouts


@dataclass
class ReadyWatch:
    """Samples the service's Ready tasks (not being deleted) every 0.2 s in a thread."""

    api: client.ApiClient
    namespace: str
    name: str
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        path = OWNED_KINDS["Pod"].format(ns=self.namespace)
        while not self._stop.wait(0.2):
            try:
                pods = live(items(self.api, path, f"{LABEL_SERVICE}={self.name}"))
            except Exception:  # a poll that fails is no sample
                continue
            self.samples.append((time.monotonic(), sum(1 for p in pods if is_ready(p))))

    def stop(self) -> list[tuple[float, int]]:
        self._stop.set()
        self._thread.join(5)
        return self.samples


def replica_sets_of(api: client.ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    return live(items(api, OWNED_KINDS["ReplicaSet"].format(ns=namespace), f"{LABEL_SERVICE}={name}"))


def revision_of(rs: dict[str, Any]) -> str:
    return str(rs["spec"]["template"]["metadata"]["labels"].get(LABEL_REVISION))


def rolled_out(
    api: client.ApiClient, kubectl: Kubectl, namespace: str, name: str, revision: str
) -> Callable[[], dict[str, Any] | None]:
    """The rollout to ``revision`` completed: the service converged on it, every task runs it,
    the older ReplicaSets are at 0."""

    def check() -> dict[str, Any] | None:
        svc = kubectl.get("ecsservice", name, namespace) or {}
        why = not_converged(svc, revision)
        if why is not None:  # (wait_for shows the last reason when it times out)
            raise AssertionError(f"{why}; deployments {summary(svc)}")
        pods = live(items(api, OWNED_KINDS["Pod"].format(ns=namespace), f"{LABEL_SERVICE}={name}"))
        pods = [p for p in pods if p["status"].get("phase") not in ("Failed", "Succeeded")]  # stopped tasks
        if sorted(p["metadata"]["labels"].get(LABEL_REVISION) for p in pods) != [revision] * 4:
            return None
        older = [rs for rs in replica_sets_of(api, namespace, name) if revision_of(rs) != revision]
        return svc if all(int(rs["spec"].get("replicas") or 0) == 0 for rs in older) else None

    return check


def summary(svc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(status, rolloutState, revision) of each ECS deployment the service's status lists."""
    deployments = (svc.get("status") or {}).get("deployments") or []
    return [
        (d.get("status", ""), d.get("rolloutState", ""), d.get("taskDefinition", "").rsplit("/", 1)[-1])
        for d in deployments
    ]


def new_replica_set_starting(api: client.ApiClient, namespace: str, name: str, revision: str) -> Any:
    """The new revision's ReplicaSet is there, with tasks asked for and not all of them available."""

    def check() -> dict[str, Any] | None:
        for rs in replica_sets_of(api, namespace, name):
            if revision_of(rs) == revision and int(rs["spec"].get("replicas") or 0) >= 1:
                available = int((rs.get("status") or {}).get("availableReplicas") or 0)
                return rs if available < 4 else None
        return None

    return check


def test_killed_in_the_middle_of_rollouts(
    cluster: Kubectl, api: client.ApiClient, operators: Operators, results: dict[str, Any]
) -> None:
    kubectl, namespace, name = cluster, "chaos-kill-rollout", "roll"
    kubectl("create", "namespace", namespace)
    operator = operators.start()
    config_ = {"minimumHealthyPercent": 50, "maximumPercent": 150}
    apply_objects(kubectl, namespace, task_definition(name), service(name, name, 4, deploymentConfiguration=config_))
    wait_for("the service running", rolled_out(api, kubectl, namespace, name, "1"), timeout=120)
    watch = ReadyWatch(api, namespace, name)
    try:

        def registered(revision: int) -> bool:
            td = kubectl.get("ecstaskdefinition", name, namespace) or {}
            return (td.get("status") or {}).get("revision") == revision

        # A: killed as the new ReplicaSet starts its tasks, started again 2 s later (mid-rollout)
        apply_objects(kubectl, namespace, task_definition(name, "example/app:2"))
        wait_for("revision 2", lambda: registered(2))
        apply_objects(kubectl, namespace, service(name, f"{name}:2", 4, deploymentConfiguration=config_))
        starting = wait_for(
            "revision 2's ReplicaSet starting", new_replica_set_starting(api, namespace, name, "2"), interval=0.1
        )
        operator.kill()
        results["rollout A: new tasks available at the kill"] = (starting.get("status") or {}).get(
            "availableReplicas", 0
        )
        time.sleep(2)
        operator = operators.start()
        restarted = time.monotonic()
        wait_for("rollout A completed", rolled_out(api, kubectl, namespace, name, "2"), timeout=120)
        results["rollout A: completed after the restart (s)"] = round(time.monotonic() - restarted, 1)
        no_failed_reconcile(operator)

        # B: killed mid-rollout, started again only once the Deployment finished by itself
        apply_objects(kubectl, namespace, task_definition(name, "example/app:3"))
        wait_for("revision 3", lambda: registered(3))
        apply_objects(kubectl, namespace, service(name, f"{name}:3", 4, deploymentConfiguration=config_))
        wait_for("revision 3's ReplicaSet starting", new_replica_set_starting(api, namespace, name, "3"), interval=0.1)
        operator.kill()
        killed = time.monotonic()

        def finished_by_itself() -> bool:
            deployment = kubectl.get("deployment", name, namespace) or {}
            status = deployment.get("status") or {}
            counts = [status.get(k) for k in ("replicas", "updatedReplicas", "availableReplicas")]
            older = [rs for rs in replica_sets_of(api, namespace, name) if revision_of(rs) != "3"]
            return counts == [4, 4, 4] and all(int((rs.get("status") or {}).get("replicas") or 0) == 0 for rs in older)

        wait_for("the Deployment to finish the rollout", finished_by_itself, timeout=120)
        stale = (kubectl.get("ecsservice", name, namespace) or {}).get("status") or {}
        results["rollout B: the Deployment finished alone after (s)"] = round(time.monotonic() - killed, 1)
        results["rollout B: the status left by the killed operator"] = summary({"status": stale})[:3]
        operator = operators.start()
        restarted = time.monotonic()
        wait_for("rollout B completed", rolled_out(api, kubectl, namespace, name, "3"), timeout=120)
        results["rollout B: completed after the restart (s)"] = round(time.monotonic() - restarted, 1)
        no_failed_reconcile(operator)

        # C: killed, the new revision registered and the service moved to it while down
        operator.kill()
        apply_objects(kubectl, namespace, task_definition(name, "example/app:4"))
        apply_objects(kubectl, namespace, service(name, f"{name}:4", 4, deploymentConfiguration=config_))
        time.sleep(2)
        assert not [rs for rs in replica_sets_of(api, namespace, name) if revision_of(rs) == "4"]
        operator = operators.start()
        restarted = time.monotonic()
        wait_for("rollout C completed", rolled_out(api, kubectl, namespace, name, "4"), timeout=120)
        results["rollout C: completed after the restart (s)"] = round(time.monotonic() - restarted, 1)
        no_failed_reconcile(operator)

        # D: a revision whose tasks fail, the circuit breaker on: killed once the first of them
        # failed, started again; the failures are counted from the cluster and it rolls back
        breaker = {**config_, "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
        apply_objects(kubectl, namespace, task_definition(name, "example/app:5", exit_code=1))
        wait_for("revision 5", lambda: registered(5))
        apply_objects(kubectl, namespace, service(name, f"{name}:5", 4, deploymentConfiguration=breaker))

        def failed_tasks() -> int:
            pods = live(items(api, OWNED_KINDS["Pod"].format(ns=namespace), f"{LABEL_SERVICE}={name}"))
            return sum(1 for p in pods if p["metadata"]["labels"].get(LABEL_REVISION) == "5" and failed(p))

        wait_for("a task of revision 5 failed", failed_tasks, timeout=60, interval=0.1)
        operator.kill()
        time.sleep(2)
        results["rollout D: tasks failed when the operator came back"] = failed_tasks()
        operator = operators.start()
        restarted = time.monotonic()

        def rolled_back() -> dict[str, Any] | None:
            svc = kubectl.get("ecsservice", name, namespace) or {}
            return svc if (condition(svc, "Degraded") or {}).get("reason") == "RolledBack" else None

        after = wait_for("the circuit breaker to roll back", rolled_back, timeout=120)
        results["rollout D: rolled back after the restart (s)"] = round(time.monotonic() - restarted, 1)
        failed_deployments = [d for d in after["status"]["deployments"] if d["rolloutState"] == "FAILED"]
        assert [d["taskDefinition"].rsplit("/", 1)[-1] for d in failed_deployments] == [f"{name}:5"]
        wait_for("rollout D rolled back", rolled_out(api, kubectl, namespace, name, "4"), timeout=120)
        results["rollout D: back on revision 4 after the restart (s)"] = round(time.monotonic() - restarted, 1)
    finally:
        samples = watch.stop()

    lowest = min(n for _, n in samples)
    results["rollouts: lowest Ready tasks (of 4, floor 2)"] = lowest
    results["rollouts: samples"] = len(samples)
    assert lowest >= 2, [n for _, n in samples]
    final = kubectl.get("ecsservice", name, namespace) or {}
    assert final["status"]["taskDefinition"].endswith(f"{name}:4")
    revisions = sorted(revision_of(rs) for rs in replica_sets_of(api, namespace, name))
    assert revisions == ["1", "2", "3", "4", "5"], revisions  # one ReplicaSet per revision, none twice
    one_of_each(api, namespace, [name])
    assert orphans(api, namespace) == []
    assert operator.alive(), operator.text()[-3000:]
    no_failed_reconcile(operator)
