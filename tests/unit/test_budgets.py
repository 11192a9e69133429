"""A REPLICA service's PodDisruptionBudget comes with its workload (issue 27): applied in the
same apply as the workload's other objects, before the workload, owned by the service and
following its spec at once; the cluster's drain evicts a service's tasks only once it is in
place. With the budget 30 s after the tasks ran, as before, `kubectl drain` could take every
task of a new service at once (tests/e2e/test_cluster.py shows it on a cluster)."""

import copy
import logging
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from ecs_facade.api import FIELD_MANAGER
from ecs_facade.config import Config
from ecs_facade.controllers import cluster
from ecs_facade.controllers.indexes import Indexes, Revision, Snapshot
from ecs_facade.controllers.service import apply as service_apply
from ecs_facade.controllers.service import children, triggers
from ecs_facade.controllers.service import plan as controller
from ecs_facade.controllers.state import OperatorState
from ecs_facade.kube import client as kube
from ecs_facade.model.taskdefinition import content_hash

NS = "team-a"
REQUEST = {"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx:1.27", "memory": 128}]}
KEY = (NS, "web", "svc-uid")
LOGGER: Any = logging.getLogger(__name__)


class FakeApi:
    """The calls an apply and a drain make, recorded in order; a kind can be refused."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.objects: dict[str, dict[str, Any]] = {}
        self.refuse: set[str] = set()

    def _write(self, verb: str, manifest: Any) -> dict[str, Any]:
        kind, meta = manifest["kind"], manifest["metadata"]
        if kind in self.refuse:
            raise ApiException(status=500, reason="injected")
        self.calls.append(f"{verb} {kind} {meta['namespace']}/{meta['name']}")
        written = {**copy.deepcopy(manifest), "metadata": {**copy.deepcopy(meta), "generation": 1}}
        self.objects[kind] = written
        return written

    def apply_any(self, manifest: Any) -> dict[str, Any]:
        return self._write("apply", manifest)

    def create(self, manifest: Any, plural: str) -> dict[str, Any]:
        return self._write("create", manifest)

    def apply(self, manifest: Any, plural: str, field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        return self._write("apply", manifest)

    def evict_pod(self, namespace: str, name: str) -> bool:
        self.calls.append(f"evict {namespace}/{name}")
        return True

    def patch_node(self, name: str, patch: Any) -> None:
        self.calls.append(f"patch node {name}")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    for name in ("apply_any", "create", "apply", "evict_pod", "patch_node"):
        monkeypatch.setattr(kube, name, getattr(fake, name))
    return fake


def service(desired: int = 4, minimum: int = 50, **spec: Any) -> Snapshot:
    config = {"minimumHealthyPercent": minimum, "maximumPercent": 200}
    return Snapshot(
        "web",
        NS,
        "svc-uid",
        1,
        {"taskDefinition": "web", "desiredCount": desired, "deploymentConfiguration": config, **spec},
        {},
    )


def indexes(of: Snapshot) -> Indexes:
    task_definition = Snapshot("web", NS, "td-uid", 1, {"family": "web"}, {})
    revision = Revision("web-1", "web", 1, "ACTIVE", "h1", "T", REQUEST)
    found: dict[str, Any] = {
        "services": {(NS, of.name): [of]},
        "task_definitions": {(NS, "web"): [task_definition]},
        "revisions": {(NS, "web"): [revision]},
    }
    return Indexes(**{name: found.get(name, {}) for name in Indexes.__dataclass_fields__})


def plan_for(state: OperatorState, of: Snapshot) -> controller.Plan:
    made = controller.make_plan(state, of, indexes(of), state.config, None, pin=None)
    assert isinstance(made, controller.Plan), made
    return made


def budget_of(plan: controller.Plan) -> dict[str, Any]:
    return next(e for e in plan.extra if e["kind"] == "PodDisruptionBudget")


def test_a_new_service_gets_its_budget_before_its_deployment_in_the_same_apply(
    api: FakeApi, state: OperatorState
) -> None:
    plan = plan_for(state, service(desired=4, minimum=50))
    assert not state.services.budget_in_place(KEY)
    service_apply.apply_workload(state, service(), plan, "deployments", None, False)
    assert api.calls == [f"apply PodDisruptionBudget {NS}/web", f"create Deployment {NS}/web"]
    budget = api.objects["PodDisruptionBudget"]
    assert budget["spec"]["minAvailable"] == 2  # ceil(4 x 50 %)
    assert budget["spec"]["selector"] == {"matchLabels": {"ecs.facade.dev/service": "web"}}
    owner = budget["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("ECSService", "web", "svc-uid")
    assert state.services.budget_in_place(KEY)


def test_a_daemon_service_has_no_budget(state: OperatorState) -> None:
    plan = plan_for(state, service(schedulingStrategy="DAEMON"))
    assert [e for e in plan.extra if e["kind"] == "PodDisruptionBudget"] == []


def test_the_budget_follows_the_spec_at_once(api: FakeApi, state: OperatorState) -> None:
    first = plan_for(state, service(desired=4))
    workload = service_apply.apply_workload(state, service(desired=4), first, "deployments", None, False)
    api.calls.clear()
    scaled = plan_for(state, service(desired=6))
    assert not service_apply.unchanged(state, service(desired=6), scaled, workload, None)
    service_apply.apply_workload(state, service(desired=6), scaled, "deployments", workload, False)
    assert api.calls[0] == f"apply PodDisruptionBudget {NS}/web"
    assert api.objects["PodDisruptionBudget"]["spec"]["minAvailable"] == 3


def test_a_steady_service_writes_no_budget(api: FakeApi, state: OperatorState) -> None:
    plan = plan_for(state, service())
    workload = service_apply.apply_workload(state, service(), plan, "deployments", None, False)
    api.calls.clear()
    assert service_apply.unchanged(state, service(), plan_for(state, service()), workload, None)
    assert api.calls == []


def test_a_refused_budget_leaves_the_workload_unwritten_and_the_drain_waiting(
    api: FakeApi, state: OperatorState
) -> None:
    api.refuse.add("PodDisruptionBudget")
    with pytest.raises(ApiException):
        service_apply.apply_workload(state, service(), plan_for(state, service()), "deployments", None, False)
    assert api.calls == []  # no tasks without their budget: the work queue retries the reconcile
    assert not state.services.budget_in_place(KEY)


def test_after_a_restart_the_workloads_digest_vouches_for_its_budget(api: FakeApi, state: OperatorState) -> None:
    plan = plan_for(state, service())
    workload = service_apply.apply_workload(state, service(), plan, "deployments", None, False)
    workload["metadata"]["managedFields"] = [{"manager": FIELD_MANAGER, "operation": "Update", "fieldsV1": {}}]
    api.calls.clear()
    restarted = OperatorState(config=Config())
    assert not restarted.services.budget_in_place(KEY)
    assert service_apply.unchanged(restarted, service(), plan_for(restarted, service()), workload, None)
    assert api.calls == []  # no request: the budget was applied before this workload was written
    assert restarted.services.budget_in_place(KEY)


def test_a_workload_without_its_budget_in_the_digest_gets_the_budget(api: FakeApi, state: OperatorState) -> None:
    """An operator killed between the budget and the workload finds the workload's old digest,
    and one upgraded from the version that applied budgets late finds a digest made without
    the budget: either way it applies the budget again, and the workload after it."""
    plan = plan_for(state, service())
    without_budget = [e for e in plan.extra if e["kind"] != "PodDisruptionBudget"]
    old_digest = content_hash({"workload": plan.workload.manifest, "extra": without_budget, "autoscaler": None})
    workload = {**copy.deepcopy(plan.workload.manifest), "metadata": {**plan.workload.manifest["metadata"]}}
    workload["metadata"]["annotations"] = {service_apply.ANNOTATION_APPLIED: old_digest}
    workload["metadata"]["generation"] = 1
    assert not service_apply.unchanged(state, service(), plan, workload, None)
    assert not state.services.budget_in_place(KEY)
    service_apply.apply_workload(state, service(), plan, "deployments", workload, False)
    assert api.calls[0] == f"apply PodDisruptionBudget {NS}/web"
    assert state.services.budget_in_place(KEY)


def drain_indexes(of: Snapshot) -> Indexes:
    node = {
        "metadata": {
            "name": "node-1",
            "labels": {"ecs.facade.dev/container-instance-status": "DRAINING"},
            "annotations": {"ecs.facade.dev/cordoned-for-drain": "true"},
        },
        "spec": {"unschedulable": True},
    }
    pod = {
        "metadata": {"name": "web-1", "namespace": NS, "labels": {"ecs.facade.dev/service": "web"}},
        "status": {"phase": "Running"},
    }
    found: dict[str, Any] = {
        "services": {(NS, of.name): [of]},
        "nodes": {"node-1": [node]},
        "pods_by_node": {"node-1": [pod]},
    }
    return Indexes(**{name: found.get(name, {}) for name in Indexes.__dataclass_fields__})


def test_the_drain_evicts_a_services_tasks_only_once_its_budget_is_in_place(api: FakeApi, state: OperatorState) -> None:
    of = service()
    # a service this process has not applied yet (just started, or upgraded from late budgets)
    cluster._drain(state, "default", drain_indexes(of), LOGGER)
    assert api.calls == []
    service_apply.apply_workload(state, of, plan_for(state, of), "deployments", None, False)
    api.calls.clear()
    cluster._drain(state, "default", drain_indexes(of), LOGGER)
    assert api.calls == [f"evict {NS}/web-1"]


def test_a_deleted_service_leaves_no_budget_memory(api: FakeApi, state: OperatorState) -> None:
    service_apply.apply_workload(state, service(), plan_for(state, service()), "deployments", None, False)
    triggers._forget(state, (NS, "web"), "svc-uid")
    assert not state.services.budget_in_place(KEY) and not state.services.applied


def test_a_budget_deleted_by_hand_is_applied_again(api: FakeApi, state: OperatorState) -> None:
    """The periodic check (controllers/service/children.py) finds the budget gone: the next
    reconcile applies it although the workload still carries this plan's digest."""
    plan = plan_for(state, service())
    workload = service_apply.apply_workload(state, service(), plan, "deployments", None, False)
    state.services.children[KEY] = (0.0, state.services.children[KEY][1])  # noted before the lists
    api.calls.clear()
    requeued: list[tuple[str, str]] = []
    gone = children.check_children(state, [None], lambda *_: set(), lambda *key: requeued.append(key))
    assert gone == [KEY] and requeued == [(NS, "web")]
    # the operator's own drain waits for it: no eviction without the floor
    assert not state.services.budget_in_place(KEY)
    assert not service_apply.unchanged(state, service(), plan_for(state, service()), workload, None)
    service_apply.apply_workload(state, service(), plan_for(state, service()), "deployments", workload, False)
    assert api.calls[0] == f"apply PodDisruptionBudget {NS}/web"
    assert state.services.budget_in_place(KEY)
