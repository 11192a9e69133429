"""The ECS service scheduler's promises on a real API server: rollouts, the circuit breaker,
placement, hand edits put back."""

import calendar
import collections
import time
from typing import Any

import pytest

from tests.e2e.kube import Kubectl, condition, wait_for
from tests.e2e.kube import apply_objects as apply

pytestmark = pytest.mark.e2e


def task_definition(name: str, image: str, cpu: int = 256, labels: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image, "cpu": cpu, "memory": 128}
    if labels:
        container["dockerLabels"] = labels
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTaskDefinition",
        "metadata": {"name": name},
        "spec": {"containerDefinitions": [container]},
    }


def service(name: str, task_definition: str, desired: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": name},
        "spec": {"taskDefinition": task_definition, "desiredCount": desired, **spec},
    }


def pods(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.json("get", "pods", "-n", namespace, "-l", f"ecs.facade.dev/service={name}")[
        "items"
    ]
    return items


def is_running(pod: dict[str, Any]) -> bool:
    ready: dict[str, Any] = next((c for c in pod["status"].get("conditions", []) if c["type"] == "Ready"), {})
    return pod["status"].get("phase") == "Running" and ready.get("status") == "True"


def status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    return (kubectl.get("ecsservice", name, namespace) or {}).get("status") or {}


def steady(kubectl: Kubectl, namespace: str, name: str, running: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        s = status(kubectl, namespace, name)
        ready = condition({"status": s}, "Ready") or {}
        return s if s.get("runningCount") == running and ready.get("status") == "True" else None

    result: dict[str, Any] = wait_for(f"{name}: {running} running and steady", check, timeout=120)
    return result


def test_rolling_update_keeps_minimum_healthy_and_completes(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("roll", "example/app:1"))
    config = {"maximumPercent": 200, "minimumHealthyPercent": 50}
    apply(kubectl, namespace, service("roll", "roll", 6, deploymentConfiguration=config))
    deployment = wait_for("the Deployment", lambda: kubectl.get("deployment", "roll", namespace))
    # its disruption budget (minimumHealthyPercent) comes with the workload, before it: no task
    # of a new service runs unprotected
    budget = kubectl.get("poddisruptionbudget", "roll", namespace)
    assert budget is not None, "the Deployment came without its disruption budget"
    assert budget["metadata"]["creationTimestamp"] <= deployment["metadata"]["creationTimestamp"]
    assert budget["spec"]["minAvailable"] == 3
    owner = budget["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("ECSService", "roll")
    steady(kubectl, namespace, "roll", 6)

    apply(kubectl, namespace, task_definition("roll", "example/app:2"))
    wait_for(
        "revision 2",
        lambda: (kubectl.get("ecstaskdefinition", "roll", namespace) or {}).get("status", {}).get("revision") == 2,
    )
    apply(kubectl, namespace, service("roll", "roll:2", 6, deploymentConfiguration=config))

    samples: list[tuple[int, int]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        current = [p for p in pods(kubectl, namespace, "roll") if not p["metadata"].get("deletionTimestamp")]
        running = [p for p in current if is_running(p)]
        revisions = collections.Counter(
            p["metadata"]["labels"].get("ecs.facade.dev/task-definition-revision") for p in running
        )
        samples.append((len(running), revisions.get("2", 0)))
        if revisions.get("2") == 6 and len(running) == 6:
            break
        time.sleep(0.2)
    assert samples and min(r for r, _ in samples) >= 3, samples
    assert samples[-1] == (6, 6), samples[-5:]

    final = steady(kubectl, namespace, "roll", 6)
    primary = final["deployments"][0]
    assert primary["status"] == "PRIMARY"
    assert primary["rolloutState"] == "COMPLETED"
    assert primary["taskDefinition"].endswith("task-definition/roll:2")
    assert final["taskDefinition"].endswith("task-definition/roll:2")
    assert any(d["taskDefinition"].endswith("roll:1") for d in final["deployments"][1:])
    deployment = kubectl.json("get", "deployment", "roll", "-n", namespace)
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 6, "maxUnavailable": 3}
    assert any("has reached a steady state." in e["message"] for e in final["events"])


def test_circuit_breaker_rolls_back_a_failing_revision(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("brk", "example/app:1"))
    config = {
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    }
    apply(kubectl, namespace, service("brk", "brk", 4, deploymentConfiguration=config))
    steady(kubectl, namespace, "brk", 4)

    # revision 2's tasks exit with code 1 shortly after they start (a kwok stage)
    apply(
        kubectl, namespace, task_definition("brk", "example/app:2", labels={"ecs.facade.dev/simulate-exit-code": "1"})
    )
    wait_for(
        "revision 2",
        lambda: (kubectl.get("ecstaskdefinition", "brk", namespace) or {}).get("status", {}).get("revision") == 2,
    )
    apply(kubectl, namespace, service("brk", "brk:2", 4, deploymentConfiguration=config))

    def rolled_back() -> dict[str, Any] | None:
        s = status(kubectl, namespace, "brk")
        degraded = condition({"status": s}, "Degraded") or {}
        return s if degraded.get("reason") == "RolledBack" else None

    after = wait_for("the breaker to roll back", rolled_back, timeout=120)
    assert after["taskDefinition"].endswith("task-definition/brk:1")
    failed = [d for d in after["deployments"] if d["rolloutState"] == "FAILED"]
    assert failed and failed[0]["taskDefinition"].endswith("brk:2")
    assert failed[0]["failedTasks"] >= 3
    messages = [e["message"] for e in after["events"]]
    assert any("deployment failed: tasks failed to start." in m for m in messages), messages
    assert any("rolling back to deployment" in m for m in messages), messages

    final = steady(kubectl, namespace, "brk", 4)

    def revisions_running() -> set[str]:
        running = [
            p for p in pods(kubectl, namespace, "brk") if is_running(p) and not p["metadata"].get("deletionTimestamp")
        ]
        return {p["metadata"]["labels"]["ecs.facade.dev/task-definition-revision"] for p in running}

    wait_for("only revision 1 running", lambda: revisions_running() == {"1"}, timeout=60)
    assert final["deployments"][0]["taskDefinition"].endswith("brk:1")
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=brk")["items"]
    assert any("rolling back" in e["message"] for e in events)


def primary_of(s: dict[str, Any]) -> dict[str, Any]:
    return next((d for d in s.get("deployments") or [] if d["status"] == "PRIMARY"), {})


def epoch(stamp: str) -> float:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def created_after(kubectl: Kubectl, namespace: str, name: str, revision: str, moment: float) -> list[str]:
    """Pods of one task definition revision created after ``moment`` (epoch seconds)."""
    return [
        p["metadata"]["name"]
        for p in pods(kubectl, namespace, name)
        if p["metadata"]["labels"].get("ecs.facade.dev/task-definition-revision") == revision
        and epoch(p["metadata"]["creationTimestamp"]) > moment
    ]


def test_breaker_without_rollback_stops_launching(kubectl: Kubectl, namespace: str) -> None:
    # a first service whose tasks exit a second after they start (a kwok stage), with the
    # breaker and no rollback: ECS fails the deployment at its threshold and launches no more
    apply(
        kubectl,
        namespace,
        task_definition("halt", "example/crash:1", labels={"ecs.facade.dev/simulate-exit-code": "1"}),
    )
    config = {"deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    apply(kubectl, namespace, service("halt", "halt", 4, deploymentConfiguration=config))
    threshold, in_flight = 3, 8  # half of 4, at least 3; floor(4 x 200 / 100) tasks at a time
    states: list[str] = []

    def failed() -> dict[str, Any] | None:
        s = status(kubectl, namespace, "halt")
        primary = primary_of(s)
        if primary.get("rolloutState"):
            states.append(primary["rolloutState"])
        return s if primary.get("rolloutState") == "FAILED" else None

    at_failure = wait_for("the breaker to fail the deployment", failed, timeout=90, interval=0.2)
    primary = primary_of(at_failure)
    assert threshold <= primary["failedTasks"] <= in_flight, primary
    assert "COMPLETED" not in states, states
    assert (condition({"status": at_failure}, "Degraded") or {}).get("reason") == "DeploymentFailed"
    messages = [e["message"] for e in at_failure["events"]]
    assert any("deployment failed: tasks failed to start." in m for m in messages), messages

    # launching stops: the Deployment keeps no task, and no task of the revision starts again
    wait_for(
        "launches stopped",
        lambda: kubectl.json("get", "deployment", "halt", "-n", namespace)["spec"]["replicas"] == 0,
        timeout=10,
        interval=0.2,
    )
    failed_at = epoch(primary["updatedAt"])
    late = created_after(kubectl, namespace, "halt", "1", failed_at + 2)
    before = {p["metadata"]["name"] for p in pods(kubectl, namespace, "halt")}
    time.sleep(12)
    after = {p["metadata"]["name"] for p in pods(kubectl, namespace, "halt")}
    assert not after - before, f"tasks launched after the deployment FAILED: {sorted(after - before)}"
    assert not late, f"tasks created more than 2 s after FAILED: {late}"
    final = status(kubectl, namespace, "halt")
    primary = primary_of(final)
    assert primary["rolloutState"] == "FAILED"
    assert threshold <= primary["failedTasks"] <= in_flight, primary
    assert (final["desiredCount"], final["runningCount"], final["pendingCount"]) == (4, 0, 0)
    print(f"failedTasks at FAILED {primary_of(at_failure)['failedTasks']}, 12 s later {primary['failedTasks']}")


def test_a_quickly_exiting_revision_is_never_completed(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("flash", "example/app:1"))
    config = {
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
        "deploymentCircuitBreaker": {"enable": True, "rollback": False},
    }
    apply(kubectl, namespace, service("flash", "flash", 3, deploymentConfiguration=config))
    steady(kubectl, namespace, "flash", 3)
    old_tasks = {p["metadata"]["name"] for p in pods(kubectl, namespace, "flash") if is_running(p)}
    assert len(old_tasks) == 3

    # revision 2's tasks start, run for a second and exit with code 1
    apply(
        kubectl, namespace, task_definition("flash", "example/app:2", labels={"ecs.facade.dev/simulate-exit-code": "1"})
    )
    wait_for(
        "revision 2",
        lambda: (kubectl.get("ecstaskdefinition", "flash", namespace) or {}).get("status", {}).get("revision") == 2,
    )
    apply(kubectl, namespace, service("flash", "flash:2", 3, deploymentConfiguration=config))
    states: list[str] = []

    def revision_2() -> dict[str, Any] | None:
        s = status(kubectl, namespace, "flash")
        mine = [d for d in s.get("deployments") or [] if d.get("taskDefinition", "").endswith("flash:2")]
        if mine:
            states.append(mine[0]["rolloutState"])
        return s if mine and mine[0]["rolloutState"] == "FAILED" else None

    at_failure = wait_for("revision 2 to fail", revision_2, timeout=90, interval=0.2)
    assert "COMPLETED" not in states, states
    assert states[0] == "IN_PROGRESS"
    primary = primary_of(at_failure)
    assert primary["taskDefinition"].endswith("flash:2") and primary["rolloutState"] == "FAILED"
    assert 3 <= primary["failedTasks"] <= 6, primary  # threshold 3; floor(3 x 200 / 100) in flight
    print(f"rolloutStates seen: {collections.Counter(states)}; failedTasks at FAILED {primary['failedTasks']}")

    # no rollback: revision 1's tasks run on, the same ones, and revision 2 launches nothing more
    def old_ones_only() -> set[str] | None:
        current = [p for p in pods(kubectl, namespace, "flash") if not p["metadata"].get("deletionTimestamp")]
        live = {p["metadata"]["name"] for p in current if p["status"].get("phase") in ("Pending", "Running")}
        return live if live == old_tasks else None

    wait_for("only revision 1's tasks", old_ones_only, timeout=20, interval=0.2)
    failed_at = epoch(primary["updatedAt"])
    time.sleep(12)
    late = created_after(kubectl, namespace, "flash", "2", failed_at + 2)
    assert not late, f"revision 2 tasks created more than 2 s after FAILED: {late}"
    assert old_ones_only() == old_tasks
    final = status(kubectl, namespace, "flash")
    assert final["taskDefinition"].endswith("task-definition/flash:2")
    assert [(d["status"], d["rolloutState"]) for d in final["deployments"][:2]] == [
        ("PRIMARY", "FAILED"),
        ("ACTIVE", "COMPLETED"),
    ]
    assert final["deployments"][1]["runningCount"] == 3
    assert (final["runningCount"], final["pendingCount"]) == (3, 0)
    assert (condition({"status": final}, "Ready") or {}).get("status") == "False"

    # a new deployment is judged afresh: revision 3 runs and completes
    apply(kubectl, namespace, task_definition("flash", "example/app:3"))
    wait_for(
        "revision 3",
        lambda: (kubectl.get("ecstaskdefinition", "flash", namespace) or {}).get("status", {}).get("revision") == 3,
    )
    apply(kubectl, namespace, service("flash", "flash:3", 3, deploymentConfiguration=config))
    done = steady(kubectl, namespace, "flash", 3)
    assert primary_of(done)["taskDefinition"].endswith("flash:3")
    assert primary_of(done)["rolloutState"] == "COMPLETED"


def nodes_of(kubectl: Kubectl, namespace: str, name: str) -> list[str]:
    return [p["spec"].get("nodeName", "") for p in pods(kubectl, namespace, name) if is_running(p)]


def node_labels(kubectl: Kubectl) -> dict[str, dict[str, str]]:
    return {n["metadata"]["name"]: n["metadata"]["labels"] for n in kubectl.json("get", "nodes")["items"]}


def test_distinct_instance_leaves_a_task_pending_with_a_reason(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("distinct", "example/app:1"))
    zone = {"type": "memberOf", "expression": "attribute:ecs.instance-type == m5.xlarge"}
    apply(
        kubectl,
        namespace,
        service("distinct", "distinct", 4, placementConstraints=[{"type": "distinctInstance"}, zone]),
    )
    nodes = sum(
        1 for labels in node_labels(kubectl).values() if labels.get("node.kubernetes.io/instance-type") == "m5.xlarge"
    )

    def unplaceable() -> dict[str, Any] | None:
        ready = condition(kubectl.get("ecsservice", "distinct", namespace), "Ready") or {}
        return ready if ready.get("reason") == "TasksUnplaceable" else None

    ready = wait_for("a task that cannot be placed", unplaceable)
    assert "didn't match pod anti-affinity rules" in ready["message"] or "anti-affinity" in ready["message"]
    running = nodes_of(kubectl, namespace, "distinct")
    assert len(running) == nodes == 3
    assert len(set(running)) == 3
    assert any("was unable to place a task" in e["message"] for e in status(kubectl, namespace, "distinct")["events"])
    # ECS never creates a task it cannot place: it is not PENDING
    counts = wait_for(
        "3 running, none pending",
        lambda: (s := status(kubectl, namespace, "distinct")).get("runningCount") == 3 and s,
    )
    assert (counts["desiredCount"], counts["pendingCount"]) == (4, 0)
    # not all of its tasks run, and the ones that do are protected already
    budget = kubectl.get("poddisruptionbudget", "distinct", namespace)
    assert budget is not None and budget["spec"]["minAvailable"] == 4


def test_spread_across_zones_places_two_per_zone(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("spread", "example/app:1"))
    apply(
        kubectl,
        namespace,
        service(
            "spread", "spread", 6, placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}]
        ),
    )
    steady(kubectl, namespace, "spread", 6)
    labels = node_labels(kubectl)
    zones = collections.Counter(
        labels[n]["topology.kubernetes.io/zone"] for n in nodes_of(kubectl, namespace, "spread")
    )
    assert sorted(zones.values()) == [2, 2, 2], zones


def test_binpack_fills_one_node_before_the_next(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("pack", "example/app:1", cpu=1024))
    member = {"type": "memberOf", "expression": "attribute:ecs.instance-type == m5.xlarge"}
    apply(
        kubectl,
        namespace,
        service(
            "pack", "pack", 4, placementConstraints=[member], placementStrategy=[{"type": "binpack", "field": "cpu"}]
        ),
    )
    steady(kubectl, namespace, "pack", 4)
    assert len(set(nodes_of(kubectl, namespace, "pack"))) == 1
    deployment = kubectl.json("get", "deployment", "pack", "-n", namespace)
    assert deployment["spec"]["template"]["spec"]["schedulerName"] == "ecs-facade-binpack"


def test_member_of_keeps_tasks_on_matching_nodes(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("member", "example/app:1"))
    expression = "attribute:ecs.availability-zone in [us-east-1a, us-east-1b] and attribute:ecs.instance-type =~ m5.*"
    apply(
        kubectl,
        namespace,
        service("member", "member", 4, placementConstraints=[{"type": "memberOf", "expression": expression}]),
    )
    steady(kubectl, namespace, "member", 4)
    labels = node_labels(kubectl)
    for node in nodes_of(kubectl, namespace, "member"):
        assert labels[node]["topology.kubernetes.io/zone"] in ("us-east-1a", "us-east-1b")
        assert labels[node]["node.kubernetes.io/instance-type"].startswith("m5.")


def test_hand_edits_of_the_deployment_are_put_back(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("edit", "example/app:1"))
    apply(kubectl, namespace, service("edit", "edit", 2))
    steady(kubectl, namespace, "edit", 2)
    kubectl("scale", "deployment", "edit", "-n", namespace, "--replicas=5")
    kubectl("set", "image", "deployment/edit", "-n", namespace, "app=example/hacked:1")
    wait_for(
        "the Deployment put back",
        lambda: (
            (d := kubectl.get("deployment", "edit", namespace))
            and d["spec"]["replicas"] == 2
            and d["spec"]["template"]["spec"]["containers"][0]["image"] == "example/app:1"
        ),
    )
    steady(kubectl, namespace, "edit", 2)


def test_load_balancers_and_service_registries_are_services(kubectl: Kubectl, namespace: str) -> None:
    td = task_definition("lb", "example/app:1")
    td["spec"]["containerDefinitions"][0]["portMappings"] = [
        {"containerPort": 8080, "name": "http", "appProtocol": "grpc"}
    ]
    apply(kubectl, namespace, td)
    target_group = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
    apply(
        kubectl,
        namespace,
        service(
            "lb",
            "lb",
            2,
            loadBalancers=[{"targetGroupArn": target_group, "containerName": "app", "containerPort": 8080}],
            serviceRegistries=[{"registryArn": "arn:aws:servicediscovery:us-east-1:123456789012:service/srv-abc"}],
        ),
    )
    steady(kubectl, namespace, "lb", 2)
    balanced = kubectl.json("get", "service", "lb", "-n", namespace)
    assert balanced["spec"]["selector"] == {"ecs.facade.dev/service": "lb"}
    # gRPC is HTTP/2 in clear text to the task, which Kubernetes calls kubernetes.io/h2c
    ports = [(p["port"], p["targetPort"], p.get("appProtocol")) for p in balanced["spec"]["ports"]]
    assert ports == [(8080, "http", "kubernetes.io/h2c")]
    assert balanced["metadata"]["annotations"]["ecs.facade.dev/target-group-arns"] == target_group
    assert balanced["metadata"]["ownerReferences"][0]["kind"] == "ECSService"
    discovery = kubectl.json("get", "service", "lb-discovery", "-n", namespace)
    assert discovery["spec"]["clusterIP"] == "None"
    # the ready tasks are the endpoints, as healthy targets are in a target group
    wait_for(
        "2 ready endpoints",
        lambda: (
            sum(
                len([e for e in s.get("endpoints", []) if e.get("conditions", {}).get("ready")])
                for s in kubectl.json("get", "endpointslices", "-n", namespace, "-l", "kubernetes.io/service-name=lb")[
                    "items"
                ]
            )
            == 2
        ),
    )


def test_daemon_service_runs_one_task_per_node(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, task_definition("agent", "example/agent:1"))
    member = {"type": "memberOf", "expression": "attribute:ecs.instance-type == m5.xlarge"}
    apply(
        kubectl,
        namespace,
        {
            "apiVersion": "ecs.facade.dev/v1alpha1",
            "kind": "ECSService",
            "metadata": {"name": "agent"},
            "spec": {"taskDefinition": "agent", "schedulingStrategy": "DAEMON", "placementConstraints": [member]},
        },
    )
    daemon_set = wait_for("the DaemonSet", lambda: kubectl.get("daemonset", "agent", namespace))
    assert daemon_set["metadata"]["ownerReferences"][0]["kind"] == "ECSService"
    nodes = [
        n for n, labels in node_labels(kubectl).items() if labels.get("node.kubernetes.io/instance-type") == "m5.xlarge"
    ]
    wait_for("one task per node", lambda: sorted(nodes_of(kubectl, namespace, "agent")) == sorted(nodes))
    wait_for("runningCount", lambda: status(kubectl, namespace, "agent").get("runningCount") == len(nodes))


def test_without_breaker_failing_tasks_are_throttled(kubectl: Kubectl, namespace: str) -> None:
    apply(
        kubectl,
        namespace,
        task_definition("thr", "example/broken:1", labels={"ecs.facade.dev/simulate-exit-code": "2"}),
    )
    apply(kubectl, namespace, service("thr", "thr", 4))

    def throttle(attempts: int) -> dict[str, Any] | None:
        s = status(kubectl, namespace, "thr")
        return s if (s.get("throttle") or {}).get("attempts", 0) >= attempts else None

    first = wait_for("the throttle", lambda: throttle(1), timeout=60)
    degraded = condition({"status": first}, "Degraded") or {}
    assert degraded.get("reason") == "TasksFailing"
    assert any("unable to consistently start tasks successfully" in e["message"] for e in first["events"])
    # launches are held: the Deployment keeps only what runs (nothing) until the next attempt
    # (the hold is applied right after the status that announces it is written)
    wait_for(
        "launches held",
        lambda: kubectl.json("get", "deployment", "thr", "-n", namespace)["spec"]["replicas"] == 0,
        timeout=8,
        interval=0.2,
    )
    # then it tries again, fails again, and waits longer
    second = wait_for("a second, longer throttle", lambda: throttle(2), timeout=90)
    assert second["throttle"]["nextAttemptAt"] > first["throttle"]["nextAttemptAt"]
