"""Reads, server-side apply and status writes, with one field manager."""

import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import orjson
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from ecs_facade import __version__
from ecs_facade.api import FIELD_MANAGER
from ecs_facade.config import kubeconfig_path
from ecs_facade.metrics import REST_REQUESTS

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

_lock = threading.Lock()
logger = logging.getLogger(__name__)


class _CountingApiClient(client.ApiClient):
    """Counts every request by method and status code (rest_client_requests_total); a write
    asks the write fence first (``set_write_fence``); every request that names no timeout gets
    the operator's (``set_timeouts``): the client's generated API methods (and the leader
    election's) pass ``_request_timeout=None`` unless told, and the client has no default of
    its own, so a stalled connection would hold the calling thread for ever."""

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if method != "GET" and _Connection.fence is not None:
            _Connection.fence()  # raises when this replica does not lead (leader.py)
        if len(args) < 4 and kwargs.get("_request_timeout") is None:  # (headers, body, post_params, timeout)
            kwargs["_request_timeout"] = _Connection.timeout
        try:
            response = super().call_api(method, url, *args, **kwargs)
        except Exception:
            REST_REQUESTS.labels(method, "<error>").inc()  # no response: connection or timeout
            raise
        REST_REQUESTS.labels(method, str(getattr(response, "status", ""))).inc()
        return response


class _Connection:
    """The cached API client: the process's connection to the API server (its credentials
    and its pool of connections), made once and shared by every thread. Not the operator's
    memory, which lives in controllers/state.py: a test that runs several operators in one
    process keeps one connection."""

    api: client.ApiClient | None = None
    # one connection per worker thread (kopf's and the service queue's), kept: the library's
    # default pool (5 per core) is smaller, and every extra connection was a new TLS
    # handshake per request; 0 (a command of the CLI, one request at a time): the default
    workers = 0
    # with leader election, the leader's check that it still holds the Lease (leader.py,
    # LeaderElector.check): every write asks it, so that a replica past its renew deadline
    # (a frozen process that resumed) sends none
    fence: Callable[[], None] | None = None
    # (connect, read) seconds of every request that names no timeout of its own: Config's
    # defaults until the operator's settings are read (set_timeouts)
    timeout: tuple[float, float] = (5.0, 30.0)


def set_write_fence(check: Callable[[], None] | None) -> None:
    """Every write through this module's clients calls ``check`` first; it raises to refuse."""
    _Connection.fence = check


def retries() -> urllib3.Retry:
    """What urllib3 may repeat by itself: a connection that could not be made, once; a
    redirect never; the API server's "429/503 Retry-After" (priority and fairness) as it
    asks. Never a read that failed or timed out (urllib3's default repeats a GET's three
    times, so one call could wait four read timeouts): the caller's retry, with its backoff,
    does that, and no call waits longer than ``2 * connect + read`` seconds."""
    return urllib3.Retry(total=3, connect=1, read=False, redirect=0)


def size_pool(workers: int) -> None:
    """At start-up, before the first request: the pool holds a connection per worker thread
    (``workers``: kopf's and the service queue's). A client made already keeps its pool."""
    with _lock:
        _Connection.workers = workers


def set_timeouts(connect: float, read: float) -> None:
    """At start-up (the operator's settings, config.py): the connect and read timeouts of
    every request that names none of its own, from then on (clients made already too)."""
    with _lock:
        _Connection.timeout = (connect, read)


def timeouts() -> tuple[float, float]:
    """(connect, read) seconds, as ``set_timeouts`` set them."""
    return _Connection.timeout


def api_client() -> client.ApiClient:
    """The operator's client (its credentials, its pool, its timeouts and retries): what the
    leader election's Lease calls go through too."""
    return _api_client()


def _api_client() -> client.ApiClient:
    """In-cluster credentials when running as a pod, else the kubeconfig ($KUBECONFIG)."""
    made = _Connection.api
    if made is not None:
        return made
    with _lock:
        if _Connection.api is not None:
            return _Connection.api
        configuration = client.Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException:
            # $KUBECONFIG is read now, not when the client library was imported
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig_path(), client_configuration=configuration
            )
        workers = _Connection.workers
        pool = max(configuration.connection_pool_maxsize, workers + 4)
        configuration.connection_pool_maxsize = pool
        configuration.retries = retries()
        api = _CountingApiClient(configuration)
        api.user_agent = f"ecs-facade/{__version__}"
        _Connection.api = api
        return api


@functools.cache
def watch_client() -> client.ApiClient:
    """A client of its own for long-lived watches (kube/informer.py), so that they do not
    hold connections of the workers' pool."""
    api = _CountingApiClient(_api_client().configuration)
    api.user_agent = f"ecs-facade/{__version__}"
    return api


def _call(
    method: str,
    path: str,
    body: Any = None,
    query: Sequence[tuple[str, str]] = (),
    content_type: str = "application/json",
    accept: str = "application/json",
) -> bytes:
    """One request past the client's generated API methods, for the hot paths (status
    patches, applies, Events): those validate every argument with pydantic first, on every
    call, for a dict body that passes anyway (docs/performance.md)."""
    api = _api_client()
    request = api.param_serialize(
        method,
        path,
        query_params=list(query),
        header_params={"Accept": accept, "Content-Type": content_type},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*request)
    data = cast(bytes, response.read())  # type: ignore[no-untyped-call]
    if not 200 <= response.status <= 299:
        raise ApiException(http_resp=response)
    return data


def _objects() -> client.CustomObjectsApi:
    # CustomObjectsApi addresses /apis/<group>/<version>/..., which serves every named
    # group (apps, autoscaling, ecs.facade.dev, ...) as plain dicts.
    return client.CustomObjectsApi(_api_client())


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    if not group:
        raise ValueError(f"core group {api_version!r} objects are not served by this helper")
    return group, version


def get(api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    """The object, or None when it does not exist."""
    group, version = _group_version(api_version)
    try:
        found = _objects().get_namespaced_custom_object(group, version, namespace, plural, name)
        return cast(dict[str, Any], found)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


class NamespaceTerminating(Exception):
    """The namespace is being deleted: nothing can be created in it any more."""


def _terminating(error: ApiException) -> bool:
    return error.status == 403 and "being terminated" in str(error.body or "")


def apply(manifest: Mapping[str, Any], plural: str, field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
    """Server-side apply as the operator's field manager, taking over conflicting fields.

    Applying an unchanged manifest is a no-op on the server (no new resourceVersion).
    Raises NamespaceTerminating when the namespace is going away.
    """
    group, version = _group_version(str(manifest["apiVersion"]))
    meta = manifest["metadata"]
    try:
        return _apply(group, version, plural, meta, manifest, field_manager)
    except ApiException as error:
        if _terminating(error):
            raise NamespaceTerminating(meta["namespace"]) from error
        raise


def _apply(
    group: str, version: str, plural: str, meta: Mapping[str, Any], manifest: Mapping[str, Any], field_manager: str
) -> dict[str, Any]:
    # the raw response: the client deserializes only a 200, and an apply that creates the
    # object answers 201 (with the object, which would otherwise take a GET to read)
    data = _call(
        "PATCH",
        f"/apis/{group}/{version}/namespaces/{meta['namespace']}/{plural}/{meta['name']}",
        dict(manifest),
        [("fieldManager", field_manager), ("force", "true")],
        APPLY_PATCH,
    )
    return cast(dict[str, Any], orjson.loads(data))


def replace_managed_fields(
    api_version: str,
    plural: str,
    namespace: str,
    name: str,
    resource_version: str,
    managed: Sequence[Mapping[str, Any]],
) -> None:
    """Set the object's managedFields as given, if it is still at ``resource_version`` (a JSON
    patch that changes nothing else: the API server takes managedFields as sent then).
    Raises ApiException 409 or 422 when the object moved on meanwhile."""
    group, version = _group_version(api_version)
    _call(
        "PATCH",
        f"/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "replace", "path": "/metadata/managedFields", "value": [dict(entry) for entry in managed]},
        ],
        [("fieldManager", FIELD_MANAGER)],
        JSON_PATCH,
    )


def create(manifest: Mapping[str, Any], plural: str) -> dict[str, Any] | None:
    """Create the object (a POST as the operator's field manager: its fields are owned by an
    Update, see kube/managed_fields.py); None when one of that name exists already.
    Raises NamespaceTerminating when the namespace is going away."""
    group, version = _group_version(str(manifest["apiVersion"]))
    meta = manifest["metadata"]
    try:
        data = _call(
            "POST",
            f"/apis/{group}/{version}/namespaces/{meta['namespace']}/{plural}",
            dict(manifest),
            [("fieldManager", FIELD_MANAGER)],
        )
    except ApiException as error:
        if error.status == 409:
            return None
        if _terminating(error):
            raise NamespaceTerminating(meta["namespace"]) from error
        raise
    return cast(dict[str, Any], orjson.loads(data))


def apply_core(manifest: Mapping[str, Any]) -> None:
    """Server-side apply of a core-group (``v1``) namespaced object, e.g. a ServiceAccount."""
    core = client.CoreV1Api(_api_client())
    patchers = {
        "ServiceAccount": core.patch_namespaced_service_account,
        "Service": core.patch_namespaced_service,
        "Pod": core.patch_namespaced_pod,
    }
    meta = manifest["metadata"]
    try:
        patchers[str(manifest["kind"])](
            meta["name"],
            meta["namespace"],
            dict(manifest),
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY_PATCH,
        )
    except ApiException as error:
        if _terminating(error):
            raise NamespaceTerminating(meta["namespace"]) from error
        raise


REPORTING_COMPONENT = "ecs-facade"  # the "From" of `kubectl describe` (kopf's own Events say the same)
MAX_EVENT_MESSAGE = 1024


def event_body(involved: Mapping[str, Any], type_: str, reason: str, message: str, at: str) -> dict[str, Any]:
    """A core/v1 Event about ``involved`` (apiVersion, kind, name, namespace, uid), as kopf
    posts them: a message longer than the API server takes is cut in its middle."""
    if len(message) > MAX_EVENT_MESSAGE:
        half = (MAX_EVENT_MESSAGE - 3) // 2
        message = f"{message[:half]}...{message[-half:]}"
    namespace = str(involved.get("namespace") or "default")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"namespace": namespace, "generateName": f"{involved.get('name')}."},
        "involvedObject": {k: involved[k] for k in ("apiVersion", "kind", "name", "namespace", "uid") if k in involved},
        "type": type_,
        "reason": reason,
        "message": message,
        "action": reason,
        "reportingComponent": REPORTING_COMPONENT,
        "reportingInstance": REPORTING_COMPONENT,
        "source": {"component": REPORTING_COMPONENT},
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
    }


def post_event(involved: Mapping[str, Any], type_: str, reason: str, message: str, at: str) -> None:
    """Post an Event from a worker thread (kopf.event() needs kopf's queue, which only its
    own handlers' context carries). A failure is logged, not raised: an Event is not worth
    repeating a reconcile for."""
    body = event_body(involved, type_, reason, message, at)
    try:
        _call("POST", f"/api/v1/namespaces/{body['metadata']['namespace']}/events", body)
    except ApiException as error:
        logger.warning("posting the event %r about %s failed: %s", reason, involved.get("name"), error.reason)
    except urllib3.exceptions.HTTPError as error:  # timed out, connection refused or dropped
        logger.warning("posting the event %r about %s failed: %s", reason, involved.get("name"), error)


def patch_status(api_version: str, plural: str, namespace: str, name: str, status: Mapping[str, Any]) -> None:
    """Merge-patch the status subresource (lists such as conditions are replaced whole)."""
    group, version = _group_version(api_version)
    try:
        _call(  # the whole object comes back; nobody reads it
            "PATCH",
            f"/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}/status",
            {"status": dict(status)},
            [("fieldManager", FIELD_MANAGER)],
            MERGE_PATCH,
        )
    except ApiException as error:
        if error.status != 404:  # deleted meanwhile: nothing to report on
            raise


def delete_pod(namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
    """Delete a pod (its containers get SIGTERM, then SIGKILL after the grace period)."""
    try:
        client.CoreV1Api(_api_client()).delete_namespaced_pod(
            name, namespace, grace_period_seconds=grace_period_seconds
        )
    except ApiException as error:
        if error.status != 404:
            raise


def delete(api_version: str, plural: str, namespace: str, name: str) -> None:
    group, version = _group_version(api_version)
    try:
        _objects().delete_namespaced_custom_object(group, version, namespace, plural, name)
    except ApiException as error:
        if error.status != 404:
            raise


# --- cluster-scoped ECS objects (ECSCluster) and nodes


def get_cluster_scoped(api_version: str, plural: str, name: str) -> dict[str, Any] | None:
    group, version = _group_version(api_version)
    try:
        return cast(dict[str, Any], _objects().get_cluster_custom_object(group, version, plural, name))
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def create_cluster_scoped(manifest: Mapping[str, Any], plural: str) -> dict[str, Any] | None:
    """Create a cluster-scoped object; None when one of that name exists already."""
    group, version = _group_version(str(manifest["apiVersion"]))
    try:
        created = _objects().create_cluster_custom_object(
            group, version, plural, dict(manifest), field_manager=FIELD_MANAGER
        )
    except ApiException as error:
        if error.status == 409:
            return None
        raise
    return cast(dict[str, Any], created)


def patch_cluster_scoped_status(api_version: str, plural: str, name: str, status: Mapping[str, Any]) -> None:
    group, version = _group_version(api_version)
    try:
        _objects().patch_cluster_custom_object_status(
            group, version, plural, name, {"status": dict(status)}, _content_type=MERGE_PATCH
        )
    except ApiException as error:
        if error.status != 404:
            raise


def patch_node(name: str, patch: Mapping[str, Any]) -> None:
    """Merge-patch a node (labels, annotations, spec.unschedulable); a ``None`` value removes a key."""
    try:
        client.CoreV1Api(_api_client()).patch_node(name, dict(patch), field_manager=FIELD_MANAGER)
    except ApiException as error:
        if error.status != 404:
            raise


def evict_pod(namespace: str, name: str) -> bool:
    """Ask for an eviction (the API server checks the pod's disruption budgets).

    True when the pod is being evicted or is gone; False when a budget refuses it for now.
    """
    body: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
    }
    try:
        client.CoreV1Api(_api_client()).create_namespaced_pod_eviction(name, namespace, body)  # type: ignore[arg-type]
    except ApiException as error:
        if error.status == 404:
            return True
        if error.status == 429:  # a PodDisruptionBudget allows no disruption now
            return False
        raise
    return True


def patch_pod(namespace: str, name: str, patch: Mapping[str, Any]) -> None:
    """A merge patch of a pod, e.g. to set its node affinity and lift a scheduling gate."""
    try:
        client.CoreV1Api(_api_client()).patch_namespaced_pod(
            name, namespace, dict(patch), field_manager=FIELD_MANAGER, _content_type=MERGE_PATCH
        )
    except ApiException as error:
        if error.status != 404:
            raise


# a list's items as metadata only (PartialObjectMetadataList): names, not specs and statuses
_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def list_names(
    api_version: str, plural: str, label_selector: str, namespace: str | None = None, page: int = 500
) -> set[tuple[str, str]]:
    """(namespace, name) of every object of a kind with these labels (in ``namespace``, or in
    all), read as metadata only and page by page: what is there, at the cost of its names."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    found: set[tuple[str, str]] = set()
    token = ""
    while True:
        query = [("labelSelector", label_selector), ("limit", str(page))] + ([("continue", token)] if token else [])
        listed = orjson.loads(_call("GET", path, query=query, accept=_METADATA_LIST))
        for item in listed.get("items") or []:
            meta = item.get("metadata") or {}
            found.add((str(meta.get("namespace") or ""), str(meta.get("name"))))
        token = (listed.get("metadata") or {}).get("continue") or ""
        if not token:
            return found


def failed_creates(namespace: str, uid: str) -> list[dict[str, Any]]:
    """The Warning Events "FailedCreate" about one object (its uid): a DaemonSet's pods that
    the API server refused (views/refusals.py)."""
    selector = f"involvedObject.uid={uid},reason=FailedCreate"
    # resourceVersion 0: from the API server's watch cache, not a read of every Event from etcd
    query = [("fieldSelector", selector), ("resourceVersion", "0")]
    listed = orjson.loads(_call("GET", f"/api/v1/namespaces/{namespace}/events", query=query))
    return cast(list[dict[str, Any]], listed.get("items") or [])


def list_nodes() -> list[dict[str, Any]]:
    """Every node as a plain dict (for the CLI; the operator reads nodes from its index)."""
    api = _api_client()
    nodes = client.CoreV1Api(api).list_node()
    return [_plain(api, node) for node in nodes.items]


def list_pods_on(node: str) -> list[dict[str, Any]]:
    api = _api_client()
    pods = client.CoreV1Api(api).list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}")
    return [_plain(api, pod) for pod in pods.items]


def _plain(api: client.ApiClient, obj: Any) -> dict[str, Any]:
    """A client model object as the JSON dict the API server sent."""
    return cast(dict[str, Any], api.sanitize_for_serialization(obj))  # type: ignore[no-untyped-call]


_PLURALS = {
    "Deployment": "deployments",
    "DaemonSet": "daemonsets",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
}


def apply_any(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """Server-side apply of a namespaced object of any kind this operator manages."""
    if manifest["apiVersion"] == "v1":
        apply_core(manifest)
        return None
    return apply(manifest, _PLURALS[str(manifest["kind"])])


# --- the CLI's clean-up once the operator is gone (ecs-facade remove-finalizers)


def list_everywhere(api_version: str, plural: str) -> list[dict[str, Any]] | None:
    """Every object of a custom kind, of every namespace (in pages of 500); None when the API
    server does not serve the kind (its CRD is not installed)."""
    group, version = _group_version(api_version)
    found: list[dict[str, Any]] = []
    token = ""
    while True:
        query = [("limit", "500"), *([("continue", token)] if token else [])]
        try:
            page = orjson.loads(_call("GET", f"/apis/{group}/{version}/{plural}", query=query))
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        found.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return found


def get_any(api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    """A custom object, namespaced (``namespace``) or cluster-scoped (None); None when gone."""
    if namespace:
        return get(api_version, plural, namespace, name)
    return get_cluster_scoped(api_version, plural, name)


def json_patch(
    api_version: str, plural: str, namespace: str | None, name: str, operations: Sequence[Mapping[str, Any]]
) -> None:
    """A JSON patch (RFC 6902) of a custom object, namespaced or cluster-scoped (None). Raises
    ApiException: 404 when it is gone, 422 when a ``test`` operation fails (it changed)."""
    group, version = _group_version(api_version)
    scope = f"namespaces/{namespace}/" if namespace else ""
    _call(
        "PATCH",
        f"/apis/{group}/{version}/{scope}{plural}/{name}",
        [dict(operation) for operation in operations],
        content_type=JSON_PATCH,
    )


# --- the ECS API's reads and writes (ecsapi/handlers.py)


def list_in(api_version: str, plural: str, namespace: str | None) -> list[dict[str, Any]]:
    """Every object of a kind in one namespace (None: cluster-scoped, or all), page by page."""
    group, version = _group_version(api_version)
    path = (
        f"/apis/{group}/{version}/namespaces/{namespace}/{plural}" if namespace else f"/apis/{group}/{version}/{plural}"
    )
    found: list[dict[str, Any]] = []
    token = ""
    while True:
        query = [("limit", "500"), *([("continue", token)] if token else [])]
        listed = orjson.loads(_call("GET", path, query=query))
        found.extend(listed.get("items") or [])
        token = (listed.get("metadata") or {}).get("continue") or ""
        if not token:
            return found


def namespace_labels(namespace: str) -> dict[str, str] | None:
    """A namespace's labels; None when it does not exist. A list narrowed to the one name, not
    a GET: the chart grants the operator list and watch on namespaces (rbac.py), not get."""
    query = [("fieldSelector", f"metadata.name={namespace}")]
    items = orjson.loads(_call("GET", "/api/v1/namespaces", query=query)).get("items") or []
    if not items:
        return None
    return {str(k): str(v) for k, v in ((items[0].get("metadata") or {}).get("labels") or {}).items()}


def replace(manifest: Mapping[str, Any], plural: str) -> dict[str, Any]:
    """PUT the whole object (its metadata.resourceVersion makes it conditional: ApiException
    409 when the object changed meanwhile)."""
    group, version = _group_version(str(manifest["apiVersion"]))
    meta = manifest["metadata"]
    data = _call(
        "PUT",
        f"/apis/{group}/{version}/namespaces/{meta['namespace']}/{plural}/{meta['name']}",
        dict(manifest),
        [("fieldManager", FIELD_MANAGER)],
    )
    return cast(dict[str, Any], orjson.loads(data))


def merge_patch(api_version: str, plural: str, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
    """A JSON merge patch (RFC 7386); a metadata.resourceVersion in it makes it conditional
    (ApiException 409 when the object changed meanwhile)."""
    group, version = _group_version(api_version)
    _call(
        "PATCH",
        f"/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
        dict(patch),
        [("fieldManager", FIELD_MANAGER)],
        MERGE_PATCH,
    )


def merge_patch_cluster_scoped(api_version: str, plural: str, name: str, patch: Mapping[str, Any]) -> None:
    """merge_patch for a cluster-scoped object (an ECSCluster)."""
    group, version = _group_version(api_version)
    _call(
        "PATCH", f"/apis/{group}/{version}/{plural}/{name}", dict(patch), [("fieldManager", FIELD_MANAGER)], MERGE_PATCH
    )


def delete_cluster_scoped(api_version: str, plural: str, name: str) -> None:
    group, version = _group_version(api_version)
    try:
        _objects().delete_cluster_custom_object(group, version, plural, name)
    except ApiException as error:
        if error.status != 404:
            raise
