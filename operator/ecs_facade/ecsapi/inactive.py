"""Deleted services described INACTIVE: the tombstones DeleteService leaves on the ECSCluster.

Amazon ECS keeps describing a deleted service, status INACTIVE, for a while (about an hour)
after DeleteService; botocore's ServicesInactive waiter (``aws ecs wait services-inactive``)
waits for exactly that and treats a ``MISSING`` failure as an error. Once the ECSService is
gone, the custom resources keep nothing of it, so DeleteService records the service in an
annotation of its ECSCluster (the custom resources stay the only truth; nothing in memory):
JSON keyed by ``namespace/serviceName``, pruned on every write (older than ``TTL_SECONDS``,
beyond ``LIMIT`` entries or ``MAX_BYTES``). A live ECSService of the name always wins over
its tombstone (CreateService again needs no write to the cluster).
"""

from collections.abc import Mapping
from typing import Any

import orjson

from ecs_facade.arns import Arns

ANNOTATION_DELETED = "ecs.facade.dev/deleted-services"
TTL_SECONDS = 3600.0  # ECS describes a deleted service for about an hour
LIMIT = 300  # newest tombstones kept per cluster
MAX_BYTES = 128 * 1024  # of the annotation (all of an object's annotations: 256 KiB at most)
# the members of the described service a tombstone keeps (beside namespace and times)
_KEPT = ("taskDefinition", "launchType", "schedulingStrategy")


def _key(namespace: str, service_name: str) -> str:
    return f"{namespace}/{service_name}"


def tombstones(cluster: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The cluster's tombstones by ``namespace/serviceName``; an annotation edited into
    something else (not a JSON object of objects) counts as none rather than failing."""
    raw = ((cluster.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_DELETED)
    if not raw:
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(k): v for k, v in parsed.items() if isinstance(v, dict) and isinstance(v.get("deletedAt"), int | float)}


def _pruned(entries: Mapping[str, dict[str, Any]], now: float) -> dict[str, dict[str, Any]]:
    """The entries younger than TTL_SECONDS, newest first, at most LIMIT and MAX_BYTES."""
    young = sorted(
        ((k, v) for k, v in entries.items() if now - float(v["deletedAt"]) < TTL_SECONDS),
        key=lambda item: -float(item[1]["deletedAt"]),
    )[:LIMIT]
    while young and len(orjson.dumps(dict(young))) > MAX_BYTES:
        young.pop()  # the oldest
    return dict(young)


def record_deleted(
    cluster: Mapping[str, Any], namespace: str, described: Mapping[str, Any], now: float
) -> dict[str, Any] | None:
    """The conditional merge patch (the cluster's resourceVersion) that adds the tombstone of
    ``described`` (the ECS Service DeleteService answers) to ``cluster``; None for a cluster
    with no object to write to (``default`` before the operator made it)."""
    metadata = cluster.get("metadata") or {}
    if not metadata.get("resourceVersion"):
        return None
    entry: dict[str, Any] = {"namespace": namespace, "deletedAt": now}
    entry.update({key: described[key] for key in _KEPT if described.get(key)})
    if described.get("createdAt") is not None:
        entry["createdAt"] = described["createdAt"]
    entries = tombstones(cluster)
    entries[_key(namespace, str(described["serviceName"]))] = entry
    value = orjson.dumps(_pruned(entries, now)).decode()
    return {"metadata": {"resourceVersion": metadata["resourceVersion"], "annotations": {ANNOTATION_DELETED: value}}}


def _entry(cluster: Mapping[str, Any], namespace: str, service_name: str, now: float) -> dict[str, Any] | None:
    entry = tombstones(cluster).get(_key(namespace, service_name))
    if entry is None or entry.get("namespace") != namespace or now - float(entry["deletedAt"]) >= TTL_SECONDS:
        return None
    return entry


def is_inactive(cluster: Mapping[str, Any], namespace: str, service_name: str, now: float) -> bool:
    """The namespace's service of that name was deleted within the hour (its tombstone)."""
    return _entry(cluster, namespace, service_name, now) is not None


def inactive_service(
    cluster: Mapping[str, Any],
    cluster_name: str,
    namespace: str,
    service_name: str,
    arns: Arns,
    now: float,
    include: tuple[str, ...] | list[str] = (),
) -> dict[str, Any] | None:
    """The ECS Service a tombstone of ``namespace`` describes (status INACTIVE, no tasks, no
    deployments, as ECS shows a deleted service), or None: no tombstone, another namespace's,
    or older than TTL_SECONDS."""
    entry = _entry(cluster, namespace, service_name, now)
    if entry is None:
        return None
    described: dict[str, Any] = {
        "serviceArn": arns.service(cluster_name, service_name),
        "serviceName": service_name,
        "clusterArn": arns.cluster(cluster_name),
        "status": "INACTIVE",
        "desiredCount": 0,
        "runningCount": 0,
        "pendingCount": 0,
        "taskDefinition": str(entry.get("taskDefinition") or ""),
        "deployments": [],
        "events": [],
        "schedulingStrategy": str(entry.get("schedulingStrategy") or "REPLICA"),
        "loadBalancers": [],
        "serviceRegistries": [],
        "placementConstraints": [],
        "placementStrategy": [],
    }
    if entry.get("launchType"):
        described["launchType"] = entry["launchType"]
    if isinstance(entry.get("createdAt"), int | float):
        described["createdAt"] = entry["createdAt"]
    if "TAGS" in include:
        described["tags"] = []
    return described
