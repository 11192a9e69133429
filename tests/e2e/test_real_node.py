"""Real containers on the real node (hack/real-node.sh): what ECS reports when the processes
themselves exit, not a simulated exit code.

The tasks run in the ECS cluster REAL_CLUSTER, whose only container instance is the real node
(labelled and tainted ``ecs.facade.dev/cluster=real``); its images are the locally built ones
(hack/images/build.sh), never pulled.
"""

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.kube import apply_objects as apply
from tests.e2e.test_task import status, stopped, task, task_definition

pytestmark = [pytest.mark.e2e, pytest.mark.real_node]


def shell(name: str, image: str, script: str, **fields: Any) -> dict[str, Any]:
    """A container definition that runs ``script`` with the busybox shell."""
    return {"name": name, "image": image, "memory": 32, "entryPoint": ["sh", "-c"], "command": [script], **fields}


# shell functions the scripts share: `log WHAT` appends "<container> WHAT <uptime>" to $LOG;
# /proc/uptime is the machine's, so the processes of every container and this test read one clock
LOG = 'log() { read up _ < /proc/uptime; echo "$NAME $1 $up" >> "$LOG"; }; '
RUN = "sleep 3600 & wait"  # runs until stopped; SIGTERM interrupts `wait` when trapped


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def logged(container: str, log: str, **fields: Any) -> dict[str, Any]:
    """Environment of a container whose script uses ``log``."""
    environment = [*fields.pop("environment", []), {"name": "NAME", "value": container}, {"name": "LOG", "value": log}]
    return {"environment": environment, **fields}


def host_dir(tmp_path: Path) -> Path:
    """A directory of this machine the real node's containers write to (an ECS host volume)."""
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    return out


def pod_of(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    return kubectl.get("pod", name, namespace) or {}


def container_status(pod: dict[str, Any], name: str) -> dict[str, Any]:
    status = pod.get("status") or {}
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    return next((s for s in statuses if s["name"] == name), {})


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in result.get("containers") or []}


def test_essential_container_exit_code_from_a_real_process(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    busybox = real_images["busybox"]
    # a non-essential sidecar that would run for an hour, and stops at SIGTERM
    sidecar = shell("sidecar", busybox, "trap 'exit 0' TERM; sleep 3600 & wait", essential=False)
    td = task_definition("exits", shell("main", busybox, "echo started; sleep 1; exit 3"), sidecar)
    apply(kubectl, namespace, td, task("exits-1", "exits", cluster=real_cluster, startedBy="e2e"))
    result = stopped(kubectl, namespace, "exits-1", timeout=90)
    # the process ran on the real node: the scheduler's and the kubelet's events of its pod
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=exits-1")
    said = {(e["reason"], e["message"]) for e in events["items"]}
    assert ("Scheduled", f"Successfully assigned {namespace}/exits-1 to real-node-0") in said, said
    assert ("Started", "Container started") in said, said
    wait_for("the task's pod gone, so the sidecar stopped", lambda: kubectl.get("pod", "exits-1", namespace) is None)
    assert result["stopCode"] == "EssentialContainerExited", result
    assert result["stoppedReason"] == "Essential container in task exited"
    assert result["exitCode"] == 3
    containers = {c["name"]: c for c in result["containers"]}
    assert (containers["main"]["lastStatus"], containers["main"]["exitCode"]) == ("STOPPED", 3)
    assert containers["sidecar"]["lastStatus"] == "STOPPED"
    assert result["clusterArn"].endswith(f":cluster/{real_cluster}"), result["clusterArn"]


def test_logs_and_exec_reach_a_running_task(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    """What ECS Exec and the awslogs driver give: a task's output and a command run in its container."""
    busybox = real_images["busybox"]
    script = "echo hello-from-the-task; echo ready > /tmp/state; trap 'exit 0' TERM; sleep 3600 & wait"
    apply(
        kubectl,
        namespace,
        task_definition("shell", shell("main", busybox, script)),
        task("shell-1", "shell", cluster=real_cluster, startedBy="e2e"),
    )

    def running() -> bool:
        pod = kubectl.get("pod", "shell-1", namespace) or {}
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return any("running" in (s.get("state") or {}) for s in statuses)

    wait_for("the task's container running on the real node", running)
    wait_for(
        "the task's output in kubectl logs",
        lambda: "hello-from-the-task" in kubectl("logs", "shell-1", "-n", namespace, "-c", "main", check=False),
    )
    written = wait_for(
        "a command run in the container by kubectl exec",
        lambda: kubectl("exec", "shell-1", "-n", namespace, "-c", "main", "--", "cat", "/tmp/state", check=False),
    )
    assert written.strip() == "ready"
    kubectl("delete", "ecstask", "shell-1", "-n", namespace, "--wait=false")


def test_non_essential_exit_then_stop_task_with_stop_timeout(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str], tmp_path: Path
) -> None:
    """A non-essential container that exits 1 leaves the task RUNNING and is not restarted;
    StopTask then sends SIGTERM, and SIGKILL only ``stopTimeout`` seconds later; the task keeps
    ``UserInitiated`` and the caller's reason."""
    busybox, out = real_images["busybox"], host_dir(tmp_path)
    # the essential container notes SIGTERM and carries on; a ticker writes the clock until it dies
    main = shell(
        "main",
        busybox,
        LOG + "trap 'log term' TERM; log start; "
        "(while :; do read up _ < /proc/uptime; echo $up > /out/tick; sleep 0.2; done) & "
        f"while :; do {RUN}; done",
        stopTimeout=6,
        mountPoints=[{"sourceVolume": "out", "containerPath": "/out"}],
        **logged("main", "/out/log"),
    )
    side = shell("side", busybox, "sleep 1; exit 1", essential=False)
    td = task_definition("stopper", main, side)
    td["spec"]["volumes"] = [{"name": "out", "host": {"sourcePath": str(out)}}]
    apply(kubectl, namespace, td, task("stopper-1", "stopper", cluster=real_cluster, startedBy="e2e"))

    def side_stopped() -> dict[str, Any] | None:
        s = status(kubectl, namespace, "stopper-1")
        return s if by_name(s).get("side", {}).get("lastStatus") == "STOPPED" else None

    wait_for("the non-essential container STOPPED", side_stopped, timeout=90)
    time.sleep(5)  # the kubelet would have restarted it by now (backoff 10 s: started again at most 10 s later)
    result = status(kubectl, namespace, "stopper-1")
    assert result["lastStatus"] == "RUNNING", result
    assert (by_name(result)["side"]["lastStatus"], by_name(result)["side"]["exitCode"]) == ("STOPPED", 1)
    assert container_status(pod_of(kubectl, namespace, "stopper-1"), "side").get("restartCount") == 0

    reason = "e2e: rolling the batch back"
    kubectl(
        "patch",
        "ecstask",
        "stopper-1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"desiredStatus": "STOPPED", "reason": reason}}),
    )
    result = stopped(kubectl, namespace, "stopper-1", timeout=60)
    lines = (out / "log").read_text().split()
    term = float(lines[lines.index("term") + 1])
    last_tick = float((out / "tick").read_text())
    # ECS: SIGTERM, then SIGKILL stopTimeout (6 s) later; the ticker writes every 0.2 s
    assert 5.5 <= last_tick - term <= 7.5, (term, last_tick)
    assert result["stopCode"] == "UserInitiated", result
    assert result["stoppedReason"] == reason
    assert by_name(result)["main"]["exitCode"] == 137, result["containers"]


def test_depends_on_order_seen_by_the_processes(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    """START, COMPLETE, SUCCESS and HEALTHY as ECS guarantees them, from the processes' own clock,
    written to a scratch volume they share; a container with volumesFrom sees it read-only."""
    busybox = real_images["busybox"]
    shared = [{"sourceVolume": "shared", "containerPath": "/shared"}]

    def member(name: str, script: str, **fields: Any) -> dict[str, Any]:
        return shell(name, busybox, LOG + script, mountPoints=shared, **logged(name, "/shared/log"), **fields)

    containers = [
        member("starter", f"log start; {RUN}", essential=False),
        # COMPLETE is enforced as SUCCESS (a Kubernetes init container must exit 0): see docs/mapping.md
        member("job", "log start; sleep 1; log end", essential=False),
        member("migrate", "log start; sleep 1; log end", essential=False),
        member(
            "db",
            f"log start; sleep 2; touch /tmp/ready; log ready; {RUN}",
            essential=False,
            healthCheck={"command": ["CMD-SHELL", "test -f /tmp/ready"], "interval": 5, "timeout": 2, "retries": 1},
        ),
        member(
            "app",
            f"log start; {RUN}",
            dependsOn=[
                {"containerName": "starter", "condition": "START"},
                {"containerName": "job", "condition": "COMPLETE"},
                {"containerName": "migrate", "condition": "SUCCESS"},
                {"containerName": "db", "condition": "HEALTHY"},
            ],
        ),
        shell(
            "reader",
            busybox,
            "until [ -s /shared/log ]; do sleep 0.2; done; "
            "if touch /shared/x 2>/dev/null; then echo WRITE=ok; else echo WRITE=refused; fi; "
            f"echo SEEN=$(wc -l < /shared/log); {RUN}",
            essential=False,
            volumesFrom=[{"sourceContainer": "app", "readOnly": True}],
            dependsOn=[{"containerName": "app", "condition": "START"}],
        ),
    ]
    td = task_definition("ordered", *containers)
    td["spec"]["volumes"] = [{"name": "shared"}]
    apply(kubectl, namespace, td, task("ordered-1", "ordered", cluster=real_cluster, startedBy="e2e"))

    def log_with_app() -> str | None:
        text = kubectl("exec", "ordered-1", "-n", namespace, "-c", "app", "--", "cat", "/shared/log", check=False)
        return text if "app start" in text else None

    try:
        text = wait_for("the app container started and logged", log_with_app, timeout=120)
    except AssertionError as error:
        task_status = status(kubectl, namespace, "ordered-1")
        raise AssertionError(f"{error}\ntask status: {json.dumps(task_status, indent=1)}") from None
    seen = {" ".join(line.split()[:2]): float(line.split()[2]) for line in text.splitlines()}
    assert seen["starter start"] <= seen["app start"], seen  # START: started first
    assert seen["job end"] <= seen["app start"], seen  # COMPLETE: exited first
    assert seen["migrate end"] <= seen["app start"], seen  # SUCCESS: exited 0 first
    assert seen["db ready"] <= seen["app start"], seen  # HEALTHY: its check passed first
    result = wait_for(
        "the task RUNNING with job and migrate STOPPED (0)",
        lambda: (s := status(kubectl, namespace, "ordered-1")).get("lastStatus") == "RUNNING" and s,
    )
    containers_now = by_name(result)
    assert (containers_now["job"]["lastStatus"], containers_now["job"]["exitCode"]) == ("STOPPED", 0)
    assert (containers_now["migrate"]["lastStatus"], containers_now["migrate"]["exitCode"]) == ("STOPPED", 0)
    assert containers_now["db"]["healthStatus"] == "HEALTHY"

    def reader_output() -> str | None:
        text = kubectl("logs", "ordered-1", "-n", namespace, "-c", "reader", check=False)
        return text if "SEEN=" in text else None

    reader = wait_for("the volumesFrom container's output", reader_output)
    assert "WRITE=refused" in reader, reader  # volumesFrom readOnly: the app's volume, read-only
    assert int(reader.split("SEEN=")[1].split()[0]) >= 5
    kubectl("delete", "ecstask", "ordered-1", "-n", namespace, "--wait=false")


def test_success_dependency_that_fails_stops_the_task_before_the_dependent_starts(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str], tmp_path: Path
) -> None:
    busybox, out = real_images["busybox"], host_dir(tmp_path)
    mount = [{"sourceVolume": "out", "containerPath": "/out"}]
    migrate = shell("migrate", busybox, "sleep 1; exit 1", essential=False)
    app = shell(
        "app",
        busybox,
        f"touch /out/app-started; {RUN}",
        mountPoints=mount,
        dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}],
    )
    td = task_definition("migrates", migrate, app)
    td["spec"]["volumes"] = [{"name": "out", "host": {"sourcePath": str(out)}}]
    apply(kubectl, namespace, td, task("migrates-1", "migrates", cluster=real_cluster, startedBy="e2e"))
    result = stopped(kubectl, namespace, "migrates-1", timeout=90)
    assert not (out / "app-started").exists(), "the dependent container started"
    assert result.get("stopCode") == "TaskFailedToStart", result
    assert result["stoppedReason"].startswith("CannotStartContainerError: container 'migrate' exited with 1"), result
    assert result.get("exitCode") == 1, result
    containers = by_name(result)
    assert (containers["migrate"]["lastStatus"], containers["migrate"]["exitCode"]) == ("STOPPED", 1)
    assert containers["app"]["lastStatus"] == "STOPPED", containers["app"]
    assert containers["app"]["reason"].startswith("CannotStartContainerError: dependency condition not met"), containers
    assert "exitCode" not in containers["app"] or containers["app"]["exitCode"] is None


def test_memory_limit_kills_the_container_out_of_memory(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    # dd fills a 64 MiB buffer: over the hard limit of 20 MiB, the kernel kills it
    hog = shell(
        "hog", real_images["busybox"], "echo allocating; dd if=/dev/zero of=/dev/null bs=64M count=1", memory=20
    )
    apply(kubectl, namespace, task_definition("hog", hog), task("hog-1", "hog", cluster=real_cluster, startedBy="e2e"))
    result = stopped(kubectl, namespace, "hog-1", timeout=90)
    hog_view = by_name(result)["hog"]
    assert (hog_view["lastStatus"], hog_view["exitCode"]) == ("STOPPED", 137), hog_view
    assert hog_view["reason"] == "OutOfMemoryError: Container killed due to memory usage", hog_view
    assert result["stopCode"] == "EssentialContainerExited"
    assert result["stoppedReason"] == "OutOfMemoryError: Container killed due to memory usage", result
    assert result["exitCode"] == 137


def test_health_checks_run_in_the_container_and_a_standalone_task_runs_on_unhealthy(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    """CMD-SHELL runs through the container's shell; CMD runs the program itself, also in an image
    with no shell at all (the pause image: a static binary alone). A standalone task keeps running
    when it turns UNHEALTHY (ECS: "the task will continue its lifecycle regardless")."""
    check = {"interval": 5, "timeout": 2, "retries": 1}
    web = shell(
        "web",
        real_images["busybox"],
        f"sleep 2; touch /tmp/healthy; {RUN}",
        healthCheck={"command": ["CMD-SHELL", "test -f /tmp/healthy"], **check},
    )
    distroless = {
        "name": "distroless",
        "image": real_images["pause"],
        "memory": 16,
        "healthCheck": {"command": ["CMD", "/pause", "-v"], **check},
    }
    apply(
        kubectl,
        namespace,
        task_definition("checked", web, distroless),
        task("checked-1", "checked", cluster=real_cluster, startedBy="e2e"),
    )

    def health(wanted: str) -> dict[str, Any] | None:
        s = status(kubectl, namespace, "checked-1")
        return s if s.get("healthStatus") == wanted else None

    result = wait_for("the task HEALTHY", lambda: health("HEALTHY"), timeout=90)
    assert {c["name"]: c["healthStatus"] for c in result["containers"]} == {"web": "HEALTHY", "distroless": "HEALTHY"}
    kubectl("exec", "checked-1", "-n", namespace, "-c", "web", "--", "rm", "/tmp/healthy")
    result = wait_for("the task UNHEALTHY", lambda: health("UNHEALTHY"), timeout=30)
    assert by_name(result)["web"]["healthStatus"] == "UNHEALTHY"
    time.sleep(12)  # two more failed checks: a liveness probe would have restarted it
    result = status(kubectl, namespace, "checked-1")
    assert (result["lastStatus"], result["healthStatus"]) == ("RUNNING", "UNHEALTHY"), result
    assert container_status(pod_of(kubectl, namespace, "checked-1"), "web").get("restartCount") == 0
    kubectl("exec", "checked-1", "-n", namespace, "-c", "web", "--", "touch", "/tmp/healthy")
    wait_for("the task HEALTHY again", lambda: health("HEALTHY"), timeout=30)
    kubectl("delete", "ecstask", "checked-1", "-n", namespace, "--wait=false")


def test_what_the_process_sees_and_no_secret_anywhere_else(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str], operator_log: Path
) -> None:
    """environment, secrets (a Kubernetes Secret), workingDirectory, user, readonlyRootFilesystem,
    linuxParameters.capabilities and initProcessEnabled, as the process itself sees them."""
    value = f"e2e-{secrets.token_hex(8)}"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "ssm-e2e-db-password", "namespace": namespace},
        "stringData": {"value": value},
    }
    kubectl("apply", "-f", "-", input=json.dumps(secret))
    report = (
        'echo "FOO=$FOO"; echo "SECRET=$DB_PASSWORD"; echo "PWD=$(pwd)"; echo "ID=$(id -u):$(id -g)"; '
        "if touch /written 2>/dev/null; then echo WRITE=ok; else echo WRITE=refused; fi; "
        "grep CapEff /proc/self/status; echo \"PID1=$(tr '\\0' ' ' < /proc/1/cmdline)\"; echo DONE; "
    )
    app = shell(
        "app",
        real_images["busybox"],
        report + RUN,
        environment=[{"name": "FOO", "value": "bar baz"}],
        secrets=[{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/e2e/db-password"}],
        workingDirectory="/root",
        user="1000:1000",
        readonlyRootFilesystem=True,
        linuxParameters={"initProcessEnabled": True},
    )
    admin = shell(
        "admin",
        real_images["busybox"],
        report + RUN,
        essential=False,
        user="root",
        linuxParameters={"capabilities": {"add": ["NET_ADMIN"], "drop": ["CHOWN"]}},
    )
    apply(
        kubectl,
        namespace,
        task_definition("sees", app, admin),
        task("sees-1", "sees", cluster=real_cluster, startedBy="e2e"),
    )

    def output(container: str) -> dict[str, str] | None:
        text = kubectl("logs", "sees-1", "-n", namespace, "-c", container, check=False)
        if "DONE" not in text:
            return None
        return dict(
            line.split("=", 1) if "=" in line else line.split(":", 1) for line in text.splitlines() if line != "DONE"
        )

    seen = wait_for("the app container's report", lambda: output("app"), timeout=90)
    assert seen["FOO"] == "bar baz"
    assert seen["SECRET"] == value
    assert seen["PWD"] == "/root"
    assert seen["ID"] == "1000:1000"
    assert seen["WRITE"] == "refused"  # readonlyRootFilesystem
    assert int(seen["CapEff"].strip(), 16) == 0  # a non-root user has no effective capabilities
    assert seen["PID1"].strip() == "/pause", seen  # initProcessEnabled: an init process is PID 1
    admin_seen = wait_for("the admin container's report", lambda: output("admin"), timeout=60)
    capabilities = int(admin_seen["CapEff"].strip(), 16)
    assert capabilities & (1 << 12), hex(capabilities)  # CAP_NET_ADMIN added
    assert not capabilities & (1 << 0), hex(capabilities)  # CAP_CHOWN dropped
    assert capabilities & (1 << 5), hex(capabilities)  # CAP_KILL: a default one is kept
    assert admin_seen["WRITE"] == "ok" and admin_seen["ID"] == "0:0"

    stop = {"spec": {"desiredStatus": "STOPPED", "reason": "e2e: done"}}
    kubectl("patch", "ecstask", "sees-1", "-n", namespace, "--type=merge", "-p", json.dumps(stop))
    stopped(kubectl, namespace, "sees-1", timeout=60)
    # the value reached the process, and nothing else of ecs-facade's: specs, status, events, logs
    places = {
        "ECSTask": kubectl("get", "ecstask", "sees-1", "-n", namespace, "-o", "json"),
        "ECSTaskDefinition": kubectl("get", "ecstaskdefinition", "sees", "-n", namespace, "-o", "json"),
        "events": kubectl("get", "events", "-n", namespace, "-o", "json"),
        "operator log": operator_log.read_text(),
    }
    pod = kubectl("get", "pod", "sees-1", "-n", namespace, "-o", "json", "--ignore-not-found")
    if pod:
        places["pod"] = pod
    assert [where for where, text in places.items() if value in text] == []


def test_restart_policy_restarts_in_the_task_only_after_the_attempt_period(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    """ECS restartPolicy: an exit after ``restartAttemptPeriod`` seconds of running is restarted
    in the same task; an earlier exit is not, and an essential container's ends the task."""
    busybox = real_images["busybox"]
    policy = {"enabled": True, "ignoredExitCodes": [0], "restartAttemptPeriod": 60}
    runs = [{"sourceVolume": "state", "containerPath": "/state"}]
    # the first run lasts past the period and fails; the next one stays up (a scratch volume
    # outlives the container's restart)
    patient = shell(
        "main",
        busybox,
        f"if [ -f /state/ran ]; then echo again; {RUN}; fi; touch /state/ran; sleep 62; exit 1",
        restartPolicy=policy,
        mountPoints=runs,
    )
    hasty = shell("main", busybox, "sleep 2; exit 1", restartPolicy=policy)
    patient_td, hasty_td = task_definition("patient", patient), task_definition("hasty", hasty)
    patient_td["spec"]["volumes"] = [{"name": "state"}]
    apply(
        kubectl,
        namespace,
        patient_td,
        hasty_td,
        task("patient-1", "patient", cluster=real_cluster, startedBy="e2e"),
        task("hasty-1", "hasty", cluster=real_cluster, startedBy="e2e"),
    )
    result = stopped(kubectl, namespace, "hasty-1", timeout=90)
    assert (result["stopCode"], result["exitCode"]) == ("EssentialContainerExited", 1), result

    def restarted() -> dict[str, Any] | None:
        main = container_status(pod_of(kubectl, namespace, "patient-1"), "main")
        return main if main.get("restartCount") == 1 and "running" in (main.get("state") or {}) else None

    main = wait_for("the patient task's container restarted and running", restarted, timeout=150)
    assert main["lastState"]["terminated"]["exitCode"] == 1
    time.sleep(2)
    now = status(kubectl, namespace, "patient-1")
    assert now["lastStatus"] == "RUNNING" and "stopCode" not in now, now
    assert "again" in kubectl("logs", "patient-1", "-n", namespace, "-c", "main")
    kubectl("delete", "ecstask", "patient-1", "-n", namespace, "--wait=false")
