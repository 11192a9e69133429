"""RunTask, StopTask, DescribeTasks, ListTasks: pure halves.

An ECS task is one of three things in the request's namespace (docs/ecs-api.md, "Tasks"):

- an ECSTask (RunTask, kubectl, `ecs-facade run-task`): its ID is its uid without dashes,
  described from its spec and the status the operator keeps (views/task.py ``observe_task``);
- a running task of a service: a pod of its workload (label ``ecs.facade.dev/service``),
  described by ``views.task.describe_task``, its ID the pod's current incarnation
  (``views.service_tasks.task_id``: the uid without dashes until a restart in place);
- a stopped task of a service: an entry of the ECSService's ``status.stoppedTasks``
  (views/service_tasks.py ``stopped_tasks``), described as the operator wrote it.

Every answer is built here from those objects; the handlers (tasks_handlers.py) only read
and write them. Timestamps go out as epoch seconds, as ECS sends them.
"""

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_facade import arns as ecs_arns
from ecs_facade.api import DEFAULT_CLUSTER, LABEL_CAPACITY_PROVIDER, LABEL_FAMILY, LABEL_SERVICE, LABEL_TASK
from ecs_facade.arns import Arns
from ecs_facade.ecsapi.errors import cluster_not_found, invalid_parameter, service_not_found
from ecs_facade.ecsapi.pagination import paged_answer
from ecs_facade.ecsapi.taskdefinitions import Revision
from ecs_facade.ecsapi.timestamps import with_epochs
from ecs_facade.model.references import parse_task_definition_ref
from ecs_facade.translate.run_task import LABEL_CLIENT_TOKEN, RunTaskError, client_token_label, run_task_manifests
from ecs_facade.translate.service import ANNOTATION_TAGS
from ecs_facade.translate.task import LABEL_REVISION
from ecs_facade.views.container_instance import container_instance_id
from ecs_facade.views.service_tasks import task_id as incarnation_id
from ecs_facade.views.task import STOPPED_BY_USER, describe_task, service_task_identity, task_failures

DESCRIBE_LIMIT = 100  # DescribeTasks takes up to 100 tasks
MAX_REASON = 255  # StopTask's reason, as ECS takes it (and the ECSTask's spec.reason holds)
_STARTED_BY = re.compile(r"^[A-Za-z0-9_/-]{1,128}$")  # RunTask's startedBy (the ECSTask's schema too)
TAGS_ANNOTATION = ANNOTATION_TAGS  # a task's propagated tags on its pod (docs/services.md, Tags)
_TIMESTAMPS = ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt", "connectivityAt")
# lastStatus in ECS's order: a task's ``version`` counts the steps it has made (ECS adds one
# per state change it reports)
_STEPS = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED")
_CONTAINER_MEMBERS = ("name", "image", "lastStatus", "exitCode", "reason", "healthStatus")
ECSTASK, SERVICE_POD, SERVICE_STOPPED = "ECSTask", "pod", "stopped"


@dataclass(frozen=True)
class Task:
    """One task of the namespace: its DescribeTasks shape (without tags) and what the filters
    and StopTask need to know of it."""

    described: dict[str, Any]
    tags: list[dict[str, Any]]
    kind: str  # ECSTASK | SERVICE_POD | SERVICE_STOPPED
    name: str  # the ECSTask's or the pod's metadata.name; the ECSService's for a stopped task
    cluster: str
    family: str | None
    service: str | None = None  # the ECS service name of a service's task
    node: str | None = None
    spec: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def ident(self) -> str:
        return str(self.described["taskArn"]).rsplit("/", 1)[-1]

    @property
    def desired(self) -> str:
        return str(self.described.get("desiredStatus") or "RUNNING")

    def answer(self, include: Sequence[str] = ()) -> dict[str, Any]:
        described = dict(self.described)
        if "TAGS" in include:
            described["tags"] = list(self.tags)
        return described


def _cluster(ref: Any) -> str:
    try:
        return ecs_arns.cluster_name(str(ref) if ref else None, DEFAULT_CLUSTER)
    except ValueError as error:
        raise invalid_parameter(str(error)) from None


def _cluster_of(spec: Mapping[str, Any]) -> str:
    """An object's cluster (spec.cluster may be an ARN, as in the request it came from)."""
    try:
        return ecs_arns.cluster_name(spec.get("cluster"), DEFAULT_CLUSTER)
    except ValueError:
        return str(spec.get("cluster"))


def request_cluster(request: Mapping[str, Any], visible: Mapping[str, Any]) -> str:
    """The request's cluster, which the namespace must see, else ClusterNotFoundException."""
    name = _cluster(request.get("cluster"))
    if name not in visible:
        raise cluster_not_found()
    return name


def _version(last_status: str) -> int:
    return _STEPS.index(last_status) + 1 if last_status in _STEPS else 1


def _finish(task: Mapping[str, Any], cluster: str, arns: Arns, extra: Mapping[str, Any]) -> dict[str, Any]:
    """A task as ECS sends it: epoch timestamps, its cluster's ARN, each container naming its
    task, members with no value left out."""
    out = with_epochs(task, _TIMESTAMPS)
    out["clusterArn"] = arns.cluster(cluster)
    out.setdefault("lastStatus", "PROVISIONING")
    # a STOPPED task wants nothing else (ECS never shows one RUNNING desired)
    out["desiredStatus"] = "STOPPED" if out["lastStatus"] == "STOPPED" else out.get("desiredStatus") or "RUNNING"
    out.setdefault("healthStatus", "UNKNOWN")
    out["containers"] = [
        {**{k: c[k] for k in _CONTAINER_MEMBERS if c.get(k) is not None}, "taskArn": out["taskArn"]}
        for c in out.get("containers") or []
    ]
    out.update({k: v for k, v in extra.items() if v is not None})
    out["version"] = _version(str(out["lastStatus"]))
    return out


def _overrides(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The task's overrides as ECS answers them: always there, ``containerOverrides`` a list."""
    given = dict(spec.get("overrides") or {})
    return {"containerOverrides": [], "inferenceAcceleratorOverrides": [], **given}


def _launch_type(spec: Mapping[str, Any]) -> str | None:
    """The launch type asked for; EC2 when neither it nor a capacity provider strategy is
    (a container instance is a node: ECS's EC2 launch type)."""
    if spec.get("launchType"):
        return str(spec["launchType"])
    return None if spec.get("capacityProviderStrategy") else "EC2"


def _instance_arn(node: str | None, cluster: str, nodes: Mapping[str, Mapping[str, Any]], arns: Arns) -> str | None:
    if not node:
        return None
    found = nodes.get(node)
    ident = container_instance_id(found) if found is not None else node
    return arns.container_instance(cluster, ident)


def _family_of_ref(value: Any) -> str | None:
    try:
        return parse_task_definition_ref(str(value or "")).family
    except ValueError:
        return None


def pending_containers(revision: Revision | None) -> list[dict[str, Any]]:
    """The containers of a task that has not started yet: its task definition's, PENDING."""
    if revision is None:
        return []
    return [
        {"name": c.get("name"), "image": c.get("image"), "lastStatus": "PENDING"}
        for c in revision.request.get("containerDefinitions") or []
        if c.get("name")
    ]


def ecs_task(
    obj: Mapping[str, Any],
    pod: Mapping[str, Any] | None,
    nodes: Mapping[str, Mapping[str, Any]],
    arns: Arns,
    *,
    task_definition_arn: str | None = None,
    containers: Sequence[Mapping[str, Any]] = (),
) -> Task:
    """An ECSTask as DescribeTasks shows it: the status the operator keeps (views/task.py),
    and before the operator's first word (a task just created) what RunTask answers: its ARN
    from its uid, PROVISIONING, RUNNING desired, ``task_definition_arn`` and ``containers``
    (the revision the request resolved, its containers PENDING)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    cluster = _cluster_of(spec)
    family = _family_of_ref(spec.get("taskDefinition"))
    uid = str(meta.get("uid") or meta.get("name") or "")
    stopping = spec.get("desiredStatus") == "STOPPED" or status.get("desiredStatus") == "STOPPED"
    task = {
        "taskArn": status.get("taskArn") or arns.task(cluster, uid.replace("-", "")),
        "taskDefinitionArn": status.get("taskDefinitionArn") or task_definition_arn,
        "lastStatus": status.get("lastStatus") or "PROVISIONING",
        "desiredStatus": "STOPPED" if stopping else "RUNNING",
        "group": status.get("group") or spec.get("group") or (f"family:{family}" if family else None),
        "startedBy": status.get("startedBy") or spec.get("startedBy"),
        "stopCode": status.get("stopCode"),
        "stoppedReason": status.get("stoppedReason"),
        "healthStatus": status.get("healthStatus"),
        "capacityProviderName": status.get("capacityProviderName"),
        "createdAt": status.get("createdAt") or meta.get("creationTimestamp"),
        **{k: status.get(k) for k in ("pullStartedAt", "startedAt", "stoppingAt", "stoppedAt")},
        "containers": status.get("containers") or list(containers),
    }
    node = ((pod or {}).get("spec") or {}).get("nodeName")
    extra = {
        "containerInstanceArn": _instance_arn(node, cluster, nodes, arns),
        "launchType": _launch_type(spec),
        "platformVersion": spec.get("platformVersion"),
        "overrides": _overrides(spec),
        "enableExecuteCommand": bool(spec.get("enableExecuteCommand")),
    }
    if family is None and status.get("taskDefinitionArn"):
        family = _family_of_ref(status["taskDefinitionArn"])
    return Task(
        described=_finish(task, cluster, arns, extra),
        tags=list(spec.get("tags") or []),
        kind=ECSTASK,
        name=str(meta.get("name") or ""),
        cluster=cluster,
        family=family,
        node=node,
        spec=spec,
        labels=dict(meta.get("labels") or {}),
    )


def _service_name(service: Mapping[str, Any]) -> str:
    return str((service.get("spec") or {}).get("serviceName") or service["metadata"]["name"])


def _pod_tags(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        tags = json.loads(annotations.get(TAGS_ANNOTATION, "[]"))
    except ValueError:
        return []
    return [t for t in tags if isinstance(t, dict)] if isinstance(tags, list) else []


def service_pod_task(
    pod: Mapping[str, Any],
    service: Mapping[str, Any],
    nodes: Mapping[str, Mapping[str, Any]],
    arns: Arns,
    task_definition_arn: Callable[[Mapping[str, str]], str | None],
) -> Task:
    """A service's pod as the task its current incarnation is (views.task.describe_task, the
    read model of service tasks), with ECS's group ``service:<name>`` and startedBy
    ``ecs-svc/<deployment id>``."""
    meta = pod.get("metadata") or {}
    spec = service.get("spec") or {}
    name = _service_name(service)
    cluster = _cluster_of(spec)
    labels = meta.get("labels") or {}
    ident = incarnation_id(str(meta.get("uid") or meta.get("name")), task_failures(pod))
    group, started_by = service_task_identity(pod, name)
    described = describe_task(pod, arns.task(cluster, ident), task_definition_arn(labels), group, started_by)
    node = (pod.get("spec") or {}).get("nodeName")
    extra = {
        "containerInstanceArn": _instance_arn(node, cluster, nodes, arns),
        "capacityProviderName": labels.get(LABEL_CAPACITY_PROVIDER),
        "launchType": _launch_type(spec),
        "platformVersion": spec.get("platformVersion"),
        "overrides": _overrides({}),
        "enableExecuteCommand": bool(spec.get("enableExecuteCommand")),
    }
    return Task(
        described=_finish(described, cluster, arns, extra),
        tags=_pod_tags(pod),
        kind=SERVICE_POD,
        name=str(meta.get("name") or ""),
        cluster=cluster,
        family=labels.get(LABEL_FAMILY),
        service=name,
        node=node,
    )


def stopped_service_tasks(service: Mapping[str, Any], arns: Arns) -> list[Task]:
    """The service's stopped tasks as its status keeps them (status.stoppedTasks)."""
    spec = service.get("spec") or {}
    name = _service_name(service)
    cluster = _cluster_of(spec)
    found = []
    for entry in (service.get("status") or {}).get("stoppedTasks") or []:
        if not entry.get("taskArn"):
            continue
        extra = {
            "launchType": _launch_type(spec),
            "platformVersion": spec.get("platformVersion"),
            "overrides": _overrides({}),
            "enableExecuteCommand": bool(spec.get("enableExecuteCommand")),
        }
        family = _family_of_ref(entry.get("taskDefinitionArn"))
        found.append(
            Task(
                described=_finish(entry, cluster, arns, extra),
                tags=[],
                kind=SERVICE_STOPPED,
                name=str(service["metadata"]["name"]),
                cluster=cluster,
                family=family,
                service=name,
            )
        )
    return found


def pod_task_definition_arn(arns: Arns) -> Callable[[Mapping[str, str]], str | None]:
    """A service pod's revision ARN from its labels, as the service's status names it."""

    def arn(labels: Mapping[str, str]) -> str | None:
        family, revision = labels.get(LABEL_FAMILY), labels.get(LABEL_REVISION)
        return arns.task_definition(family, int(revision)) if family and revision and revision.isdigit() else None

    return arn


def namespace_tasks(
    ecs_tasks: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
    services: Sequence[Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]],
    arns: Arns,
    resolve: Callable[[str], tuple[str, list[dict[str, Any]]] | None] = lambda _: None,
) -> list[Task]:
    """Every task of the namespace, by ID once: ECSTasks, the services' live tasks (their
    pods) and stopped ones (their status). A service task both live and in the status is
    its pod while that still goes on, and the status' entry once it stopped (the entry has
    when and why, written by the operator). ``resolve``: the revision ARN and PENDING
    containers of a taskDefinition, for an ECSTask the operator has not started yet (as
    RunTask answered it); called only for those."""
    by_node = {str(n["metadata"]["name"]): n for n in nodes}
    task_pods = {
        str((p.get("metadata") or {}).get("labels", {}).get(LABEL_TASK)): p
        for p in pods
        if LABEL_TASK in ((p.get("metadata") or {}).get("labels") or {})
    }
    found: dict[str, Task] = {}
    for obj in ecs_tasks:
        resolved = None
        if not (obj.get("status") or {}).get("taskDefinitionArn"):
            resolved = resolve(str((obj.get("spec") or {}).get("taskDefinition") or ""))
        arn, containers = resolved if resolved is not None else (None, [])
        pod = task_pods.get(str(obj["metadata"]["name"]))
        task = ecs_task(obj, pod, by_node, arns, task_definition_arn=arn, containers=containers)
        found[task.ident] = task
    by_name = {str(s["metadata"]["name"]): s for s in services}
    stopped = [t for s in services for t in stopped_service_tasks(s, arns)]
    stopped_ids = {t.ident for t in stopped}
    arn_of = pod_task_definition_arn(arns)
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        service = by_name.get(str(labels.get(LABEL_SERVICE)))
        if service is None:
            continue
        task = service_pod_task(pod, service, by_node, arns, arn_of)
        if task.described["lastStatus"] == "STOPPED" and task.ident in stopped_ids:
            continue
        found.setdefault(task.ident, task)
    for task in stopped:
        found.setdefault(task.ident, task)
    return list(found.values())


def _task_ref(ref: Any) -> ecs_arns.MemberRef:
    try:
        return ecs_arns.member_ref(str(ref or ""), "task")
    except ValueError as error:
        raise invalid_parameter(str(error)) from None


def find_task(tasks: Sequence[Task], cluster: str, ref: Any) -> Task | None:
    """The task a request names (ID or ARN) in ``cluster``; an ARN naming another cluster
    names no task of this one."""
    member = _task_ref(ref)
    if member.cluster is not None and member.cluster != cluster:
        return None
    return next((t for t in tasks if t.cluster == cluster and t.ident == member.name), None)


# --- RunTask


def run_task_manifests_of(request: Mapping[str, Any], namespace: str, cluster: str) -> list[dict[str, Any]]:
    """The ECSTasks of a RunTask request (translate.run_task, which the CLI uses too), with
    ``cluster`` (the request's, resolved) as a name, as CreateService writes it; ECS's
    InvalidParameterException for a count out of range or a malformed taskDefinition."""
    if request.get("launchType") and request.get("capacityProviderStrategy"):
        raise invalid_parameter(
            "launchType and capacityProviderStrategy: give one of them, not both (ECS takes either)"
        )
    started_by = request.get("startedBy")
    if started_by is not None and not _STARTED_BY.match(str(started_by)):
        raise invalid_parameter(
            f"startedBy: {started_by!r}; expected up to 128 letters, digits, hyphens, forward slashes and underscores"
        )
    try:
        return run_task_manifests({**request, "cluster": cluster}, namespace)
    except RunTaskError as error:
        raise invalid_parameter(str(error)) from None


def started_with_token(request: Mapping[str, Any], tasks: Sequence[Task]) -> list[Task]:
    """The tasks an earlier RunTask call with the request's clientToken started (none
    without a token): the call retried answers them again and starts nothing."""
    token = request.get("clientToken")
    if not token:
        return []
    label = client_token_label(str(token))
    return [t for t in tasks if t.kind == ECSTASK and t.labels.get(LABEL_CLIENT_TOKEN) == label]


def run_task_answer(created: Sequence[Task]) -> dict[str, Any]:
    return {"tasks": [t.answer(("TAGS",)) if t.tags else t.answer() for t in created], "failures": []}


# --- StopTask


@dataclass(frozen=True)
class StopPlan:
    """What StopTask does: patch an ECSTask's spec, delete a service's pod (the workload
    starts a replacement, as ECS's scheduler does), or nothing (the task is stopping or
    stopped already); and the answer."""

    task: Task
    patch: dict[str, Any] | None = None
    delete_pod: str | None = None
    answer: dict[str, Any] = field(default_factory=dict)


def stop_task(request: Mapping[str, Any], tasks: Sequence[Task], cluster: str) -> StopPlan:
    task = find_task(tasks, cluster, request.get("task"))
    if task is None:
        raise invalid_parameter("The referenced task was not found.")
    reason = str(request.get("reason") or "") or STOPPED_BY_USER
    if len(reason) > MAX_REASON:
        raise invalid_parameter(f"reason: {len(reason)} characters; expected at most {MAX_REASON}, as ECS takes")
    described = task.answer()
    if task.desired == "STOPPED" or described.get("lastStatus") == "STOPPED":
        return StopPlan(task, answer={"task": described})
    stopped = {**described, "desiredStatus": "STOPPED", "stopCode": "UserInitiated", "stoppedReason": reason}
    if task.kind == ECSTASK:
        patch = {
            "spec": {"desiredStatus": "STOPPED", **({"reason": request["reason"]} if request.get("reason") else {})}
        }
        return StopPlan(task, patch=patch, answer={"task": stopped})
    return StopPlan(task, delete_pod=task.name, answer={"task": stopped})


# --- DescribeTasks


def describe_tasks(request: Mapping[str, Any], tasks: Sequence[Task], cluster: str, arns: Arns) -> dict[str, Any]:
    """The named tasks of the cluster; unknown ones are failures ``MISSING`` with their ARN,
    as ECS answers (boto3's tasks_running waiter fails on them)."""
    refs = list(request.get("tasks") or [])
    if not refs:
        raise invalid_parameter("tasks: empty; expected 1 to 100 task IDs or ARNs")
    if len(refs) > DESCRIBE_LIMIT:
        raise invalid_parameter(f"tasks: {len(refs)} given; expected at most {DESCRIBE_LIMIT}, as ECS takes")
    include = list(request.get("include") or [])
    found: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for ref in refs:
        task = find_task(tasks, cluster, ref)
        if task is None:
            text = str(ref).strip()
            arn = text if ecs_arns.is_arn(text) else arns.task(cluster, _task_ref(text).name)
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            found.append(task.answer(include))
    return {"tasks": found, "failures": failures}


# --- ListTasks


def list_tasks(
    request: Mapping[str, Any],
    tasks: Sequence[Task],
    cluster: str,
    services: Sequence[Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The ARNs of the cluster's tasks that pass every filter given, by ID."""
    desired = str(request.get("desiredStatus") or "RUNNING")
    chosen = [t for t in tasks if t.cluster == cluster and t.desired == desired]
    if request.get("family"):
        chosen = [t for t in chosen if t.family == request["family"]]
    if request.get("startedBy"):
        chosen = [t for t in chosen if t.described.get("startedBy") == request["startedBy"]]
    if request.get("launchType"):
        chosen = [t for t in chosen if t.described.get("launchType") == request["launchType"]]
    if request.get("serviceName"):
        name = str(request["serviceName"])
        if not any(_service_name(s) == name and _cluster_of(s.get("spec") or {}) == cluster for s in services):
            raise service_not_found()
        chosen = [t for t in chosen if t.service == name]
    if request.get("containerInstance"):
        try:
            member = ecs_arns.member_ref(str(request["containerInstance"]), "container-instance")
        except ValueError as error:
            raise invalid_parameter(str(error)) from None
        on = {
            str(n["metadata"]["name"])
            for n in nodes
            if member.name in (container_instance_id(n), str(n["metadata"]["name"]))
        }
        chosen = [t for t in chosen if t.node in on]
    chosen.sort(key=lambda t: t.ident)
    return paged_answer(
        request, chosen, lambda t: (t.ident,), lambda t: t.described["taskArn"], action="ListTasks", member="taskArns"
    )
