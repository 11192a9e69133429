"""The container instance, attribute, tag, account and update actions on the wire: botocore's
own client (which parses every answer against the ECS model) against the server, on fake stores."""

from collections.abc import Iterator
from typing import Any

import pytest

from ecs_facade.ecsapi.account_handlers import AccountActions
from ecs_facade.ecsapi.instances_handlers import InstanceActions
from ecs_facade.ecsapi.protocol import Dispatcher
from ecs_facade.ecsapi.server import make_app
from ecs_facade.ecsapi.sigv4 import Authenticator
from ecs_facade.ecsapi.tags_handlers import TagActions
from ecs_facade.ecsapi.updates_handlers import UpdateActions
from tests.unit import test_ecsapi_instances as inst
from tests.unit import test_ecsapi_tags as tag
from tests.unit import test_ecsapi_updates as upd
from tests.unit.test_ecsapi_server import KEYS, LoopbackServer, client


@pytest.fixture(scope="module")
def ecs() -> Iterator[Any]:
    dispatcher = Dispatcher()
    InstanceActions(inst.FakeStore(), inst.ARNS).register(dispatcher)
    TagActions(tag.FakeStore(), tag.ARNS).register(dispatcher)
    AccountActions(inst.ARNS).register(dispatcher)
    UpdateActions(upd.FakeStore(), upd.ARNS).register(dispatcher)
    running = LoopbackServer(make_app(dispatcher, Authenticator(KEYS, regions=frozenset({"us-east-1"}))))
    yield client(running)
    running.stop()


def test_container_instances_parse_in_botocore(ecs: Any) -> None:
    listed = ecs.list_container_instances(cluster="prod", filter="attribute:stack exists")
    assert listed["containerInstanceArns"] == [inst._arn(inst.ID_A)]
    described = ecs.describe_container_instances(
        cluster="prod", containerInstances=[inst.ID_A, "nope"], include=["TAGS", "CONTAINER_INSTANCE_HEALTH"]
    )
    instance = described["containerInstances"][0]
    assert instance["registeredAt"].year == 2026  # the node's creationTimestamp, a timestamp on the wire
    assert instance["healthStatus"]["details"][0]["lastUpdated"].hour == 11
    assert described["failures"] == [{"arn": inst._arn("nope"), "reason": "MISSING"}]
    drained = ecs.update_container_instances_state(cluster="prod", containerInstances=[inst.ID_B], status="DRAINING")
    assert drained["containerInstances"][0]["status"] == "DRAINING"
    put = ecs.put_attributes(cluster="prod", attributes=[{"name": "x", "value": "1", "targetId": inst._arn(inst.ID_B)}])
    assert put["attributes"][0]["targetId"] == inst._arn(inst.ID_B)
    assert ecs.list_attributes(cluster="prod", targetType="container-instance", attributeName="x")["attributes"]
    with pytest.raises(ecs.exceptions.TargetNotFoundException):
        ecs.delete_attributes(cluster="prod", attributes=[{"name": "x", "targetId": inst._arn("0" * 32)}])
    with pytest.raises(ecs.exceptions.ClusterNotFoundException):
        ecs.list_container_instances(cluster="nope")


def test_tags_account_and_updates_parse_in_botocore(ecs: Any) -> None:
    arn = tag.ARNS.service("prod", "web")
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "prod"}])
    assert {"key": "env", "value": "prod"} in ecs.list_tags_for_resource(resourceArn=arn)["tags"]
    ecs.untag_resource(resourceArn=arn, tagKeys=["env"])
    with pytest.raises(ecs.exceptions.ResourceNotFoundException):
        ecs.tag_resource(resourceArn=tag.ARNS.service("prod", "nope"), tags=[{"key": "a", "value": "b"}])
    settings = ecs.list_account_settings(effectiveSettings=True)["settings"]
    assert settings[0]["name"] == "serviceLongArnFormat" and settings[0]["value"] == "enabled"
    assert ecs.put_account_setting_default(name="taskLongArnFormat", value="enabled")["setting"]["value"] == "enabled"
    with pytest.raises(ecs.exceptions.UnsupportedFeatureException):
        ecs.put_account_setting(name="containerInsights", value="enabled")
    updated = ecs.update_cluster(cluster="prod", settings=[{"name": "containerInsights", "value": "enabled"}])
    assert updated["cluster"]["settings"] == [{"name": "containerInsights", "value": "enabled"}]
    deleted = ecs.delete_task_definitions(taskDefinitions=["web:1", "web:2"])
    assert deleted["taskDefinitions"][0]["status"] == "DELETE_IN_PROGRESS"
    assert deleted["taskDefinitions"][0]["deleteRequestedAt"].year >= 2026
    assert deleted["failures"][0]["arn"] == upd.ARNS.task_definition("web", 2)
