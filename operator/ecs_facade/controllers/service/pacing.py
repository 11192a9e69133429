"""When a service's status is written: at once when it is news, else (progress only) once
status_min_interval_seconds have passed and its turn came (controllers/turns.py); a
refresh is queued for then."""

import time
from collections.abc import Mapping
from typing import Any

from ecs_facade.api import (
    API_VERSION,
    KIND_SERVICE,
    SERVICES,
)
from ecs_facade.config import Config
from ecs_facade.controllers.common import (
    Logger,
)
from ecs_facade.controllers.indexes import (
    Indexes,
    Snapshot,
)
from ecs_facade.controllers.service.triggers import enqueue
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from ecs_facade.views.service import first_rollout_only, news, progress_only, without_times
from ecs_facade.views.service_status import (
    StatusReport,
    TasksSeen,
    event_type,
    seen_while_waiting,
)


def write_status(
    state: OperatorState,
    service: Snapshot,
    indexes: Indexes,
    config: Config,
    report: StatusReport,
    remembered: TasksSeen | None,
    stamp: str,
    logger: Logger,
) -> None:
    """Write the status when it changed, now or, when it only tells of progress, once the
    interval is over (a refresh is queued for then); post its new events with the write."""
    status = report.status
    before = {k: service.status.get(k) for k in status}
    memory = (service.namespace, service.name, service.uid)
    state.services.status_due.pop(memory, None)
    if without_times(news(status)) == without_times(news(before)):
        state.services.tasks_seen[memory] = report.seen
        return
    # tasks the scheduler started or stopped are progress, as the counts they change
    quiet = {**news(status), "events": before.get("events")} if report.progress else news(status)
    wait = 0.0 if report.reapply else status_wait(state, memory, news(before), quiet, config)
    if wait > 0:
        # progress only: written by a refresh once the interval is over (or with the next
        # change that is news, whichever comes first)
        state.services.status_due[memory] = time.monotonic() + wait
        # told, with what happens meanwhile, by the write that follows
        state.services.tasks_seen[memory] = (
            seen_while_waiting(remembered, report.seen) if report.progress else report.seen
        )
        enqueue(state, service.namespace, service.name, indexes, logger, urgent=False, apply=False, delay=wait)
        return
    kube.patch_status(API_VERSION, SERVICES, service.namespace, service.name, status)
    state.services.written[memory] = status
    state.services.tasks_seen[memory] = report.seen
    state.services.written_at[memory] = time.monotonic()
    state.services.progress_turns.forget(memory)
    involved = {
        "apiVersion": API_VERSION,
        "kind": KIND_SERVICE,
        "name": service.name,
        "namespace": service.namespace,
        "uid": service.uid,
    }
    for message in report.posted:
        kube.post_event(involved, event_type(message), "ECSServiceEvent", message, stamp)


def status_wait(
    state: OperatorState,
    memory: tuple[str, str, str],
    before: Mapping[str, Any],
    status: Mapping[str, Any],
    config: Config,
) -> float:
    """Seconds until a status that only says how far a rollout got may be written (0: now).

    A first rollout's tasks go pending, then running, one by one: without this each step is a
    status write: a CRD write that the API server decodes, validates and tracks whole (it
    costs the rest of the machine more than creating the service did) and a watch event for
    every watcher. Without a pause they were most of the operator's writes (docs/performance.md).
    A new service's first status counts as progress too, from its workload's creation."""
    last = state.services.written_at.get(memory)
    if last is None or state.queue is None:
        return 0.0
    if memory in state.services.written:
        if not progress_only(before, status):
            return 0.0
    elif not first_rollout_only(status):
        return 0.0
    wait = last + config.status_min_interval_seconds - time.monotonic()
    # then its turn: a burst of rollouts reports progress at a bounded rate (controllers/turns.py)
    return wait if wait > 0 else state.services.progress_turns.wait(memory, config.status_progress_writes_per_second)
