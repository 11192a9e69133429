import pytest

from ecs_facade.model.references import TaskDefinitionRef, parse_task_definition_ref


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("web", TaskDefinitionRef("web")),
        ("web:7", TaskDefinitionRef("web", 7)),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/web:3", TaskDefinitionRef("web", 3)),
        ("arn:aws-cn:ecs:cn-north-1:123456789012:task-definition/my_app", TaskDefinitionRef("my_app")),
    ],
)
def test_accepted_forms(text: str, ref: TaskDefinitionRef) -> None:
    assert parse_task_definition_ref(text) == ref


@pytest.mark.parametrize("text", ["", "web:0", "web:latest", "we b", "arn:aws:ecs:::service/x"])
def test_rejected_forms_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="taskDefinition"):
        parse_task_definition_ref(text)


def test_str_round_trips() -> None:
    assert str(TaskDefinitionRef("web", 2)) == "web:2"
    assert str(TaskDefinitionRef("web")) == "web"
