"""What the fault-injection scenarios are made of, all on loopback and all stopped by the
test that starts them: a local control plane of its own (hack/cluster.sh, in a folder and on
ports of its own, so that it never meets the e2e suite's), the operator as a separate
process (``ecs-facade run``), a TCP proxy the test controls between the two, and a
validating admission webhook (TLS, a CA made with openssl) that refuses the requests it is
told to refuse."""

import base64
import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.kube import Kubectl

REPO = Path(__file__).resolve().parents[2]
LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", REPO / ".e2e-logs"))


# --- the local control plane


@dataclass
class LocalCluster:
    """hack/cluster.sh's control plane in ``directory``, on the ports from ``port_base``."""

    directory: Path
    port_base: int

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ECS_FACADE_CLUSTER_DIR": str(self.directory),
            "ECS_FACADE_PORT_BASE": str(self.port_base),
            "ECS_FACADE_REAL_NODES": "0",
        }

    @property
    def api_port(self) -> int:
        return self.port_base + 443

    def up(self) -> Kubectl:
        script = str(REPO / "hack/cluster.sh")
        started = subprocess.run([script, "up"], env=self.env, capture_output=True, text=True)
        if started.returncode != 0:
            self.down()
            raise AssertionError(f"the local control plane did not start:\n{started.stderr[-4000:]}")
        # `env` asks hack/build-controlplane.sh for the binaries' folder, which can fail for a
        # moment (another checkout's build using the shared cache) and then prints none: asked
        # again; and what `up` started is stopped if it still has none
        for _ in range(3):
            exports = subprocess.run([script, "env"], env=self.env, capture_output=True, text=True).stdout
            bin_dir = exports.split("PATH=")[1].split(":")[0] if "PATH=" in exports else ""
            if bin_dir and Path(bin_dir, "kubectl").exists():
                return Kubectl(f"{bin_dir}/kubectl", str(self.directory / "kubeconfig"))
            time.sleep(5)
        self.down()
        raise AssertionError(f"hack/cluster.sh env named no kubectl: {exports!r}")

    def pid(self, component: str) -> int | None:
        """The PID hack/cluster.sh recorded for ``component`` (None: not running)."""
        recorded = self.directory / "pids" / f"{component}.pid"
        return int(recorded.read_text()) if recorded.exists() else None

    def stop_component(self, component: str, kill: bool = False) -> str:
        """``hack/cluster.sh stop``: etcd or kube-apiserver only, SIGTERM (``kill``: SIGKILL),
        returns once it exited (what the script said); the rest of the control plane keeps
        running."""
        args = [str(REPO / "hack/cluster.sh"), "stop", component, *(["--kill"] if kill else [])]
        return subprocess.run(args, env=self.env, check=True, capture_output=True, text=True, timeout=60).stderr

    def start_component(self, component: str) -> None:
        """``hack/cluster.sh start``: the same flags as ``up``; returns once it is healthy
        (the API server: /readyz)."""
        args = [str(REPO / "hack/cluster.sh"), "start", component]
        started = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=180)
        if started.returncode != 0:
            raise AssertionError(f"{component} did not start again:\n{started.stderr[-4000:]}")

    def down(self) -> None:
        script = str(REPO / "hack/cluster.sh")
        subprocess.run([script, "down"], env=self.env, check=False, capture_output=True)
        logs = self.directory / "logs"
        if logs.exists():
            shutil.copytree(logs, LOG_DIR / f"{self.directory.name}", dirs_exist_ok=True)
        subprocess.run([script, "down", "--purge"], env=self.env, check=False, capture_output=True)


@contextlib.contextmanager
def cluster_with_crds(name: str, port_base: int, why: str) -> Iterator[tuple[LocalCluster, Kubectl]]:
    """A module's own control plane (``.cluster-chaos-<name>``) with the ECS CRDs established,
    stopped on the way out; skipped against a given cluster (E2E_KUBECONFIG): ``why`` says
    what of the local control plane the module needs."""
    if os.environ.get("E2E_KUBECONFIG"):
        pytest.skip(why)
    local = LocalCluster(REPO / f".cluster-chaos-{name}", port_base)
    kubectl = local.up()
    try:
        kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(REPO / "crds"))
        yield local, kubectl
    finally:
        local.down()


@contextlib.contextmanager
def recorded(path: Path) -> Iterator[dict[str, Any]]:
    """What a module measured, written to ``path`` (JSON) and printed at its end."""
    measured: dict[str, Any] = {}
    try:
        yield measured
    finally:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(measured, indent=2))
        print(f"\nmeasured: {json.dumps(measured)}")


def kubeconfig_via(kubectl: Kubectl, port: int, path: Path) -> Path:
    """The admin kubeconfig, with its server on ``port`` of loopback (the proxy): the API
    server's certificate names 127.0.0.1, whatever the port."""
    config = kubectl.json("config", "view", "--raw", "--minify")
    server = config["clusters"][0]["cluster"]["server"]
    config["clusters"][0]["cluster"]["server"] = re.sub(r":\d+$", f":{port}", server)
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path


# --- the operator, as its own process


class OperatorProcess:
    """``ecs-facade run --standalone`` (or ``run`` with ``args``) with the given kubeconfig
    and settings, its log in a file (the log lines carry kopf's timestamps); stopped by its PID."""

    def __init__(
        self, kubeconfig: Path, log: Path, settings: dict[str, str], args: Sequence[str] = ("--standalone",)
    ) -> None:
        self.log = log
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), **settings}
        # CHAOS_OPERATOR_CODE: another checkout's operator/ (what a scenario catches without a fix)
        code = os.environ.get("CHAOS_OPERATOR_CODE", str(REPO / "operator"))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, os.environ.get("PYTHONPATH")]))
        self._out = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ecs_facade", "run", *args, "--verbose"],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> float:
        """Send ``sig`` and wait for the process to end (SIGKILL: no clean-up at all, as the
        OOM killer or a lost node end it: no handler runs, nothing is released or written);
        returns when it was sent (time.time())."""
        sent = time.time()
        self.process.send_signal(sig)
        self.process.wait(15)
        self._out.close()
        return sent

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._out.close()


# kopf's log lines: "[2026-12-07 10:40:00,123] name [LEVEL] message"
_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def stamped(text: str, pattern: str) -> list[float]:
    """When (time.time()) each log line matching ``pattern`` was written (its first line's
    stamp, for a traceback's lines)."""
    found: list[float] = []
    last: float | None = None
    for line in text.splitlines():
        match = _STAMP.match(line)
        if match:
            last = time.mktime(time.strptime(match.group(1).split(",")[0], "%Y-%m-%d %H:%M:%S"))
            last += int(match.group(1).split(",")[1]) / 1000
        if re.search(pattern, line) and last is not None:
            found.append(last)
    return found


# --- the proxy between the operator and the API server


@dataclass
class _Link:
    client: socket.socket
    server: socket.socket | None = None
    blackholed: bool = False  # nothing moves on it any more, and nobody tells its ends


class FaultProxy:
    """A TCP proxy on loopback in front of the API server, which the test controls:

    - ``hold()``: what the clients send is held (not read; TCP holds it in the kernel's
      buffers), what the API server sends still comes: a request stalls, watch events still
      arrive (a one-way stall: the operator sees changes and its calls hang);
    - ``blackhole()``: the connections open now stop forwarding either way, for good, and
      neither end is told (a NAT or a load balancer that lost them); new ones work;
    - ``drop(seconds)``: every connection is reset, and each new one for ``seconds``;
    - ``heal()``: everything flows again (what was held goes on, as a network that
      recovers delivers what it held: a request its client gave up on may still arrive).
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self._up = threading.Event()  # client -> server flows
        self._down = threading.Event()  # server -> client flows
        self._up.set()
        self._down.set()
        self._refuse_until = 0.0
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._closed = False
        self._closing = threading.Event()
        self.accepted = 0
        self.reset = 0
        threading.Thread(target=self._accept, name="fault-proxy", daemon=True).start()

    def hold(self) -> None:
        self._up.clear()

    def blackhole(self) -> int:
        """The connections open now go silent; returns how many."""
        with self._lock:
            for link in self._links:
                link.blackholed = True
            return len(self._links)

    def heal(self) -> None:
        self._refuse_until = 0.0
        self._up.set()
        self._down.set()

    def drop(self, seconds: float) -> None:
        self._refuse_until = time.monotonic() + seconds
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            _reset(link.client)
            if link.server is not None:
                _reset(link.server)
        self.reset += len(links)

    def close(self) -> None:
        self._closed = True
        self._closing.set()
        self.heal()
        self._listener.close()
        self.drop(0)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if time.monotonic() < self._refuse_until:
                _reset(client)
                self.reset += 1
                continue
            link = _Link(client)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._connect, args=(link,), daemon=True).start()

    def _connect(self, link: _Link) -> None:
        try:
            link.server = socket.create_connection(self.target, timeout=5)
            link.server.settimeout(None)
        except OSError:
            _reset(link.client)
            return
        for source, dest, flowing in ((link.client, link.server, self._up), (link.server, link.client, self._down)):
            threading.Thread(target=self._pump, args=(source, dest, flowing, link), daemon=True).start()

    def _gate(self, flowing: threading.Event, link: _Link) -> None:
        flowing.wait()
        if link.blackholed:
            self._closing.wait()  # for good: until the test is over
            raise OSError("blackholed")

    def _pump(self, source: socket.socket, dest: socket.socket, flowing: threading.Event, link: _Link) -> None:
        try:
            while True:
                self._gate(flowing, link)
                data = source.recv(65536)
                if not data:
                    break
                self._gate(flowing, link)  # stopped while the read waited: held until it flows again
                dest.sendall(data)
        except OSError:
            pass
        for end in (link.client, link.server):
            with contextlib.suppress(OSError):
                if end is not None:
                    end.close()
        with self._lock, contextlib.suppress(ValueError):
            self._links.remove(link)


def _reset(sock: socket.socket) -> None:
    """End a connection at once, as a network device that drops it (linger 0: a reset; the
    shutdown wakes a pump that waits in recv on it)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


# --- a validating admission webhook that refuses on demand


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl): (ca, cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    cert, key, csr, ext = directory / "tls.crt", directory / "tls.key", directory / "tls.csr", directory / "san.ext"

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ecs-facade-chaos-ca",
        "-keyout", str(ca_key), "-out", str(ca),
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "1", "-out", str(cert), "-extfile", str(ext),
    )  # fmt: skip
    return ca, cert, key


Review = dict[str, Any]  # an AdmissionReview's request


@dataclass
class Refusal:
    """Refuse the next ``times`` requests that ``matches``."""

    matches: Callable[[Review], bool]
    times: int
    refused: int = 0


class RefusingWebhook:
    """A validating admission webhook on loopback (HTTPS with its own CA), which allows
    everything but what it is armed to refuse (``arm``): those requests fail with a 500 and
    a message, as a transient error of the API server would. Records what it saw."""

    def __init__(self, directory: Path) -> None:
        ca, cert, key = make_certificates(directory)
        self.ca_bundle = base64.b64encode(ca.read_bytes()).decode()
        self.seen: list[tuple[float, str, str, str, bool]] = []  # (when, resource, operation, name, allowed)
        self._refusals: list[Refusal] = []
        self._lock = threading.Lock()
        webhook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                allowed = webhook._review(review["request"])
                body = json.dumps(
                    {
                        "apiVersion": "admission.k8s.io/v1",
                        "kind": "AdmissionReview",
                        "response": {"uid": review["request"]["uid"], "allowed": allowed}
                        | ({} if allowed else {"status": {"code": 500, "message": "injected by the chaos test"}}),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _review(self, request: Review) -> bool:
        with self._lock:
            allowed = True
            for refusal in self._refusals:
                if refusal.refused < refusal.times and refusal.matches(request):
                    refusal.refused += 1
                    allowed = False
                    break
            resource = request.get("resource", {}).get("resource", "")
            name = request.get("name") or (request.get("object") or {}).get("metadata", {}).get("name", "")
            self.seen.append((time.time(), resource, request.get("operation", ""), name, allowed))
            return allowed

    def arm(self, matches: Callable[[Review], bool], times: int) -> Refusal:
        refusal = Refusal(matches, times)
        with self._lock:
            self._refusals.append(refusal)
        return refusal

    def configuration(self, name: str, namespace: str) -> dict[str, Any]:
        """The ValidatingWebhookConfiguration: pod updates and Deployment creations in
        ``namespace`` come here (``Ignore``: if the test's server is gone, nothing breaks)."""
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [
                {
                    "name": "refusals.chaos.ecs-facade.test",
                    "clientConfig": {"url": f"https://127.0.0.1:{self.port}/validate", "caBundle": self.ca_bundle},
                    "rules": [
                        {"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]},
                        {
                            "operations": ["CREATE"],
                            "apiGroups": ["apps"],
                            "apiVersions": ["v1"],
                            "resources": ["deployments"],
                        },
                    ],
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                    "failurePolicy": "Ignore",
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "timeoutSeconds": 5,
                }
            ],
        }

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as took:`` ... ``took[0]``: the seconds the block took."""
    took: list[float] = []
    started = time.monotonic()
    try:
        yield took
    finally:
        took.append(time.monotonic() - started)
