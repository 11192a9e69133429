"""Pods (ECS tasks), watched by the operator's own informer rather than by kopf.

Pods are most of a cluster's watch events. kopf keeps each event whole until the object's
worker has handled it (with nothing slowing the stream when the workers fall behind), and
at start-up every object's first event until all its indexes are filled: those were the
operator's memory peaks, and its per-object pipeline most of its CPU (docs/performance.md).
Here each event is slimmed into ``indexes.POD_INDEX`` and dropped, in the informer's thread,
which then queues the service's reconcile or has the standalone task's run.

The first list completes in a startup handler: kopf starts its watches, and with them every
reconcile, only after its startup handlers, so no reconcile sees half of the tasks.
"""

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import kopf
from kopf._cogs.structs.references import NamespaceName, match_namespace  # kopf's glob rules for --namespace
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import API_VERSION, KIND_SERVICE, KIND_TASK, LABEL_SERVICE, LABEL_TASK
from ecs_facade.config import Config
from ecs_facade.controllers import service, task
from ecs_facade.controllers.common import forget_handler_context, handler_context
from ecs_facade.controllers.indexes import POD_INDEX, Indexes, PodIndex
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


class PodEvents:
    """Keeps ``index`` current with one informer's lists and events, and hands each change
    on: a service's task queues the service's reconcile, a standalone task's pod has the
    task's reconcile run (in ``executor``, off the informer's thread)."""

    def __init__(
        self,
        indexes: Indexes,
        index: PodIndex,
        settings: kopf.OperatorSettings,
        submit: Callable[..., Any],
        patterns: Sequence[str] = (),
    ) -> None:
        self._indexes, self._index, self._settings = indexes, index, settings
        self._submit, self._patterns = submit, tuple(patterns)

    def listed(self, namespace: str | None, pods: list[dict[str, Any]], first: bool) -> None:
        """A (re)list of ``namespace`` (None: all): the first fills the index; a later one
        (after a 410) hands on what changed since the watch broke off."""
        mine = [pod for pod in pods if wanted(self._patterns, str(pod["metadata"].get("namespace") or ""))]
        changes = self._index.replace(mine, namespace)
        if not first:
            for kind, pod in changes:
                self.changed(kind, pod)

    def event(self, kind: str, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if not wanted(self._patterns, namespace):
            return
        pod.setdefault("kind", "Pod")
        if kind == "DELETED":
            self._index.remove(namespace, str(meta.get("name")))
        else:
            self._index.put(pod)
        self.changed(kind, pod)

    def changed(self, kind: str, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        labels, namespace = meta.get("labels") or {}, str(meta.get("namespace") or "")
        deleted = kind == "DELETED"
        if LABEL_SERVICE in labels:
            name = labels[LABEL_SERVICE]
            service_logger = kopf.ObjectLogger(
                body=_stub(API_VERSION, KIND_SERVICE, namespace, name), settings=self._settings
            )
            if not deleted and is_capacity_gated(pod):
                self._submit(service.assign_capacity_provider, namespace, name, pod, self._indexes, service_logger)
            variables = handler_context()
            if variables is not None:  # else no service was handled yet: its own event queues it
                service.tasks_changed(
                    pod, namespace, name, self._indexes, service_logger, deleted=deleted, variables=variables
                )
        if LABEL_TASK in labels:
            name = labels[LABEL_TASK]
            task_logger = kopf.ObjectLogger(
                body=_stub(API_VERSION, KIND_TASK, namespace, name), settings=self._settings
            )
            self._submit(task.reconcile, namespace, name, self._indexes, task_logger)


def _run_logged(function: Callable[..., Any], *args: Any) -> None:
    try:
        function(*args)
    except Exception:
        logger.exception("%s%s failed", getattr(function, "__name__", function), args[:2])


def _submit(function: Callable[..., Any], *args: Any) -> None:
    """Run off the informer's thread, in a copy of its context (kopf's, for events)."""
    assert _executor is not None
    variables = handler_context() or contextvars.copy_context()
    _executor.submit(variables.run, _run_logged, function, *args)


def _path(namespace: str | None) -> str:
    return "/api/v1/pods" if namespace is None else f"/api/v1/namespaces/{namespace}/pods"


@kopf.on.startup()
async def start_pod_informers(settings: kopf.OperatorSettings, logger: kopf.Logger, **kwargs: Any) -> None:
    """List the pods (every watched namespace) before kopf starts its watches, then watch."""
    global _executor
    _stop()  # a retry of this handler after a failed list
    forget_handler_context()
    config = Config.from_env()
    _executor = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="pod-events")
    events = PodEvents(Indexes.from_kwargs(kwargs), POD_INDEX, settings, _submit, _patterns)
    for namespace in scopes(_patterns):
        informer = Informer(
            _path(namespace),
            HttpTransport(kube.watch_client(), read_timeout=30),
            on_list=functools.partial(events.listed, namespace),
            on_event=events.event,
            timeout_seconds=config.watch_server_timeout,
        )
        try:
            await asyncio.to_thread(informer.sync)
        except ApiException as error:
            raise kopf.TemporaryError(f"listing {informer.path}: {error.status} {error.reason}", delay=10) from error
        informer.start(functools.partial(contextvars.copy_context().run, informer.run))
        _informers.append(informer)
    logger.info("pods listed (%d); watching %s", POD_INDEX.count(), ", ".join(i.path for i in _informers))


@kopf.on.cleanup()
def stop_pod_informers(**_: Any) -> None:
    _stop()


def _stop() -> None:
    for informer in _informers:
        informer.stop()
    _informers.clear()
    if _executor is not None:
        _executor.shutdown(wait=False, cancel_futures=True)
