"""The ecs-facade convert and render commands, as a user runs them."""

import io
import json
from pathlib import Path

import pytest
import yaml

from ecs_facade.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "valid"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_convert_describe_output_drops_output_only_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "convert", str(CORPUS / "28-describe-registeredat-epoch.json"))
    assert code == 0
    manifest = yaml.safe_load(out)
    assert manifest["apiVersion"] == "ecs.facade.dev/v1alpha1"
    assert manifest["kind"] == "ECSTaskDefinition"
    spec = manifest["spec"]
    assert "taskDefinition" not in spec
    for key in ("taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities", "registeredAt"):
        assert key not in spec
    assert manifest["metadata"]["name"] == spec["family"].lower().replace("_", "-")
    original = json.loads((CORPUS / "28-describe-registeredat-epoch.json").read_text())
    assert spec["containerDefinitions"][0]["image"] == original["taskDefinition"]["containerDefinitions"][0]["image"]


def test_convert_reads_stdin_and_honours_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    document = {"family": "My_App", "containerDefinitions": [{"name": "a", "image": "x", "memory": 64, "cpu": None}]}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(document)))
    code, out, _ = run(capsys, "convert", "-", "--name", "custom")
    assert code == 0
    manifest = yaml.safe_load(out)
    assert manifest["metadata"]["name"] == "custom"
    assert manifest["spec"] == {
        "containerDefinitions": [{"name": "a", "image": "x", "memory": 64}],
        "family": "My_App",
    }


def test_render_prints_the_pod_and_warnings_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", str(CORPUS / "22-ulimits-awslogs-elasticsearch.json"))
    assert code == 0
    documents = list(yaml.safe_load_all(out))
    pod = documents[-1]
    assert pod["kind"] == "Pod"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert "warning: ignored containerDefinitions[elasticsearch].ulimits" in err


def test_render_refuses_host_volumes_unless_allowed(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CORPUS / "33-host-volume-cadvisor.json")
    code, out, err = run(capsys, "render", path)
    assert (code, out) == (1, "")
    assert "host volumes are disabled" in err
    assert run(capsys, "render", "--allow-host-path", path)[0] == 0


def test_invalid_input_is_one_clear_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"family": "x", "containerDefinitions": [{"name": "a", "image": "x", "cpu": "lots"}]}))
    code, out, err = run(capsys, "render", str(bad))
    assert (code, out) == (1, "")
    assert err.startswith("ecs-facade render: invalid task definition: containerDefinitions.0.cpu")


def test_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "convert", "/nonexistent/td.json")
    assert code == 1
    assert "cannot read /nonexistent/td.json" in err


def test_render_without_pod_level_resources_splits_task_resources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "render", "--no-pod-level-resources", str(CORPUS / "14-fargate-minimal-256.json"))
    assert code == 0
    pod = list(yaml.safe_load_all(out))[-1]
    assert "resources" not in pod["spec"]
    assert all("requests" in c["resources"] for c in pod["spec"]["containers"])
