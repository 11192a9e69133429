"""An ECS task (DescribeTasks) as seen from its pod: one function for standalone tasks and the
tasks of services, so both look the same.

``lastStatus`` from the pod:

| pod | lastStatus |
|---|---|
| not yet scheduled to a node | PROVISIONING |
| scheduled, containers not started (pulling, creating) | PENDING |
| init containers or sidecars starting, essential containers not yet | ACTIVATING |
| essential containers running | RUNNING |
| being deleted (grace period) | STOPPING |
| an essential container exited, or the pod ended or is gone | STOPPED |

Why it stopped (``stopCode``, ``stoppedReason``): ``pod_stop`` from the pod alone, and for a
standalone task ``observe_task``, which also keeps the stop code of a task already STOPPING
(StopTask) while its containers stop.
"""

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_facade.translate.lifecycle import (
    ANNOTATION_RESTART_PERIODS,
    ANNOTATION_RESTART_POLICIES,
    DEFAULT_RESTART_ATTEMPT_PERIOD,
)
from ecs_facade.translate.taskdefinition import ANNOTATION_CONTAINER_NAMES, ANNOTATION_ESSENTIAL

_FAILED_TO_START = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "ContainerCannotRun",
}
_ENDED = ("Succeeded", "Failed")

# What ECS says (the ECS agent's OutOfMemoryError, "<name>: <message>"; the task's reason for an
# essential exit; StopTask's default reason).
OUT_OF_MEMORY = "OutOfMemoryError: Container killed due to memory usage"
ESSENTIAL_EXITED = "Essential container in task exited"
STOPPED_BY_USER = "Task stopped by user"
# The service scheduler's reasons: a task it stops (scale-in, a deployment replacing it) and
# one it replaces because its container health checks failed.
SCALING_ACTIVITY = "Scaling activity initiated by (deployment {deployment})"
FAILED_HEALTH_CHECKS = "Task failed container health checks"
STAMP = "%Y-%m-%dT%H:%M:%SZ"
# The node's clock (containers' finishedAt) and the API server's (deletionTimestamp) may differ
# by a moment: an end within this many seconds of a deletion request is taken for its result.
CLOCK_SKEW_SECONDS = 1


@dataclass(frozen=True)
class Stop:
    """Why a task stops, as DescribeTasks says it: ``stopCode``, ``stoppedReason``, the exit code
    the task reports (``status.exitCode``), and the ``reason`` of each container that never
    started (None: their own)."""

    code: str
    reason: str
    exit_code: int | None = None
    unstarted: str | None = None


def _statuses(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    status = pod.get("status") or {}
    return {
        c["name"]: c for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    }


def deletion_requested(pod: Mapping[str, Any]) -> str | None:
    """When the pod's deletion was asked for (None: it is not being deleted). The API server
    sets ``deletionTimestamp`` to the end of the grace period, ``deletionGracePeriodSeconds``
    long after the request."""
    meta = pod.get("metadata") or {}
    stamp = meta.get("deletionTimestamp")
    if not stamp:
        return None
    grace = int(meta.get("deletionGracePeriodSeconds") or 0)
    try:
        moment = datetime.datetime.strptime(str(stamp), STAMP) - datetime.timedelta(seconds=grace)
    except ValueError:  # not the API server's form: the timestamp itself, the latest it can be
        return str(stamp)
    return moment.strftime(STAMP)


def before_deletion(pod: Mapping[str, Any], finished: str | None) -> bool:
    """Whether a container (or the pod) that ended at ``finished`` ended by itself, not because
    its pod is being deleted: always for a pod not being deleted; for one being deleted, only
    an end clearly before the deletion was asked for. Whatever ends after that (SIGTERM's exit
    143, a clean 0, SIGKILL's 137) is the stop the deleter asked for: the service scheduler's
    (scale-in, a deployment), never a failure of the task."""
    requested = deletion_requested(pod)
    if requested is None:
        return True
    if not finished:
        return False
    try:
        skewed = (
            datetime.datetime.strptime(requested, STAMP) - datetime.timedelta(seconds=CLOCK_SKEW_SECONDS)
        ).strftime(STAMP)
    except ValueError:
        skewed = requested
    return str(finished) < skewed


def essential_containers(pod: Mapping[str, Any]) -> list[str]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return [n for n in annotations.get(ANNOTATION_ESSENTIAL, "").split(",") if n]


def _json_annotation(pod: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A JSON object annotation of the pod (translate.lifecycle's), {} when absent or bad."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        value = json.loads(annotations.get(key, "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def restart_policies(pod: Mapping[str, Any]) -> dict[str, set[int]]:
    """The containers with an ECS restart policy, and the exit codes it does not restart on
    (translate.lifecycle)."""
    policies = _json_annotation(pod, ANNOTATION_RESTART_POLICIES)
    return {str(name): {int(code) for code in codes} for name, codes in policies.items() if isinstance(codes, list)}


def restart_periods(pod: Mapping[str, Any]) -> dict[str, int]:
    """How long each container with an ECS restart policy must have run for an exit to be
    restarted (its ``restartAttemptPeriod``, translate.lifecycle)."""
    periods = _json_annotation(pod, ANNOTATION_RESTART_PERIODS)
    return {str(name): int(seconds) for name, seconds in periods.items() if isinstance(seconds, int)}


def restarted_by_policy(name: str, terminated: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """Whether ECS restarts this exit in the same task: the container has a restart policy, the
    code is not one of its ignored ones, and it ran for at least its ``restartAttemptPeriod``
    ("if a container isn't able to run for this time period and exits early, it will not be
    restarted"). A run whose length the kubelet did not report counts as long enough."""
    policies = restart_policies(pod)
    if name not in policies or terminated.get("exitCode") in policies[name]:
        return False
    ran = _seconds_between(terminated.get("startedAt"), terminated.get("finishedAt"))
    return ran is None or ran >= restart_periods(pod).get(name, DEFAULT_RESTART_ATTEMPT_PERIOD)


def _seconds_between(start: Any, end: Any) -> float | None:
    try:
        began = datetime.datetime.strptime(str(start), STAMP)
        ended = datetime.datetime.strptime(str(end), STAMP)
    except ValueError:
        return None
    return (ended - began).total_seconds()


def essential_exit(pod: Mapping[str, Any]) -> tuple[str, int | None] | None:
    """The first essential container whose exit ends the task, with its exit code.

    An exit that the container's ECS restart policy restarts is not one (ECS restarts it in
    the same task; restarted_by_policy). In a standalone task's pod (``restartPolicy: Never``) an essential
    container that was restarted all the same (a native sidecar always is) exited before:
    its last termination counts.
    """
    found = _essential_termination(pod)
    return None if found is None else (found[0], found[1].get("exitCode"))


def _essential_termination(pod: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """essential_exit, with the container's whole ``terminated`` state (its reason)."""
    statuses = _statuses(pod)
    standalone = (pod.get("spec") or {}).get("restartPolicy") == "Never"
    for name in essential_containers(pod):
        status = statuses.get(name) or {}
        terminated = (status.get("state") or {}).get("terminated")
        if terminated is None and standalone and status.get("restartCount"):
            terminated = (status.get("lastState") or {}).get("terminated")
        if terminated is None:
            continue
        if restarted_by_policy(name, terminated, pod):
            continue  # the task goes on
        return name, terminated
    return None


def essential_stop(pod: Mapping[str, Any]) -> Stop | None:
    """The task's end by an essential container's exit. Killed for its hard memory limit
    (``OOMKilled``), the reason is ECS's OutOfMemoryError, as a stopped task shows it (Fargate's
    ``stoppedReason``; on EC2 the container's ``reason``, which container_views gives too)."""
    found = _essential_termination(pod)
    if found is None:
        return None
    _, terminated = found
    reason = OUT_OF_MEMORY if terminated.get("reason") == "OOMKilled" else ESSENTIAL_EXITED
    return Stop("EssentialContainerExited", reason, terminated.get("exitCode"))


def failed_dependency(pod: Mapping[str, Any]) -> tuple[str, int] | None:
    """A container others wait for to SUCCEED or COMPLETE (an init container,
    translate.ordering) that exited non-zero for good, with its exit code.

    Kubernetes then starts none of the containers after it: in a standalone task's pod
    (``restartPolicy: Never``) the pod fails at once (phase Failed, the others waiting with
    ``PodInitializing``), as the ECS agent refuses to start a container whose SUCCESS
    dependency exited non-zero. An exit the container's own restart policy may restart is
    final only once the pod failed.
    """
    spec = pod.get("spec") or {}
    ended = (pod.get("status") or {}).get("phase") == "Failed"
    statuses = _statuses(pod)
    for container in spec.get("initContainers") or []:
        if container.get("restartPolicy") == "Always":
            continue  # a sidecar: others wait for it to START or be HEALTHY
        terminated = ((statuses.get(container["name"]) or {}).get("state") or {}).get("terminated") or {}
        code = terminated.get("exitCode")
        if code is None or code == 0:
            continue
        once = (
            spec.get("restartPolicy") == "Never"
            and "restartPolicy" not in container
            and not container.get("restartPolicyRules")
        )
        if ended or once:
            return container["name"], int(code)
    return None


def pod_stop(pod: Mapping[str, Any]) -> Stop | None:
    """Why the task ended, from its pod alone (StopTask aside: observe_task), or None while it
    goes on. A pod that ended (phase Succeeded or Failed) always has a reason.

    - a SUCCESS/COMPLETE dependency exited non-zero: TaskFailedToStart (that container is
      never essential, translate.ordering refuses it; the ECS agent marks every container
      waiting for it stopped without starting it, so the essential ones never ran), the
      reason naming it and its code, which is the task's exit code;
    - an essential container exited: EssentialContainerExited (essential_stop);
    - a container cannot be created (image pull, config): TaskFailedToStart;
    - the pod ended otherwise (evicted, its node shut down): TaskFailedToStart when no
      essential container had started, else TerminationNotice (the host ended it), with the
      kubelet's reason.
    """
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    names = json.loads(annotations.get(ANNOTATION_CONTAINER_NAMES, "{}"))
    dependency = failed_dependency(pod)
    if dependency is not None:
        name, code = dependency
        shown = names.get(name, name)
        if name in essential_containers(pod):  # not from translate.ordering; a hand-made pod
            return Stop("EssentialContainerExited", ESSENTIAL_EXITED, code)
        return Stop(
            "TaskFailedToStart",
            f"CannotStartContainerError: container '{shown}' exited with {code}; the containers that depend on "
            "its SUCCESS (dependsOn SUCCESS, or COMPLETE, which is enforced as SUCCESS) can never start",
            code,
            unstarted=f"CannotStartContainerError: dependency condition not met: container '{shown}' "
            f"exited with {code}, SUCCESS needs exit code 0",
        )
    stop = essential_stop(pod)
    if stop is not None:
        return stop
    failure = failed_to_start(pod)
    if failure is not None:
        return Stop("TaskFailedToStart", f"CannotPullContainerError or similar: {failure}")
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase not in _ENDED:
        return None
    said = ": ".join(str(status[k]) for k in ("reason", "message") if status.get(k))
    if _essential_started(pod):
        return Stop("TerminationNotice", said or f"The task's pod ended (phase {phase}) while it ran")
    return Stop(
        "TaskFailedToStart", said or f"The task's pod ended (phase {phase}) before its essential containers started"
    )


def _essential_started(pod: Mapping[str, Any]) -> bool:
    statuses = _statuses(pod)
    for name in essential_containers(pod):
        status = statuses.get(name) or {}
        state = status.get("state") or {}
        if "running" in state or "terminated" in state or "terminated" in (status.get("lastState") or {}):
            return True
    return False


def _running(pod: Mapping[str, Any]) -> bool:
    return any("running" in (s.get("state") or {}) for s in _statuses(pod).values())


def failure_containers(pod: Mapping[str, Any]) -> list[str]:
    """The containers of a service's pod whose restarts are the ends of its task (for the
    deployment's failed tasks and its circuit breaker): each of their restarts is one.

    With ``RestartAllContainers`` (translate.lifecycle) an essential container's exit restarts
    every container once: one regular container that restarts in no other way stands for them
    all (the one restarted most: a container still waiting to start is not restarted; every
    task has an essential regular container). Otherwise an essential container is restarted
    alone by the pod's ``Always``: every regular container without a restart policy of its
    own. A restart by an ECS restart policy never ends the task. Names are of
    ``spec.containers`` (``status.containerStatuses``) only.
    """
    spec = pod.get("spec") or {}
    statuses = _statuses(pod)
    policies = restart_policies(pod)
    containers = list(spec.get("containers") or [])
    every = [*(spec.get("initContainers") or []), *containers]
    if not any(_restarts_all(c) for c in every):
        return [c["name"] for c in containers if "restartPolicy" not in c]
    only_with_all = [c["name"] for c in containers if c["name"] not in policies and _only_with_all(c)]
    if not only_with_all:
        return []
    return [max(only_with_all, key=lambda name: int((statuses.get(name) or {}).get("restartCount") or 0))]


def task_failures(pod: Mapping[str, Any]) -> int:
    """How often the task a service's pod runs has ended while the pod lived: failure_containers."""
    statuses = _statuses(pod)
    return sum(int((statuses.get(name) or {}).get("restartCount") or 0) for name in failure_containers(pod))


def _restarts_all(container: Mapping[str, Any]) -> bool:
    return any(rule.get("action") == "RestartAllContainers" for rule in container.get("restartPolicyRules") or [])


def _only_with_all(container: Mapping[str, Any]) -> bool:
    """Whether the container is restarted only when all are: it runs once, or any exit of it
    restarts all of them."""
    rules = container.get("restartPolicyRules") or []
    if container.get("restartPolicy") == "Never":
        return not any(rule.get("action") == "Restart" for rule in rules)
    first = rules[0] if rules else {}
    matches_any = (first.get("exitCodes") or {}).get("operator") == "NotIn" and not (first.get("exitCodes") or {}).get(
        "values"
    )
    return first.get("action") == "RestartAllContainers" and matches_any


def failed_to_start(pod: Mapping[str, Any]) -> str | None:
    for status in _statuses(pod).values():
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _FAILED_TO_START:
            return f"{waiting.get('reason')}: {waiting.get('message', '')}".strip(": ")
    return None


def container_views(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    ecs_names = json.loads(annotations.get(ANNOTATION_CONTAINER_NAMES, "{}"))
    spec = pod.get("spec") or {}
    probes = {c["name"]: "readinessProbe" in c for c in [*spec.get("initContainers", []), *spec.get("containers", [])]}
    statuses = _statuses(pod)
    views = []
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        name = container["name"]
        state = (statuses.get(name) or {}).get("state") or {}
        view: dict[str, Any] = {"name": ecs_names.get(name, name), "image": container.get("image")}
        if "terminated" in state:
            view["lastStatus"] = "STOPPED"
            view["exitCode"] = state["terminated"].get("exitCode")
            reason = state["terminated"].get("reason") or ""
            view["reason"] = OUT_OF_MEMORY if reason == "OOMKilled" else reason
        elif "running" in state:
            view["lastStatus"] = "RUNNING"
        else:
            view["lastStatus"] = "PENDING"
            if (state.get("waiting") or {}).get("reason"):
                view["reason"] = state["waiting"]["reason"]
        if probes.get(name):
            ready = (statuses.get(name) or {}).get("ready")
            view["healthStatus"] = (
                "HEALTHY" if ready else ("UNHEALTHY" if view["lastStatus"] == "RUNNING" else "UNKNOWN")
            )
        else:
            view["healthStatus"] = "UNKNOWN"
        views.append(view)
    return views


def last_status(pod: Mapping[str, Any] | None) -> str:
    if pod is None:
        return "STOPPED"
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed") or essential_exit(pod) is not None:
        return "STOPPED"
    if meta.get("deletionTimestamp"):
        return "STOPPING"
    if not (pod.get("spec") or {}).get("nodeName"):
        return "PROVISIONING"
    statuses = _statuses(pod)
    essential = essential_containers(pod)
    if essential and all("running" in ((statuses.get(n) or {}).get("state") or {}) for n in essential):
        return "RUNNING"
    if any("running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {}) for s in statuses.values()):
        return "ACTIVATING"
    return "PENDING"


def on_its_way(pod: Mapping[str, Any]) -> bool:
    """A task still on its way to running that says nothing new about its service: created,
    or bound to a container instance, with no container started, waiting, failed or stopping,
    and no word from the scheduler that it cannot be placed. Its service's pendingCount may
    move; nothing else can (see views.service.progress_only)."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    if meta.get("deletionTimestamp") or status.get("phase") not in (None, "Pending"):
        return False
    if status.get("containerStatuses") or status.get("initContainerStatuses"):
        return False
    return not any(
        c.get("type") == "PodScheduled" and c.get("status") == "False" for c in status.get("conditions") or []
    )


def health_status(containers: list[dict[str, Any]], essential: list[str], ecs_names: Mapping[str, str]) -> str:
    """Task health: UNHEALTHY if an essential container is, HEALTHY if all essential ones with a
    health check are, else UNKNOWN (as ECS)."""
    wanted = {ecs_names.get(n, n) for n in essential}
    states = [c["healthStatus"] for c in containers if c["name"] in wanted and c["healthStatus"] != "UNKNOWN"]
    if "UNHEALTHY" in states:
        return "UNHEALTHY"
    return "HEALTHY" if states else "UNKNOWN"


def started_at(pod: Mapping[str, Any]) -> str | None:
    times = [
        s["state"]["running"].get("startedAt") for s in _statuses(pod).values() if "running" in (s.get("state") or {})
    ]
    times = [t for t in times if t]
    return min(times) if times else None


@dataclass(frozen=True)
class Observation:
    """A standalone task's status fields seen in its pod (timestamps aside: the controller
    stamps them), and whether the operator deletes the pod so that its containers stop."""

    update: dict[str, Any]
    delete_pod: bool = False


def observe_task(
    pod: Mapping[str, Any] | None, prior: Mapping[str, Any], stop_requested: str | None
) -> Observation | None:
    """The next status of a standalone task (ECSTask) from its pod and its status so far;
    ``stop_requested`` is StopTask's reason (``spec.desiredStatus: STOPPED``), else None.

    A task already STOPPING (StopTask: UserInitiated) keeps its stop code and reason whatever
    its containers do meanwhile, as ECS does: an essential container that exits at SIGTERM
    (0, 143) or at SIGKILL after ``stopTimeout`` (137) is recorded (its exit code, the task's
    ``exitCode``), not taken for EssentialContainerExited. Such a task is STOPPED once no
    container runs any more or the pod is gone (then the exit codes last seen stay).
    Otherwise the pod's own end (pod_stop) stops the task at once, and StopTask makes it
    STOPPING. None: nothing to say (the pod is not there yet).
    """
    stopping = prior.get("lastStatus") == "STOPPING" and bool(prior.get("stopCode"))
    if pod is None:
        if stop_requested is None and prior.get("lastStatus") != "STOPPING":
            return None  # created a moment ago, or not seen yet
        reason = prior.get("stoppedReason") or stop_requested or STOPPED_BY_USER
        containers = [{**c, "lastStatus": "STOPPED"} for c in prior.get("containers") or []]
        stop = Stop(prior.get("stopCode") or "UserInitiated", reason)
        return Observation({**_stop_fields(stop, "STOPPED"), "containers": containers})
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    names = json.loads(annotations.get(ANNOTATION_CONTAINER_NAMES, "{}"))
    containers = container_views(pod)
    update: dict[str, Any] = {
        "lastStatus": last_status(pod),
        "containers": containers,
        "healthStatus": health_status(containers, essential_containers(pod), names),
    }
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if stopping:
        exited = essential_exit(pod)
        code = None if exited is None else exited[1]
        stop = Stop(str(prior["stopCode"]), prior.get("stoppedReason") or STOPPED_BY_USER, code)
        return _stopping(pod, update, stop, deleting)
    ended = pod_stop(pod)
    if ended is not None:
        update.update(_stop_fields(ended, "STOPPED"), containers=_stopped_containers(pod, ended.unstarted))
        return Observation(update, delete_pod=not deleting)
    if stop_requested is not None:
        return _stopping(pod, update, Stop("UserInitiated", stop_requested), deleting)
    return Observation(update)


def _stopping(pod: Mapping[str, Any], update: dict[str, Any], stop: Stop, deleting: bool) -> Observation:
    """A task being stopped: STOPPING while a container still runs, then STOPPED."""
    done = (pod.get("status") or {}).get("phase") in _ENDED or (deleting and not _running(pod))
    update = {**update, **_stop_fields(stop, "STOPPED" if done else "STOPPING")}
    if done:
        update["containers"] = _stopped_containers(pod, None)
    return Observation(update, delete_pod=not deleting)


def _stop_fields(stop: Stop, last: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "lastStatus": last,
        "desiredStatus": "STOPPED",
        "stopCode": stop.code,
        "stoppedReason": stop.reason,
    }
    if stop.exit_code is not None:
        fields["exitCode"] = stop.exit_code
    return fields


def _stopped_containers(pod: Mapping[str, Any], unstarted: str | None) -> list[dict[str, Any]]:
    """Every container STOPPED, as in a stopped ECS task; one that never started says why
    (``unstarted``), else keeps what the kubelet said of it."""
    spec = pod.get("spec") or {}
    statuses = _statuses(pod)
    kube_names = [c["name"] for c in [*spec.get("initContainers", []), *spec.get("containers", [])]]
    result = []
    for name, view in zip(kube_names, container_views(pod), strict=True):
        view = {**view, "lastStatus": "STOPPED"}
        status = statuses.get(name) or {}
        state = status.get("state") or {}
        started = "running" in state or "terminated" in state or bool(status.get("restartCount"))
        if unstarted is not None and not started:
            view["reason"] = unstarted
        result.append(view)
    return result


def describe_task(
    pod: Mapping[str, Any],
    task_arn: str,
    task_definition_arn: str | None,
    group: str,
    started_by: str | None,
) -> dict[str, Any]:
    """One task as DescribeTasks shows it, from its pod alone.

    The tasks of services have no ECSTask object: this is their read model (and the one a
    future ListTasks/DescribeTasks API serves); ``service_task_identity`` gives their group
    and startedBy.
    """
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    names = json.loads(annotations.get(ANNOTATION_CONTAINER_NAMES, "{}"))
    containers = container_views(pod)
    task: dict[str, Any] = {
        "taskArn": task_arn,
        "taskDefinitionArn": task_definition_arn,
        "group": group,
        "startedBy": started_by,
        "lastStatus": last_status(pod),
        "desiredStatus": "STOPPED" if (pod.get("metadata") or {}).get("deletionTimestamp") else "RUNNING",
        "containers": containers,
        "healthStatus": health_status(containers, essential_containers(pod), names),
        "createdAt": (pod.get("metadata") or {}).get("creationTimestamp"),
        "startedAt": started_at(pod),
    }
    found = _essential_termination(pod)
    exited = essential_stop(pod)
    if exited is not None and found is not None and before_deletion(pod, found[1].get("finishedAt")):
        task.update(stopCode=exited.code, stoppedReason=exited.reason)
    elif (pod.get("metadata") or {}).get("deletionTimestamp"):
        # its containers stop (exit 143 or 0 at SIGTERM) because the scheduler stops the task
        reason = (
            SCALING_ACTIVITY.format(deployment=started_by) if started_by else "Task stopped by the service scheduler"
        )
        task.update(stopCode="ServiceSchedulerInitiated", stoppedReason=reason)
    return {k: v for k, v in task.items() if v is not None}


def service_task_identity(pod: Mapping[str, Any], service: str) -> tuple[str, str]:
    """``group`` and ``startedBy`` of a service's task, as ECS sets them:
    ``service:<name>`` and ``ecs-svc/<deployment id>`` (the deployment is the pod's ReplicaSet)."""
    from ecs_facade.views.deployments import deployment_id

    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    replica_set = next((o for o in owners if o.get("kind") == "ReplicaSet"), None)
    started_by = deployment_id(replica_set["uid"]) if replica_set else f"ecs-svc/{service}"
    return f"service:{service}", started_by
