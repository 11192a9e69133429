"""Fuzzing the ECS API end to end: thousands of signed requests from tests/fuzz_ecsapi.py (well-formed
per the ECS model, and mutated: wrong types, nulls, missing members, huge strings, unicode, deep
nesting, unknown members, wrong targets and content types, bad JSON) sent to the `ecs-facade api`
process on the local control plane, with the operator running. Then:

- no answer was a 5xx, and every 4xx named an error the model declares for the action;
- the API process is alive and logged no handler failure;
- nothing is half-created: every custom resource in the fuzz's namespace (and every ECSCluster
  selecting it) was created by a 2xx answer, and is whole (a task definition with a revision and
  a spec the operator accepted, a service the operator has described).

Bounded: E2E_FUZZ_REQUESTS (default 3000) requests, at most E2E_FUZZ_SECONDS (default 900) seconds;
E2E_FUZZ_SEED picks the draw (default 28); E2E_FUZZ_CLIENTS (default 4) send concurrently.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ecs_facade.config import Config
from ecs_facade.ecsapi import model as service_models
from ecs_facade.ecsapi.serving import build_dispatcher
from tests.e2e.ecs_api import AWS_REGION, ApiKey, EcsApi, new_key, write_keys
from tests.e2e.kube import Kubectl, wait_for
from tests.fuzz_ecsapi import TAME, Case, Ledger, Signer, Strategies, cases, leftovers, problem, send

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(1800),
    # the operator runs in this process (conftest): its threads use `random` while hypothesis draws
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

NS = "ecsapi-fuzz"
REQUESTS = int(os.environ.get("E2E_FUZZ_REQUESTS", "3000"))
SECONDS = float(os.environ.get("E2E_FUZZ_SECONDS", "900"))
SEED = int(os.environ.get("E2E_FUZZ_SEED", "28"))
# concurrent clients: requests for the same names race (CreateService twice, DeleteCluster during
# CreateService, ...), and nothing may be half-created by that either
CLIENTS = int(os.environ.get("E2E_FUZZ_CLIENTS", "4"))
# the summary (statuses, kinds, 2xx by action, problems) is written here as ecs-api-fuzz.json (conftest's LOG_DIR)
LOG_DIR = Path(os.environ.get("E2E_LOG_DIR", Path(__file__).resolve().parents[2] / ".e2e-logs"))


def implemented_actions() -> dict[str, list[str]]:
    """The actions the server implements, by service (ECS, Application Auto Scaling): the
    Dispatcher `ecs-facade api` serves (its Store is never called here)."""
    dispatcher = build_dispatcher(Config().arns, store=object())
    return {service: dispatcher.implemented(service) for service in service_models.SERVICES}


def signer(api: EcsApi, key: ApiKey) -> Signer:
    """SigV4 as an SDK signs (botocore's signer), for the target's service; an AWS region, so
    the request acts in the key's home namespace."""
    credentials = Credentials(key.access_key_id, key.secret_access_key)

    def sign(case: Case, headers: dict[str, str]) -> dict[str, str]:
        service = "application-autoscaling" if (case.target or "").startswith("AnyScale") else "ecs"
        request = AWSRequest(method="POST", url=api.endpoint + "/", data=case.body, headers=headers)
        SigV4Auth(credentials, service, AWS_REGION).add_auth(request)
        return dict(request.headers.items())

    return sign


@pytest.fixture
def fuzz_key(ecs_api_logs: EcsApi, kubectl: Kubectl) -> Iterator[ApiKey]:
    """A key whose only namespace is the fuzz's own (created here), added to the running server's
    keys directory (it rereads it), and what the fuzz left removed after."""
    kubectl("create", "namespace", NS, check=False)
    key = new_key("AKIAFUZZ", (NS,))
    write_keys(ecs_api_logs.keys_dir, {"fuzz": key})
    sign = signer(ecs_api_logs, key)
    probe = Case("ListClusters", "valid", "AmazonEC2ContainerServiceV20141113.ListClusters", b"{}")

    def accepted() -> bool:
        connection = http.client.HTTPConnection(ecs_api_logs.host, ecs_api_logs.port, timeout=10)
        try:
            return send(connection, probe, sign).status == 200
        finally:
            connection.close()

    wait_for("the server to read the fuzz key", lambda: accepted() or None, timeout=30)
    yield key
    kubectl("delete", "ecsservices,ecstasks,ecstaskdefinitions", "--all", "-n", NS, "--wait=false", check=False)
    for cluster in selecting(kubectl):
        kubectl("delete", "ecscluster", cluster["metadata"]["name"], "--wait=false", check=False)
    kubectl("delete", "namespace", NS, "--wait=false", check=False)
    (ecs_api_logs.keys_dir / key.access_key_id).unlink(missing_ok=True)


def selecting(kubectl: Kubectl) -> list[dict[str, Any]]:
    """The ECSClusters that select the fuzz's namespace by name (what CreateCluster writes)."""
    found = []
    for cluster in kubectl.json("get", "ecsclusters")["items"]:
        selector = (cluster.get("spec") or {}).get("namespaceSelector") or {}
        if (selector.get("matchLabels") or {}).get("kubernetes.io/metadata.name") == NS:
            found.append(cluster)
    return list(found)


def items(kubectl: Kubectl, kind: str) -> list[dict[str, Any]]:
    return list(kubectl.json("get", kind, "-n", NS)["items"])


def test_thousands_of_fuzzed_requests_no_5xx_no_crash_nothing_half_created(
    ecs_api_logs: EcsApi, fuzz_key: ApiKey, kubectl: Kubectl
) -> None:
    api = ecs_api_logs
    implemented = implemented_actions()
    models = {service: service_models.load(service) for service in implemented}
    actions = implemented[service_models.ECS]
    assert {"CreateCluster", "RegisterTaskDefinition", "CreateService", "DescribeServices", "RunTask"} <= set(actions)
    assert {"RegisterScalableTarget", "PutScalingPolicy"} <= set(implemented[service_models.APPLICATION_AUTOSCALING])
    # whose model judges an answer: the actions' names do not overlap between the two services
    service_of = {action: service for service, names in implemented.items() for action in names}
    ecs_cases = cases(Strategies(models[service_models.ECS], TAME), actions)
    scaling_cases = cases(
        Strategies(models[service_models.APPLICATION_AUTOSCALING], TAME),
        implemented[service_models.APPLICATION_AUTOSCALING],
    )
    sign = signer(api, fuzz_key)
    ledger = Ledger()
    problems: list[str] = []
    local = threading.local()  # each client thread's own kept-alive connection
    lock = threading.Lock()
    in_flight = threading.BoundedSemaphore(2 * CLIENTS)  # the draw stays just ahead of the clients
    started = time.monotonic()
    sent = 0

    def connection() -> http.client.HTTPConnection:
        if getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection(api.host, api.port, timeout=120)
        return local.connection  # type: ignore[no-any-return]

    def client(case: Case) -> None:
        nonlocal sent
        try:
            try:
                answer = send(connection(), case, sign)
            except (ConnectionError, http.client.HTTPException) as error:  # the server closed it (a 413 does)
                local.connection.close()
                local.connection = None
                if api.process.poll() is not None:
                    problems.append(f"the API process exited ({api.process.returncode}) after {case!r}: {error}")
                    return
                answer = send(connection(), case, sign)
            with lock:
                sent += 1
                ledger.record(case, answer)
            found = problem(models[service_of[case.action]], case, answer)
            if found:
                problems.append(f"{found} <- {case!r}")
        except Exception as error:  # a client's failure is the test's, not lost in a thread
            problems.append(f"the client failed: {error!r} <- {case!r}")
        finally:
            in_flight.release()

    pool = concurrent.futures.ThreadPoolExecutor(CLIENTS, thread_name_prefix="fuzz-client")

    @seed(SEED)
    @settings(
        max_examples=REQUESTS,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(ecs_cases, ecs_cases, ecs_cases, scaling_cases))  # a quarter Application Auto Scaling
    def fuzz(case: Case) -> None:
        if time.monotonic() - started > SECONDS:
            return
        in_flight.acquire()
        pool.submit(client, case)

    fuzz()
    pool.shutdown(wait=True)
    summary = {
        "requests": sent,
        "seconds": round(time.monotonic() - started, 1),
        "seed": SEED,
        "clients": CLIENTS,
        "statuses": dict(ledger.statuses),
        "kinds": dict(ledger.kinds),
        "2xx_by_action": dict(ledger.succeeded),
        "problems": problems[:50],
    }
    (LOG_DIR / "ecs-api-fuzz.json").write_text(json.dumps(summary, indent=2))
    print(f"\nfuzz: {json.dumps(summary)}")
    assert api.process.poll() is None, f"the API process exited with {api.process.returncode}"
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems[:20])
    assert sent >= min(REQUESTS, 1000), f"only {sent} requests in {SECONDS:.0f}s"
    # the fuzz did create things, so that the check below checks something
    assert ledger.succeeded["CreateCluster"] and ledger.succeeded["RegisterTaskDefinition"], ledger.succeeded
    failures = [line for line in api.log.read_text(errors="replace").splitlines() if "the handler failed" in line]
    assert not failures, "the API logged handler failures:\n" + "\n".join(failures[:10])

    # the operator describes what it was given (services' status), then nothing may be half-created
    def settled() -> bool:
        return not leftovers(
            ledger,
            selecting(kubectl),
            items(kubectl, "ecstaskdefinitions"),
            items(kubectl, "controllerrevisions"),
            items(kubectl, "ecsservices"),
            items(kubectl, "ecstasks"),
        )

    with contextlib.suppress(AssertionError):  # what is still wrong is listed below
        wait_for("the operator to handle what the fuzz created", settled, timeout=90, interval=3)
    tasks = items(kubectl, "ecstasks")
    found = leftovers(
        ledger,
        selecting(kubectl),
        items(kubectl, "ecstaskdefinitions"),
        items(kubectl, "controllerrevisions"),
        items(kubectl, "ecsservices"),
        tasks,
    )
    assert not found, f"{len(found)} objects half-created or not created by a 2xx answer:\n" + "\n".join(found[:20])
    print(
        "left: "
        + json.dumps(
            {
                "clusters": len(selecting(kubectl)),
                "taskDefinitions": len(items(kubectl, "ecstaskdefinitions")),
                "services": len(items(kubectl, "ecsservices")),
                "tasks": len(tasks),
            }
        )
    )
