"""essential and dependsOn as init containers, native sidecars and regular containers."""

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.taskdefinition import TranslationOptions
from tests.unit.helpers import container, translate

HEALTH = {"command": ["CMD-SHELL", "curl -f http://localhost:9901/ready"], "interval": 10, "retries": 2}


def names(items: list[dict[str, object]]) -> list[object]:
    return [c["name"] for c in items]


def test_success_dependency_runs_to_completion_first() -> None:
    spec = translate(
        container(name="app", dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}]),
        container(name="migrate", essential=False),
    ).pod_spec
    (init,) = spec["initContainers"]
    assert init["name"] == "migrate"
    assert "restartPolicy" not in init
    assert names(spec["containers"]) == ["app"]


def test_complete_dependency_is_enforced_as_success_and_said_so() -> None:
    translation = translate(
        container(name="app", dependsOn=[{"containerName": "setup", "condition": "COMPLETE"}]),
        container(name="setup", essential=False),
    )
    assert names(translation.pod_spec["initContainers"]) == ["setup"]
    assert any("COMPLETE on 'setup' is enforced as SUCCESS" in note for note in translation.notes)


def test_essential_container_that_others_wait_to_complete_is_an_error() -> None:
    with pytest.raises(TranslationError, match="essential: false"):
        translate(
            container(name="app", dependsOn=[{"containerName": "setup", "condition": "SUCCESS"}]),
            container(name="setup"),
        )


def test_start_dependency_is_a_sidecar_started_first() -> None:
    spec = translate(
        container(name="app", dependsOn=[{"containerName": "proxy", "condition": "START"}]),
        container(name="proxy"),
    ).pod_spec
    (proxy,) = spec["initContainers"]
    assert (proxy["name"], proxy["restartPolicy"]) == ("proxy", "Always")
    assert "startupProbe" not in proxy


def test_healthy_dependency_gates_on_a_startup_probe() -> None:
    spec = translate(
        container(name="app", dependsOn=[{"containerName": "envoy", "condition": "HEALTHY"}]),
        container(name="envoy", healthCheck=HEALTH),
    ).pod_spec
    (envoy,) = spec["initContainers"]
    assert envoy["restartPolicy"] == "Always"
    assert envoy["startupProbe"] == {
        "exec": {"command": ["/bin/sh", "-c", "curl -f http://localhost:9901/ready"]},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 2,
        "successThreshold": 1,
    }


def test_healthy_dependency_without_health_check_is_an_error() -> None:
    with pytest.raises(TranslationError, match="no healthCheck"):
        translate(
            container(name="app", dependsOn=[{"containerName": "envoy", "condition": "HEALTHY"}]),
            container(name="envoy"),
        )


def test_non_essential_helper_is_a_regular_container_that_runs_once() -> None:
    spec = translate(container(name="app"), container(name="log-router", essential=False)).pod_spec
    assert "initContainers" not in spec
    assert names(spec["containers"]) == ["app", "log-router"]
    assert spec["containers"][1]["restartPolicy"] == "Never"


def test_without_restart_rules_a_non_essential_helper_is_a_sidecar() -> None:
    spec = translate(
        container(name="app"),
        container(name="log-router", essential=False),
        options=TranslationOptions(container_restart_rules=False),
    ).pod_spec
    (helper,) = spec["initContainers"]
    assert (helper["name"], helper["restartPolicy"]) == ("log-router", "Always")
    assert names(spec["containers"]) == ["app"]


def test_essential_containers_stay_regular_when_a_non_essential_one_is() -> None:
    """The kubelet stops the sidecars once the regular containers have exited: an essential
    container others wait for must not be a sidecar when only non-essential ones are regular."""
    spec = translate(
        container(name="app"),
        container(name="shipper", essential=False, dependsOn=[{"containerName": "app", "condition": "START"}]),
    ).pod_spec
    assert "initContainers" not in spec
    assert names(spec["containers"]) == ["app", "shipper"]


def test_init_order_follows_dependencies_not_declaration_order() -> None:
    spec = translate(
        container(name="app", dependsOn=[{"containerName": "b", "condition": "START"}]),
        container(name="b", essential=False, dependsOn=[{"containerName": "a", "condition": "SUCCESS"}]),
        container(name="a", essential=False),
    ).pod_spec
    assert names(spec["initContainers"]) == ["a", "b"]


def test_cycle_is_an_error_naming_the_containers() -> None:
    with pytest.raises(
        TranslationError,
        match=r"containerDefinitions\[a\].dependsOn: the containers wait for each other in a cycle \(a -> b -> a,",
    ):
        translate(
            container(name="main"),
            container(name="a", essential=False, dependsOn=[{"containerName": "b", "condition": "START"}]),
            container(name="b", essential=False, dependsOn=[{"containerName": "a", "condition": "START"}]),
        )


def test_dependency_on_a_missing_container_is_an_error() -> None:
    with pytest.raises(TranslationError, match="'ghost'"):
        translate(container(name="app", dependsOn=[{"containerName": "ghost", "condition": "START"}]))


def test_probes_are_removed_from_run_to_completion_init_containers() -> None:
    spec = translate(
        container(name="app", dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}]),
        container(name="migrate", essential=False, healthCheck=HEALTH),
    ).pod_spec
    (migrate,) = spec["initContainers"]
    assert not {"readinessProbe", "livenessProbe", "startupProbe"} & set(migrate)


def test_a_pod_always_keeps_a_regular_container() -> None:
    translation = translate(
        container(name="app", healthCheck=HEALTH),
        container(name="log", essential=False, dependsOn=[{"containerName": "app", "condition": "HEALTHY"}]),
    )
    spec = translation.pod_spec
    assert names(spec["containers"]) == ["app", "log"]
    assert "initContainers" not in spec
    assert any("HEALTHY of 'log' on 'app'" in note for note in translation.notes)


def test_essential_chain_keeps_the_last_one_regular() -> None:
    spec = translate(
        container(name="proxy", dependsOn=[{"containerName": "app", "condition": "START"}]),
        container(name="app"),
    ).pod_spec
    assert names(spec["initContainers"]) == ["app"]
    assert names(spec["containers"]) == ["proxy"]
