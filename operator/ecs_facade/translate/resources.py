"""ECS CPU units and MiB to Kubernetes quantities, and task-level amounts split over containers."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ecs_facade.translate import TranslationError

CPU_UNITS_PER_VCPU = 1024


def cpu_units_to_quantity(units: int) -> str:
    """1024 CPU units are one vCPU; rounded up to whole millicores so a reservation never shrinks."""
    return f"{math.ceil(units * 1000 / CPU_UNITS_PER_VCPU)}m"


def mib_to_quantity(mib: int) -> str:
    return f"{mib}Mi"


def container_resources(
    cpu: int | None, memory: int | None, memory_reservation: int | None
) -> dict[str, dict[str, str]]:
    """Requests and limits of one container.

    ECS ``cpu`` is a reservation (a CPU share on EC2, never a hard cap), so it becomes a
    request only.  ``memory`` is the hard limit and ``memoryReservation`` the soft one:
    limit and request respectively; with only ``memory`` set the request equals it, as ECS
    reserves the hard limit on the instance in that case.
    """
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if cpu:
        requests["cpu"] = cpu_units_to_quantity(cpu)
    if memory is not None:
        limits["memory"] = mib_to_quantity(memory)
    reserved = memory_reservation if memory_reservation is not None else memory
    if reserved is not None:
        requests["memory"] = mib_to_quantity(reserved)
    resources: dict[str, dict[str, str]] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources


REGULAR, SIDECAR, INIT = "regular", "sidecar", "init"


@dataclass(frozen=True)
class Reservation:
    """What one container of the pod reserves itself, in ECS units, and how it runs."""

    name: str  # the ECS container name
    role: str  # REGULAR (spec.containers), SIDECAR (restartable init container) or INIT
    cpu: int | None = None  # CPU units (ECS ``cpu``; 0 is none)
    memory: int | None = None  # MiB reserved: ``memoryReservation``, else ``memory``
    memory_limit: int | None = None  # MiB, the hard limit: ``memory``


def split_task_resources(
    reservations: Sequence[Reservation], cpu: int | None, memory: int | None
) -> dict[str, dict[str, dict[str, str]]]:
    """Task-level cpu/memory as container requests and limits, for clusters without pod-level
    resources; ``reservations`` in pod order (init containers and sidecars as started, then
    the regular containers). Returns ``resources`` (cpu/memory only) by ECS container name.

    As ECS reserves them: a container with its own reservation keeps it, and the others
    share what is left. What is left is counted as Kubernetes counts a pod's requests:
    regular containers and sidecars run together, so they share the task's amount; an init
    container runs alone beside the sidecars started before it, so it may have what those
    leave (and sidecars before an init container with its own reservation get no more than
    it leaves them). Every container gets an explicit memory request (Kubernetes would make
    a missing one equal to the limit) and a memory limit: its own ``memory``, else the
    task's. The pod's effective request thus never exceeds the task's amount.
    """
    check_reservations(reservations, cpu, memory)
    result: dict[str, dict[str, dict[str, str]]] = {r.name: {} for r in reservations}
    if cpu is not None:
        # in millicores; a container's own cpu is rounded up as everywhere (cpu_units_to_quantity),
        # and the rounding taken back where it would make the total exceed the task's
        own = {r.name: _millicores(r.cpu) for r in reservations if r.cpu}
        amounts = _fit(reservations, _share(reservations, own, _millicores(cpu)), set(own), _millicores(cpu))
        for name, amount in amounts.items():
            result[name].setdefault("requests", {})["cpu"] = f"{amount}m"
    if memory is not None:
        own = {r.name: r.memory for r in reservations if r.memory is not None}
        amounts = _share(reservations, own, memory)
        for r in reservations:
            result[r.name].setdefault("requests", {})["memory"] = mib_to_quantity(amounts[r.name])
            limit = r.memory_limit if r.memory_limit is not None else memory
            result[r.name].setdefault("limits", {})["memory"] = mib_to_quantity(limit)
    return result


def effective_requests(amounts: Mapping[str, int], reservations: Sequence[Reservation]) -> int:
    """A pod's request of one resource as the scheduler counts it (KEP-753): the larger of
    regular containers plus sidecars, and each init container plus the sidecars before it."""
    running = 0
    sidecars = 0
    init_peak = 0
    for r in reservations:
        if r.role == SIDECAR:
            sidecars += amounts[r.name]
            running += amounts[r.name]
        elif r.role == INIT:
            init_peak = max(init_peak, amounts[r.name] + sidecars)
        else:
            running += amounts[r.name]
    return max(running, init_peak)


def _millicores(units: int | None) -> int:
    return math.ceil((units or 0) * 1000 / CPU_UNITS_PER_VCPU)


def _share(reservations: Sequence[Reservation], own: Mapping[str, int], total: int) -> dict[str, int]:
    """Every container's amount: its own, or its share of what is left (see split_task_resources)."""
    together = [r for r in reservations if r.role != INIT]
    left = total - sum(own.get(r.name, 0) for r in together)
    unset_sidecars = [r.name for r in together if r.role == SIDECAR and r.name not in own]
    unset_regular = [r.name for r in together if r.role == REGULAR and r.name not in own]
    count = len(unset_sidecars) + len(unset_regular)
    sidecar_share = max(left, 0) // count if count else 0
    # an init container with its own amount runs beside the sidecars before it: they leave it room
    sidecars_before: list[Reservation] = []
    for r in reservations:
        if r.role == SIDECAR:
            sidecars_before.append(r)
        elif r.role == INIT and r.name in own:
            unset = [s for s in sidecars_before if s.name not in own]
            if unset:
                room = total - own[r.name] - sum(own.get(s.name, 0) for s in sidecars_before)
                sidecar_share = min(sidecar_share, max(room, 0) // len(unset))
    amounts = {r.name: own[r.name] for r in reservations if r.name in own}
    for name in unset_sidecars:
        amounts[name] = sidecar_share
    if unset_regular:
        regular_share = max(left - sidecar_share * len(unset_sidecars), 0) // len(unset_regular)
        for name in unset_regular:
            amounts[name] = regular_share
    running_sidecars = 0
    for r in reservations:
        if r.role == SIDECAR:
            running_sidecars += amounts[r.name]
        elif r.role == INIT and r.name not in own:
            amounts[r.name] = max(total - running_sidecars, 0)
    return amounts


def _fit(reservations: Sequence[Reservation], amounts: dict[str, int], own: set[str], total: int) -> dict[str, int]:
    """Takes back the rounding of the containers' own amounts where the pod's effective
    request would exceed ``total`` (at most one unit per rounded amount)."""
    fitted = dict(amounts)
    while effective_requests(fitted, reservations) > total:
        candidates = [n for n in own if fitted[n] > 0 and _counts_at_peak(n, fitted, reservations, total)]
        if not candidates:
            break
        largest = max(candidates, key=lambda n: fitted[n])
        fitted[largest] -= 1
    return fitted


def _counts_at_peak(name: str, amounts: Mapping[str, int], reservations: Sequence[Reservation], total: int) -> bool:
    """Whether lowering ``name`` lowers a sum that exceeds ``total``."""
    lowered = {**amounts, name: amounts[name] - 1}
    return effective_requests(lowered, reservations) < effective_requests(amounts, reservations)


def check_reservations(reservations: Sequence[Reservation], cpu: int | None, memory: int | None) -> None:
    """ECS's own rules for task-level amounts (checked at registration): the containers'
    reservations together, and each container's hard memory limit, fit in the task. (With
    pod-level resources the API server refuses such a pod too: container requests above the
    pod's, or a container limit above the pod's.)"""
    for resource, total, unit, reserved in (
        ("cpu", cpu, "CPU units", [(r.name, r.cpu or 0) for r in reservations]),
        ("memory", memory, "MiB", [(r.name, r.memory or 0) for r in reservations]),
    ):
        if total is None:
            continue
        reserved = [(name, amount) for name, amount in reserved if amount]
        together = sum(amount for _, amount in reserved)
        if together > total:
            listed = ", ".join(f"{name} {amount}" for name, amount in reserved)
            raise TranslationError(
                f"containerDefinitions: the containers reserve {together} {unit} of {resource} together "
                f"({listed}), more than the task's {total}; their reservations must fit in the task"
            )
    if memory is not None:
        for r in reservations:
            if r.memory_limit is not None and r.memory_limit > memory:
                raise TranslationError(
                    f"containerDefinitions[{r.name}].memory: {r.memory_limit} MiB is more than the task's memory "
                    f"({memory} MiB); a container's hard limit must fit in its task"
                )
