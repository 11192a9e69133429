"""The service work queue's workers (controllers/workqueue.py): made held at start-up,
released once the informers' first lists filled every index (release_service_workers),
stopped at clean-up; each runs a reconcile.

A module of its own: the triggers queue keys from anywhere (the report and the pacing
too), the workers run the reconcile that calls them."""

import functools
from collections.abc import Hashable
from typing import Any, cast

import kopf

from ecs_facade.controllers.service.reconciler import reconcile
from ecs_facade.controllers.state import OperatorState, of
from ecs_facade.controllers.workqueue import WorkQueue


def _work(state: OperatorState, key: Hashable, apply: bool, context: Any) -> None:
    namespace, name = cast(tuple[str, str], key)
    indexes, logger, variables = context
    # in the caller's context variables: kopf's loggers find its event queue through them
    if variables.run(reconcile, state, namespace, name, indexes, logger, apply=apply) and state.queue is not None:
        state.queue.add(key, urgent=False, apply=False, context=context)


@kopf.on.startup()
def start_service_workers(memo: kopf.Memo, **_: Any) -> None:
    state = of(memo)
    config = state.config
    state.queue = WorkQueue(
        "ecsservice",
        functools.partial(_work, state),
        workers=config.service_workers,
        urgent_workers=max(1, config.service_workers // 4),  # kept free for new services and spec changes
        batch_seconds=config.status_batch_seconds,
        held=True,  # until the informers' first lists filled every index (release_service_workers)
    )
    state.queue.start()


@kopf.on.cleanup()
def stop_service_workers(memo: kopf.Memo, **_: Any) -> None:
    queue = of(memo).queue
    if queue is not None:
        queue.stop()


def release_service_workers(state: OperatorState) -> None:
    """The informers' first lists filled every index (controllers/informers.py,
    start_informers): from now on the service workers take keys. Before, a reconcile could
    find a service without its task definition."""
    if state.queue is not None:
        state.queue.release()
