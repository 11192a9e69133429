"""ECS CPU units and MiB to Kubernetes quantities."""

import math

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
