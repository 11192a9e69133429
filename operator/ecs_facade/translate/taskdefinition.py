"""The one translator: an ECS task definition as the pod that one task of it runs.

Services (Deployment pod templates), tasks (Pods) and the ``render`` command all call
``translate_task_definition``, so every field means the same thing on every path.
docs/mapping.md is the field-by-field table; fields Kubernetes cannot express are listed
in ``PodTranslation.ignored`` (never silently dropped).
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ecs_facade.api import GROUP
from ecs_facade.model.generated import ContainerDefinition
from ecs_facade.model.taskdefinition import TaskDefinition, parse_task_cpu, parse_task_memory
from ecs_facade.translate import TranslationError
from ecs_facade.translate.health import command_notes, probes
from ecs_facade.translate.lifecycle import apply_lifecycles
from ecs_facade.translate.names import container_name, port_name
from ecs_facade.translate.ordering import order_containers
from ecs_facade.translate.placement import combine_node_affinities, member_of_node_affinity
from ecs_facade.translate.resources import (
    INIT,
    REGULAR,
    SIDECAR,
    Reservation,
    check_reservations,
    container_resources,
    cpu_units_to_quantity,
    mib_to_quantity,
    split_task_resources,
)
from ecs_facade.translate.secrets import kube_secret_name, repository_credentials_ref, secret_ref
from ecs_facade.translate.volumes import TaskVolumes, task_volumes, volume_mounts
from ecs_facade.translate.windows import cpu_limit, operating_system, windows_scheduling, without_linux_fields

ANNOTATION_ESSENTIAL = f"{GROUP}/essential-containers"
ANNOTATION_CONTAINER_NAMES = f"{GROUP}/container-names"
# portMappings[].appProtocol, which a container port has no field for: the ECS value by port,
# {"<Kubernetes container name>:<containerPort>/<TCP|UDP>": "http" | "http2" | "grpc"}; the
# Services of an ECSService carry it as their ports' appProtocol (translate/loadbalancing.py)
ANNOTATION_APP_PROTOCOLS = f"{GROUP}/app-protocols"
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"

# Container fields with no pod equivalent, and why (shown to the user).
_IGNORED_CONTAINER_FIELDS = {
    "ulimits": "Docker ulimits have no pod field",
    "logConfiguration": "logs go to the node's container runtime; ship them with a cluster log agent",
    "firelensConfiguration": "FireLens log routing has no pod field",
    "dockerSecurityOptions": "Docker security options have no pod field",
    "links": "legacy Docker links; containers of a pod share localhost",
    "disableNetworking": "containers of a pod share one network namespace",
    "credentialSpecs": "gMSA credential specs are not supported",
    "startTimeout": "Kubernetes has no per-dependency start timeout",
    "versionConsistency": "image digests are resolved by the container runtime",
    "environmentFiles": "environment files live in S3; put them in a ConfigMap and use envFrom",
}
_IGNORED_TASK_FIELDS = {
    "executionRoleArn": "the execution role pulls images and secrets in AWS; pods use imagePullSecrets and Secrets",
    "proxyConfiguration": "App Mesh proxy configuration has no pod field",
    "inferenceAccelerators": "Elastic Inference accelerators do not exist on Kubernetes",
    "ephemeralStorage": "ephemeral storage size is set per node",
    "enableFaultInjection": "ECS fault injection has no pod field",
}
_ANNOTATION_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_USER = re.compile(r"^(?P<user>[^:]+)(:(?P<group>[^:]+))?$")


@dataclass(frozen=True)
class TranslationOptions:
    """Operator settings that change translation (ECS_FACADE_* environment variables)."""

    pod_level_resources: bool = True
    allow_host_path: bool = False
    # container-level restartPolicy/restartPolicyRules and RestartAllContainers (Kubernetes 1.36+):
    # containers run once and an essential exit ends the task as in ECS (translate.lifecycle)
    container_restart_rules: bool = True


DEFAULT_OPTIONS = TranslationOptions()


@dataclass
class PodTranslation:
    pod_spec: dict[str, Any]
    annotations: dict[str, str] = field(default_factory=dict)
    service_accounts: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def translate_task_definition(
    task_definition: TaskDefinition, options: TranslationOptions = DEFAULT_OPTIONS, *, service: bool = False
) -> PodTranslation:
    """The pod of one task: a standalone task's (``restartPolicy: Never``, ended by the
    operator), or with ``service`` a service's pod template (``Always``): translate.lifecycle."""
    result = PodTranslation(pod_spec={})
    windows = operating_system(task_definition) == "windows"
    if windows:
        task_definition = without_linux_fields(task_definition, result.ignored, result.notes)
    containers = list(task_definition.containerDefinitions)
    by_name = {c.name: c for c in containers}
    volumes = task_volumes(task_definition.volumes or [], options.allow_host_path, windows=windows)
    result.ignored.extend(volumes.ignored)
    ordering = order_containers(containers, run_once=options.container_restart_rules)
    result.notes.extend(ordering.notes)

    kube_containers: dict[str, dict[str, Any]] = {}
    ports = _PortContext(task_definition.networkMode)
    for container in containers:
        kube_containers[container.name] = _container(container, by_name, volumes, result, ports, service)
        if windows and container.cpu:
            cpu_limit(kube_containers[container.name])
    _check_unique_names(kube_containers)
    lifecycles = apply_lifecycles(
        containers, ordering, kube_containers, options.container_restart_rules, service=service
    )
    result.ignored.extend(lifecycles.ignored)
    result.notes.extend(lifecycles.notes)

    pod: dict[str, Any] = {}
    if ordering.init_order:
        pod["initContainers"] = [kube_containers[n] for n in ordering.init_order]
    pod["containers"] = [kube_containers[n] for n in ordering.main_order]
    if volumes.pod_volumes or _memory_volumes(containers):
        pod["volumes"] = volumes.pod_volumes + _memory_volumes(containers)
    _task_level(task_definition, containers, pod, options, result)
    _pod_level_container_fields(containers, pod, result)
    result.pod_spec = pod

    essential = [kube_containers[c.name]["name"] for c in containers if c.essential is not False]
    result.annotations[ANNOTATION_ESSENTIAL] = ",".join(essential)
    result.annotations.update(lifecycles.annotations)
    if ports.app_protocols:
        result.annotations[ANNOTATION_APP_PROTOCOLS] = json.dumps(
            ports.app_protocols, sort_keys=True, separators=(",", ":")
        )
    result.annotations[ANNOTATION_CONTAINER_NAMES] = json.dumps(
        {kube_containers[c.name]["name"]: c.name for c in containers}, sort_keys=True, separators=(",", ":")
    )
    for container in containers:
        for key, value in sorted((container.dockerLabels or {}).items()):
            if not _ANNOTATION_KEY.match(key):
                result.ignored.append(
                    f"containerDefinitions[{container.name}].dockerLabels[{key}] (not a valid annotation key)"
                )
            elif result.annotations.get(key, value) != value:
                result.ignored.append(
                    f"containerDefinitions[{container.name}].dockerLabels[{key}] (another container sets another value)"
                )
            else:
                result.annotations[key] = value
    return result


def _container(
    container: ContainerDefinition,
    by_name: dict[str, ContainerDefinition],
    volumes: TaskVolumes,
    result: PodTranslation,
    port_context: "_PortContext",
    service: bool,
) -> dict[str, Any]:
    """One container; ECS ``entryPoint``/``command`` are Kubernetes ``command``/``args``."""
    where = f"containerDefinitions[{container.name}]"
    try:
        kube: dict[str, Any] = {"name": container_name(container.name), "image": container.image}
    except TranslationError as error:
        raise TranslationError(f"{where}.name: {error}") from None
    if container.entryPoint:
        kube["command"] = list(container.entryPoint)
    if container.command:
        kube["args"] = list(container.command)
    if container.workingDirectory:
        kube["workingDir"] = container.workingDirectory
    env: list[dict[str, Any]] = [{"name": kv.name or "", "value": kv.value or ""} for kv in container.environment or []]
    for secret in container.secrets or []:
        ref = secret_ref(secret.valueFrom, f"{where}.secrets[{secret.name}].valueFrom")
        env.append({"name": secret.name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
    if env:
        kube["env"] = env
    ports = _ports(container, kube["name"], port_context, result)
    if ports:
        kube["ports"] = ports
    resources = container_resources(container.cpu, container.memory, container.memoryReservation)
    for requirement in container.resourceRequirements or []:
        if requirement.type == "GPU":
            resources.setdefault("limits", {})["nvidia.com/gpu"] = str(requirement.value)
        else:
            result.ignored.append(f"{where}.resourceRequirements[{requirement.type}] (no Kubernetes resource)")
    if resources:
        kube["resources"] = resources
    security = _security_context(container, result)
    if security:
        kube["securityContext"] = security
    if container.healthCheck is not None:
        check_where = f"{where}.healthCheck.command"
        # ECS replaces a service's task whose essential container turns unhealthy; a
        # standalone task runs on whatever its health (API_HealthCheck): no liveness probe
        replaced = service and container.essential is not False
        kube.update(probes(container.healthCheck, replaced_when_unhealthy=replaced, where=check_where))
        result.notes.extend(command_notes(container.healthCheck.command, check_where))
    mounts = volume_mounts(container, by_name, volumes)
    mounts.extend(_memory_mounts(container))
    if mounts:
        kube["volumeMounts"] = mounts
    if container.interactive:
        kube["stdin"] = True
    if container.pseudoTerminal:
        kube["tty"] = True
    for name, why in _IGNORED_CONTAINER_FIELDS.items():
        if getattr(container, name, None):
            result.ignored.append(f"{where}.{name} ({why})")
    linux = container.linuxParameters
    if linux is not None:
        for name in ("devices", "maxSwap", "swappiness"):
            if getattr(linux, name) is not None:
                result.ignored.append(f"{where}.linuxParameters.{name} (no pod field)")
        for tmpfs in linux.tmpfs or []:
            if tmpfs.mountOptions:
                result.ignored.append(
                    f"{where}.linuxParameters.tmpfs[{tmpfs.containerPath}].mountOptions (no pod field)"
                )
    return kube


@dataclass
class _PortContext:
    """What the port mappings of one task share: the network mode that gives ``hostPort`` its
    meaning, the port names already given (unique in the pod) and the app protocols seen."""

    network_mode: str | None
    names: set[str] = field(default_factory=set)
    app_protocols: dict[str, str] = field(default_factory=dict)


def _ports(
    container: ContainerDefinition, kube_name: str, context: _PortContext, result: PodTranslation
) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = []
    for index, mapping in enumerate(container.portMappings or []):
        where = f"containerDefinitions[{container.name}].portMappings[{index}]"
        if mapping.containerPort is None:
            if mapping.containerPortRange:
                result.ignored.append(
                    f"{where}.containerPortRange {mapping.containerPortRange!r} "
                    "(a pod lists single ports; every port of the pod's IP is reachable without one)"
                )
            continue
        protocol = (mapping.protocol or "tcp").upper()
        port: dict[str, Any] = {"containerPort": mapping.containerPort, "protocol": protocol}
        host_port = _host_port(mapping.containerPort, mapping.hostPort, context.network_mode, where)
        if host_port is not None:
            port["hostPort"] = host_port
        if mapping.name:
            name = port_name(mapping.name, context.names)
            context.names.add(name)
            port["name"] = name
            if name != mapping.name.lower().replace("_", "-"):
                result.notes.append(
                    f"{where}.name {mapping.name!r} is not a Kubernetes port name (at most 15 characters of "
                    f"a-z, 0-9 and single '-', unique in the pod): the port is named {name!r}"
                )
        if mapping.appProtocol:
            context.app_protocols[f"{kube_name}:{mapping.containerPort}/{protocol}"] = mapping.appProtocol
        ports.append(port)
    return ports


def _host_port(container_port: int, host_port: int | None, network_mode: str | None, where: str) -> int | None:
    """The pod ``hostPort`` (a port of the node) for an ECS port mapping, by network mode.

    - ``awsvpc``: the task has its own network interface, as a pod has its own IP; ECS's
      ``hostPort`` is a port of that interface (equal to ``containerPort``), not of the node,
      so there is none: a pod ``hostPort`` would keep two tasks off one node.
    - ``host``: the task uses the node's network and ``containerPort`` is the node's port; the
      API server sets ``hostPort = containerPort`` on such a pod anyway, and the scheduler
      keeps two such tasks off one node, as ECS does.
    - ``bridge`` (the default) and ``none``: a fixed ``hostPort`` is the node's port; 0 or
      absent is a dynamic host port in ECS, which Kubernetes does not need: none.
    """
    if network_mode in ("awsvpc", "host"):
        if host_port and host_port != container_port:
            raise TranslationError(
                f"{where}.hostPort: {host_port} differs from containerPort {container_port}; in {network_mode} "
                "network mode hostPort must equal containerPort or be omitted"
            )
        return container_port if network_mode == "host" else None
    return host_port or None


def _security_context(container: ContainerDefinition, result: PodTranslation) -> dict[str, Any]:
    security: dict[str, Any] = {}
    if container.user:
        match = _USER.match(container.user)
        user = match.group("user") if match else ""
        group = match.group("group") if match else None
        if not match:
            raise TranslationError(
                f"containerDefinitions[{container.name}].user: {container.user!r} is not one of user, user:group,"
                " uid, uid:gid, uid:group or user:gid"
            )
        if user.isdigit():
            security["runAsUser"] = int(user)
        else:
            result.notes.append(
                f"containerDefinitions[{container.name}].user {user!r} is a name: Kubernetes needs a numeric uid, "
                "so the image's default user runs"
            )
        if group is not None:
            if group.isdigit():
                security["runAsGroup"] = int(group)
            else:
                result.notes.append(
                    f"containerDefinitions[{container.name}].user group {group!r} is a name: a pod needs a numeric gid"
                )
    if container.readonlyRootFilesystem:
        security["readOnlyRootFilesystem"] = True
    if container.privileged:
        security["privileged"] = True
    capabilities = container.linuxParameters.capabilities if container.linuxParameters else None
    if capabilities is not None:
        caps: dict[str, list[str]] = {}
        if capabilities.add:
            caps["add"] = list(capabilities.add)
        if capabilities.drop:
            caps["drop"] = list(capabilities.drop)
        if caps:
            security["capabilities"] = caps
    return security


def _memory_volume_name(container: ContainerDefinition, path: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{container.name}-{path}".lower()).strip("-")
    return f"tmpfs-{slug}"[:63].rstrip("-")


def _memory_volumes(containers: Sequence[ContainerDefinition]) -> list[dict[str, Any]]:
    """``sharedMemorySize`` and ``tmpfs`` are memory-backed emptyDirs of the given size (MiB)."""
    volumes: list[dict[str, Any]] = []
    for container in containers:
        linux = container.linuxParameters
        if linux is None:
            continue
        if linux.sharedMemorySize:
            volumes.append(
                {
                    "name": _memory_volume_name(container, "/dev/shm"),
                    "emptyDir": {"medium": "Memory", "sizeLimit": mib_to_quantity(linux.sharedMemorySize)},
                }
            )
        for tmpfs in linux.tmpfs or []:
            volumes.append(
                {
                    "name": _memory_volume_name(container, tmpfs.containerPath),
                    "emptyDir": {"medium": "Memory", "sizeLimit": mib_to_quantity(tmpfs.size)},
                }
            )
    return volumes


def _memory_mounts(container: ContainerDefinition) -> list[dict[str, Any]]:
    linux = container.linuxParameters
    if linux is None:
        return []
    mounts = []
    if linux.sharedMemorySize:
        mounts.append({"name": _memory_volume_name(container, "/dev/shm"), "mountPath": "/dev/shm"})
    for tmpfs in linux.tmpfs or []:
        mounts.append({"name": _memory_volume_name(container, tmpfs.containerPath), "mountPath": tmpfs.containerPath})
    return mounts


def _task_level(
    task_definition: TaskDefinition,
    containers: Sequence[ContainerDefinition],
    pod: dict[str, Any],
    options: TranslationOptions,
    result: PodTranslation,
) -> None:
    windows = operating_system(task_definition) == "windows"
    if windows and (task_definition.cpu is not None or task_definition.memory is not None):
        # the API server refuses pod-level resources on a Windows pod
        options = replace(options, pod_level_resources=False)
        result.notes.append("cpu/memory: a Windows pod cannot have pod-level resources; the task's are split")
    _task_resources(task_definition, pod, options)
    timeouts = [c.stopTimeout for c in containers if c.stopTimeout is not None]
    if timeouts:
        # ECS waits stopTimeout per container after SIGTERM; a pod has one grace period
        pod["terminationGracePeriodSeconds"] = max(timeouts)
    if task_definition.networkMode == "host":
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    elif task_definition.networkMode == "none":
        result.ignored.append("networkMode none (a pod always has a network namespace)")
    if task_definition.pidMode == "host":
        pod["hostPID"] = True
    elif task_definition.pidMode == "task":
        pod["shareProcessNamespace"] = True
    if task_definition.ipcMode == "host":
        pod["hostIPC"] = True
    elif task_definition.ipcMode == "none":
        result.ignored.append("ipcMode none (containers of a pod share IPC)")
    if any(c.linuxParameters and c.linuxParameters.initProcessEnabled for c in containers):
        # with a shared process namespace the pod's pause process is PID 1 and reaps zombies,
        # which is what Docker's --init gives a container
        pod["shareProcessNamespace"] = True
    if task_definition.taskRoleArn:
        account = service_account_for_role(task_definition.taskRoleArn)
        pod["serviceAccountName"] = account["metadata"]["name"]
        result.service_accounts.append(account)
    platform = task_definition.runtimePlatform
    scheduling = windows_scheduling(task_definition) if windows else {}
    selector: dict[str, str] = scheduling.pop("nodeSelector", {})
    if platform is not None and platform.operatingSystemFamily == "LINUX":
        selector["kubernetes.io/os"] = "linux"
    if platform is not None and platform.cpuArchitecture:
        selector["kubernetes.io/arch"] = "arm64" if platform.cpuArchitecture == "ARM64" else "amd64"
    if selector:
        pod["nodeSelector"] = selector
    pod.update(scheduling)  # a Windows pod's os and tolerations
    affinities = []
    for index, constraint in enumerate(task_definition.placementConstraints or []):
        if constraint.type != "memberOf" or not constraint.expression:
            raise TranslationError(
                f"placementConstraints[{index}]: a task definition allows only type memberOf, with an expression"
            )
        try:
            affinities.append(member_of_node_affinity(constraint.expression))
        except TranslationError as error:
            raise TranslationError(f"placementConstraints[{index}].expression: {error}") from None
    node_affinity = combine_node_affinities(affinities)
    if node_affinity:
        pod["affinity"] = {"nodeAffinity": node_affinity}
    for name, why in _IGNORED_TASK_FIELDS.items():
        if getattr(task_definition, name, None):
            result.ignored.append(f"{name} ({why})")
    pull_secrets = {
        repository_credentials_ref(
            c.repositoryCredentials.credentialsParameter,
            f"containerDefinitions[{c.name}].repositoryCredentials.credentialsParameter",
        ).name
        for c in containers
        if c.repositoryCredentials
    }
    if pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in sorted(pull_secrets)]


def _task_resources(task_definition: TaskDefinition, pod: dict[str, Any], options: TranslationOptions) -> None:
    """Task-level cpu/memory: pod-level resources (Kubernetes 1.34+), else split over the containers."""
    try:
        cpu = parse_task_cpu(task_definition.cpu) if task_definition.cpu is not None else None
        memory = parse_task_memory(task_definition.memory) if task_definition.memory is not None else None
    except ValueError as error:
        raise TranslationError(str(error)) from error
    if cpu is None and memory is None:
        return
    by_kube_name = {container_name(c.name): c for c in task_definition.containerDefinitions}
    kube_containers: list[tuple[dict[str, Any], str]] = [
        (c, SIDECAR if c.get("restartPolicy") == "Always" else INIT) for c in pod.get("initContainers", [])
    ]
    kube_containers.extend((c, REGULAR) for c in pod["containers"])
    reservations = []
    for kube, role in kube_containers:
        ecs = by_kube_name[kube["name"]]
        reserved = ecs.memoryReservation if ecs.memoryReservation is not None else ecs.memory
        reservations.append(Reservation(ecs.name, role, ecs.cpu, reserved, ecs.memory))
    check_reservations(reservations, cpu, memory)  # as ECS, and as the API server checks pod-level resources
    if options.pod_level_resources:
        quantities = {}
        if cpu is not None:
            quantities["cpu"] = cpu_units_to_quantity(cpu)
        if memory is not None:
            quantities["memory"] = mib_to_quantity(memory)
        pod["resources"] = {"requests": dict(quantities), "limits": dict(quantities)}
        return
    split = split_task_resources(reservations, cpu, memory)
    for kube, _ in kube_containers:
        for kind, amounts in split[by_kube_name[kube["name"]].name].items():
            kube.setdefault("resources", {}).setdefault(kind, {}).update(amounts)


def _pod_level_container_fields(
    containers: Sequence[ContainerDefinition], pod: dict[str, Any], result: PodTranslation
) -> None:
    """Per-container ECS fields that are per-pod in Kubernetes: merged, first value wins."""
    aliases: dict[str, list[str]] = {}
    nameservers: list[str] = []
    searches: list[str] = []
    sysctls: dict[str, str] = {}
    hostnames = [c for c in containers if c.hostname]
    for container in containers:
        for entry in container.extraHosts or []:
            hosts = aliases.setdefault(entry.ipAddress, [])
            if entry.hostname not in hosts:
                hosts.append(entry.hostname)
        nameservers.extend(s for s in container.dnsServers or [] if s not in nameservers)
        searches.extend(s for s in container.dnsSearchDomains or [] if s not in searches)
        for control in container.systemControls or []:
            if control.namespace is None:
                continue
            if sysctls.get(control.namespace, control.value) != control.value:
                result.ignored.append(
                    f"containerDefinitions[{container.name}].systemControls[{control.namespace}] "
                    "(sysctls are per pod; another container sets it differently)"
                )
                continue
            sysctls[control.namespace] = control.value or ""
    if aliases:
        pod["hostAliases"] = [{"ip": ip, "hostnames": names} for ip, names in aliases.items()]
    if nameservers or searches:
        pod["dnsConfig"] = {k: v for k, v in (("nameservers", nameservers), ("searches", searches)) if v}
    if sysctls:
        pod.setdefault("securityContext", {})["sysctls"] = [{"name": k, "value": v} for k, v in sysctls.items()]
    if len(hostnames) == 1 and _DNS_LABEL.match(hostnames[0].hostname or ""):
        pod["hostname"] = hostnames[0].hostname
    else:
        for container in hostnames:
            result.ignored.append(f"containerDefinitions[{container.name}].hostname (one DNS-label hostname per pod)")


def _check_unique_names(containers: dict[str, dict[str, Any]]) -> None:
    """ECS names that differ only in case or '_'/'-' would be one Kubernetes container name."""
    by_kube_name: dict[str, list[str]] = {}
    for ecs_name, kube in containers.items():
        by_kube_name.setdefault(kube["name"], []).append(ecs_name)
    for kube_name, ecs_names in by_kube_name.items():
        if len(ecs_names) > 1:
            fields = " and ".join(f"containerDefinitions[{n}].name" for n in ecs_names)
            raise TranslationError(
                f"{fields}: the names collide as Kubernetes container {kube_name!r} (lower case, '-' for '_');"
                " rename one"
            )


def service_account_for_role(role_arn: str) -> dict[str, Any]:
    """One ServiceAccount per IAM role, annotated for IRSA (EKS) or any webhook that reads it."""
    role = role_arn.rsplit("/", 1)[-1] if role_arn.startswith("arn:") else role_arn
    name = kube_secret_name("ecs-task-role", role)[:253]
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "annotations": {ROLE_ARN_ANNOTATION: role_arn}},
    }
