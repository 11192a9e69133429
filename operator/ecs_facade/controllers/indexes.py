"""In-memory indexes that kopf keeps current from its watches.

Handlers look up task definitions and services here instead of listing them from the API.
"""

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from ecs_facade.api import GROUP, SERVICES, TASK_DEFINITIONS, VERSION
from ecs_facade.model.references import parse_task_definition_ref


@dataclass(frozen=True)
class Snapshot:
    """What a handler needs of an object, copied out of the watch event."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


def snapshot(body: kopf.Body) -> Snapshot:
    meta = body.get("metadata", {})
    return Snapshot(
        name=meta["name"],
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        spec=copy.deepcopy(dict(body.get("spec") or {})),
        status=copy.deepcopy(dict(body.get("status") or {})),
    )


def family_of(name: str, spec: Mapping[str, Any]) -> str:
    """``family`` defaults to the object's name."""
    return str(spec.get("family") or name)


@kopf.index(GROUP, VERSION, TASK_DEFINITIONS)
def task_definitions(
    name: str, namespace: str | None, body: kopf.Body, **_: Any
) -> dict[tuple[str, str], Snapshot]:
    return {(namespace or "", family_of(name, body.get("spec") or {})): snapshot(body)}


@kopf.index(GROUP, VERSION, SERVICES)
def services(name: str, namespace: str | None, body: kopf.Body, **_: Any) -> dict[tuple[str, str], Snapshot]:
    return {(namespace or "", name): snapshot(body)}


@kopf.index(GROUP, VERSION, SERVICES)
def services_by_family(
    name: str, namespace: str | None, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str], str] | None:
    try:
        ref = parse_task_definition_ref(str(spec.get("taskDefinition", "")))
    except ValueError:
        return None
    return {(namespace or "", ref.family): name}


def one(index: kopf.Index[Any, Any], key: Any) -> Any | None:
    """The single value under ``key``, or None.

    Several task definitions of one family (by ``family`` or name) resolve to the one named
    like the family, else the first by name, so the choice is stable.
    """
    store = index.get(key)
    if not store:
        return None
    values = list(store)
    if len(values) == 1:
        return values[0]
    named = [v for v in values if isinstance(v, Snapshot) and v.name == key[-1]]
    return named[0] if named else sorted(values, key=lambda v: getattr(v, "name", ""))[0]
