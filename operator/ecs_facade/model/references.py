"""Task definition references as ECS accepts them: ``family``, ``family:revision`` or an ARN."""

import re
from dataclasses import dataclass

from ecs_facade.arns import NAME_PATTERN, is_arn, parse_arn

_FAMILY = re.compile(rf"^{NAME_PATTERN}$")


@dataclass(frozen=True)
class TaskDefinitionRef:
    family: str
    revision: int | None = None

    def __str__(self) -> str:
        return self.family if self.revision is None else f"{self.family}:{self.revision}"


def parse_task_definition_ref(value: str) -> TaskDefinitionRef:
    """Parse a reference; raises ValueError with a message fit for a condition."""
    text = value.strip()
    if is_arn(text):
        try:
            parsed = parse_arn(text)
        except ValueError as error:
            raise ValueError(f"taskDefinition {value!r}: {error}") from None
        if parsed.kind != "task-definition":
            raise ValueError(f"taskDefinition {value!r} is a {parsed.kind} ARN, not a task definition ARN")
        return TaskDefinitionRef(parsed.name, parsed.revision)
    family, sep, revision = text.partition(":")
    if not _FAMILY.match(family):
        raise ValueError(
            f"taskDefinition {value!r} is not a family, family:revision or task definition ARN "
            "(a family has 1-255 letters, digits, '-' and '_')"
        )
    if not sep:
        return TaskDefinitionRef(family)
    if not revision.isdigit() or int(revision) < 1:
        raise ValueError(f"taskDefinition {value!r} has a revision that is not a positive integer")
    return TaskDefinitionRef(family, int(revision))
