"""Every kind the operator reads, watched by its own informers (kube/informer.py), not kopf.

Pods, ReplicaSets, Deployments and ECSServices are most of a cluster's watch events (a pod
changes four times on its way to running, and each change moves its ReplicaSet's and its
Deployment's status, and then the service's status). kopf runs every event through its
per-object pipeline (a worker task per object, the event kept whole until that worker has
handled it, every index and handler invoked with its keyword arguments): that was most of
the operator's CPU, and, with nothing slowing the stream when the workers fall behind, its
memory peaks (docs/performance.md). The other kinds (task definitions, their revisions,
tasks, clusters, nodes, namespaces, DaemonSets, HPAs) go the same way, so that there is one
set of indexes, filled before any handler runs. Here each event is slimmed into its kind's
index (``indexes.Indexes``) and dropped, in the informer's thread, which then queues the
service's reconcile, or has the handler of the kind run (off the thread when it would block).

kopf keeps the lifecycle of the ECS kinds (create, update, resume, delete with finalizers,
timers): ``Watching`` is made by a startup handler and put, with the indexes, in kopf's memo
(``memo["watching"]``, ``memo["indexes"]``), which kopf hands to every handler. The first
lists complete in that handler, all kinds at once; only then is every listed service queued
and the service workers let go: no reconcile sees half of the picture. kopf starts its own
watches after its startup handlers.
"""

import asyncio
import contextvars
import functools
import logging
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from ecs_facade import metrics
from ecs_facade.api import (
    API_VERSION,
    CLUSTERS,
    GROUP,
    KIND_CLUSTER,
    KIND_SERVICE,
    KIND_TASK,
    KIND_TASK_DEFINITION,
    LABEL_MANAGED_BY,
    LABEL_SERVICE,
    LABEL_TASK,
    MANAGED_BY,
    SERVICES,
    TASK_DEFINITIONS,
    TASKS,
    VERSION,
)
from ecs_facade.controllers import service, task, taskdefinition
from ecs_facade.controllers.common import HandlerContext, Logger
from ecs_facade.controllers.indexes import Indexes, ObjectIndex, Snapshot, all_values, cluster_spec_changed, trimmed
from ecs_facade.controllers.namespace_patterns import wanted
from ecs_facade.controllers.service.children import ChildrenCheck, check_children
from ecs_facade.controllers.state import OperatorState, of
from ecs_facade.controllers.workqueue import WorkQueue
from ecs_facade.kube import client as kube
from ecs_facade.kube.informer import HttpTransport, Informer

logger = logging.getLogger(__name__)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def scopes(patterns: Sequence[str]) -> Sequence[str | None]:
    """One watch per namespace when every pattern is a plain name (the chart's
    ``watchNamespaces``, with Roles in those namespaces only); one of every namespace
    (None) when there are none, or globs (which kopf resolves with a cluster-wide view)."""
    if patterns and all(_DNS_LABEL.match(p) for p in patterns):
        return [*sorted(set(patterns))]
    return [None]


def _stub(api_version: str, kind: str, namespace: str, name: str) -> kopf.Body:
    return kopf.Body({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}})


@dataclass(frozen=True)
class Watched:
    """One kind the operator watches: where, which objects. Its index is the one of its kind
    in ``Indexes.objects``. A cluster-scoped kind is watched cluster-wide whatever
    ``--namespace`` says (as kopf watched nodes, namespaces and ECSClusters)."""

    kind: str
    api_path: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    label_selector: str | None = None
    cluster_scoped: bool = False

    def path(self, namespace: str | None) -> str:
        if namespace is None or self.cluster_scoped:
            return f"{self.api_path}/{self.plural}"
        return f"{self.api_path}/namespaces/{namespace}/{self.plural}"

    def scopes(self, patterns: Sequence[str]) -> Sequence[str | None]:
        return [None] if self.cluster_scoped else scopes(patterns)


_OURS = f"/apis/{GROUP}/{VERSION}"
ECS_SERVICES = Watched(KIND_SERVICE, _OURS, SERVICES)
PODS = Watched("Pod", "/api/v1", "pods")
REPLICA_SETS = Watched("ReplicaSet", "/apis/apps/v1", "replicasets", LABEL_SERVICE)
DEPLOYMENTS = Watched("Deployment", "/apis/apps/v1", "deployments", LABEL_SERVICE)
DAEMON_SETS = Watched("DaemonSet", "/apis/apps/v1", "daemonsets", LABEL_SERVICE)
AUTOSCALERS = Watched("HorizontalPodAutoscaler", "/apis/autoscaling/v2", "horizontalpodautoscalers", LABEL_SERVICE)
REVISIONS = Watched("ControllerRevision", "/apis/apps/v1", "controllerrevisions", f"{LABEL_MANAGED_BY}={MANAGED_BY}")
ECS_TASK_DEFINITIONS = Watched(KIND_TASK_DEFINITION, _OURS, TASK_DEFINITIONS)
ECS_TASKS = Watched(KIND_TASK, _OURS, TASKS)
ECS_CLUSTERS = Watched(KIND_CLUSTER, _OURS, CLUSTERS, cluster_scoped=True)
NODES = Watched("Node", "/api/v1", "nodes", cluster_scoped=True)
NAMESPACES = Watched("Namespace", "/api/v1", "namespaces", cluster_scoped=True)
WATCHED = (
    ECS_SERVICES,
    PODS,
    REPLICA_SETS,
    DEPLOYMENTS,
    DAEMON_SETS,
    AUTOSCALERS,
    REVISIONS,
    ECS_TASK_DEFINITIONS,
    ECS_TASKS,
    ECS_CLUSTERS,
    NODES,
    NAMESPACES,
)
WORKLOADS = frozenset({DEPLOYMENTS.kind, DAEMON_SETS.kind, AUTOSCALERS.kind})  # a service's; changes put back
# kinds whose handlers kopf called for every object when its watch began: their first list
# is handed on likewise (ECSServices are queued at start-up; pods, ReplicaSets and
# Deployments never were)
HANDED_ON_WHEN_LISTED = frozenset(
    {DAEMON_SETS.kind, AUTOSCALERS.kind, REVISIONS.kind, ECS_TASK_DEFINITIONS.kind, ECS_CLUSTERS.kind, NODES.kind}
)
MAX_LOGGERS = 8192


class Events:
    """Keeps one kind's index current with its informers' lists and events, and hands each
    change on (index first, then the handlers, as kopf does):

    - a service that is new, changed or gone (not the echo of a status write) queues its
      reconcile;
    - a service's task (pod) or ECS deployment (ReplicaSet) queues the service's reconcile
      (a task gated for a capacity provider at once: the reconcile places it, lifts the gate);
    - a service's Deployment, DaemonSet or HPA queues it too (one deleted by hand is put back);
    - a standalone task's pod has the task's reconcile run;
    - a node turning DRAINING or ACTIVE queues the services with tasks on it;
    - a revision, or a task definition's change, queues the services of the family and
      starts the tasks that waited for it;
    - an ECSCluster that appears, changes its spec or goes queues the services naming it and
      starts the tasks that waited for it.

    What would block (an API call) runs in ``submit`` (off the informer's thread; in the
    operator, ``Watching.submit``: retried with backoff until it succeeds)."""

    def __init__(
        self,
        watched: Watched,
        state: OperatorState,
        indexes: Indexes,
        settings: kopf.OperatorSettings,
        submit: Callable[..., Any],
        patterns: Sequence[str] = (),
        context: HandlerContext | None = None,
        loggers: dict[tuple[str, str, str, bool], Logger] | None = None,
    ) -> None:
        self._watched, self._state, self._indexes, self._settings = watched, state, indexes, settings
        self._index: ObjectIndex = indexes.objects[watched.kind]
        self._submit, self._patterns = submit, () if watched.cluster_scoped else tuple(patterns)
        self._context = context if context is not None else HandlerContext()
        # the objects' loggers, one cache for every kind's Events (Watching.loggers): an
        # object's deletion, seen by its own kind's Events, drops the loggers the others made
        self._loggers = loggers if loggers is not None else {}
        self._specs: dict[str, tuple[str, int]] = {}  # ECSClusters: (uid, generation) last handed on
        self._first: list[Mapping[str, Any]] = []  # the first list, until hand_on_listed

    def listed(self, namespace: str | None, objs: list[dict[str, Any]], first: bool) -> None:
        """A (re)list of ``namespace`` (None: all): the first fills the index; a later one
        (after a 410) hands on what changed since the watch broke off."""
        mine = [o for o in objs if wanted(self._patterns, str(o["metadata"].get("namespace") or ""))]
        for obj in mine:
            obj.setdefault("kind", self._watched.kind)  # a list's items have none
        changes = self._index.replace(mine, namespace)
        if not first:
            self._hand_on(changes)
        elif self._watched.kind in HANDED_ON_WHEN_LISTED:
            self._first.extend(mine)  # handed on once every kind is listed: hand_on_listed

    def hand_on_listed(self) -> None:
        """Each object the first lists found, as kopf handed its watch's first events to the
        kind's handlers (nodes: their DRAINING state is remembered; clusters: their spec),
        once every kind is listed."""
        first, self._first = self._first, []
        self._hand_on([("ADDED", obj) for obj in first])

    def _hand_on(self, changes: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for kind, changed in changes:
            try:
                self.changed(kind, changed)
            except Exception:  # the index holds the list already: one failure must not lose the rest
                meta = changed.get("metadata") or {}
                logger.exception("handling %s %s/%s failed", kind, meta.get("namespace"), meta.get("name"))

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if not wanted(self._patterns, namespace):
            return
        obj.setdefault("kind", self._watched.kind)
        if kind == "DELETED":
            self._index.remove(namespace, str(meta.get("name")))
        else:
            self._index.put(obj)
        self.changed(kind, obj)

    def changed(self, kind: str, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        labels, namespace = meta.get("labels") or {}, str(meta.get("namespace") or "")
        name, watched = str(meta.get("name")), self._watched.kind
        if watched == KIND_SERVICE:
            self._service_changed(kind, meta)
        elif watched in (PODS.kind, REPLICA_SETS.kind, *WORKLOADS) and LABEL_SERVICE in labels:
            self._service_child_changed(kind, obj, namespace, labels[LABEL_SERVICE])
        elif watched == NODES.kind:
            service.instance_state_changed(
                self._state,
                name,
                labels,
                self._indexes,
                self.service_logger,
                variables=self._context.get(),
                deleted=kind == "DELETED",
            )
        elif watched == REVISIONS.kind:
            if kind == "DELETED":
                self._state.services.forget_revision(name)  # its translation, kept for the services
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") == KIND_TASK_DEFINITION:
                    definitions = self._indexes.task_definitions_by_name
                    definition = self._logger_while(KIND_TASK_DEFINITION, namespace, ref["name"], definitions)
                    self._submit(
                        taskdefinition.revision_changed, self._state, namespace, ref["name"], self._indexes, definition
                    )
        elif watched == ECS_TASK_DEFINITIONS.kind:
            definition = self._logger(KIND_TASK_DEFINITION, namespace, name, keep=kind != "DELETED")
            self._submit(taskdefinition.task_definition_event, self._state, namespace, name, self._indexes, definition)
        elif watched == ECS_TASKS.kind and kind == "DELETED":
            # what was kept of it: kopf calls the task's deletion handler only when a finalizer
            # held it (a STOPPED task's retention timer), not for a task deleted while it runs
            self._state.tasks.forget(namespace, name, str(meta.get("uid") or ""))
        elif watched == ECS_CLUSTERS.kind and cluster_spec_changed(self._specs, obj, kind):
            spec = obj.get("spec") or {}  # a DELETED relist's stub has none: then the metadata.name
            cluster_logger = self._logger(KIND_CLUSTER, "", name, keep=kind != "DELETED")
            self._submit(task.cluster_event, self._state, name, spec, self._indexes, cluster_logger)
        if watched == PODS.kind and LABEL_TASK in labels:
            task_name = labels[LABEL_TASK]
            self._submit(
                task.reconcile,
                self._state,
                namespace,
                task_name,
                self._indexes,
                self._logger_while(KIND_TASK, namespace, task_name, self._indexes.ecs_tasks),
            )
        if kind == "DELETED" and watched in (KIND_SERVICE, KIND_TASK, KIND_TASK_DEFINITION, KIND_CLUSTER):
            for known in (False, True):  # what the other kinds' events made for it goes too
                self._loggers.pop((watched, namespace, name, known), None)

    def _service_changed(self, kind: str, meta: Mapping[str, Any]) -> None:
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name"))

        def queueing() -> tuple[Logger, contextvars.Context | None]:
            # the logger and kopf's context only for a change that is queued (not for the
            # echoes of status writes, most of these events)
            return self._logger(KIND_SERVICE, namespace, name), self._context.get()

        service.service_changed(self._state, kind, meta, self._indexes, queueing)

    def _service_child_changed(self, kind: str, obj: Mapping[str, Any], namespace: str, name: str) -> None:
        """A service's pod, ReplicaSet, Deployment, DaemonSet or HPA."""
        deleted, watched = kind == "DELETED", self._watched.kind
        service_logger = self.service_logger(namespace, name)
        # kopf's context, for the kopf logger's Events (None before kopf ran a handler:
        # the service's own Events are posted without it)
        variables = self._context.get()
        if watched in WORKLOADS:  # it only queues (one deleted by hand: the reconcile checks)
            args = (self._state, obj, namespace, name, self._indexes, service_logger)
            service.workload_event(*args, deleted=deleted, variables=variables)
        else:
            service.tasks_changed(
                self._state, obj, namespace, name, self._indexes, service_logger, deleted=deleted, variables=variables
            )

    def service_logger(self, namespace: str, name: str) -> Logger:
        return self._logger_while(KIND_SERVICE, namespace, name, self._indexes.services)

    def _logger_while(self, kind: str, namespace: str, name: str, index: Mapping[Any, Any]) -> Logger:
        """The logger of an object another kind's event concerns (a service's pod, a task's
        pod, a task definition's revision), kept only while the object is in its ``index``:
        the garbage collector deletes the children after the object, and the object's own
        deletion, on another informer's thread, may drop its loggers between this one being
        made and kept. The informer takes the object out of the index before it drops them,
        so asking the index again after keeping it leaves none behind either way."""
        made = self._logger(kind, namespace, name, keep=(namespace, name) in index)
        if (namespace, name) not in index:
            for known in (False, True):
                self._loggers.pop((kind, namespace, name, known), None)
        return made

    def _logger(self, kind: str, namespace: str, name: str, keep: bool = True) -> Logger:
        """The object's kopf logger (its warnings become the object's Events), once kopf's
        event queue is known (a kopf handler ran); a plain one until then.

        Kept (a few thousand at most) while the object is there (``keep``): a pod event of a
        service asks for one, pod events are most of the events, and a kopf logger made for
        each showed in the operator's profile. Dropped when the object goes (``changed``); one
        for an object already gone (its children's deletions) is made and not kept."""
        key = (kind, namespace, name, self._context.known())
        made = self._loggers.get(key)
        if made is None:
            if not key[3]:
                made = logging.LoggerAdapter(logger, {"object": f"{kind} {namespace}/{name}"})
            else:
                made = kopf.ObjectLogger(body=_stub(API_VERSION, kind, namespace, name), settings=self._settings)
            if keep:
                if len(self._loggers) >= MAX_LOGGERS:
                    self._loggers.clear()
                self._loggers[key] = made
        return made


# a failed piece of side work is tried again after this long, doubling up to the most
SIDE_WORK_BACKOFF = (0.5, 60.0)


def side_work_key(function: Callable[..., Any], args: Sequence[Any]) -> Hashable:
    """One piece of side work's key: the function and the names it is given (a namespace,
    a task's or a task definition's name, a cluster's): asked again while it waits or runs,
    it runs once more, with the latest arguments (the work queue's rules)."""
    name = f"{getattr(function, '__module__', '')}.{getattr(function, '__qualname__', function)}"
    return (name, *(arg for arg in args if isinstance(arg, str)))


def _side_work(key: Hashable, _apply: bool, context: Any) -> None:
    function, args, kwargs, variables = context
    variables.run(function, *args, **kwargs)


class Watching:
    """The operator's watches, made once per start (``start_informers``) and kept in kopf's
    memo: the indexes, the informers that keep them (one per kind and namespace scope), the
    work queue their blocking work runs in, the ``--namespace`` patterns, and kopf's context
    variables remembered from one of its handlers (for the kopf loggers' Events)."""

    def __init__(self, state: OperatorState, indexes: Indexes, patterns: Sequence[str] = (), workers: int = 4) -> None:
        self.state, self.indexes, self.patterns = state, indexes, tuple(patterns)
        self.context = HandlerContext()
        # the side work of events (a standalone task's reconcile, the tasks waiting for a task
        # definition or a cluster): a pool that logged a failure and forgot it left a task
        # waiting for good, as nothing else would ask again; here a failure is retried with a
        # per-key backoff until it succeeds (the work returns once its object is gone)
        self.side_work = WorkQueue(
            "informer-events",
            _side_work,
            workers=workers,
            batch_seconds=0.0,
            backoff_first=SIDE_WORK_BACKOFF[0],
            backoff_max=SIDE_WORK_BACKOFF[1],
        )
        self._informers: list[Informer] = []
        self._events: list[Events] = []
        self._children: ChildrenCheck | None = None
        self.loggers: dict[tuple[str, str, str, bool], Logger] = {}  # the objects' loggers (Events._logger)

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run off the informer's thread, in a copy of kopf's context (for its Events), until
        it succeeds (``side_work_key``: one run at a time per key, retried with backoff)."""
        variables = self.context.get() or contextvars.copy_context()
        context = (function, args, kwargs, variables)
        self.side_work.add(side_work_key(function, args), urgent=True, apply=False, context=context)

    def informers(self, settings: kopf.OperatorSettings, watch_timeout: int) -> list[Informer]:
        """One informer per kind and namespace scope, each with its kind's Events; their
        requests have the operator's connect and read timeouts (a silent watch is given up
        after ``watch_timeout`` plus the read timeout, and resumed)."""
        made: list[Informer] = []
        config = self.state.config
        for watched in WATCHED:
            events = Events(
                watched, self.state, self.indexes, settings, self.submit, self.patterns, self.context, self.loggers
            )
            self._events.append(events)
            for namespace in watched.scopes(self.patterns):
                transport = HttpTransport(
                    kube.watch_client(),
                    read_timeout=config.api_read_timeout_seconds,
                    connect_timeout=config.api_connect_timeout_seconds,
                )
                made.append(
                    Informer(
                        watched.path(namespace),
                        transport,
                        on_list=functools.partial(events.listed, namespace),
                        on_event=events.event,
                        timeout_seconds=watch_timeout,
                        label_selector=watched.label_selector,
                        trim=trimmed,
                    )
                )
        return made

    async def start(self, settings: kopf.OperatorSettings, watch_timeout: int) -> None:
        """List every kind (every watched namespace) at once, then watch them; then queue
        every service and hand on what kopf used to hand its event handlers first."""
        self.side_work.start()
        informers = self.informers(settings, watch_timeout)
        listed = await asyncio.gather(*(asyncio.to_thread(i.sync) for i in informers), return_exceptions=True)
        for informer, outcome in zip(informers, listed, strict=True):
            if isinstance(outcome, ApiException):
                raise kopf.TemporaryError(
                    f"listing {informer.path}: {outcome.status} {outcome.reason}", delay=10
                ) from outcome
            if isinstance(outcome, BaseException):
                raise outcome
        for informer in informers:
            informer.start(functools.partial(contextvars.copy_context().run, informer.run))
            self._informers.append(informer)
        for watched in WATCHED:
            logger.info("%s: %d listed", watched.plural, self.indexes.objects[watched.kind].count())
        services = self._events[WATCHED.index(ECS_SERVICES)]
        for snapshot in all_values(self.indexes.services):
            services.changed("ADDED", {"metadata": _meta(snapshot)})
        for events in self._events:
            events.hand_on_listed()
        interval = lambda: self.state.config.children_check_seconds  # noqa: E731
        self._children = ChildrenCheck(interval, self.check_children, _check_failed)
        self._children.start()

    def check_children(self) -> None:
        """The services' budgets and Services deleted by hand are applied again (not watched:
        controllers/service/children.py)."""
        scopes = ECS_SERVICES.scopes(self.patterns)
        check_children(self.state, scopes, kube.list_names, self._put_back)

    def _put_back(self, namespace: str, name: str) -> None:
        events = self._events[WATCHED.index(ECS_SERVICES)]
        logger_ = events.service_logger(namespace, name)
        logger_.info("Its disruption budget or Services were deleted: applying them again.")
        variables = self.context.get()
        service.enqueue(
            self.state, namespace, name, self.indexes, logger_, urgent=True, apply=True, variables=variables
        )

    def sizes(self) -> dict[str, int]:
        """What the informers keep per object besides the indexes: the side work's queue, the
        objects' loggers (at most ``MAX_LOGGERS``), the ECSClusters' last specs handed on."""
        sizes = {f"side_work.{name}": count for name, count in self.side_work.sizes().items()}
        caches = {id(events._loggers): events._loggers for events in self._events}
        caches[id(self.loggers)] = self.loggers
        sizes["informer_loggers"] = sum(len(cache) for cache in caches.values())
        sizes["cluster_specs"] = sum(len(events._specs) for events in self._events)
        return sizes

    def stop(self) -> None:
        if self._children is not None:
            self._children.stop()
        for informer in self._informers:
            informer.stop()
        self._informers.clear()
        self.side_work.stop(timeout=1.0)


def _check_failed(error: BaseException) -> None:
    logger.warning("checking the services' disruption budgets and Services failed (checked again later): %s", error)


def kopf_sizes(loop: asyncio.AbstractEventLoop, memories: Any) -> dict[str, int]:
    """kopf's own per-object state: its memories (one per object of the kinds it watches,
    forgotten when the object's deletion is seen: ``memories``, handed to kopf.run by
    ``ecs-facade run``), its per-object workers (each ends ``kopf_idle_seconds`` after the
    object's last event) and timers. Read from the metrics' thread: asyncio.all_tasks copies
    the loop's tasks safely from another thread."""
    names = [task.get_name() for task in asyncio.all_tasks(loop)]
    sizes = {
        "kopf.workers": sum(1 for name in names if name.startswith("worker for ")),
        "kopf.timers": sum(1 for name in names if name.startswith("runner of ")),
    }
    if memories is not None:
        sizes["kopf.memories"] = sum(1 for _ in memories.iter_all_memories())
    return sizes


def count_sizes(memo: kopf.Memo, watching: "Watching", loop: asyncio.AbstractEventLoop) -> None:
    """The sizes of this start's memories and indexes on /metrics (metrics.STATE_ENTRIES,
    INDEX_OBJECTS; replaced at each start)."""
    state, indexes = watching.state, watching.indexes
    metrics.STATE_ENTRIES.sources["operator"] = state.sizes
    metrics.STATE_ENTRIES.sources["informers"] = watching.sizes
    metrics.STATE_ENTRIES.sources["indexes"] = indexes.key_counts
    metrics.STATE_ENTRIES.sources["kopf"] = functools.partial(kopf_sizes, loop, memo.get("memories"))
    metrics.INDEX_OBJECTS.sources["indexes"] = indexes.sizes


def _meta(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "name": snapshot.name,
        "namespace": snapshot.namespace,
        "uid": snapshot.uid,
        "generation": snapshot.generation,
        "annotations": dict(snapshot.annotations),
    }


@kopf.on.startup()
async def start_informers(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Make the indexes and the informers, list every kind at once and watch them, queue
    every service, then let the service workers go: every index is filled. Before kopf
    starts its own watches (it does after its startup handlers), so that its handlers find
    their objects; the ``--namespace`` patterns come from ``ecs-facade run`` in the memo."""
    previous: Watching | None = memo.get("watching")
    if previous is not None:
        previous.stop()  # a retry of this handler after a failed list
    state = of(memo)
    indexes = Indexes.create()
    watching = Watching(state, indexes, memo.get("namespaces") or ())
    memo["indexes"], memo["watching"] = indexes, watching
    count_sizes(memo, watching, asyncio.get_running_loop())
    await watching.start(settings, state.config.watch_server_timeout)
    service.release_service_workers(state)


@kopf.on.cleanup()
def stop_informers(memo: kopf.Memo, **_: Any) -> None:
    watching: Watching | None = memo.get("watching")
    if watching is not None:
        watching.stop()
