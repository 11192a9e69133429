"""The API's packaged service models: what hack/gen_ecs_api_model.py writes, readable without botocore."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ecs_facade.ecsapi import model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_ecs_api_model", REPO / "hack" / "gen_ecs_api_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_models_are_what_the_generator_writes(gen: ModuleType) -> None:
    files = gen.generate()
    assert set(files) == {
        REPO / "operator" / "ecs_facade" / "ecsapi" / "models" / "ecs.json",
        REPO / "operator" / "ecs_facade" / "ecsapi" / "models" / "application-autoscaling.json",
    }
    problems = gen.stale(files)
    assert not problems, "\n\n".join(problems)


def test_stale_check_reports_a_changed_model(gen: ModuleType, tmp_path: Path) -> None:
    text = gen.generate()[gen.MODELS_DIR / "ecs.json"]
    committed = tmp_path / "ecs.json"
    committed.write_text(text.replace('"max": 50', '"max": 51', 1))
    (problem,) = gen.stale({committed: text})
    assert f"{committed} is stale" in problem and '-   "max": 51,\n+   "max": 50,' in problem


def test_the_runtime_reads_the_models_without_botocore() -> None:
    """botocore is a development dependency: the API must load with it unimportable."""
    code = (
        "import sys; sys.modules['botocore'] = None\n"
        "from ecs_facade.ecsapi import model, protocol, server, sigv4\n"
        "d = protocol.Dispatcher()\n"
        "print(d.models['ecs'].target_prefix, d.models['application-autoscaling'].signing_name)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "operator")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["AmazonEC2ContainerServiceV20141113", "application-autoscaling"]
    assert model.load("ecs").source.startswith("botocore 1.")
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"ecs_facade.ecsapi" = ["models/*.json"]' in pyproject  # package data: in the wheel and the image


def test_operations_shapes_and_errors_are_botocores() -> None:
    ecs = model.load("ecs")
    describe = ecs.operations["DescribeServices"]
    assert (describe.input, describe.output) == ("DescribeServicesRequest", "DescribeServicesResponse")
    assert {"ClusterNotFoundException", "InvalidParameterException", "ServerException"} <= set(describe.errors)
    request = ecs.shapes["DescribeServicesRequest"]
    assert request["required"] == ["services"]
    assert request["members"]["services"] == {"shape": "StringList"}
    assert ecs.shapes["LaunchType"]["enum"] == ["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"]
    assert (ecs.shapes["Tags"]["min"], ecs.shapes["Tags"]["max"]) == (0, 50)
    assert "documentation" not in json.dumps(ecs.shapes)
    assert len(ecs.operations) >= 60
    assert ecs.operations["ListClusters"].pagination == {
        "input_token": "nextToken",
        "output_token": "nextToken",
        "limit_key": "maxResults",
        "result_key": "clusterArns",
    }
    assert ecs.operations["DescribeServices"].pagination is None
    aas = model.load("application-autoscaling")
    pages = aas.operations["DescribeScalableTargets"].pagination
    assert pages is not None and (pages["limit_key"], pages["result_key"]) == ("MaxResults", "ScalableTargets")


def test_error_status_is_400_for_client_errors_and_500_for_faults() -> None:
    ecs = model.load("ecs")
    assert ecs.error_status("ClusterNotFoundException") == 400
    assert ecs.error_status("InvalidParameterException") == 400
    assert ecs.error_status("ServerException") == 500
    assert ecs.error_status("NoSuchThing") is None
    assert ecs.error_status("Cluster") is None  # a shape, not an error
    aas = model.load("application-autoscaling")
    assert aas.error_status("ValidationException") == 400
    assert (ecs.validation_error, aas.validation_error) == ("InvalidParameterException", "ValidationException")


def test_error_status_takes_the_models_http_status_code_when_given() -> None:
    raw = {
        "metadata": {"targetPrefix": "X", "signingName": "x"},
        "operations": {},
        "shapes": {"Throttled": {"type": "structure", "exception": True, "error": {"httpStatusCode": 429}}},
    }
    assert model.parse_model("ecs", raw).error_status("Throttled") == 429


def test_unknown_service_is_refused() -> None:
    with pytest.raises(ValueError, match="no packaged model for 'ec2'"):
        model.load("ec2")
