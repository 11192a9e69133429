"""Small helpers for e2e tests: kubectl as a user would type it, and polling with a reason."""

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Kubectl:
    binary: str
    kubeconfig: str

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, "--kubeconfig", self.kubeconfig, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def __call__(self, *args: str, input: str | None = None, check: bool = True) -> str:
        result = self.run(*args, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))

    def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        out = self("get", kind, name, "-n", namespace, "-o", "json", "--ignore-not-found")
        return json.loads(out) if out.strip() else None


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90, interval: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except AssertionError as error:  # kubectl failures while things settle
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


def condition(obj: dict[str, Any] | None, type: str) -> dict[str, Any] | None:
    for entry in ((obj or {}).get("status") or {}).get("conditions") or []:
        if entry.get("type") == type:
            return dict(entry)
    return None


def apply_objects(kubectl: Kubectl, namespace: str, *objects: dict[str, Any]) -> None:
    """``kubectl apply`` of several objects at once, as one List."""
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def simulated_node(
    kubectl: Kubectl,
    name: str,
    labels: dict[str, str],
    capacity: dict[str, str],
    taints: list[dict[str, str]] | None = None,
) -> None:
    """A kwok node (kwok marks it Ready and runs its pods); needs the local control plane's kwok."""
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                "kwok.x-k8s.io/node": "fake",
                # where metrics-server finds the simulated kubelet's resource metrics
                "metrics.k8s.io/resource-metrics-path": f"/metrics/nodes/{name}/metrics/resource",
            },
            "labels": {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **labels},
        },
        # declaredFeatures as a 1.36+ kubelet has them: the scheduler places a service's pods
        # (RestartAllContainers rules, translate/lifecycle.py) only on nodes that declare it
        "status": {
            "allocatable": capacity,
            "capacity": capacity,
            "declaredFeatures": ["RestartAllContainersOnContainerExits"],
        },
    }
    if taints:
        manifest["spec"] = {"taints": taints}
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    wait_for(
        f"node {name} Ready",
        lambda: (condition(kubectl.json("get", "node", name), "Ready") or {}).get("status") == "True",
    )


def bound_claim(kubectl: Kubectl, namespace: str, claim: str) -> None:
    """A PersistentVolumeClaim bound to a static PersistentVolume made for it."""
    volume = f"pv-{namespace}-{claim}"[:253]
    manifests = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "hostPath": {"path": f"/srv/{claim}"},
                "claimRef": {"namespace": namespace, "name": claim},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": volume,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    ]
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}))
