"""An ECS container instance (DescribeContainerInstances) as seen from its node and the pods bound to it.

Nodes stand in for container instances, so the view is derived, never stored: the node's labels
give the cluster, the status (DRAINING) and the attributes, its allocatable resources the
registered resources, and the pods on it what remains.  Remaining resources count every pod on
the node, not only ECS tasks, because the Kubernetes scheduler lets all of them take room; the
requests are added up the way the scheduler does it (pod-level resources, sidecars, init
containers, overhead), so that "remaining" predicts what the next task can get.

Units are ECS ones: CPU units (1024 a core) and MiB, both rounded down.
"""

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from math import ceil
from typing import Any, Final

from ecs_facade.api import (
    CUSTOM_ATTRIBUTE_LABEL_PREFIX,
    DEFAULT_CLUSTER,
    LABEL_CAPACITY_PROVIDER,
    LABEL_CLUSTER,
    LABEL_INSTANCE_STATUS,
    LABEL_PREFIX,
    LABEL_SERVICE,
    LABEL_TASK,
)
from ecs_facade.arns import Arns
from ecs_facade.translate.placement import ATTRIBUTE_LABELS

_QUANTITY: Final = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?P<suffix>[eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?\Z"
)
_BINARY_SUFFIXES: Final[dict[str, int]] = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SUFFIXES: Final[dict[str, int]] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}

_RESOURCES: Final = ("cpu", "memory")
_TERMINATED: Final = frozenset({"Succeeded", "Failed"})
MIB: Final = 1024 * 1024
CPU_UNITS_PER_CORE: Final = 1024

_OS_TYPES: Final[dict[str, str]] = {"linux": "linux", "windows": "windows"}  # as the ECS agent reports them
_CPU_ARCHITECTURES: Final[dict[str, str]] = {"amd64": "x86_64", "arm64": "arm64"}
_LABEL_ATTRIBUTES: Final[dict[str, str]] = {label: attribute for attribute, label in ATTRIBUTE_LABELS.items()}
"""Well-known node label -> the ECS built-in attribute it stands for (placement's table, reversed)."""
_OWN_LABELS: Final = frozenset(
    {LABEL_CLUSTER, LABEL_INSTANCE_STATUS, LABEL_CAPACITY_PROVIDER, *ATTRIBUTE_LABELS.values()}
)
"""Labels under ``ecs.facade.dev/`` that the operator gives a meaning of its own, so no ``ecs.<name>`` attribute."""


@functools.lru_cache(maxsize=4096, typed=True)  # typed: True is no quantity, 1 is
def parse_quantity(quantity: str | int | float) -> Fraction:
    """A Kubernetes quantity ("500m", "1.5", "512Mi", "1G", "1e3") as an exact number of base units.

    Exact because requests are summed before rounding, as the scheduler does with its Quantity type.
    Raises ValueError for text that is not a quantity (the API server never stores such a value).
    Kept per text: a cluster has few distinct ones, and every node's allocatable would
    otherwise be parsed again in each clusters' sync, every few seconds.
    """
    if isinstance(quantity, bool):
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity")
    if isinstance(quantity, int | float):
        quantity = str(quantity)
    match = _QUANTITY.match(quantity)
    if match is None:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity")
    number = Fraction(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY_SUFFIXES:
        return number * Fraction(1024) ** _BINARY_SUFFIXES[suffix]
    exponent = _DECIMAL_SUFFIXES[suffix] if suffix in _DECIMAL_SUFFIXES else int(suffix[1:] or 0)
    return number * Fraction(10) ** exponent


def _milli_cpu(cpu: Fraction) -> int:
    return ceil(cpu * 1000)


def _bytes(memory: Fraction) -> int:
    return ceil(memory)


def _plain(value: Any) -> Any:
    """A JSON-shaped copy, so a stored slim pod shares nothing with the (mutable) watched object."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _pick(source: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: _plain(source[k]) for k in keys if source.get(k) is not None}


HELD = "held"  # a slim pod's (CPU millicores, memory bytes, TCP host ports, UDP host ports)


def slim_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a pod that the container instance view reads.

    An operator index holds one of these for every pod of the cluster, so everything else
    (env, volumes, probes, container statuses, managed fields) is dropped.
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    slim_spec = _pick(spec, ("nodeName", "schedulingGates", "resources", "overhead"))
    if spec.get("containers"):
        slim_spec["containers"] = [_pick(c, ("name", "resources", "ports")) for c in spec["containers"]]
    if spec.get("initContainers"):
        slim_spec["initContainers"] = [
            _pick(c, ("name", "resources", "ports", "restartPolicy")) for c in spec["initContainers"]
        ]
    slim: dict[str, Any] = {
        "metadata": _pick(meta, ("name", "namespace", "labels", "deletionTimestamp")),
        "spec": slim_spec,
    }
    if status.get("phase"):
        slim["status"] = {"phase": status["phase"]}
    # what the pod holds on its node, worked out once per pod event: the clusters' sync
    # describes every instance every few seconds, and would otherwise parse the quantities of
    # every pod each time
    slim[HELD] = (*pod_requests(slim), *host_ports(slim))
    return slim


def _container_requests(container: Mapping[str, Any]) -> dict[str, Fraction]:
    """Requests of one container, defaulted from its limits where it names none (as the API server does)."""
    resources = container.get("resources") or {}
    named = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {r: parse_quantity(named[r]) for r in _RESOURCES if named.get(r) is not None}


def _add(total: dict[str, Fraction], requests: Mapping[str, Fraction]) -> None:
    for resource, value in requests.items():
        total[resource] = total.get(resource, Fraction(0)) + value


def _aggregate_container_requests(spec: Mapping[str, Any]) -> dict[str, Fraction]:
    """The scheduler's sum over containers: regular containers and sidecars run together; each regular
    init container runs alone next to the sidecars started before it; the pod needs the larger."""
    total: dict[str, Fraction] = {}
    for container in spec.get("containers") or []:
        _add(total, _container_requests(container))
    sidecars: dict[str, Fraction] = {}
    init_peak: dict[str, Fraction] = {}
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            _add(total, requests)
            _add(sidecars, requests)
            running = dict(sidecars)
        else:
            running = dict(sidecars)
            _add(running, requests)
        for resource, value in running.items():
            init_peak[resource] = max(init_peak.get(resource, Fraction(0)), value)
    for resource, value in init_peak.items():
        total[resource] = max(total.get(resource, Fraction(0)), value)
    return total


def _effective_requests(pod: Mapping[str, Any]) -> dict[str, Fraction]:
    spec = pod.get("spec") or {}
    requests = _aggregate_container_requests(spec)
    pod_resources = spec.get("resources") or {}
    pod_requests_ = pod_resources.get("requests") or {}
    pod_limits = pod_resources.get("limits") or {}
    for resource in _RESOURCES:
        if pod_requests_.get(resource) is not None:
            requests[resource] = parse_quantity(pod_requests_[resource])
        elif pod_limits.get(resource) is not None and resource not in requests:
            # Defaulting: pod-level limits without pod-level requests and no container requests.
            requests[resource] = parse_quantity(pod_limits[resource])
    for resource, value in (spec.get("overhead") or {}).items():
        if resource in _RESOURCES and value is not None:
            requests[resource] = requests.get(resource, Fraction(0)) + parse_quantity(value)
    return requests


def pod_requests(pod: Mapping[str, Any]) -> tuple[int, int]:
    """The pod's CPU (millicores) and memory (bytes) requests as the kube-scheduler counts them against a node.

    Pod-level ``spec.resources.requests`` win for the resources they name; otherwise the container
    aggregate (see _aggregate_container_requests); then ``spec.overhead`` is added.  Rounded up.
    """
    requests = _effective_requests(pod)
    return _milli_cpu(requests.get("cpu", Fraction(0))), _bytes(requests.get("memory", Fraction(0)))


def host_ports(pod: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The TCP and UDP host ports the pod holds on its node: what ECS lists in remainingResources PORTS/PORTS_UDP."""
    spec = pod.get("spec") or {}
    tcp: set[int] = set()
    udp: set[int] = set()
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for port in container.get("ports") or []:
            if not port.get("hostPort"):
                continue
            protocol = port.get("protocol") or "TCP"
            if protocol == "TCP":
                tcp.add(int(port["hostPort"]))
            elif protocol == "UDP":
                udp.add(int(port["hostPort"]))
    return [str(p) for p in sorted(tcp)], [str(p) for p in sorted(udp)]


def is_ecs_task(pod: Mapping[str, Any]) -> bool:
    """Pods of ECSServices and ECSTasks count as tasks; other pods on the node only take room."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return LABEL_SERVICE in labels or LABEL_TASK in labels


def cluster_of(node_labels: Mapping[str, str]) -> str:
    """The ECS cluster a node is an instance of: unlabelled, it joins ``default`` (an agent without ECS_CLUSTER)."""
    return node_labels.get(LABEL_CLUSTER) or DEFAULT_CLUSTER


def draining(node: Mapping[str, Any]) -> bool:
    """UpdateContainerInstancesState put the instance in DRAINING (the label; ACTIVE or absent otherwise)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    return bool(labels.get(LABEL_INSTANCE_STATUS) == "DRAINING")


def instance_state_patch(status: str) -> dict[str, Any]:
    """The node merge patch of UpdateContainerInstancesState (CLI and ECS API): DRAINING is
    the label (the operator then moves service tasks off); ACTIVE removes it."""
    if status not in ("ACTIVE", "DRAINING"):
        raise ValueError(f"status: {status!r} cannot be set; expected ACTIVE or DRAINING")
    return {"metadata": {"labels": {LABEL_INSTANCE_STATUS: "DRAINING" if status == "DRAINING" else None}}}


def container_instance_id(node: Mapping[str, Any]) -> str:
    """32 hex digits like an ECS container instance ID, stable for the node's lifetime (its UID)."""
    meta = node.get("metadata") or {}
    uid = meta.get("uid")
    return str(uid).replace("-", "") if uid else str(meta.get("name", ""))


def ec2_instance_id(node: Mapping[str, Any]) -> str:
    """The EC2 instance ID when the node is an EC2 instance (``aws:///<zone>/i-...``), else the node name."""
    provider_id = str((node.get("spec") or {}).get("providerID") or "")
    if provider_id.startswith("aws://"):
        last = provider_id.rstrip("/").rsplit("/", 1)[-1]
        if last.startswith("i-"):
            return last
    return str((node.get("metadata") or {}).get("name", ""))


def _builtin_value(label: str, value: str) -> str:
    """Label values in ECS spelling: Kubernetes says ``linux``/``amd64`` where ECS says ``LINUX``/``x86_64``."""
    if label == ATTRIBUTE_LABELS["ecs.os-type"]:
        return _OS_TYPES.get(value.lower(), value)
    if label == ATTRIBUTE_LABELS["ecs.cpu-architecture"]:
        return _CPU_ARCHITECTURES.get(value.lower(), value)
    return value


def instance_attributes(labels: Mapping[str, str], node_info: Mapping[str, Any]) -> list[dict[str, str]]:
    """The instance's ECS attributes, read back from the node labels that placement matches them against.

    The inverse of placement.node_label_key: well-known labels give the built-ins they stand for,
    ``ecs.facade.dev/<name>`` gives ``ecs.<name>`` and ``ecs.facade.dev/attribute.<name>`` the custom
    attribute ``<name>``.  A custom attribute named ``ecs.*`` is left out: placement would look for
    it under ``ecs.facade.dev/<name>``, so reporting it would promise a match that never happens.
    An empty label value is an attribute without a value (ECS omits ``value`` then).
    """
    found: dict[str, str] = {}
    for label, value in labels.items():
        if label.startswith(CUSTOM_ATTRIBUTE_LABEL_PREFIX):
            name = label[len(CUSTOM_ATTRIBUTE_LABEL_PREFIX) :]
            if name and not name.startswith("ecs."):
                found[name] = value
        elif label.startswith(LABEL_PREFIX) and label not in _OWN_LABELS:
            attribute = f"ecs.{label[len(LABEL_PREFIX) :]}"
            if attribute not in ATTRIBUTE_LABELS:  # placement reads those from their well-known label only
                found[attribute] = value
    fallbacks = {
        ATTRIBUTE_LABELS["ecs.os-type"]: node_info.get("operatingSystem"),
        ATTRIBUTE_LABELS["ecs.cpu-architecture"]: node_info.get("architecture"),
    }
    for label, attribute in _LABEL_ATTRIBUTES.items():
        raw = labels.get(label) or fallbacks.get(label)
        if raw:
            found[attribute] = _builtin_value(label, str(raw))
    return [{"name": name, "value": value} if value else {"name": name} for name, value in sorted(found.items())]


def _integer(name: str, value: int) -> dict[str, Any]:
    return {"name": name, "type": "INTEGER", "integerValue": value}


def _string_set(name: str, values: Sequence[str]) -> dict[str, Any]:
    return {"name": name, "type": "STRINGSET", "stringSetValue": list(values)}


def _cpu_units(milli_cpu: int) -> int:
    return max(0, milli_cpu * CPU_UNITS_PER_CORE // 1000)


def _mib(memory_bytes: int) -> int:
    return max(0, memory_bytes // MIB)


def _allocatable(node_status: Mapping[str, Any], resource: str) -> Fraction:
    allocatable = node_status.get("allocatable") or {}
    capacity = node_status.get("capacity") or {}
    value = allocatable.get(resource)
    if value is None:
        value = capacity.get(resource)
    return parse_quantity(value) if value is not None else Fraction(0)


def _condition(node_status: Mapping[str, Any], kind: str) -> str | None:
    return next((c.get("status") for c in node_status.get("conditions") or [] if c.get("type") == kind), None)


def describe_container_instance(
    node: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    *,
    region: str,
    account_id: str,
) -> dict[str, Any]:
    """The node as DescribeContainerInstances shows a ContainerInstance.

    ``pods`` are the pods bound to the node (full or slim_pod ones); a pod whose ``spec.nodeName``
    is not this node is ignored.  Pods that ended (Succeeded/Failed) hold nothing; pods being
    deleted still hold their requests and ports (the scheduler counts them until they are gone)
    but are no longer running or pending tasks.
    """
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    node_info: Mapping[str, Any] = status.get("nodeInfo") or {}
    name = meta.get("name")

    cpu_milli = _milli_cpu(_allocatable(status, "cpu"))
    memory_bytes = _bytes(_allocatable(status, "memory"))
    used_cpu = used_memory = 0
    tcp: set[int] = set()
    udp: set[int] = set()
    pods = list(pods)
    for pod in pods:
        spec = pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase")
        if spec.get("nodeName") != name or phase in _TERMINATED:
            continue
        cpu, memory, pod_tcp, pod_udp = pod.get(HELD) or (*pod_requests(pod), *host_ports(pod))
        used_cpu += cpu
        used_memory += memory
        tcp.update(int(p) for p in pod_tcp)
        udp.update(int(p) for p in pod_udp)
    running, pending = _task_counts(name, pods)

    cluster = cluster_of(labels)
    instance: dict[str, Any] = {
        "containerInstanceArn": Arns(region, account_id).container_instance(cluster, container_instance_id(node)),
        "ec2InstanceId": ec2_instance_id(node),
        "capacityProviderName": labels.get(LABEL_CAPACITY_PROVIDER) or None,
        "status": "DRAINING" if draining(node) else "ACTIVE",
        "agentConnected": _condition(status, "Ready") == "True",
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "registeredResources": [
            _integer("CPU", _cpu_units(cpu_milli)),
            _integer("MEMORY", _mib(memory_bytes)),
            _string_set("PORTS", []),
            _string_set("PORTS_UDP", []),
        ],
        "remainingResources": [
            _integer("CPU", _cpu_units(cpu_milli - used_cpu)),
            _integer("MEMORY", _mib(memory_bytes - used_memory)),
            _string_set("PORTS", [str(p) for p in sorted(tcp)]),
            _string_set("PORTS_UDP", [str(p) for p in sorted(udp)]),
        ],
        "attributes": instance_attributes(labels, node_info),
        "registeredAt": meta.get("creationTimestamp"),
    }
    version_info = {
        key: node_info[field]
        for key, field in (("agentVersion", "kubeletVersion"), ("dockerVersion", "containerRuntimeVersion"))
        if node_info.get(field)
    }
    if version_info:
        instance["versionInfo"] = version_info
    return {k: v for k, v in instance.items() if v is not None}


def resource_value(instance: Mapping[str, Any], which: str, name: str) -> Any:
    """The value of one resource, e.g. ("remainingResources", "CPU"): the lists are awkward to read by hand.

    Raises KeyError when the instance has no such resource.
    """
    for resource in instance.get(which) or []:
        if resource.get("name") == name:
            for field in ("integerValue", "longValue", "doubleValue", "stringSetValue"):
                if field in resource:
                    return resource[field]
    raise KeyError(f"{which} has no resource {name!r}")


def _task_counts(name: Any, pods: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """Running and pending ECS tasks bound to the node ``name`` (not being stopped)."""
    running = pending = 0
    for pod in pods:
        phase = (pod.get("status") or {}).get("phase")
        if (pod.get("spec") or {}).get("nodeName") != name or phase not in ("Running", "Pending"):
            continue
        if is_ecs_task(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            running += phase == "Running"
            pending += phase == "Pending"
    return running, pending


def instance_summary(node: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What cluster_instance_counts reads of a container instance, the same as in its
    describe_container_instance view without the rest: an ECSCluster's status is worked out
    every few seconds, over every node, and building every node's whole view only to count
    its tasks would cost each sync far more than the counts need."""
    status = node.get("status") or {}
    running, pending = _task_counts((node.get("metadata") or {}).get("name"), pods)
    return {
        "status": "DRAINING" if draining(node) else "ACTIVE",
        "agentConnected": _condition(status, "Ready") == "True",
        "runningTasksCount": running,
        "pendingTasksCount": pending,
    }


def cluster_instance_counts(instances: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The container instance and task counts an ECSCluster's status shows, from its instances'
    views (describe_container_instance or instance_summary)."""
    counts = dict.fromkeys(
        (
            "registeredContainerInstancesCount",
            "activeContainerInstancesCount",
            "drainingContainerInstancesCount",
            "connectedContainerInstancesCount",
            "runningTasksCount",
            "pendingTasksCount",
        ),
        0,
    )
    for instance in instances:
        counts["registeredContainerInstancesCount"] += 1
        counts["activeContainerInstancesCount"] += instance.get("status") == "ACTIVE"
        counts["drainingContainerInstancesCount"] += instance.get("status") == "DRAINING"
        counts["connectedContainerInstancesCount"] += bool(instance.get("agentConnected"))
        counts["runningTasksCount"] += int(instance.get("runningTasksCount") or 0)
        counts["pendingTasksCount"] += int(instance.get("pendingTasksCount") or 0)
    return counts
