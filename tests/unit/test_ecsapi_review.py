"""Review of the ECS API (issue 28): each test is a bug found by reading the code against
ECS's and SigV4's contracts as real clients use them; fixed ones pass, the others are
``xfail(strict=True)`` with the reason."""

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from ecs_facade.ecsapi.errors import ApiError
from ecs_facade.ecsapi.protocol import Dispatcher
from ecs_facade.ecsapi.sigv4 import AccessKey, DictKeyStore, verify
from ecs_facade.ecsapi.tasks_handlers import TaskActions
from tests.unit import ecsapi_calls

from .test_ecsapi_tasks import ARNS, FakeStore

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEYS = DictKeyStore([AccessKey(KEY_ID, SECRET, frozenset({"team-a"}), "team-a")])
BODY = b'{"cluster": "prod"}'


class _SignsNoTarget(SigV4Auth):  # type: ignore[misc]
    """A signer that leaves X-Amz-Target out of SignedHeaders (no SDK does)."""

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = super().headers_to_sign(request)
        del headers["x-amz-target"]
        return headers


def _signed_without_target(target: str) -> tuple[dict[str, list[str]], dt.datetime]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:8088/",
        data=BODY,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    _SignsNoTarget(Credentials(KEY_ID, SECRET), "ecs", "us-east-1").add_auth(request)
    headers: dict[str, list[str]] = {}
    for name, value in request.prepare().headers.items():
        headers.setdefault(name.lower(), []).append(value.decode() if isinstance(value, bytes) else value)
    headers.setdefault("host", ["127.0.0.1:8088"])
    at = dt.datetime.strptime(headers["x-amz-date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    return headers, at


def test_an_unsigned_x_amz_target_is_refused() -> None:
    """The target picks the action: if it is not signed, whoever sees a signed DescribeClusters
    (a proxy's log, a replay within the 15 minutes) can send the same body as DeleteCluster."""
    headers, at = _signed_without_target("AmazonEC2ContainerServiceV20141113.DescribeClusters")
    assert "x-amz-target" not in headers["authorization"][0]
    headers["x-amz-target"] = ["AmazonEC2ContainerServiceV20141113.DeleteCluster"]
    with pytest.raises(ApiError) as refused:
        verify(
            method="POST",
            raw_path="/",
            raw_query="",
            headers=headers,
            body=BODY,
            service="ecs",
            keys=KEYS,
            now=at,
        )
    assert refused.value.name == "InvalidSignatureException"
    assert "X-Amz-Target" in refused.value.message


# --- RunTask count > 1: a create that fails after others succeeded


class _FailsSecondCreate(FakeStore):
    def create_ecs_task(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        if self.created == 1:
            self.created += 1
            raise ApiError("InvalidParameterException", "the Kubernetes API refused it: quota exceeded")
        return super().create_ecs_task(manifest)


def test_run_task_reports_the_tasks_it_started_when_a_later_one_fails() -> None:
    """ECS answers the tasks it started and a failure for each it could not; an error instead
    leaves a running task the client never heard of (and no failure to retry on)."""
    store = _FailsSecondCreate()
    dispatcher = Dispatcher()
    TaskActions(store, ARNS).register(dispatcher)
    answer = ecsapi_calls.call(dispatcher, "RunTask", {"taskDefinition": "web", "count": 3})
    assert len(store.ecs_tasks) == 1
    assert [t["taskArn"] for t in answer["tasks"]] == [
        f"{ARNS.task('default', store.ecs_tasks[0]['metadata']['uid'].replace('-', ''))}"
    ]
    assert len(answer["failures"]) == 2
    assert all("quota exceeded" in f["detail"] and f["reason"] for f in answer["failures"])
    assert copy.deepcopy(answer["failures"][0]) == answer["failures"][1]


# --- DeleteService, then the services_inactive waiter


def test_a_deleted_service_is_described_inactive_as_the_services_inactive_waiter_expects() -> None:
    """DeleteService leaves a tombstone on the ECSCluster (ecsapi/inactive.py): boto3's
    services_inactive waiter (and `aws ecs wait services-inactive`) treats MISSING as failure;
    ECS answers the deleted service INACTIVE for a while."""
    from ecs_facade.ecsapi.handlers import Actions

    from .test_ecsapi_services import FakeStore as ServiceStore
    from .test_ecsapi_services import _service

    store = ServiceStore()
    # the default ECSCluster, which the operator creates at start-up
    store.clusters = [{"metadata": {"name": "default", "resourceVersion": "1"}, "spec": {}}]
    store.services = [_service("web", desiredCount=0)]
    dispatcher = Dispatcher()
    Actions(store, ARNS).register(dispatcher)  # type: ignore[arg-type]
    ecsapi_calls.call(dispatcher, "DeleteService", {"service": "web"})
    described = ecsapi_calls.call(dispatcher, "DescribeServices", {"services": ["web"]})
    # services_inactive: failures[].reason MISSING -> failure; services[].status INACTIVE -> success
    assert described["failures"] == []
    assert [s["status"] for s in described["services"]] == ["INACTIVE"]


# --- RBAC: RunTask creates ECSTasks as the operator's ServiceAccount


def test_the_api_rules_let_run_task_create_ecstasks() -> None:
    """TaskKubeStore.create_ecs_task POSTs an ECSTask; the operator's own rules never create
    one (get, list, watch, patch, delete), so without an API rule every RunTask through the
    chart is a 403, answered AccessDeniedException."""
    from ecs_facade import rbac

    rules = [*rbac.NAMESPACED, *rbac.API_NAMESPACED]
    granted = {
        v for r in rules if "ecs.facade.dev" in r["apiGroups"] and "ecstasks" in r["resources"] for v in r["verbs"]
    }
    assert "create" in granted
    assert "ecstasks" in {r for rule in rbac.all_rules()["apiNamespaced"] for r in rule["resources"]}


# --- CreateService retried with its clientToken


def test_create_service_retried_with_its_client_token_answers_the_service() -> None:
    """ECS's clientToken "ensures the idempotency of the request": the same call again (a
    retry after a lost answer) gets the service, not "Creation of service was not idempotent."."""
    from ecs_facade.ecsapi.handlers import Actions

    from .test_ecsapi_services import FakeStore as ServiceStore

    store = ServiceStore()
    dispatcher = Dispatcher()
    Actions(store, ARNS).register(dispatcher)  # type: ignore[arg-type]
    request = {"serviceName": "web", "taskDefinition": "web:3", "desiredCount": 1, "clientToken": "tok-1"}
    first = ecsapi_calls.call(dispatcher, "CreateService", request)
    again = ecsapi_calls.call(dispatcher, "CreateService", request)
    assert again == first
    assert len(store.services) == 1
    # another token, or the same token with other members, is a second CreateService of the name
    for other in (
        {**request, "clientToken": "tok-2"},
        {**request, "desiredCount": 3},
        {**request, "clientToken": None},
    ):
        refused = ecsapi_calls.error(dispatcher, "CreateService", other)
        assert (refused.name, refused.message) == (
            "InvalidParameterException",
            "Creation of service was not idempotent.",
        )


# --- a deeply nested cluster query is the client's error, not a 500


@pytest.mark.parametrize("text", ["(" * 5000 + "attribute:a == b" + ")" * 5000, "not " * 5000 + "attribute:a == b"])
def test_a_deeply_nested_filter_is_invalid_parameter_not_a_crash(text: str) -> None:
    """ListContainerInstances' filter is parsed by recursive descent: a RecursionError escaped
    as a 500 ServerException (which SDKs retry, four times)."""
    from ecs_facade.ecsapi import instances

    with pytest.raises(ApiError) as refused:
        instances.parse_filter(text)
    assert refused.value.name == "InvalidParameterException"
    assert "nested too deeply" in refused.value.message
    assert len(refused.value.message) < 300  # the expression is not echoed whole


# --- a forged nextToken is the client's error, not a 500


def test_a_deeply_nested_next_token_is_invalid_parameter() -> None:
    """The token is base64 JSON: ``[[[[...`` decoded by json.loads raised RecursionError, a 500."""
    import base64

    from ecs_facade.ecsapi.pagination import page

    token = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    with pytest.raises(ApiError) as refused:
        page(["a"], lambda name: (name,), action="ListServices", max_results=None, next_token=token)
    assert refused.value.name == "InvalidParameterException"


# --- RegisterTaskDefinition in a namespace that does not exist


def test_register_task_definition_in_a_missing_namespace_is_access_denied() -> None:
    """Every other action checks the request's namespace exists (AccessDeniedException); the
    registration POSTed into it, and the API server's 404 escaped as a 500 that SDKs retry."""
    from ecs_facade.ecsapi.handlers import Actions

    from .test_ecsapi_handlers import FakeStore as HandlerStore

    store = HandlerStore()
    dispatcher = Dispatcher()
    Actions(store, ARNS, register_timeout=0.1).register(dispatcher)
    request = {"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx"}]}
    with pytest.raises(ApiError) as refused:
        ecsapi_calls.call(dispatcher, "RegisterTaskDefinition", request, namespaces=frozenset({"gone"}), home="gone")
    assert refused.value.name == "AccessDeniedException"
    assert "'gone' does not exist" in refused.value.message
    assert store.writes == []


def test_a_terminating_namespace_is_a_client_error_not_a_500() -> None:
    """kube.create raises NamespaceTerminating (not an ApiException) for a namespace being
    deleted; _kube_errors let it through, a 500 ServerException for CreateService, RunTask,
    RegisterTaskDefinition."""
    from ecs_facade.ecsapi.handlers import _kube_errors
    from ecs_facade.kube.client import NamespaceTerminating

    with pytest.raises(ApiError) as refused, _kube_errors():
        raise NamespaceTerminating("team-a")
    assert refused.value.name == "ClientException"
    assert "team-a" in refused.value.message


# --- UpdateService, then the services_stable waiter, before the operator has seen the update


# a service of generation 1 the operator has seen out: one deployment, all its tasks running
_STEADY = {
    "observedGeneration": 1,
    "desiredCount": 2,
    "runningCount": 2,
    "pendingCount": 0,
    "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "desiredCount": 2, "runningCount": 2}],
}


def _services_stable(services: list[dict[str, Any]]) -> bool:
    """botocore's ServicesStable success acceptor (DRAINING/INACTIVE/MISSING aside)."""
    return all(len(s["deployments"]) == 1 and s["runningCount"] == s["desiredCount"] for s in services)


def test_a_service_updated_but_not_yet_observed_is_not_stable() -> None:
    from ecs_facade.ecsapi import services

    updated = {
        "metadata": {"name": "web", "namespace": "team-a", "generation": 2},
        "spec": {"cluster": "default", "taskDefinition": "web:4", "desiredCount": 3},
        "status": _STEADY,
    }
    described = services.describe_service(updated, ARNS)
    assert not _services_stable([described])


def test_a_forced_deployment_not_yet_observed_is_not_stable() -> None:
    from ecs_facade.ecsapi import services

    forced = {
        "metadata": {"name": "web", "namespace": "team-a", "generation": 2},
        "spec": {
            "cluster": "default", "taskDefinition": "web:4", "desiredCount": 2,
            "forceNewDeployment": "2026-12-07T17:00:00Z",
        },
        "status": _STEADY,
    }  # fmt: skip
    assert not _services_stable([services.describe_service(forced, ARNS)])
