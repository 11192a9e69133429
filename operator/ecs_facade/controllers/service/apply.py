"""The apply: the plan's objects written with server-side apply (a new workload with a POST,
its fields taken over first: kube/managed_fields.py), nothing when the workload carries this
plan's digest and nobody else changed it; the count handed to the HPA.

The workload's other objects (service accounts, Services and a REPLICA service's
PodDisruptionBudget) go first, so that the digest on the workload vouches for all of them: a
workload that carries it had them in place before it was written, and an operator killed
between the two applies them again after its restart (the digest on the workload is the old
one). A new service's tasks are protected by their budget from the moment they exist:
`kubectl drain`, a cluster autoscaler or the operator's own draining keep
minimumHealthyPercent in the service's first seconds too."""

import copy
import json
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from ecs_facade.api import FIELD_MANAGER, GROUP
from ecs_facade.controllers.indexes import (
    Snapshot,
)
from ecs_facade.controllers.service.children import note_children
from ecs_facade.controllers.service.plan import Plan
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from ecs_facade.kube.managed_fields import as_applied, created_by_update
from ecs_facade.model.taskdefinition import content_hash
from ecs_facade.translate.autoscaling import HPA_API_VERSION

# Co-owns a Deployment's spec.replicas for the moment the operator gives the count to the
# HorizontalPodAutoscaler: server-side apply would reset a field its only owner stops applying.
HANDOVER_MANAGER = "ecs-facade-replicas-handover"


ANNOTATION_APPLIED = f"{GROUP}/applied-digest"


def _digest(plan: "Plan") -> str:
    """What the workload's annotation vouches for: the workload, its other objects (the
    disruption budget among them) and the HPA."""
    return content_hash({"workload": plan.workload.manifest, "extra": plan.extra, "autoscaler": plan.autoscaler})


def _generation(workload: Mapping[str, Any] | None) -> int | None:
    generation = ((workload or {}).get("metadata") or {}).get("generation")
    return int(generation) if generation is not None else None


def unchanged(
    state: OperatorState,
    service: Snapshot,
    plan: "Plan",
    workload: Mapping[str, Any] | None,
    hpa: Mapping[str, Any] | None,
) -> bool:
    key = (service.namespace, service.name, service.uid)
    if key not in state.services.applied and _applied_before(plan, workload, hpa):
        # a restart: what runs is what this operator applied last, and nobody edited it since
        state.services.applied[key] = (_digest(plan), _generation(workload), _generation(hpa))
        note_children(state, key, plan.extra)
        return True
    """Nothing to apply: the desired objects are what this operator applied last, and nobody
    changed the workload's (or its HPA's) spec since (a generation would have moved). Saves a
    request per status event of the workload; hand edits and deletions still get applied over."""
    applied = (_digest(plan), _generation(workload), _generation(hpa))
    return state.services.applied.get(key) == applied


def _applied_before(plan: "Plan", workload: Mapping[str, Any] | None, hpa: Mapping[str, Any] | None) -> bool:
    """The workload carries the digest of this very plan, and only this operator (and the HPA,
    through the scale subresource) changed its spec and its HPA's spec."""
    if workload is None or (plan.autoscaler is not None) != (hpa is not None):
        return False
    annotations = (workload.get("metadata") or {}).get("annotations") or {}
    if annotations.get(ANNOTATION_APPLIED) != _digest(plan):
        return False
    return not _edited_by_others(workload) and not (hpa is not None and _edited_by_others(hpa))


def _edited_by_others(obj: Mapping[str, Any]) -> bool:
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        manager, subresource = entry.get("manager"), entry.get("subresource")
        if manager in (FIELD_MANAGER, HANDOVER_MANAGER) or subresource == "status":
            continue
        if subresource == "scale" and manager == "kube-controller-manager":
            continue  # the HPA moving the count it owns
        if "f:spec" in (entry.get("fieldsV1") or {}) or subresource == "scale":
            return True
    return False


class AutoscalerRefused(Exception):
    """The API server refused the HPA built from spec.autoScaling (a 422): the spec is invalid."""


def apply_workload(
    state: OperatorState,
    service: Snapshot,
    plan: "Plan",
    plural: str,
    live: Mapping[str, Any] | None,
    autoscaler_exists: bool,
) -> dict[str, Any]:
    # what the tasks need to start (service accounts, Services) and what protects them (the
    # disruption budget) go first: the workload's digest then vouches for them (above)
    for extra in plan.extra:
        kube.apply_any(extra)
    note_children(state, (service.namespace, service.name, service.uid), plan.extra)
    # the digest of what is applied, on the workload: after a restart it tells that nothing changed
    digest = _digest(plan)
    manifest = copy.deepcopy(plan.workload.manifest)
    manifest["metadata"].setdefault("annotations", {})[ANNOTATION_APPLIED] = digest
    key, api_version = (service.namespace, service.name, service.uid), str(manifest["apiVersion"])
    current: Mapping[str, Any] | None = None
    if live is None and plan.autoscaler is None and not autoscaler_exists and not service.status.get("autoScaling"):
        # a new workload: a POST, which the API server answers sooner than an apply that creates
        created = kube.create(manifest, plural)
        if created is not None:
            state.services.applied[key] = (digest, _generation(created), None)
            return created
        # there already (the index has not shown it yet): as this plan made it, nothing to do
        current = live = kube.get(api_version, plural, service.namespace, service.name)
        if current is not None and _applied_before(plan, current, None):
            state.services.applied[key] = (digest, _generation(current), None)
            return dict(current)
    if live is not None and created_by_update(live["metadata"].get("managedFields") or [], FIELD_MANAGER):
        _own_as_applied(api_version, plural, service.namespace, service.name, current)
    hpa = _apply_autoscaler(service, plan, plural, manifest, live, autoscaler_exists)
    workload = kube.apply(manifest, plural)
    if created_by_update(workload["metadata"].get("managedFields") or [], FIELD_MANAGER):
        # created by a POST that the index did not show yet: what this apply left out stayed
        _own_as_applied(api_version, plural, service.namespace, service.name, workload)
        workload = kube.apply(manifest, plural)
    if plan.autoscaler is not None and owns_replicas(workload):
        # just created with its initial count: give the count away now
        _hand_over_replicas(manifest, workload, plan.autoscaler)
        manifest = {**manifest, "spec": {k: v for k, v in manifest["spec"].items() if k != "replicas"}}
        workload = kube.apply(manifest, plural)
    state.services.applied[key] = (digest, _generation(workload), _generation(hpa))
    return workload


def _apply_autoscaler(
    service: Snapshot,
    plan: "Plan",
    plural: str,
    manifest: Mapping[str, Any],
    live: Mapping[str, Any] | None,
    autoscaler_exists: bool,
) -> dict[str, Any] | None:
    """The HPA, before the workload: applied (the count handed over to it), or deleted when
    spec.autoScaling went. Raises AutoscalerRefused: then nothing else changes."""
    hpa = None
    if plan.autoscaler is not None:
        # the HPA first: if the API server refuses it, nothing else changes
        try:
            hpa = kube.apply_any(plan.autoscaler)
        except ApiException as error:
            if error.status == 422:
                raise AutoscalerRefused(_refusal(error)) from error
            raise
        if live is not None:
            # decide on the object as it is now: the index may not show the last apply yet
            current = kube.get("apps/v1", plural, service.namespace, service.name)
            if current is not None and owns_replicas(current):
                _hand_over_replicas(manifest, current, plan.autoscaler)
    elif autoscaler_exists or service.status.get("autoScaling") is not None:
        # autoScaling removed: the HPA goes first, then the count is desiredCount's again
        kube.delete(HPA_API_VERSION, "horizontalpodautoscalers", service.namespace, service.name)
    return hpa


def _own_as_applied(
    api_version: str, plural: str, namespace: str, name: str, current: Mapping[str, Any] | None = None
) -> None:
    """Before the first apply to a workload created with a POST: its fields become the
    operator's applied ones (kube/managed_fields.py), so that the apply removes what it no
    longer sets. One GET (none if ``current`` is the object as it is) and one write in a
    workload's life, at its first change; read again if the object moved on meanwhile (the
    Deployment controller writes its status often)."""
    for attempt in range(3):
        if current is None:  # (the index's copy has no field sets)
            current = kube.get(api_version, plural, namespace, name)
        if current is None:
            return  # deleted meanwhile: the apply creates it
        meta = current["metadata"]
        managed = as_applied(meta.get("managedFields") or [], FIELD_MANAGER)
        if managed is None:
            return
        try:
            kube.replace_managed_fields(api_version, plural, namespace, name, str(meta["resourceVersion"]), managed)
            return
        except ApiException as error:
            if error.status == 404:
                return
            if error.status not in (409, 422) or attempt == 2:
                raise
            current = None  # moved on: read it again


def _refusal(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)


def owns_replicas(workload: Mapping[str, Any], manager: str = FIELD_MANAGER) -> bool:
    """Whether ``manager``'s server-side apply owns the workload's spec.replicas."""
    return any(
        entry.get("manager") == manager
        and entry.get("operation") == "Apply"
        and "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
        for entry in (workload.get("metadata") or {}).get("managedFields") or []
    )


def _hand_over_replicas(manifest: Mapping[str, Any], live: Mapping[str, Any], hpa: Mapping[str, Any]) -> None:
    """Keep the current count while the operator's own apply stops owning it: a second field
    manager applies just spec.replicas; the HPA's first scaling takes it from that one.

    The count is put inside the HPA's range first: an HPA does nothing for a target at zero
    replicas, and moves any other count into its range anyway."""
    replicas = int((live.get("spec") or {}).get("replicas") or 0)
    replicas = max(int(hpa["spec"]["minReplicas"]), min(int(hpa["spec"]["maxReplicas"]), replicas))
    kube.apply(
        {
            "apiVersion": manifest["apiVersion"],
            "kind": manifest["kind"],
            "metadata": {"name": manifest["metadata"]["name"], "namespace": manifest["metadata"]["namespace"]},
            "spec": {"replicas": replicas},
        },
        "deployments",
        field_manager=HANDOVER_MANAGER,
    )
