"""The cluster and task definition handlers over a fake Store: the namespace each request acts
in, what is written, and the answers through the Dispatcher (as the server calls them)."""

import copy
import datetime
import inspect
from collections.abc import Mapping
from typing import Any

import orjson
import pytest
from kubernetes.client.exceptions import ApiException

from ecs_facade.arns import Arns
from ecs_facade.ecsapi import handlers
from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.handlers import Actions, Conflict
from ecs_facade.ecsapi.protocol import Dispatcher
from ecs_facade.model.taskdefinition import normalize_task_definition
from tests.unit import ecsapi_calls

ARNS = Arns("us-east-1", "123456789012")

WEB: dict[str, Any] = {
    "family": "web",
    "containerDefinitions": [{"name": "nginx", "image": "nginx:1.27", "essential": True, "memory": 256}],
}


class FakeStore(ecsapi_calls.FakeObjects):
    """The API server's objects; ``controller_runs``: the operator registers revisions as
    controllers/taskdefinition.py does (one ControllerRevision per distinct content)."""

    def __init__(self) -> None:
        super().__init__()
        self.clusters: list[dict[str, Any]] = []
        self.namespaces: dict[str, dict[str, str]] = {"team-a": {}, "team-b": {}, "default": {}}
        self.tds: list[dict[str, Any]] = []
        self.revisions: list[dict[str, Any]] = []
        self.controller_runs = True
        self.conflicts = 0  # the next writes that answer 409
        self.writes: list[tuple[str, Any]] = []

    def create_cluster(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        if any(c["metadata"]["name"] == manifest["metadata"]["name"] for c in self.clusters):
            return None
        created = {**copy.deepcopy(dict(manifest)), "status": {}}
        self.clusters.append(created)
        self.writes.append(("create-cluster", created["metadata"]["name"]))
        return copy.deepcopy(created)

    def delete_cluster(self, name: str) -> None:
        self.clusters = [c for c in self.clusters if c["metadata"]["name"] != name]
        self.writes.append(("delete-cluster", name))

    def patch_cluster(self, name: str, patch: Mapping[str, Any]) -> bool:
        found = [c for c in self.clusters if c["metadata"]["name"] == name]
        if found:
            found[0]["metadata"].setdefault("annotations", {}).update(patch["metadata"].get("annotations") or {})
        return bool(found)

    def get_task_definition(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = [o for o in self.tds if o["metadata"]["namespace"] == namespace and o["metadata"]["name"] == name]
        return copy.deepcopy(found[0]) if found else None

    def _conflict(self) -> None:
        if self.conflicts:
            self.conflicts -= 1
            raise Conflict("the object has been modified")

    def write_task_definition(self, manifest: Mapping[str, Any], exists: bool) -> dict[str, Any]:
        self._conflict()
        meta = manifest["metadata"]
        current = self.get_task_definition(meta["namespace"], meta["name"])
        if exists:
            assert current is not None and current["metadata"]["resourceVersion"] == meta["resourceVersion"]
            td = next(o for o in self.tds if o["metadata"]["name"] == meta["name"])
            # a PUT replaces the metadata too: labels and annotations not sent are gone
            server_side = {k: td["metadata"][k] for k in ("uid", "generation")}
            td["metadata"] = {**copy.deepcopy(dict(meta)), **server_side}
            if td["spec"] != manifest["spec"]:
                td["metadata"]["generation"] += 1
            td["spec"] = copy.deepcopy(manifest["spec"])
            td["metadata"]["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        else:
            assert current is None
            td = {**copy.deepcopy(dict(manifest)), "status": {}}
            td["metadata"].update(uid=f"uid-{meta['name']}", resourceVersion="1", generation=1)
            self.tds.append(td)
        self.writes.append(("write-td", copy.deepcopy(td)))
        written = copy.deepcopy(td)
        if self.controller_runs:
            self.run_controller()
        return written

    def patch_task_definition(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        self._conflict()
        td = next(o for o in self.tds if o["metadata"]["name"] == name and o["metadata"]["namespace"] == namespace)
        assert patch["metadata"]["resourceVersion"] == td["metadata"]["resourceVersion"]
        td["spec"].update(copy.deepcopy(dict(patch["spec"])))
        self.writes.append(("patch-td", copy.deepcopy(dict(patch))))

    # the service half of the Store: test_ecsapi_services.py tests it
    def list_services(self, namespace: str) -> list[dict[str, Any]]:
        return []

    def create_service(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        raise AssertionError("no service is created here")

    def patch_service(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        raise AssertionError("no service is patched here")

    def delete_service(self, namespace: str, name: str) -> None:
        raise AssertionError("no service is deleted here")

    def run_controller(self) -> None:
        for td in self.tds:
            meta = td["metadata"]
            request = normalize_task_definition(td["spec"], meta["name"])
            td["status"]["observedGeneration"] = meta["generation"]
            ecsapi_calls.register_revision(td, self.revisions, request)


async def _no_sleep(seconds: float) -> None:
    pass


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def dispatcher(store: FakeStore) -> Dispatcher:
    return ecsapi_calls.dispatcher_of(Actions(store, ARNS, register_timeout=1.0, sleep=_no_sleep))


def test_registers_the_cluster_and_task_definition_actions(dispatcher: Dispatcher) -> None:
    assert dispatcher.implemented("ecs") == [
        "CreateCluster",
        "CreateService",
        "DeleteCluster",
        "DeleteService",
        "DeregisterTaskDefinition",
        "DescribeClusters",
        "DescribeServices",
        "DescribeTaskDefinition",
        "ListClusters",
        "ListServices",
        "ListTaskDefinitionFamilies",
        "ListTaskDefinitions",
        "RegisterTaskDefinition",
        "UpdateService",
    ]
    # its wait for the operator runs on the event loop, not in a worker thread
    assert inspect.iscoroutinefunction(dispatcher.handlers["ecs", "RegisterTaskDefinition"])
    assert not inspect.iscoroutinefunction(dispatcher.handlers["ecs", "ListClusters"])


def test_request_namespace_home_region_and_named_namespace() -> None:
    both = frozenset({"team-a", "team-b"})
    assert (
        handlers.request_namespace(ecsapi_calls.context("X", namespaces=both, home="team-b"), "us-east-1") == "team-b"
    )
    assert (
        handlers.request_namespace(
            ecsapi_calls.context("X", region="team-a", namespaces=both, home="team-b"), "us-east-1"
        )
        == "team-a"
    )
    with pytest.raises(ApiError) as caught:
        handlers.request_namespace(
            ecsapi_calls.context("X", region="team-c", namespaces=both, home="team-b"), "us-east-1"
        )
    assert caught.value.name == "AccessDeniedException"
    # anonymous mode: an AWS region acts in "default", any other region names the namespace
    assert (
        handlers.request_namespace(ecsapi_calls.context("X", region="eu-west-3", namespaces=None), "us-east-1")
        == "default"
    )
    assert (
        handlers.request_namespace(ecsapi_calls.context("X", region="team-b", namespaces=None), "us-east-1") == "team-b"
    )


def test_cluster_lifecycle_in_the_request_namespace(dispatcher: Dispatcher, store: FakeStore) -> None:
    created = ecsapi_calls.call(dispatcher, "CreateCluster", {"clusterName": "payments"})
    assert created["cluster"]["clusterArn"] == "arn:aws:ecs:us-east-1:123456789012:cluster/payments"
    assert created["cluster"]["status"] == "ACTIVE"
    assert store.clusters[0]["spec"]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}}
    # idempotent, as in ECS: the same cluster, nothing written
    again = ecsapi_calls.call(dispatcher, "CreateCluster", {"clusterName": "payments"})
    assert again["cluster"]["clusterName"] == "payments"
    assert [w for w in store.writes if w[0] == "create-cluster"] == [("create-cluster", "payments")]

    listed = ecsapi_calls.call(dispatcher, "ListClusters", {})
    assert listed["clusterArns"] == [
        "arn:aws:ecs:us-east-1:123456789012:cluster/default",
        "arn:aws:ecs:us-east-1:123456789012:cluster/payments",
    ]
    # team-b does not see team-a's cluster
    other = ecsapi_calls.call(
        dispatcher, "DescribeClusters", {"clusters": ["payments"]}, namespaces=frozenset({"team-b"}), home="team-b"
    )
    assert other["clusters"] == [] and other["failures"][0]["reason"] == "MISSING"

    deleted = ecsapi_calls.call(dispatcher, "DeleteCluster", {"cluster": "payments"})
    assert deleted["cluster"]["status"] == "INACTIVE"
    assert store.clusters == [] and store.writes[-1] == ("delete-cluster", "payments")


def test_delete_cluster_with_services_writes_nothing(dispatcher: Dispatcher, store: FakeStore) -> None:
    ecsapi_calls.call(dispatcher, "CreateCluster", {"clusterName": "payments"})
    store.clusters[0]["status"] = {"activeServicesCount": 1}
    with pytest.raises(ApiError) as caught:
        ecsapi_calls.call(dispatcher, "DeleteCluster", {"cluster": "payments"})
    assert caught.value.name == "ClusterContainsServicesException"
    assert len(store.clusters) == 1 and not any(w[0] == "delete-cluster" for w in store.writes)


def test_delete_cluster_counts_the_services_afresh(
    dispatcher: Dispatcher, store: FakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service created a moment ago is not in the cluster's status yet: ECS refuses anyway."""
    ecsapi_calls.call(dispatcher, "CreateCluster", {"clusterName": "payments"})
    service = {"metadata": {"name": "web", "namespace": "team-a"}, "spec": {"cluster": "payments"}}
    monkeypatch.setattr(store, "list_services", lambda namespace: [service] if namespace == "team-a" else [])
    with pytest.raises(ApiError) as caught:
        ecsapi_calls.call(dispatcher, "DeleteCluster", {"cluster": "payments"})
    assert caught.value.name == "ClusterContainsServicesException"
    assert not any(w[0] == "delete-cluster" for w in store.writes)
    service["spec"]["cluster"] = "other"
    assert ecsapi_calls.call(dispatcher, "DeleteCluster", {"cluster": "payments"})["cluster"]["status"] == "INACTIVE"


def test_a_namespace_that_does_not_exist_is_refused(dispatcher: Dispatcher, store: FakeStore) -> None:
    del store.namespaces["team-a"]
    with pytest.raises(ApiError) as caught:
        ecsapi_calls.call(dispatcher, "CreateCluster", {"clusterName": "payments"})
    assert caught.value.name == "AccessDeniedException" and "team-a" in caught.value.message
    assert store.writes == []


def test_a_key_outside_its_namespaces_reads_nothing(dispatcher: Dispatcher, store: FakeStore) -> None:
    with pytest.raises(ApiError) as caught:
        ecsapi_calls.call(dispatcher, "ListTaskDefinitions", {}, region="team-b")
    assert caught.value.name == "AccessDeniedException"


def test_register_describe_list_deregister(dispatcher: Dispatcher, store: FakeStore) -> None:
    first = ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", WEB)
    assert first["taskDefinition"]["taskDefinitionArn"].endswith(":task-definition/web:1")
    assert store.tds[0]["metadata"]["namespace"] == "team-a" and store.tds[0]["spec"] == WEB

    changed = {**WEB, "containerDefinitions": [{**WEB["containerDefinitions"][0], "image": "nginx:1.28"}]}
    second = ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", changed)
    assert second["taskDefinition"]["revision"] == 2
    assert second["taskDefinition"]["containerDefinitions"][0]["image"] == "nginx:1.28"

    described = ecsapi_calls.call(dispatcher, "DescribeTaskDefinition", {"taskDefinition": "web"})
    assert described["taskDefinition"]["revision"] == 2
    listed = ecsapi_calls.call(dispatcher, "ListTaskDefinitions", {"familyPrefix": "web", "sort": "DESC"})
    assert [a.rsplit(":", 1)[1] for a in listed["taskDefinitionArns"]] == ["2", "1"]
    assert ecsapi_calls.call(dispatcher, "ListTaskDefinitionFamilies", {})["families"] == ["web"]

    gone = ecsapi_calls.call(dispatcher, "DeregisterTaskDefinition", {"taskDefinition": "web:2"})
    assert gone["taskDefinition"]["status"] == "INACTIVE"
    assert store.tds[0]["spec"]["deregisteredRevisions"] == [2]
    assert (
        ecsapi_calls.call(dispatcher, "DescribeTaskDefinition", {"taskDefinition": "web"})["taskDefinition"]["revision"]
        == 1
    )
    # another namespace has no such family
    with pytest.raises(ApiError) as caught:
        ecsapi_calls.call(
            dispatcher,
            "DescribeTaskDefinition",
            {"taskDefinition": "web"},
            region="team-b",
            namespaces=frozenset({"team-a", "team-b"}),
        )
    assert caught.value.name == "ClientException"


def test_register_keeps_labels_and_retries_a_conflict(dispatcher: Dispatcher, store: FakeStore) -> None:
    ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", WEB)
    store.tds[0]["metadata"].update(labels={"app": "web"}, finalizers=["ecs.facade.dev/cleanup"])
    store.conflicts = 1
    changed = {**WEB, "cpu": "256"}
    answer = ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", changed)
    assert answer["taskDefinition"]["revision"] == 2
    assert store.tds[0]["metadata"]["labels"] == {"app": "web"}
    assert store.tds[0]["metadata"]["finalizers"] == ["ecs.facade.dev/cleanup"]


def test_register_waits_for_the_operator_then_times_out(store: FakeStore) -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    dispatcher = Dispatcher()
    Actions(store, ARNS, register_timeout=2.0, poll_interval=0.5, sleep=sleep, clock=lambda: now[0]).register(
        dispatcher
    )
    store.controller_runs = False
    with pytest.raises(ApiError) as caught:
        ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", WEB)
    assert caught.value.name == "ServerException" and "team-a/web" in caught.value.message
    assert now[0] == pytest.approx(2.0)
    # the operator catches up: the same request answers revision 1
    store.run_controller()
    assert ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", WEB)["taskDefinition"]["revision"] == 1


def test_register_answers_the_operators_refusal(dispatcher: Dispatcher, store: FakeStore) -> None:
    store.controller_runs = False

    def refuse() -> None:
        for td in store.tds:
            td["status"] = {
                "observedGeneration": td["metadata"]["generation"],
                "conditions": [{"type": "Ready", "status": "False", "reason": "InvalidSpec", "message": "bad memory"}],
            }

    store.run_controller = refuse  # type: ignore[method-assign]
    store.controller_runs = True
    with pytest.raises(ApiError) as caught:
        ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", WEB)
    assert caught.value.name == "InvalidParameterException" and caught.value.message == "bad memory"


def test_deregister_retries_a_conflict_and_gives_up_after_three(dispatcher: Dispatcher, store: FakeStore) -> None:
    ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", WEB)
    store.conflicts = 1
    assert ecsapi_calls.call(dispatcher, "DeregisterTaskDefinition", {"taskDefinition": "web:1"})["taskDefinition"][
        "status"
    ] == ("INACTIVE")
    ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", {**WEB, "cpu": "256"})
    store.conflicts = 3
    with pytest.raises(ApiError) as caught:
        ecsapi_calls.call(dispatcher, "DeregisterTaskDefinition", {"taskDefinition": "web:2"})
    assert caught.value.name == "ClientException"
    assert store.tds[0]["spec"]["deregisteredRevisions"] == [1]


def test_registered_at_is_epoch_seconds(dispatcher: Dispatcher) -> None:
    answer = ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", WEB)
    expected = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC).timestamp()
    assert answer["taskDefinition"]["registeredAt"] == expected


class _Recorder:
    """kube/client.py's ``_call``: records each request and answers from a script."""

    def __init__(self, *answers: bytes | ApiException) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, Any, list[tuple[str, str]], str]] = []

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Any = (),
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> bytes:
        self.calls.append((method, path, body, list(query), content_type))
        answer = self.answers.pop(0)
        if isinstance(answer, ApiException):
            raise answer
        return answer


def _refusal(status: int, message: str) -> ApiException:
    error = ApiException(status=status, reason="Refused")
    error.body = orjson.dumps({"kind": "Status", "message": message}).decode()
    return error


def test_kube_store_lists_page_by_page_in_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder(
        orjson.dumps({"items": [{"metadata": {"name": "a"}}], "metadata": {"continue": "next"}}),
        orjson.dumps({"items": [{"metadata": {"name": "b"}}], "metadata": {}}),
    )
    monkeypatch.setattr("ecs_facade.kube.client._call", recorder)
    found = handlers.KubeStore().list_task_definitions("team-a")
    assert [o["metadata"]["name"] for o in found] == ["a", "b"]
    assert [c[1] for c in recorder.calls] == ["/apis/ecs.facade.dev/v1alpha1/namespaces/team-a/ecstaskdefinitions"] * 2
    assert recorder.calls[1][3] == [("limit", "500"), ("continue", "next")]


def test_kube_store_replaces_and_patches_conditionally(monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSTaskDefinition",
        "metadata": {"name": "web", "namespace": "team-a", "resourceVersion": "7"},
        "spec": WEB,
    }
    recorder = _Recorder(orjson.dumps(manifest), b"{}", _refusal(409, "the object has been modified"))
    monkeypatch.setattr("ecs_facade.kube.client._call", recorder)
    store = handlers.KubeStore()
    assert store.write_task_definition(manifest, exists=True) == manifest
    patch = {"spec": {"deregisteredRevisions": [1]}, "metadata": {"resourceVersion": "7"}}
    store.patch_task_definition("team-a", "web", patch)
    with pytest.raises(Conflict):
        store.patch_task_definition("team-a", "web", patch)
    put, merge, _ = recorder.calls
    assert put[:3] == ("PUT", "/apis/ecs.facade.dev/v1alpha1/namespaces/team-a/ecstaskdefinitions/web", manifest)
    assert merge[0] == "PATCH" and merge[2] == patch and merge[4] == "application/merge-patch+json"


@pytest.mark.parametrize(("status", "name"), [(422, "InvalidParameterException"), (403, "AccessDeniedException")])
def test_kube_store_answers_the_api_servers_refusals(monkeypatch: pytest.MonkeyPatch, status: int, name: str) -> None:
    monkeypatch.setattr("ecs_facade.kube.client._call", _Recorder(_refusal(status, "spec.cpu: Invalid value")))
    manifest = {"apiVersion": "ecs.facade.dev/v1alpha1", "metadata": {"name": "web", "namespace": "team-a"}}
    with pytest.raises(ApiError) as caught:
        handlers.KubeStore().write_task_definition(manifest, exists=False)
    assert caught.value.name == name and "spec.cpu: Invalid value" in caught.value.message


def test_kube_store_namespace_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    # a list narrowed by name: the chart's RBAC has list on namespaces, not get
    found = orjson.dumps({"items": [{"metadata": {"name": "team-a", "labels": {"team": "a"}}}]})
    recorder = _Recorder(found, orjson.dumps({"items": []}))
    monkeypatch.setattr("ecs_facade.kube.client._call", recorder)
    assert handlers.KubeStore().namespace_labels("team-a") == {"team": "a"}
    assert handlers.KubeStore().namespace_labels("gone") is None
    assert recorder.calls[0][1:4:2] == ("/api/v1/namespaces", [("fieldSelector", "metadata.name=team-a")])


def test_kube_store_services(monkeypatch: pytest.MonkeyPatch) -> None:
    base = "/apis/ecs.facade.dev/v1alpha1/namespaces/team-a/ecsservices"
    manifest = {
        "apiVersion": "ecs.facade.dev/v1alpha1",
        "kind": "ECSService",
        "metadata": {"name": "web", "namespace": "team-a"},
        "spec": {"serviceName": "web", "taskDefinition": "web"},
    }
    recorder = _Recorder(
        orjson.dumps({"items": [manifest], "metadata": {}}),
        orjson.dumps(manifest),
        _refusal(409, "exists"),
        b"{}",
        _refusal(409, "the object has been modified"),
        _refusal(404, "not found"),
    )
    monkeypatch.setattr("ecs_facade.kube.client._call", recorder)
    monkeypatch.setattr("ecs_facade.kube.client.get", lambda *args: {**manifest, "read": args})
    store = handlers.KubeStore()
    assert store.list_services("team-a") == [manifest]
    assert store.create_service(manifest) == manifest
    assert store.create_service(manifest) is None  # one of that name exists
    patch = {"metadata": {"resourceVersion": "7"}, "spec": {"desiredCount": 3}}
    patched = store.patch_service("team-a", "web", patch)
    assert patched is not None and patched["read"][1:] == ("ecsservices", "team-a", "web")
    with pytest.raises(Conflict):
        store.patch_service("team-a", "web", patch)
    assert store.patch_service("team-a", "web", patch) is None  # deleted meanwhile
    listed, posted, _, merge, _, _ = recorder.calls
    assert (listed[0], listed[1]) == ("GET", base)
    assert (posted[0], posted[1]) == ("POST", base)
    assert merge[:3] == ("PATCH", f"{base}/web", patch) and merge[4] == "application/merge-patch+json"
