"""Secret values never leave their Secrets (issue 27, docs/secrets.md): with a task definition
whose containers take secrets (Secrets Manager and SSM references) and repository credentials,
run as a service and as a task on kwok, and a second, invalid revision refused, none of the
values (nor their base64) is in the operator's log, in any object of the namespace (the ECS
objects' status and annotations, kopf's stored state annotations, Events, Deployments,
ReplicaSets, Pods, ControllerRevisions, ...) or in the cluster-scoped ECS objects.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.kube import Kubectl, apply_objects, condition, wait_for

pytestmark = pytest.mark.e2e


def secret(name: str, data: dict[str, str], kind: str = "Opaque") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": kind, "stringData": data}


def forms(value: str) -> list[str]:
    """A value as it could leak: itself, base64 (a copied Secret's data), and JSON-escaped."""
    return [value, base64.b64encode(value.encode()).decode(), json.dumps(value)[1:-1]]


def test_secret_values_appear_nowhere(kubectl: Kubectl, operator: object, operator_log: Path, namespace: str) -> None:
    log_start = operator_log.stat().st_size if operator_log.exists() else 0
    values = {name: f"S3cr3t-{name}-{secrets.token_hex(12)}" for name in ("db", "api", "json", "registry")}
    docker_config = {"auths": {"registry.example": {"username": "u", "password": values["registry"]}}}
    apply_objects(
        kubectl,
        namespace,
        secret("sm-prod-db-abcdef", {"value": values["db"]}),
        secret("ssm-app-prod-api-key", {"value": values["api"]}),
        secret("sm-prod-json-xyz123", {"password": values["json"]}),
        secret(
            "sm-dockerhub-pull", {".dockerconfigjson": json.dumps(docker_config)}, kind="kubernetes.io/dockerconfigjson"
        ),
    )
    container: dict[str, Any] = {
        "name": "api",
        "image": "registry.example/team/api:1",
        "memory": 64,
        "repositoryCredentials": {"credentialsParameter": "dockerhub/pull"},
        "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"},
            {"name": "API_KEY", "valueFrom": "/app/prod/API_KEY"},
            {
                "name": "JSON_PASSWORD",
                "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/json-XyZ123:password::",
            },
        ],
    }
    apply_objects(
        kubectl,
        namespace,
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSTaskDefinition",
            "metadata": {"name": "api"},
            "spec": {"containerDefinitions": [container]},
        },
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSService",
            "metadata": {"name": "api"},
            "spec": {"taskDefinition": "api", "desiredCount": 1},
        },
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSTask",
            "metadata": {"name": "once"},
            "spec": {"taskDefinition": "api"},
        },
    )
    wait_for(
        "the service's task running",
        lambda: ((kubectl.get("ecsservice", "api", namespace) or {}).get("status") or {}).get("runningCount") == 1,
        timeout=120,
    )
    wait_for(
        "the task RUNNING",
        lambda: ((kubectl.get("ecstask", "once", namespace) or {}).get("status") or {}).get("lastStatus") == "RUNNING",
        timeout=120,
    )
    pod = next(
        p
        for p in kubectl.json("get", "pods", "-n", namespace)["items"]
        if p["metadata"].get("ownerReferences", [{}])[0].get("kind") == "ReplicaSet"
    )
    env = {e["name"]: e.get("valueFrom") for e in pod["spec"]["containers"][0].get("env", [])}
    # the pod refers to the Secrets by name (docs/secrets.md) and holds no value
    assert env["DB_PASSWORD"] == {"secretKeyRef": {"name": "sm-prod-db-abcdef", "key": "value"}}, env
    assert env["JSON_PASSWORD"] == {"secretKeyRef": {"name": "sm-prod-json-xyz123", "key": "password"}}, env
    assert pod["spec"]["imagePullSecrets"] == [{"name": "sm-dockerhub-pull"}], pod["spec"]
    # a revision the operator refuses: its message names the field, not a value
    invalid = {**container, "secrets": [*container["secrets"], {"name": "BAD", "valueFrom": "arn:aws:s3:::bucket/k"}]}
    apply_objects(
        kubectl,
        namespace,
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSTaskDefinition",
            "metadata": {"name": "api"},
            "spec": {"containerDefinitions": [invalid]},
        },
    )
    wait_for(
        "the invalid revision refused",
        lambda: (
            (condition(kubectl.get("ecstaskdefinition", "api", namespace), "Ready") or {}).get("reason")
            == "InvalidSpec"
        ),
    )

    kinds = [
        k
        for k in kubectl("api-resources", "--verbs=list", "--namespaced", "-o", "name").split()
        if k.split(".")[0] not in ("secrets",)
    ]
    everything = kubectl("get", ",".join(kinds), "-n", namespace, "-o", "json")
    cluster_scoped = kubectl("get", "ecsclusters,ecscontainerinstances", "-o", "json", check=False)
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    assert events, "the operator and the cluster wrote Events (the search covers them)"
    assert "kopf.zalando.org" in everything or "ecs.facade.dev" in everything  # kopf's and our annotations are in
    log = operator_log.read_text(errors="replace")[log_start:]
    assert "api" in log, "the operator logged about these objects (the search covers its log)"
    for name, value in values.items():
        for form in forms(value):
            assert form not in log, f"secret {name} in the operator log"
            assert form not in everything, f"secret {name} in an object of the namespace"
            assert form not in cluster_scoped, f"secret {name} in a cluster-scoped ECS object"
