"""Every API call the operator makes itself has a connect and a read timeout (kube/client.py):
against a server on loopback that accepts connections and never answers, each kind of call
(the low-level ``_call`` of the hot paths, the client's generated API methods, the Lease
calls of the leader election) fails within its bound instead of holding its thread, once,
not repeated by urllib3."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import kopf
import pytest
import urllib3
from kubernetes import client

from ecs_facade.config import Config
from ecs_facade.controllers import settings
from ecs_facade.kube import client as kube

CONNECT, READ = 1.0, 0.4
# urllib3 tries a failed connection once more; 3 s of slack: a generated method's first call
# does work of its own (seen at 3.4 s in all on a loaded machine), and a hang is far longer
BOUND = 2 * CONNECT + READ + 3.0


class Silent:
    """A TCP server on loopback that accepts every connection, reads the request and never
    answers: an API server (or a proxy in front of it) that stalls."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port = self._socket.getsockname()[1]
        self.requests = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(connection)
            connection.settimeout(5)
            try:
                if connection.recv(65536):
                    self.requests += 1
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._socket.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    yield server
    server.close()


@pytest.fixture
def operator_client(silent: Silent, monkeypatch: pytest.MonkeyPatch) -> Iterator[client.ApiClient]:
    """The operator's cached client, made as ``_api_client`` makes it, but for the silent
    server; the operator's timeouts set short."""
    configuration = client.Configuration(host=f"http://127.0.0.1:{silent.port}")
    configuration.retries = kube.retries()
    api = kube._CountingApiClient(configuration)
    monkeypatch.setattr(kube._Connection, "api", api)
    before = kube.timeouts()
    kube.set_timeouts(CONNECT, READ)
    yield api
    kube.set_timeouts(*before)


def finishes(call: Callable[[], Any]) -> tuple[float, BaseException | None]:
    """Run ``call`` in a thread: (seconds it took, what it raised); a call still running
    after three bounds is a hang, and fails the test (the thread is left behind)."""
    outcome: list[BaseException | None] = []
    started = time.monotonic()

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as error:  # what it raised is the answer
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(3 * BOUND)
    assert not thread.is_alive(), "the call hangs: no timeout"
    return time.monotonic() - started, outcome[0]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: kube.patch_status("ecs.facade.dev/v1alpha1", "ecsservices", "ns", "web", {}), id="_call"),
        pytest.param(lambda: kube.get("apps/v1", "deployments", "ns", "web"), id="generated-get"),
        pytest.param(lambda: kube.patch_pod("ns", "web-1", {"metadata": {"labels": {}}}), id="generated-patch"),
        pytest.param(
            lambda: client.CoordinationV1Api(kube.api_client()).read_namespaced_lease("ecs-facade", "ns"),
            id="leader-lease",
        ),
    ],
)
def test_a_call_to_a_stalled_server_fails_within_its_timeout(
    operator_client: client.ApiClient, silent: Silent, call: Callable[[], Any]
) -> None:
    took, raised = finishes(call)
    # a urllib3 error, not an ApiException that a caller might take for an answer (a 404):
    # the work queue (or kopf) retries the reconcile with backoff
    assert isinstance(raised, urllib3.exceptions.HTTPError), raised
    assert READ * 0.9 <= took <= BOUND, took
    assert silent.requests == 1  # sent once: a read that timed out is not repeated by urllib3


def test_a_request_with_a_timeout_of_its_own_keeps_it(operator_client: client.ApiClient) -> None:
    """The informers' watches read for longer than a call (kube/informer.py)."""
    took, raised = finishes(
        lambda: operator_client.call_api(
            *operator_client.param_serialize("GET", "/api/v1/pods"), _request_timeout=(CONNECT, 2 * READ)
        )
    )
    assert isinstance(raised, urllib3.exceptions.HTTPError) and took >= 2 * READ * 0.9


def test_posting_an_event_that_times_out_is_logged_not_raised(
    operator_client: client.ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    involved = {"apiVersion": "v1", "kind": "Pod", "name": "web-1", "namespace": "ns", "uid": "u"}
    took, raised = finishes(lambda: kube.post_event(involved, "Warning", "Failed", "m", "2026-12-01T10:00:00Z"))
    assert raised is None and took <= BOUND
    assert "posting the event 'Failed' about web-1 failed" in caplog.text


def test_the_settings_give_the_client_its_timeouts() -> None:
    before, workers = kube.timeouts(), kube._Connection.workers
    try:
        memo = kopf.Memo(config=Config(api_connect_timeout_seconds=2.5, api_read_timeout_seconds=7.0))
        settings.read_settings(memo=memo)  # type: ignore[call-arg]  # kopf's other arguments: unused
        assert kube.timeouts() == (2.5, 7.0)
    finally:
        kube.set_timeouts(*before)
        kube.size_pool(workers)


def test_the_defaults_are_the_configs() -> None:
    assert kube._Connection.timeout == (Config.api_connect_timeout_seconds, Config.api_read_timeout_seconds)
    assert (Config.api_connect_timeout_seconds, Config.api_read_timeout_seconds) == (5.0, 30.0)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "inf", ""])
@pytest.mark.parametrize("name", ["ECS_FACADE_API_CONNECT_TIMEOUT_SECONDS", "ECS_FACADE_API_READ_TIMEOUT_SECONDS"])
def test_a_timeout_must_be_a_positive_number_of_seconds(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{name}='{value}': expected a number of seconds"):
        Config.from_env({name: value})


def test_the_timeouts_are_read_from_the_environment() -> None:
    config = Config.from_env(
        {"ECS_FACADE_API_CONNECT_TIMEOUT_SECONDS": "3", "ECS_FACADE_API_READ_TIMEOUT_SECONDS": "12.5"}
    )
    assert (config.api_connect_timeout_seconds, config.api_read_timeout_seconds) == (3.0, 12.5)
