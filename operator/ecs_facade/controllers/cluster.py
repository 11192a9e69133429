"""ECSCluster: a group of container instances, which are Kubernetes nodes.

A node is an instance of cluster C when it carries ``ecs.facade.dev/cluster=C`` (the
Kubernetes form of ``ECS_CLUSTER=C``); a node without the label is an instance of
``default``, as an ECS agent without ECS_CLUSTER joins ``default``. A cluster's
``instanceSelector`` makes the operator put that label on matching nodes.

Level-based: a timer per cluster (and every spec change) reads nodes, pods, services and
tasks from the operator's indexes, keeps the node labels the selector asks for, drains DRAINING
instances (cordon, then evict service tasks within each service's disruption budget),
and writes the DescribeClusters counts only when they changed. Deleting a cluster that
still has services or running tasks is held by the finalizer with a condition and an event
naming what is left, as ECS refuses DeleteCluster.
"""

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import (
    ANNOTATION_CLUSTER_LABEL_OWNER,
    ANNOTATION_CORDONED_FOR_DRAIN,
    API_VERSION,
    CLUSTERS,
    DEFAULT_CLUSTER,
    GROUP,
    KIND_CLUSTER,
    LABEL_CLUSTER,
    LABEL_SERVICE,
    VERSION,
)
from ecs_facade.controllers.common import Logger, ready_conditions, remember_handler_context
from ecs_facade.controllers.indexes import (
    Indexes,
    Snapshot,
    all_values,
    cluster_name,
    cluster_ref_name,
    one,
    snapshot,
    values_at,
)
from ecs_facade.controllers.state import OperatorState, of
from ecs_facade.kube import client as kube
from ecs_facade.metrics import instrumented
from ecs_facade.translate import TranslationError
from ecs_facade.translate.capacity import effective_strategy
from ecs_facade.views.container_instance import (
    cluster_instance_counts,
    cluster_of,
    draining,
    instance_summary,
)
from ecs_facade.views.selectors import selector_matches
from ecs_facade.views.service import Readiness

# kopf's timer interval is fixed when the module is imported, before the settings are read:
# the timer ticks this often and a cluster is synced once its cluster_sync_seconds have passed
SYNC_TICK_SECONDS = 1.0


def instance_summaries(indexes: Indexes, cluster: str) -> list[dict[str, Any]]:
    """What the cluster's counts need of each of its nodes, from the indexes."""
    return [
        instance_summary(node, values_at(indexes.pods_by_node, node["metadata"]["name"]))
        for node in all_values(indexes.nodes)
        if cluster_of(node["metadata"]["labels"]) == cluster
    ]


def services_in(indexes: Indexes, cluster: str) -> list[Snapshot]:
    return [s for s in all_values(indexes.services) if cluster_ref_name(s.spec.get("cluster")) == cluster]


def running_tasks_in(indexes: Indexes, cluster: str) -> list[Snapshot]:
    """Standalone tasks (ECSTask) of the cluster that have not STOPPED."""
    return [
        t
        for t in all_values(indexes.ecs_tasks)
        if cluster_ref_name(t.spec.get("cluster")) == cluster and t.status.get("lastStatus") != "STOPPED"
    ]


def namespace_allowed(cluster: Snapshot | None, namespace: str, indexes: Indexes) -> bool:
    """The cluster's namespaceSelector admits the namespace (no selector: any namespace)."""
    selector = (cluster.spec if cluster else {}).get("namespaceSelector")
    if not selector:
        return True
    labels = one(indexes.namespaces, namespace) or {}
    return selector_matches(selector, {**labels, "kubernetes.io/metadata.name": namespace})


def cluster_placement(
    namespace: str, spec: Mapping[str, Any], indexes: Indexes
) -> tuple[str, list[dict[str, Any]], dict[str, Any]] | Readiness:
    """The cluster a service or task runs on, its effective capacity provider strategy and the
    providers' node selectors; or why it cannot run there."""
    name = cluster_ref_name(spec.get("cluster"))
    cluster: Snapshot | None = one(indexes.clusters, name)
    if cluster is None and name != DEFAULT_CLUSTER:
        return Readiness(
            False, "ClusterNotFound", f"cluster {name!r} not found: create an ECSCluster with clusterName {name!r}"
        )
    if not namespace_allowed(cluster, namespace, indexes):
        return Readiness(
            False,
            "NamespaceNotAllowed",
            f"cluster {name!r} does not admit namespace {namespace!r} (see its spec.namespaceSelector)",
        )
    cluster_spec = cluster.spec if cluster else {}
    try:
        strategy = effective_strategy(
            spec.get("capacityProviderStrategy"),
            spec.get("launchType"),
            cluster_spec.get("defaultCapacityProviderStrategy"),
        )
    except TranslationError as error:
        return Readiness(False, "InvalidSpec", str(error))
    known = set(cluster_spec.get("capacityProviders") or [])
    unknown = [item["capacityProvider"] for item in strategy if item["capacityProvider"] not in known]
    if unknown:
        return Readiness(
            False,
            "InvalidSpec",
            f"capacityProviderStrategy: capacity provider {unknown[0]!r} is not associated with cluster {name!r}"
            " (add it to the cluster's capacityProviders)",
        )
    selectors = {
        group["capacityProvider"]: group["nodeSelector"]
        for group in cluster_spec.get("capacityProviderNodeGroups") or []
    }
    return name, strategy, selectors


def _keep_membership_labels(cluster: str, spec: Mapping[str, Any], indexes: Indexes, logger: Logger) -> list[str]:
    """Label the nodes the instanceSelector matches; unlabel those it put there that no longer match.

    Returns the nodes the selector matches that already belong to another cluster.
    """
    selector = spec.get("instanceSelector")
    conflicts = []
    for node in all_values(indexes.nodes):
        meta = node["metadata"]
        labels, annotations = meta["labels"], meta["annotations"]
        owned = annotations.get(ANNOTATION_CLUSTER_LABEL_OWNER) == cluster
        matches = selector is not None and selector_matches(selector, labels)
        if matches and LABEL_CLUSTER not in labels:
            logger.info("node %s joins cluster %s (instanceSelector)", meta["name"], cluster)
            kube.patch_node(
                meta["name"],
                {
                    "metadata": {
                        "labels": {LABEL_CLUSTER: cluster},
                        "annotations": {ANNOTATION_CLUSTER_LABEL_OWNER: cluster},
                    }
                },
            )
        elif matches and labels.get(LABEL_CLUSTER) != cluster:
            conflicts.append(meta["name"])
        elif owned and not matches:
            _release_node(meta["name"], logger, cluster, "instanceSelector no longer matches")
    return conflicts


def _release_node(node: str, logger: Logger, cluster: str, why: str) -> None:
    logger.info("node %s leaves cluster %s (%s)", node, cluster, why)
    kube.patch_node(
        node, {"metadata": {"labels": {LABEL_CLUSTER: None}, "annotations": {ANNOTATION_CLUSTER_LABEL_OWNER: None}}}
    )


def _drain(state: OperatorState, cluster: str, indexes: Indexes, logger: Logger) -> None:
    """DRAINING instances: cordon, and evict service tasks (each service's budget decides when).

    Standalone tasks are left to finish, as in ECS; daemon tasks leave through their node
    affinity (translate/service.py). ACTIVE instances that draining cordoned are uncordoned.
    """
    for node in all_values(indexes.nodes):
        meta = node["metadata"]
        if cluster_of(meta["labels"]) != cluster:
            continue
        name = meta["name"]
        cordoned = ANNOTATION_CORDONED_FOR_DRAIN in meta["annotations"]
        if not draining(node):
            if cordoned:
                logger.info("container instance %s is ACTIVE again: uncordoned", name)
                kube.patch_node(
                    name,
                    {
                        "metadata": {"annotations": {ANNOTATION_CORDONED_FOR_DRAIN: None}},
                        "spec": {"unschedulable": None},
                    },
                )
            continue
        if not node["spec"]["unschedulable"]:
            logger.info("container instance %s is DRAINING: cordoned", name)
            kube.patch_node(
                name,
                {"metadata": {"annotations": {ANNOTATION_CORDONED_FOR_DRAIN: "true"}}, "spec": {"unschedulable": True}},
            )
        for pod in values_at(indexes.pods_by_node, name):
            pod_meta = pod["metadata"]
            service_name = (pod_meta.get("labels") or {}).get(LABEL_SERVICE)
            if not service_name or pod_meta.get("deletionTimestamp"):
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            service = one(indexes.services, (pod_meta["namespace"], service_name))
            if service is None or service.spec.get("schedulingStrategy") == "DAEMON":
                continue
            if not state.services.budget_in_place((service.namespace, service.name, service.uid)):
                continue  # its budget first: the service's next reconcile applies it
            if kube.evict_pod(pod_meta["namespace"], pod_meta["name"]):
                logger.info(
                    "evicted task %s/%s from DRAINING instance %s", pod_meta["namespace"], pod_meta["name"], name
                )


@instrumented("ecscluster")
def reconcile(
    state: OperatorState, name: str, indexes: Indexes, logger: Logger, deleting: bool = False
) -> Snapshot | None:
    """Membership labels, draining and the DescribeClusters status of one ECSCluster."""
    with state.locks.lock_for(KIND_CLUSTER, "", name):
        found: list[Snapshot] = [c for c in all_values(indexes.clusters) if c.name == name]
        if not found:
            return None
        cluster = found[0]
        ecs_name = cluster_name(name, cluster.spec)
        config = state.config
        conflicts = [] if deleting else _keep_membership_labels(ecs_name, cluster.spec, indexes, logger)
        _drain(state, ecs_name, indexes, logger)
        counts = cluster_instance_counts(instance_summaries(indexes, ecs_name))
        ready: tuple[bool, str, str]
        if conflicts:
            ready = (
                False,
                "InstanceInOtherCluster",
                f"instanceSelector matches nodes of another cluster, left there: {', '.join(sorted(conflicts)[:10])}",
            )
        else:
            ready = (True, "Active", f"{counts['registeredContainerInstancesCount']} container instances")
        status: dict[str, Any] = {
            "clusterArn": config.cluster_arn(ecs_name),
            "clusterName": ecs_name,
            "status": "DEPROVISIONING" if deleting else "ACTIVE",
            **counts,
            "activeServicesCount": len(services_in(indexes, ecs_name)),
            "observedGeneration": cluster.generation,
        }
        previous = {**cluster.status, **state.clusters.written.get(cluster.uid, {})}
        if not deleting or not _condition_reason(previous).startswith("ClusterContains"):
            status["conditions"] = ready_conditions(previous, cluster.generation, *ready)
        _write(state, cluster, previous, status)
        return cluster


def _condition_reason(status: Mapping[str, Any]) -> str:
    ready: Mapping[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return str(ready.get("reason") or "")


def _without_times(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_times(v) for k, v in value.items() if k != "lastTransitionTime"}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _write(state: OperatorState, cluster: Snapshot, previous: Mapping[str, Any], status: dict[str, Any]) -> None:
    if _without_times(status) != _without_times({k: previous.get(k) for k in status}):
        kube.patch_cluster_scoped_status(API_VERSION, CLUSTERS, cluster.name, status)
        written = state.clusters.written
        written[cluster.uid] = {**written.get(cluster.uid, {}), **status}


@kopf.on.startup()
def default_cluster_exists(logger: Logger, **_: Any) -> None:
    """ECS has a ``default`` cluster without any setup; so does ecs-facade."""
    manifest = {"apiVersion": API_VERSION, "kind": KIND_CLUSTER, "metadata": {"name": DEFAULT_CLUSTER}, "spec": {}}
    try:
        # a read first: a restart with the cluster in place makes no write (not even a refused create)
        if kube.get_cluster_scoped(API_VERSION, CLUSTERS, DEFAULT_CLUSTER) is not None:
            return
        if kube.create_cluster_scoped(manifest, CLUSTERS) is not None:
            logger.info("created the default ECSCluster")
    except ApiException as error:
        logger.warning("could not create the default ECSCluster (%s); is the CRD installed?", error.reason)


@kopf.timer(GROUP, VERSION, CLUSTERS, interval=SYNC_TICK_SECONDS, idle=0)
def cluster_sync(name: str, body: kopf.Body, logger: Logger, memo: kopf.Memo, **_: Any) -> None:
    remember_handler_context(memo)  # the default cluster's timer runs first in every operator
    if body.get("metadata", {}).get("deletionTimestamp"):
        return  # the deletion handler owns it now
    now = time.monotonic()
    state = of(memo)
    if now < memo.get("synced_at", -math.inf) + state.config.cluster_sync_seconds:
        return
    memo["synced_at"] = now  # kopf's memo of this cluster
    reconcile(state, name, Indexes.of(memo), logger)


@kopf.on.resume(GROUP, VERSION, CLUSTERS)
@kopf.on.create(GROUP, VERSION, CLUSTERS)
@kopf.on.update(GROUP, VERSION, CLUSTERS, field="spec")
def cluster_changed(name: str, body: kopf.Body, logger: Logger, memo: kopf.Memo, **_: Any) -> None:
    indexes = Indexes.of(memo)
    # kopf's watch may bring the cluster (or its new spec) before the informer does
    if not indexes.caught_up(KIND_CLUSTER, body):
        raise kopf.TemporaryError("the cluster is not in the operator's index yet", delay=1)
    reconcile(of(memo), name, indexes, logger)


@kopf.on.delete(GROUP, VERSION, CLUSTERS)
def cluster_deleted(name: str, body: kopf.Body, logger: Logger, memo: kopf.Memo, **_: Any) -> None:
    """ECS DeleteCluster: refused while services or running tasks remain; held here until they go."""
    state = of(memo)
    indexes = Indexes.of(memo)
    current = snapshot(body)
    ecs_name = cluster_name(name, current.spec)
    services = sorted(f"{s.namespace}/{s.name}" for s in services_in(indexes, ecs_name))
    tasks = sorted(f"{t.namespace}/{t.name}" for t in running_tasks_in(indexes, ecs_name))
    reconcile(state, name, indexes, logger, deleting=True)
    if services or tasks:
        if services:
            reason = "ClusterContainsServices"
            message = (
                f"ClusterContainsServicesException: the cluster cannot be deleted while it contains "
                f"{len(services)} active service(s): {_listed(services)}; delete them first"
            )
        else:
            reason = "ClusterContainsTasks"
            message = (
                f"ClusterContainsTasksException: the cluster cannot be deleted while it contains "
                f"{len(tasks)} running task(s): {_listed(tasks)}; stop them first"
            )
        previous = {**current.status, **state.clusters.written.get(current.uid, {})}
        if _condition_reason(previous) != reason:
            kopf.event(body, type="Warning", reason=reason, message=message)
        _write(
            state,
            current,
            previous,
            {
                "status": "DEPROVISIONING",
                "conditions": ready_conditions(previous, current.generation, False, reason, message),
            },
        )
        raise kopf.TemporaryError(message, delay=state.config.cluster_sync_seconds)
    for node in all_values(indexes.nodes):
        if node["metadata"]["annotations"].get(ANNOTATION_CLUSTER_LABEL_OWNER) == ecs_name:
            _release_node(node["metadata"]["name"], logger, ecs_name, "the cluster was deleted")
    state.clusters.written.pop(current.uid, None)
    logger.info("cluster %s deleted", ecs_name)


def _listed(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
