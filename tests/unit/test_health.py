"""ECS healthCheck as probes with the same timing."""

import pytest

from ecs_facade.model.generated import HealthCheck
from ecs_facade.translate import TranslationError
from ecs_facade.translate.health import probe_command, probes


def test_cmd_shell_runs_in_a_shell() -> None:
    assert probe_command(["CMD-SHELL", "curl -f http://localhost/ || exit 1"]) == [
        "/bin/sh",
        "-c",
        "curl -f http://localhost/ || exit 1",
    ]


def test_cmd_runs_directly() -> None:
    assert probe_command(["CMD", "/bin/check", "--fast"]) == ["/bin/check", "--fast"]


def test_empty_cmd_is_an_error() -> None:
    with pytest.raises(TranslationError, match="CMD needs an executable"):
        probe_command(["CMD"])


def test_defaults_are_ecs_defaults() -> None:
    result = probes(HealthCheck(command=["CMD", "true"]), essential=True)
    assert result["readinessProbe"] == {
        "exec": {"command": ["true"]},
        "periodSeconds": 30,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
        "successThreshold": 1,
    }
    assert result["livenessProbe"] == result["readinessProbe"]
    assert "startupProbe" not in result


def test_non_essential_containers_get_no_liveness_probe() -> None:
    assert "livenessProbe" not in probes(HealthCheck(command=["CMD", "true"]), essential=False)


def test_start_period_failures_do_not_count() -> None:
    result = probes(HealthCheck(command=["CMD", "true"], interval=10, retries=3, startPeriod=60), essential=True)
    assert result["startupProbe"]["failureThreshold"] == 6 + 3
    assert result["startupProbe"]["periodSeconds"] == 10
