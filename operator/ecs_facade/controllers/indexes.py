"""In-memory indexes of every kind the operator reads, kept by its own informers
(controllers/informers.py): one ``ObjectIndex`` per kind, holding each object under the keys
its ``*_keys`` function gives (slimmed to what is read of it), and ``IndexView``s where one
kind is looked up in several ways. ``Indexes.create()`` makes them all once, at start-up.

Handlers look up task definitions, their revisions, services and tasks here instead of
listing them from the API.
"""

import copy
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_facade import arns
from ecs_facade.api import (
    ANNOTATION_CONTENT_HASH,
    ANNOTATION_REGISTERED_AT,
    DEFAULT_CLUSTER,
    GROUP,
    KIND_CLUSTER,
    KIND_SERVICE,
    KIND_TASK,
    KIND_TASK_DEFINITION,
    LABEL_SERVICE,
    LABEL_TASK,
)
from ecs_facade.model.references import parse_task_definition_ref
from ecs_facade.model.taskdefinition import family_of
from ecs_facade.translate.capacity import is_capacity_gated
from ecs_facade.views.container_instance import slim_pod
from ecs_facade.views.task_state import task_state


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


FAMILY, NAME = "family", "name"  # the views of the task definitions index (and FAMILY of the services')


def task_definition_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """An ECSTaskDefinition's snapshot under ``("family", namespace, family)`` (what a
    ``family[:revision]`` reference names) and ``("name", namespace, name)``."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta["name"])
    td = snapshot(body, copied=False)
    return {(FAMILY, namespace, family_of(name, td.spec)): td, (NAME, namespace, name): td}


def revision_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """A registered revision (a ControllerRevision owned by an ECSTaskDefinition) under
    (namespace, the task definition's name); nothing for other ControllerRevisions."""
    meta = body.get("metadata") or {}
    owners = [ref for ref in meta.get("ownerReferences") or [] if ref.get("kind") == KIND_TASK_DEFINITION]
    if not owners:
        return {}
    data = body.get("data") or {}
    annotations = meta.get("annotations") or {}
    revision = Revision(
        name=meta["name"],
        owner=owners[0]["name"],
        revision=int(body.get("revision") or 0),
        status="ACTIVE",  # until the owner's deregisteredRevisions says otherwise
        content_hash=annotations.get(ANNOTATION_CONTENT_HASH, ""),
        registered_at=annotations.get(ANNOTATION_REGISTERED_AT, ""),
        request=dict(data.get("taskDefinition") or {}),
    )
    return {(str(meta.get("namespace") or ""), owners[0]["name"]): revision}


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


def autoscaler_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """A service's HorizontalPodAutoscaler, whole, under (namespace, service)."""
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    if LABEL_SERVICE not in labels:
        return {}
    return {(str(meta.get("namespace") or ""), labels[LABEL_SERVICE]): body}


def daemon_set_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """A DAEMON service's DaemonSet, under (namespace, service), slimmed (``slim_workload``)."""
    meta = body.get("metadata") or {}
    labels = meta.get("labels") or {}
    if LABEL_SERVICE not in labels:
        return {}
    return {(str(meta.get("namespace") or ""), labels[LABEL_SERVICE]): slim_workload(body)}


def node_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """A node (container instance) under ``("node", name)``, trimmed to what placement and
    the container instance view read."""
    meta, spec, status = body.get("metadata") or {}, body.get("spec") or {}, body.get("status") or {}
    name = str(meta["name"])
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return {
        (NODE, name): {
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


NAMESPACE, CLUSTER = "namespace", "cluster"  # the views of the namespaces and clusters indexes


def namespace_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """A namespace's labels under ``("namespace", name)``, for the clusters' namespaceSelector."""
    meta = body.get("metadata") or {}
    return {(NAMESPACE, str(meta["name"])): dict(meta.get("labels") or {})}


def cluster_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """An ECSCluster's snapshot under ``("cluster", its ECS name)`` (clusterName, which
    defaults to metadata.name)."""
    meta = body.get("metadata") or {}
    return {(CLUSTER, cluster_name(str(meta["name"]), body.get("spec") or {})): snapshot(body, copied=False)}


def ecs_task_keys(body: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """An ECSTask's snapshot under (namespace, name)."""
    meta = body.get("metadata") or {}
    return {(str(meta.get("namespace") or ""), str(meta["name"])): snapshot(body, copied=False)}


def cluster_name(name: str, spec: Mapping[str, Any]) -> str:
    return str(spec.get("clusterName") or name)


def cluster_ref_name(ref: Any) -> str:
    """A cluster reference as services and tasks give it: a name or a cluster ARN."""
    text = str(ref or "").strip()
    try:
        return arns.cluster_name(text, DEFAULT_CLUSTER)
    except ValueError:
        # not a valid name or cluster ARN: kept as given, so that ClusterNotFound names it
        return text


def cluster_spec_changed(seen: dict[str, tuple[str, int]], body: Mapping[str, Any], kind: str) -> bool:
    """An ECSCluster event (``kind``: ADDED, MODIFIED, DELETED) that matters for placement:
    it appeared, its spec changed, or it went."""
    meta = body.get("metadata", {})
    if kind == "DELETED":
        seen.pop(meta["name"], None)
        return True
    current = (str(meta.get("uid")), int(meta.get("generation") or 0))
    if seen.get(meta["name"]) == current:
        return False
    seen[meta["name"]] = current
    return True


def values_at(index: Mapping[Any, Any], key: Any) -> list[Any]:
    """A copy of the values under one key (an ``ObjectIndex`` hands out a tuple copied under
    its lock; a plain dict, as tests give, may change while it is copied: try again then)."""
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


NODE, SERVICE, TASK, GATED = "node", "service", "task", "gated"  # the views of the pods index
INDEX_WAIT_SECONDS = 10.0  # how long a kopf handler waits for the informer (Indexes.caught_up)


def pod_keys(pod: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """What the pod index holds of one pod, under one key per view that reads it:
    ``("node", node)`` for the pods bound to a node (ECS tasks or not: all take room on the
    instance), ``("service", namespace, service)`` for a service's tasks, ``("task",
    namespace, task)`` for a standalone task's pod, ``("gated", namespace, service)`` for a
    service's task waiting for its capacity provider (what placing it reads: ``gated_pod``)."""
    meta = pod.get("metadata") or {}
    labels, namespace = meta.get("labels") or {}, str(meta.get("namespace") or "")
    keys: dict[tuple[str, ...], Any] = {}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        keys[(NODE, str(node))] = slim_pod(pod)
    if LABEL_SERVICE in labels:
        keys[(SERVICE, namespace, labels[LABEL_SERVICE])] = task_state(pod, labels)
        if is_capacity_gated(pod) and not meta.get("deletionTimestamp"):
            keys[(GATED, namespace, labels[LABEL_SERVICE])] = gated_pod(pod)
    if LABEL_TASK in labels:
        keys[(TASK, namespace, labels[LABEL_TASK])] = pod  # standalone tasks are few: the whole pod
    return keys


def gated_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """A gated task's pod as its placement reads it: its name, its node affinity (narrowed to
    the chosen provider) and its scheduling gates (the capacity provider's is lifted)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    return {
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid")},
        "spec": {
            "affinity": copy.deepcopy(spec.get("affinity")),
            "schedulingGates": copy.deepcopy(list(spec.get("schedulingGates") or [])),
        },
    }


@dataclass(frozen=True)
class Entry:
    """What an index remembers of an object besides its values: enough to tell a relist's
    changes and to hand on the deletion of an object a relist no longer shows."""

    resource_version: str
    keys: frozenset[tuple[str, ...]]
    stub: Mapping[str, Any]  # kind, metadata (name, namespace, uid, labels, owners), spec.nodeName
    generation: int = 0  # how far its spec got: what a kopf handler waits for (``wait_for``)


KeysOf = Callable[[Mapping[str, Any]], dict[tuple[str, ...], Any]]


class ObjectIndex(Mapping[Any, Any]):
    """Every watched object of one kind, under the keys ``keys_of`` gives it: key -> the
    values of each object under it (a tuple, copied under the lock, so readers in worker
    threads never see it change). Kept by the operator's own informers
    (controllers/informers.py), not by kopf."""

    def __init__(self, keys_of: KeysOf) -> None:
        self._keys_of = keys_of
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # for wait_for
        self._waiting = 0  # threads in wait_for: a put wakes them (pods' puts skip it)
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
            generation = int(meta.get("generation") or 0)
            self._entries[ident] = Entry(str(meta.get("resourceVersion") or ""), frozenset(keys), stub, generation)
            if self._waiting:
                self._changed.notify_all()

    def wait_for(self, namespace: str, name: str, uid: str, generation: int, timeout: float) -> bool:
        """Wait until the index holds the object ``uid`` at ``generation`` or later (a kopf
        handler's body, which kopf's own watch may have brought before the informer's).
        False when it does not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                entry = self._entries.get((namespace, name))
                if entry is not None and entry.stub["metadata"].get("uid") == uid and entry.generation >= generation:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._waiting += 1
                try:
                    self._changed.wait(left)
                finally:
                    self._waiting -= 1

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


def revisions_of(index: Mapping[Any, Any], namespace: str, owner: str) -> list[Revision]:
    """All revisions of one ECSTaskDefinition, oldest first."""
    return sorted(index.get((namespace, owner), []), key=lambda r: r.revision)


# the keys function of each kind's index (controllers/informers.py watches these kinds)
KEYS: Mapping[str, KeysOf] = {
    KIND_SERVICE: service_keys,
    "Pod": pod_keys,
    "ReplicaSet": replica_set_keys,
    "Deployment": deployment_keys,
    "DaemonSet": daemon_set_keys,
    "HorizontalPodAutoscaler": autoscaler_keys,
    "ControllerRevision": revision_keys,
    KIND_TASK_DEFINITION: task_definition_keys,
    KIND_TASK: ecs_task_keys,
    KIND_CLUSTER: cluster_keys,
    "Node": node_keys,
    "Namespace": namespace_keys,
}


@dataclass(frozen=True)
class Indexes:
    """Every index the handlers read: the lookups (views of one ``ObjectIndex`` per kind,
    or the index itself), and the indexes by kind (``objects``, what the informers keep
    current). Made once at start-up (``create``) and handed to every handler through kopf's
    memo (``of``)."""

    services: Mapping[Any, Any]  # (namespace, name) -> Snapshot
    services_by_family: Mapping[Any, Any]  # (namespace, family) -> service names
    task_definitions: Mapping[Any, Any]  # (namespace, family) -> Snapshot
    task_definitions_by_name: Mapping[Any, Any]  # (namespace, name) -> Snapshot
    revisions: Mapping[Any, Any]  # (namespace, task definition name) -> Revision
    replica_sets: Mapping[Any, Any]  # (namespace, service) -> slimmed ReplicaSets
    tasks: Mapping[Any, Any]  # (namespace, service) -> TaskState
    deployments: Mapping[Any, Any]  # (namespace, service) -> slimmed Deployment
    daemon_sets: Mapping[Any, Any]  # (namespace, service) -> slimmed DaemonSet
    autoscalers: Mapping[Any, Any]  # (namespace, service) -> HPA
    nodes: Mapping[Any, Any]  # node name -> slimmed node
    pods_by_node: Mapping[Any, Any]  # node name -> slimmed pods
    namespaces: Mapping[Any, Any]  # namespace -> labels
    clusters: Mapping[Any, Any]  # ECS cluster name -> Snapshot
    ecs_tasks: Mapping[Any, Any]  # (namespace, name) -> Snapshot
    task_pods: Mapping[Any, Any]  # (namespace, task) -> pod
    # (namespace, service) -> gated_pod of its tasks waiting for a capacity provider
    gated_pods: Mapping[Any, Any] = field(default_factory=dict)
    objects: Mapping[str, ObjectIndex] = field(default_factory=dict)  # kind -> its index

    @classmethod
    def create(cls, **given: ObjectIndex) -> "Indexes":
        """One empty index per kind (``KEYS``), and the views of them; ``given``: an index
        of one's own for a kind (tests)."""
        objects = {kind: given[kind] if kind in given else ObjectIndex(keys_of) for kind, keys_of in KEYS.items()}
        pods, services, definitions = objects["Pod"], objects[KIND_SERVICE], objects[KIND_TASK_DEFINITION]
        return cls(
            services=IndexView(services, SERVICE),
            services_by_family=IndexView(services, FAMILY),
            task_definitions=IndexView(definitions, FAMILY),
            task_definitions_by_name=IndexView(definitions, NAME),
            revisions=objects["ControllerRevision"],
            replica_sets=objects["ReplicaSet"],
            tasks=IndexView(pods, SERVICE),
            deployments=objects["Deployment"],
            daemon_sets=objects["DaemonSet"],
            autoscalers=objects["HorizontalPodAutoscaler"],
            nodes=IndexView(objects["Node"], NODE),
            pods_by_node=IndexView(pods, NODE),
            namespaces=IndexView(objects["Namespace"], NAMESPACE),
            clusters=IndexView(objects[KIND_CLUSTER], CLUSTER),
            ecs_tasks=objects[KIND_TASK],
            task_pods=IndexView(pods, TASK),
            gated_pods=IndexView(pods, GATED),
            objects=objects,
        )

    def sizes(self) -> dict[str, int]:
        """The objects held per kind (``ecs_facade_index_objects``)."""
        return {kind: index.count() for kind, index in self.objects.items()}

    def key_counts(self) -> dict[str, int]:
        """The keys per kind's index (``ecs_facade_state_entries{store="index_keys.<kind>"}``):
        a key whose last object went is removed with it."""
        return {f"index_keys.{kind}": len(index) for kind, index in self.objects.items()}

    @staticmethod
    def of(memo: Mapping[str, Any]) -> "Indexes":
        """The operator's indexes, from a kopf handler's ``memo`` (controllers/informers.py
        puts them there at start-up; kopf's per-object memos are shallow copies of it)."""
        indexes: Indexes = memo["indexes"]
        return indexes

    def caught_up(self, kind: str, body: Mapping[str, Any], timeout: float | None = None) -> bool:
        """The kind's index holds the object of a kopf handler's ``body`` at its generation or
        later. kopf and the informers watch with streams of their own: kopf may hand a
        handler an object (or a spec change) the informer has not delivered yet, and a
        reconcile would find it missing or old. Waits up to ``timeout`` seconds for it
        (``INDEX_WAIT_SECONDS``)."""
        meta = body.get("metadata") or {}
        return self.objects[kind].wait_for(
            str(meta.get("namespace") or ""),
            str(meta.get("name")),
            str(meta.get("uid") or ""),
            int(meta.get("generation") or 0),
            INDEX_WAIT_SECONDS if timeout is None else timeout,
        )


def with_statuses(revisions: list[Revision], spec: Mapping[str, Any]) -> list[Revision]:
    """ACTIVE/INACTIVE from the owner's permanent ``deregisteredRevisions`` list.

    ControllerRevisions are immutable (even a label patch fails, as the API server
    re-encodes their data), so the status lives in the task definition's spec.
    """
    deregistered = {int(r) for r in spec.get("deregisteredRevisions") or []}
    return [
        Revision(**{**r.__dict__, "status": "INACTIVE" if r.revision in deregistered else "ACTIVE"}) for r in revisions
    ]
