"""The deregistration delay from the ECSService annotation or the operator's setting, through
the service controller's plan: the pod template's preStop sleep, or InvalidSpec."""

from typing import Any

from ecs_facade.config import Config
from ecs_facade.controllers.indexes import Indexes, Revision, Snapshot
from ecs_facade.controllers.service import plan as controller
from ecs_facade.controllers.state import OperatorState
from ecs_facade.views.service import Readiness

NS = "team-a"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
REQUEST = {
    "family": "web",
    "containerDefinitions": [
        {"name": "web", "image": "nginx:1.27", "memory": 128, "portMappings": [{"containerPort": 8080}]}
    ],
}
LOAD_BALANCERS = [{"targetGroupArn": TG, "containerName": "web", "containerPort": 8080}]


def indexes(service: Snapshot) -> Indexes:
    task_definition = Snapshot("web", NS, "td-uid", 1, {"family": "web"}, {})
    revision = Revision("web-1", "web", 1, "ACTIVE", "h1", "T", REQUEST)
    found: dict[str, Any] = {
        "services": {(NS, service.name): [service]},
        "task_definitions": {(NS, "web"): [task_definition]},
        "revisions": {(NS, "web"): [revision]},
    }
    # the indexes are read as mappings: plain dicts stand in for them
    return Indexes(**{name: found.get(name, {}) for name in Indexes.__dataclass_fields__})


def plan(annotations: dict[str, str], load_balancers: list[dict[str, Any]] | None = None, default: int = 10) -> Any:
    spec = {"taskDefinition": "web", "desiredCount": 2}
    if load_balancers is not None:
        spec["loadBalancers"] = load_balancers
    service = Snapshot("web", NS, "svc-uid", 1, spec, {}, annotations)
    config = Config(deregistration_delay_seconds=default)
    return controller.make_plan(OperatorState(config=config), service, indexes(service), config, None, pin=None)


def pod_spec(result: Any) -> dict[str, Any]:
    assert isinstance(result, controller.Plan), result
    spec: dict[str, Any] = result.workload.manifest["spec"]["template"]["spec"]
    return spec


def test_a_load_balanced_service_drains_for_the_setting_by_default() -> None:
    spec = pod_spec(plan({}, LOAD_BALANCERS))
    assert spec["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    assert spec["terminationGracePeriodSeconds"] == 40


def test_the_annotation_overrides_the_setting() -> None:
    spec = pod_spec(plan({"ecs.facade.dev/deregistration-delay-seconds": "45"}, LOAD_BALANCERS))
    assert spec["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 45}}}
    assert spec["terminationGracePeriodSeconds"] == 75
    spec = pod_spec(plan({"ecs.facade.dev/deregistration-delay-seconds": "0"}, LOAD_BALANCERS))
    assert "lifecycle" not in spec["containers"][0]
    assert "terminationGracePeriodSeconds" not in spec


def test_a_service_without_load_balancers_stops_its_tasks_at_once() -> None:
    no_load_balancers: tuple[list[dict[str, Any]] | None, ...] = (None, [])
    for load_balancers in no_load_balancers:
        spec = pod_spec(plan({"ecs.facade.dev/deregistration-delay-seconds": "45"}, load_balancers))
        assert "lifecycle" not in spec["containers"][0]
        assert "terminationGracePeriodSeconds" not in spec


def test_a_bad_annotation_makes_the_service_not_ready() -> None:
    result = plan({"ecs.facade.dev/deregistration-delay-seconds": "5m"}, LOAD_BALANCERS)
    assert result == Readiness(
        False,
        "InvalidSpec",
        "metadata.annotations[ecs.facade.dev/deregistration-delay-seconds]: '5m' is not a deregistration delay; "
        "expected a whole number of seconds from 0 to 3600, as the target group's "
        "deregistration_delay.timeout_seconds",
    )
