"""Request validation against the ECS model: each problem names its member path."""

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecs_facade.ecsapi import model
from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.protocol import Dispatcher, encode, error_status, not_implemented
from ecs_facade.ecsapi.validate import MAX_PROBLEMS, problems

ECS = model.load("ecs")
AAS = model.load("application-autoscaling")


def check(shape: str, value: Any) -> list[str]:
    return problems(ECS.shapes, shape, value)


REGISTER = {
    "family": "web",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "nginx",
            "memory": 256,
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
            "dockerLabels": {"team": "web"},
            "essential": True,
        }
    ],
    "tags": [{"key": "team", "value": "web"}],
}


def test_a_valid_request_has_no_problems() -> None:
    assert check("RegisterTaskDefinitionRequest", REGISTER) == []


def test_missing_required_members_are_named() -> None:
    assert check("RegisterTaskDefinitionRequest", {}) == ["family: is required", "containerDefinitions: is required"]
    assert check("DescribeServicesRequest", {"services": None}) == ["services: is required"]  # null is absent


def test_wrong_types_name_the_path() -> None:
    body = json.loads(json.dumps(REGISTER))
    container = body["containerDefinitions"][0]
    container["memory"] = "256"
    container["essential"] = "yes"
    container["portMappings"][0]["containerPort"] = 80.5
    container["dockerLabels"]["team"] = 1
    body["family"] = ["web"]
    assert sorted(check("RegisterTaskDefinitionRequest", body)) == [
        'containerDefinitions[0].dockerLabels["team"]: expected a string, got a number',
        "containerDefinitions[0].essential: expected true or false, got a string",
        "containerDefinitions[0].memory: expected an integer, got a string",
        "containerDefinitions[0].portMappings[0].containerPort: expected an integer, got a number",
        "family: expected a string, got a list",
    ]


def test_booleans_are_not_integers_and_integers_are_32_bit() -> None:
    assert check("ListClustersRequest", {"maxResults": True}) == ["maxResults: expected an integer, got a boolean"]
    assert check("ListClustersRequest", {"maxResults": 2**31}) == [
        "maxResults: 2147483648 is out of range for a 32-bit integer"
    ]
    assert check("ListClustersRequest", {"maxResults": 100}) == []


def test_enums_lengths_and_ranges() -> None:
    assert check("RunTaskRequest", {"taskDefinition": "web", "launchType": "fargate"}) == [
        'launchType: "fargate" is not one of EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES'
    ]
    tags = [{"key": f"k{i}", "value": "v"} for i in range(51)]
    assert check("TagResourceRequest", {"resourceArn": "a", "tags": tags}) == [
        "tags: has 51 items, at most 50 expected"
    ]
    assert check("TagResourceRequest", {"resourceArn": "a", "tags": [{"key": "", "value": "v"}]}) == [
        "tags[0].key: has 0 characters, at least 1 expected"
    ]
    strategy = [{"capacityProvider": "FARGATE", "weight": 1001}]
    assert check("RunTaskRequest", {"taskDefinition": "web", "capacityProviderStrategy": strategy}) == [
        "capacityProviderStrategy[0].weight: 1001 is more than the maximum 1000"
    ]


def test_unknown_members_are_ignored_as_aws_does() -> None:
    assert check("ListClustersRequest", {"maxResults": 10, "somethingNew": {"any": 1}}) == []


def test_the_body_must_be_an_object_and_lists_hold_no_nulls() -> None:
    assert check("ListClustersRequest", []) == ["the request: expected an object, got a list"]
    assert check("DescribeServicesRequest", {"services": ["web", None]}) == [
        "services[1]: null is not allowed in a list"
    ]


def test_problems_are_bounded() -> None:
    body = {"services": list(range(100))}
    found = check("DescribeServicesRequest", body)
    assert len(found) == MAX_PROBLEMS
    assert found[0] == "services[0]: expected a string, got a number"


def test_application_autoscaling_is_checked_against_its_model() -> None:
    found = problems(AAS.shapes, "RegisterScalableTargetRequest", {"ServiceNamespace": "ecs", "MinCapacity": "1"})
    assert found == [
        "ResourceId: is required",
        "ScalableDimension: is required",
        "MinCapacity: expected an integer, got a string",
    ]


# --- the dispatcher's parsing and errors -------------------------------------------


def test_parse_raises_the_services_validation_error() -> None:
    dispatcher = Dispatcher()
    with pytest.raises(ApiError) as failure:
        dispatcher.parse(ECS, "DescribeServices", b'{"services": "web"}')
    assert (failure.value.name, failure.value.message) == (
        "InvalidParameterException",
        "services: expected a list, got a string",
    )
    assert error_status(failure.value, ECS) == 400
    with pytest.raises(ApiError) as failure:
        dispatcher.parse(AAS, "DescribeScalableTargets", b"{}")
    assert (failure.value.name, failure.value.message) == ("ValidationException", "ServiceNamespace: is required")


def test_parse_takes_an_empty_body_as_an_empty_object() -> None:
    assert Dispatcher().parse(ECS, "ListClusters", b"") == {}
    assert Dispatcher().parse(ECS, "ListClusters", b" {} ") == {}


@pytest.mark.parametrize("body", [b"{", b"[]", b'"x"', b"{'a': 1}", b'{"a": NaN}'])
def test_parse_refuses_what_is_not_a_json_object(body: bytes) -> None:
    with pytest.raises(ApiError) as failure:
        Dispatcher().parse(ECS, "ListClusters", body)
    assert failure.value.name == "SerializationException"
    assert failure.value.status == 400


def test_resolve_names_the_unknown_target() -> None:
    dispatcher = Dispatcher()
    assert dispatcher.resolve("AmazonEC2ContainerServiceV20141113.ListClusters") == (ECS, "ListClusters")
    assert dispatcher.resolve("AnyScaleFrontendService.DescribeScalableTargets") == (AAS, "DescribeScalableTargets")
    for target, message in [
        (
            "AmazonEC2ContainerServiceV20141113.ListClustersX",
            "Unknown operation AmazonEC2ContainerServiceV20141113.ListClustersX",
        ),
        ("AnyScaleFrontendService.ListClusters", "Unknown operation AnyScaleFrontendService.ListClusters"),
        ("DynamoDB_20120810.ListTables", "Unknown operation DynamoDB_20120810.ListTables"),
        (None, "Missing X-Amz-Target header"),
    ]:
        with pytest.raises(ApiError) as failure:
            dispatcher.resolve(target)
        assert (failure.value.name, failure.value.message, failure.value.status) == (
            "UnknownOperationException",
            message,
            400,
        )


def test_register_refuses_actions_the_model_lacks_and_doubles() -> None:
    dispatcher = Dispatcher()
    dispatcher.register("ecs", "ListClusters", lambda request, context: {"clusterArns": []})
    with pytest.raises(ValueError, match="already registered"):
        dispatcher.register("ecs", "ListClusters", lambda request, context: {})
    with pytest.raises(ValueError, match="no action 'ListClustr'"):
        dispatcher.register("ecs", "ListClustr", lambda request, context: {})
    assert dispatcher.implemented("ecs") == ["ListClusters"]
    assert dispatcher.implemented("application-autoscaling") == []


def test_not_implemented_names_the_action_with_a_modelled_400() -> None:
    error = not_implemented(ECS, "CreateCapacityProvider")
    assert error.name == "UnsupportedFeatureException"
    assert "CreateCapacityProvider" in error.message
    assert error_status(error, ECS) == 400
    assert not_implemented(AAS, "TagResource").name == "ValidationException"


def test_encode_sends_timestamps_as_epoch_seconds_and_drops_nulls() -> None:
    at = dt.datetime(2024, 5, 29, 16, 26, 40, 123000, tzinfo=dt.UTC)
    body = {"taskDefinition": {"registeredAt": at, "deregisteredAt": None, "cpu": "256"}, "tags": [{"key": "a"}]}
    assert json.loads(encode(body)) == {
        "taskDefinition": {"registeredAt": 1717000000.123, "cpu": "256"},
        "tags": [{"key": "a"}],
    }
    naive = dt.datetime(1970, 1, 1, 0, 0, 10)  # naive datetimes are UTC
    assert json.loads(encode({"createdAt": naive})) == {"createdAt": 10.0}


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ECS_ACTIONS = sorted(ECS.operations)
DISPATCHER = Dispatcher()


@settings(max_examples=200, deadline=None)
@given(action=st.sampled_from(ECS_ACTIONS), data=st.data())
def test_any_json_is_either_valid_or_an_invalid_parameter(action: str, data: st.DataObject) -> None:
    """Hostile bodies: the checker answers a problem list, never crashes (members drawn from the
    action's own input shape, so the checks reach nested shapes)."""
    shape = ECS.shapes[ECS.operations[action].input or "ListClustersRequest"]
    members = list(shape.get("members", {})) or ["x"]
    body = data.draw(st.dictionaries(st.sampled_from(members), JSON, max_size=6))
    try:
        DISPATCHER.parse(ECS, action, json.dumps(body).encode())
    except ApiError as error:
        assert error.name == "InvalidParameterException"
        assert error.message
