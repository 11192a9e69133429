"""The chart's ECS API (`api.*` values; docs/ecs-api.md, "Serving the API"): what it renders
with and without it, the values its schema refuses, and the API's actions run as the chart's
ServiceAccount with the RBAC the chart grants when the API is on (and refused without it)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
import yaml
from botocore.config import Config as BotoConfig  # type: ignore[import-untyped]

from ecs_facade import rbac
from ecs_facade.cli import build_parser
from ecs_facade.ecsapi.options import ApiOptions
from tests.e2e.conftest import CHART, REPO, account_kubeconfig, helm_binary, server_version
from tests.e2e.kube import Kubectl, wait_for

pytestmark = pytest.mark.e2e

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WITH_KEYS_AND_TLS = ["--set", "api.enabled=true", "--set", "api.keys.secretName=api-keys",
                     "--set", "api.tls.secretName=api-tls"]  # fmt: skip


def render(
    kubectl: Kubectl, *values: str, check: bool = True, namespace: str = "ops"
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [helm_binary(kubectl), "template", "rel", str(CHART), "-n", namespace, "--kube-version",
         server_version(kubectl), *values],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"helm template {' '.join(values)} failed: {result.stderr.strip()}")
    return result


def objects(kubectl: Kubectl, *values: str) -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(render(kubectl, *values).stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def container(rendered: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    spec = rendered["Deployment", "rel-ecs-facade"]["spec"]["template"]["spec"]
    (only,) = spec["containers"]
    return dict(only)


def rules_of(rendered: dict[tuple[str, str], dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return list(rendered["ClusterRole", name]["rules"])


def test_by_default_no_api_is_rendered(kubectl: Kubectl) -> None:
    rendered = objects(kubectl)
    assert ("Service", "rel-ecs-facade-api") not in rendered
    operator = container(rendered)
    assert not [a for a in operator["args"] if a.startswith("--api")]
    assert "api" not in {p["name"] for p in operator["ports"]}
    assert [m["name"] for m in operator["volumeMounts"]] == ["tmp"]
    granted = rules_of(rendered, "rel-ecs-facade") + rules_of(rendered, "rel-ecs-facade-cluster")
    for rule in [*rbac.API_NAMESPACED, *rbac.API_CLUSTER]:
        assert rule not in granted, rule


def test_api_with_keys_and_tls_renders_service_mounts_and_args(kubectl: Kubectl) -> None:
    default = objects(kubectl)
    rendered = objects(kubectl, *WITH_KEYS_AND_TLS)
    service = rendered["Service", "rel-ecs-facade-api"]
    assert service["spec"]["type"] == "ClusterIP"
    assert (
        service["spec"]["selector"] == (rendered["Deployment", "rel-ecs-facade"]["spec"]["selector"]["matchLabels"])
    )  # every replica: the standbys serve too
    assert service["spec"]["ports"] == [
        {"name": "https", "port": 443, "targetPort": "api", "protocol": "TCP", "appProtocol": "https"}
    ]
    operator = container(rendered)
    api_args = [a for a in operator["args"] if a.startswith("--api")]
    assert api_args == [
        "--api", "--api-host=0.0.0.0", "--api-port=8088", "--api-keys-dir=/etc/ecs-facade/api-keys",
        "--api-tls-cert=/etc/ecs-facade/api-tls/tls.crt", "--api-tls-key=/etc/ecs-facade/api-tls/tls.key",
    ]  # fmt: skip
    # the operator's own parser takes them, with what the chart means
    args = build_parser().parse_args(operator["args"])
    assert ApiOptions.from_flags(vars(args), {}) == ApiOptions(
        enabled=True, host="0.0.0.0", port=8088, keys_dir="/etc/ecs-facade/api-keys",
        tls_cert="/etc/ecs-facade/api-tls/tls.crt", tls_key="/etc/ecs-facade/api-tls/tls.key",
    )  # fmt: skip
    assert {"name": "api", "containerPort": 8088, "protocol": "TCP"} in operator["ports"]
    mounts = {m["name"]: m for m in operator["volumeMounts"]}
    assert mounts["api-keys"] == {"name": "api-keys", "mountPath": "/etc/ecs-facade/api-keys", "readOnly": True}
    assert mounts["api-tls"] == {"name": "api-tls", "mountPath": "/etc/ecs-facade/api-tls", "readOnly": True}
    assert "subPath" not in mounts["api-keys"]  # the kubelet updates the whole volume in place
    volumes = {v["name"]: v for v in rendered["Deployment", "rel-ecs-facade"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["api-keys"]["secret"] == {"secretName": "api-keys"}
    assert volumes["api-tls"]["secret"]["secretName"] == "api-tls"
    # nothing else of the pod changes: probes, security contexts
    before = container(default)
    for field in ("livenessProbe", "readinessProbe", "securityContext", "resources"):
        assert operator[field] == before[field], field
    assert (
        rendered["Deployment", "rel-ecs-facade"]["spec"]["template"]["spec"]["securityContext"]
        == default["Deployment", "rel-ecs-facade"]["spec"]["template"]["spec"]["securityContext"]
    )
    # the API's rules are granted, and only with it
    cluster = rules_of(rendered, "rel-ecs-facade-cluster")
    assert {"apiGroups": ["ecs.facade.dev"], "resources": ["ecsclusters"], "verbs": ["delete"]} in cluster
    namespaced = rules_of(rendered, "rel-ecs-facade")
    assert {"apiGroups": ["ecs.facade.dev"], "resources": ["ecstaskdefinitions"], "verbs": ["create", "update"]} in (
        namespaced
    )
    assert {"apiGroups": ["ecs.facade.dev"], "resources": ["ecstasks"], "verbs": ["create"]} in namespaced
    assert len(cluster) == len(rules_of(default, "rel-ecs-facade-cluster")) + 1
    assert len(namespaced) == len(rules_of(default, "rel-ecs-facade")) + 3


def test_api_anonymous_plain_http_and_a_service_port(kubectl: Kubectl) -> None:
    rendered = objects(kubectl, "--set", "api.enabled=true", "--set", "api.anonymous=true",
                       "--set", "api.regions={us-east-1,team-a}", "--set", "api.listen=127.0.0.1")  # fmt: skip
    (port,) = rendered["Service", "rel-ecs-facade-api"]["spec"]["ports"]
    assert (port["name"], port["port"]) == ("http", 80)
    args = [a for a in container(rendered)["args"] if a.startswith("--api")]
    assert args == ["--api", "--api-host=127.0.0.1", "--api-port=8088", "--api-anonymous",
                    "--api-region=us-east-1", "--api-region=team-a"]  # fmt: skip
    assert [m["name"] for m in container(rendered)["volumeMounts"]] == ["tmp"]
    chosen = objects(kubectl, *WITH_KEYS_AND_TLS, "--set", "api.service.port=8443", "--set", "api.port=9443",
                     "--set", "api.service.type=LoadBalancer")  # fmt: skip
    service = chosen["Service", "rel-ecs-facade-api"]["spec"]
    assert (service["type"], service["ports"][0]["port"]) == ("LoadBalancer", 8443)
    assert "--api-port=9443" in container(chosen)["args"]


def test_api_without_keys_or_anonymous_is_refused(kubectl: Kubectl) -> None:
    result = render(kubectl, "--set", "api.enabled=true", check=False)
    assert result.returncode != 0
    assert "api.keys.secretName (the API access keys Secret) is required when api.enabled" in result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["--set", "api.enabled=yes"], "/api/enabled"),
        (["--set", "api.port=80"], "/api/port"),
        (["--set", "api.service.type=ExternalName"], "/api/service/type"),
        (["--set", "api.tls.secretName=Not_A_Name"], "/api/tls/secretName"),
        (["--set", "api.keys.name=x"], "/api/keys"),
        (["--set", "api.regions={Team_A}"], "/api/regions/0"),
    ],
    ids=["enabled-not-boolean", "privileged-port", "service-type", "tls-secret-name", "unknown-key", "region"],
)
def test_api_values_that_break_the_schema_are_refused(kubectl: Kubectl, values: list[str], message: str) -> None:
    result = render(kubectl, "--set", "api.anonymous=true", *values, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def test_api_enabled_render_passes_a_server_side_dry_run(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "ops", check=False)
    out = kubectl("apply", "--dry-run=server", "--server-side", "-f", "-",
                  input=render(kubectl, *WITH_KEYS_AND_TLS).stdout)  # fmt: skip
    assert "service/rel-ecs-facade-api serverside-applied (server dry run)" in out, out


# --- the API's actions as the chart's ServiceAccount --------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the API's test certificate")
    folder = tmp_path_factory.mktemp("api-tls")
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=ecs-facade-api", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def serve_as_account(
    kubectl: Kubectl, api_enabled: bool, folder: Path, certificate: tuple[Path, Path]
) -> Iterator[tuple[Any, str]]:
    """The chart's ServiceAccount and RBAC (release `api-<n>`, api.enabled as given) and
    `ecs-facade api` running as it over HTTPS: (an ECS client, the release name). The key
    acts in the namespace `<release>-ns`; an ECSCluster named after the release is deleted after."""
    release = f"api-{uuid.uuid4().hex[:6]}"
    namespace = f"{release}-ns"
    kubectl("create", "namespace", namespace)
    rendered = render(
        kubectl, "--set", f"fullnameOverride={release}", "--set", f"api.enabled={str(api_enabled).lower()}",
        "--set", "api.anonymous=true", "--show-only", "templates/serviceaccount.yaml",
        "--show-only", "templates/rbac.yaml", namespace=namespace,
    ).stdout  # fmt: skip
    kubectl("apply", "-f", "-", input=rendered)
    kubeconfig = account_kubeconfig(kubectl, namespace, release, folder / "kubeconfig")
    keys = folder / "keys"
    keys.mkdir()
    (keys / KEY_ID).write_text(json.dumps({"secretAccessKey": SECRET, "namespaces": [namespace]}))
    port = free_port()
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONPATH": str(REPO / "operator")}
    log = (folder / "api.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ecs_facade.cli", "api", "--port", str(port), "--keys-dir", str(keys),
         "--tls-cert", str(certificate[0]), "--tls-key", str(certificate[1])],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (folder / "api.log").read_text()
                time.sleep(0.2)
        ecs = botocore.session.get_session().create_client(
            "ecs", endpoint_url=f"https://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET, verify=str(certificate[0]),
            config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}),
        )  # fmt: skip
        yield ecs, release
    finally:
        process.terminate()
        process.wait(10)
        log.close()
        kubectl("delete", "ecscluster", release, "--ignore-not-found", "--wait=false")
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)
        kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=rendered, check=False)


def test_the_api_runs_as_the_charts_account_with_its_api_rules(
    kubectl: Kubectl, operator: object, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    """Every write of the actions implemented, as the chart's ServiceAccount with api.enabled
    (the operator of the suite registers the revision RegisterTaskDefinition waits for)."""
    served = serve_as_account(kubectl, True, tmp_path, certificate)
    ecs, cluster = next(served)
    namespace = f"{cluster}-ns"
    try:
        arn = ecs.create_cluster(clusterName=cluster)["cluster"]["clusterArn"]
        assert arn.endswith(f":cluster/{cluster}")
        assert arn in ecs.list_clusters()["clusterArns"]
        registered = ecs.register_task_definition(
            family="web", containerDefinitions=[{"name": "web", "image": "nginx:1.27", "memory": 64}]
        )["taskDefinition"]
        assert registered["revision"] == 1
        again = ecs.register_task_definition(  # a replace (update) of the family's object
            family="web", containerDefinitions=[{"name": "web", "image": "nginx:1.28", "memory": 64}]
        )["taskDefinition"]
        assert again["revision"] == 2
        ecs.create_service(cluster=cluster, serviceName="web", taskDefinition="web:2", desiredCount=0)
        assert ecs.describe_services(cluster=cluster, services=["web"])["services"][0]["status"] == "ACTIVE"
        ecs.update_service(cluster=cluster, service="web", desiredCount=0)
        ecs.delete_service(cluster=cluster, service="web")
        ecs.deregister_task_definition(taskDefinition="web:1")
        wait_for(
            "the ECSService to be gone",
            lambda: not kubectl.json("get", "ecsservices", "-n", namespace)["items"],
            timeout=60,
        )

        def deleted() -> bool:
            try:
                ecs.delete_cluster(cluster=cluster)
            except ecs.exceptions.ClusterContainsServicesException:
                return False  # the cluster's counts catch up with the deletion
            return True

        wait_for("DeleteCluster to be accepted", deleted, timeout=60)
        wait_for("the cluster to be gone", lambda: arn not in ecs.list_clusters()["clusterArns"], timeout=60)
    finally:
        next(served, None)


def test_without_api_enabled_the_account_may_not_write_them(
    kubectl: Kubectl, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    served = serve_as_account(kubectl, False, tmp_path, certificate)
    ecs, _ = next(served)
    try:
        with pytest.raises(ecs.exceptions.AccessDeniedException) as failure:
            # reads work with the operator's rules; creating an ECSTaskDefinition is the API's rule
            ecs.register_task_definition(
                family="denied", containerDefinitions=[{"name": "app", "image": "busybox", "memory": 64}]
            )
        assert "the Kubernetes API refused it" in str(failure.value)
        assert ecs.list_task_definitions(familyPrefix="denied")["taskDefinitionArns"] == []  # nothing written
    finally:
        next(served, None)
