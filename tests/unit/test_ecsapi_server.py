"""The ECS API end to end on loopback: botocore's own client against `ecs_facade.ecsapi.server`."""

import asyncio
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from ecs_facade.cli import main
from ecs_facade.ecsapi.errors import ApiError, cluster_not_found
from ecs_facade.ecsapi.protocol import Dispatcher, RequestContext
from ecs_facade.ecsapi.server import make_app, start
from ecs_facade.ecsapi.sigv4 import AccessKey, Authenticator, DictKeyStore

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"
MAX_BODY = 4096


class LoopbackServer:
    """An aiohttp app on 127.0.0.1:<free port>, on its own event loop thread (botocore is synchronous)."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner, self.port = asyncio.run_coroutine_threadsafe(start(app, "127.0.0.1", 0), self.loop).result(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


seen: list[tuple[dict[str, Any], RequestContext]] = []


def describe_clusters(request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
    """A stand-in handler: knows the cluster `default` in namespace team-a."""
    seen.append((dict(request), context))
    clusters = []
    for name in request.get("clusters", ["default"]):
        if name != "default":
            raise cluster_not_found(f"cluster {name} not found")
        context.require_namespace("team-a")
        clusters.append({"clusterName": name, "status": "ACTIVE", "runningTasksCount": 0, "tags": None})
    return {"clusters": clusters, "failures": []}


async def list_task_definitions(request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
    raise RuntimeError("a bug in a handler")


def describe_scalable_targets(request: Mapping[str, Any], context: RequestContext) -> Mapping[str, Any]:
    created = dt.datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)
    return {
        "ScalableTargets": [
            {
                "ServiceNamespace": "ecs",
                "ResourceId": "service/default/web",
                "CreationTime": created,
                "ScalableDimension": "ecs:service:DesiredCount",
                "MinCapacity": 1,
                "MaxCapacity": 4,
                "RoleARN": "arn:aws:iam::123456789012:role/x",
            }
        ]
    }


def dispatcher() -> Dispatcher:
    d = Dispatcher()
    d.register("ecs", "DescribeClusters", describe_clusters)
    d.register("ecs", "ListTaskDefinitions", list_task_definitions)
    d.register("application-autoscaling", "DescribeScalableTargets", describe_scalable_targets)
    return d


KEYS = DictKeyStore(
    [
        AccessKey(KEY_ID, SECRET, frozenset({"team-a"})),
        AccessKey("AKIAOTHERTEAM0000000", "other-secret", frozenset({"team-b"})),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    app = make_app(dispatcher(), Authenticator(KEYS, regions=frozenset({"us-east-1"})), max_body=MAX_BODY)
    running = LoopbackServer(app)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def anonymous_server() -> Iterator[LoopbackServer]:
    running = LoopbackServer(make_app(dispatcher(), Authenticator(None, anonymous=True)))
    yield running
    running.stop()


def client(server: LoopbackServer, service: str = "ecs", key_id: str = KEY_ID, secret: str = SECRET) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def error_of(failure: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = failure.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_botocore_calls_an_action(server: LoopbackServer) -> None:
    seen.clear()
    response = client(server).describe_clusters(clusters=["default"], include=["TAGS"])
    assert response["clusters"] == [{"clusterName": "default", "status": "ACTIVE", "runningTasksCount": 0}]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["RequestId"]
    ((request, context),) = seen
    assert request == {"clusters": ["default"], "include": ["TAGS"]}
    assert (context.service, context.action, context.region) == ("ecs", "DescribeClusters", "us-east-1")
    assert (context.access_key_id, context.namespaces, context.anonymous) == (KEY_ID, frozenset({"team-a"}), False)
    assert context.request_id == response["ResponseMetadata"]["RequestId"]


def test_modelled_errors_reach_the_client_typed(server: LoopbackServer) -> None:
    ecs = client(server)
    with pytest.raises(ecs.exceptions.ClusterNotFoundException) as failure:
        ecs.describe_clusters(clusters=["prod"])
    assert error_of(failure) == ("ClusterNotFoundException", "cluster prod not found", 400)


def test_a_key_outside_its_namespaces_is_denied(server: LoopbackServer) -> None:
    ecs = client(server, key_id="AKIAOTHERTEAM0000000", secret="other-secret")
    with pytest.raises(ecs.exceptions.AccessDeniedException) as failure:
        ecs.describe_clusters(clusters=["default"])
    code, message, status = error_of(failure)
    assert (code, status) == ("AccessDeniedException", 400)
    assert "AKIAOTHERTEAM0000000" in message and "ecs:DescribeClusters" in message and "team-a" in message


def test_invalid_parameters_name_the_member(server: LoopbackServer) -> None:
    # botocore checks parameters itself; with its check off, the server's answers
    unchecked = botocore.session.get_session().create_client(
        "ecs",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}),
    )
    with pytest.raises(unchecked.exceptions.InvalidParameterException) as failure:
        unchecked.describe_services(cluster="default")
    assert error_of(failure) == ("InvalidParameterException", "services: is required", 400)
    with pytest.raises(ClientError) as failure:
        unchecked.describe_clusters(clusters=["default"], include=["EVERYTHING"])
    assert error_of(failure) == (
        "InvalidParameterException",
        'include[0]: "EVERYTHING" is not one of ATTACHMENTS, CONFIGURATIONS, SETTINGS, STATISTICS, TAGS',
        400,
    )
    status, body, _ = post(server, b'{"clusters": "default"}')  # a type botocore would never send
    assert (status, body) == (
        400,
        {"__type": "InvalidParameterException", "message": "clusters: expected a list, got a string"},
    )


def test_an_action_not_implemented_says_so(server: LoopbackServer) -> None:
    ecs = client(server)
    with pytest.raises(ecs.exceptions.UnsupportedFeatureException) as failure:
        ecs.list_clusters()
    code, message, status = error_of(failure)
    assert (code, status) == ("UnsupportedFeatureException", 400)
    assert "ecs-facade does not implement ListClusters" in message


def test_a_failing_handler_is_a_500_server_exception_without_details(server: LoopbackServer) -> None:
    ecs = client(server)
    with pytest.raises(ecs.exceptions.ServerException) as failure:
        ecs.list_task_definitions()
    code, message, status = error_of(failure)
    assert (code, status) == ("ServerException", 500)
    assert "a bug" not in message and "request id" in message


def test_application_autoscaling_on_the_same_server(server: LoopbackServer) -> None:
    aas = client(server, "application-autoscaling")
    (target,) = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert target["CreationTime"].timestamp() == 1717243200.5  # epoch seconds on the wire, parsed by botocore
    assert target["MaxCapacity"] == 4
    with pytest.raises(aas.exceptions.ValidationException) as failure:
        aas.describe_scaling_policies(ServiceNamespace="ecs")
    code, message, _ = error_of(failure)
    assert code == "ValidationException" and "DescribeScalingPolicies" in message


def test_bad_signatures_are_refused(server: LoopbackServer) -> None:
    seen.clear()
    with pytest.raises(ClientError) as failure:
        client(server, secret=SECRET + "x").describe_clusters()
    code, message, status = error_of(failure)
    assert (code, status) == ("InvalidSignatureException", 400)
    assert message.startswith("The request signature we calculated does not match")
    with pytest.raises(ClientError) as failure:
        client(server, key_id="AKIAUNKNOWN000000000").describe_clusters()
    assert error_of(failure)[:2] == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert seen == []  # no handler ran


# --- raw HTTP: what SDKs never send ------------------------------------------------


def post(
    server: LoopbackServer,
    body: bytes,
    target: str | None = f"{ECS_TARGET}.DescribeClusters",
    content_type: str = "application/x-amz-json-1.1",
    sign: bool = True,
    method: str = "POST",
    path: str = "/",
) -> tuple[int, dict[str, Any], Any]:
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method=method, url=server.url + path, data=body, headers=headers)
    if sign:
        SigV4Auth(Credentials(KEY_ID, SECRET), "ecs", "us-east-1").add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=body or None, method=method, headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(raw, timeout=10) as answer:
            return answer.status, json.loads(answer.read()), answer.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def test_errors_are_aws_json_with_a_request_id(server: LoopbackServer) -> None:
    status, body, headers = post(server, b"{")
    assert status == 400
    assert body["__type"] == "SerializationException" and "not valid JSON" in body["message"]
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-RequestId"]


@pytest.mark.parametrize(
    ("kwargs", "status", "name", "message"),
    [
        ({"body": b"[1]"}, 400, "SerializationException", "the request body must be a JSON object"),
        (
            {"target": f"{ECS_TARGET}.LaunchRockets"},
            400,
            "UnknownOperationException",
            f"Unknown operation {ECS_TARGET}.LaunchRockets",
        ),
        ({"target": None}, 400, "UnknownOperationException", "Missing X-Amz-Target header"),
        (
            {"content_type": "text/plain"},
            415,
            "UnsupportedMediaTypeException",
            "Content-Type text/plain is not supported; expected application/x-amz-json-1.1",
        ),
        (
            {"body": b"{" + b" " * MAX_BODY + b"}"},
            413,
            "RequestEntityTooLargeException",
            f"the request body is larger than {MAX_BODY} bytes",
        ),
        ({"sign": False}, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
        ({"method": "GET", "body": b""}, 404, "UnknownOperationException", "the ECS API answers POST / only"),
        ({"path": "/v2/"}, 404, "UnknownOperationException", "the ECS API answers POST / only"),
    ],
)
def test_protocol_refusals(
    server: LoopbackServer, kwargs: dict[str, Any], status: int, name: str, message: str
) -> None:
    seen.clear()
    args: dict[str, Any] = {"body": b"{}"} | kwargs
    answer_status, body, _ = post(server, **args)
    assert (answer_status, body) == (status, {"__type": name, "message": message})
    assert seen == []


def test_application_json_and_an_empty_body_are_accepted(server: LoopbackServer) -> None:
    seen.clear()
    status, body, _ = post(server, b"", content_type="application/json")
    assert (status, body["clusters"][0]["clusterName"]) == (200, "default")


def test_anonymous_mode_takes_unsigned_requests_with_every_namespace(anonymous_server: LoopbackServer) -> None:
    seen.clear()
    status, body, _ = post(anonymous_server, b'{"clusters": ["default"]}', sign=False)
    assert status == 200 and body["clusters"][0]["clusterName"] == "default"
    ((_, context),) = seen
    assert (context.anonymous, context.namespaces, context.access_key_id) == (True, None, None)
    assert context.allows("any-namespace")
    response = client(anonymous_server, secret="not checked").describe_clusters()
    assert response["clusters"][0]["status"] == "ACTIVE"


def test_handlers_may_raise_errors_of_their_own_status() -> None:
    error = ApiError("ThrottlingException", "Rate exceeded", 400)
    assert (error.name, error.message, error.status) == ("ThrottlingException", "Rate exceeded", 400)


# --- ecs-facade api --------------------------------------------------------------------


def test_cli_refuses_to_start_without_keys_or_anonymous(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["api"]) == 1
    assert "--keys-dir (the API keys Secret, mounted) is required unless --anonymous" in capsys.readouterr().err
    assert main(["api", "--keys-dir", str(tmp_path / "missing")]) == 1
    assert "no such directory" in capsys.readouterr().err


def test_cli_serves_the_api_on_loopback(tmp_path: Path) -> None:
    """`ecs-facade api --keys-dir`: a real process, a signed botocore call, the not-implemented answer."""
    (tmp_path / KEY_ID).write_text(json.dumps({"secretAccessKey": SECRET, "namespaces": ["team-a", "*"]}))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo / "operator")}
    command = [sys.executable, "-m", "ecs_facade", "api", "--port", str(port), "--keys-dir", str(tmp_path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
        fake = type("Fake", (), {"url": f"http://127.0.0.1:{port}"})()
        ecs = client(fake)
        # task sets (the EXTERNAL deployment controller's) are not in issue 28's actions
        with pytest.raises(ecs.exceptions.UnsupportedFeatureException, match="does not implement DescribeTaskSets"):
            ecs.describe_task_sets(cluster="default", service="web")
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert "API keys" in output and "1 access keys" in output
    assert "DescribeTaskSets key=AKIAIOSFODNN7EXAMPLE status=400" in output
