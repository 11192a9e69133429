"""Every example in examples/ is valid for the models the operator uses."""

from pathlib import Path

import pytest
import yaml

from ecs_facade.model.autoscaling import AutoScaling
from ecs_facade.model.generated import CreateClusterRequest
from ecs_facade.model.service import ServiceSpec
from ecs_facade.model.task import TaskSpec
from ecs_facade.model.taskdefinition import parse_task_definition
from ecs_facade.translate.taskdefinition import translate_task_definition

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").rglob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(p.parents[1])) for p in EXAMPLES])
def test_example_is_valid(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kind, name, spec = document["kind"], document["metadata"]["name"], document["spec"]
        if kind == "ECSTaskDefinition":
            assert translate_task_definition(parse_task_definition(spec, name)).pod_spec["containers"]
        elif kind == "ECSService":
            assert ServiceSpec.model_validate({"serviceName": name, **spec}).taskDefinition
            if "autoScaling" in spec:
                assert AutoScaling.model_validate(spec["autoScaling"]).maxCapacity >= 1
        elif kind == "ECSTask":
            assert TaskSpec.model_validate(spec).taskDefinition
        elif kind == "ECSCluster":
            assert CreateClusterRequest.model_validate(spec).capacityProviders is not None
        else:
            pytest.fail(f"{path.name}: unexpected kind {kind}")


def test_there_are_examples_of_each_kind() -> None:
    kinds = {d["kind"] for p in EXAMPLES for d in yaml.safe_load_all(p.read_text())}
    assert kinds == {"ECSTaskDefinition", "ECSService", "ECSTask", "ECSCluster"}
