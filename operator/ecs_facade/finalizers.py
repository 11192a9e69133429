"""``ecs-facade remove-finalizers``: the operator's finalizer taken off every ECS object, for
when the operator is gone for good (uninstalled, or it cannot run) and objects or their CRDs
are left being deleted for ever.

kopf puts the operator's finalizer (``api.FINALIZER``) on the objects whose deletion the
operator must see: every ECSCluster (its deletion is held while services or running tasks
remain, and it releases the nodes its ``instanceSelector`` labelled) and every STOPPED
ECSTask (its retention timer must stop first). ECSServices and ECSTaskDefinitions get none
(their children go with them through owner references). While the operator runs it removes
the finalizer itself once it has done its part, also for objects deleted while it was down;
without it nothing does, and deleting a CRD waits until every object of the kind is gone
(charts/ecs-facade/README.md, "Uninstalling").

Only ecs-facade's own finalizer is removed, never another controller's, and only from the
finalizers the object has when the patch lands (a ``test`` of the list first: a change
meanwhile is read again)."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException

from ecs_facade.api import API_VERSION, CLUSTERS, FINALIZER, SERVICES, TASK_DEFINITIONS, TASKS

# every ECS kind, the cluster-scoped one first: what holds a cluster's deletion goes with it
KINDS: tuple[str, ...] = (CLUSTERS, TASKS, SERVICES, TASK_DEFINITIONS)
ATTEMPTS = 5  # reads and patches of one object that keeps changing under the patch


def finalizer_patch(obj: Mapping[str, Any], finalizer: str = FINALIZER) -> list[dict[str, Any]] | None:
    """The JSON patch that takes ``finalizer`` off the object's finalizers, provided they
    are still what was read; None when it has none to take off."""
    current = list((obj.get("metadata") or {}).get("finalizers") or [])
    if finalizer not in current:
        return None
    return [
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {"op": "replace", "path": "/metadata/finalizers", "value": [f for f in current if f != finalizer]},
    ]


class Api(Protocol):
    """The calls this needs (kube/client.py's; a fake in the unit tests)."""

    def list_everywhere(self, api_version: str, plural: str) -> list[dict[str, Any]] | None: ...

    def get_any(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def json_patch(
        self, api_version: str, plural: str, namespace: str | None, name: str, operations: Sequence[Mapping[str, Any]]
    ) -> None: ...


@dataclass(frozen=True)
class Found:
    """An object that had the finalizer: ``kind/name`` or ``kind/namespace/name``."""

    plural: str
    namespace: str | None
    name: str
    deleting: bool  # being deleted: without the finalizer it goes now

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.plural}/{where}{self.name}"


def remove_finalizers(api: Api, dry_run: bool = False, say: Callable[[str], None] = print) -> list[Found]:
    """Take the finalizer off every ECS object that has it (``dry_run``: only say which);
    kinds the API server does not serve are skipped. Returns what had it."""
    done: list[Found] = []
    for plural in KINDS:
        objects = api.list_everywhere(API_VERSION, plural)
        if objects is None:
            say(f"{plural}: not served (no CRD), skipped")
            continue
        for obj in objects:
            meta = obj.get("metadata") or {}
            if finalizer_patch(obj) is None:
                continue
            found = Found(plural, meta.get("namespace") or None, meta["name"], bool(meta.get("deletionTimestamp")))
            if dry_run:
                say(f"{found}: has the finalizer{' (being deleted)' if found.deleting else ''}")
            elif _remove(api, found, obj):
                say(f"{found}: finalizer removed{' (being deleted: it goes now)' if found.deleting else ''}")
            else:
                continue
            done.append(found)
    verb = "would be removed from" if dry_run else "removed from"
    say(f"{FINALIZER} {verb} {len(done)} object(s)")
    return done


def _remove(api: Api, found: Found, obj: Mapping[str, Any]) -> bool:
    """Whether the finalizer was taken off (False: the object went, or lost it meanwhile)."""
    current: Mapping[str, Any] | None = obj
    for _ in range(ATTEMPTS):
        patch = finalizer_patch(current) if current is not None else None
        if patch is None:
            return False
        try:
            api.json_patch(API_VERSION, found.plural, found.namespace, found.name, patch)
            return True
        except ApiException as error:
            if error.status == 404:
                return False
            if error.status not in (409, 422):  # 422: the test failed, the finalizers changed
                raise
        current = api.get_any(API_VERSION, found.plural, found.namespace, found.name)
    raise RuntimeError(f"{found}: its finalizers kept changing; {ATTEMPTS} attempts")
