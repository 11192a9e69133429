"""In-memory indexes: kopf's, kept from its watches, and the operator's own (``ObjectIndex``:
ECSServices, pods, ReplicaSets and Deployments, kept by controllers/informers.py).

Handlers look up task definitions, their revisions, services and tasks here instead of
listing them from the API. kopf's index functions are ``async`` although they never await:
kopf runs a sync function in its thread pool, and a thread hop per event cost more than
the function itself.
"""

import copy
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import kopf

from ecs_facade.api import (
    CLUSTERS,
    DEFAULT_CLUSTER,
    GROUP,
    LABEL_CAPACITY_PROVIDER,
    LABEL_MANAGED_BY,
    LABEL_SERVICE,
    LABEL_TASK,
    MANAGED_BY,
    TASK_DEFINITIONS,
    TASKS,
    VERSION,
)
from ecs_facade.model.references import parse_task_definition_ref
from ecs_facade.views.container_instance import slim_pod
from ecs_facade.views.deployments import TaskState
from ecs_facade.views.service_tasks import ending as incarnation_ending
from ecs_facade.views.service_tasks import picture, unhealthy_from
from ecs_facade.views.task import before_deletion, deletion_requested, essential_containers, failure_containers

ANNOTATION_CONTENT_HASH = f"{GROUP}/content-hash"
ANNOTATION_REGISTERED_AT = f"{GROUP}/registered-at"


@dataclass(frozen=True)
class Snapshot:
    """What a handler needs of an object, copied out of the watch event."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Revision:
    """One registered, immutable task definition revision (a ControllerRevision)."""

    name: str
    owner: str  # the ECSTaskDefinition's name
    revision: int
    status: str  # ACTIVE | INACTIVE, from the owner's spec.deregisteredRevisions
    content_hash: str
    registered_at: str
    request: Mapping[str, Any]  # the RegisterTaskDefinition request of this revision


def snapshot(body: Mapping[str, Any], copied: bool = True) -> Snapshot:
    """``copied=False``: the body is the caller's own to give away (an informer's parsed
    event, dropped after), not kopf's, which kopf goes on using."""
    meta = body.get("metadata", {})
    spec, status = dict(body.get("spec") or {}), dict(body.get("status") or {})
    return Snapshot(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        spec=copy.deepcopy(spec) if copied else spec,
        status=copy.deepcopy(status) if copied else status,
        annotations=dict(meta.get("annotations") or {}),
    )


def family_of(name: str, spec: Mapping[str, Any]) -> str:
    """``family`` defaults to the object's name (also inside a describe-output wrapper)."""
    inner = spec.get("taskDefinition")
    if isinstance(inner, Mapping) and inner.get("family"):
        return str(inner["family"])
    return str(spec.get("family") or name)


@kopf.index(GROUP, VERSION, TASK_DEFINITIONS)
async def task_definitions(
    name: str, namespace: str | None, body: kopf.Body, **_: Any
) -> dict[tuple[str, str], Snapshot]:
    return {(namespace or "", family_of(name, body.get("spec") or {})): snapshot(body)}


@kopf.index(GROUP, VERSION, TASK_DEFINITIONS)
async def task_definitions_by_name(
    name: str, namespace: str | None, body: kopf.Body, **_: Any
) -> dict[tuple[str, str], Snapshot]:
    return {(namespace or "", name): snapshot(body)}


@kopf.index("apps", "v1", "controllerrevisions", labels={LABEL_MANAGED_BY: MANAGED_BY})
async def revisions(namespace: str | None, body: kopf.Body, **_: Any) -> dict[tuple[str, str], Revision] | None:
    meta = body.get("metadata", {})
    owners = [ref for ref in meta.get("ownerReferences", []) if ref.get("kind") == "ECSTaskDefinition"]
    if not owners:
        return None
    data = body.get("data") or {}
    revision = Revision(
        name=meta["name"],
        owner=owners[0]["name"],
        revision=int(body.get("revision") or 0),
        status="ACTIVE",  # until the owner's deregisteredRevisions says otherwise
        content_hash=(meta.get("annotations") or {}).get(ANNOTATION_CONTENT_HASH, ""),
        registered_at=(meta.get("annotations") or {}).get(ANNOTATION_REGISTERED_AT, ""),
        request=copy.deepcopy(dict(data.get("taskDefinition") or {})),
    )
    return {(namespace or "", owners[0]["name"]): revision}


def deployment_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """A service's Deployment, under (namespace, service), slimmed (the operator's own
    informer keeps this index: controllers/informers.py)."""
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    if LABEL_SERVICE not in labels:
        return {}
    return {(str(meta.get("namespace") or ""), labels[LABEL_SERVICE]): slim_workload(body)}


def slim_workload(body: Mapping[str, Any]) -> dict[str, Any]:
    """A service's Deployment (or DaemonSet) as the service controller reads it: metadata,
    the count, the pod template's metadata, status, and who owns the spec's fields. Not the
    pod template's spec, nor the managedFields' field sets (they were most of the memory)."""
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    slim_spec: dict[str, Any] = {
        "template": {"metadata": copy.deepcopy(dict(spec.get("template", {}).get("metadata") or {}))}
    }
    if "replicas" in spec:
        slim_spec["replicas"] = spec["replicas"]
    slim_meta = copy.deepcopy({k: v for k, v in meta.items() if k != "managedFields"})
    slim_meta["managedFields"] = [_managed(entry) for entry in meta.get("managedFields") or []]
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": slim_meta,
        "spec": slim_spec,
        "status": copy.deepcopy(dict(body.get("status") or {})),
    }


def trimmed(obj: dict[str, Any]) -> dict[str, Any]:
    """A listed object with its managedFields reduced to what the operator asks of them
    (``_managed``): the field sets are most of a pod's or a Deployment's JSON, and a list
    holds every object of the kind at once. Changed in place, returned."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields"):
        meta["managedFields"] = [_managed(entry) for entry in meta["managedFields"]]
    return obj


def _managed(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A managedFields entry reduced to what is asked of it: whether its manager set anything
    in the spec, and spec.replicas in particular."""
    fields = entry.get("fieldsV1") or {}
    reduced: dict[str, Any] = {}
    if "f:spec" in fields:
        reduced["f:spec"] = {"f:replicas": {}} if "f:replicas" in (fields["f:spec"] or {}) else {}
    summary = {key: entry[key] for key in ("manager", "operation", "subresource") if key in entry}
    return {**summary, "fieldsV1": reduced}


@kopf.index("autoscaling", "v2", "horizontalpodautoscalers", labels={LABEL_SERVICE: kopf.PRESENT})
async def autoscalers(namespace: str | None, body: kopf.Body, labels: Mapping[str, str], **_: Any) -> Any:
    return {(namespace or "", labels[LABEL_SERVICE]): copy.deepcopy(dict(body))}


@kopf.index("apps", "v1", "daemonsets", labels={LABEL_SERVICE: kopf.PRESENT})
async def daemon_sets(namespace: str | None, body: kopf.Body, labels: Mapping[str, str], **_: Any) -> Any:
    return {(namespace or "", labels[LABEL_SERVICE]): slim_workload(body)}


@kopf.index("", "v1", "nodes")
async def nodes(name: str, body: kopf.Body, **_: Any) -> Any:
    """Nodes (container instances), trimmed to what placement and the container instance view read."""
    meta, spec, status = body.get("metadata", {}), body.get("spec") or {}, body.get("status") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return {
        name: {
            "metadata": {
                "name": name,
                "uid": meta.get("uid"),
                "labels": dict(meta.get("labels") or {}),
                "annotations": {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith(GROUP)},
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"providerID": spec.get("providerID"), "unschedulable": bool(spec.get("unschedulable"))},
            "status": {
                "allocatable": dict(status.get("allocatable") or {}),
                "capacity": dict(status.get("capacity") or {}),
                "conditions": copy.deepcopy(ready),
                "nodeInfo": dict(status.get("nodeInfo") or {}),
            },
        }
    }


@kopf.index("", "v1", "namespaces")
async def namespaces(name: str, labels: Mapping[str, str], **_: Any) -> Any:
    """Namespace labels, for the clusters' namespaceSelector."""
    return {name: dict(labels)}


@kopf.index(GROUP, VERSION, CLUSTERS)
async def clusters(name: str, body: kopf.Body, **_: Any) -> dict[str, Snapshot]:
    """ECSClusters by their ECS name (clusterName, which defaults to metadata.name)."""
    return {cluster_name(name, body.get("spec") or {}): snapshot(body)}


def cluster_name(name: str, spec: Mapping[str, Any]) -> str:
    return str(spec.get("clusterName") or name)


def cluster_ref_name(ref: Any) -> str:
    """A cluster reference as services and tasks give it: a name or a cluster ARN."""
    text = str(ref or "").strip()
    if text.startswith("arn:") and ":cluster/" in text:
        text = text.rsplit(":cluster/", 1)[1]
    return text or DEFAULT_CLUSTER


def cluster_spec_changed(seen: dict[str, tuple[str, int]], body: kopf.Body, event: kopf.RawEvent) -> bool:
    """An ECSCluster event that matters for placement: it appeared, its spec changed, or it went."""
    meta = body.get("metadata", {})
    if event.get("type") == "DELETED":
        seen.pop(meta["name"], None)
        return True
    current = (str(meta.get("uid")), int(meta.get("generation") or 0))
    if seen.get(meta["name"]) == current:
        return False
    seen[meta["name"]] = current
    return True


def values_at(index: Mapping[Any, Any], key: Any) -> list[Any]:
    """A copy of the values under one key.

    kopf updates its indexes in the event loop while handlers run in threads, so iterating a
    store can meet "dictionary changed size during iteration": copy it, and try again then.
    """
    for _ in range(10):
        try:
            return list(index.get(key, []))
        except RuntimeError:
            continue
    return list(index.get(key, []))


def all_values(index: Mapping[Any, Any]) -> list[Any]:
    """Every value of an index, whatever its key (copied, see values_at)."""
    for _ in range(10):
        try:
            keys = list(index)
            break
        except RuntimeError:
            continue
    else:
        keys = list(index)
    return [value for key in keys for value in values_at(index, key)]


def replica_set_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """ReplicaSets of services' Deployments, one per ECS deployment, under (namespace,
    service): what the ECS deployments view reads of them, not the pod template's spec nor
    the managedFields (the operator's own informer keeps this index)."""
    meta, spec = body.get("metadata") or {}, body.get("spec") or {}
    labels = meta.get("labels") or {}
    if LABEL_SERVICE not in labels:
        return {}
    template = (spec.get("template") or {}).get("metadata") or {}
    return {
        (str(meta.get("namespace") or ""), labels[LABEL_SERVICE]): {
            "metadata": copy.deepcopy({k: v for k, v in meta.items() if k != "managedFields"}),
            "spec": {"replicas": spec.get("replicas"), "template": {"metadata": copy.deepcopy(dict(template))}},
            "status": copy.deepcopy(dict(body.get("status") or {})),
        }
    }


NODE, SERVICE, TASK = "node", "service", "task"  # the views of the pods index


def pod_keys(pod: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """What the pod index holds of one pod, under one key per view that reads it:
    ``("node", node)`` for the pods bound to a node (ECS tasks or not: all take room on the
    instance), ``("service", namespace, service)`` for a service's tasks, ``("task",
    namespace, task)`` for a standalone task's pod."""
    meta = pod.get("metadata") or {}
    labels, namespace = meta.get("labels") or {}, str(meta.get("namespace") or "")
    keys: dict[tuple[str, ...], Any] = {}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        keys[(NODE, str(node))] = slim_pod(pod)
    if LABEL_SERVICE in labels:
        keys[(SERVICE, namespace, labels[LABEL_SERVICE])] = task_state(pod, labels)
    if LABEL_TASK in labels:
        keys[(TASK, namespace, labels[LABEL_TASK])] = pod  # standalone tasks are few: the whole pod
    return keys


@dataclass(frozen=True)
class Entry:
    """What an index remembers of an object besides its values: enough to tell a relist's
    changes and to hand on the deletion of an object a relist no longer shows."""

    resource_version: str
    keys: frozenset[tuple[str, ...]]
    stub: Mapping[str, Any]  # kind, metadata (name, namespace, uid, labels, owners), spec.nodeName


KeysOf = Callable[[Mapping[str, Any]], dict[tuple[str, ...], Any]]


class ObjectIndex(Mapping[Any, Any]):
    """Every watched object of one kind, under the keys ``keys_of`` gives it: key -> the
    values of each object under it (a tuple, copied under the lock, so readers in worker
    threads never see it change). Kept by the operator's own informers
    (controllers/informers.py), not by kopf."""

    def __init__(self, keys_of: KeysOf) -> None:
        self._keys_of = keys_of
        self._lock = threading.Lock()
        self._values: dict[tuple[str, ...], dict[tuple[str, str], Any]] = {}
        self._entries: dict[tuple[str, str], Entry] = {}

    def put(self, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        ident = (str(meta.get("namespace") or ""), str(meta.get("name")))
        keys = self._keys_of(obj)
        stub_meta = {"name": ident[1], "namespace": ident[0], "labels": dict(meta.get("labels") or {})}
        if meta.get("uid"):
            stub_meta["uid"] = str(meta["uid"])  # a gone service's memories are kept under it
        if meta.get("ownerReferences"):
            stub_meta["ownerReferences"] = copy.deepcopy(list(meta["ownerReferences"]))
        stub = {
            "kind": obj.get("kind"),
            "metadata": stub_meta,
            "spec": {"nodeName": (obj.get("spec") or {}).get("nodeName")},
        }
        with self._lock:
            self._drop(ident)
            for key, value in keys.items():
                self._values.setdefault(key, {})[ident] = value
            self._entries[ident] = Entry(str(meta.get("resourceVersion") or ""), frozenset(keys), stub)

    def remove(self, namespace: str, name: str) -> None:
        with self._lock:
            self._drop((namespace, name))

    def _drop(self, ident: tuple[str, str]) -> None:
        entry = self._entries.pop(ident, None)
        for key in entry.keys if entry else ():
            values = self._values.get(key)
            if values is not None:
                values.pop(ident, None)
                if not values:
                    del self._values[key]

    def replace(self, objs: Sequence[Mapping[str, Any]], namespace: str | None) -> list[tuple[str, Mapping[str, Any]]]:
        """Hold exactly ``objs`` (of ``namespace``; None: of every namespace) from now on.
        Returns what changed as watch events: the objects that are new or whose version
        differs, and a stub of each one that is gone."""
        listed = {(str(o["metadata"].get("namespace") or ""), str(o["metadata"]["name"])): o for o in objs}
        with self._lock:
            versions = {ident: entry.resource_version for ident, entry in self._entries.items()}
            gone = [
                (ident, entry.stub)
                for ident, entry in self._entries.items()
                if ident not in listed and (namespace is None or ident[0] == namespace)
            ]
        changes: list[tuple[str, Mapping[str, Any]]] = []
        for ident, stub in gone:
            self.remove(*ident)
            changes.append(("DELETED", stub))
        for ident, obj in listed.items():
            version = str(obj["metadata"].get("resourceVersion") or "")
            if versions.get(ident) != version:
                self.put(obj)
                changes.append(("MODIFIED" if ident in versions else "ADDED", obj))
        return changes

    def count(self) -> int:
        """The number of objects held (``len`` is the number of keys, as of any Mapping)."""
        with self._lock:
            return len(self._entries)

    def __getitem__(self, key: Any) -> tuple[Any, ...]:
        with self._lock:
            return tuple(self._values[key].values())

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            values = self._values.get(key)
            return tuple(values.values()) if values is not None else default

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._values

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            keys = list(self._values)
        return iter(keys)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


FAMILY = "family"  # the services index's second view: (namespace, family) -> service names


def service_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """An ECSService's snapshot under ``("service", namespace, name)``, and its name under
    ``("family", namespace, family)`` of the task definition it names (the services a new
    revision of that family concerns)."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta["name"])
    keys: dict[tuple[str, ...], Any] = {(SERVICE, namespace, name): snapshot(body, copied=False)}
    try:
        ref = parse_task_definition_ref(str((body.get("spec") or {}).get("taskDefinition", "")))
    except ValueError:
        return keys
    keys[(FAMILY, namespace, ref.family)] = name
    return keys


# the process's own indexes; controllers/informers.py keeps them current
SERVICE_INDEX = ObjectIndex(service_keys)
POD_INDEX = ObjectIndex(pod_keys)
DEPLOYMENT_INDEX = ObjectIndex(deployment_keys)
REPLICA_SET_INDEX = ObjectIndex(replica_set_keys)


def task_state(body: Mapping[str, Any], labels: Mapping[str, str]) -> TaskState:
    """What the deployment view and the circuit breaker count of a service's pod (an ECS task):
    its failures (the pod failing, each container restart, an essential exit not restarted
    yet) and when they happened, when it became Ready, and its containers' runs that ended
    (views.deployments judges from them whether a task was healthy); and what the service's
    events tell of it (views.service_tasks): its uid, whether its current incarnation ended,
    from when it is UNHEALTHY, and what DescribeTasks shows of it (``picture``).

    A pod being deleted is a task the scheduler stops (scale-in, a deployment, a drain): what
    its containers do then (exit 143 or 0 at SIGTERM, 137 at SIGKILL; the kubelet then turns
    the pod Failed or Succeeded) is no failure of the task. Only an end before the deletion
    was asked for is (views.task.before_deletion): the task had stopped by itself already."""
    status = body.get("status") or {}
    containers = status.get("containerStatuses") or []
    # one end of the task is one failure: with RestartAllContainers every container restarts
    # once, and a restart by an ECS restart policy ends nothing (views.task.failure_containers)
    ending = set(failure_containers(body))
    restarts = sum(int(c.get("restartCount") or 0) for c in containers if c.get("name") in ending)
    unschedulable = None
    ready_since = None
    phase = str(status.get("phase") or "Pending")
    deletion = body["metadata"].get("deletionTimestamp")
    deleting = bool(deletion)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            unschedulable = str(condition.get("message") or "Unschedulable")
        if condition.get("type") == "Ready" and condition.get("status") == "True" and phase == "Running":
            ready_since = condition.get("lastTransitionTime") or None
    failures: list[str | None] = []
    runs: list[tuple[str, str]] = []
    for container in containers:
        last = (container.get("lastState") or {}).get("terminated") or {}
        if container.get("name") in ending:
            failures += [last.get("finishedAt")] * int(container.get("restartCount") or 0)
            started = ((container.get("state") or {}).get("running") or {}).get("startedAt")
            if ready_since is not None and started and str(started) > ready_since:
                # Ready since before this incarnation started (its status kept the time):
                # healthy only from the incarnation's start on
                ready_since = str(started)
        if last.get("startedAt") and last.get("finishedAt"):
            runs.append((str(last["startedAt"]), str(last["finishedAt"])))
    # the current incarnation ended (an essential exit), the next one not started yet: an end
    # of the task already, as a STOPPED task in ECS (views.service_tasks.ending)
    exited = incarnation_ending(body)
    if deleting:
        # an essential exit before the deletion ended the task by itself; one after it is the stop
        own = incarnation_ending(body, while_deleting=True)
        if own and before_deletion(body, own.get("finishedAt")):
            exited = own
    if exited is not None:
        failures.append(str(exited["finishedAt"]) if exited.get("finishedAt") else None)
        if exited.get("startedAt") and exited.get("finishedAt"):
            runs.append((str(exited["startedAt"]), str(exited["finishedAt"])))
    if deleting and ready_since is not None:
        # healthy until the scheduler stopped it, if long enough: until the deletion was asked
        # for, not the deletionTimestamp (the end of the grace period, still ahead)
        runs.append((ready_since, deletion_requested(body) or str(deletion)))
    if phase == "Failed":
        ended = [(c.get("state") or {}).get("terminated") or {} for c in containers]
        finished = [str(t["finishedAt"]) for t in ended if t.get("finishedAt")]
        started = [str(t["startedAt"]) for t in ended if t.get("startedAt")]
        if not deleting:
            by_itself = True
        elif finished:  # an essential container had ended before the deletion was asked for
            essential = set(essential_containers(body))
            by_itself = any(
                before_deletion(body, t.get("finishedAt"))
                for c, t in zip(containers, ended, strict=True)
                if c.get("name") in essential and t
            )
        else:  # none ran (refused at admission, evicted before it started): the kubelet says why
            by_itself = bool(status.get("reason"))
        if by_itself:
            failures.append(max(finished) if finished else None)
        if started and finished:
            runs.append((min(started), max(finished)))
    return TaskState(
        name=body["metadata"]["name"],
        template_hash=labels.get("pod-template-hash", ""),
        phase=phase,
        restarts=restarts,
        unschedulable=unschedulable,
        capacity_provider=labels.get(LABEL_CAPACITY_PROVIDER),
        node=(body.get("spec") or {}).get("nodeName"),
        deleting=deleting,
        ready_since=None if deleting else ready_since,
        failures=tuple(failures),
        runs=tuple(runs),
        uid=str(body["metadata"].get("uid") or ""),
        ended=exited is not None,
        unhealthy_from=None if deleting or exited is not None else unhealthy_from(body),
        picture=picture(body),
    )


class IndexView(Mapping[Any, Any]):
    """One view of an ``ObjectIndex`` whose keys start with the view's name: the pods by
    node name, or by (namespace, name) of the service or task; the services by (namespace,
    name) or by (namespace, family)."""

    def __init__(self, index: Mapping[Any, Any], view: str) -> None:
        self._index, self._view = index, view

    def _key(self, key: Any) -> tuple[Any, ...]:
        return (self._view, *(key if isinstance(key, tuple) else (key,)))

    def __getitem__(self, key: Any) -> Any:
        return self._index[self._key(key)]

    def __contains__(self, key: object) -> bool:
        return self._key(key) in self._index

    def __iter__(self) -> Iterator[Any]:
        for key in list(self._index):
            if key[0] == self._view:
                yield key[1] if len(key) == 2 else key[1:]

    def __len__(self) -> int:
        return sum(1 for _ in self)


@kopf.index(GROUP, VERSION, TASKS)
async def ecs_tasks(name: str, namespace: str | None, body: kopf.Body, **_: Any) -> dict[tuple[str, str], Snapshot]:
    return {(namespace or "", name): snapshot(body)}


def one(index: Mapping[Any, Any], key: Any) -> Any | None:
    """The single value under ``key``, or None.

    Several task definitions of one family (by ``family`` or name) resolve to the one named
    like the family, else the first by name, so the choice is stable.
    """
    store = index.get(key)
    if not store:
        return None
    values = list(store)
    if len(values) == 1:
        return values[0]
    named = [v for v in values if isinstance(v, Snapshot) and v.name == key[-1]]
    return named[0] if named else sorted(values, key=lambda v: getattr(v, "name", ""))[0]


def revisions_of(index: kopf.Index[Any, Any], namespace: str, owner: str) -> list[Revision]:
    """All revisions of one ECSTaskDefinition, oldest first."""
    return sorted(index.get((namespace, owner), []), key=lambda r: r.revision)


@dataclass(frozen=True)
class Indexes:
    """All indexes, taken from a handler's kwargs (kopf passes every index to every handler)."""

    services: Mapping[Any, Any]  # the operator's own (ObjectIndex views)
    services_by_family: Mapping[Any, Any]
    task_definitions: kopf.Index[Any, Any]
    task_definitions_by_name: kopf.Index[Any, Any]
    revisions: kopf.Index[Any, Any]
    replica_sets: Mapping[Any, Any]  # the operator's own (ObjectIndex)
    tasks: Mapping[Any, Any]  # views of the one pod index (IndexView)
    deployments: Mapping[Any, Any]  # the operator's own (ObjectIndex)
    daemon_sets: kopf.Index[Any, Any]
    autoscalers: kopf.Index[Any, Any]
    nodes: kopf.Index[Any, Any]
    pods_by_node: Mapping[Any, Any]
    namespaces: kopf.Index[Any, Any]
    clusters: kopf.Index[Any, Any]
    ecs_tasks: kopf.Index[Any, Any]
    task_pods: Mapping[Any, Any]

    @classmethod
    def from_kwargs(
        cls,
        kwargs: Mapping[str, Any],
        pods: Mapping[Any, Any] = POD_INDEX,
        deployments: Mapping[Any, Any] = DEPLOYMENT_INDEX,
        replica_sets: Mapping[Any, Any] = REPLICA_SET_INDEX,
        services: Mapping[Any, Any] = SERVICE_INDEX,
    ) -> "Indexes":
        """kopf's indexes from a handler's kwargs, with the operator's own (the process's
        unless given)."""
        views = {
            "tasks": IndexView(pods, SERVICE),
            "pods_by_node": IndexView(pods, NODE),
            "task_pods": IndexView(pods, TASK),
            "services": IndexView(services, SERVICE),
            "services_by_family": IndexView(services, FAMILY),
            "deployments": deployments,
            "replica_sets": replica_sets,
        }
        fields: dict[str, Any] = {
            name: views[name] if name in views else kwargs[name] for name in cls.__dataclass_fields__
        }
        return cls(**fields)


def with_statuses(revisions: list[Revision], spec: Mapping[str, Any]) -> list[Revision]:
    """ACTIVE/INACTIVE from the owner's permanent ``deregisteredRevisions`` list.

    ControllerRevisions are immutable (even a label patch fails, as the API server
    re-encodes their data), so the status lives in the task definition's spec.
    """
    deregistered = {int(r) for r in spec.get("deregisteredRevisions") or []}
    return [
        Revision(**{**r.__dict__, "status": "INACTIVE" if r.revision in deregistered else "ACTIVE"}) for r in revisions
    ]
