"""RunTask overrides applied to a task definition."""

import pytest

from ecs_facade.translate import TranslationError
from ecs_facade.translate.overrides import apply_overrides
from tests.unit.helpers import container, task_definition


def test_command_environment_and_resources_are_overridden() -> None:
    td = task_definition(
        container(command=["serve"], environment=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    )
    result = apply_overrides(
        td,
        {
            "containerOverrides": [
                {
                    "name": "app",
                    "command": ["migrate", "--all"],
                    "environment": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                    "memory": 512,
                }
            ],
            "cpu": "1024",
            "taskRoleArn": "arn:aws:iam::123456789012:role/batch",
        },
    )
    app = result.containerDefinitions[0]
    assert app.command == ["migrate", "--all"]
    assert [(kv.name, kv.value) for kv in app.environment or []] == [("A", "1"), ("B", "3"), ("C", "4")]
    assert app.memory == 512
    assert (result.cpu, result.taskRoleArn) == ("1024", "arn:aws:iam::123456789012:role/batch")
    assert td.containerDefinitions[0].command == ["serve"]  # the revision itself is untouched


def test_unknown_container_is_an_error_naming_it() -> None:
    with pytest.raises(TranslationError, match=r"containerOverrides\[0\]\.name 'ghost' is not a container"):
        apply_overrides(task_definition(container()), {"containerOverrides": [{"name": "ghost", "command": ["x"]}]})


def test_no_overrides_is_the_same_task_definition() -> None:
    td = task_definition(container())
    assert apply_overrides(td, None) is td
