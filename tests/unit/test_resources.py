import random

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.resources import (
    INIT,
    REGULAR,
    SIDECAR,
    Reservation,
    container_resources,
    cpu_units_to_quantity,
    effective_requests,
    split_task_resources,
)
from tests.unit.helpers import container, translate


@pytest.mark.parametrize(
    ("units", "quantity"),
    [(1024, "1000m"), (512, "500m"), (256, "250m"), (128, "125m"), (1, "1m"), (100, "98m"), (4096, "4000m")],
)
def test_cpu_units_round_up_to_millicores(units: int, quantity: str) -> None:
    assert cpu_units_to_quantity(units) == quantity


def test_zero_cpu_reserves_nothing() -> None:
    assert container_resources(0, None, None) == {}


# --- task-level cpu/memory split over the containers (no pod-level resources) --------------------


def quantity(value: str) -> int:
    """Our own quantities back to integers: millicores ("250m") or MiB ("512Mi")."""
    return int(value[:-1]) if value.endswith("m") else int(value[:-2])


def amounts(split: dict[str, dict[str, dict[str, str]]], kind: str, resource: str) -> dict[str, int]:
    return {name: quantity(r[kind][resource]) for name, r in split.items() if resource in r.get(kind, {})}


def test_an_envoy_sidecar_without_memory_shares_what_the_others_leave() -> None:
    """Fargate 256/512: the app reserves 256 MiB, X-Ray 64 MiB; Envoy (a sidecar others wait
    for) reserves nothing: it gets what is left, 192 MiB, not the whole task, and a limit."""
    reservations = [
        Reservation("envoy", SIDECAR),
        Reservation("app", REGULAR, cpu=128, memory=256),
        Reservation("xray", REGULAR, cpu=32, memory=64, memory_limit=128),
    ]
    split = split_task_resources(reservations, cpu=256, memory=512)
    assert amounts(split, "requests", "memory") == {"envoy": 192, "app": 256, "xray": 64}
    assert amounts(split, "limits", "memory") == {"envoy": 512, "app": 512, "xray": 128}
    # cpu: 250m for the task; app 125m, xray 32 units = 32m (rounded up), envoy the rest
    assert amounts(split, "requests", "cpu") == {"envoy": 93, "app": 125, "xray": 32}
    for resource, total in (("memory", 512), ("cpu", 250)):
        assert effective_requests(amounts(split, "requests", resource), reservations) == total


def test_init_containers_run_alone_beside_the_sidecars_started_before_them() -> None:
    """06-init-migration-chain-like: redis (sidecar, 256), migrate and warm-up (init, nothing
    of their own), web (sidecar, nothing), worker (regular, 1024), nginx (regular, nothing)."""
    reservations = [
        Reservation("redis", SIDECAR, memory=256),
        Reservation("migrate", INIT),
        Reservation("warmup", INIT),
        Reservation("web", SIDECAR),
        Reservation("worker", REGULAR, memory=1024),
        Reservation("nginx", REGULAR),
    ]
    split = split_task_resources(reservations, cpu=None, memory=4096)
    requests = amounts(split, "requests", "memory")
    # web and nginx share 4096 - 256 - 1024; each init container has all but redis's
    assert requests == {"redis": 256, "migrate": 3840, "warmup": 3840, "web": 1408, "nginx": 1408, "worker": 1024}
    assert effective_requests(requests, reservations) == 4096
    assert "cpu" not in split["web"].get("requests", {})


def test_an_init_container_with_its_own_reservation_caps_the_sidecars_before_it() -> None:
    reservations = [
        Reservation("proxy", SIDECAR),
        Reservation("migrate", INIT, memory=300),
        Reservation("app", REGULAR, memory=100),
    ]
    requests = amounts(split_task_resources(reservations, None, 512), "requests", "memory")
    assert requests["proxy"] + requests["migrate"] <= 512
    assert requests == {"proxy": 212, "migrate": 300, "app": 100}
    assert effective_requests(requests, reservations) == 512


def test_rounding_up_the_containers_cpu_never_takes_the_pod_over_the_task() -> None:
    """341 CPU units are 333.0078m: rounded up three times that is 1002m of a 1000m task."""
    reservations = [Reservation(name, REGULAR, cpu=341) for name in "abc"]
    requests = amounts(split_task_resources(reservations, 1024, None), "requests", "cpu")
    assert sum(requests.values()) == 1000
    assert sorted(requests.values()) == [333, 333, 334]


def test_the_sum_never_exceeds_the_task_and_every_container_has_a_memory_limit() -> None:
    rng = random.Random(24)
    roles = [REGULAR, SIDECAR, INIT]
    for _ in range(2000):
        total_memory = rng.choice([512, 1024, 3072, 4096])
        total_cpu = rng.choice([256, 512, 1024, 4096])
        reservations = []
        for index in range(rng.randint(1, 6)):
            role = REGULAR if index == 0 else rng.choice(roles)
            memory = rng.choice([None, None, 64, 128, 256])
            reservations.append(
                Reservation(
                    f"c{index}",
                    role,
                    cpu=rng.choice([None, 0, 10, 128, 341]),
                    memory=memory,
                    memory_limit=rng.choice([None, memory]) if memory else None,
                )
            )
        if sum(r.memory or 0 for r in reservations) > total_memory or sum(r.cpu or 0 for r in reservations) > total_cpu:
            continue
        split = split_task_resources(reservations, total_cpu, total_memory)
        memory_requests = amounts(split, "requests", "memory")
        assert set(memory_requests) == {r.name for r in reservations}
        assert effective_requests(memory_requests, reservations) <= total_memory, reservations
        cpu_requests = amounts(split, "requests", "cpu")
        assert effective_requests(cpu_requests, reservations) <= cpu_quantity_millicores(total_cpu), reservations
        limits = amounts(split, "limits", "memory")
        assert set(limits) == set(memory_requests)
        assert all(memory_requests[n] <= limits[n] <= total_memory for n in limits)
        for r in reservations:
            if r.memory is not None:
                assert memory_requests[r.name] == r.memory  # its own reservation, kept


def cpu_quantity_millicores(units: int) -> int:
    return quantity(cpu_units_to_quantity(units))


def test_reservations_that_do_not_fit_in_the_task_are_refused_as_ecs_refuses_them() -> None:
    with pytest.raises(TranslationError, match=r"containerDefinitions: the containers reserve 640 MiB of memory"):
        split_task_resources([Reservation("a", REGULAR, memory=384), Reservation("b", INIT, memory=256)], None, 512)
    with pytest.raises(TranslationError, match=r"containerDefinitions: the containers reserve 300 CPU units"):
        split_task_resources([Reservation("a", REGULAR, cpu=200), Reservation("b", SIDECAR, cpu=100)], 256, None)
    with pytest.raises(TranslationError, match=r"containerDefinitions\[a\]\.memory: 1024 MiB is more than"):
        split_task_resources([Reservation("a", REGULAR, memory=256, memory_limit=1024)], None, 512)


def test_the_same_rules_hold_with_pod_level_resources() -> None:
    """The API server refuses container requests above the pod's, so render refuses them too."""
    with pytest.raises(TranslationError, match=r"the containers reserve 768 MiB of memory together \(a 512, b 256\)"):
        translate(
            container(name="a", memory=None, memoryReservation=512),
            container(name="b", memory=256),
            memory="512",
        )
