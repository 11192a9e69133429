import pytest

from ecs_facade import arns
from ecs_facade.arns import Arns, MemberRef, ParsedArn, member_ref, parse_arn
from ecs_facade.config import Config

A = Arns("eu-west-1", "123456789012")


def test_formed_as_ecs_forms_them() -> None:
    assert A.cluster("prod") == "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
    assert A.service("prod", "web") == "arn:aws:ecs:eu-west-1:123456789012:service/prod/web"
    assert A.task("prod", "0f1e2d") == "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f1e2d"
    assert A.task_definition("web", 3) == "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3"
    assert A.container_instance("prod", "ab12") == "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/ab12"


def test_config_forms_the_same_arns() -> None:
    config = Config(region="eu-west-1", account_id="123456789012")
    assert config.arns == A
    assert config.cluster_arn("prod") == A.cluster("prod")
    assert config.task_arn("prod", "x1") == A.task("prod", "x1")
    assert config.task_definition_arn("web", 2) == A.task_definition("web", 2)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (A.cluster("prod"), ParsedArn("cluster", "eu-west-1", "123456789012", "prod", cluster="prod")),
        (A.service("prod", "web"), ParsedArn("service", "eu-west-1", "123456789012", "web", cluster="prod")),
        ("arn:aws:ecs:us-east-1:1:service/web", ParsedArn("service", "us-east-1", "1", "web")),
        (A.task("prod", "0f1e"), ParsedArn("task", "eu-west-1", "123456789012", "0f1e", cluster="prod")),
        ("arn:aws:ecs:us-east-1:1:task/0f1e", ParsedArn("task", "us-east-1", "1", "0f1e")),
        (
            A.task_definition("my_app", 12),
            ParsedArn("task-definition", "eu-west-1", "123456789012", "my_app", revision=12),
        ),
        ("arn:aws-cn:ecs:cn-north-1:1:task-definition/web", ParsedArn("task-definition", "cn-north-1", "1", "web")),
        (
            A.container_instance("prod", "ab"),
            ParsedArn("container-instance", "eu-west-1", "123456789012", "ab", "prod"),
        ),
    ],
)
def test_parsed(text: str, parsed: ParsedArn) -> None:
    assert parse_arn(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "prod",
        "arn:aws:s3:::bucket",
        "arn:aws:ecs:us-east-1:1:cluster/a/b",
        "arn:aws:ecs:us-east-1:1:cluster/bad name",
        "arn:aws:ecs:us-east-1:1:task-definition/web:0",
        "arn:aws:ecs:us-east-1:1:task-definition/web:latest",
        "arn:aws:ecs:us-east-1:1:service/a/b/c",
        "arn:aws:ecs:us-east-1:1:capacity-provider/x",
    ],
)
def test_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_arn(text)


def test_cluster_names_as_requests_give_them() -> None:
    assert arns.cluster_name(None) == "default"
    assert arns.cluster_name("  ") == "default"
    assert arns.cluster_name("prod") == "prod"
    assert arns.cluster_name(A.cluster("Prod_2")) == "Prod_2"
    with pytest.raises(ValueError, match="is a service ARN, not a cluster ARN"):
        arns.cluster_name(A.service("prod", "web"))
    with pytest.raises(ValueError, match="expected a cluster name"):
        arns.cluster_name("no spaces")


def test_member_refs() -> None:
    assert member_ref("web", "service") == MemberRef("web")
    assert member_ref(A.service("prod", "web"), "service") == MemberRef("web", "prod")
    assert member_ref(A.task("prod", "0f1e"), "task") == MemberRef("0f1e", "prod")
    assert member_ref("0f1e", "task") == MemberRef("0f1e")
    with pytest.raises(ValueError, match="is a task ARN, not a service ARN"):
        member_ref(A.task("prod", "0f1e"), "service")
    with pytest.raises(ValueError, match="expected a service name or ARN"):
        member_ref("a/b", "service")


def test_operator_cluster_references_use_the_same_rule() -> None:
    from ecs_facade.controllers.indexes import cluster_ref_name

    assert cluster_ref_name(A.cluster("prod")) == "prod"
    assert cluster_ref_name("") == "default"
    assert cluster_ref_name("not valid!") == "not valid!"  # kept, so that ClusterNotFound names it
