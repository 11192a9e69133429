"""ECS service load balancing and service discovery as Kubernetes Services.

ECS registers the tasks of a service in ELB target groups (``loadBalancers``) and in a
Cloud Map registry (``serviceRegistries``). Kubernetes does both with a Service that selects
the service's pods: its endpoints are the IPs of the pods that are Ready, so the readiness
probe (from the container ``healthCheck``) gates traffic as a target group health check
does. No AWS load balancer is created: the Service is what an ingress or load-balancer
controller targets (docs/services.md).

- ``loadBalancers`` → one Service ``<name>`` with a port per distinct
  (containerName, containerPort); target groups and classic load balancer names are kept in
  annotations.
- ``serviceRegistries`` → a headless Service ``<name>-discovery`` (``clusterIP: None``), so
  cluster DNS answers with the task IPs, as Cloud Map A/SRV records do.
- a port mapping's ``appProtocol`` → the Service port's ``appProtocol`` (``APP_PROTOCOLS``).
- the target group's deregistration delay → a ``preStop`` sleep on the task's long-running
  containers and a longer grace period (``drain_before_stop``), so that a task leaving the
  endpoints keeps serving until every node has stopped sending it connections.
"""

import copy
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ecs_facade.api import GROUP, LABEL_MANAGED_BY, LABEL_SERVICE, MANAGED_BY
from ecs_facade.translate import TranslationError
from ecs_facade.translate.taskdefinition import ANNOTATION_APP_PROTOCOLS

ANNOTATION_TARGET_GROUP_ARNS: Final = f"{GROUP}/target-group-arns"
ANNOTATION_LOAD_BALANCER_NAMES: Final = f"{GROUP}/load-balancer-names"
ANNOTATION_LOAD_BALANCERS: Final = f"{GROUP}/load-balancers"
ANNOTATION_REGISTRY_ARN: Final = f"{GROUP}/registry-arn"
# On the ECSService: the seconds its tasks keep running after they leave the load balancer's
# endpoints (the target group attribute deregistration_delay.timeout_seconds, which ECS waits
# for before it stops a task; ECS has no field for it).
ANNOTATION_DEREGISTRATION_DELAY: Final = f"{GROUP}/deregistration-delay-seconds"
MAX_DEREGISTRATION_DELAY: Final = 3600  # the target group attribute's own maximum
# ECS's stopTimeout when a task definition sets none (the agent's ECS_CONTAINER_STOP_TIMEOUT),
# which is also Kubernetes's default terminationGracePeriodSeconds
DEFAULT_STOP_TIMEOUT: Final = 30

SERVICE_TYPES: Final = ("ClusterIP", "LoadBalancer", "NodePort")
# ECS portMappings[].appProtocol → ServicePort.appProtocol. Un-prefixed values are reserved for
# IANA service names ("http"); Kubernetes defines "kubernetes.io/h2c" for HTTP/2 over cleartext
# with prior knowledge, which is what a task's http2 or grpc port serves (gRPC is HTTP/2; any TLS
# is the load balancer's or the Service Connect proxy's). Gateway API implementations and
# ingress controllers read it to speak HTTP/2 to the pods.
APP_PROTOCOLS: Final = {"http": "http", "http2": "kubernetes.io/h2c", "grpc": "kubernetes.io/h2c"}
DISCOVERY_SUFFIX: Final = "-discovery"

_MAX_NAME = 63
_MAX_INT32 = 2**31 - 1
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _selector(name: str) -> dict[str, str]:
    """The Deployment's selector (``service.service_selector``), written here so that
    service.py may import this module; tests check that the two agree."""
    return {LABEL_SERVICE: name}


@dataclass(frozen=True)
class _Target:
    """One container port that receives traffic (a port mapping of the task definition)."""

    container: str  # Kubernetes container name
    port: int
    protocol: str
    port_name: str | None
    in_containers: bool  # in spec.containers (not a sidecar in initContainers)


def service_name(name: str, suffix: str = "") -> str:
    """The Service name for an ECSService name: Service names are DNS-1035 labels (<= 63
    characters, starting with a letter), stricter than the DNS-1123 names of other objects.

    A name that already fits is kept. Otherwise it is lower-cased, runs of other characters
    become ``-``, ``svc-`` is prefixed if it does not start with a letter, it is shortened,
    and 8 hex digits of the SHA-256 of the original name are appended, so two ECSServices
    never derive the same Service name.
    """
    if len(name) + len(suffix) <= _MAX_NAME and _DNS_1035.match(name + suffix):
        return name + suffix
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not cleaned:
        raise TranslationError(f"service name {name!r} has no letters or digits to make a Kubernetes Service name")
    if not cleaned[0].isalpha():
        cleaned = f"svc-{cleaned}"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    room = _MAX_NAME - len(suffix) - len(digest) - 1
    return f"{cleaned[:room].rstrip('-')}-{digest}{suffix}"


def discovery_service_name(name: str) -> str:
    """``<name>-discovery``: ``<name>`` is the load-balanced Service, which has a cluster IP."""
    return service_name(name, DISCOVERY_SUFFIX)


def app_protocols_of(annotations: Mapping[str, str]) -> dict[str, str]:
    """The ECS app protocols by port that the translator annotated (``ANNOTATION_APP_PROTOCOLS``)."""
    try:
        value = json.loads(annotations.get(ANNOTATION_APP_PROTOCOLS) or "{}")
    except ValueError:
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def build_services(
    name: str,
    namespace: str,
    load_balancers: Sequence[Mapping[str, Any]],
    service_registries: Sequence[Mapping[str, Any]],
    pod_spec: Mapping[str, Any],
    container_names: Mapping[str, str],
    service_type: str = "ClusterIP",
    app_protocols: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The Services of one ECS service: load-balanced first, then discovery; none if neither is set.

    ``name`` is the ECSService's name (the Deployment's), ``pod_spec`` the translated pod,
    ``container_names`` maps ECS container names to the Kubernetes names in ``pod_spec``,
    ``app_protocols`` is the translation's ``app_protocols_of(annotations)``.
    """
    if service_type not in SERVICE_TYPES:
        raise TranslationError(f"service type {service_type!r} is not one of {', '.join(SERVICE_TYPES)}")
    protocols = app_protocols or {}
    services = []
    if load_balancers:
        services.append(
            _load_balanced(name, namespace, load_balancers, pod_spec, container_names, service_type, protocols)
        )
    if service_registries:
        services.append(_discovery(name, namespace, service_registries, pod_spec, container_names, protocols))
    return services


def _load_balanced(
    name: str,
    namespace: str,
    load_balancers: Sequence[Mapping[str, Any]],
    pod_spec: Mapping[str, Any],
    container_names: Mapping[str, str],
    service_type: str,
    app_protocols: Mapping[str, str],
) -> dict[str, Any]:
    target_groups: list[str] = []
    classic: list[str] = []
    targets: list[_Target] = []
    owners: dict[tuple[int, str], str] = {}  # (port, protocol) → ECS container name
    for index, entry in enumerate(load_balancers):
        where = f"loadBalancers[{index}]"
        arn, lb_name = entry.get("targetGroupArn"), entry.get("loadBalancerName")
        if bool(arn) == bool(lb_name):
            raise TranslationError(
                f"{where}: exactly one of targetGroupArn (ALB/NLB) and loadBalancerName (classic ELB) is required, "
                f"got {'both' if arn else 'neither'}"
            )
        for value, into, field in ((arn, target_groups, "targetGroupArn"), (lb_name, classic, "loadBalancerName")):
            if value and not isinstance(value, str):
                raise TranslationError(f"{where}.{field} must be a string")
            if value and value not in into:
                into.append(value)
        ecs_container = _required_string(entry, "containerName", where)
        port = _port(entry.get("containerPort"), f"{where}.containerPort")
        for target in _targets(ecs_container, port, where, pod_spec, container_names):
            owner = owners.setdefault((target.port, target.protocol), ecs_container)
            if owner != ecs_container:
                raise TranslationError(
                    f"{where}: containerPort {port}/{target.protocol} is already load balanced to container "
                    f"{owner!r}; the containers of a task share one network namespace"
                )
            if target not in targets:
                targets.append(target)
    annotations = {}
    if target_groups:
        annotations[ANNOTATION_TARGET_GROUP_ARNS] = ",".join(target_groups)
    if classic:
        annotations[ANNOTATION_LOAD_BALANCER_NAMES] = ",".join(classic)
    # the association of each target group with its container port, and any field not used here
    annotations[ANNOTATION_LOAD_BALANCERS] = json.dumps(
        [{k: v for k, v in entry.items() if v is not None} for entry in load_balancers],
        sort_keys=True,
        separators=(",", ":"),
    )
    return _service(
        service_name(name),
        namespace,
        name,
        annotations,
        {"type": service_type, "selector": _selector(name), "ports": _service_ports(targets, pod_spec, app_protocols)},
    )


def _discovery(
    name: str,
    namespace: str,
    service_registries: Sequence[Mapping[str, Any]],
    pod_spec: Mapping[str, Any],
    container_names: Mapping[str, str],
    app_protocols: Mapping[str, str],
) -> dict[str, Any]:
    """Headless: DNS answers with the Ready pods' IPs (A records) and, for named ports, SRV records."""
    if len(service_registries) > 1:
        raise TranslationError(f"serviceRegistries: ECS allows one registry per service, got {len(service_registries)}")
    (entry,) = service_registries
    where = "serviceRegistries[0]"
    arn = _required_string(entry, "registryArn", where)
    port = None if entry.get("port") is None else _port(entry["port"], f"{where}.port")
    has_container = entry.get("containerName") is not None or entry.get("containerPort") is not None
    targets: list[_Target] = []
    if port is not None and has_container:
        raise TranslationError(f"{where}: set either port or containerName and containerPort, not both (as ECS)")
    if has_container:
        ecs_container = _required_string(entry, "containerName", where)
        container_port = _port(entry.get("containerPort"), f"{where}.containerPort")
        targets = _targets(ecs_container, container_port, where, pod_spec, container_names)
    elif port is not None:
        # awsvpc SRV port: ECS does not tie it to a port mapping; use one if it exists for the protocol
        targets = [t for t in _serving_ports(pod_spec) if t.port == port]
        targets = list({(t.port, t.protocol): t for t in targets}.values()) or [_Target("", port, "TCP", None, True)]
    spec: dict[str, Any] = {"type": "ClusterIP", "clusterIP": "None", "selector": _selector(name)}
    if targets:
        spec["ports"] = _service_ports(targets, pod_spec, app_protocols)
    return _service(discovery_service_name(name), namespace, name, {ANNOTATION_REGISTRY_ARN: arn}, spec)


def _service(
    service: str, namespace: str, ecs_service: str, annotations: dict[str, str], spec: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service,
            "namespace": namespace,
            "labels": {LABEL_MANAGED_BY: MANAGED_BY, LABEL_SERVICE: ecs_service},
            "annotations": annotations,
        },
        "spec": spec,
    }


def _required_string(entry: Mapping[str, Any], field: str, where: str) -> str:
    value = entry.get(field)
    if not isinstance(value, str) or not value:
        raise TranslationError(f"{where}.{field} is required")
    return value


def _port(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise TranslationError(f"{where} {'is required' if value is None else f'{value!r} is not a port (1-65535)'}")
    return value


def _serving_ports(pod_spec: Mapping[str, Any]) -> list[_Target]:
    """Ports of the containers that run as long as the pod: main containers and sidecars."""
    result = []
    for key in ("containers", "initContainers"):
        for container in pod_spec.get(key) or []:
            if key == "initContainers" and container.get("restartPolicy") != "Always":
                continue
            for port in container.get("ports") or []:
                result.append(
                    _Target(
                        container["name"],
                        port["containerPort"],
                        port.get("protocol", "TCP"),
                        port.get("name"),
                        key == "containers",
                    )
                )
    return result


def _targets(
    ecs_container: str,
    port: int,
    where: str,
    pod_spec: Mapping[str, Any],
    container_names: Mapping[str, str],
) -> list[_Target]:
    """The port mappings of ``ecs_container`` for ``port``: one per protocol (tcp and udp may share a port)."""
    kube = container_names.get(ecs_container)
    containers = {c["name"]: c for c in pod_spec.get("containers") or []}
    init = {c["name"]: c for c in pod_spec.get("initContainers") or []}
    if kube is None or (kube not in containers and kube not in init):
        raise TranslationError(f"{where}.containerName {ecs_container!r} is not a container of the task definition")
    if kube in init and init[kube].get("restartPolicy") != "Always":
        raise TranslationError(
            f"{where}.containerName {ecs_container!r} runs to completion before the other containers start "
            "(an init container), so it cannot receive traffic"
        )
    found: dict[str, _Target] = {}
    for target in _serving_ports(pod_spec):
        if target.container == kube and target.port == port:
            found.setdefault(target.protocol, target)
    if not found:
        raise TranslationError(
            f"{where}.containerPort {port} is not among the portMappings of container {ecs_container!r}"
        )
    return list(found.values())


def _service_ports(
    targets: Sequence[_Target], pod_spec: Mapping[str, Any], app_protocols: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Service ports: port = containerPort; named after the container port when that name is
    unique here, else ``<protocol>-<port>`` (a Service with several ports must name them all);
    ``appProtocol`` from the port mapping's."""
    fallbacks = [f"{t.protocol.lower()}-{t.port}" for t in targets]
    names = [t.port_name for t in targets]
    ports = []
    for index, target in enumerate(targets):
        own = target.port_name
        others = fallbacks[:index] + fallbacks[index + 1 :]
        unique = own is not None and names.count(own) == 1 and own not in others
        port: dict[str, Any] = {
            "name": own if unique else fallbacks[index],
            "port": target.port,
            "targetPort": _target_port(target, pod_spec),
            "protocol": target.protocol,
        }
        app_protocol = APP_PROTOCOLS.get(app_protocols.get(f"{target.container}:{target.port}/{target.protocol}", ""))
        if app_protocol is not None:
            port["appProtocol"] = app_protocol
        ports.append(port)
    return ports


def _target_port(target: _Target, pod_spec: Mapping[str, Any]) -> int | str:
    """The container port's name when it resolves to this port alone, else the number.

    Kubernetes resolves a named targetPort to the first port of that name and protocol in
    ``containers`` (then sidecars), and some load-balancer controllers look only in
    ``containers``; a number is always exact, since a pod's containers share one network.
    """
    if target.port_name is None or not target.in_containers:
        return target.port
    same = [t for t in _all_ports(pod_spec) if t.port_name == target.port_name and t.protocol == target.protocol]
    return target.port_name if len(same) == 1 else target.port


def _all_ports(pod_spec: Mapping[str, Any]) -> list[_Target]:
    return [
        _Target(c["name"], p["containerPort"], p.get("protocol", "TCP"), p.get("name"), key == "containers")
        for key in ("containers", "initContainers")
        for c in pod_spec.get(key) or []
        for p in c.get("ports") or []
    ]


def health_check_grace(pod_spec: Mapping[str, Any], seconds: int | None) -> dict[str, Any]:
    """A copy of ``pod_spec`` honouring ECS ``healthCheckGracePeriodSeconds``.

    ECS ignores failing load-balancer and container health checks for that long after a task
    starts, so it does not replace tasks that are still starting. Here only liveness probes
    (which restart containers) wait: ``initialDelaySeconds`` is at least ``seconds``, and a
    startup probe (which also restarts) allows at least the grace period plus the liveness
    probe's failures. Readiness probes are untouched, so a pod still gets traffic only once
    healthy, and as early as it is.
    """
    result = copy.deepcopy(dict(pod_spec))
    if seconds is None or seconds == 0:
        return result
    if not 0 < seconds <= _MAX_INT32:
        raise TranslationError(f"healthCheckGracePeriodSeconds {seconds} is not between 0 and {_MAX_INT32}")
    for container in [*(result.get("initContainers") or []), *(result.get("containers") or [])]:
        liveness = container.get("livenessProbe")
        if liveness is None:
            continue
        liveness["initialDelaySeconds"] = max(liveness.get("initialDelaySeconds", 0), seconds)
        startup = container.get("startupProbe")
        if startup is not None:
            period = startup.get("periodSeconds", 10)
            needed = math.ceil(seconds / period) + liveness.get("failureThreshold", 3)
            startup["failureThreshold"] = min(max(startup.get("failureThreshold", 3), needed), _MAX_INT32)
    return result


def deregistration_delay(annotations: Mapping[str, str], load_balancers: Sequence[Any], default: int) -> int:
    """The seconds a service's tasks keep running after they leave the load balancer's endpoints:
    the ECSService's ``ANNOTATION_DEREGISTRATION_DELAY``, else ``default`` (the operator's
    setting). 0 for a service without ``loadBalancers``: ECS waits for a target group to drain
    a task, and only a load-balanced task is in one. A bad annotation is refused whether or not
    the service has load balancers, so that adding one later does not reveal it."""
    raw = annotations.get(ANNOTATION_DEREGISTRATION_DELAY)
    seconds = default if raw is None else _delay_seconds(raw)
    return seconds if load_balancers else 0


def _delay_seconds(raw: str) -> int:
    text = raw.strip()
    if not re.fullmatch(r"[0-9]{1,5}", text) or int(text) > MAX_DEREGISTRATION_DELAY:
        raise TranslationError(
            f"metadata.annotations[{ANNOTATION_DEREGISTRATION_DELAY}]: {raw!r} is not a deregistration delay; "
            f"expected a whole number of seconds from 0 to {MAX_DEREGISTRATION_DELAY}, as the target group's "
            "deregistration_delay.timeout_seconds"
        )
    return int(text)


def drain_before_stop(pod_spec: Mapping[str, Any], seconds: int) -> dict[str, Any]:
    """A copy of ``pod_spec`` whose containers get SIGTERM ``seconds`` after the pod starts terminating.

    ECS deregisters a task from its target groups and waits the deregistration delay before it
    stops the task (SIGTERM, then SIGKILL after ``stopTimeout``), so the load balancer has
    stopped sending it requests by then. Kubernetes takes a terminating pod out of the
    EndpointSlices and sends SIGTERM at the same moment, while kube-proxy on every node and the
    ingress controllers still send it connections for a moment: they are refused.

    Every container that runs as long as the task (main containers and sidecars) gets a
    ``preStop`` ``sleep`` (the kubelet's own action: no shell or ``sleep`` binary needed in the
    image), because ECS stops none of a task's containers before the delay: a proxy that
    serves the port needs the application behind it. The kubelet runs all preStop hooks at
    once and stops sidecars after the main containers, so the task still stops in ECS's order.
    ``terminationGracePeriodSeconds`` grows by ``seconds`` (from ECS's default ``stopTimeout``,
    30 s, when it has none): the grace period counts from before the hook, and SIGKILL must
    still come ``stopTimeout`` after SIGTERM. A container that already has a preStop hook keeps
    it (ECS has none to translate; this is for hooks added before this step).
    """
    result = copy.deepcopy(dict(pod_spec))
    if seconds <= 0:
        return result
    if seconds > MAX_DEREGISTRATION_DELAY:
        raise TranslationError(
            f"deregistration delay {seconds} s is more than the target group's maximum, {MAX_DEREGISTRATION_DELAY} s"
        )
    long_running = [
        *(c for c in result.get("initContainers") or [] if c.get("restartPolicy") == "Always"),
        *(result.get("containers") or []),
    ]
    hooked = False
    for container in long_running:
        lifecycle = container.setdefault("lifecycle", {})
        if "preStop" not in lifecycle:
            lifecycle["preStop"] = {"sleep": {"seconds": seconds}}
            hooked = True
    if hooked:
        stop_timeout = result.get("terminationGracePeriodSeconds")
        result["terminationGracePeriodSeconds"] = seconds + (
            DEFAULT_STOP_TIMEOUT if stop_timeout is None else stop_timeout
        )
    return result
