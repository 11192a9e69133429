"""Objects deleted while the operator is down are finished when it returns; uninstalling the
documented way leaves nothing stuck on a finalizer (issue 27; docs/reliability.md, "Objects
deleted while the operator is down, and uninstalling", has the measured numbers).

Which objects carry ecs-facade's finalizer (``ecs.facade.dev/finalizer``, kopf's, named in
controllers/settings.py): every ECSCluster (its deletion handler is not optional: a cluster
with services or running tasks is held, as ECS refuses DeleteCluster, and a deleted cluster
gives back the nodes its instanceSelector labelled) and every ECSTask while it is STOPPED (its
retention timer: kopf holds a deletion until the object's timers have stopped). ECSServices
and ECSTaskDefinitions carry none: their children go through owner references (the garbage
collector), whether the operator runs or not.

1. Deleted while down: clusters, task definitions, REPLICA and DAEMON services, a running and
   a STOPPED task run; the operator is SIGKILLed; some of each kind are deleted and a revision
   in use is deregistered; the operator is started again. Every deleted object is gone within
   a bound, with its children; a cluster that still has a service is held (condition, event)
   until the service goes; what was kept is untouched (same Deployment, same pods) and still
   converged; the operator's log has no traceback and no error but the hold's.
2. Uninstalling: the steps of charts/ecs-facade/README.md, "Uninstalling", run as written
   (read from the README) with the chart installed by ``helm install``: nothing is left, no
   ECS object, no CRD, no namespace stuck Terminating, nothing the operator made, no node label.
3. The operator already gone: deleted clusters and a deleted STOPPED task are stuck (shown),
   then the README's steps for that case (``ecs-facade remove-finalizers`` first) leave nothing.
4. A CRD deleted with such an object and no operator stays Terminating (shown) until the
   README's command for it, ``ecs-facade remove-finalizers``.

The chart on kwok: ``helm install`` makes the operator's Deployment, whose pod kwok only
pretends to run (no image is pulled; nothing runs in it). The operator runs in its place as a
process of this test, with a token of the chart's ServiceAccount (so the chart's RBAC) and the
chart's own arguments (``run --leader-elect --lease-name=ecs-facade``, the release namespace
as ``POD_NAMESPACE``), without the ports of its probe and metrics. Where the README says
``helm uninstall``, the test then sends that process SIGTERM, as the pod's deletion does to
its container.

To show what a protection is worth, ``CHAOS_OPERATOR_CODE`` runs every operator process from
another checkout's ``operator/``, ``CHAOS_RESTART_OPERATOR_CODE`` only the one started after
the deletions, and ``CHAOS_UNINSTALL_README`` takes the steps from another copy of the README.

Bounded: each wait has a limit; the control plane (``E2E_PORT_BASE`` + 1400,
``.cluster-chaos-down``) and every operator process are stopped at the end."""

import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chaos.faults import LOG_DIR, REPO, LocalCluster, OperatorProcess, cluster_with_crds, recorded, stamped
from tests.e2e.conftest import account_kubeconfig, helm_binary
from tests.e2e.kube import Kubectl, apply_objects, condition, wait_for

pytestmark = pytest.mark.e2e

PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "17000")) + 1400
API_VERSION = "ecs.facade.dev/v1alpha1"
FINALIZER = "ecs.facade.dev/finalizer"
SETTINGS = {
    # STOPPED tasks wait for their retention (and keep the finalizer) through the whole test
    "ECS_FACADE_STOPPED_TASK_RETENTION_SECONDS": "900",
    "ECS_FACADE_STEADY_STATE_SECONDS": "2",
    "ECS_FACADE_CLUSTER_SYNC_SECONDS": "2",
}
BOUND = 60.0  # seconds for a deletion to be finished once the operator is back
CHILDREN_BOUND = 90.0  # and for the garbage collector to delete what the deleted objects owned
DOWN = 5.0  # seconds the operator stays down after the deletions
STUCK = 8.0  # seconds objects are seen stuck without the operator
CHILD_KINDS = (
    "deployments,replicasets,daemonsets,controllerrevisions,pods,poddisruptionbudgets,services,horizontalpodautoscalers"
)
# CHAOS_UNINSTALL_README: another copy of the chart README (what a step left out does)
README = Path(os.environ.get("CHAOS_UNINSTALL_README", REPO / "charts" / "ecs-facade" / "README.md"))
RELEASE, RELEASE_NAMESPACE = "ecs-facade", "ecs-facade-system"
RESULTS = LOG_DIR / "chaos-down-results.json"
# kopf's TemporaryErrors of a start (an object seen by kopf's watch before the operator's
# informer has it) and the hold of a cluster that still has services: the only ERROR lines
EXPECTED_ERRORS = re.compile(r"not in the operator's index yet|ClusterContains(Services|Tasks)Exception")


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, Kubectl]]:
    with cluster_with_crds(
        "down", PORT_BASE, "the operator-down scenarios need the local control plane (operator processes, helm)"
    ) as (local, kubectl):
        garbage_collector_knows_the_ecs_kinds(kubectl)
        yield local, kubectl


def garbage_collector_knows_the_ecs_kinds(kubectl: Kubectl) -> None:
    """The garbage collector starts watching a newly installed CRD's kind at its next discovery
    resync (up to 30 s later): until then the children of a deleted ECS object stay. Wait for
    it, so that the scenarios measure the operator's part, not a fresh CRD's: a ConfigMap
    owned by an ECSTaskDefinition goes once its owner is deleted."""
    started = time.monotonic()
    kubectl("create", "namespace", "gc-probe")
    apply_objects(kubectl, "gc-probe", task_definition("probe"))
    owner = get(kubectl, "ecstaskdefinition", "probe", "gc-probe")
    reference = {"apiVersion": API_VERSION, "kind": "ECSTaskDefinition", "name": "probe", "uid": uid(owner)}
    child = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "child", "ownerReferences": [reference]}}
    apply_objects(kubectl, "gc-probe", child)
    kubectl("delete", "ecstaskdefinition", "probe", "-n", "gc-probe")
    wait_for("the garbage collector", lambda: get(kubectl, "configmap", "child", "gc-probe") is None, timeout=90)
    kubectl("delete", "namespace", "gc-probe", "--wait=false")
    print(f"\nthe garbage collector deleted an ECS object's child {time.monotonic() - started:.1f} s after the CRDs")


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, Any]]:
    with recorded(RESULTS) as measured:
        yield measured


class Operators:
    """The operator processes a test starts, each stopped at the end (by its PID)."""

    def __init__(self) -> None:
        self.started: list[OperatorProcess] = []

    def start(
        self, kubeconfig: Path, log: str, settings: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> OperatorProcess:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        process = OperatorProcess(
            kubeconfig, LOG_DIR / log, {**SETTINGS, **(settings or {})}, args=args or ("--standalone",)
        )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@pytest.fixture
def operators() -> Iterator[Operators]:
    made = Operators()
    try:
        yield made
    finally:
        made.stop_all()


def killed(process: OperatorProcess) -> None:
    """SIGKILL: no clean stop, nothing finished."""
    process.process.send_signal(signal.SIGKILL)
    process.process.wait(10)
    process.stop()


# --- objects


def task_definition(name: str, exit_code: int | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "example/app:1", "cpu": 64, "memory": 64}
    if exit_code is not None:  # kwok's stage: the container exits with this code after 1 s
        container["dockerLabels"] = {"ecs.facade.dev/simulate-exit-code": str(exit_code)}
    return {
        "apiVersion": API_VERSION,
        "kind": "ECSTaskDefinition",
        "metadata": {"name": name},
        "spec": {"containerDefinitions": [container]},
    }


def service(name: str, task_definition: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ECSService",
        "metadata": {"name": name},
        "spec": {"taskDefinition": task_definition, **spec},
    }


def task(name: str, task_definition: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ECSTask",
        "metadata": {"name": name},
        "spec": spec | {"taskDefinition": task_definition},
    }


def ecs_cluster(kubectl: Kubectl, name: str, **spec: Any) -> None:
    manifest = {"apiVersion": API_VERSION, "kind": "ECSCluster", "metadata": {"name": name}, "spec": spec}
    kubectl("apply", "-f", "-", input=json.dumps(manifest))


def get(kubectl: Kubectl, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    scope = ["-n", namespace] if namespace else []
    out = kubectl("get", kind, name, *scope, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def finalizers(obj: dict[str, Any] | None) -> list[str]:
    return list(((obj or {}).get("metadata") or {}).get("finalizers") or [])


def status(kubectl: Kubectl, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    return (get(kubectl, kind, name, namespace) or {}).get("status") or {}


def converged(kubectl: Kubectl, namespace: str, name: str, desired: int) -> bool:
    """Ready (steady state), its count running, and as many pods Running."""
    found = get(kubectl, "ecsservice", name, namespace) or {}
    ready = (condition(found, "Ready") or {}).get("status") == "True"
    if not (ready and (found.get("status") or {}).get("runningCount") == desired):
        return False
    return len(running_pods(kubectl, namespace, f"ecs.facade.dev/service={name}")) == desired


def running_pods(kubectl: Kubectl, namespace: str, selector: str) -> dict[str, str]:
    """name -> uid of the Running pods not being deleted."""
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", selector)["items"]
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in pods
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    }


def task_running(kubectl: Kubectl, namespace: str, name: str) -> bool:
    return status(kubectl, "ecstask", name, namespace).get("lastStatus") == "RUNNING"


def has_finalizer(kubectl: Kubectl, kind: str, name: str, namespace: str | None = None) -> bool:
    return FINALIZER in finalizers(get(kubectl, kind, name, namespace))


def task_stopped_with_finalizer(kubectl: Kubectl, namespace: str, name: str) -> bool:
    found = get(kubectl, "ecstask", name, namespace)
    return (found or {}).get("status", {}).get("lastStatus") == "STOPPED" and FINALIZER in finalizers(found)


def descendants(kubectl: Kubectl, namespace: str, roots: dict[str, str]) -> dict[str, str]:
    """Everything in the namespace owned, through any chain of owner references, by one of
    ``roots`` (uid -> name): uid -> "Kind/name"."""
    items = kubectl.json("get", CHILD_KINDS, "-n", namespace)["items"]
    owned: dict[str, str] = {}
    frontier = set(roots)
    while frontier:
        found = {
            i["metadata"]["uid"]: f"{i['kind']}/{i['metadata']['name']}"
            for i in items
            if {o["uid"] for o in i["metadata"].get("ownerReferences") or []} & frontier
            and i["metadata"]["uid"] not in owned
        }
        owned.update(found)
        frontier = set(found)
    return owned


def existing_uids(kubectl: Kubectl, namespace: str) -> set[str]:
    return {i["metadata"]["uid"] for i in kubectl.json("get", CHILD_KINDS, "-n", namespace)["items"]}


def uid(obj: dict[str, Any] | None) -> str:
    assert obj is not None
    return str(obj["metadata"]["uid"])


def log_problems(process: OperatorProcess) -> list[str]:
    """Tracebacks and ERROR lines but the expected ones (``EXPECTED_ERRORS``)."""
    text = process.text()
    problems = [line for line in text.splitlines() if "Traceback" in line]
    problems += [line for line in text.splitlines() if "[ERROR" in line and not EXPECTED_ERRORS.search(line)]
    return problems


# --- 1. deleted while the operator is down


def test_objects_deleted_while_the_operator_is_down_are_finished_when_it_returns(
    cluster: tuple[LocalCluster, Kubectl], operators: Operators, results: dict[str, Any]
) -> None:
    _, kubectl = cluster
    admin = Path(kubectl.kubeconfig)
    ns = "down"
    kubectl("create", "namespace", ns)
    first = operators.start(admin, "chaos-down-operator-1.log")
    ecs_cluster(kubectl, "held")  # no instances: its service's tasks wait, the service is there
    ecs_cluster(kubectl, "gone")
    default_nodes = [
        n["metadata"]["name"]
        for n in kubectl.json("get", "nodes")["items"]
        if "ecs.facade.dev/cluster" not in n["metadata"]["labels"]
    ]
    apply_objects(
        kubectl,
        ns,
        task_definition("app"),
        task_definition("other"),
        task_definition("job", exit_code=0),
        service("keep", "app", desiredCount=2),
        service("gone", "other", desiredCount=2),
        service("daemon", "app", schedulingStrategy="DAEMON"),
        service("held", "app", cluster="held", desiredCount=1),
        task("run", "app"),
        task("keep-run", "app"),
        task("stopped", "job"),
        task("keep-stopped", "job"),
    )
    started = time.monotonic()
    for name in ("keep", "gone"):
        wait_for(f"{name} converged", functools.partial(converged, kubectl, ns, name, 2), timeout=120)
    wait_for(
        "the daemon's task on every instance",
        lambda: len(running_pods(kubectl, ns, "ecs.facade.dev/service=daemon")) == len(default_nodes),
        timeout=60,
    )
    wait_for("held's Deployment", lambda: get(kubectl, "deployment", "held", ns), timeout=60)
    for name in ("run", "keep-run"):
        wait_for(f"{name} RUNNING", functools.partial(task_running, kubectl, ns, name))
    for name in ("stopped", "keep-stopped"):
        wait_for(
            f"{name} STOPPED, with the finalizer", functools.partial(task_stopped_with_finalizer, kubectl, ns, name)
        )
    for name in ("held", "gone"):
        wait_for(f"cluster {name} with the finalizer", functools.partial(has_finalizer, kubectl, "ecscluster", name))
    results["1. everything running after (s)"] = round(time.monotonic() - started, 1)
    # which kinds carry the finalizer (kopf's choice, from the handlers)
    assert FINALIZER not in finalizers(get(kubectl, "ecsservice", "keep", ns))
    assert FINALIZER not in finalizers(get(kubectl, "ecstaskdefinition", "app", ns))
    assert FINALIZER not in finalizers(get(kubectl, "ecstask", "keep-run", ns))

    objects = {
        name: get(kubectl, kind, name, ns)
        for kind, name in [
            ("ecsservice", "keep"), ("ecsservice", "gone"), ("ecsservice", "daemon"), ("ecsservice", "held"),
            ("ecstask", "run"), ("ecstask", "keep-run"), ("ecstask", "stopped"),
            ("ecstaskdefinition", "app"), ("ecstaskdefinition", "other"),
        ]
    }  # fmt: skip
    doomed = {n: descendants(kubectl, ns, {uid(objects[n]): n}) for n in ("gone", "daemon", "run", "other")}
    kinds = {n: sorted({c.split("/")[0] for c in children.values()}) for n, children in doomed.items()}
    assert kinds == {
        "gone": ["Deployment", "Pod", "PodDisruptionBudget", "ReplicaSet"],
        "daemon": ["ControllerRevision", "DaemonSet", "Pod"],
        "run": ["Pod"],
        "other": ["ControllerRevision"],
    }, kinds
    kept = descendants(kubectl, ns, {uid(objects[n]): n for n in ("keep", "keep-run", "app")})
    keep_deployment = uid(get(kubectl, "deployment", "keep", ns))
    keep_pods = running_pods(kubectl, ns, "ecs.facade.dev/service=keep")
    keep_run_pod = uid(get(kubectl, "pod", "keep-run", ns))

    # down: SIGKILL, then deletions of each kind and a revision in use deregistered
    killed(first)
    kubectl("delete", "ecsservice", "gone", "daemon", "-n", ns, "--wait=false")
    kubectl("delete", "ecstask", "run", "stopped", "-n", ns, "--wait=false")
    kubectl("delete", "ecstaskdefinition", "other", "-n", ns, "--wait=false")
    kubectl("delete", "ecscluster", "held", "gone", "--wait=false")
    kubectl(
        "patch", "ecstaskdefinition", "app", "-n", ns, "--type=merge", "-p", '{"spec":{"deregisteredRevisions":[1]}}'
    )
    deleted = time.monotonic()
    # the garbage collector deletes the children of what went at once, operator or not
    every_doomed = {u: f"{owner}: {c}" for owner, children in doomed.items() for u, c in children.items()}
    wait_for(
        "the deleted objects' children gone",
        lambda: not (set(every_doomed) & existing_uids(kubectl, ns)),
        timeout=CHILDREN_BOUND,
    )
    results["1. children of the deleted objects gone after the deletion, operator down (s)"] = round(
        time.monotonic() - deleted, 1
    )
    results["1. children of the deleted objects"] = len(every_doomed)
    time.sleep(max(0.0, deleted + DOWN - time.monotonic()))
    # what has the finalizer waits for the operator; the rest went at once
    for kind, name, where in [("ecstask", "stopped", ns), ("ecscluster", "held", None), ("ecscluster", "gone", None)]:
        waiting = get(kubectl, kind, name, where)
        assert waiting is not None and waiting["metadata"].get("deletionTimestamp"), (kind, name, waiting)
        assert FINALIZER in finalizers(waiting)
    for kind, name in [
        ("ecsservice", "gone"),
        ("ecsservice", "daemon"),
        ("ecstask", "run"),
        ("ecstaskdefinition", "other"),
    ]:
        assert get(kubectl, kind, name, ns) is None, (kind, name)

    # back
    # CHAOS_RESTART_OPERATOR_CODE: the operator that comes back runs another checkout's code
    # (an upgrade, or what the scenario catches without a protection)
    restart_code = (
        {"CHAOS_OPERATOR_CODE": os.environ["CHAOS_RESTART_OPERATOR_CODE"]}
        if os.environ.get("CHAOS_RESTART_OPERATOR_CODE")
        else {}
    )
    with pytest.MonkeyPatch.context() as patched:
        for name, value in restart_code.items():
            patched.setenv(name, value)
        second = operators.start(admin, "chaos-down-operator-2.log")
    back = time.monotonic()
    wait_for(
        "the STOPPED task deleted while down gone",
        lambda: get(kubectl, "ecstask", "stopped", ns) is None,
        timeout=BOUND,
    )
    results["1. STOPPED task deleted while down: gone after the restart (s)"] = round(time.monotonic() - back, 1)
    wait_for(
        "the empty cluster deleted while down gone", lambda: get(kubectl, "ecscluster", "gone") is None, timeout=BOUND
    )
    results["1. empty cluster deleted while down: gone after the restart (s)"] = round(time.monotonic() - back, 1)

    def held_condition() -> dict[str, Any] | None:
        ready = condition(get(kubectl, "ecscluster", "held"), "Ready") or {}
        return ready if ready.get("reason") == "ClusterContainsServices" else None

    ready = wait_for("the cluster with a service held, with its condition", held_condition, timeout=BOUND)
    results["1. cluster with a service: held, condition after the restart (s)"] = round(time.monotonic() - back, 1)
    assert ready["status"] == "False" and f"{ns}/held" in ready["message"], ready
    holding = get(kubectl, "ecscluster", "held")
    assert holding is not None and holding["status"]["status"] == "DEPROVISIONING"
    time.sleep(3)  # held: still there a sync round later
    assert get(kubectl, "ecscluster", "held") is not None
    events = kubectl.json("get", "events", "-A", "--field-selector", "involvedObject.kind=ECSCluster")["items"]
    reasons = [e["reason"] for e in events if e["involvedObject"]["name"] == "held"]
    assert reasons.count("ClusterContainsServices") == 1, reasons  # said once, by the operator that came back
    kubectl("delete", "ecsservice", "held", "-n", ns, "--wait=false")
    released = time.monotonic()
    wait_for(
        "the held cluster gone once its service went", lambda: get(kubectl, "ecscluster", "held") is None, timeout=BOUND
    )
    results["1. held cluster: gone after its service was deleted (s)"] = round(time.monotonic() - released, 1)

    # nothing of theirs made again by the operator that came back
    again = {every_doomed[u] for u in set(every_doomed) & existing_uids(kubectl, ns)}
    assert not again, again
    for name in ("gone", "daemon"):
        assert not kubectl.json("get", CHILD_KINDS, "-n", ns, "-l", f"ecs.facade.dev/service={name}")["items"], name
    assert get(kubectl, "pod", "run", ns) is None

    # what was kept: untouched and converged, the deregistered revision still run
    wait_for("keep converged", lambda: converged(kubectl, ns, "keep", 2), timeout=30)
    assert uid(get(kubectl, "deployment", "keep", ns)) == keep_deployment
    assert running_pods(kubectl, ns, "ecs.facade.dev/service=keep") == keep_pods
    assert str(status(kubectl, "ecsservice", "keep", ns)["taskDefinition"]).endswith("task-definition/app:1")
    assert set(kept) <= existing_uids(kubectl, ns), set(kept) - existing_uids(kubectl, ns)
    assert status(kubectl, "ecstask", "keep-run", ns)["lastStatus"] == "RUNNING"
    assert uid(get(kubectl, "pod", "keep-run", ns)) == keep_run_pod
    assert task_stopped_with_finalizer(kubectl, ns, "keep-stopped")
    revisions = status(kubectl, "ecstaskdefinition", "app", ns).get("revisions") or []
    assert [(r["revision"], r["status"]) for r in revisions] == [(1, "INACTIVE")], revisions
    assert get(kubectl, "ecscluster", "default") is not None
    assert second.alive(), second.text()[-3000:]
    for process in (first, second):
        assert not log_problems(process), "\n".join(log_problems(process)[:20])
    assert not stamped(second.text(), r"Handler 'cluster_deleted' failed with an exception")


# --- 2 and 3. uninstalling


def documented_steps(block: int) -> list[str]:
    """The commands of the ``block``-th ``sh`` block of the README's "Uninstalling" section."""
    section = README.read_text().split("\n## Uninstalling\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line.strip() for line in blocks[block].splitlines() if line.strip() and not line.startswith("#")]


def shell(kubectl: Kubectl, command: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    """A command as a user types it, from the repository's root: kubectl and helm of the
    local control plane, ``ecs-facade`` of this venv (running this checkout's operator code)."""
    path = os.pathsep.join([str(Path(kubectl.binary).parent), str(Path(sys.executable).parent), os.environ["PATH"]])
    code = os.environ.get("CHAOS_OPERATOR_CODE", str(REPO / "operator"))
    env = {
        **os.environ,
        "PATH": path,
        "KUBECONFIG": kubectl.kubeconfig,
        "PYTHONPATH": os.pathsep.join(filter(None, [code, os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def install_chart(kubectl: Kubectl) -> None:
    """The README's install command (charts/ecs-facade/README.md), then the CRDs ready."""
    install = f"helm install {RELEASE} charts/ecs-facade -n {RELEASE_NAMESPACE} --create-namespace"
    assert install in (REPO / "charts/ecs-facade/README.md").read_text()
    done = shell(kubectl, install)
    assert done.returncode == 0, done.stderr
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "charts/ecs-facade/crds"))


def chart_operator(kubectl: Kubectl, operators: Operators, log: str) -> OperatorProcess:
    """The operator as the chart's pod would run it: its ServiceAccount, its arguments (not its ports)."""
    manifest = subprocess.run(
        [helm_binary(kubectl), "--kubeconfig", kubectl.kubeconfig, "get", "manifest", RELEASE, "-n", RELEASE_NAMESPACE],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (deployment,) = [d for d in yaml.safe_load_all(manifest) if d and d["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = [a for a in container["args"] if not a.startswith(("--liveness", "--metrics-port"))]
    assert args[:2] == ["run", "--leader-elect"], args
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    token = account_kubeconfig(kubectl, RELEASE_NAMESPACE, account, LOG_DIR / "chaos-down-chart.kubeconfig")
    # its settings (ECS_FACADE_*), the pod's name and namespace (the Lease's), the test's short times
    env = {e["name"]: e["value"] for e in container.get("env") or [] if "value" in e}
    env |= {"POD_NAMESPACE": RELEASE_NAMESPACE, "POD_NAME": f"{RELEASE}-chaos-down"} | SETTINGS
    return operators.start(token, log, env, args=tuple(args[1:]))


def world(kubectl: Kubectl, prefix: str, node: str | None) -> None:
    """Two namespaces of ECS objects, running: a cluster (taking ``node`` by its
    instanceSelector), services in it and in default, a running and a STOPPED task."""
    a, b = f"{prefix}-a", f"{prefix}-b"
    for namespace in (a, b):
        kubectl("create", "namespace", namespace)
    selector = {"instanceSelector": {"matchLabels": {"kubernetes.io/hostname": node}}} if node else {}
    ecs_cluster(kubectl, f"{prefix}-prod", **selector)
    apply_objects(
        kubectl, a, task_definition("web"), task_definition("job", exit_code=0),
        service("web", "web", desiredCount=1, cluster=f"{prefix}-prod"), task("long", "web"), task("job", "job"),
    )  # fmt: skip
    apply_objects(kubectl, b, task_definition("api"), service("api", "api", desiredCount=2))
    if node:
        wait_for(f"{node} in {prefix}-prod", lambda: node_cluster(kubectl, node) == f"{prefix}-prod", timeout=60)
        wait_for("web converged", lambda: converged(kubectl, a, "web", 1), timeout=90)
    else:
        wait_for("web's Deployment", lambda: get(kubectl, "deployment", "web", a), timeout=60)
    wait_for("api converged", lambda: converged(kubectl, b, "api", 2), timeout=90)
    wait_for("long RUNNING", lambda: status(kubectl, "ecstask", "long", a).get("lastStatus") == "RUNNING")
    wait_for("job STOPPED, with the finalizer", lambda: task_stopped_with_finalizer(kubectl, a, "job"))
    wait_for(
        "the clusters with the finalizer",
        lambda: all(FINALIZER in finalizers(c) for c in kubectl.json("get", "ecsclusters")["items"]),
    )


def node_cluster(kubectl: Kubectl, node: str) -> str | None:
    labels: dict[str, str] = kubectl.json("get", "node", node)["metadata"]["labels"]
    return labels.get("ecs.facade.dev/cluster")


def leftovers(kubectl: Kubectl) -> list[str]:
    """What is left of ecs-facade: its CRDs, namespaces stuck Terminating, objects it made
    (its label, or owned by an ECS object), node labels of its clusters, the chart's objects."""
    left = [
        f"CRD {c['metadata']['name']}"
        for c in kubectl.json("get", "crds")["items"]
        if c["spec"]["group"] == "ecs.facade.dev"
    ]
    left += [
        f"namespace {n['metadata']['name']} {n['status'].get('phase')}"
        for n in kubectl.json("get", "namespaces")["items"]
        if n["status"].get("phase") == "Terminating" or n["metadata"]["name"] == RELEASE_NAMESPACE
    ]
    for item in kubectl.json("get", f"{CHILD_KINDS},serviceaccounts,leases", "--all-namespaces")["items"]:
        meta = item["metadata"]
        owners = [o["kind"] for o in meta.get("ownerReferences") or [] if o["apiVersion"].startswith("ecs.facade.dev/")]
        made = (meta.get("labels") or {}).get("app.kubernetes.io/managed-by") == "ecs-facade"
        chart = (meta.get("labels") or {}).get("app.kubernetes.io/instance") == RELEASE
        if owners or made or chart:
            left.append(f"{item['kind']} {meta.get('namespace')}/{meta['name']} (owners {owners})")
    for node in kubectl.json("get", "nodes")["items"]:
        meta = node["metadata"]
        if "ecs.facade.dev/cluster" in meta["labels"] or "ecs.facade.dev/cluster-label-set-by" in meta.get(
            "annotations", {}
        ):
            left.append(f"node {meta['name']}: {meta['labels'].get('ecs.facade.dev/cluster')}")
    left += [
        f"{kind} {r['metadata']['name']}"
        for kind in ("clusterroles", "clusterrolebindings")
        for r in kubectl.json("get", kind, "-l", f"app.kubernetes.io/instance={RELEASE}")["items"]
    ]
    return left


def run_steps(kubectl: Kubectl, steps: list[str], results: dict[str, Any], label: str, after: dict[str, Any]) -> None:
    """Each documented command in order, each must succeed; ``after[prefix]()`` runs after
    the command that starts with ``prefix`` (the operator's pod stopped by helm uninstall)."""
    for step in steps:
        began = time.monotonic()
        done = shell(kubectl, step)
        took = round(time.monotonic() - began, 1)
        assert done.returncode == 0, f"{step}\n{done.stdout}\n{done.stderr}"
        results[f"{label}: {step.split(' --')[0][:60]} (s)"] = took
        for prefix, then in after.items():
            if step.startswith(prefix):
                then()


def test_uninstalling_the_documented_way_leaves_nothing(
    cluster: tuple[LocalCluster, Kubectl], operators: Operators, results: dict[str, Any]
) -> None:
    _, kubectl = cluster
    steps = documented_steps(0)
    install_chart(kubectl)
    operator = chart_operator(kubectl, operators, "chaos-down-chart-operator.log")
    started = time.monotonic()
    world(kubectl, "uninst", node="kwok-node-0")
    results["2. the world running after (s)"] = round(time.monotonic() - started, 1)
    assert operator.alive(), operator.text()[-3000:]

    def pod_deleted() -> None:  # what helm uninstall does to the chart's operator pod
        operator.stop()
        results["2. the operator's exit code at SIGTERM"] = operator.process.returncode

    made = kubectl.json("get", CHILD_KINDS, "--all-namespaces", "-l", "app.kubernetes.io/managed-by=ecs-facade")
    results["2. objects with the operator's label before the uninstall"] = len(made["items"])
    began = time.monotonic()
    run_steps(kubectl, steps, results, "2", {"helm uninstall": pod_deleted})
    results["2. uninstall, all steps (s)"] = round(time.monotonic() - began, 1)
    left = leftovers(kubectl)
    assert not left, left
    assert operator.process.returncode == 0
    assert not log_problems(operator), "\n".join(log_problems(operator)[:20])


def test_uninstalling_after_the_operator_is_gone_leaves_nothing(
    cluster: tuple[LocalCluster, Kubectl], operators: Operators, results: dict[str, Any]
) -> None:
    _, kubectl = cluster
    steps = documented_steps(1)
    assert steps[0] == "ecs-facade remove-finalizers"
    install_chart(kubectl)  # again, after the previous test deleted its CRDs: helm installs them
    operator = chart_operator(kubectl, operators, "chaos-down-gone-operator.log")
    world(kubectl, "gone", node=None)
    # the operator gone first: killed, and the chart uninstalled
    killed(operator)
    done = shell(kubectl, f"helm uninstall {RELEASE} -n {RELEASE_NAMESPACE}")
    assert done.returncode == 0, done.stderr
    # deleting then is stuck: the clusters and the STOPPED task stay, being deleted
    kubectl("delete", "ecsclusters", "--all", "--wait=false")
    kubectl("delete", "ecstask", "job", "-n", "gone-a", "--wait=false")
    time.sleep(STUCK)
    stuck = kubectl.json("get", "ecsclusters")["items"]
    assert sorted(c["metadata"]["name"] for c in stuck) == ["default", "gone-prod"], stuck
    assert all(c["metadata"].get("deletionTimestamp") and FINALIZER in finalizers(c) for c in stuck), stuck
    assert FINALIZER in finalizers(get(kubectl, "ecstask", "job", "gone-a"))

    began = time.monotonic()
    run_steps(kubectl, steps, results, "3", {})
    results["3. after the operator was gone, all steps (s)"] = round(time.monotonic() - began, 1)
    left = leftovers(kubectl)
    assert not left, left


def test_remove_finalizers_lets_a_crd_being_deleted_finish(
    cluster: tuple[LocalCluster, Kubectl], results: dict[str, Any]
) -> None:
    """A CRD deleted while objects of its kind still have the finalizer and no operator runs:
    it stays Terminating; ``ecs-facade remove-finalizers`` (the README's command for it) lets
    the API server finish. No operator at all here: the finalizer is put on by hand."""
    _, kubectl = cluster
    crd = REPO / "crds" / "ecs.facade.dev_ecsclusters.yaml"
    kubectl("apply", "--server-side", "-f", str(crd))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(crd))
    ecs_cluster(kubectl, "orphan")
    kubectl(
        "patch", "ecscluster", "orphan", "--type=merge", "-p", json.dumps({"metadata": {"finalizers": [FINALIZER]}})
    )
    kubectl("delete", "-f", str(crd), "--wait=false")
    time.sleep(STUCK)
    found = get(kubectl, "crd", "ecsclusters.ecs.facade.dev")
    assert found is not None and found["metadata"].get("deletionTimestamp"), found
    assert (condition(found, "Terminating") or {}).get("reason") == "InstanceDeletionInProgress", found
    (command,) = [line for line in documented_steps(2)]
    assert command == "ecs-facade remove-finalizers"
    began = time.monotonic()
    done = shell(kubectl, command)
    assert done.returncode == 0, done.stderr
    assert "ecsclusters/orphan: finalizer removed (being deleted: it goes now)" in done.stdout, done.stdout
    wait_for("the CRD gone", lambda: get(kubectl, "crd", "ecsclusters.ecs.facade.dev") is None, timeout=BOUND)
    results["4. CRD stuck Terminating: gone after remove-finalizers (s)"] = round(time.monotonic() - began, 1)
    assert not leftovers(kubectl), leftovers(kubectl)
