"""Container lifecycles as ECS runs them: which container is restarted, and what ends a task.

ECS runs every container once. A container is restarted only when its ``restartPolicy`` is
enabled (unless it exits with one of its ``ignoredExitCodes``); an essential container that
exits (and is not restarted) stops the whole task, and a service then starts a new task; a
non-essential container that exits stays exited and the task goes on.

Kubernetes 1.35+ (``ContainerRestartRules``) gives every container its own ``restartPolicy``
and ``restartPolicyRules`` (exit codes -> ``Restart``), and 1.36+
(``RestartAllContainersOnContainerExits``) the ``RestartAllContainers`` action, which stops
every container of the pod and starts them again from the first init container: a new task
in place. With them (``TranslationOptions.container_restart_rules``, the default):

| container | standalone task (pod ``Never``) | service task (pod ``Always``) |
|---|---|---|
| essential, regular | pod's ``Never``; the operator stops the task | ``Always``, ``RestartAllContainers`` on any exit |
| essential, sidecar | ``Always``; the operator stops the task | ``Always``, ``RestartAllContainers`` on any exit |
| non-essential, regular | ``Never``: runs once | ``Never``: runs once |
| init (others wait to COMPLETE/SUCCESS) | pod's policy | pod's policy |

An ECS ``restartPolicy`` changes a row: ``Always`` when no exit code is ignored, else ``Never``
plus a ``Restart`` rule on the other exit codes (for an essential container of a service:
``Always`` plus ``RestartAllContainers`` on the ignored codes, as ECS then replaces the task).
The ignored codes of every enabled policy are in the pod annotation
``ecs.facade.dev/restart-policies``, so that views.task tells a restart from the task's end.

Without them (``container_restart_rules=False``, older clusters) every non-essential
container is a native sidecar (restarted whenever it exits), an essential container of a
service is restarted alone by the pod's ``Always``, and ECS restart policies are ignored.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_facade.api import GROUP
from ecs_facade.model.generated import ContainerDefinition
from ecs_facade.translate.health import startup_gate
from ecs_facade.translate.ordering import Kind, Ordering

ANNOTATION_RESTART_POLICIES = f"{GROUP}/restart-policies"
DEFAULT_RESTART_ATTEMPT_PERIOD = 300  # seconds, ECS's default
# how long each container with a restart policy must have run for its exit to be restarted:
# an earlier exit is not restarted in ECS, so the operator ends the task there (views.task)
ANNOTATION_RESTART_PERIODS = f"{GROUP}/restart-attempt-periods"

ALWAYS, NEVER, ON_FAILURE = "Always", "Never", "OnFailure"
RESTART, RESTART_ALL = "Restart", "RestartAllContainers"


def any_exit() -> dict[str, Any]:
    """``exitCodes`` that match every exit code: not in the empty set (``values`` left out:
    the API server would drop an empty list, and the applied template would differ)."""
    return {"operator": "NotIn"}


def ignored_exit_codes(container: ContainerDefinition) -> list[int] | None:
    """The exit codes an enabled ECS restart policy does not restart on (sorted, unique);
    None when the container has no enabled restart policy."""
    policy = container.restartPolicy
    if policy is None or not policy.enabled:
        return None
    return sorted(set(policy.ignoredExitCodes or []))


def restart_fields(container: ContainerDefinition, kind: Kind, service: bool) -> tuple[dict[str, Any], list[str]]:
    """``restartPolicy`` and ``restartPolicyRules`` of one container (Kubernetes 1.36+), and
    what is only approximated, for the notes."""
    where = f"containerDefinitions[{container.name}]"
    essential = container.essential is not False
    ignored = ignored_exit_codes(container)
    notes: list[str] = []
    if ignored is not None:
        period = container.restartPolicy.restartAttemptPeriod if container.restartPolicy else None
        notes.append(
            f"{where}.restartPolicy.restartAttemptPeriod ({period or DEFAULT_RESTART_ATTEMPT_PERIOD} s): "
            "Kubernetes has no such period: it restarts an exited container after a back-off of 10 s "
            "doubling up to 5 min; an exit after a shorter run, which ECS does not restart, ends the task "
            "when the operator sees it (an essential container), and is restarted all the same (a non-essential one)"
        )
    if kind is Kind.INIT:
        if ignored is None:
            return {}, notes
        if not ignored:
            return {"restartPolicy": ON_FAILURE}, notes
        return {"restartPolicy": NEVER, "restartPolicyRules": [_rule(RESTART, "NotIn", ignored)]}, notes
    if kind is Kind.SIDECAR:
        fields: dict[str, Any] = {"restartPolicy": ALWAYS}
        if essential and service:
            if ignored is None:
                fields["restartPolicyRules"] = [{"action": RESTART_ALL, "exitCodes": any_exit()}]
            elif ignored:
                fields["restartPolicyRules"] = [_rule(RESTART_ALL, "In", ignored)]
        elif not essential and ignored is None:
            notes.append(
                f"{where} is non-essential and runs once in ECS, but other containers wait for it to START or "
                "become HEALTHY, which only a native sidecar (restartPolicy Always) can hold them back for: "
                "it is restarted whenever it exits"
            )
        elif not essential and ignored:
            notes.append(
                f"{where}.restartPolicy.ignoredExitCodes {ignored}: other containers wait for it to START or become "
                "HEALTHY, so it is a native sidecar, restarted on every exit"
            )
        return fields, notes
    if essential and service:
        if ignored is None:
            return {
                "restartPolicy": ALWAYS,
                "restartPolicyRules": [{"action": RESTART_ALL, "exitCodes": any_exit()}],
            }, notes
        if ignored:
            return {"restartPolicy": ALWAYS, "restartPolicyRules": [_rule(RESTART_ALL, "In", ignored)]}, notes
        return {"restartPolicy": ALWAYS}, notes
    if essential and ignored is None:
        return {}, notes  # the standalone task's pod is Never; the operator stops the task
    if ignored is None:
        return {"restartPolicy": NEVER}, notes
    if not ignored:
        return {"restartPolicy": ALWAYS}, notes
    if ignored == [0]:
        return {"restartPolicy": ON_FAILURE}, notes
    return {"restartPolicy": NEVER, "restartPolicyRules": [_rule(RESTART, "NotIn", ignored)]}, notes


def fallback_fields(container: ContainerDefinition, kind: Kind) -> tuple[dict[str, Any], list[str], list[str]]:
    """Without container restart rules: today's sidecars. Fields, ignored, notes."""
    where = f"containerDefinitions[{container.name}]"
    ignored: list[str] = []
    notes: list[str] = []
    if ignored_exit_codes(container) is not None:
        ignored.append(
            f"{where}.restartPolicy (container restart rules are off: ECS_FACADE_CONTAINER_RESTART_RULES=false, "
            "for clusters before Kubernetes 1.36)"
        )
    if kind is not Kind.SIDECAR:
        return {}, ignored, notes
    if container.essential is False:
        notes.append(
            f"{where} is non-essential and runs once in ECS; as a native sidecar it is restarted whenever it "
            "exits (container restart rules are off)"
        )
    return {"restartPolicy": ALWAYS}, ignored, notes


def _rule(action: str, operator: str, codes: list[int]) -> dict[str, Any]:
    return {"action": action, "exitCodes": {"operator": operator, "values": list(codes)}}


@dataclass
class Lifecycles:
    """What the containers' lifecycles add to the translation."""

    annotations: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def apply_lifecycles(
    containers: Sequence[ContainerDefinition],
    ordering: Ordering,
    kube_containers: Mapping[str, dict[str, Any]],
    restart_rules: bool,
    service: bool,
) -> Lifecycles:
    """Sets each Kubernetes container's restart fields (and the probes its kind allows), in place."""
    result = Lifecycles()
    policies: dict[str, list[int]] = {}
    periods: dict[str, int] = {}
    for container in containers:
        kube = kube_containers[container.name]
        kind = ordering.kinds[container.name]
        if restart_rules:
            fields, notes = restart_fields(container, kind, service)
            ignored_codes = ignored_exit_codes(container)
            if ignored_codes is not None:
                policies[kube["name"]] = ignored_codes
                policy = container.restartPolicy
                periods[kube["name"]] = (policy.restartAttemptPeriod if policy else None) or (
                    DEFAULT_RESTART_ATTEMPT_PERIOD
                )
        else:
            fields, ignored, notes = fallback_fields(container, kind)
            result.ignored.extend(ignored)
        result.notes.extend(notes)
        kube.update(fields)
        if kind is Kind.SIDECAR:
            check = container.healthCheck
            if container.name in ordering.healthy_gates and check is not None:
                kube["startupProbe"] = startup_gate(check)
        elif kind is Kind.INIT:  # runs to completion: probes are not allowed on init containers
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                kube.pop(probe, None)
    if policies:
        result.annotations[ANNOTATION_RESTART_POLICIES] = json.dumps(policies, sort_keys=True, separators=(",", ":"))
        result.annotations[ANNOTATION_RESTART_PERIODS] = json.dumps(periods, sort_keys=True, separators=(",", ":"))
    return result
