"""Services on the real node (hack/real-node.sh): a rolling deployment behind a load balancer
that answers every request, and the tasks ECS stops and starts when a process exits or turns
unhealthy, told in its events."""

import json
import re
import time
from typing import Any

import pytest

from tests.e2e.conftest import REAL_CLUSTER
from tests.e2e.kube import Kubectl, wait_for
from tests.e2e.kube import apply_objects as apply
from tests.e2e.test_real_node import RUN, shell
from tests.e2e.test_task import task, task_definition

pytestmark = [pytest.mark.e2e, pytest.mark.real_node]

TARGET_GROUP = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067"
# an HTTP request with busybox's nc; a 200 in the answer is a success
REQUEST = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout 5 nc -w 2"


def service(name: str, task_definition: str, desired: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": name, "annotations": spec.pop("annotations", {})},
        "spec": {"taskDefinition": task_definition, "desiredCount": desired, "cluster": REAL_CLUSTER, **spec},
    }


def service_status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    return (kubectl.get("ecsservice", name, namespace) or {}).get("status") or {}


def events(kubectl: Kubectl, namespace: str, name: str) -> list[str]:
    """The service's events, oldest first."""
    return [e["message"] for e in reversed(service_status(kubectl, namespace, name).get("events") or [])]


def named_tasks(messages: list[str], verb: str) -> list[str]:
    """The task IDs of "(service X) has started|has stopped N [running ]tasks: (task …)…" in order."""
    ids = []
    for message in messages:
        match = re.match(rf"^\(service [^)]+\) {verb} (\d+) (?:running )?tasks: (.*)\.$", message)
        if match:
            found = re.findall(r"\(task ([0-9a-f]{32})\)", match[2])
            assert len(found) == int(match[1]), message
            ids.extend(found)
    return ids


def web(version: str, image: str) -> dict[str, Any]:
    """busybox httpd answering with ``version``, healthy once it answers."""
    return task_definition(
        "web",
        {
            **shell(
                "web",
                image,
                'mkdir -p /www && echo "$VERSION" > /www/index.html && exec httpd -f -p 8080 -h /www',
                environment=[{"name": "VERSION", "value": version}],
                portMappings=[{"containerPort": 8080, "protocol": "tcp"}],
                healthCheck={
                    "command": ["CMD-SHELL", f"{REQUEST} 127.0.0.1 8080 | grep -q '200 OK'"],
                    "interval": 5,
                    "timeout": 3,
                    "retries": 1,
                },
            ),
        },
    )


def test_rolling_deployment_behind_a_load_balancer_answers_every_request(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    busybox = real_images["busybox"]
    first = web("v1", busybox)
    balanced = service(
        "web",
        "web:1",
        2,
        loadBalancers=[{"targetGroupArn": TARGET_GROUP, "containerName": "web", "containerPort": 8080}],
        deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200},
        annotations={"ecs.facade.dev/deregistration-delay-seconds": "5"},
    )
    apply(kubectl, namespace, first, balanced)
    wait_for(
        "2 tasks running",
        lambda: service_status(kubectl, namespace, "web").get("runningCount") == 2,
        timeout=120,
    )
    services = kubectl.json("get", "services", "-n", namespace, "-l", "ecs.facade.dev/service=web")["items"]
    (target,) = services
    address, port = target["spec"]["clusterIP"], target["spec"]["ports"][0]["port"]

    # the client: a task on the real node asking through the Service every 0.2 s until told to stop
    loop = (
        "i=0; while [ ! -f /tmp/stop ]; do i=$((i+1)); "
        f"if out=$({REQUEST} $ADDRESS $PORT 2>&1); then "
        'case "$out" in *"200 OK"*) echo "ok $i $(echo "$out" | tail -n 1)";; *) echo "bad $i";; esac; '
        'else echo "fail $i $out" | head -n 1; fi; sleep 0.2; done; echo END; ' + RUN
    )
    client = shell(
        "client",
        busybox,
        loop,
        environment=[{"name": "ADDRESS", "value": address}, {"name": "PORT", "value": str(port)}],
    )
    apply(
        kubectl,
        namespace,
        task_definition("client", client),
        task("client-1", "client", cluster=real_cluster, startedBy="e2e"),
    )

    def answers() -> str:
        return kubectl("logs", "client-1", "-n", namespace, "-c", "client", check=False)

    wait_for("the client answered by v1", lambda: "ok" in answers() and " v1" in answers(), timeout=90)

    second = web("v2", busybox)
    apply(kubectl, namespace, second)
    wait_for(
        "revision 2 registered",
        lambda: "2" in str((kubectl.get("ecstaskdefinition", "web", namespace) or {}).get("status", {})),
    )
    rolled = time.monotonic()
    kubectl("patch", "ecsservice", "web", "-n", namespace, "--type=merge", "-p", '{"spec":{"taskDefinition":"web:2"}}')

    def rolled_out() -> dict[str, Any] | None:
        s = service_status(kubectl, namespace, "web")
        deployments = s.get("deployments") or []
        done = (
            deployments[0]["taskDefinition"].endswith(":2")
            and deployments[0]["rolloutState"] == "COMPLETED"
            and s.get("runningCount") == 2
            and not any(d["runningCount"] for d in deployments[1:])
        )
        return s if done else None

    try:
        wait_for("the deployment of revision 2 COMPLETED, the old tasks gone", rolled_out, timeout=180)
    except AssertionError as error:
        now = service_status(kubectl, namespace, "web")
        pods_now = kubectl("get", "pods", "-n", namespace, "-o", "wide")
        raise AssertionError(f"{error}\nstatus: {json.dumps(now, indent=1)}\n{pods_now}") from None
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", "ecs.facade.dev/service=web")["items"]
    wait_for(
        "the old tasks' pods gone",
        lambda: all(
            p["metadata"]["labels"].get("ecs.facade.dev/task-definition-revision") == "2"
            for p in kubectl.json("get", "pods", "-n", namespace, "-l", "ecs.facade.dev/service=web")["items"]
        ),
        timeout=60,
    )
    time.sleep(2)
    kubectl("exec", "client-1", "-n", namespace, "-c", "client", "--", "touch", "/tmp/stop")

    def finished() -> str | None:
        text = answers()
        return text if "END" in text else None

    log = wait_for("the client's last line", finished, timeout=30)
    lines = [line for line in log.splitlines() if line and line != "END"]
    failures = [line for line in lines if not line.startswith("ok ")]
    took = time.monotonic() - rolled
    assert failures == [], (
        f"{len(failures)} of {len(lines)} requests failed during the rollout ({took:.0f} s): {failures}"
    )
    versions = [line.split()[2] for line in lines]
    assert versions.count("v1") >= 5 and versions.count("v2") >= 5, versions
    assert versions[-3:] == ["v2"] * 3, versions  # the old tasks are gone: only v2 answers
    assert len(lines) >= 30, len(lines)
    assert len(pods) >= 2
    print(f"rolling deployment: {len(lines)} requests, 0 failed, {took:.0f} s from the update to the old tasks gone")


def test_service_task_whose_essential_container_exits_is_stopped_and_replaced(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    crashing = shell("app", real_images["busybox"], "echo up; sleep 5; exit 3")
    apply(kubectl, namespace, task_definition("crashy", crashing), service("crashy", "crashy", 1))

    def replaced() -> list[str] | None:
        said = events(kubectl, namespace, "crashy")
        started, stopped = named_tasks(said, "has started"), named_tasks(said, "has stopped")
        return said if len(started) >= 2 and len(stopped) >= 1 else None

    said = wait_for("a task stopped and another started", replaced, timeout=120)
    started, stopped = named_tasks(said, "has started"), named_tasks(said, "has stopped")
    assert started[0] == stopped[0] and started[1] != started[0], said  # the ended task, and a new one
    assert not any("has reached a steady state" in m for m in said), said  # never steady: its tasks keep exiting
    status = service_status(kubectl, namespace, "crashy")
    failed = status["deployments"][0]["failedTasks"]
    assert failed >= 1, status["deployments"]
    assert status["runningCount"] <= 1
    # the stopped task stays describable, with the process's own exit code (the kubelet's restart
    # in place overwrites it in the pod: the operator kept it)
    ended = next(t for t in status["stoppedTasks"] if t["taskArn"].endswith("/" + stopped[0]))
    assert (ended["lastStatus"], ended["stopCode"]) == ("STOPPED", "EssentialContainerExited"), ended
    assert [(c["name"], c["exitCode"]) for c in ended["containers"]] == [("app", 3)], ended
    (pod,) = kubectl.json("get", "pods", "-n", namespace, "-l", "ecs.facade.dev/service=crashy")["items"]
    # deleting the pod of a failed task does not take its failures back
    kubectl("delete", "pod", pod["metadata"]["name"], "-n", namespace, "--wait=false")
    time.sleep(3)
    after = service_status(kubectl, namespace, "crashy")["deployments"][0]["failedTasks"]
    assert after >= failed, (failed, after)
    kubectl("delete", "ecsservice", "crashy", "-n", namespace, "--wait=false")


def test_service_task_that_turns_unhealthy_is_replaced(
    kubectl: Kubectl, namespace: str, real_cluster: str, real_images: dict[str, str]
) -> None:
    app = shell(
        "app",
        real_images["busybox"],
        f"touch /tmp/ok; {RUN}",
        healthCheck={"command": ["CMD-SHELL", "test -f /tmp/ok"], "interval": 5, "timeout": 2, "retries": 2},
    )
    apply(kubectl, namespace, task_definition("sick", app), service("sick", "sick", 1))
    wait_for(
        "the service steady",
        lambda: any("has reached a steady state" in m for m in events(kubectl, namespace, "sick")),
        timeout=120,
    )
    (pod,) = kubectl.json("get", "pods", "-n", namespace, "-l", "ecs.facade.dev/service=sick")["items"]
    kubectl("exec", pod["metadata"]["name"], "-n", namespace, "-c", "app", "--", "rm", "/tmp/ok")

    def replaced() -> list[str] | None:
        said = events(kubectl, namespace, "sick")
        return said if len(named_tasks(said, "has started")) >= 2 else None

    said = wait_for("the unhealthy task replaced", replaced, timeout=120)
    (first, second, *_) = named_tasks(said, "has started")
    assert f"(service sick) (task {first}) failed container health checks." in said, said
    assert named_tasks(said, "has stopped")[:1] == [first], said
    assert second != first
    health = wait_for(
        "the new task HEALTHY and running",
        lambda: (s := service_status(kubectl, namespace, "sick")).get("runningCount") == 1 and s,
        timeout=90,
    )
    assert health["runningCount"] == 1
    kubectl("delete", "ecsservice", "sick", "-n", namespace, "--wait=false")
