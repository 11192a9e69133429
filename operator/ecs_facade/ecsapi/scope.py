"""Where things live: the Kubernetes namespace an ECS request acts in, the custom resource
that holds an ECS name, and which clusters a namespace sees (docs/ecs-api.md, "Where things
live").

The rule follows how ECSServices and ECSTasks use clusters today: a namespace is what an AWS
account-and-region is in ECS (task definition families, services and tasks are unique in it),
and an ECSCluster, cluster-scoped like the nodes that are its container instances, is shared
by the namespaces its ``namespaceSelector`` admits (all, without one).
"""

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ecs_facade.api import DEFAULT_CLUSTER
from ecs_facade.ecsapi.errors import access_denied
from ecs_facade.views.selectors import selector_matches

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ANY_NAMESPACE = "*"
# an AWS region (us-east-1, us-gov-west-1, cn-north-1, eu-central-2): the credentials' usual
# region, which selects the key's home namespace; any other signing region names a namespace
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def request_namespace(allowed: Sequence[str], signing_region: str | None, config_region: str) -> str:
    """The namespace a request acts in.

    ``allowed``: the access key's namespaces, its home namespace first (``*`` after it: any
    namespace). ``signing_region``: the region of the request's SigV4 credential scope. An
    AWS region (or none) means the home namespace, so that unchanged profiles work; any other
    region names the namespace itself (``aws --region team-b ecs list-services``), which the
    key must be allowed, else AccessDeniedException: a request never acts in a namespace it
    did not ask for.
    """
    if not allowed or allowed[0] == ANY_NAMESPACE:
        raise access_denied("this access key has no home namespace (its first namespace must be a name)")
    region = (signing_region or "").strip()
    if not region or region == config_region or _AWS_REGION.match(region):
        return allowed[0]
    if region in allowed or ANY_NAMESPACE in allowed:
        if not _DNS_LABEL.match(region):
            raise access_denied(f"region {region!r} names no namespace (a namespace name is a DNS label)")
        return region
    raise access_denied(
        f"this access key may not act in namespace {region!r} (the request's region); its namespaces: "
        + ", ".join(allowed)
    )


def kubernetes_name(ecs_name: str) -> str:
    """The custom resource's metadata.name for an ECS name (a family or a cluster name; ECS
    names take upper case and '_', Kubernetes names do not). A name that is already a DNS
    label is kept; any other gets a lower-cased form plus a hash of the exact name, so that
    ``Web`` and ``web`` stay two objects as they are two families in ECS."""
    if _DNS_LABEL.match(ecs_name):
        return ecs_name
    base = re.sub(r"[^a-z0-9-]", "-", ecs_name.lower())[:54].strip("-") or "x"
    return f"{base}-{hashlib.sha256(ecs_name.encode()).hexdigest()[:8]}"


def cluster_name_of(cluster: Mapping[str, Any]) -> str:
    """An ECSCluster's ECS name: ``spec.clusterName``, which defaults to metadata.name."""
    return str((cluster.get("spec") or {}).get("clusterName") or cluster["metadata"]["name"])


def cluster_admits(cluster: Mapping[str, Any], namespace: str, namespace_labels: Mapping[str, str]) -> bool:
    """The cluster's namespaceSelector admits the namespace (no selector: every namespace),
    as the operator decides for ECSServices and ECSTasks (controllers/cluster.py)."""
    selector = (cluster.get("spec") or {}).get("namespaceSelector")
    if not selector:
        return True
    return selector_matches(selector, {**namespace_labels, NAMESPACE_NAME_LABEL: namespace})


def namespace_selector_of(namespace: str) -> dict[str, Any]:
    """The selector a cluster created through the API gets: its creator's namespace only."""
    return {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}


def owned_by(cluster: Mapping[str, Any], namespace: str) -> bool:
    """The cluster admits exactly this one namespace, by name: only then may a request of
    that namespace delete it (a shared cluster, like ``default``, is deleted with kubectl)."""
    selector = (cluster.get("spec") or {}).get("namespaceSelector") or {}
    labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if labels == {NAMESPACE_NAME_LABEL: namespace} and not expressions:
        return True
    only_in = {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": [namespace]}
    return not labels and len(expressions) == 1 and dict(expressions[0]) == only_in


def visible_clusters(
    clusters: Sequence[Mapping[str, Any]], namespace: str, namespace_labels: Mapping[str, str]
) -> dict[str, Mapping[str, Any]]:
    """The ECSClusters a request of ``namespace`` sees, by ECS name. ``default`` is there
    without an object (the operator creates it at start-up; services may name it before)."""
    seen: dict[str, Mapping[str, Any]] = {}
    for cluster in clusters:
        name = cluster_name_of(cluster)
        if cluster_admits(cluster, namespace, namespace_labels):
            seen[name] = cluster
    if DEFAULT_CLUSTER not in seen and not any(cluster_name_of(c) == DEFAULT_CLUSTER for c in clusters):
        seen[DEFAULT_CLUSTER] = {"metadata": {"name": DEFAULT_CLUSTER}, "spec": {}}
    return seen
