"""End-to-end fixtures: a real Kubernetes API server, the CRDs, and the operator in-process,
authenticated as the Helm chart's ServiceAccount with the chart's RBAC (so that every e2e
test also proves the chart grants enough).

The cluster is the one named by ``E2E_KUBECONFIG`` (for example a kind cluster, see
hack/kind-e2e.sh) or, when that is unset, the local control plane of hack/cluster.sh,
brought up for the session and stopped after it.  If neither can be had the tests fail
with the reason: they are never skipped.
"""

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import kopf
import pytest
from kopf.testing import KopfRunner

from ecs_facade.controllers.state import OperatorState
from tests.e2e import ecs_api as ecsapi
from tests.e2e.kube import Kubectl, wait_for

REPO = Path(__file__).resolve().parents[2]
CLUSTER_DIR = Path(os.environ.get("E2E_CLUSTER_DIR", REPO / ".cluster-e2e"))
# kept after the session (the cluster folder is deleted): the operator and component logs
LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", REPO / ".e2e-logs"))
PORT_BASE = os.environ.get("E2E_PORT_BASE", "17000")
# the ECS cluster whose one container instance is the real node
REAL_CLUSTER = "real"
# the API server's audit log (local control plane) records the requests of the ServiceAccounts
# of this namespace: fault-injection tests run operator replicas as them and count their writes
AUDITED_NAMESPACE = "ecs-facade-audited"
AUDIT_LOG = CLUSTER_DIR / "logs" / "audit.log"


def _cluster_env() -> dict[str, str]:
    return {
        **os.environ,
        "ECS_FACADE_CLUSTER_DIR": str(CLUSTER_DIR),
        "ECS_FACADE_PORT_BASE": PORT_BASE,
        # room for the whole task definition corpus at once
        "ECS_FACADE_NODE_CPU": "16",
        "ECS_FACADE_NODE_MEMORY": "64Gi",
        # a real node (containerd, kubelet, kube-proxy) for the real-container tests: the one
        # instance of the ECS cluster REAL_CLUSTER (hack/real-node.sh); E2E_REAL_NODES=0 leaves it out
        "ECS_FACADE_REAL_NODES": os.environ.get("E2E_REAL_NODES", "1"),
        "ECS_FACADE_REAL_NODE_CLUSTER": REAL_CLUSTER,
        "ECS_FACADE_AUDIT_GROUP": f"system:serviceaccounts:{AUDITED_NAMESPACE}",
    }


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def kubectl() -> Iterator[Kubectl]:
    external = os.environ.get("E2E_KUBECONFIG")
    if external:
        binary = shutil.which("kubectl")
        if binary is None:
            pytest.fail("E2E_KUBECONFIG is set but kubectl is not on PATH")
        yield Kubectl(binary, external)
        return
    up = subprocess.run([REPO / "hack/cluster.sh", "up"], env=_cluster_env(), capture_output=True, text=True)
    if up.returncode != 0:
        logs = "\n".join(f"--- {p.name}\n{_tail(p)}" for p in sorted((CLUSTER_DIR / "logs").glob("*.log")))
        # what did start (processes, and the real node's mounts, links and chains) goes again
        subprocess.run([REPO / "hack/cluster.sh", "down"], env=_cluster_env(), check=False)
        pytest.fail(f"the local control plane did not start:\n{up.stderr}\n{logs}", pytrace=False)
    env = subprocess.run(
        [REPO / "hack/cluster.sh", "env"], env=_cluster_env(), capture_output=True, text=True, check=True
    )
    bin_dir = env.stdout.split("PATH=")[1].split(":")[0]
    try:
        yield Kubectl(f"{bin_dir}/kubectl", str(CLUSTER_DIR / "kubeconfig"))
    finally:
        subprocess.run([REPO / "hack/cluster.sh", "down"], env=_cluster_env(), check=False)
        shutil.rmtree(LOG_DIR / "cluster", ignore_errors=True)
        shutil.copytree(CLUSTER_DIR / "logs", LOG_DIR / "cluster", dirs_exist_ok=True)
        # a fresh cluster per session: no objects left over from an earlier run
        subprocess.run([REPO / "hack/cluster.sh", "down", "--purge"], env=_cluster_env(), check=False)


@pytest.fixture(scope="session")
def real_images(kubectl: Kubectl) -> dict[str, str]:
    """The images imported into the real node's containerd (hack/images/build.sh), by name
    (``busybox``, ``pause``): pods use them with ``imagePullPolicy: Never``."""
    listing = CLUSTER_DIR / "real-node" / "images"
    if os.environ.get("E2E_KUBECONFIG") or not listing.exists():
        pytest.fail("the real-container tests need the local cluster's real node (E2E_REAL_NODES=1)", pytrace=False)
    refs = [line.split()[0] for line in listing.read_text().splitlines() if line.strip()]
    return {ref.rsplit("/", 1)[1].split(":")[0]: ref for ref in refs}


@pytest.fixture(scope="module")
def real_cluster(kubectl: Kubectl, operator: object) -> Iterator[str]:
    """The ECSCluster of the real node (tasks and services of a named cluster wait until it exists)."""
    cluster = {"apiVersion": "ecs.facade.dev/v1alpha1", "kind": "ECSCluster", "metadata": {"name": REAL_CLUSTER}}
    kubectl("apply", "-f", "-", input=json.dumps(cluster))
    yield REAL_CLUSTER
    kubectl("delete", "ecscluster", REAL_CLUSTER, "--ignore-not-found", "--wait=false")


@pytest.fixture(scope="session")
def crds(kubectl: Kubectl) -> None:
    kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds"))


@pytest.fixture(scope="session")
def operator_log() -> Path:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return LOG_DIR / "operator.log"


CHART = REPO / "charts" / "ecs-facade"
# the operator's identity in the suite: the chart's ServiceAccount, with the chart's RBAC
OPERATOR_NAMESPACE = "ecs-facade-system"
OPERATOR_ACCOUNT = "ecs-facade"


def helm_binary(kubectl: Kubectl) -> str:
    beside = Path(kubectl.binary).parent / "helm"
    found = str(beside) if beside.exists() else shutil.which("helm")
    if found is None:
        pytest.fail("helm is not on PATH (the local control plane builds one)")
    return found


def server_version(kubectl: Kubectl) -> str:
    return str(kubectl.json("version")["serverVersion"]["gitVersion"])


def account_kubeconfig(kubectl: Kubectl, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig that authenticates as a ServiceAccount (a bound token), to the same server."""
    admin = kubectl.json("config", "view", "--raw", "--minify")
    cluster = admin["clusters"][0]["cluster"]
    token = kubectl("create", "token", account, "-n", namespace, "--duration", "24h").strip()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": account}}],
        "current-context": "e2e",
    }
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def operator_kubeconfig(kubectl: Kubectl, crds: None) -> Path:
    """The chart's ServiceAccount and RBAC (helm template of the chart, nothing else), and a
    kubeconfig with its token: the operator runs with exactly the rights the chart gives it."""
    if os.environ.get("E2E_OPERATOR_AS_ADMIN"):
        return Path(kubectl.kubeconfig)  # for debugging a failure that might be RBAC
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    path = LOG_DIR / "operator.kubeconfig"
    if os.environ.get("E2E_OPERATOR") == "in-cluster":  # helm installed the chart already
        return account_kubeconfig(kubectl, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, path)
    rendered = subprocess.run(
        [
            helm_binary(kubectl), "template", OPERATOR_ACCOUNT, str(CHART), "-n", OPERATOR_NAMESPACE,
            "--kube-version", server_version(kubectl),
            "--show-only", "templates/serviceaccount.yaml", "--show-only", "templates/rbac.yaml",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    kubectl("create", "namespace", OPERATOR_NAMESPACE, check=False)
    kubectl("apply", "-n", OPERATOR_NAMESPACE, "-f", "-", input=rendered.stdout)
    return account_kubeconfig(kubectl, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, path)


@pytest.fixture(scope="package")
def operator(
    kubectl: Kubectl, crds: None, operator_log: Path, operator_kubeconfig: Path
) -> Iterator[KopfRunner | None]:
    if os.environ.get("E2E_OPERATOR") == "in-cluster":
        # hack/kind-e2e.sh: the chart's operator runs in the cluster, from the image
        kubectl("rollout", "status", "deployment", "-n", OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, "--timeout=180s")
        yield None
        return
    os.environ["KUBECONFIG"] = str(operator_kubeconfig)
    # the corpus has host volumes; refusing them is covered by unit tests
    os.environ["ECS_FACADE_ALLOW_HOST_PATH"] = "true"
    # stopped tasks stay describable this long (ECS: about an hour)
    os.environ["ECS_FACADE_STOPPED_TASK_RETENTION_SECONDS"] = "15"
    handler = logging.FileHandler(operator_log, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    args = ["run", "--standalone", "--all-namespaces", "-m", "ecs_facade.controllers"]
    _started.clear()  # not the previous package's operator's: this one makes its own at start-up
    with KopfRunner(args, timeout=60) as runner:
        yield runner
    logging.getLogger().removeHandler(handler)
    assert runner.exception is None, runner.exception
    assert runner.exit_code == 0, runner.output


@pytest.fixture
def operator_settings(operator: KopfRunner | None) -> Iterator[Callable[..., None]]:
    """Change settings of the in-process operator for one test (``Config``'s field names),
    set back after it: the operator reads its settings once at start-up into its state
    (controllers/state.py), and its handlers read that state's Config on each reconcile. With
    E2E_OPERATOR=in-cluster it changes nothing, as setting the environment variable in this
    process did."""
    state = None
    if operator is not None:  # its start-up may still be under way in its thread
        state = wait_for("the operator's state made at start-up", lambda: _started[0] if _started else None, timeout=60)
    before = state.config if state is not None else None

    def change(**changes: object) -> None:
        if state is not None:
            state.config = dataclasses.replace(state.config, **changes)  # type: ignore[arg-type]

    yield change
    if state is not None and before is not None:
        state.config = before


# The state of the operator this process runs (its latest start-up's), for operator_settings.
_started: list[OperatorState] = []


@kopf.on.startup()
def remember_operator_state(memo: kopf.Memo, **_: object) -> None:
    """A startup handler of the in-process operator (kopf's default registry, with the
    operator's own): hands the state its start-up made (controllers/settings.py,
    read_settings; the same object in every handler's memo) to operator_settings."""
    state = memo.get("state")
    if state is None:
        raise kopf.TemporaryError("the operator's state is made by read_settings first", delay=0.1)
    _started[:] = [state]


_failed = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_failed] = True
    return report


@pytest.fixture
def namespace(
    request: pytest.FixtureRequest, kubectl: Kubectl, operator: KopfRunner | None, operator_log: Path
) -> Iterator[str]:
    """A namespace per test; on failure its objects, events and the operator log are printed."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    if request.node.stash.get(_failed, False):
        dump = kubectl(
            "get",
            "ecsservices,ecstaskdefinitions,deployments,replicasets,pods",
            "-n",
            name,
            "-o",
            "wide",
            check=False,
        )
        events = kubectl("get", "events", "-n", name, "--sort-by=.lastTimestamp", check=False)
        described = kubectl("describe", "ecsservices", "-n", name, check=False)
        print(f"\n=== objects in {name}\n{dump}\n=== events\n{events}\n=== describe\n{described}")
        if operator is None:
            log = kubectl("logs", "-n", OPERATOR_NAMESPACE, f"deployment/{OPERATOR_ACCOUNT}", "--tail=80", check=False)
        else:
            log = _tail(operator_log, 80)
        print(f"=== operator log (tail)\n{log}")
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def ecs_api(
    kubectl: Kubectl, operator_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ecsapi.EcsApi]:
    """`ecs-facade api` as a process of its own, acting as a ServiceAccount with the operator's
    rules plus the API's writes (rbac.py), with the keys of tests/e2e/ecs_api.py; its
    namespaces are created here."""
    for name in (*ecsapi.TEAM_NAMESPACES, ecsapi.OTHER_NAMESPACE):
        kubectl("create", "namespace", name, check=False)
    if os.environ.get("E2E_OPERATOR_AS_ADMIN"):
        kubeconfig = operator_kubeconfig
    else:
        kubectl("create", "namespace", OPERATOR_NAMESPACE, check=False)
        manifests = {"apiVersion": "v1", "kind": "List", "items": ecsapi.api_rbac(OPERATOR_NAMESPACE)}
        kubectl("apply", "-f", "-", input=json.dumps(manifests))
        path = LOG_DIR / "ecs-api.kubeconfig"
        kubeconfig = account_kubeconfig(kubectl, OPERATOR_NAMESPACE, ecsapi.API_ACCOUNT, path)
    port = int(PORT_BASE) + ecsapi.PORT_OFFSET
    try:
        api = ecsapi.start(kubeconfig, port, tmp_path_factory.mktemp("ecs-api"), LOG_DIR)
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield api
    finally:
        ecsapi.stop(api)


@pytest.fixture(scope="session")
def aws_cli() -> Path:
    """The aws CLI, in its own virtual environment (hack/awscli.sh)."""
    try:
        return ecsapi.aws_cli()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def ecs_api_logs(
    request: pytest.FixtureRequest, ecs_api: ecsapi.EcsApi, operator: KopfRunner | None, operator_log: Path
) -> Iterator[ecsapi.EcsApi]:
    """The API for one test; on failure the tails of the API's and the operator's logs are printed."""
    yield ecs_api
    if request.node.stash.get(_failed, False):
        print(f"\n=== ECS API log (tail, {ecs_api.log})\n{ecs_api.log_tail(120)}")
        print(f"=== operator log (tail)\n{_tail(operator_log, 120)}")
