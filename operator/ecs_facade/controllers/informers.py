"""ECSServices, pods, ReplicaSets and Deployments, watched by the operator's own informers,
not kopf.

They are most of a cluster's watch events (a pod changes four times on its way to running,
and each change moves its ReplicaSet's and its Deployment's status, and then the service's
status). kopf runs every event
through its per-object pipeline (a worker task per object, the event kept whole until that
worker has handled it, every index and handler invoked with its keyword arguments): that was
most of the operator's CPU, and, with nothing slowing the stream when the workers fall
behind, its memory peaks (docs/performance.md). Here each event is slimmed into its index
(``indexes.SERVICE_INDEX``, ``POD_INDEX``, ``REPLICA_SET_INDEX``, ``DEPLOYMENT_INDEX``) and
dropped, in the informer's thread, which then queues the service's reconcile or has the
standalone task's run.

The first lists complete in a startup handler, all kinds at once, and only then is every
listed service queued (as a watch's first events would): no reconcile sees half of the
picture. kopf starts its own watches after its startup handlers.
"""

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import kopf
from kopf._cogs.structs.references import NamespaceName, match_namespace  # kopf's glob rules for --namespace
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import API_VERSION, GROUP, KIND_SERVICE, KIND_TASK, LABEL_SERVICE, LABEL_TASK, SERVICES, VERSION
from ecs_facade.controllers import service, task
from ecs_facade.controllers.common import Logger, forget_handler_context, handler_context, has_handler_context
from ecs_facade.controllers.indexes import (
    DEPLOYMENT_INDEX,
    POD_INDEX,
    REPLICA_SET_INDEX,
    SERVICE_INDEX,
    Indexes,
    ObjectIndex,
    Snapshot,
    all_values,
    trimmed,
)
from ecs_facade.controllers.state import OperatorState, of
from ecs_facade.kube import client as kube
from ecs_facade.kube.informer import HttpTransport, Informer
from ecs_facade.translate.capacity import is_capacity_gated

logger = logging.getLogger(__name__)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_patterns: tuple[str, ...] = ()
_informers: list[Informer] = []
_executor: concurrent.futures.ThreadPoolExecutor | None = None


def watch_namespaces(patterns: Sequence[str]) -> None:
    """``ecs-facade run --namespace``: the namespaces (or patterns) kopf watches, for the
    pods too. Empty: every namespace."""
    global _patterns
    _patterns = tuple(patterns)


def scopes(patterns: Sequence[str]) -> Sequence[str | None]:
    """One watch per namespace when every pattern is a plain name (the chart's
    ``watchNamespaces``, with Roles in those namespaces only); one of every namespace
    (None) when there are none, or globs (which kopf resolves with a cluster-wide view)."""
    if patterns and all(_DNS_LABEL.match(p) for p in patterns):
        return [*sorted(set(patterns))]
    return [None]


def wanted(patterns: Sequence[str], namespace: str) -> bool:
    return not patterns or any(match_namespace(NamespaceName(namespace), pattern) for pattern in patterns)


def _stub(api_version: str, kind: str, namespace: str, name: str) -> kopf.Body:
    return kopf.Body({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}})


@dataclass(frozen=True)
class Watched:
    """One kind the operator watches itself: where, which objects, and what their index is."""

    kind: str
    api_path: str  # "/api/v1" or "/apis/<group>/<version>"
    plural: str
    index: ObjectIndex
    label_selector: str | None = None

    def path(self, namespace: str | None) -> str:
        if namespace is None:
            return f"{self.api_path}/{self.plural}"
        return f"{self.api_path}/namespaces/{namespace}/{self.plural}"


PODS = Watched("Pod", "/api/v1", "pods", POD_INDEX)
REPLICA_SETS = Watched("ReplicaSet", "/apis/apps/v1", "replicasets", REPLICA_SET_INDEX, LABEL_SERVICE)
DEPLOYMENTS = Watched("Deployment", "/apis/apps/v1", "deployments", DEPLOYMENT_INDEX, LABEL_SERVICE)
ECS_SERVICES = Watched(KIND_SERVICE, f"/apis/{GROUP}/{VERSION}", SERVICES, SERVICE_INDEX)
WATCHED = (ECS_SERVICES, PODS, REPLICA_SETS, DEPLOYMENTS)
MAX_LOGGERS = 8192


class Events:
    """Keeps one kind's index current with its informers' lists and events, and hands each
    change on (index first, then the handlers, as kopf does):

    - a service that is new, changed or gone (not the echo of a status write) queues its
      reconcile;
    - a service's task (pod) or ECS deployment (ReplicaSet) queues the service's reconcile;
    - a service's Deployment queues it too (one deleted by hand is put back);
    - a standalone task's pod has the task's reconcile run.

    What would block (an API call) runs in ``submit`` (off the informer's thread)."""

    def __init__(
        self,
        watched: Watched,
        state: OperatorState,
        indexes: Indexes,
        settings: kopf.OperatorSettings,
        submit: Callable[..., Any],
        patterns: Sequence[str] = (),
    ) -> None:
        self._watched, self._state, self._indexes, self._settings = watched, state, indexes, settings
        self._submit, self._patterns = submit, tuple(patterns)
        self._loggers: dict[tuple[str, str, str, bool], Logger] = {}

    def listed(self, namespace: str | None, objs: list[dict[str, Any]], first: bool) -> None:
        """A (re)list of ``namespace`` (None: all): the first fills the index; a later one
        (after a 410) hands on what changed since the watch broke off."""
        mine = [o for o in objs if wanted(self._patterns, str(o["metadata"].get("namespace") or ""))]
        for obj in mine:
            obj.setdefault("kind", self._watched.kind)  # a list's items have none
        changes = self._watched.index.replace(mine, namespace)
        if not first:
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
            self._watched.index.remove(namespace, str(meta.get("name")))
        else:
            self._watched.index.put(obj)
        self.changed(kind, obj)

    def changed(self, kind: str, obj: Mapping[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        labels, namespace = meta.get("labels") or {}, str(meta.get("namespace") or "")
        deleted = kind == "DELETED"
        if self._watched.kind == ECS_SERVICES.kind:
            name = str(meta.get("name"))
            # the logger and kopf's context only for a change that is queued (not for the
            # echoes of status writes, most of these events)
            service.service_changed(
                self._state,
                kind,
                meta,
                self._indexes,
                lambda: (self._logger(KIND_SERVICE, namespace, name), handler_context()),
            )
            return
        if LABEL_SERVICE in labels:
            name = labels[LABEL_SERVICE]
            service_logger = self._logger(KIND_SERVICE, namespace, name)
            if self._watched.kind == PODS.kind and not deleted and is_capacity_gated(obj):
                self._submit(
                    service.assign_capacity_provider, self._state, namespace, name, obj, self._indexes, service_logger
                )
            # kopf's context, for the kopf logger's Events (None before kopf ran a handler:
            # the service's own Events are posted without it)
            variables = handler_context()
            if self._watched.kind == DEPLOYMENTS.kind:
                args = (self._state, obj, namespace, name, self._indexes, service_logger)
                if deleted:
                    self._submit(service.workload_event, *args, deleted=True, variables=variables)
                else:
                    service.workload_event(*args, deleted=False, variables=variables)
            else:
                service.tasks_changed(
                    self._state,
                    obj,
                    namespace,
                    name,
                    self._indexes,
                    service_logger,
                    deleted=deleted,
                    variables=variables,
                )
        if self._watched.kind == PODS.kind and LABEL_TASK in labels:
            name = labels[LABEL_TASK]
            self._submit(
                task.reconcile, self._state, namespace, name, self._indexes, self._logger(KIND_TASK, namespace, name)
            )

    def _logger(self, kind: str, namespace: str, name: str) -> Logger:
        """The object's kopf logger (its warnings become the object's Events), once kopf's
        event queue is known (a kopf handler ran); a plain one until then.

        Kept (a few thousand at most): a pod event of a service asks for one, pod events are
        most of the events, and a kopf logger made for each showed in the operator's profile."""
        key = (kind, namespace, name, has_handler_context())
        made = self._loggers.get(key)
        if made is None:
            if len(self._loggers) >= MAX_LOGGERS:
                self._loggers.clear()
            if not key[3]:
                made = logging.LoggerAdapter(logger, {"object": f"{kind} {namespace}/{name}"})
            else:
                made = kopf.ObjectLogger(body=_stub(API_VERSION, kind, namespace, name), settings=self._settings)
            self._loggers[key] = made
        return made


def _run_logged(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        function(*args, **kwargs)
    except Exception:
        logger.exception("%s%s failed", getattr(function, "__name__", function), args[:3])


def _submit(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run off the informer's thread, in a copy of kopf's context (for its Events)."""
    assert _executor is not None
    variables = handler_context() or contextvars.copy_context()
    _executor.submit(variables.run, _run_logged, function, *args, **kwargs)


@kopf.on.startup()
async def start_informers(settings: kopf.OperatorSettings, logger: kopf.Logger, memo: kopf.Memo, **kwargs: Any) -> None:
    """List ECSServices, pods, ReplicaSets and Deployments (every watched namespace) at
    once, watch them, then queue every service, before kopf starts its own watches."""
    global _executor
    _stop()  # a retry of this handler after a failed list
    forget_handler_context()
    state = of(memo)
    config = state.config
    _executor = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="informer-events")
    indexes = Indexes.from_kwargs(kwargs)
    informers: list[Informer] = []
    services = Events(ECS_SERVICES, state, indexes, settings, _submit, _patterns)
    for watched in WATCHED:
        events = services if watched is ECS_SERVICES else Events(watched, state, indexes, settings, _submit, _patterns)
        for namespace in scopes(_patterns):
            informers.append(
                Informer(
                    watched.path(namespace),
                    HttpTransport(kube.watch_client(), read_timeout=30),
                    on_list=functools.partial(events.listed, namespace),
                    on_event=events.event,
                    timeout_seconds=config.watch_server_timeout,
                    label_selector=watched.label_selector,
                    trim=trimmed,
                )
            )
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
        _informers.append(informer)
    for watched in WATCHED:
        logger.info("%s: %d listed", watched.plural, watched.index.count())
    for snapshot in all_values(indexes.services):
        services.changed("ADDED", {"metadata": _meta(snapshot)})


def _meta(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "name": snapshot.name,
        "namespace": snapshot.namespace,
        "uid": snapshot.uid,
        "generation": snapshot.generation,
        "annotations": dict(snapshot.annotations),
    }


@kopf.on.cleanup()
def stop_informers(**_: Any) -> None:
    _stop()


def _stop() -> None:
    for informer in _informers:
        informer.stop()
    _informers.clear()
    if _executor is not None:
        _executor.shutdown(wait=False, cancel_futures=True)
