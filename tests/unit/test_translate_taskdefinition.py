"""ECS container definitions to Kubernetes containers, field by field."""

import pytest

from ecs_facade.model.taskdefinition import ContainerDefinition, TaskDefinitionSpec
from ecs_facade.translate import TranslationError
from ecs_facade.translate.taskdefinition import build_container, build_pod_spec


def container(**fields: object) -> ContainerDefinition:
    return ContainerDefinition.model_validate({"name": "app", "image": "nginx:1.27", **fields})


def test_name_and_image() -> None:
    assert build_container(container()) == {"name": "app", "image": "nginx:1.27"}


def test_entry_point_is_kubernetes_command_and_command_is_args() -> None:
    result = build_container(container(entryPoint=["/bin/sh", "-c"], command=["echo hi"]))
    assert result["command"] == ["/bin/sh", "-c"]
    assert result["args"] == ["echo hi"]


def test_command_alone_keeps_the_image_entrypoint() -> None:
    result = build_container(container(command=["--port", "8080"]))
    assert "command" not in result
    assert result["args"] == ["--port", "8080"]


def test_environment_keeps_order_and_empty_values() -> None:
    result = build_container(container(environment=[{"name": "B", "value": "2"}, {"name": "A"}]))
    assert result["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": ""}]


def test_port_mappings() -> None:
    result = build_container(
        container(
            portMappings=[
                {"containerPort": 80, "protocol": "tcp", "name": "http"},
                {"containerPort": 53, "protocol": "udp"},
                {"containerPort": 8080, "name": "a_name_far_too_long_for_kubernetes"},
            ]
        )
    )
    assert result["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"},
        {"containerPort": 53, "protocol": "UDP"},
        {"containerPort": 8080, "protocol": "TCP"},
    ]


def test_working_directory() -> None:
    assert build_container(container(workingDirectory="/srv"))["workingDir"] == "/srv"


def test_cpu_units_are_a_request_only() -> None:
    result = build_container(container(cpu=256))
    assert result["resources"] == {"requests": {"cpu": "250m"}}


def test_memory_hard_limit_is_limit_and_request() -> None:
    result = build_container(container(memory=512))
    assert result["resources"] == {"requests": {"memory": "512Mi"}, "limits": {"memory": "512Mi"}}


def test_memory_reservation_is_the_request() -> None:
    result = build_container(container(memory=512, memoryReservation=128))
    assert result["resources"] == {"requests": {"memory": "128Mi"}, "limits": {"memory": "512Mi"}}


def test_memory_reservation_alone_sets_no_limit() -> None:
    assert build_container(container(memoryReservation=128))["resources"] == {"requests": {"memory": "128Mi"}}


def test_container_names_become_dns_labels() -> None:
    assert build_container(container(name="My_App"))["name"] == "my-app"


def test_container_name_that_cannot_be_a_label_is_an_error() -> None:
    with pytest.raises(TranslationError, match="_app"):
        build_container(container(name="_app"))


def test_colliding_container_names_are_an_error() -> None:
    spec = TaskDefinitionSpec.model_validate(
        {
            "family": "f",
            "containerDefinitions": [{"name": "a_b", "image": "x"}, {"name": "A-B", "image": "y"}],
        }
    )
    with pytest.raises(TranslationError, match="collide"):
        build_pod_spec(spec)


def test_null_means_absent() -> None:
    definition = container(essential=None, cpu=None, environment=None, portMappings=None)
    assert definition.essential is True
    assert build_container(definition) == {"name": "app", "image": "nginx:1.27"}


def test_pod_spec_keeps_container_order() -> None:
    spec = TaskDefinitionSpec.model_validate(
        {"family": "f", "containerDefinitions": [{"name": "b", "image": "x"}, {"name": "a", "image": "y"}]}
    )
    assert [c["name"] for c in build_pod_spec(spec)["containers"]] == ["b", "a"]
