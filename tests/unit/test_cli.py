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
    # render names its own flag, not the operator's setting
    assert "the flag --allow-host-path enables them" in err and "ECS_FACADE_ALLOW_HOST_PATH" not in err
    assert run(capsys, "render", "--allow-host-path", path)[0] == 0


def test_invalid_input_is_one_clear_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"family": "x", "containerDefinitions": [{"name": "a", "image": "x", "cpu": "lots"}]}))
    code, out, err = run(capsys, "render", str(bad))
    assert (code, out) == (1, "")
    # the API server's check and words, the container by its name
    assert err.startswith(
        "ecs-facade render: invalid task definition:\n"
        '  spec.containerDefinitions[a].cpu: Invalid value: "string": must be of type integer: "string"\n'
    )


def test_every_problem_the_api_server_finds_is_printed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "family": "x",
                "containerDefinitions": [
                    {"name": "web", "image": "x", "memory": 128, "memoryReservation": 512, "essential": False},
                    {
                        "name": "probe",
                        "image": "x",
                        "memory": 64,
                        "essential": False,
                        "healthCheck": {"command": ["CMD", "true"], "interval": 1},
                    },
                ],
            }
        )
    )
    for command in ("render", "convert"):
        code, out, err = run(capsys, command, str(bad))
        assert (code, out) == (1, "")
        assert err.splitlines() == [
            f"ecs-facade {command}: invalid task definition:",
            "  spec.containerDefinitions[probe].healthCheck.interval: Invalid value: 1: should be greater than or equal"
            " to 5",
            "  spec.containerDefinitions: containerDefinitions: at least one container must be essential (essential"
            " defaults to true)",
            '  spec.containerDefinitions[web]: containerDefinitions: container "web": memoryReservation must not be'
            " greater than memory (the hard limit)",
        ]


def test_model_errors_name_the_container_by_its_name() -> None:
    from pydantic import ValidationError

    from ecs_facade.cli import _location
    from ecs_facade.model.generated import RegisterTaskDefinitionRequest

    request = {"family": "x", "cpu": [1], "containerDefinitions": [{"name": "web", "image": "x", "cpu": "lots"}, {}]}
    with pytest.raises(ValidationError) as failure:
        RegisterTaskDefinitionRequest.model_validate(request)
    locations = sorted({_location(e["loc"], request) for e in failure.value.errors()})
    assert locations == [
        "containerDefinitions[1].image",
        "containerDefinitions[1].name",
        "containerDefinitions[web].cpu",
        "cpu",  # pydantic's union members (cpu.str, cpu.int) are one field
    ]


def test_tab_indented_json_is_read_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "34-tab-indented-firelens.json"
    assert '\n\t"family"' in path.read_text()  # YAML refuses this indentation
    code, out, err = run(capsys, "convert", str(path))
    assert code == 0, err
    assert yaml.safe_load(out)["spec"]["family"] == "checkout-firelens-firehose"
    assert run(capsys, "render", str(path))[0] == 0


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_files_saved_by_windows_shells_are_read(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, encoding: str
) -> None:
    text = (CORPUS / "36-describe-saved-utf8-bom-crlf.json").read_bytes().decode("utf-8-sig")
    assert "\r\n" in text
    path = tmp_path / "td.json"
    path.write_bytes(text.encode(encoding))  # with a byte order mark, as PowerShell writes it
    code, out, err = run(capsys, "convert", str(path))
    assert code == 0, err
    assert yaml.safe_load(out)["spec"]["family"] == "invoice-worker"


def test_yaml_is_still_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "td.yaml"
    path.write_text("family: web\ncontainerDefinitions:\n- {name: web, image: 'nginx:1.27', memory: 128}\n")
    code, out, err = run(capsys, "convert", str(path))
    assert code == 0, err
    assert yaml.safe_load(out)["spec"]["containerDefinitions"][0]["image"] == "nginx:1.27"


def test_a_file_that_is_neither_json_nor_yaml_says_where_json_broke(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "td.json"
    path.write_text('{\n\t"family": "web",\n\t"cpu": 256 // a comment\n}\n')
    code, _, err = run(capsys, "render", str(path))
    assert code == 1
    assert err.startswith(f"ecs-facade render: {path} is neither JSON (Expecting ',' delimiter: line 3 column 13) nor")
    assert "\n" not in err.rstrip("\n")  # one line


def test_task_cpu_and_memory_as_the_ecs_exec_example_writes_them(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", str(CORPUS / "35-ecs-exec-quarter-vcpu.json"))
    assert code == 0, err
    pod = list(yaml.safe_load_all(out))[-1]
    assert pod["spec"]["resources"]["limits"] == {"cpu": "250m", "memory": "512Mi"}


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


def test_render_without_pod_level_resources_keeps_the_envoy_sidecar_within_the_task(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Fargate 256/512: app 256 MiB, X-Ray 64 MiB of their own; Envoy (a sidecar) gets what is left."""
    code, out, _ = run(
        capsys, "render", "--no-pod-level-resources", str(CORPUS / "44-envoy-sidecar-task-resources.json")
    )
    assert code == 0
    spec = list(yaml.safe_load_all(out))[-1]["spec"]
    containers = {c["name"]: c["resources"] for c in [*spec["initContainers"], *spec["containers"]]}
    assert {name: r["requests"]["memory"] for name, r in containers.items()} == {
        "envoy": "192Mi",
        "app": "256Mi",
        "xray-daemon": "64Mi",
    }
    assert {name: r["limits"]["memory"] for name, r in containers.items()} == {
        "envoy": "512Mi",
        "app": "512Mi",
        "xray-daemon": "512Mi",
    }
    assert sum(int(r["requests"]["cpu"][:-1]) for r in containers.values()) == 250


def test_render_without_container_restart_rules_makes_non_essential_containers_sidecars(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(CORPUS / "41-nonessential-run-once.json")
    code, out, _ = run(capsys, "render", path)
    spec = list(yaml.safe_load_all(out))[-1]["spec"]
    assert (code, [(c["name"], c.get("restartPolicy")) for c in spec["containers"]]) == (
        0,
        [("mark-ready", "Never"), ("web", None)],
    )
    code, out, err = run(capsys, "render", "--no-container-restart-rules", path)
    spec = list(yaml.safe_load_all(out))[-1]["spec"]
    assert code == 0
    assert [(c["name"], c["restartPolicy"]) for c in spec["initContainers"]] == [("mark-ready", "Always")]
    assert "containerDefinitions[mark-ready] is non-essential and runs once in ECS" in err


def test_run_with_a_wrong_setting_stops_before_it_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECS_FACADE_DEREGISTRATION_DELAY_SECONDS", "ten")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")  # leaves this process's allocator alone
    assert main(["run", "--standalone"]) == 1
    err = capsys.readouterr().err
    assert (
        "ecs-facade run: operator settings: ECS_FACADE_DEREGISTRATION_DELAY_SECONDS='ten': expected a whole number"
        in err
    )
