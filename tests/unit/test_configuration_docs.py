"""docs/configuration.md, Config and the Helm chart name the same settings with the same
defaults: a setting added to one of them and not to the others fails here."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ecs_facade.config import Config

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "ecs-facade"
ROW = re.compile(r"^\| `(ECS_FACADE_[A-Z_]+)` \| `([A-Za-z.]+)` \| `([^`]*)` \|", re.MULTILINE)


def documented() -> dict[str, tuple[str, str]]:
    """Each variable of the tables: (its chart value, its default)."""
    text = (REPO / "docs" / "configuration.md").read_text()
    return {name: (value, default) for name, value, default in ROW.findall(text)}


class Recording(dict[str, str]):
    """An environment that notes every variable asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)


def test_the_documented_variables_are_those_the_operator_reads() -> None:
    env = Recording()
    Config.from_env(env)
    assert set(documented()) == env.asked


def test_the_documented_defaults_are_the_operators() -> None:
    env = {name: default for name, (_, default) in documented().items()}
    assert Config.from_env(env) == Config() == Config.from_env({})


def chart_env() -> Iterator[tuple[str, str]]:
    """(variable, values path) of each ECS_FACADE_* env entry of the Deployment template."""
    text = (CHART / "templates" / "deployment.yaml").read_text()
    pattern = r"- name: (ECS_FACADE_[A-Z_]+)\s+value: \{\{ \.Values\.([A-Za-z.]+) \| quote \}\}"
    yield from re.findall(pattern, text)


def test_the_chart_sets_every_variable_from_the_documented_value() -> None:
    assert dict(chart_env()) == {name: value for name, (value, _) in documented().items()}


def test_the_chart_defaults_are_the_operators_and_its_schema_knows_them() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    for name, (path, default) in documented().items():
        value: Any = values
        node: Any = schema
        for key in path.split("."):
            value = value[key]
            node = node["properties"][key]
        rendered = str(value).lower() if isinstance(value, bool) else str(value)
        assert Config.from_env({name: rendered}) == Config.from_env({name: default}), (name, value, default)
        assert "type" in node, path
