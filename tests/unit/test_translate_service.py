import dataclasses

from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate.ownership import owner_reference
from ecs_facade.translate.service import ServiceDecisions, build_workload

TASK_DEFINITION = parse_task_definition(
    {"containerDefinitions": [{"name": "nginx", "image": "nginx:1.27", "memory": 256}]}, "web"
)


def test_deployment_runs_desired_count_of_the_task_definition() -> None:
    service = ServiceSpec.model_validate({"serviceName": "Web_Svc", "taskDefinition": "web", "desiredCount": 3})
    deployment = build_workload(
        "web-svc", "team-a", TASK_DEFINITION, 4, ServiceDecisions(desired_count=service.desiredCount or 0)
    ).manifest

    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["kind"] == "Deployment"
    assert deployment["metadata"]["name"] == "web-svc"
    assert deployment["metadata"]["namespace"] == "team-a"
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"] == {"matchLabels": {"ecs.facade.dev/service": "web-svc"}}
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert labels["ecs.facade.dev/service"] == "web-svc"
    assert labels["ecs.facade.dev/task-definition-family"] == "web"
    assert labels["app.kubernetes.io/managed-by"] == "ecs-facade"
    assert labels["ecs.facade.dev/task-definition-revision"] == "4"
    assert template["metadata"]["annotations"]["ecs.facade.dev/essential-containers"] == "nginx"
    # the selector must match the pod template, or the API server rejects the Deployment
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert [c["name"] for c in template["spec"]["containers"]] == ["nginx"]


def test_zero_desired_count_is_kept() -> None:
    service = ServiceSpec.model_validate({"serviceName": "web", "taskDefinition": "web", "desiredCount": 0})
    decisions = ServiceDecisions(desired_count=service.desiredCount or 0)
    assert build_workload("web", "ns", TASK_DEFINITION, None, decisions).manifest["spec"]["replicas"] == 0


def test_owner_reference_makes_the_service_the_controller() -> None:
    ref = owner_reference("ecs.facade.dev/v1alpha1", "ECSService", "web", "uid-1")
    assert ref == {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "name": "web",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_tags_propagate_from_the_chosen_source() -> None:
    from ecs_facade.translate.service import task_tags

    service_tags = [{"key": "team", "value": "web"}]
    td_tags = [{"key": "app", "value": "nginx"}]
    assert task_tags("SERVICE", service_tags, td_tags) == [{"key": "team", "value": "web"}]
    assert task_tags("TASK_DEFINITION", service_tags, td_tags) == [{"key": "app", "value": "nginx"}]
    assert task_tags("NONE", service_tags, td_tags) == []
    assert task_tags(None, service_tags, td_tags, {"aws:ecs:serviceName": "web"}) == [
        {"key": "aws:ecs:serviceName", "value": "web"}
    ]


def test_task_tags_are_a_pod_annotation() -> None:
    from ecs_facade.translate.service import ServiceDecisions, build_workload

    workload = build_workload(
        "web", "ns", TASK_DEFINITION, 1, ServiceDecisions(desired_count=1, task_tags=[{"key": "k:x", "value": "v"}])
    )
    annotations = workload.manifest["spec"]["template"]["metadata"]["annotations"]
    assert annotations["ecs.facade.dev/tags"] == '[{"key":"k:x","value":"v"}]'


def test_min_ready_seconds_is_the_settle_time_of_a_deployment_only() -> None:
    settled = ServiceDecisions(desired_count=2, min_ready_seconds=10)
    assert build_workload("web", "ns", TASK_DEFINITION, 1, settled).manifest["spec"]["minReadySeconds"] == 10
    daemon = ServiceDecisions(daemon=True, min_ready_seconds=10)
    assert "minReadySeconds" not in build_workload("web", "ns", TASK_DEFINITION, 1, daemon).manifest["spec"]
    assert "minReadySeconds" not in build_workload("web", "ns", TASK_DEFINITION, 1, ServiceDecisions()).manifest["spec"]


LOAD_BALANCED = parse_task_definition(
    {
        "containerDefinitions": [
            {
                "name": "web",
                "image": "nginx:1.27",
                "memory": 256,
                "stopTimeout": 20,
                "portMappings": [{"containerPort": 8080}],
                "healthCheck": {"command": ["CMD", "/healthcheck"], "interval": 5, "retries": 2},
            }
        ]
    },
    "web",
)


def test_a_load_balanced_task_leaves_the_endpoints_before_sigterm() -> None:
    decisions = ServiceDecisions(desired_count=2, deregistration_delay=10)
    for daemon in (False, True):
        workload = build_workload("web", "ns", LOAD_BALANCED, 1, dataclasses.replace(decisions, daemon=daemon))
        pod = workload.manifest["spec"]["template"]["spec"]
        (web,) = pod["containers"]
        assert web["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
        assert pod["terminationGracePeriodSeconds"] == 30  # 10 s drain + stopTimeout 20
        # the translation the caller may hold on to is not changed
        assert "lifecycle" not in workload.translation.pod_spec["containers"][0]
        assert workload.translation.pod_spec["terminationGracePeriodSeconds"] == 20


def test_without_a_delay_tasks_stop_at_once() -> None:
    pod = build_workload("web", "ns", LOAD_BALANCED, 1, ServiceDecisions(desired_count=2)).manifest["spec"]["template"]
    assert "lifecycle" not in pod["spec"]["containers"][0]
    assert pod["spec"]["terminationGracePeriodSeconds"] == 20


def test_a_new_task_counts_for_the_rollout_only_once_ready() -> None:
    """At 100 % / 200 % an old task stops only for a new one that is available: Ready (its
    readiness probe is the container's ECS health check) and so for minReadySeconds."""
    decisions = ServiceDecisions(
        desired_count=2, maximum_percent=200, minimum_healthy_percent=100, min_ready_seconds=10, deregistration_delay=10
    )
    spec = build_workload("web", "ns", LOAD_BALANCED, 1, decisions).manifest["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}
    assert spec["minReadySeconds"] == 10
    (web,) = spec["template"]["spec"]["containers"]
    assert web["readinessProbe"] == {
        "exec": {"command": ["/healthcheck"]},
        "periodSeconds": 5,
        "timeoutSeconds": 5,
        "failureThreshold": 2,
        "successThreshold": 1,
    }
