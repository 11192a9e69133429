"""The ECS API for e2e tests: `ecs-facade api` as a process of its own, its access keys, and
clients of it (boto3, the aws CLI in its own virtual environment, any SDK through an env).

The server acts as a ServiceAccount of its own with the operator's rules (rbac.py, the
source of the chart's RBAC) plus the API's writes (rbac.API_NAMESPACED / API_CLUSTER), so
every API test also proves those rules grant what the API needs. It listens on loopback,
on ``E2E_PORT_BASE`` + ``PORT_OFFSET`` (the local control plane uses +247..+259, +379/380
and +443; the chaos lanes +500 and up). The fixtures that use
this module are in conftest.py (``ecs_api``, ``aws_cli``, ``ecs_api_logs``).

Keys (docs/ecs-api.md, "The keys Secret"; one file per access key id, as the Secret mounted):

- ``TEAM``: the namespaces the suites act in (``TEAM_NAMESPACES``), the first its home; a
  client picks one by signing for a region of that name (ecsapi/scope.py).
- ``OTHER``: only ``OTHER_NAMESPACE``: used in a team namespace it must be refused
  (``AccessDeniedException``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PORT_OFFSET = 88
AWSCLI_VERSION = "1.46.2"
# the namespaces the API suites act in (one per client, so that they cannot see each other's objects)
AWSCLI_NAMESPACE = "ecsapi-awscli"
BOTO3_NAMESPACE = "ecsapi-boto3"
GO_NAMESPACE = "ecsapi-go"
TEAM_NAMESPACES = (BOTO3_NAMESPACE, AWSCLI_NAMESPACE, GO_NAMESPACE)
OTHER_NAMESPACE = "ecsapi-other"
# what SDKs sign for when they name no namespace: an AWS region means the key's home namespace
AWS_REGION = "us-east-1"


@dataclass(frozen=True)
class ApiKey:
    """An access key of the fixture's keys directory."""

    access_key_id: str
    secret_access_key: str
    namespaces: tuple[str, ...]

    @property
    def home(self) -> str:
        return self.namespaces[0]

    def entry(self) -> str:
        """The Secret value ecsapi/sigv4.py parse_key reads."""
        return json.dumps({"secretAccessKey": self.secret_access_key, "namespaces": list(self.namespaces)})

    def with_secret(self, secret: str) -> ApiKey:
        """The same id with another secret: what a client with a wrong secret signs with."""
        return ApiKey(self.access_key_id, secret, self.namespaces)


def new_key(prefix: str, namespaces: tuple[str, ...]) -> ApiKey:
    # 20 characters as IAM's (AKIA + 16); letters and digits only (sigv4.ACCESS_KEY_ID)
    return ApiKey((prefix + secrets.token_hex(16)).upper()[:20], secrets.token_urlsafe(30), namespaces)


@dataclass
class EcsApi:
    """A running `ecs-facade api`: where it answers, its keys and its log."""

    host: str
    port: int
    keys_dir: Path
    log: Path
    process: subprocess.Popen[bytes]
    keys: dict[str, ApiKey] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def team(self) -> ApiKey:
        return self.keys["team"]

    @property
    def other(self) -> ApiKey:
        return self.keys["other"]

    def boto3_client(self, service: str, key: ApiKey | None = None, namespace: str | None = None, **config: Any) -> Any:
        """A boto3 client of the API: signed with ``key`` (default: the team key), for the
        region that names ``namespace`` (default: the key's home, through an AWS region).
        ``service``: ``ecs`` or ``application-autoscaling``. Retries are off, so that an
        error reaches the test as the server gave it."""
        import boto3  # type: ignore[import-untyped, import-not-found, unused-ignore]
        from botocore.config import Config  # type: ignore[import-untyped]

        key = key or self.team
        settings: dict[str, Any] = {"retries": {"max_attempts": 1, "mode": "standard"}, "read_timeout": 60}
        settings.update(config)
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=namespace or AWS_REGION,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            config=Config(**settings),
        )

    def sdk_env(self, key: ApiKey | None = None, namespace: str | None = None) -> dict[str, str]:
        """Environment for any AWS SDK or the aws CLI: the key, the region (the namespace),
        the endpoint (AWS_ENDPOINT_URL, which the CLI and the SDKs read), and nothing of the
        machine's own AWS configuration."""
        key = key or self.team
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            {
                "AWS_ACCESS_KEY_ID": key.access_key_id,
                "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
                "AWS_REGION": namespace or AWS_REGION,
                "AWS_DEFAULT_REGION": namespace or AWS_REGION,
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_PAGER": "",
                "AWS_MAX_ATTEMPTS": "1",
            }
        )
        return env

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


API_ACCOUNT = "ecs-facade-api"


def api_rbac(namespace: str) -> list[dict[str, Any]]:
    """The API's ServiceAccount and its rights: the operator's rules (the chart's, from
    rbac.py) plus the API's own writes (rbac.API_NAMESPACED, rbac.API_CLUSTER), cluster-wide."""
    from ecs_facade import rbac

    rules = [*rbac.NAMESPACED, *rbac.CLUSTER, *rbac.API_NAMESPACED, *rbac.API_CLUSTER]
    subject = {"kind": "ServiceAccount", "name": API_ACCOUNT, "namespace": namespace}
    role = f"{API_ACCOUNT}-e2e"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": API_ACCOUNT, "namespace": namespace}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [subject],
        },
    ]


def write_keys(keys_dir: Path, keys: Mapping[str, ApiKey]) -> None:
    """One file per access key id, written whole then renamed (the server may be reading)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    for key in keys.values():
        tmp = keys_dir / f".{key.access_key_id}.tmp"
        tmp.write_text(key.entry())
        tmp.chmod(0o600)
        tmp.rename(keys_dir / key.access_key_id)


def _answers(endpoint: str) -> bool:
    """An unsigned ListClusters: a running server refuses it with its own JSON error (403)."""
    request = urllib.request.Request(
        endpoint + "/",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            return bool(answer.status)
    except urllib.error.HTTPError as error:
        return "MissingAuthenticationToken" in error.read().decode(errors="replace")
    except OSError:
        return False


def start(kubeconfig: Path, port: int, work_dir: Path, log_dir: Path, timeout: float = 60) -> EcsApi:
    """`python -m ecs_facade api` with the fixture's keys, as the operator's identity; waits
    until it answers. The caller stops it with ``stop``."""
    keys = {"team": new_key("AKIATEAM", TEAM_NAMESPACES), "other": new_key("AKIAOTHER", (OTHER_NAMESPACE,))}
    keys_dir = work_dir / "api-keys"
    write_keys(keys_dir, keys)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "ecs-api.log"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    host = "127.0.0.1"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecs_facade",
                "api",
                "--host",
                host,
                "--port",
                str(port),
                "--keys-dir",
                str(keys_dir),
                "--debug",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # our own process group: stopped by its PID, never by name
        )
    api = EcsApi(host, port, keys_dir, log, process, keys)
    deadline = time.monotonic() + timeout
    while not _answers(api.endpoint):
        if process.poll() is not None:
            raise RuntimeError(f"ecs-facade api exited with {process.returncode}:\n{api.log_tail()}")
        if time.monotonic() > deadline:
            stop(api)
            raise RuntimeError(
                f"ecs-facade api did not answer on {api.endpoint} within {timeout:.0f}s:\n{api.log_tail()}"
            )
        time.sleep(0.2)
    return api


def stop(api: EcsApi, timeout: float = 15) -> None:
    """SIGTERM to its PID (aiohttp stops cleanly), SIGKILL if it does not."""
    if api.process.poll() is not None:
        return
    api.process.send_signal(signal.SIGTERM)
    try:
        api.process.wait(timeout)
    except subprocess.TimeoutExpired:
        api.process.kill()
        api.process.wait(timeout)


# --- the aws CLI, in a virtual environment of its own -------------------------------------


def aws_cli(timeout: float = 600) -> Path:
    """The `aws` of hack/awscli.sh (its own virtual environment: awscli pins a botocore other
    than the project's), installed once and cached. Its path."""
    done = subprocess.run(
        [str(REPO / "hack" / "awscli.sh")], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"hack/awscli.sh failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class AwsResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout) if self.stdout.strip() else {}


def run_aws(aws: Path, env: Mapping[str, str], *args: str, timeout: float = 120) -> AwsResult:
    """``aws <args> --output json``; never raises on a non-zero exit (tests assert the error)."""
    done = subprocess.run(
        [str(aws), *args, "--output", "json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return AwsResult(done.returncode, done.stdout, done.stderr)
