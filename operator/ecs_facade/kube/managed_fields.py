"""A workload created with a plain create (POST) made owned by the operator's server-side apply.

A new workload is created with a POST: under a burst of new services the API server answers
a create in about half the time of a server-side apply that creates (docs/performance.md).
A POST records its fields as the field manager's *Update*; the operator's later applies are
*Apply*, a separate owner, and a field that a later apply leaves out would stay, owned by
the Update. Before the first apply to such a workload, the Update's fields are moved into
the Apply entry (as `kubectl apply --server-side` does when it takes over from client-side
apply), so that applies remove what they no longer set.

Pure functions on managedFields; the request that writes them is in controllers/service/apply.py.
"""

from collections.abc import Mapping, Sequence
from typing import Any

APPLY, UPDATE = "Apply", "Update"


def created_by_update(managed: Sequence[Mapping[str, Any]], manager: str) -> bool:
    """``manager`` owns fields of the object (not of a subresource) through an Update."""
    return any(_is_update_of(entry, manager) for entry in managed)


def as_applied(managed: Sequence[Mapping[str, Any]], manager: str) -> list[dict[str, Any]] | None:
    """``managed`` with ``manager``'s Update entry merged into its Apply entry (made one if it
    has none, where the Update was); None when there is no such Update. Other managers'
    entries, and the manager's entries of subresources, are kept as they are."""
    updates = [entry for entry in managed if _is_update_of(entry, manager)]
    if not updates:
        return None
    fields: dict[str, Any] = {}
    for entry in updates:
        fields = union(fields, entry.get("fieldsV1") or {})
    result: list[dict[str, Any]] = []
    applied = False
    for entry in managed:
        if _is_update_of(entry, manager):
            if not applied and not any(_is_apply_of(e, manager) for e in managed):
                result.append({**entry, "operation": APPLY, "fieldsV1": fields})
                applied = True
            continue
        if _is_apply_of(entry, manager) and not applied:
            result.append({**entry, "fieldsV1": union(entry.get("fieldsV1") or {}, fields)})
            applied = True
            continue
        result.append(dict(entry))
    return result


def union(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Two FieldsV1 sets as one (each is a tree of ``f:``/``k:``/``v:``/``i:`` keys and ``.``)."""
    merged = dict(a)
    for key, value in b.items():
        mine = merged.get(key)
        merged[key] = union(mine, value) if isinstance(mine, Mapping) and isinstance(value, Mapping) else value
    return merged


def _is_update_of(entry: Mapping[str, Any], manager: str) -> bool:
    return entry.get("manager") == manager and entry.get("operation") == UPDATE and not entry.get("subresource")


def _is_apply_of(entry: Mapping[str, Any], manager: str) -> bool:
    return entry.get("manager") == manager and entry.get("operation") == APPLY and not entry.get("subresource")
