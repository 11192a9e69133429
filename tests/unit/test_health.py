"""ECS healthCheck as probes with the same timing."""

import json

import pytest

from ecs_facade.model.generated import HealthCheck
from ecs_facade.translate import TranslationError
from ecs_facade.translate.health import command_notes, probe_command, probes
from tests.unit.helpers import all_containers, container, only_container, translate


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
    result = probes(HealthCheck(command=["CMD", "true"]), replaced_when_unhealthy=True)
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
    assert "livenessProbe" not in probes(HealthCheck(command=["CMD", "true"]), replaced_when_unhealthy=False)


def test_start_period_failures_do_not_count() -> None:
    result = probes(
        HealthCheck(command=["CMD", "true"], interval=10, retries=3, startPeriod=60), replaced_when_unhealthy=True
    )
    assert result["startupProbe"]["failureThreshold"] == 6 + 3
    assert result["startupProbe"]["periodSeconds"] == 10


# --- the command Docker runs (moby daemon/health.go getProbe, cmdProbe.run) -----------------------


def test_cmd_shell_extra_elements_are_the_scripts_positional_parameters_as_in_docker() -> None:
    assert probe_command(["CMD-SHELL", 'echo "$0 $1"', "a", "b"]) == ["/bin/sh", "-c", 'echo "$0 $1"', "a", "b"]
    assert command_notes(["CMD-SHELL", "curl", "-f", "http://localhost"]) == [
        "healthCheck.command: CMD-SHELL with 3 elements: as in Docker only 'curl' is the shell command, "
        "the others are its positional parameters ($0, $1, ...)"
    ]


def test_none_disables_the_check() -> None:
    assert probe_command(["NONE"]) == []
    assert probes(HealthCheck(command=["NONE"]), replaced_when_unhealthy=True) == {}
    assert command_notes(["NONE"]) == []


@pytest.mark.parametrize("command", [["/healthcheck"], ["curl -f http://localhost/ || exit 1"], ["cmd", "x"]])
def test_a_command_without_cmd_or_cmd_shell_runs_no_check_and_is_never_wrapped_in_a_shell(command: list[str]) -> None:
    """Docker takes an unknown first element as an unknown check type and runs nothing: an
    image without a shell (an OpenTelemetry collector) is not marked unhealthy by /bin/sh."""
    assert probe_command(command) == []
    assert probes(HealthCheck(command=command), replaced_when_unhealthy=True) == {}
    (note,) = command_notes(command, "containerDefinitions[otel].healthCheck.command")
    assert note.startswith(f"containerDefinitions[otel].healthCheck.command {json.dumps(command)} starts with neither")
    assert json.dumps(["CMD", *command]) in note


def test_cmd_and_cmd_shell_need_no_note() -> None:
    assert command_notes(["CMD", "/healthcheck"]) == []
    assert command_notes(["CMD-SHELL", "curl -f localhost"]) == []


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ([], r"containerDefinitions\[a\]\.healthCheck\.command: empty"),
        (["CMD"], r"containerDefinitions\[a\]\.healthCheck\.command: CMD needs an executable"),
        (["CMD-SHELL"], r"containerDefinitions\[a\]\.healthCheck\.command: CMD-SHELL needs a shell command"),
    ],
)
def test_errors_name_the_container_and_the_field(command: list[str], message: str) -> None:
    with pytest.raises(TranslationError, match=message):
        probe_command(command, "containerDefinitions[a].healthCheck.command")


def test_translation_adds_no_probe_and_says_why_for_a_command_without_prefix() -> None:
    translation = translate(container(name="otel", healthCheck={"command": ["/healthcheck"]}))
    (otel,) = translation.pod_spec["containers"]
    assert not {"readinessProbe", "livenessProbe", "startupProbe"} & set(otel)
    assert any(
        note.startswith('containerDefinitions[otel].healthCheck.command ["/healthcheck"]') for note in translation.notes
    )


def test_waiting_for_health_that_docker_never_checks_is_an_error() -> None:
    with pytest.raises(TranslationError, match=r"containerDefinitions\[otel\]\.healthCheck\.command .*\['app'\]"):
        translate(
            container(name="app", dependsOn=[{"containerName": "otel", "condition": "HEALTHY"}]),
            container(name="otel", essential=False, healthCheck={"command": ["/healthcheck"]}),
        )


def test_only_a_service_task_is_restarted_for_an_unhealthy_essential_container() -> None:
    """ECS replaces a service's unhealthy task; a standalone one runs on whatever its health."""
    check = {"command": ["CMD-SHELL", "test -f /tmp/ok"], "interval": 5, "retries": 2}
    essential = container(healthCheck=check)
    standalone = only_container(translate(essential))
    assert "readinessProbe" in standalone and "livenessProbe" not in standalone
    in_service = only_container(translate(essential, service=True))
    assert in_service["livenessProbe"]["exec"]["command"] == ["/bin/sh", "-c", "test -f /tmp/ok"]
    assert in_service["livenessProbe"]["failureThreshold"] == 2
    sidecar = all_containers(
        translate(essential, container(name="side", essential=False, healthCheck=check), service=True)
    )
    assert "livenessProbe" not in sidecar["side"] and "readinessProbe" in sidecar["side"]
