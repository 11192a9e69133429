"""Operator-wide kopf settings."""

import logging
from collections.abc import Iterable
from typing import Any, cast

import kopf

from ecs_facade.api import FINALIZER, GROUP
from ecs_facade.config import Config
from ecs_facade.controllers.state import OperatorState, of
from ecs_facade.kube import client as kube

# The handlers of raw watch events (kopf.on.event): none, every kind's events go through the
# operator's own informers (controllers/informers.py); tests/unit/test_settings.py checks it.
EVENT_HANDLERS: frozenset[str] = frozenset()


class QuietEventHandlers(logging.Filter):
    """Drops kopf's "Timer 'cluster_sync' succeeded." lines (and those of any raw event
    handler): one per tick and cluster, or per watch event of a busy cluster, they would be
    most of the log. Failures, and the handlers of changes (create, update, delete), are
    still logged."""

    _SUCCEEDED = frozenset(f"Handler {name!r} succeeded." for name in EVENT_HANDLERS) | {
        "Timer 'cluster_sync' succeeded."
    }

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and record.msg in self._SUCCEEDED)


class LeanDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """kopf builds the diff base (the "essence") of every watched object on every watch event,
    by deep-copying the whole body, status and managedFields included, and then throwing all
    but the spec, labels and annotations away: for pods, ReplicaSets and Deployments, most
    of a cluster's events, one of the largest costs of an event (docs/performance.md).

    kopf watches only this operator's own kinds (the others go through its informers,
    controllers/informers.py); any other kind gets an empty one, and its own kinds are copied
    without their status (which kopf drops anyway) unless a handler watches a status field."""

    def build(self, *, body: kopf.Body, extra_fields: Iterable[kopf.FieldSpec] | None = None) -> kopf.BodyEssence:
        if str(body.get("apiVersion", "")).split("/")[0] != GROUP:
            return cast(kopf.BodyEssence, {})
        fields = list(extra_fields or [])
        if any(str(_path(field)[0]) == "status" for field in fields if _path(field)):
            return super().build(body=body, extra_fields=fields)
        meta = body.get("metadata") or {}
        lean = {key: value for key, value in body.items() if key not in ("metadata", "status")}
        lean["metadata"] = {key: meta[key] for key in ("labels", "annotations") if key in meta}
        return super().build(body=kopf.Body(cast(kopf.RawBody, lean)), extra_fields=fields)


def _path(field: kopf.FieldSpec) -> tuple[str, ...]:
    return tuple(field.split(".")) if isinstance(field, str) else tuple(field or ())


@kopf.on.startup()
def read_settings(memo: kopf.Memo, **_: Any) -> None:
    """The operator's settings, read and checked once, at start-up (controllers/__init__.py
    registers this startup handler first); ``ecs-facade run`` has read them already and hands
    them over in kopf's memo. A wrong one stops the start with its name and what it expects.

    The operator's state (controllers/state.py) is made here, with them, and kept in kopf's
    memo, which kopf hands every handler; the API client gets its pool size and timeouts."""
    config = memo.get("config")
    if config is None:
        try:
            config = Config.from_env()
        except ValueError as error:
            raise kopf.PermanentError(f"operator settings: {error}") from error
    kube.size_pool(config.workers + config.service_workers)
    kube.set_timeouts(config.api_connect_timeout_seconds, config.api_read_timeout_seconds)
    memo["state"] = OperatorState(config=config)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config = of(memo).config
    if not any(isinstance(f, QuietEventHandlers) for f in logging.getLogger("kopf.objects").filters):
        logging.getLogger("kopf.objects").addFilter(QuietEventHandlers())
    # kopf's own bookkeeping goes under our domain, in annotations, so that status holds
    # only conditions and ECS fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = LeanDiffBaseStorage(prefix=GROUP, key="last-handled-configuration")
    settings.persistence.finalizer = FINALIZER
    # An Event per handled change would be noise (and writes); warnings and errors only.
    settings.posting.level = logging.WARNING
    # A watch that silently stalls is a known failure mode: bound it on both sides.
    settings.watching.server_timeout = config.watch_server_timeout
    settings.watching.client_timeout = config.watch_server_timeout + 30
    settings.watching.connect_timeout = 30
    settings.execution.max_workers = config.workers
    # kopf's per-object worker keeps the object's last event (the whole body, managedFields
    # and all) while it waits this long for the next one: with thousands of pods changing at
    # once, kopf's 5 s default keeps thousands of bodies (docs/performance.md).
    settings.queueing.idle_timeout = config.kopf_idle_seconds
    # A deleted object's finalizer waits until its timers have exited. A timer whose handler is
    # still returning (the retention timer deletes its own task) is checked again only after this
    # polling delay: kopf's 60 s default held such deletions for a minute.
    settings.background.cancellation_polling = 2
    settings.networking.request_timeout = 60


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account first, else the kubeconfig ($KUBECONFIG or ~/.kube/config).

    kopf's own readers, so that logging in does not depend on the internals of the
    kubernetes client library, which change between its major versions.
    """
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
