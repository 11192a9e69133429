"""Container lifecycles as ECS runs them: restartPolicy, restartPolicyRules, RestartAllContainers."""

import itertools
import json
from typing import Any

import pytest

from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate.lifecycle import ANNOTATION_RESTART_POLICIES
from ecs_facade.translate.task import build_task_pod
from ecs_facade.translate.taskdefinition import PodTranslation, TranslationOptions, translate_task_definition
from tests.unit.helpers import all_containers, container, task_definition

RAC_ANY = [{"action": "RestartAllContainers", "exitCodes": {"operator": "NotIn"}}]
HEALTH = {"command": ["CMD", "/bin/ready"]}


def translated(*containers: dict[str, Any], service: bool = False, rules: bool = True) -> PodTranslation:
    options = TranslationOptions(container_restart_rules=rules)
    return translate_task_definition(task_definition(*containers), options, service=service)


def restart(translation: PodTranslation, name: str) -> dict[str, Any]:
    kube = all_containers(translation)[name]
    return {k: kube[k] for k in ("restartPolicy", "restartPolicyRules") if k in kube}


def policy(*ignored: int, period: int | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = {"enabled": True, "ignoredExitCodes": list(ignored)}
    if period is not None:
        fields["restartAttemptPeriod"] = period
    return fields


# --- standalone tasks (pod restartPolicy Never) --------------------------------------------------


def test_a_standalone_tasks_essential_container_keeps_the_pods_never() -> None:
    translation = translated(container(name="app"), container(name="touch", essential=False))
    assert restart(translation, "app") == {}
    assert restart(translation, "touch") == {"restartPolicy": "Never"}


def test_the_task_pod_never_restarts_and_a_non_essential_container_runs_once() -> None:
    pod, _ = build_task_pod(task_definition(container(name="app"), container(name="touch", essential=False)), 1)
    assert pod["spec"]["restartPolicy"] == "Never"
    touch = [c for c in pod["spec"]["containers"] if c["name"] == "touch"]
    assert touch[0]["restartPolicy"] == "Never"


@pytest.mark.parametrize(
    ("ecs_policy", "fields"),
    [
        (policy(), {"restartPolicy": "Always"}),
        (policy(0), {"restartPolicy": "OnFailure"}),
        (
            policy(2, 1, 2),
            {
                "restartPolicy": "Never",
                "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "NotIn", "values": [1, 2]}}],
            },
        ),
    ],
)
def test_an_ecs_restart_policy_restarts_except_on_ignored_codes(ecs_policy: dict[str, Any], fields: Any) -> None:
    essential = translated(container(name="app", restartPolicy=ecs_policy))
    helper = translated(container(name="app"), container(name="agent", essential=False, restartPolicy=ecs_policy))
    assert restart(essential, "app") == fields
    assert restart(helper, "agent") == fields


def test_a_disabled_restart_policy_is_no_policy() -> None:
    translation = translated(container(name="app", restartPolicy={"enabled": False, "ignoredExitCodes": [1]}))
    assert restart(translation, "app") == {}
    assert ANNOTATION_RESTART_POLICIES not in translation.annotations
    assert not any("restartPolicy" in text for text in [*translation.ignored, *translation.notes])


def test_ignored_exit_codes_are_in_an_annotation_for_the_task_view() -> None:
    translation = translated(
        container(name="App_1", restartPolicy=policy(3, 0)), container(name="agent", restartPolicy=policy())
    )
    assert json.loads(translation.annotations[ANNOTATION_RESTART_POLICIES]) == {"agent": [], "app-1": [0, 3]}


def test_restart_attempt_period_is_reported_as_approximated() -> None:
    given = translated(container(name="app", restartPolicy=policy(period=120)))
    default = translated(container(name="app", restartPolicy=policy()))
    assert any("restartAttemptPeriod (120 s)" in note for note in given.notes)
    assert any("restartAttemptPeriod (300 s)" in note for note in default.notes)


def test_restart_policy_is_no_longer_reported_as_ignored() -> None:
    assert not any("restartPolicy" in item for item in translated(container(restartPolicy=policy())).ignored)


# --- services (pod restartPolicy Always) ---------------------------------------------------------


def test_a_services_essential_exit_restarts_every_container_as_a_new_task() -> None:
    translation = translated(container(name="app"), container(name="touch", essential=False), service=True)
    assert restart(translation, "app") == {"restartPolicy": "Always", "restartPolicyRules": RAC_ANY}
    assert restart(translation, "touch") == {"restartPolicy": "Never"}


@pytest.mark.parametrize(
    ("ecs_policy", "fields"),
    [
        (policy(), {"restartPolicy": "Always"}),
        (
            policy(143, 0),
            {
                "restartPolicy": "Always",
                "restartPolicyRules": [
                    {"action": "RestartAllContainers", "exitCodes": {"operator": "In", "values": [0, 143]}}
                ],
            },
        ),
    ],
)
def test_a_services_essential_container_with_a_restart_policy(ecs_policy: dict[str, Any], fields: Any) -> None:
    """Restarted alone, except on an ignored code: then ECS stops the task and starts another."""
    assert restart(translated(container(name="app", restartPolicy=ecs_policy), service=True), "app") == fields


def test_an_essential_sidecar_of_a_service_restarts_every_container_too() -> None:
    translation = translated(
        container(name="app", dependsOn=[{"containerName": "envoy", "condition": "HEALTHY"}]),
        container(name="envoy", healthCheck=HEALTH),
        service=True,
    )
    assert restart(translation, "envoy") == {"restartPolicy": "Always", "restartPolicyRules": RAC_ANY}
    standalone = translated(
        container(name="app", dependsOn=[{"containerName": "envoy", "condition": "HEALTHY"}]),
        container(name="envoy", healthCheck=HEALTH),
    )
    assert restart(standalone, "envoy") == {"restartPolicy": "Always"}


def test_a_non_essential_container_others_wait_for_is_a_sidecar_and_said_to_restart() -> None:
    translation = translated(
        container(name="app", dependsOn=[{"containerName": "collector", "condition": "START"}]),
        container(name="collector", essential=False),
        service=True,
    )
    assert restart(translation, "collector") == {"restartPolicy": "Always"}
    assert any("containerDefinitions[collector] is non-essential and runs once" in n for n in translation.notes)


# --- init containers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ecs_policy", "fields"),
    [
        (None, {}),
        (policy(), {"restartPolicy": "OnFailure"}),
        (
            policy(3),
            {
                "restartPolicy": "Never",
                "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "NotIn", "values": [3]}}],
            },
        ),
    ],
)
def test_an_init_container_with_a_restart_policy_is_retried_on_failure(ecs_policy: Any, fields: Any) -> None:
    extra = {"restartPolicy": ecs_policy} if ecs_policy else {}
    for service in (False, True):
        translation = translated(
            container(name="app", dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}]),
            container(name="migrate", essential=False, **extra),
            service=service,
        )
        assert restart(translation, "migrate") == fields


# --- clusters without container restart rules ----------------------------------------------------


def test_without_restart_rules_todays_sidecars_and_the_policy_is_ignored() -> None:
    translation = translated(
        container(name="app", restartPolicy=policy(1)),
        container(name="touch", essential=False),
        service=True,
        rules=False,
    )
    assert restart(translation, "app") == {}
    assert restart(translation, "touch") == {"restartPolicy": "Always"}
    assert [c["name"] for c in translation.pod_spec["initContainers"]] == ["touch"]
    assert any(item.startswith("containerDefinitions[app].restartPolicy (") for item in translation.ignored)
    assert any("containerDefinitions[touch] is non-essential and runs once" in n for n in translation.notes)
    assert ANNOTATION_RESTART_POLICIES not in translation.annotations


# --- what the API server accepts (pkg/apis/core/validation: validateContainerRestartPolicy,
# validateInitContainerRestartPolicy; Kubernetes 1.36+ with both gates on) ------------------------


def _shapes() -> list[tuple[str, PodTranslation]]:
    shapes = []
    policies: list[dict[str, Any] | None] = [None, policy(), policy(0), policy(1, 2), {"enabled": False}]
    for service, essential, ecs_policy, waited in itertools.product(
        (False, True), (True, False), policies, (None, "START", "HEALTHY", "SUCCESS")
    ):
        if waited == "SUCCESS" and essential:
            continue  # an error: an essential container others wait to complete
        extra = {"restartPolicy": ecs_policy} if ecs_policy else {}
        waits = [{"containerName": "x", "condition": waited}] if waited else []
        translation = translated(
            container(name="app", dependsOn=waits),
            container(name="x", essential=essential, healthCheck=HEALTH, **extra),
            service=service,
        )
        shapes.append((f"service={service} essential={essential} policy={ecs_policy} waited={waited}", translation))
    return shapes


@pytest.mark.parametrize(("label", "translation"), _shapes(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_shape_passes_the_api_servers_restart_rules(label: str, translation: PodTranslation) -> None:
    spec = translation.pod_spec
    for kube in [*spec.get("initContainers", []), *spec["containers"]]:
        rules = kube.get("restartPolicyRules", [])
        if rules:
            assert kube.get("restartPolicy") in ("Always", "Never", "OnFailure"), label
        assert len(rules) <= 20
        for rule in rules:
            assert rule["action"] in ("Restart", "RestartAllContainers")
            assert rule["exitCodes"]["operator"] in ("In", "NotIn")
            assert len(rule["exitCodes"].get("values", [])) <= 255
    for kube in spec.get("initContainers", []):
        # probes only on sidecars: "may not be set for init containers without restartPolicy=Always"
        if kube.get("restartPolicy") != "Always":
            assert not {"readinessProbe", "livenessProbe", "startupProbe"} & set(kube), label
    if "waited=START" in label or "waited=HEALTHY" in label:
        # a container others wait to start stays a sidecar whatever its ECS policy
        (x,) = spec["initContainers"]
        assert x["restartPolicy"] == "Always", label


def test_a_pod_with_restart_rules_parses_as_ecs_would_register_it() -> None:
    """42-restart-policy-like: the restart policy fields come from the ECS model unchanged."""
    definition = parse_task_definition(
        {
            "family": "f",
            "containerDefinitions": [
                {"name": "worker", "image": "x", "memory": 64, "restartPolicy": policy(0, 137, period=60)}
            ],
        },
        "f",
    )
    (worker,) = translate_task_definition(definition, service=True).pod_spec["containers"]
    assert worker["restartPolicyRules"] == [
        {"action": "RestartAllContainers", "exitCodes": {"operator": "In", "values": [0, 137]}}
    ]


def test_a_services_deployment_has_the_service_form() -> None:
    from ecs_facade.translate.service import ServiceDecisions, build_workload

    workload = build_workload(
        "web",
        "ns",
        task_definition(container(name="app"), container(name="touch", essential=False)),
        1,
        ServiceDecisions(desired_count=1),
    )
    template = workload.manifest["spec"]["template"]["spec"]
    assert "restartPolicy" not in template  # a Deployment's pods are Always
    app, touch = template["containers"]
    assert (app["restartPolicy"], app["restartPolicyRules"]) == ("Always", RAC_ANY)
    assert touch["restartPolicy"] == "Never"
