"""The ECS API driven by a non-Python SDK: the AWS SDK for Go v2 (tests/e2e/sdk-go, modules
pinned in its go.mod/go.sum, fetched like hack/build-controlplane.sh's). A script registers
task definitions, creates a service and waits with ``ecs.NewServicesStableWaiter``, runs a task
with overrides and waits with ``ecs.NewTasksStoppedWaiter``, prints its exit code, catches
``*types.ClusterNotFoundException`` with ``errors.As``, and deletes everything; kubectl checks
each half.

The binary is built once per source hash into the cache (``ECS_FACADE_CACHE``, as the control
plane's), so later runs start at once.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.ecs_api import GO_NAMESPACE, EcsApi
from tests.e2e.kube import Kubectl, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SOURCE = Path(__file__).resolve().parent / "sdk-go"
NS = GO_NAMESPACE


def go_binary() -> str:
    found = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if found is None:
        pytest.fail("Go is needed to build tests/e2e/sdk-go (the control plane needs it too)", pytrace=False)
    return found


def sdk_go() -> Path:
    """The program, built once per content of go.mod, go.sum and main.go."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    cache = Path(os.environ.get("ECS_FACADE_CACHE") or Path.home() / ".cache" / "ecs-facade")
    binary = cache / f"sdk-go-{digest.hexdigest()[:12]}" / "sdk-go"
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(".tmp")
    built = subprocess.run(
        [go_binary(), "build", "-trimpath", "-buildvcs=false", "-o", str(tmp), "."],
        cwd=SOURCE,
        env={**os.environ, "CGO_ENABLED": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"go build of tests/e2e/sdk-go failed:\n{built.stderr[-3000:]}", pytrace=False)
    tmp.rename(binary)
    return binary


def run(binary: Path, api: EcsApi, step: str) -> dict[str, list[str]]:
    """One step of the program; its output lines "KEY rest", by key."""
    done = subprocess.run(
        [str(binary), "-endpoint", api.endpoint, step],
        env=api.sdk_env(namespace=NS),
        capture_output=True,
        text=True,
        timeout=360,
        check=False,
    )
    assert done.returncode == 0, f"sdk-go {step} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    lines: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, rest = line.partition(" ")
        lines.setdefault(key, []).append(rest)
    return lines


def test_go_sdk_v2_script(ecs_api_logs: EcsApi, kubectl: Kubectl) -> None:
    binary = sdk_go()
    up = run(binary, ecs_api_logs, "up")
    assert up["REGISTERED"] == ["go-sdk-web:1"], up
    assert up["CREATED"][0].endswith(":service/default/go-web"), up
    assert up["STABLE"] == ["go-web running=2 desired=2 deployments=1"], up
    assert up["STOPPED"] == ["STOPPED stopCode=EssentialContainerExited exitCode=5"], up

    service = kubectl.get("ecsservice", "go-web", NS)
    assert service is not None and service["spec"]["desiredCount"] == 2, service
    assert service["spec"]["taskDefinition"] == "go-sdk-web"
    deployment = kubectl.get("deployment", "go-web", NS) or {}
    assert deployment["spec"]["replicas"] == 2, deployment.get("spec")
    task_id = up["RAN"][0].rsplit("/", 1)[1]

    def the_task() -> dict[str, Any] | None:
        items = kubectl.json("get", "ecstasks", "-n", NS)["items"]
        return next((t for t in items if t["metadata"]["uid"].replace("-", "") == task_id), None)

    task = wait_for("the ECSTask RunTask made", the_task, timeout=10)
    assert task["spec"]["startedBy"] == "sdk-go"
    (override,) = task["spec"]["overrides"]["containerOverrides"]
    assert override["command"] == ["run", "--from-go"] and override["environment"] == [
        {"name": "FROM", "value": "go-sdk"}
    ], override
    assert (task.get("status") or {}).get("exitCode") == 5, task.get("status")

    down = run(binary, ecs_api_logs, "down")
    assert down["CAUGHT"] == ["ClusterNotFoundException", "ServiceNotFoundException"], down
    assert down["DELETED"] == ["go-web"], down
    assert down["DEREGISTERED"] == ["go-sdk-web:1 INACTIVE", "go-sdk-job:1 INACTIVE"], down
    wait_for("the ECSService gone", lambda: kubectl.get("ecsservice", "go-web", NS) is None, timeout=120)
    wait_for("the Deployment gone", lambda: kubectl.get("deployment", "go-web", NS) is None, timeout=60)

    def revision_statuses() -> list[str]:
        status = kubectl.json("get", "ecstaskdefinition", "go-sdk-web", "-n", NS).get("status") or {}
        return [r["status"] for r in status.get("revisions") or []]

    wait_for("revision 1 INACTIVE", lambda: revision_statuses() == ["INACTIVE"], timeout=30)
