"""ECS ``essential`` and ``dependsOn`` as Kubernetes container kinds and order.

Kubernetes has three kinds of containers, and ECS's start/stop rules fit onto them:

- a container that others wait for to COMPLETE or SUCCESS runs to completion first: an
  *init container* (Kubernetes needs it to exit 0, so COMPLETE is enforced as SUCCESS);
- a container that others wait for to START or become HEALTHY is a *native sidecar*
  (init container with ``restartPolicy: Always``): started before the ones that need it
  (held back by a startup probe for HEALTHY), stopped after them, and never keeping a task
  alive once its essential containers have stopped;
- every other container is a *regular container*: an essential one's exit ends the task,
  a non-essential one runs once beside them (translate.lifecycle gives it its own
  ``restartPolicy: Never``). Without container restart rules (``run_once=False``, clusters
  before Kubernetes 1.36) every non-essential container is a native sidecar instead, as a
  regular container would be restarted with the pod's policy or keep the pod running.

Init containers and sidecars are ordered so that every container comes after the ones it
depends on (a stable topological order of the ECS order); a dependency cycle is an error.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ecs_facade.model.generated import ContainerDefinition
from ecs_facade.translate import TranslationError
from ecs_facade.translate.health import probe_command


class Kind(StrEnum):
    INIT = "init"
    SIDECAR = "sidecar"
    MAIN = "main"


@dataclass(frozen=True)
class Ordering:
    kinds: dict[str, Kind]
    init_order: list[str]  # init containers and sidecars, in start order
    main_order: list[str]
    healthy_gates: set[str]  # sidecars others wait for to be HEALTHY
    notes: list[str] = field(default_factory=list)


def order_containers(containers: Sequence[ContainerDefinition], run_once: bool = True) -> Ordering:
    """Kinds and start order; ``run_once``: non-essential containers nobody waits for are
    regular containers (they need a container-level ``restartPolicy``), else sidecars."""
    names = [c.name for c in containers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TranslationError(f"containerDefinitions: container names must be unique; repeated: {duplicates}")
    by_name = {c.name: c for c in containers}
    waits: dict[str, set[str]] = {n: set() for n in names}  # container -> conditions others wait for
    notes: list[str] = []
    for c in containers:
        for dep in c.dependsOn or []:
            if dep.containerName not in by_name:
                raise TranslationError(
                    f"containerDefinitions[{c.name}].dependsOn names {dep.containerName!r}, "
                    "which is not a container of this task definition"
                )
            if dep.containerName == c.name:
                raise TranslationError(f"containerDefinitions[{c.name}].dependsOn names the container itself")
            waits[dep.containerName].add(dep.condition)

    kinds: dict[str, Kind] = {}
    for c in containers:
        essential = c.essential is not False
        conditions = waits[c.name]
        if conditions & {"COMPLETE", "SUCCESS"}:
            if essential:
                raise TranslationError(
                    f"containerDefinitions[{c.name}] is essential, but other containers wait for it to "
                    "COMPLETE or SUCCESS: an essential container's exit stops the task; set essential: false"
                )
            if "COMPLETE" in conditions:
                notes.append(
                    f"dependsOn COMPLETE on {c.name!r} is enforced as SUCCESS (a Kubernetes init container must exit 0)"
                )
            kinds[c.name] = Kind.INIT
        elif conditions & {"START", "HEALTHY"} or (not essential and not run_once):
            kinds[c.name] = Kind.SIDECAR
        else:
            kinds[c.name] = Kind.MAIN

    _keep_a_regular_container(containers, kinds, notes)
    healthy_gates = {n for n in names if "HEALTHY" in waits[n] and kinds[n] is Kind.SIDECAR}
    for name in sorted(healthy_gates):
        check = by_name[name].healthCheck
        if check is None:
            raise TranslationError(
                f"dependsOn HEALTHY on {name!r}, but containerDefinitions[{name}] has no healthCheck"
            )
        if check.command and not probe_command(check.command, f"containerDefinitions[{name}].healthCheck.command"):
            waiting = sorted(c.name for c in containers if any(d.containerName == name for d in c.dependsOn or []))
            raise TranslationError(
                f"containerDefinitions[{name}].healthCheck.command {check.command!r} runs no health check (NONE, or "
                f"neither CMD nor CMD-SHELL, which Docker ignores), so it never becomes HEALTHY and {waiting} "
                'waiting for it would never start; expected ["CMD", executable, ...] or ["CMD-SHELL", script]'
            )

    deps = {n: [d.containerName for d in by_name[n].dependsOn or []] for n in names}
    init_order = _topological([n for n in names if kinds[n] is not Kind.MAIN], deps)
    return Ordering(
        kinds=kinds,
        init_order=init_order,
        # the kubelet starts regular containers one after another in this order
        main_order=_topological([n for n in names if kinds[n] is Kind.MAIN], deps),
        healthy_gates=healthy_gates,
        notes=notes,
    )


def _keep_a_regular_container(
    containers: Sequence[ContainerDefinition], kinds: dict[str, Kind], notes: list[str]
) -> None:
    """A pod needs at least one regular container, and an essential one: the kubelet stops
    the sidecars once every regular container has exited, so a task whose essential
    containers were all sidecars would end with its non-essential ones.

    When every essential container is something others wait for, the essential ones become
    regular containers, and so does every container that waits for a regular container
    (an init container or sidecar cannot start after one). Those waits are then only the
    kubelet's start order, not a gate: said in the notes.
    """
    if any(kinds[c.name] is Kind.MAIN and c.essential is not False for c in containers):
        return
    for c in containers:
        if c.essential is not False:
            kinds[c.name] = Kind.MAIN
    changed = True
    while changed:
        changed = False
        for c in containers:
            if kinds[c.name] is Kind.MAIN:
                continue
            if any(kinds.get(d.containerName) is Kind.MAIN for d in c.dependsOn or []):
                kinds[c.name] = Kind.MAIN
                changed = True
    for c in containers:
        for dep in c.dependsOn or []:
            if kinds[c.name] is Kind.MAIN and kinds.get(dep.containerName) is Kind.MAIN:
                notes.append(
                    f"dependsOn {dep.condition} of {c.name!r} on {dep.containerName!r}: both are regular containers, "
                    "started in order but not held back"
                )


def _topological(names: list[str], deps: dict[str, list[str]]) -> list[str]:
    """Stable topological order (Kahn, picking the earliest ready container in ECS order)."""
    remaining = list(names)
    placed: list[str] = []
    done: set[str] = set()
    while remaining:
        for name in remaining:
            if all(d in done or d not in names for d in deps.get(name, [])):
                placed.append(name)
                done.add(name)
                remaining.remove(name)
                break
        else:
            cycle = _cycle(remaining, deps)
            raise TranslationError(
                f"containerDefinitions[{cycle[0]}].dependsOn: the containers wait for each other in a cycle "
                f"({' -> '.join(cycle)}, each waiting for the next); expected dependencies without a cycle"
            )
    return placed


def _cycle(remaining: list[str], deps: dict[str, list[str]]) -> list[str]:
    """One cycle among the containers no order could place, from the first of them back to itself."""
    path = [remaining[0]]
    while True:
        following = next(d for d in deps.get(path[-1], []) if d in remaining)
        if following in path:
            return [*path[path.index(following) :], following]
        path.append(following)
