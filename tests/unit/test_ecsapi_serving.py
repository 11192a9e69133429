"""Serving the ECS API (ecsapi/options.py, ecsapi/serving.py): the flags and their environment
variables, the TLS context, and the API as `ecs-facade run --api` serves it, on a thread and
event loop of its own, answering botocore's signed requests over HTTPS."""

import asyncio
import contextlib
import copy
import json
import logging
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.config import Config as BotoConfig  # type: ignore[import-untyped]

from ecs_facade import cli
from ecs_facade.config import Config
from ecs_facade.ecsapi import handlers, server
from ecs_facade.ecsapi import store as api_store
from ecs_facade.ecsapi.options import DEFAULT_HOST, DEFAULT_PORT, ApiConfigError, ApiOptions
from ecs_facade.ecsapi.serving import ApiThread, ReloadingTls, build_dispatcher, serve, ssl_context

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def options(*argv: str, env: Mapping[str, str] | None = None) -> ApiOptions:
    """`ecs-facade run ARGV`'s API options, with `env` as the environment."""
    args = cli.build_parser().parse_args(["run", *argv])
    return ApiOptions.from_flags(vars(args), env or {})


# --- options -------------------------------------------------------------------------------


def test_off_by_default_and_loopback() -> None:
    args = cli.build_parser().parse_args(["run"])
    assert args.api is None
    assert cli._api_options(args) == ApiOptions()
    assert (ApiOptions().enabled, ApiOptions().host, ApiOptions().port) == (False, "127.0.0.1", 8088)
    assert (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 8088)
    assert ApiOptions().anonymous is False and ApiOptions().tls_cert is None


def test_flags_of_run() -> None:
    got = options(
        "--api", "--api-host=0.0.0.0", "--api-port=8443", "--api-keys-dir=/keys", "--api-region=us-east-1",
        "--api-region=team-a", "--api-tls-cert=/tls/tls.crt", "--api-tls-key=/tls/tls.key",
    )  # fmt: skip
    assert got == ApiOptions(
        enabled=True,
        host="0.0.0.0",
        port=8443,
        keys_dir="/keys",
        regions=("us-east-1", "team-a"),
        tls_cert="/tls/tls.crt",
        tls_key="/tls/tls.key",
    )
    assert got.scheme == "https" and not got.loopback()


def test_environment_variables_and_flags_win_over_them() -> None:
    env = {
        "ECS_FACADE_API_ENABLED": "true",
        "ECS_FACADE_API_HOST": "::1",
        "ECS_FACADE_API_PORT": "9000",
        "ECS_FACADE_API_ANONYMOUS": "yes",
        "ECS_FACADE_API_REGIONS": "us-east-1, eu-west-3",
        "ECS_FACADE_API_TLS_CERT": "/c",
        "ECS_FACADE_API_TLS_KEY": "/k",
    }
    got = options(env=env)
    assert got == ApiOptions(
        enabled=True, host="::1", port=9000, anonymous=True, regions=("us-east-1", "eu-west-3"), tls_cert="/c",
        tls_key="/k",
    )  # fmt: skip
    assert got.loopback()
    flags = options("--api-port=7000", "--no-api-anonymous", "--api-keys-dir=/keys", env=env)
    assert (flags.enabled, flags.port, flags.anonymous, flags.keys_dir) == (True, 7000, False, "/keys")
    # run reads nothing else of the API while it is off
    assert options(env={"ECS_FACADE_API_ENABLED": "false", "ECS_FACADE_API_PORT": "http"}) == ApiOptions()
    assert options("--no-api", env={"ECS_FACADE_API_ENABLED": "true"}) == ApiOptions()


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ([], {"ECS_FACADE_API_ENABLED": "sure", "ECS_FACADE_API_ANONYMOUS": "1"}, "ECS_FACADE_API_ENABLED='sure'"),
        (["--api", "--api-anonymous"], {"ECS_FACADE_API_PORT": "http"}, "ECS_FACADE_API_PORT='http': expected a port"),
        (["--api", "--api-anonymous", "--api-port=70000"], {}, "--api-port=70000: expected a port number"),
        (["--api"], {}, "--api-keys-dir (the API keys Secret, mounted) is required unless --api-anonymous"),
        (["--api", "--api-anonymous", "--api-tls-cert=/c"], {}, "--api-tls-cert and --api-tls-key: give both"),
    ],
    ids=["bad-flag", "bad-port-variable", "port-out-of-range", "no-keys", "cert-without-key"],
)
def test_wrong_values_are_refused_naming_them(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ApiConfigError) as failure:
        options(*argv, env=env)
    assert message in str(failure.value)


def test_run_stops_at_a_wrong_value(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ECS_FACADE_API_ENABLED", "true")
    monkeypatch.delenv("ECS_FACADE_API_KEYS_DIR", raising=False)
    monkeypatch.delenv("ECS_FACADE_API_ANONYMOUS", raising=False)
    assert cli.main(["run"]) == 1
    assert "ecs-facade run: ECS API: --api-keys-dir (the API keys Secret, mounted) is required" in (
        capsys.readouterr().err
    )


def test_the_api_command_takes_the_same_options_by_both_names() -> None:
    args = cli.build_parser().parse_args(
        ["api", "--host", "0.0.0.0", "--api-port", "8443", "--tls-cert", "c", "--api-tls-key", "k", "--anonymous"]
    )
    got = ApiOptions.from_flags(vars(args), {}, "--", always=True)
    assert (got.host, got.port, got.tls_cert, got.tls_key, got.anonymous) == ("0.0.0.0", 8443, "c", "k", True)
    with pytest.raises(ApiConfigError, match=r"--keys-dir .* is required unless --anonymous"):
        ApiOptions.from_flags(vars(cli.build_parser().parse_args(["api"])), {}, "--", always=True)


# --- TLS -----------------------------------------------------------------------------------


def make_certificate(folder: Path, name: str = "ecs-facade-api") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, as a kubernetes.io/tls Secret
    holds one (tls.crt, tls.key)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate with")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_ssl_context_loads_a_tls_secret(certificate: tuple[Path, Path]) -> None:
    context = ssl_context(str(certificate[0]), str(certificate[1]))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.protocol == ssl.PROTOCOL_TLS_SERVER


def test_ssl_context_names_the_file_it_cannot_use(certificate: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ApiConfigError, match=r"--api-tls-cert /nowhere/tls\.crt: no such file"):
        ssl_context("/nowhere/tls.crt", str(certificate[1]))
    garbage = tmp_path / "tls.key"
    garbage.write_text("not a key")
    with pytest.raises(ApiConfigError, match="not a PEM certificate and its private key"):
        ssl_context(str(certificate[0]), str(garbage))


def _peer_name(context: ssl.SSLContext, trusted: list[Path]) -> str:
    """The common name of the certificate a server with `context` shows a new connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def accept() -> None:
        connection, _ = listener.accept()
        with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True) as tls:
            tls.recv(1)

    server_thread = threading.Thread(target=accept, daemon=True)
    server_thread.start()
    client = ssl.create_default_context(cadata="".join(p.read_text() for p in trusted))
    with (
        socket.create_connection(listener.getsockname(), timeout=5) as raw,
        client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        peer: Any = tls.getpeercert()
        subject = dict(item for rdn in peer["subject"] for item in rdn)
        tls.send(b"x")
    server_thread.join(5)
    listener.close()
    return str(subject["commonName"])


def test_a_renewed_certificate_is_served_without_a_restart(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The kubelet swaps a renewed Secret's files in place; new connections get the new
    certificate, looked for at most every `interval` seconds; a pair that does not load
    (cert and key from different renewals) keeps the last good one."""
    old = make_certificate(tmp_path / "old", "old")
    new = make_certificate(tmp_path / "new", "new")
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    for path in old:
        shutil.copy(path, mounted / path.name)
    now = [0.0]
    tls = ReloadingTls(str(mounted / "tls.crt"), str(mounted / "tls.key"), interval=60, clock=lambda: now[0])
    trusted = [old[0], new[0]]
    assert _peer_name(tls.context, trusted) == "old"
    shutil.copy(new[0], mounted / "tls.crt.tmp")
    os.replace(mounted / "tls.crt.tmp", mounted / "tls.crt")  # the cert is new, the key still old
    now[0] = 61
    with caplog.at_level(logging.WARNING, logger="ecs_facade.ecsapi.serving"):
        assert _peer_name(tls.context, trusted) == "old"
    assert "cannot load the changed certificate" in caplog.text
    shutil.copy(new[1], mounted / "tls.key.tmp")
    os.replace(mounted / "tls.key.tmp", mounted / "tls.key")
    now[0] = 100  # within the interval of the last look: not looked at yet
    assert _peer_name(tls.context, trusted) == "old"
    now[0] = 122
    assert _peer_name(tls.context, trusted) == "new"
    assert _peer_name(tls.context, trusted) == "new"


# --- serving as `ecs-facade run --api` does ---------------------------------------------------


class Store:
    """The few Store calls of ListClusters, CreateCluster and DescribeTaskDefinition; notes the threads they run in."""

    def __init__(self) -> None:
        self.clusters: list[dict[str, Any]] = []
        self.threads: set[str] = set()
        self.release = threading.Event()
        self.release.set()

    def list_clusters(self) -> list[dict[str, Any]]:
        self.threads.add(threading.current_thread().name)
        self.release.wait(10)
        return copy.deepcopy(self.clusters)

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return {} if namespace in ("team-a", "default") else None

    def list_task_definitions(self, namespace: str) -> list[dict[str, Any]]:
        return []

    def list_controller_revisions(self, namespace: str) -> list[dict[str, Any]]:
        return []

    def create_cluster(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        created = {**copy.deepcopy(dict(manifest)), "status": {}}
        self.clusters.append(created)
        return created


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    """The API keys Secret as the kubelet mounts it: one file per access key id."""
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / KEY_ID).write_text(json.dumps({"secretAccessKey": SECRET, "namespaces": ["team-a"]}))
    return folder


def ecs_client(url: str, verify: str | bool) -> Any:
    return botocore.session.get_session().create_client(
        "ecs",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        verify=verify,
        config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture
def running(
    monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path], keys_dir: Path
) -> Iterator[tuple[ApiThread, Store]]:
    """`ecs-facade run --api` over HTTPS with a keys Secret: cli._serve_api, the store the
    operator's (ApiKubeStore) replaced by a fake one."""
    store = Store()
    monkeypatch.setattr(api_store, "ApiKubeStore", lambda: store)
    got = options(
        "--api", "--api-port=0", f"--api-keys-dir={keys_dir}", f"--api-tls-cert={certificate[0]}",
        f"--api-tls-key={certificate[1]}",
    )  # fmt: skip
    api = cli._serve_api(got, Config(region="us-east-1", account_id="123456789012"))
    assert isinstance(api, ApiThread)
    yield api, store
    api.stop()


def test_run_serves_signed_requests_over_https(
    running: tuple[ApiThread, Store], certificate: tuple[Path, Path]
) -> None:
    api, store = running
    ecs = ecs_client(f"https://127.0.0.1:{api.port}", str(certificate[0]))
    created = ecs.create_cluster(clusterName="blue")["cluster"]
    assert created["clusterArn"] == "arn:aws:ecs:us-east-1:123456789012:cluster/blue"
    assert "arn:aws:ecs:us-east-1:123456789012:cluster/blue" in ecs.list_clusters()["clusterArns"]
    # the actions' Kubernetes calls ran in the API's own worker threads
    assert store.threads and all(name.startswith("ecs-api-worker") for name in store.threads)
    with pytest.raises(ecs.exceptions.ClientError) as failure:  # a wrong secret: the signature is checked
        botocore.session.get_session().create_client(
            "ecs", endpoint_url=f"https://127.0.0.1:{api.port}", region_name="us-east-1",
            aws_access_key_id=KEY_ID, aws_secret_access_key="wrong", verify=str(certificate[0]),
            config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}),
        ).list_clusters()  # fmt: skip
    assert failure.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_plain_http_is_not_answered_on_the_tls_port(running: tuple[ApiThread, Store]) -> None:
    api, _ = running
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        answer = sock.recv(200)
    assert not answer.startswith(b"HTTP/1.1 2")


def test_a_slow_action_holds_neither_the_operators_loop_nor_other_requests(
    running: tuple[ApiThread, Store], certificate: tuple[Path, Path]
) -> None:
    """The API has a thread and loop of its own (not the caller's: kopf's loop in `run`), and a
    request whose Kubernetes call waits holds one worker thread: another is answered meanwhile."""
    api, store = running
    assert api.thread is not threading.current_thread() and api.thread.name == "ecs-api"
    store.release.clear()
    url = f"https://127.0.0.1:{api.port}"
    answered: list[Any] = []
    slow = threading.Thread(target=lambda: answered.append(ecs_client(url, str(certificate[0])).list_clusters()))
    slow.start()
    deadline = time.monotonic() + 10
    while not store.threads and time.monotonic() < deadline:  # the slow request is in its worker
        time.sleep(0.01)
    ecs = ecs_client(url, str(certificate[0]))
    with pytest.raises(ecs.exceptions.ClientException, match="Unable to describe task definition"):
        ecs.describe_task_definition(taskDefinition="nope:1")  # reads no cluster: not held
    assert slow.is_alive() and not answered
    store.release.set()
    slow.join(10)
    assert answered and not slow.is_alive()


def test_a_port_in_use_stops_the_start(monkeypatch: pytest.MonkeyPatch, keys_dir: Path) -> None:
    monkeypatch.setattr(handlers, "KubeStore", Store)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        got = options("--api", f"--api-port={port}", f"--api-keys-dir={keys_dir}")
        with pytest.raises(cli.CliError, match=f"cannot listen on 127.0.0.1:{port}"):
            cli._serve_api(got, Config())
    before = {t.name for t in threading.enumerate()}
    assert "ecs-api" not in before  # the failed start left no thread behind


def test_serve_on_a_running_loop_and_anonymous_warnings(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`serve` on the caller's loop; anonymous mode is logged at start and, at most once a
    minute, while requests use it."""
    import urllib.request

    monkeypatch.setattr(server, "_anonymous_warned", -float("inf"))
    got = options("--api", "--api-anonymous", "--api-port=0")
    dispatcher = build_dispatcher(Config().arns, Store())
    port = 0
    target = "AmazonEC2ContainerServiceV20141113.ListClusters"

    def post() -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            data=b"{}",
            headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)

    async def main() -> list[int]:
        runner, bound = await serve(got, Config().arns, dispatcher=dispatcher)
        nonlocal port
        port = bound
        try:
            return [await asyncio.to_thread(post) for _ in range(3)]
        finally:
            await runner.cleanup()

    with caplog.at_level(logging.WARNING, logger="ecs_facade.ecsapi.server"):
        assert asyncio.run(main()) == [200, 200, 200]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("every request without checking its signature" in w for w in warnings) == 1  # at start
    assert sum("was served without a signature check" in w for w in warnings) == 1  # 3 requests, one reminder


# --- RBAC: what the API's actions need of the operator's ServiceAccount ----------------------

# each method of the store every action is served from (ecsapi/store.py ApiKubeStore): the
# Kubernetes requests it makes
STORE_REQUESTS: dict[str, list[tuple[str, str, str]]] = {
    "list_clusters": [("ecs.facade.dev", "ecsclusters", "list")],
    "namespace_labels": [("", "namespaces", "list")],
    "create_cluster": [("ecs.facade.dev", "ecsclusters", "create")],
    "delete_cluster": [("ecs.facade.dev", "ecsclusters", "delete")],
    "list_task_definitions": [("ecs.facade.dev", "ecstaskdefinitions", "list")],
    "list_controller_revisions": [("apps", "controllerrevisions", "list")],
    "get_task_definition": [("ecs.facade.dev", "ecstaskdefinitions", "get")],
    "write_task_definition": [
        ("ecs.facade.dev", "ecstaskdefinitions", "create"),
        ("ecs.facade.dev", "ecstaskdefinitions", "update"),
    ],
    "patch_task_definition": [("ecs.facade.dev", "ecstaskdefinitions", "patch")],
    "list_services": [("ecs.facade.dev", "ecsservices", "list")],
    "create_service": [("ecs.facade.dev", "ecsservices", "create")],
    "patch_service": [("ecs.facade.dev", "ecsservices", "patch"), ("ecs.facade.dev", "ecsservices", "get")],
    "delete_service": [("ecs.facade.dev", "ecsservices", "delete")],
    # tasks (ecsapi/tasks_handlers.py)
    "list_ecs_tasks": [("ecs.facade.dev", "ecstasks", "list")],
    "list_task_pods": [("", "pods", "list")],
    "list_nodes": [("", "nodes", "list")],
    "create_ecs_task": [("ecs.facade.dev", "ecstasks", "create")],
    "patch_ecs_task": [("ecs.facade.dev", "ecstasks", "patch"), ("ecs.facade.dev", "ecstasks", "get")],
    "delete_pod": [("", "pods", "delete")],
    # container instances and tags (ecsapi/instances_handlers.py, tags_handlers.py)
    "list_pods_on": [("", "pods", "list")],
    "patch_node": [("", "nodes", "patch")],
    "patch_cluster": [("ecs.facade.dev", "ecsclusters", "patch")],
    "list_tasks": [("ecs.facade.dev", "ecstasks", "list")],
    "list_service_pods": [("", "pods", "list")],
    "patch_pod": [("", "pods", "patch")],
    "patch_task": [("ecs.facade.dev", "ecstasks", "patch")],
}


def _verbs(rules: list[dict[str, list[str]]], group: str, resource: str) -> set[str]:
    return {v for r in rules if group in r["apiGroups"] and resource in r["resources"] for v in r["verbs"]}


def test_every_store_method_is_accounted_for() -> None:
    methods = {
        name
        for cls in api_store.ApiKubeStore.__mro__
        if cls.__module__.startswith("ecs_facade.")
        for name, value in vars(cls).items()
        if callable(value) and not name.startswith("_")
    }
    assert methods == set(STORE_REQUESTS)


@pytest.mark.parametrize("method", sorted(STORE_REQUESTS))
def test_the_api_rules_grant_what_the_store_does(method: str) -> None:
    from ecs_facade import rbac

    rules = [*rbac.NAMESPACED, *rbac.CLUSTER, *rbac.API_NAMESPACED, *rbac.API_CLUSTER]
    for group, resource, verb in STORE_REQUESTS[method]:
        assert verb in _verbs(rules, group, resource), f"{method}: {verb} {group}/{resource}"


def test_the_api_rules_add_only_what_the_operator_lacks_and_stay_in_scope() -> None:
    from ecs_facade import rbac

    needed = {request for requests in STORE_REQUESTS.values() for request in requests}
    needed.add(("ecs.facade.dev", "ecstasks", "create"))  # RunTask (tasks_handlers.TaskKubeStore.create_ecs_task)
    for api_rules, operator_rules in ((rbac.API_NAMESPACED, rbac.NAMESPACED), (rbac.API_CLUSTER, rbac.CLUSTER)):
        for rule in api_rules:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        assert (group, resource, verb) in needed, f"{verb} {group}/{resource}: no action needs it"
                        assert verb not in _verbs(operator_rules, group, resource), f"{verb} {group}/{resource}"
    cluster_scoped = {r for rule in rbac.CLUSTER for r in rule["resources"]}
    assert not {r for rule in rbac.API_NAMESPACED for r in rule["resources"]} & cluster_scoped
    assert {r for rule in rbac.API_CLUSTER for r in rule["resources"]} <= cluster_scoped
    assert set(rbac.all_rules()) >= {"apiNamespaced", "apiCluster"}
