"""ECS loadBalancers and serviceRegistries as Kubernetes Services; healthCheckGracePeriodSeconds."""

import copy
import re
from typing import Any

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.loadbalancing import (
    ANNOTATION_DEREGISTRATION_DELAY,
    app_protocols_of,
    build_services,
    deregistration_delay,
    discovery_service_name,
    drain_before_stop,
    health_check_grace,
    service_name,
)
from ecs_facade.translate.names import container_name
from tests.unit.helpers import container, translate

TG_WEB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
TG_WEB_2 = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-internal/fedcba9876543210"
TG_METRICS = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/metrics/1111111111111111"
REGISTRY = "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abcdef0123456789"
LABELS = {"app.kubernetes.io/managed-by": "ecs-facade", "ecs.facade.dev/service": "web"}
SELECTOR = {"ecs.facade.dev/service": "web"}
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def pod(*containers: dict[str, Any], **task: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The translated pod template of a service and the ECS → Kubernetes container names, as the
    controller has them."""
    translation = translate(*containers, service=True, **task)
    names = {c["name"]: container_name(c["name"]) for c in containers or [container()]}
    return translation.pod_spec, names


def web_pod() -> tuple[dict[str, Any], dict[str, str]]:
    return pod(
        container(
            name="Web_App",
            portMappings=[{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "protocol": "tcp"}],
        )
    )


def services(
    load_balancers: list[dict[str, Any]],
    registries: list[dict[str, Any]] | None = None,
    pod_and_names: tuple[dict[str, Any], dict[str, str]] | None = None,
    name: str = "web",
    service_type: str = "ClusterIP",
) -> list[dict[str, Any]]:
    pod_spec, names = pod_and_names or web_pod()
    return build_services(name, "team-a", load_balancers, registries or [], pod_spec, names, service_type)


# --- loadBalancers -------------------------------------------------------------------------------


def test_target_group_becomes_a_service_port_named_after_the_port_mapping() -> None:
    result = services([{"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 8080}])
    assert result == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "web",
                "namespace": "team-a",
                "labels": LABELS,
                "annotations": {
                    "ecs.facade.dev/target-group-arns": TG_WEB,
                    "ecs.facade.dev/load-balancers": (
                        f'[{{"containerName":"Web_App","containerPort":8080,"targetGroupArn":"{TG_WEB}"}}]'
                    ),
                },
            },
            "spec": {
                "type": "ClusterIP",
                "selector": SELECTOR,
                "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}],
            },
        }
    ]


def test_distinct_container_ports_share_one_service_and_target_groups_are_all_recorded() -> None:
    (service,) = services(
        [
            {"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 8080},
            {"targetGroupArn": TG_METRICS, "containerName": "Web_App", "containerPort": 9090},
            {"targetGroupArn": TG_WEB_2, "containerName": "Web_App", "containerPort": 8080},
            {
                "targetGroupArn": TG_WEB,
                "containerName": "Web_App",
                "containerPort": 8080,
                "advancedConfiguration": None,
            },
        ]
    )
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"},
        # no port mapping name: the Service port still needs one, the target is the number
        {"name": "tcp-9090", "port": 9090, "targetPort": 9090, "protocol": "TCP"},
    ]
    annotations = service["metadata"]["annotations"]
    assert annotations["ecs.facade.dev/target-group-arns"] == f"{TG_WEB},{TG_METRICS},{TG_WEB_2}"
    assert annotations["ecs.facade.dev/load-balancers"] == (
        "["
        f'{{"containerName":"Web_App","containerPort":8080,"targetGroupArn":"{TG_WEB}"}},'
        f'{{"containerName":"Web_App","containerPort":9090,"targetGroupArn":"{TG_METRICS}"}},'
        f'{{"containerName":"Web_App","containerPort":8080,"targetGroupArn":"{TG_WEB_2}"}},'
        f'{{"containerName":"Web_App","containerPort":8080,"targetGroupArn":"{TG_WEB}"}}'
        "]"
    )


def test_classic_load_balancer_is_recorded_by_name() -> None:
    (service,) = services([{"loadBalancerName": "web-elb", "containerName": "Web_App", "containerPort": 8080}])
    assert service["metadata"]["annotations"] == {
        "ecs.facade.dev/load-balancer-names": "web-elb",
        "ecs.facade.dev/load-balancers": (
            '[{"containerName":"Web_App","containerPort":8080,"loadBalancerName":"web-elb"}]'
        ),
    }
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]


@pytest.mark.parametrize("service_type", ["LoadBalancer", "NodePort"])
def test_service_type_on_request(service_type: str) -> None:
    (service,) = services(
        [{"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 8080}], service_type=service_type
    )
    assert service["spec"]["type"] == service_type


def test_udp_and_tcp_mappings_of_one_port_both_become_service_ports() -> None:
    pod_and_names = pod(
        container(
            name="dns",
            portMappings=[{"containerPort": 53, "protocol": "udp"}, {"containerPort": 53, "protocol": "tcp"}],
        )
    )
    (service,) = services(
        [{"targetGroupArn": TG_WEB, "containerName": "dns", "containerPort": 53}], pod_and_names=pod_and_names
    )
    assert service["spec"]["ports"] == [
        {"name": "udp-53", "port": 53, "targetPort": 53, "protocol": "UDP"},
        {"name": "tcp-53", "port": 53, "targetPort": 53, "protocol": "TCP"},
    ]


def test_a_port_name_used_by_two_containers_is_not_a_target_port() -> None:
    # the translator names ports uniquely in a pod; a pod spec from elsewhere may not
    pod_and_names = (
        {
            "containers": [
                {"name": "a", "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}]},
                {"name": "b", "ports": [{"containerPort": 8081, "protocol": "TCP", "name": "http"}]},
            ]
        },
        {"a": "a", "b": "b"},
    )
    (service,) = services(
        [
            {"targetGroupArn": TG_WEB, "containerName": "a", "containerPort": 8080},
            {"targetGroupArn": TG_WEB_2, "containerName": "b", "containerPort": 8081},
        ],
        pod_and_names=pod_and_names,
    )
    # a named targetPort would resolve to the first container's port for both
    assert service["spec"]["ports"] == [
        {"name": "tcp-8080", "port": 8080, "targetPort": 8080, "protocol": "TCP"},
        {"name": "tcp-8081", "port": 8081, "targetPort": 8081, "protocol": "TCP"},
    ]


def test_a_port_name_equal_to_another_ports_fallback_name_is_not_used() -> None:
    pod_and_names = pod(
        container(name="a", portMappings=[{"containerPort": 8080, "name": "tcp-9090"}, {"containerPort": 9090}])
    )
    (service,) = services(
        [
            {"targetGroupArn": TG_WEB, "containerName": "a", "containerPort": 8080},
            {"targetGroupArn": TG_WEB_2, "containerName": "a", "containerPort": 9090},
        ],
        pod_and_names=pod_and_names,
    )
    assert [p["name"] for p in service["spec"]["ports"]] == ["tcp-8080", "tcp-9090"]
    assert service["spec"]["ports"][0]["targetPort"] == "tcp-9090"  # still the right container port


def test_a_shortened_port_name_is_the_service_port_name_and_target_port() -> None:
    pod_and_names = pod(container(name="api", portMappings=[{"containerPort": 8080, "name": "orders-api-http-8080"}]))
    (port,) = pod_and_names[0]["containers"][0]["ports"]
    assert port["name"] == "orders-api-2ea1"
    (service,) = services(
        [{"targetGroupArn": TG_WEB, "containerName": "api", "containerPort": 8080}], pod_and_names=pod_and_names
    )
    assert service["spec"]["ports"] == [
        {"name": "orders-api-2ea1", "port": 8080, "targetPort": "orders-api-2ea1", "protocol": "TCP"}
    ]


def test_app_protocol_is_carried_to_the_service_ports() -> None:
    translation = translate(
        container(
            name="api",
            portMappings=[
                {"containerPort": 8080, "name": "web", "appProtocol": "http"},
                {"containerPort": 8081, "name": "h2", "appProtocol": "http2"},
                {"containerPort": 9090, "name": "rpc", "appProtocol": "grpc"},
                {"containerPort": 9100, "name": "metrics"},
            ],
        )
    )
    protocols = app_protocols_of(translation.annotations)
    assert protocols == {"api:8080/TCP": "http", "api:8081/TCP": "http2", "api:9090/TCP": "grpc"}
    load_balancers = [
        {"targetGroupArn": TG_WEB, "containerName": "api", "containerPort": port} for port in (8080, 8081, 9090, 9100)
    ]
    service, discovery = build_services(
        "web",
        "team-a",
        load_balancers,
        [{"registryArn": REGISTRY, "containerName": "api", "containerPort": 9090}],
        translation.pod_spec,
        {"api": "api"},
        app_protocols=protocols,
    )
    assert [(p["name"], p.get("appProtocol")) for p in service["spec"]["ports"]] == [
        ("web", "http"),
        ("h2", "kubernetes.io/h2c"),  # HTTP/2 over cleartext, prior knowledge
        ("rpc", "kubernetes.io/h2c"),  # gRPC is HTTP/2
        ("metrics", None),
    ]
    assert discovery["spec"]["ports"] == [
        {"name": "rpc", "port": 9090, "targetPort": "rpc", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}
    ]
    # without the translation's app protocols (an older caller), no appProtocol at all
    (plain,) = build_services("web", "team-a", load_balancers[:1], [], translation.pod_spec, {"api": "api"})
    assert "appProtocol" not in plain["spec"]["ports"][0]


def test_app_protocols_of_ignores_a_missing_or_malformed_annotation() -> None:
    assert app_protocols_of({}) == {}
    assert app_protocols_of({"ecs.facade.dev/app-protocols": "not json"}) == {}
    assert app_protocols_of({"ecs.facade.dev/app-protocols": '["http"]'}) == {}


def test_sidecar_ports_are_targeted_by_number() -> None:
    pod_and_names = pod(
        container(name="app", dependsOn=[{"containerName": "envoy", "condition": "START"}]),
        container(name="envoy", essential=False, portMappings=[{"containerPort": 15000, "name": "proxy"}]),
    )
    assert [c["name"] for c in pod_and_names[0]["initContainers"]] == ["envoy"]
    (service,) = services(
        [{"targetGroupArn": TG_WEB, "containerName": "envoy", "containerPort": 15000}], pod_and_names=pod_and_names
    )
    # some load-balancer controllers resolve port names in spec.containers only
    assert service["spec"]["ports"] == [{"name": "proxy", "port": 15000, "targetPort": 15000, "protocol": "TCP"}]


def test_no_load_balancers_and_no_registries_is_no_service() -> None:
    assert services([]) == []


# --- loadBalancers errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"targetGroupArn": TG_WEB, "containerName": "web_app", "containerPort": 8080},
            r"loadBalancers\[0\]\.containerName 'web_app' is not a container of the task definition",
        ),
        (
            {"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 80},
            r"loadBalancers\[0\]\.containerPort 80 is not among the portMappings of container 'Web_App'",
        ),
        (
            {"targetGroupArn": TG_WEB, "loadBalancerName": "elb", "containerName": "Web_App", "containerPort": 8080},
            r"loadBalancers\[0\]: exactly one of targetGroupArn \(ALB/NLB\) and loadBalancerName .* got both",
        ),
        (
            {"containerName": "Web_App", "containerPort": 8080},
            r"loadBalancers\[0\]: exactly one of targetGroupArn .* got neither",
        ),
        ({"targetGroupArn": TG_WEB, "containerPort": 8080}, r"loadBalancers\[0\]\.containerName is required"),
        ({"targetGroupArn": TG_WEB, "containerName": "Web_App"}, r"loadBalancers\[0\]\.containerPort is required"),
        (
            {"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 70000},
            r"loadBalancers\[0\]\.containerPort 70000 is not a port",
        ),
        (
            {"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": "8080"},
            r"loadBalancers\[0\]\.containerPort '8080' is not a port",
        ),
        (
            {"targetGroupArn": 42, "containerName": "Web_App", "containerPort": 8080},
            r"loadBalancers\[0\]\.targetGroupArn must be a string",
        ),
    ],
)
def test_invalid_load_balancer(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(TranslationError, match=message):
        services([entry])


def test_error_names_the_entry_index() -> None:
    with pytest.raises(TranslationError, match=r"^loadBalancers\[1\]\.containerPort 1 "):
        services(
            [
                {"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 8080},
                {"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 1},
            ]
        )


def test_one_port_load_balanced_to_two_containers_is_an_error() -> None:
    pod_and_names = pod(
        container(name="a", portMappings=[{"containerPort": 8080}]),
        container(name="b", portMappings=[{"containerPort": 8080}]),
    )
    with pytest.raises(TranslationError, match=r"loadBalancers\[1\]: containerPort 8080/TCP is already .* 'a'"):
        services(
            [
                {"targetGroupArn": TG_WEB, "containerName": "a", "containerPort": 8080},
                {"targetGroupArn": TG_WEB_2, "containerName": "b", "containerPort": 8080},
            ],
            pod_and_names=pod_and_names,
        )


def test_a_container_that_runs_to_completion_cannot_be_load_balanced() -> None:
    pod_and_names = pod(
        container(name="app", dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}]),
        container(name="migrate", essential=False, portMappings=[{"containerPort": 8080}]),
    )
    with pytest.raises(TranslationError, match=r"containerName 'migrate' runs to completion"):
        services(
            [{"targetGroupArn": TG_WEB, "containerName": "migrate", "containerPort": 8080}],
            pod_and_names=pod_and_names,
        )


def test_unsupported_service_type() -> None:
    with pytest.raises(TranslationError, match="service type 'ExternalName' is not one of ClusterIP, LoadBalancer"):
        services([], service_type="ExternalName")


# --- serviceRegistries ---------------------------------------------------------------------------


def test_registry_without_port_is_a_headless_service_without_ports() -> None:
    assert services([], [{"registryArn": REGISTRY}]) == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "web-discovery",
                "namespace": "team-a",
                "labels": LABELS,
                "annotations": {"ecs.facade.dev/registry-arn": REGISTRY},
            },
            "spec": {"type": "ClusterIP", "clusterIP": "None", "selector": SELECTOR},
        }
    ]


def test_registry_container_port_is_the_headless_service_port() -> None:
    (service,) = services([], [{"registryArn": REGISTRY, "containerName": "Web_App", "containerPort": 8080}])
    assert service["spec"] == {
        "type": "ClusterIP",
        "clusterIP": "None",
        "selector": SELECTOR,
        "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}],
    }


def test_registry_port_uses_a_matching_port_mapping() -> None:
    (service,) = services([], [{"registryArn": REGISTRY, "port": 9090}])
    assert service["spec"]["ports"] == [{"name": "tcp-9090", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]


def test_registry_port_without_a_port_mapping_is_tcp() -> None:
    (service,) = services([], [{"registryArn": REGISTRY, "port": 7000}])
    assert service["spec"]["ports"] == [{"name": "tcp-7000", "port": 7000, "targetPort": 7000, "protocol": "TCP"}]


def test_load_balancers_and_registry_give_two_services() -> None:
    result = services(
        [{"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 8080}],
        [{"registryArn": REGISTRY, "containerName": "Web_App", "containerPort": 8080}],
        service_type="LoadBalancer",
    )
    assert [(s["metadata"]["name"], s["spec"]["type"], s["spec"].get("clusterIP")) for s in result] == [
        ("web", "LoadBalancer", None),
        ("web-discovery", "ClusterIP", "None"),
    ]


@pytest.mark.parametrize(
    ("registries", "message"),
    [
        (
            [{"registryArn": REGISTRY}, {"registryArn": REGISTRY}],
            r"serviceRegistries: ECS allows one registry per service, got 2",
        ),
        ([{"port": 8080}], r"serviceRegistries\[0\]\.registryArn is required"),
        (
            [{"registryArn": REGISTRY, "port": 8080, "containerName": "Web_App", "containerPort": 8080}],
            r"serviceRegistries\[0\]: set either port or containerName and containerPort, not both",
        ),
        (
            [{"registryArn": REGISTRY, "containerName": "Web_App"}],
            r"serviceRegistries\[0\]\.containerPort is required",
        ),
        ([{"registryArn": REGISTRY, "containerPort": 8080}], r"serviceRegistries\[0\]\.containerName is required"),
        (
            [{"registryArn": REGISTRY, "containerName": "db", "containerPort": 8080}],
            r"serviceRegistries\[0\]\.containerName 'db' is not a container of the task definition",
        ),
        (
            [{"registryArn": REGISTRY, "containerName": "Web_App", "containerPort": 81}],
            r"serviceRegistries\[0\]\.containerPort 81 is not among the portMappings of container 'Web_App'",
        ),
        ([{"registryArn": REGISTRY, "port": 0}], r"serviceRegistries\[0\]\.port 0 is not a port"),
    ],
)
def test_invalid_registry(registries: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(TranslationError, match=message):
        services([], registries)


# --- names ---------------------------------------------------------------------------------------


def test_valid_names_are_kept() -> None:
    assert service_name("web") == "web"
    assert discovery_service_name("web") == "web-discovery"
    assert service_name("a" * 63) == "a" * 63


@pytest.mark.parametrize(
    ("name", "expected", "discovery"),
    [
        ("web.prod", "web-prod-558e18b6", "web-prod-558e18b6-discovery"),
        ("web-prod", "web-prod", "web-prod-discovery"),
        ("1web", "svc-1web-bac40f31", "svc-1web-bac40f31-discovery"),
        ("a" * 60, "a" * 60, "a" * 44 + "-11ee3912-discovery"),
        ("a" * 64, "a" * 54 + "-ffe054fe", "a" * 44 + "-ffe054fe-discovery"),
        ("Web_App", "web-app-370a31f4", "web-app-370a31f4-discovery"),
    ],
)
def test_names_that_are_not_dns_1035_labels_are_derived(name: str, expected: str, discovery: str) -> None:
    assert service_name(name) == expected
    assert discovery_service_name(name) == discovery
    assert DNS_1035.match(expected)
    assert DNS_1035.match(discovery)


def test_derived_names_of_different_services_differ() -> None:
    assert service_name("web.prod") != service_name("web--prod") != service_name("web-prod")
    assert service_name("a" * 64) != service_name("a" * 65)


def test_service_name_without_letters_or_digits_is_an_error() -> None:
    with pytest.raises(TranslationError, match=r"service name '\.\.\.' has no letters or digits"):
        service_name("...")


def test_labels_and_selector_keep_the_ecs_service_name() -> None:
    (service,) = services(
        [{"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 8080}], name="web.prod"
    )
    assert service["metadata"]["name"] == "web-prod-558e18b6"
    assert service["metadata"]["labels"]["ecs.facade.dev/service"] == "web.prod"
    assert service["spec"]["selector"] == {"ecs.facade.dev/service": "web.prod"}


# --- healthCheckGracePeriodSeconds ---------------------------------------------------------------

CHECK = {"command": ["CMD", "true"], "interval": 10, "retries": 3}


def test_grace_period_delays_liveness_only() -> None:
    pod_spec, _ = pod(container(healthCheck=CHECK))
    result = health_check_grace(pod_spec, 120)
    (app,) = result["containers"]
    assert app["livenessProbe"] == {
        "exec": {"command": ["true"]},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
        "successThreshold": 1,
        "initialDelaySeconds": 120,
    }
    assert app["readinessProbe"] == pod_spec["containers"][0]["readinessProbe"]
    assert "initialDelaySeconds" not in app["readinessProbe"]


def test_grace_period_extends_the_startup_probe_without_delaying_it() -> None:
    pod_spec, _ = pod(container(healthCheck={**CHECK, "startPeriod": 30}))
    assert pod_spec["containers"][0]["startupProbe"]["failureThreshold"] == 6
    (app,) = health_check_grace(pod_spec, 120)["containers"]
    # ceil(120 / 10) + 3: ECS ignores failures for 120 s, then needs 3 more
    assert app["startupProbe"]["failureThreshold"] == 15
    assert "initialDelaySeconds" not in app["startupProbe"]
    # a longer start period than the grace period is kept
    (app,) = health_check_grace(pod_spec, 5)["containers"]
    assert app["startupProbe"]["failureThreshold"] == 6
    assert app["livenessProbe"]["initialDelaySeconds"] == 5


def test_grace_period_leaves_containers_without_liveness_alone() -> None:
    pod_spec, _ = pod(
        container(name="app", healthCheck=CHECK, dependsOn=[{"containerName": "side", "condition": "START"}]),
        container(name="side", essential=False, healthCheck={**CHECK, "startPeriod": 30}),
    )
    result = health_check_grace(pod_spec, 60)
    assert result["initContainers"] == pod_spec["initContainers"]
    assert result["containers"][0]["livenessProbe"]["initialDelaySeconds"] == 60


def test_no_grace_period_is_an_unchanged_copy_and_the_input_is_never_changed() -> None:
    pod_spec, _ = pod(container(healthCheck=CHECK))
    before = copy.deepcopy(pod_spec)
    assert health_check_grace(pod_spec, None) == before
    assert health_check_grace(pod_spec, 0) == before
    assert health_check_grace(pod_spec, None) is not pod_spec
    health_check_grace(pod_spec, 300)
    assert pod_spec == before


def test_largest_grace_period_fits_probe_fields() -> None:
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1, "failureThreshold": 3}
    pod_spec = {"containers": [{"name": "app", "livenessProbe": probe, "startupProbe": probe}]}
    (app,) = health_check_grace(pod_spec, 2**31 - 1)["containers"]
    assert app["livenessProbe"]["initialDelaySeconds"] == 2**31 - 1  # int32 in the API
    assert app["startupProbe"]["failureThreshold"] == 2**31 - 1
    with pytest.raises(TranslationError, match="healthCheckGracePeriodSeconds 2147483648 is not between"):
        health_check_grace(pod_spec, 2**31)


def test_negative_grace_period_is_an_error() -> None:
    with pytest.raises(TranslationError, match="healthCheckGracePeriodSeconds -1 is not between 0 and"):
        health_check_grace({"containers": []}, -1)


def test_selector_is_the_deployment_selector() -> None:
    from ecs_facade.translate.service import service_selector

    (service,) = services([{"targetGroupArn": TG_WEB, "containerName": "Web_App", "containerPort": 8080}])
    assert service["spec"]["selector"] == service_selector("web")


# --- deregistration delay ------------------------------------------------------------------------

LB = [{"targetGroupArn": TG_WEB, "containerName": "web", "containerPort": 8080}]
SLEEP_10 = {"preStop": {"sleep": {"seconds": 10}}}


def test_delay_is_the_annotation_else_the_setting() -> None:
    assert deregistration_delay({}, LB, 10) == 10
    assert deregistration_delay({ANNOTATION_DEREGISTRATION_DELAY: "25"}, LB, 10) == 25
    assert deregistration_delay({ANNOTATION_DEREGISTRATION_DELAY: " 3600 "}, LB, 10) == 3600
    assert deregistration_delay({ANNOTATION_DEREGISTRATION_DELAY: "0"}, LB, 10) == 0
    assert deregistration_delay({"other": "99"}, LB, 0) == 0


def test_a_service_without_load_balancers_has_no_delay() -> None:
    # ECS drains a task through its target groups; a task in none (or only in a Cloud Map
    # registry) is stopped at once
    assert deregistration_delay({}, [], 10) == 0
    assert deregistration_delay({ANNOTATION_DEREGISTRATION_DELAY: "30"}, [], 10) == 0


@pytest.mark.parametrize("value", ["-1", "1.5", "10s", "", "3601", "99999", "1e3", "\u0663", "ten"])
def test_a_delay_that_is_not_whole_seconds_from_0_to_3600_is_refused(value: str) -> None:
    for load_balancers in (LB, []):  # refused also before a load balancer is added
        with pytest.raises(TranslationError) as error:
            deregistration_delay({ANNOTATION_DEREGISTRATION_DELAY: value}, load_balancers, 10)
        assert str(error.value) == (
            f"metadata.annotations[ecs.facade.dev/deregistration-delay-seconds]: {value!r} is not a deregistration "
            "delay; expected a whole number of seconds from 0 to 3600, as the target group's "
            "deregistration_delay.timeout_seconds"
        )


def test_every_long_running_container_sleeps_before_sigterm() -> None:
    pod_spec, _ = pod(
        container(
            name="web",
            portMappings=[{"containerPort": 8080}],
            dependsOn=[
                {"containerName": "app", "condition": "HEALTHY"},
                {"containerName": "migrate", "condition": "SUCCESS"},
            ],
        ),
        container(name="app", healthCheck=CHECK),  # behind the proxy: it must outlive the drain too
        container(name="migrate", essential=False),
        container(name="logs", essential=False),
    )
    before = copy.deepcopy(pod_spec)
    result = drain_before_stop(pod_spec, 10)
    init = {c["name"]: c for c in result["initContainers"]}
    main = {c["name"]: c for c in result["containers"]}
    assert init["app"]["restartPolicy"] == "Always"  # a sidecar: web waits for it to be HEALTHY
    assert init["app"]["lifecycle"] == SLEEP_10
    assert "restartPolicy" not in init["migrate"] and "lifecycle" not in init["migrate"]  # ran to completion
    assert main["web"]["lifecycle"] == SLEEP_10
    assert main["logs"]["lifecycle"] == SLEEP_10
    # the grace period counts from before the hook: SIGKILL still comes 30 s (ECS's default
    # stopTimeout) after SIGTERM
    assert "terminationGracePeriodSeconds" not in pod_spec
    assert result["terminationGracePeriodSeconds"] == 40
    assert pod_spec == before  # the input is never changed
    # nothing else moves
    for key in ("initContainers", "containers"):
        for mine, theirs in zip(result[key], before[key], strict=True):
            assert {k: v for k, v in mine.items() if k != "lifecycle"} == theirs
    assert {k: v for k, v in result.items() if k not in ("initContainers", "containers")} == {
        **{k: v for k, v in before.items() if k not in ("initContainers", "containers")},
        "terminationGracePeriodSeconds": 40,
    }


def test_the_grace_period_is_the_delay_plus_the_stop_timeout() -> None:
    pod_spec, _ = pod(container(name="web", stopTimeout=5), container(name="worker", stopTimeout=90))
    assert pod_spec["terminationGracePeriodSeconds"] == 90
    assert drain_before_stop(pod_spec, 15)["terminationGracePeriodSeconds"] == 105
    # stopTimeout 0: SIGKILL right after the sleep (the API server refuses a sleep longer than
    # the grace period; this one never is)
    no_stop_timeout = {**pod_spec, "terminationGracePeriodSeconds": 0}
    assert drain_before_stop(no_stop_timeout, 15)["terminationGracePeriodSeconds"] == 15


def test_a_preStop_hook_already_there_is_kept() -> None:
    pod_spec: dict[str, Any] = {
        "containers": [
            {"name": "web", "lifecycle": {"preStop": {"exec": {"command": ["nginx", "-s", "quit"]}}}},
            {"name": "app", "lifecycle": {"postStart": {"sleep": {"seconds": 1}}}},
        ],
        "terminationGracePeriodSeconds": 20,
    }
    result = drain_before_stop(pod_spec, 10)
    assert result["containers"][0]["lifecycle"] == {"preStop": {"exec": {"command": ["nginx", "-s", "quit"]}}}
    assert result["containers"][1]["lifecycle"] == {"postStart": {"sleep": {"seconds": 1}}, **SLEEP_10}
    assert result["terminationGracePeriodSeconds"] == 30
    # every container has its own hook: nothing sleeps, and the grace period stays
    only_own = {"containers": [pod_spec["containers"][0]], "terminationGracePeriodSeconds": 20}
    assert drain_before_stop(only_own, 10) == only_own


def test_no_delay_is_an_unchanged_copy() -> None:
    pod_spec, _ = pod(container(name="web", portMappings=[{"containerPort": 8080}]))
    result = drain_before_stop(pod_spec, 0)
    assert result == pod_spec and result is not pod_spec
    assert "lifecycle" not in result["containers"][0]
    assert "terminationGracePeriodSeconds" not in result


def test_a_delay_over_the_target_groups_maximum_is_an_error() -> None:
    assert drain_before_stop({"containers": [{"name": "a"}]}, 3600)["terminationGracePeriodSeconds"] == 3630
    with pytest.raises(TranslationError, match="deregistration delay 3601 s is more than the target group's maximum"):
        drain_before_stop({"containers": [{"name": "a"}]}, 3601)


def test_no_task_definition_of_the_corpus_brings_a_preStop_hook_of_its_own() -> None:
    """ECS has no preStop: every long-running container of every corpus task gets the drain."""
    import json
    from pathlib import Path

    from ecs_facade.model.taskdefinition import parse_task_definition
    from ecs_facade.translate.taskdefinition import TranslationOptions, translate_task_definition

    corpus = sorted((Path(__file__).resolve().parents[1] / "corpus" / "valid").glob("*.json"))
    assert len(corpus) >= 25
    for path in corpus:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
        inner = raw.get("taskDefinition", raw)
        definition = parse_task_definition(raw, inner.get("family") or path.stem)
        pod_spec = translate_task_definition(
            definition, TranslationOptions(allow_host_path=True), service=True
        ).pod_spec
        drained = drain_before_stop(pod_spec, 10)
        for before, after in zip(
            [*pod_spec.get("initContainers", []), *pod_spec["containers"]],
            [*drained.get("initContainers", []), *drained["containers"]],
            strict=True,
        ):
            assert "preStop" not in before.get("lifecycle", {}), path.name
            long_running = before in pod_spec["containers"] or before.get("restartPolicy") == "Always"
            assert after.get("lifecycle") == (SLEEP_10 if long_running else None), (path.name, before["name"])
        assert drained["terminationGracePeriodSeconds"] == 10 + pod_spec.get("terminationGracePeriodSeconds", 30)
