import pytest

from ecs_facade.translate.resources import container_resources, cpu_units_to_quantity


@pytest.mark.parametrize(
    ("units", "quantity"),
    [(1024, "1000m"), (512, "500m"), (256, "250m"), (128, "125m"), (1, "1m"), (100, "98m"), (4096, "4000m")],
)
def test_cpu_units_round_up_to_millicores(units: int, quantity: str) -> None:
    assert cpu_units_to_quantity(units) == quantity


def test_zero_cpu_reserves_nothing() -> None:
    assert container_resources(0, None, None) == {}
