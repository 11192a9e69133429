"""Operator-wide kopf settings."""

import logging
from typing import Any

import kopf

from ecs_facade.api import GROUP
from ecs_facade.config import Config


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    config = Config.from_env()
    # kopf's own bookkeeping goes under our domain, in annotations, so that status holds
    # only conditions and ECS fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    # An Event per handled change would be noise (and writes); warnings and errors only.
    settings.posting.level = logging.WARNING
    # A watch that silently stalls is a known failure mode: bound it on both sides.
    settings.watching.server_timeout = config.watch_server_timeout
    settings.watching.client_timeout = config.watch_server_timeout + 30
    settings.watching.connect_timeout = 30
    settings.execution.max_workers = config.workers
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
